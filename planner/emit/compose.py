"""`planner emit compose`: the `gpu` profile's vLLM service for infra/compose.yaml.

It writes `compose.gpu.yaml`, which infra/compose.yaml pulls in with `include:` (Compose 2.20+):
one `vllm` service in the `gpu` profile, started with exactly the `planner emit vllm` argv (as
the entrypoint, so the image's own entrypoint cannot add to it), the GPUs reserved through
`deploy.resources.reservations.devices`, `ipc: host` for PyTorch's shared memory (vLLM's Docker
docs: `--ipc=host` or `--shm-size`), and the host's Hugging Face cache mounted so the checkpoint
is downloaded once. Compose runs one machine, so a multi-node deployment is refused.
"""

from __future__ import annotations

from typing import Any

from planner.deployment import Deployment
from planner.emit.command import EmittedCommand
from planner.emit.container import (
    HEALTH_PATH, HF_CACHE_PATH, STARTUP_BUDGET_S, dump_documents, manifest_header, vllm_image,
)  # fmt: skip
from planner.errors import PlannerInputError

__all__ = ["COMPOSE_FILENAME", "SERVICE", "render_compose"]

COMPOSE_FILENAME = "compose.gpu.yaml"
SERVICE = "vllm"


def render_compose(command: EmittedCommand, deployment: Deployment, family: str, *, port: int) -> str:
    """The compose file as YAML text, headed by the plan it implements."""
    if deployment.nodes > 1 or len(command.nodes[0].argvs) > 1:
        raise PlannerInputError(
            f"this deployment spans {deployment.nodes} nodes and compose runs on one machine; "
            "use `planner emit k8s` (a LeaderWorkerSet) or `planner emit vllm` per node"
        )
    argv = [arg.replace("$", "$$") for arg in command.nodes[0].argvs[0]]  # compose interpolates `$`
    health = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{HEALTH_PATH}', timeout=5)"
    service: dict[str, Any] = {
        "image": vllm_image(command.engine_version),
        "profiles": ["gpu"],
        "entrypoint": argv,
        "ports": [f"{port}:{port}"],
        "ipc": "host",
        "environment": {"HF_TOKEN": "${HF_TOKEN:-}"},
        "volumes": [f"${{HF_CACHE_DIR:-~/.cache/huggingface}}:{HF_CACHE_PATH}"],
        "deploy": {
            "resources": {"reservations": {"devices": [{"driver": "nvidia", "count": deployment.gpus, "capabilities": ["gpu"]}]}}
        },
        "healthcheck": {
            "test": ["CMD", "python3", "-c", health],
            "interval": "30s",
            "timeout": "10s",
            "retries": 3,
            "start_period": f"{STARTUP_BUDGET_S}s",
        },
        "restart": "unless-stopped",
    }
    return manifest_header("compose", command, deployment, family) + dump_documents([{"services": {SERVICE: service}}])
