"""SGLang 0.5.23 `python3 -m sglang.launch_server` commands.

Flags from sglang/srt/server_args.py and sglang/srt/arg_groups/fields/*.py. SGLang's `--tp-size`
counts every GPU of a pipeline stage of one engine; `--attn-dp-size` attention data-parallel groups
split it (so `--tp-size` is the planner's `tp x dp`; 0.5.23 resolves the older spelling
`--dp-size N --enable-dp-attention` to the same and plans to drop it after 2026-12-31); without
attention DP, `--dp-size` starts independent replicas of `--tp-size` GPUs each. `--ep-size` splits the
experts of those `--tp-size` GPUs. DeepSeek-V3.2 on 8 GPUs: TP8 with DP attention
(docs.sglang.io basic_usage/deepseek_v32). Multi-node: the same command on every node with
`--nnodes`, `--node-rank` and `--dist-init-addr HEAD:PORT`; experts spread over nodes use DeepEP
(`--moe-a2a-backend deepep`), with `--enable-eplb --ep-num-redundant-experts N` and
`--enable-two-batch-overlap` as in LMSYS's 96 x H100 run. MTP: EAGLE over the checkpoint's MTP module
(`--speculative-algorithm EAGLE --speculative-num-steps N --speculative-eagle-topk 1
--speculative-num-draft-tokens N+1`). PD disaggregation (SGLang cookbook DeepSeek-V3.2 "PD
Disaggregation"): `--disaggregation-mode prefill|decode` with `--disaggregation-transfer-backend`
(Mooncake by default), the prefill pool's `--disaggregation-bootstrap-port`, and
`python -m sglang_router.launch_router --pd-disaggregation` in front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.emit.command import NodeCommand
from planner.emit.model_traits import kv_cache_dtype_value
from planner.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.emit.launch import LaunchJob

__all__ = ["build_nodes", "router_argv", "DIST_INIT_PORT", "BOOTSTRAP_PORT", "TRANSFER_BACKEND"]

DIST_INIT_PORT = 20000
"""The rendezvous port of SGLang's multi-node examples."""
BOOTSTRAP_PORT = 8998
"""The prefill pool's KV bootstrap port in SGLang's PD examples (`--disaggregation-bootstrap-port 8998`)."""
TRANSFER_BACKEND = "mooncake"
"""SGLang's default KV transfer engine for PD (`--disaggregation-transfer-backend`, RDMA via Mooncake)."""


def router_argv(prefill_urls: list[str], decode_urls: list[str], host: str, port: int) -> list[str]:
    """SGLang's PD router: each prefill URL with its bootstrap port, then the decode URLs."""
    argv = ["python3", "-m", "sglang_router.launch_router", "--pd-disaggregation"]
    for url in prefill_urls:
        argv += ["--prefill", url, str(BOOTSTRAP_PORT)]
    for url in decode_urls:
        argv += ["--decode", url]
    return argv + ["--host", host, "--port", str(port)]


def build_nodes(job: LaunchJob) -> tuple[list[NodeCommand], list[str]]:
    """The command per node, and notes for the operator."""
    d, traits, options = job.deployment, job.traits, job.options
    tp_size = d.moe_group
    argv = ["python3", "-m", "sglang.launch_server", "--model-path", job.model_hf_id, "--tp-size", str(tp_size)]
    if d.dp > 1:
        argv += ["--attn-dp-size" if d.dp_attention else "--dp-size", str(d.dp)]
    if d.ep > 1:
        argv += ["--ep-size", str(d.ep)]
        if d.nodes > 1:
            argv += ["--moe-a2a-backend", "deepep"]
    if d.eplb:
        argv += ["--enable-eplb"]
        if d.redundant_experts:
            argv += ["--ep-num-redundant-experts", str(d.redundant_experts)]
    if d.tbo:
        argv += ["--enable-two-batch-overlap"]
    if d.pp > 1:
        argv += ["--pp-size", str(d.pp)]
    argv += job.quantization_flags
    argv += ["--kv-cache-dtype", kv_cache_dtype_value("sglang", job.dsa, d.kv_dtype)]
    argv += ["--context-length", str(d.max_model_len)]
    argv += ["--mem-fraction-static", f"{d.gpu_memory_utilization:g}"]
    if traits.sglang_reasoning_parser:
        argv += ["--reasoning-parser", traits.sglang_reasoning_parser]
    if traits.sglang_tool_parser:
        argv += ["--tool-call-parser", traits.sglang_tool_parser]
    if options.mtp:
        argv += ["--speculative-algorithm", "EAGLE", "--speculative-num-steps", str(options.mtp),
                 "--speculative-eagle-topk", "1", "--speculative-num-draft-tokens", str(options.mtp + 1)]
    if options.role != "aggregated":
        argv += ["--disaggregation-mode", options.role, "--disaggregation-transfer-backend", TRANSFER_BACKEND]
        if options.role == "prefill":
            argv += ["--disaggregation-bootstrap-port", str(BOOTSTRAP_PORT)]
    argv += ["--host", options.host, "--port", str(options.port)]
    notes = [
        "SGLang's --mem-fraction-static covers weights and KV cache only (activations come from the rest); "
        "it is given the planner's --gpu-memory-utilization as is."
    ]
    if d.nodes == 1:
        return [NodeCommand(node_rank=0, role="head", argvs=[argv])], notes
    if d.dp > 1 and not d.dp_attention:
        raise PlannerInputError(
            "SGLang's --dp-size replicas without --enable-dp-attention run on one node; "
            "launch one multi-node replica per command instead"
        )
    notes.append("Set HEAD_NODE_IP to node 0's address on every node (or pass --head-address).")
    rendezvous = ["--nnodes", str(d.nodes), "--dist-init-addr", f"{options.head_address}:{DIST_INIT_PORT}"]
    nodes = [
        NodeCommand(
            node_rank=rank,
            role="head" if rank == 0 else "worker",
            argvs=[argv + rendezvous + ["--node-rank", str(rank)]],
        )
        for rank in range(d.nodes)
    ]
    return nodes, notes
