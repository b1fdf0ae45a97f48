"""What the compose and Kubernetes manifests of a vLLM deployment share: image, names, paths, header.

The image is the `vllm/vllm-openai` release whose flag list the command was checked against
(planner/emit/data/vllm-<version>-flags.txt), so the flags and the engine cannot drift apart.
"""

from __future__ import annotations

import math
import re

import yaml

from planner.deployment import Deployment
from planner.emit.command import EmittedCommand

__all__ = [
    "HEALTH_PATH", "HF_CACHE_PATH", "STARTUP_BUDGET_S", "cache_size_gib", "dump_documents", "manifest_header", "regenerate_argv",
    "server_name", "vllm_image", "sglang_image", "engine_image",
]  # fmt: skip

HEALTH_PATH = "/health"
"""vLLM's liveness endpoint (200 once the engine is up), vllm/entrypoints/openai/api_server.py."""
STARTUP_BUDGET_S = 3600
"""Time the server may take to download and load the checkpoint before its health check gives up."""
HF_CACHE_PATH = "/root/.cache/huggingface"
"""Where the vllm-openai image (root user) keeps downloaded checkpoints, as in vLLM's docker docs."""

_CHECKPOINT_BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "int4": 0.5, "nvfp4": 0.5}
_CACHE_HEADROOM = 1.25
"""Room beyond the checkpoint's own bytes for scales, tokenizer files and a partial re-download."""


def vllm_image(engine_version: str) -> str:
    """The official image of the release the command's flags were checked against."""
    return f"vllm/vllm-openai:v{engine_version}"


def sglang_image(engine_version: str) -> str:
    """SGLang's official image of the release (lmsysorg/sglang:v<version>, as its install docs name them);
    it also carries the `sglang_router` PD router."""
    return f"lmsysorg/sglang:v{engine_version}"


def engine_image(engine: str, engine_version: str) -> str:
    return vllm_image(engine_version) if engine == "vllm" else sglang_image(engine_version)


def server_name(family: str, engine: str = "vllm") -> str:
    """A DNS-1123 label for the model server, e.g. `vllm-deepseek-v3-2`."""
    return f"{engine}-" + re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")


def cache_size_gib(total_params: float, weights_dtype: str) -> int:
    """Model cache volume: checkpoint bytes (params x bytes per param) x 1.25, rounded up to 100 GiB."""
    checkpoint_gib = total_params * _CHECKPOINT_BYTES_PER_PARAM[weights_dtype] / 2**30
    return int(math.ceil(checkpoint_gib * _CACHE_HEADROOM / 100) * 100)


def manifest_header(target: str, command: EmittedCommand, deployment: Deployment, family: str,
                    extra_flags: list[str] | None = None) -> str:
    """Comment lines naming the plan the manifest was written for and the command that rewrites it."""
    d = deployment
    return (
        f"# Written by `planner emit {target}`: {_ENGINE_NAMES[command.engine]} {command.engine_version} serving {command.model} ({family})\n"
        f"# on {d.gpus} x {d.gpu} ({d.nodes} node{'s' if d.nodes > 1 else ''}), {d.layout}, weights {d.weights_dtype}, "
        f"KV cache {d.kv_dtype},\n"
        f"# max-model-len {d.max_model_len}, gpu-memory-utilization {d.gpu_memory_utilization:g}. "
        "Regenerate it rather than edit it:\n"
        f"#   {' '.join(regenerate_argv(target, deployment, family, command.engine) + (extra_flags or []))} --out DIR\n"
    )


_ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang"}


def regenerate_argv(target: str, deployment: Deployment, family: str, engine: str = "vllm") -> list[str]:
    """The `planner emit` command line that names every choice of `deployment` explicitly."""
    d = deployment
    argv = ["planner", "emit", target] + (["--engine", engine] if engine != "vllm" else [])
    argv += ["--model", family, "--gpu", d.gpu, "--gpus", str(d.gpus),
            "--tp", str(d.tp), "--pp", str(d.pp), "--dp", str(d.dp), "--ep", str(d.ep)]  # fmt: skip
    if d.dp_attention:
        argv.append("--dp-attention")
    if d.eplb:
        argv.append("--eplb")
    if d.redundant_experts:
        argv += ["--redundant-experts", str(d.redundant_experts)]
    if d.tbo:
        argv.append("--tbo")
    return argv + ["--weights", d.weights_dtype, "--kv-dtype", d.kv_dtype, "--max-model-len", str(d.max_model_len),
                   "--gpu-memory-utilization", f"{d.gpu_memory_utilization:g}"]  # fmt: skip


class _ManifestDumper(yaml.SafeDumper):
    """Multi-line strings (shell scripts) as `|` blocks, so they read as written; no `&id` aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ManifestDumper.add_representer(str, _represent_str)


def dump_documents(documents: list[dict]) -> str:
    """YAML documents separated by `---`, keys in the order written, long strings unwrapped."""
    return "---\n".join(
        yaml.dump(document, Dumper=_ManifestDumper, sort_keys=False, default_flow_style=False, width=10_000)
        for document in documents
    )
