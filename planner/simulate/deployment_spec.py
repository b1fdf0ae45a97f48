"""`deployment:` of a self-hosted backend: what it runs on, in planner catalog names.

The policy file's `backends.<name>.deployment` is this model (policies/schema.py reuses it), and
`planner emit policy` writes it. Names are checked against the catalog when the policy loads
(`planner models`, `planner gpus`); whether the model fits is checked when it is simulated.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DeploymentSpec", "SIMULATED_ENGINES"]

SIMULATED_ENGINES: tuple[str, ...] = ("vllm", "sglang")
Count = Annotated[int, Field(ge=1)]


class DeploymentSpec(BaseModel):
    """A self-hosted deployment: model, GPU type and count, parallelism, engine and formats."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Planner catalog model, e.g. deepseek-v3.2 (`planner models`).")
    gpu: str = Field(description="Planner catalog GPU, e.g. h200 (`planner gpus`).")
    gpus: Count = Field(description="GPUs of one replica: tp x pp x dp.")
    tp: Count | None = Field(None, description="Attention tensor-parallel size (default: the planner's layout).")
    pp: Count | None = Field(None, description="Pipeline stages.")
    dp: Count | None = Field(None, description="Data-parallel ranks.")
    ep: Count = Field(1, description="Expert-parallel size.")
    dp_attention: bool = Field(False, description="DP ranks share one MoE over tp x dp GPUs.")
    engine: Literal["vllm", "sglang"] | None = Field(None, description="Default: the backend's type.")
    weights: Literal["bf16", "fp8", "int4", "nvfp4"] | None = Field(None, description="Default: the checkpoint's own.")
    kv_dtype: Literal["auto", "bf16", "fp8"] = Field("auto", description="KV-cache format (auto: the engine's choice for the checkpoint).")
    max_model_len: Count | None = Field(None, description="Default: the model's context.")
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = Field(0.9, description="Share of each GPU's memory the engine may use (vLLM's meaning).")
    max_num_seqs: Count | None = Field(None, description="Running sequences per DP rank (default: the engine's).")

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        from planner.catalog import model_names

        if value not in model_names():
            raise ValueError(f"unknown model '{value}' (planner catalog: {', '.join(model_names())})")
        return value

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, value: str) -> str:
        from planner.catalog import gpu_names

        if value not in gpu_names():
            raise ValueError(f"unknown GPU '{value}' (planner catalog: {', '.join(gpu_names())})")
        return value

    @model_validator(mode="after")
    def _layout_adds_up(self) -> DeploymentSpec:
        given = [n for n in (self.tp, self.pp, self.dp) if n is not None]
        if len(given) == 3 and self.tp * self.pp * self.dp != self.gpus:  # type: ignore[operator]
            raise ValueError(f"tp {self.tp} x pp {self.pp} x dp {self.dp} = "
                             f"{self.tp * self.pp * self.dp} GPUs, but gpus is {self.gpus}")  # type: ignore[operator]
        product = 1
        for n in given:
            product *= n
        if self.gpus % product:
            raise ValueError(f"gpus {self.gpus} is not a multiple of the parallel sizes given ({product})")
        return self

    def with_engine(self, engine: str) -> DeploymentSpec:
        """This deployment with `engine` filled in when it was left out."""
        return self if self.engine is not None else self.model_copy(update={"engine": engine})

    @property
    def label(self) -> str:
        """E.g. `8 x h200 deepseek-v3.2 (vllm)`."""
        return f"{self.gpus} x {self.gpu} {self.model} ({self.engine or 'vllm'})"
