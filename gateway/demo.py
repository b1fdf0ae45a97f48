"""`gateway serve --demo`: the demo policy's emulated backends, run in-process.

Each `type: emulator` backend of the policy gets an emulator server on its default port when
free, else on a free port; its address is exported as `SWITCHYARD_DEMO_<NAME>_URL` before the
policy is loaded for serving, so `${SWITCHYARD_DEMO_..._URL:-...}` in the YAML resolves to it.
The emulators share one event loop in a background thread, away from the gateway's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import uvicorn

from backends.emulator import EmulatorConfig, create_app
from policies.schema import BackendSpec, Policy

__all__ = ["DemoBackends", "demo_env_var", "DEMO_POLICY_PATH"]

DEMO_POLICY_PATH = Path(__file__).resolve().parent.parent / "policies" / "demo.yaml"
log = logging.getLogger("switchyard.demo")


def demo_env_var(backend_name: str) -> str:
    """`local-v32` -> `SWITCHYARD_DEMO_LOCAL_V32_URL`."""
    return "SWITCHYARD_DEMO_" + backend_name.upper().replace("-", "_").replace(".", "_") + "_URL"


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _bind_preferred(port: int | None) -> socket.socket:
    if port:
        try:
            return _bind(port)
        except OSError:
            pass
    return _bind(0)


def _emulator_config(spec: BackendSpec) -> EmulatorConfig:
    timing = spec.emulator
    config = EmulatorConfig(profile=spec.profile or "vllm", model=spec.model)
    if timing is not None:
        for key in ("ttft_ms", "tpot_ms", "max_concurrency", "fail_rate", "fail_mode", "seed"):
            value = getattr(timing, key)
            if value is not None:
                setattr(config, key, value)
    return config


class DemoBackends:
    """The emulated backends of a demo policy: started, stopped and restarted by name."""

    def __init__(self, policy: Policy) -> None:
        self._specs = {name: spec for name, spec in policy.backends.items() if spec.type == "emulator"}
        self._ports: dict[str, int] = {}
        self._servers: dict[str, uvicorn.Server] = {}
        self._runs: dict[str, concurrent.futures.Future[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._ports[name]}/v1"

    def start(self, timeout_s: float = 10.0) -> dict[str, str]:
        """Start every emulator; export and return each one's URL."""
        sockets = {}
        for name, spec in self._specs.items():
            sock = _bind_preferred(urlparse(spec.base_url or "").port)
            sockets[name] = sock
            self._ports[name] = sock.getsockname()[1]
            os.environ[demo_env_var(name)] = self.url(name)
        ready = threading.Event()
        threading.Thread(target=self._run_loop, args=(ready,), name="demo-emulators", daemon=True).start()
        ready.wait(timeout_s)
        for name, sock in sockets.items():
            self._launch(name, sock)
        deadline = time.monotonic() + timeout_s
        while not all(s.started for s in self._servers.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("demo emulators did not start within %.0f s" % timeout_s)
            time.sleep(0.01)
        return {name: self.url(name) for name in self._specs}

    def _run_loop(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        ready.set()
        self._loop.run_forever()

    def _launch(self, name: str, sock: socket.socket) -> None:
        config = uvicorn.Config(
            create_app(_emulator_config(self._specs[name])), log_level="warning", access_log=False, lifespan="off",
        )
        server = uvicorn.Server(config)
        self._servers[name] = server
        assert self._loop is not None
        self._runs[name] = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), self._loop)

    def is_running(self, name: str) -> bool:
        run = self._runs.get(name)
        return bool(run and not run.done() and self._servers[name].started)

    def stop(self, name: str, timeout_s: float = 5.0) -> None:
        """Stop one emulator (its port then refuses connections), as if the backend went down."""
        server = self._servers[name]
        server.should_exit = True
        server.force_exit = True
        try:
            self._runs[name].result(timeout_s)
        except (concurrent.futures.TimeoutError, Exception):  # a failed shutdown still counts as stopped
            log.warning("demo emulator %s did not stop cleanly", name)

    def restart(self, name: str, timeout_s: float = 5.0) -> None:
        """Bring a stopped emulator back on its port."""
        if self.is_running(name):
            return
        self._launch(name, _bind(self._ports[name]))
        deadline = time.monotonic() + timeout_s
        while not self._servers[name].started and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop_all(self) -> None:
        for name in self._servers:
            self._servers[name].should_exit = True
