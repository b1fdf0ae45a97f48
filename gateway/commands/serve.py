"""`gateway serve`: run the gateway on a policy file, or the demo with emulated backends."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from gateway.errors import CliError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the OpenAI-compatible gateway")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", default=None, help="policy file to serve (env SWITCHYARD_CONFIG)")
    source.add_argument("--demo", action="store_true", default=None, help="start emulated backends and serve policies/demo.yaml")
    source.add_argument("--quickstart", action="store_true", help="what `make run` serves: policies/default.yaml with the "
                        "backends the environment configures (VLLM_BASE_URL, NOVITA_API_KEY, FIREWORKS_API_KEY, "
                        "DEEPSEEK_API_KEY), or the demo when it configures none")
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="listen port (default 8080)")
    p.add_argument("--redis-url", default=None, help="shared state (env SWITCHYARD_REDIS_URL or REDIS_URL)")
    p.add_argument("--admin-key", default=None, help="guards /admin/* (prefer env SWITCHYARD_ADMIN_KEY)")
    p.add_argument("--ledger", default=None, help="usage ledger SQLite file (env SWITCHYARD_LEDGER_PATH, "
                                                  "default ~/.local/share/switchyard/ledger.sqlite3)")
    p.add_argument("--max-body-bytes", type=int, default=None, help="request body limit (default 8 MiB)")
    p.add_argument("--log-level", default=None, choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--workers", type=int, default=1, help="gateway processes on the port (SO_REUSEPORT); "
                                                          "above 1 needs --redis-url (default 1)")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from gateway.settings import GatewaySettings

    flags = {
        "config": args.config, "demo": args.demo, "host": args.host, "port": args.port, "redis_url": args.redis_url,
        "admin_key": args.admin_key, "max_body_bytes": args.max_body_bytes, "log_level": args.log_level,
        "ledger_path": args.ledger,
    }
    try:
        return GatewaySettings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise CliError(f"setting {field}: {first['msg']}") from None


def _with_demo_admin_key(settings: Any) -> tuple[Any, str]:
    """The demo has no admin key of its own: make one for this run, so the console can log in. It is
    printed once in the start-up lines and kept nowhere else (never logged, never written to a file)."""
    import secrets

    from pydantic import SecretStr

    key = "sy-admin-" + secrets.token_urlsafe(18)
    return settings.model_copy(update={"admin_key": SecretStr(key)}), key


def _console_line(settings: Any, generated_admin_key: str | None) -> str:
    """Where the web console is and how to log in to it."""
    url = f"http://{settings.host}:{settings.port}/ui/"
    if generated_admin_key is not None:
        return f"{url} (log in with the admin key {generated_admin_key}, made for this demo run)"
    if settings.admin_key is not None:
        return f"{url} (log in with SWITCHYARD_ADMIN_KEY)"
    return f"{url} (needs an admin key: set SWITCHYARD_ADMIN_KEY)"


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.quickstart:
        import os

        from gateway.quickstart import write_quickstart_policy

        chosen = write_quickstart_policy(os.environ)
        settings = settings.model_copy(update={"config": chosen, "demo": chosen is None})
    generated_admin_key = None
    if settings.demo and settings.admin_key is None:
        settings, generated_admin_key = _with_demo_admin_key(settings)
    if args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    if args.workers > 1:
        from gateway.workers import run_workers

        return run_workers(settings, args.workers)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is too much at INFO
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run (every 0.5 s) likewise

    import uvicorn

    from backends.errors import BackendConfigError
    from gateway.app import create_app
    from gateway.demo import DEMO_POLICY_PATH, DemoBackends
    from gateway.runtime import GatewayRuntime
    from gateway.services import GatewayServices, StartupError
    from policies.errors import PolicyError
    from policies.loader import load_policy

    if settings.demo and settings.config is not None:
        raise CliError("use either --demo or --config FILE, not both")
    if not settings.demo and settings.config is None:
        raise CliError("nothing to serve: give --config FILE (e.g. policies/default.yaml) or --demo")
    path = DEMO_POLICY_PATH if settings.demo else settings.config
    demo: DemoBackends | None = None
    try:
        policy = load_policy(path)
        if settings.demo:
            demo = DemoBackends(policy)
            demo.start()
            policy = load_policy(path)  # again, now that the emulators' URLs are exported
        services = GatewayServices.create(settings)
        runtime = GatewayRuntime(policy, source=str(path), policy_path=Path(path), state=services.state)
        auth_notice = services.load_keys(policy)
    except StartupError as exc:
        raise CliError(str(exc)) from None
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    except BackendConfigError as exc:
        raise CliError(f"{path}: {exc}") from None

    app = create_app(settings, runtime, services)
    if demo is not None:
        from gateway.api import demo as demo_api

        app.state.demo = demo
        app.include_router(demo_api.router)
        app.include_router(demo_api.admin_router)
    listing = ", ".join(f"{name} ({spec.type}{'/' + spec.profile if spec.profile else ''} at {spec.base_url})" for name, spec in policy.backends.items())
    sys.stderr.write(
        f"switchyard gateway: http://{settings.host}:{settings.port}/v1 serving {path}\n"
        f"  backends: {listing}\n"
        f"  {auth_notice}\n"
        f"  usage ledger: {services.ledger_file}{' (via the Redis stream)' if settings.redis_url else ''}\n"
    )
    sys.stderr.write(f"  console: {_console_line(settings, generated_admin_key)}\n")
    if demo is not None:
        sys.stderr.write(f"  demo: stop a backend with: curl -X POST http://{settings.host}:{settings.port}/demo/backends/local-v32/stop\n")
    sys.stderr.flush()
    from gateway.server_limits import bounded_httptools_protocol, exit_zero_after_sigterm, load_server_limits

    limits = load_server_limits()
    protocol = bounded_httptools_protocol(
        max_header_bytes=settings.max_header_bytes, request_read_timeout_s=limits.request_read_timeout_s
    )
    exit_zero_after_sigterm()
    from gateway.workers import serve_worker, worker_index

    try:
        (uvicorn.run if worker_index() is None else serve_worker)(
            app, host=settings.host, port=settings.port, loop="uvloop", http=protocol,
            log_level=settings.log_level, access_log=False, timeout_keep_alive=int(settings.timeout_keep_alive_s),
            timeout_graceful_shutdown=limits.shutdown_grace_s,
        )
    finally:
        if demo is not None:
            demo.stop_all()
    return 0
