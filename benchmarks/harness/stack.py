"""The servers a benchmark runs on loopback: upstreams, the Switchyard gateway, nginx, LiteLLM Proxy.

Each `start_*` starts one child in a `ProcessGroup` (so it is stopped with the group) and returns
once it answers its readiness URL.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from benchmarks.harness.litellm_venv import litellm_executable
from benchmarks.harness.nginx import nginx_argv, write_nginx_config
from benchmarks.harness.processes import LOOPBACK, ManagedProcess, ProcessGroup, free_port

__all__ = [
    "ROOT", "gateway_serve_supports", "start_emulator", "start_gateway", "start_litellm_proxy", "start_minimal_upstream", "start_nginx",
]

ROOT = Path(__file__).resolve().parents[2]
_QUIET_ENV = {"PYTHONUNBUFFERED": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
LITELLM_READY_TIMEOUT_S = 180.0  # `import litellm` alone takes several seconds on two cores


def start_minimal_upstream(group: ProcessGroup) -> ManagedProcess:
    """benchmarks/harness/upstream.py on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.harness.upstream", "--port", str(port)]
    return group.start("upstream", argv, port=port, ready_path="/health", cwd=ROOT, env=_QUIET_ENV)


def start_emulator(group: ProcessGroup, name: str, profile: str, *flags: str) -> ManagedProcess:
    """`gateway emulate --profile PROFILE` (zero delay unless `flags` set --ttft-ms/--tpot-ms)."""
    port = free_port()
    argv = [sys.executable, "-m", "gateway.cli", "emulate", "--port", str(port), "--profile", profile, "--log-level", "warning"]
    if not any(f.startswith(("--ttft-ms", "--tpot-ms")) for f in flags):
        argv += ["--ttft-ms", "0", "--tpot-ms", "0"]
    return group.start(name, [*argv, *flags], port=port, ready_path="/health", cwd=ROOT, env=_QUIET_ENV)


@functools.cache
def _serve_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    return done.stdout


def gateway_serve_supports(flag: str) -> bool:
    """Whether this checkout's `gateway serve` accepts `flag` (e.g. --workers), read from its --help."""
    return flag in _serve_help().split()


def start_gateway(
    group: ProcessGroup, directory: Path, policy_yaml: str, *, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
) -> ManagedProcess:
    """`gateway serve --config` on `policy_yaml` (written under `directory`), logging at warning.

    Its usage ledger goes to `directory` too (SWITCHYARD_LEDGER_PATH) unless `env` says otherwise,
    so a benchmark never writes into the checkout or the user's own ledger.
    """
    port = free_port()
    policy_path = directory / "gateway-policy.yaml"
    policy_path.write_text(policy_yaml)
    argv = [
        sys.executable, "-m", "gateway.cli", "serve", "--config", str(policy_path), "--host", LOOPBACK, "--port", str(port),
        "--log-level", "warning", *extra_args,
    ]
    full_env = {**_QUIET_ENV, "SWITCHYARD_LEDGER_PATH": str(directory / "gateway-ledger.sqlite3"), **(env or {})}
    return group.start("gateway", argv, port=port, ready_path="/readyz", cwd=ROOT, env=full_env)


def start_nginx(group: ProcessGroup, directory: Path, binary: Path, upstream_port: int) -> ManagedProcess:
    """nginx with one worker proxying to `upstream_port`, ready once /health passes through it."""
    port = free_port()
    config = write_nginx_config(directory / "nginx", listen_port=port, upstream_port=upstream_port)
    return group.start("nginx", nginx_argv(binary, config), port=port, ready_path="/health")


def litellm_config_yaml(model_name: str, upstream_model: str, upstream_port: int) -> str:
    """A one-model LiteLLM Proxy config pointing at the upstream as an OpenAI-compatible endpoint."""
    return (
        "model_list:\n"
        f"  - model_name: {model_name}\n"
        "    litellm_params:\n"
        f"      model: openai/{upstream_model}\n"
        f"      api_base: http://{LOOPBACK}:{upstream_port}/v1\n"
        "      api_key: sk-benchmark-not-a-real-key\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n"
    )


def start_litellm_proxy(
    group: ProcessGroup, directory: Path, venv_dir: Path, *, model_name: str, upstream_model: str, upstream_port: int, master_key: str,
) -> ManagedProcess:
    """LiteLLM Proxy (one worker) from its own venv, ready once /health/liveliness answers.

    Clients must send `Authorization: Bearer MASTER_KEY` (the proxy refuses to start without one).
    """
    port = free_port()
    config = directory / "litellm-config.yaml"
    config.write_text(litellm_config_yaml(model_name, upstream_model, upstream_port))
    argv = [str(litellm_executable(venv_dir)), "--config", str(config), "--host", LOOPBACK, "--port", str(port), "--num_workers", "1"]
    env = {
        **_QUIET_ENV, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True",
        "LITELLM_MASTER_KEY": master_key,
    }
    return group.start("litellm", argv, port=port, ready_path="/health/liveliness", cwd=directory, env=env,
                       ready_timeout_s=LITELLM_READY_TIMEOUT_S)
