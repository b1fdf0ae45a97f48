"""`emit_command`: the exact vLLM or SGLang launch command for a deployment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.catalog import load_model
from planner.deployment import Deployment
from planner.emit import sglang, vllm
from planner.emit.command import EmittedCommand
from planner.emit.flag_lists import ENGINE_VERSIONS, undocumented_options
from planner.emit.model_traits import ModelTraits, model_traits
from planner.errors import PlannerError, PlannerInputError

__all__ = ["ENGINES", "LaunchJob", "LaunchOptions", "emit_command"]

ENGINES: tuple[str, ...] = ("vllm", "sglang")


class LaunchOptions(BaseModel):
    """Where the server listens and how nodes find the head node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    head_address: str = "${HEAD_NODE_IP}"
    """Address of node 0 as the other nodes reach it; the default is left to the shell."""
    role: Literal["aggregated", "prefill", "decode"] = "aggregated"
    """One pool of a prefill/decode-disaggregated deployment (its KV-transfer flags), or a whole server."""
    mtp: int = Field(default=0, ge=0, le=3)
    """MTP draft tokens (speculative decoding with the checkpoint's MTP module)."""


@dataclass(frozen=True, slots=True)
class LaunchJob:
    """Everything an engine's command builder needs, resolved and checked."""

    deployment: Deployment
    model_hf_id: str
    traits: ModelTraits
    dsa: bool
    """DeepSeek Sparse Attention (V3.2 family): the engines name its KV formats differently."""
    quantization_flags: list[str]
    options: LaunchOptions


_BUILDERS = {"vllm": vllm.build_nodes, "sglang": sglang.build_nodes}


def emit_command(
    engine: Literal["vllm", "sglang"],
    deployment: Deployment,
    model_hf_id: str,
    family: str,
    *,
    checkpoint_dtype: str | None = None,
    options: LaunchOptions | None = None,
) -> EmittedCommand:
    """The launch command(s) of `deployment` for `engine`, one `NodeCommand` per node.

    `model_hf_id` is the checkpoint to serve; `checkpoint_dtype` its weight format, by default
    that of the family's official weights (its catalog config.json). A layout the engine cannot
    express, or weights the checkpoint does not hold, is a `PlannerInputError`; an emitted option
    missing from the pinned release's flag list is a bug (`PlannerError`).
    """
    if engine not in _BUILDERS:
        raise PlannerInputError(f"unknown engine '{engine}'; valid engines: {', '.join(ENGINES)}")
    traits = model_traits(family)
    spec = load_model(family)
    _check_layout(deployment)
    quantization = _quantization_flags(deployment, model_hf_id, checkpoint_dtype or spec.native_weights_dtype)
    job = LaunchJob(deployment, model_hf_id, traits, spec.has_dsa, quantization, options or LaunchOptions())
    nodes, notes = _BUILDERS[engine](job)
    for node in nodes:
        for argv in node.argvs:
            if argv[0] in ("vllm", "python3") and (problems := undocumented_options(engine, argv)):
                raise PlannerError(f"bug: {engine} {ENGINE_VERSIONS[engine]} does not document {problems}")
    return EmittedCommand.build(engine, ENGINE_VERSIONS[engine], model_hf_id, nodes, {}, notes)


def _check_layout(deployment: Deployment) -> None:
    d = deployment
    if d.tp * d.pp * d.dp != d.gpus:
        raise PlannerInputError(f"tp x pp x dp = {d.tp * d.pp * d.dp} but the deployment has {d.gpus} GPUs")
    if d.gpus % d.nodes:
        raise PlannerInputError(f"{d.gpus} GPUs do not split evenly over {d.nodes} nodes")
    if d.gpus // d.nodes > d.gpus_per_node:
        raise PlannerInputError(
            f"{d.gpus // d.nodes} GPUs per node exceed the {d.gpus_per_node} a {d.gpu} node has"
        )
    if d.moe_group % d.ep:
        raise PlannerInputError(f"--ep {d.ep} does not divide the {d.moe_group} GPUs the experts are spread over")


def _quantization_flags(deployment: Deployment, model_hf_id: str, checkpoint_dtype: str) -> list[str]:
    """Online FP8 quantization of a BF16 checkpoint is a flag; any other format needs its own checkpoint."""
    weights = deployment.weights_dtype
    if weights == checkpoint_dtype:
        return []
    if weights == "fp8" and checkpoint_dtype == "bf16":
        return ["--quantization", "fp8"]
    raise PlannerInputError(
        f"{model_hf_id} holds {checkpoint_dtype} weights; to serve {weights} weights "
        f"name a {weights} checkpoint with --hf-model"
    )

