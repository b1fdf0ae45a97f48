"""Collective communication time: TP all-reduce, EP all-to-all, pipeline hand-off.

Ring all-reduce moves 2(n-1)/n of the buffer through each GPU's link (Patarasuk & Yuan 2009;
NCCL docs "Performance: bus bandwidth"). An all-to-all sends (n-1)/n of each GPU's buffer to peers.
Each collective also pays a fixed launch/synchronisation latency.
"""

from __future__ import annotations

from planner.deployment import Deployment
from planner.gpu_spec import GpuSpec

__all__ = ["allreduce_s", "alltoall_s", "link_bytes_per_s", "INTRA_NODE_LATENCY_S", "INTER_NODE_LATENCY_S"]

INTRA_NODE_LATENCY_S = 10e-6
"""Small-message NVLink collective latency; NCCL all-reduce of a few KiB on 8 H100s takes ~10 us
(nccl-tests all_reduce_perf small-size rows as reported in NVIDIA's NCCL tuning blog)."""

INTER_NODE_LATENCY_S = 80e-6
"""Latency of one small collective across InfiniBand nodes: DeepEP's README reports 77 us for a
low-latency dispatch at EP8 rising to ~190 us at EP256 (128 tokens per rank, H800 + CX7 400 Gb/s)."""


def link_bytes_per_s(gpu: GpuSpec, group_size: int, dep: Deployment) -> tuple[float, float]:
    """(bandwidth, latency) of the slowest link a group of `group_size` GPUs crosses."""
    if group_size <= dep.gpus_per_node:
        return gpu.intra_node_bytes_per_s, INTRA_NODE_LATENCY_S
    return gpu.inter_node_bytes_per_s, INTER_NODE_LATENCY_S


def allreduce_s(buffer_bytes: float, group_size: int, gpu: GpuSpec, dep: Deployment) -> float:
    if group_size <= 1:
        return 0.0
    bandwidth, latency = link_bytes_per_s(gpu, group_size, dep)
    return latency + buffer_bytes * 2 * (group_size - 1) / group_size / bandwidth


def alltoall_s(buffer_bytes: float, group_size: int, gpu: GpuSpec, dep: Deployment) -> float:
    if group_size <= 1:
        return 0.0
    bandwidth, latency = link_bytes_per_s(gpu, group_size, dep)
    return latency + buffer_bytes * (group_size - 1) / group_size / bandwidth
