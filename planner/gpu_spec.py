"""One GPU's datasheet figures, loaded from `planner/data/gpus/<name>.yaml` into a frozen model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["GpuSpec", "SourcedFigure", "GIB"]

GIB = 1024**3


class SourcedFigure(BaseModel):
    """A figure in a GPU data file: its value, where it came from, and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float | None
    source: str
    date: str


class GpuSpec(BaseModel):
    """A GPU as the planner sees it: memory the framework can use, bandwidths, dense TFLOPs, price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    display_name: str
    vendor: str
    gpus_per_node: int
    memory_mib: SourcedFigure
    hbm_bandwidth_tb_s: SourcedFigure
    bf16_dense_tflops: SourcedFigure
    fp8_dense_tflops: SourcedFigure
    fp4_dense_tflops: SourcedFigure
    intra_node_gb_s: SourcedFigure
    inter_node_gb_s: SourcedFigure
    usd_per_hour: SourcedFigure

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_mib.value or 0) * 1024 * 1024

    @property
    def hbm_bandwidth_bytes_per_s(self) -> float:
        return float(self.hbm_bandwidth_tb_s.value or 0) * 1e12

    @property
    def intra_node_bytes_per_s(self) -> float:
        return float(self.intra_node_gb_s.value or 0) * 1e9

    @property
    def inter_node_bytes_per_s(self) -> float:
        return float(self.inter_node_gb_s.value or 0) * 1e9

    def dense_flops_per_s(self, compute_dtype: str) -> float:
        """Dense tensor-core FLOP/s for `bf16`, `fp8` or `fp4` math; falls back to the next wider type."""
        order = {"fp4": ("fp4", "fp8", "bf16"), "fp8": ("fp8", "bf16"), "bf16": ("bf16",)}[compute_dtype]
        figures = {"fp4": self.fp4_dense_tflops, "fp8": self.fp8_dense_tflops, "bf16": self.bf16_dense_tflops}
        for dtype in order:
            if figures[dtype].value:
                return float(figures[dtype].value) * 1e12
        return 0.0
