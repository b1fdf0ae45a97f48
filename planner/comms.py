"""Collective communication time: TP all-reduce, MoE dispatch/combine (all-to-all), pipeline hand-off.

Each collective costs a fixed latency plus its bytes over the slowest link it crosses:
- ring all-reduce moves 2(n-1)/n of the buffer through each GPU's link (Patarasuk & Yuan 2009; NCCL
  docs "Performance: bus bandwidth");
- MoE dispatch sends each token's hidden state to the GPUs of its top-k experts (FP8, 1 byte per
  element, as DeepSeek's day-6 system and DeepEP do) and combine returns them in BF16 (2 bytes); the
  (n-1)/n of copies bound for other GPUs cross the link. Across nodes the link is the GPU's own NIC
  (`inter_node_gb_s` in the GPU catalog); inside a node it is NVLink (`intra_node_gb_s`).
- DeepEP's low-latency kernels (decode) reach less than the NIC's bandwidth and get slower as the
  EP group grows; its normal kernels (prefill) reach about the NIC's bandwidth. Both figures are
  DeepEP's own measurements (`DEEPEP_LOW_LATENCY_GB_S`, `DEEPEP_NORMAL_FRACTION`).
"""

from __future__ import annotations

import math
from functools import lru_cache

from planner.deployment import Deployment
from planner.gpu_spec import GpuSpec

__all__ = [
    "allreduce_s", "alltoall_s", "moe_dispatch_combine_s", "link_bytes_per_s", "kv_transfer_s",
    "INTRA_NODE_LATENCY_S", "INTER_NODE_LATENCY_S", "A2A_LATENCY_S", "DEEPEP_LOW_LATENCY_GB_S",
    "DEEPEP_NORMAL_FRACTION", "NORMAL_KERNEL_NODE_LIMIT", "LOW_LATENCY_MAX_TOKENS", "DISPATCH_BYTES_PER_ELEMENT", "COMBINE_BYTES_PER_ELEMENT",
]

INTRA_NODE_LATENCY_S = 10e-6
"""Small-message NVLink all-reduce latency; NCCL / custom all-reduce of a few KiB on 8 H100s takes
~10 us (nccl-tests all_reduce_perf small-size rows as reported in NVIDIA's NCCL tuning blog)."""

INTER_NODE_LATENCY_S = 40e-6
"""Latency of one small all-reduce that spans nodes over InfiniBand. Assumption, not a stored
measurement: a hierarchical all-reduce is an NVLink reduce (~10 us, above), an RDMA round trip
between nodes (two one-way RDMA writes of a few us each plus completion polling) and an NVLink
broadcast, about 4x the single-node figure. It is paid twice per layer under tensor parallelism
across nodes, which is what makes TP16 over two nodes slow at low concurrency."""

A2A_LATENCY_S = 10e-6
"""Fixed cost of one dispatch or combine kernel (launch, signalling), on top of its bytes. DeepEP's
low-latency table (below) is bandwidth-bound at its 128 tokens per rank (bytes / bandwidth equals the
latency it reports to within a few us), so only a small fixed part remains."""

DEEPEP_LOW_LATENCY_GB_S: dict[int, tuple[float, float]] = {
    8: (98.0, 127.0), 16: (63.0, 74.0), 32: (48.0, 53.0), 64: (43.0, 46.0), 128: (39.0, 39.0), 256: (39.0, 40.0),
}
"""(dispatch, combine) RDMA bandwidth in GB/s of DeepEP's low-latency kernels by EP size, measured on
H800 with one CX7 400 Gb/s NIC per GPU, 128 tokens per rank, hidden 7168, top-8, FP8 dispatch and
BF16 combine (deepseek-ai/DeepEP docs/legacy.md "Low-latency kernels with pure RDMA", retrieved
2026-12-04). Scaled by the GPU's NIC bandwidth / 50 GB/s for other NICs."""

DEEPEP_NORMAL_FRACTION = 1.0
"""DeepEP's normal (prefill) kernels reach 43-58 GB/s of logical bandwidth across nodes on 50 GB/s
CX7 NICs (deepseek-ai/DeepEP docs/legacy.md "Normal kernels", EP16-64), i.e. about the NIC's rate."""

NORMAL_KERNEL_NODE_LIMIT = 4
"""DeepSeek-V3's group-limited routing sends each token to experts on at most 4 nodes (n_group 8,
topk_group 4 in config.json; DeepSeek-V3 report section 3.3.2 "each token will be sent to at most 4
nodes"); DeepEP's normal kernels send a token once per destination node over RDMA and fan it out to the
node's GPUs over NVLink (deepseek-ai/DeepEP docs/legacy.md "asymmetric-domain bandwidth forwarding")."""

LOW_LATENCY_MAX_TOKENS = 256
"""DeepEP recommends its low-latency buffers for at most 256 tokens per rank (docs/legacy.md); larger
batches (prefill) use the normal kernels."""

DISPATCH_BYTES_PER_ELEMENT = 1.0 + 4.0 / 128
"""FP8 dispatch: one byte per element plus one fp32 scale per 128 (DeepSeek-V3 report section 3.3.2)."""
COMBINE_BYTES_PER_ELEMENT = 2.0
"""BF16 combine (DeepSeek day-6 overview: "combine transmissions use the BF16 format")."""

_NIC_REFERENCE_GB_S = 50.0


def link_bytes_per_s(gpu: GpuSpec, group_size: int, dep: Deployment) -> tuple[float, float]:
    """(bandwidth, all-reduce latency) of the slowest link a group of `group_size` GPUs crosses."""
    if group_size <= dep.gpus_per_node:
        return gpu.intra_node_bytes_per_s, INTRA_NODE_LATENCY_S
    return gpu.inter_node_bytes_per_s, INTER_NODE_LATENCY_S


def allreduce_s(buffer_bytes: float, group_size: int, gpu: GpuSpec, dep: Deployment) -> float:
    """One ring all-reduce of `buffer_bytes` over `group_size` GPUs."""
    if group_size <= 1:
        return 0.0
    bandwidth, latency = link_bytes_per_s(gpu, group_size, dep)
    return latency + buffer_bytes * 2 * (group_size - 1) / group_size / bandwidth


def alltoall_s(buffer_bytes: float, group_size: int, gpu: GpuSpec, dep: Deployment) -> float:
    """One all-to-all in which each GPU sends `buffer_bytes` spread evenly over the group."""
    if group_size <= 1:
        return 0.0
    bandwidth, _ = link_bytes_per_s(gpu, group_size, dep)
    return A2A_LATENCY_S + buffer_bytes * (group_size - 1) / group_size / bandwidth


@lru_cache(maxsize=1024)
def _deepep_ll_bandwidth(ep: int, which: int) -> float:
    sizes = sorted(DEEPEP_LOW_LATENCY_GB_S)
    if ep <= sizes[0]:
        return DEEPEP_LOW_LATENCY_GB_S[sizes[0]][which]
    if ep >= sizes[-1]:
        return DEEPEP_LOW_LATENCY_GB_S[sizes[-1]][which]
    for low, high in zip(sizes, sizes[1:]):
        if low <= ep <= high:
            f = (math.log(ep) - math.log(low)) / (math.log(high) - math.log(low))
            a, b = DEEPEP_LOW_LATENCY_GB_S[low][which], DEEPEP_LOW_LATENCY_GB_S[high][which]
            return a + (b - a) * f
    raise AssertionError("unreachable")


def moe_dispatch_combine_s(tokens: float, hidden: int, top_k: int, ep: int, gpu: GpuSpec, dep: Deployment) -> float:
    """Dispatch plus combine of `tokens` tokens (per GPU) to their top-k experts over an EP group of `ep` GPUs.

    Inside one node the copies bound elsewhere cross NVLink. Across nodes: DeepEP low-latency
    kernels (at most LOW_LATENCY_MAX_TOKENS tokens per GPU) at their measured bandwidth for this EP
    size, else the normal kernels at the NIC's bandwidth.
    """
    if ep <= 1 or tokens <= 0:
        return 0.0
    remote = (ep - 1) / ep
    dispatch_bytes = tokens * top_k * hidden * DISPATCH_BYTES_PER_ELEMENT * remote
    combine_bytes = tokens * top_k * hidden * COMBINE_BYTES_PER_ELEMENT * remote
    if ep <= dep.gpus_per_node:
        bandwidth = gpu.intra_node_bytes_per_s
        return 2 * A2A_LATENCY_S + (dispatch_bytes + combine_bytes) / bandwidth
    nic_scale = (gpu.inter_node_bytes_per_s / 1e9) / _NIC_REFERENCE_GB_S
    if tokens <= LOW_LATENCY_MAX_TOKENS:
        dispatch_bw = _deepep_ll_bandwidth(ep, 0) * 1e9 * nic_scale
        combine_bw = _deepep_ll_bandwidth(ep, 1) * 1e9 * nic_scale
        return 2 * A2A_LATENCY_S + dispatch_bytes / dispatch_bw + combine_bytes / combine_bw
    # normal kernels: one RDMA copy per remote destination node, the rest over NVLink
    nodes = max(1, math.ceil(ep / dep.gpus_per_node))
    remote_nodes = min(top_k, NORMAL_KERNEL_NODE_LIMIT) * (nodes - 1) / nodes
    rdma = tokens * hidden * remote_nodes * (DISPATCH_BYTES_PER_ELEMENT + COMBINE_BYTES_PER_ELEMENT)
    nvlink = tokens * top_k * hidden * (DISPATCH_BYTES_PER_ELEMENT + COMBINE_BYTES_PER_ELEMENT)
    return 2 * A2A_LATENCY_S + max(rdma / (gpu.inter_node_bytes_per_s * DEEPEP_NORMAL_FRACTION),
                                   nvlink / gpu.intra_node_bytes_per_s)


def kv_transfer_s(kv_bytes: float, gpu: GpuSpec, same_node: bool) -> float:
    """Moving one request's KV cache from a prefill GPU to a decode GPU (PD disaggregation).

    Over NVLink when both pools share a node, else over the sending GPU's RDMA NIC (Mooncake / NIXL
    transfer engines write GPU memory to GPU memory).
    """
    bandwidth = gpu.intra_node_bytes_per_s if same_node else gpu.inter_node_bytes_per_s
    latency = INTRA_NODE_LATENCY_S if same_node else INTER_NODE_LATENCY_S
    return latency + kv_bytes / bandwidth
