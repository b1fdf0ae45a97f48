"""`planner emit vllm|sglang`: flags that exist in the pinned engine releases, parsers per family, multi-node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import planner.emit
from planner.cli import main
from planner.deployment import Deployment
from planner.emit import emit_command
from planner.emit.command import shell_join
from planner.emit.flag_lists import ENGINE_VERSIONS, documented_options, undocumented_options
from planner.emit.model_traits import MODEL_TRAITS
from planner.errors import PlannerInputError

V32 = "deepseek-ai/DeepSeek-V3.2"

LAYOUTS = {
    "tp8": Deployment(gpu="h200", gpus=8, tp=8, weights_dtype="fp8", kv_dtype="fp8", max_model_len=131072),
    "dp8-ep8": Deployment(gpu="h200", gpus=8, dp=8, ep=8, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8"),
    "2x8-dp16": Deployment(gpu="h100", gpus=16, dp=16, ep=16, dp_attention=True, weights_dtype="fp8", nodes=2),
    "2x8-tp8-pp2": Deployment(gpu="h100", gpus=16, tp=8, pp=2, weights_dtype="fp8", kv_dtype="fp8", nodes=2),
}


def _engine_argvs(command) -> list[list[str]]:
    return [argv for node in command.nodes for argv in node.argvs if argv[0] in ("vllm", "python3")]


def _flag_value(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("family", ["deepseek-v3.2", "deepseek-v3.1-terminus", "deepseek-r1"])
def test_every_emitted_option_is_documented_by_the_pinned_release(engine: str, layout: str, family: str) -> None:
    command = emit_command(engine, LAYOUTS[layout], V32, family)
    documented = documented_options(engine)
    for argv in _engine_argvs(command):
        flags = [arg for arg in argv if arg.startswith("--")]
        assert flags and all(flag in documented.options for flag in flags), flags
        assert undocumented_options(engine, argv) == []


def test_flag_lists_name_their_source_release_and_date() -> None:
    for engine, version in ENGINE_VERSIONS.items():
        text = (Path(planner.emit.__file__).parent / "data" / f"{engine}-{version}-flags.txt").read_text()
        header = [line for line in text.splitlines() if line.startswith("#")]
        assert any(f"{engine}=={version} wheel" in line for line in header)
        assert any(line.startswith("# extracted: 2026-") for line in header)
        assert len(text.splitlines()) > 150  # the whole CLI, not a hand-picked subset


def test_undocumented_option_or_value_is_caught() -> None:
    argv = ["vllm", "serve", V32, "--tensor-parallel-size", "8", "--made-up", "--kv-cache-dtype", "fp9"]
    assert undocumented_options("vllm", argv) == ["--made-up", "--kv-cache-dtype fp9"]
    assert undocumented_options("sglang", ["python3", "--tool-call-parser", "deepseek_v32"]) == [
        "--tool-call-parser deepseek_v32"
    ]


def test_every_parser_in_the_family_table_is_registered_in_both_engines() -> None:
    vllm, sglang = documented_options("vllm"), documented_options("sglang")
    for family, traits in MODEL_TRAITS.items():
        assert traits.vllm_reasoning_parser in vllm.reasoning_parsers | {None}, family
        assert traits.vllm_tool_parser in vllm.tool_call_parsers | {None}, family
        assert traits.sglang_reasoning_parser in sglang.reasoning_parsers | {None}, family
        assert traits.sglang_tool_parser in sglang.tool_call_parsers | {None}, family


@pytest.mark.parametrize(
    ("family", "vllm_tool", "vllm_reasoning", "sglang_tool", "sglang_reasoning"),
    [
        ("deepseek-v3.2", "deepseek_v32", "deepseek_v3", "deepseekv32", "deepseek-v3"),
        ("deepseek-v3.2-exp", "deepseek_v31", "deepseek_v3", "deepseekv31", "deepseek-v3"),
        ("deepseek-v3.1-terminus", "deepseek_v31", "deepseek_v3", "deepseekv31", "deepseek-v3"),
        ("deepseek-v3.1", "deepseek_v31", "deepseek_v3", "deepseekv31", "deepseek-v3"),
        ("deepseek-v3-0324", "deepseek_v3", None, "deepseekv3", None),
        ("deepseek-v3", "deepseek_v3", None, "deepseekv3", None),
        ("deepseek-r1", "deepseek_v3", "deepseek_r1", "deepseekv3", "deepseek-r1"),
        ("deepseek-r1-0528", "deepseek_v3", "deepseek_r1", "deepseekv3", "deepseek-r1"),
    ],
)
def test_parsers_match_the_model_family(family, vllm_tool, vllm_reasoning, sglang_tool, sglang_reasoning) -> None:
    deployment = LAYOUTS["tp8"]
    (vllm_argv,) = _engine_argvs(emit_command("vllm", deployment, V32, family))
    (sglang_argv,) = _engine_argvs(emit_command("sglang", deployment, V32, family))
    assert _flag_value(vllm_argv, "--tool-call-parser") == vllm_tool
    assert "--enable-auto-tool-choice" in vllm_argv
    assert _flag_value(vllm_argv, "--reasoning-parser") == vllm_reasoning
    assert _flag_value(sglang_argv, "--tool-call-parser") == sglang_tool
    assert _flag_value(sglang_argv, "--reasoning-parser") == sglang_reasoning
    # Only V3.2 (GA) lacks a Jinja chat template and needs vLLM's deepseek_v32 tokenizer mode.
    assert (_flag_value(vllm_argv, "--tokenizer-mode") == "deepseek_v32") == (family == "deepseek-v3.2")


def test_vllm_single_node_dp_attention_command_is_exact() -> None:
    command = emit_command("vllm", LAYOUTS["dp8-ep8"], V32, "deepseek-v3.2")
    assert command.shell == (
        "vllm serve deepseek-ai/DeepSeek-V3.2 --data-parallel-size 8 "
        "--enable-expert-parallel --kv-cache-dtype fp8 --max-model-len 4096 --gpu-memory-utilization 0.9 "
        "--tokenizer-mode deepseek_v32 --reasoning-parser deepseek_v3 --tool-call-parser deepseek_v32 "
        "--enable-auto-tool-choice --host 0.0.0.0 --port 8000"
    )
    assert command.engine_version == "0.32.0"


def test_sglang_dp_attention_tp_size_counts_every_gpu() -> None:
    (argv,) = _engine_argvs(emit_command("sglang", LAYOUTS["dp8-ep8"], V32, "deepseek-v3.2"))
    assert argv[:5] == ["python3", "-m", "sglang.launch_server", "--model-path", V32]
    assert _flag_value(argv, "--tp-size") == "8"
    assert _flag_value(argv, "--attn-dp-size") == "8"  # 0.5.23's spelling of --dp-size 8 --enable-dp-attention
    assert "--enable-dp-attention" not in argv and "--dp-size" not in argv
    assert _flag_value(argv, "--ep-size") == "8"
    assert _flag_value(argv, "--kv-cache-dtype") == "fp8_e4m3"
    assert _flag_value(argv, "--mem-fraction-static") == "0.9"
    assert "--moe-a2a-backend" not in argv  # DeepEP only when experts span nodes


def test_vllm_multi_node_data_parallel_has_a_headless_worker_per_node() -> None:
    command = emit_command("vllm", LAYOUTS["2x8-dp16"], V32, "deepseek-v3.2")
    head, worker = command.nodes
    (head_argv,), (worker_argv,) = head.argvs, worker.argvs
    assert (head.role, worker.role) == ("head", "worker")
    assert "--headless" not in head_argv and "--headless" in worker_argv
    for argv in (head_argv, worker_argv):
        assert _flag_value(argv, "--data-parallel-size") == "16"
        assert _flag_value(argv, "--data-parallel-size-local") == "8"
        assert _flag_value(argv, "--data-parallel-address") == "${HEAD_NODE_IP}"
        assert _flag_value(argv, "--data-parallel-rpc-port") == "13345"
    assert _flag_value(worker_argv, "--data-parallel-start-rank") == "8"
    assert "# node 1 (worker)" in command.shell
    assert '--data-parallel-address "${HEAD_NODE_IP}"' in command.shell


def test_vllm_tensor_and_pipeline_parallel_across_nodes_uses_ray() -> None:
    command = emit_command("vllm", LAYOUTS["2x8-tp8-pp2"], V32, "deepseek-v3.2")
    head, worker = command.nodes
    assert head.argvs[0] == ["ray", "start", "--head", "--port", "6379"]
    assert _flag_value(head.argvs[1], "--distributed-executor-backend") == "ray"
    assert _flag_value(head.argvs[1], "--pipeline-parallel-size") == "2"
    assert worker.argvs == [["ray", "start", "--address", "${HEAD_NODE_IP}:6379", "--block"]]


def test_sglang_multi_node_runs_the_same_command_with_each_node_rank() -> None:
    command = emit_command("sglang", LAYOUTS["2x8-dp16"], V32, "deepseek-v3.2")
    ranks = [_flag_value(node.argvs[0], "--node-rank") for node in command.nodes]
    assert ranks == ["0", "1"]
    for node in command.nodes:
        argv = node.argvs[0]
        assert _flag_value(argv, "--nnodes") == "2"
        assert _flag_value(argv, "--dist-init-addr") == "${HEAD_NODE_IP}:20000"
        assert _flag_value(argv, "--tp-size") == "16"
        assert _flag_value(argv, "--moe-a2a-backend") == "deepep"


@pytest.mark.parametrize(
    ("engine", "kv_dtype", "family", "expected"),
    [
        ("vllm", "fp8", "deepseek-v3.2", "fp8"),
        ("vllm", "bf16", "deepseek-v3.2", "bfloat16"),
        ("vllm", "bf16", "deepseek-v3.1", "auto"),
        ("sglang", "fp8", "deepseek-v3.2", "fp8_e4m3"),
        ("sglang", "bf16", "deepseek-v3.2", "bf16"),
        ("sglang", "bf16", "deepseek-r1", "auto"),
    ],
)
def test_kv_cache_dtype_uses_each_engines_name(engine, kv_dtype, family, expected) -> None:
    deployment = LAYOUTS["tp8"].model_copy(update={"kv_dtype": kv_dtype})
    (argv,) = _engine_argvs(emit_command(engine, deployment, V32, family))
    assert _flag_value(argv, "--kv-cache-dtype") == expected


def test_bf16_checkpoint_served_as_fp8_is_quantized_online() -> None:
    deployment = Deployment(gpu="h100", gpus=2, tp=2, weights_dtype="fp8", max_model_len=32768)
    hf = "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"
    for engine in ("vllm", "sglang"):
        (argv,) = _engine_argvs(emit_command(engine, deployment, hf, "deepseek-r1-distill-qwen-32b"))
        assert _flag_value(argv, "--quantization") == "fp8"


def test_fp8_checkpoint_cannot_be_served_as_bf16_without_a_bf16_checkpoint() -> None:
    deployment = LAYOUTS["tp8"].model_copy(update={"weights_dtype": "bf16"})
    with pytest.raises(PlannerInputError, match="holds fp8 weights; to serve bf16 weights name a bf16 checkpoint"):
        emit_command("vllm", deployment, V32, "deepseek-v3.2")
    command = emit_command("vllm", deployment, "someone/DeepSeek-V3.2-BF16", "deepseek-v3.2", checkpoint_dtype="bf16")
    assert "--quantization" not in _engine_argvs(command)[0]


def test_vllm_rejects_independent_dp_replicas_and_partial_ep() -> None:
    replicas = Deployment(gpu="h200", gpus=16, tp=8, dp=2, weights_dtype="fp8", nodes=2)
    with pytest.raises(PlannerInputError, match="use --dp-attention"):
        emit_command("vllm", replicas, V32, "deepseek-v3.2")
    partial_ep = Deployment(gpu="h200", gpus=8, dp=8, ep=4, dp_attention=True, weights_dtype="fp8")
    with pytest.raises(PlannerInputError, match="tp x dp = 8; --ep 4"):
        emit_command("vllm", partial_ep, V32, "deepseek-v3.2")


def test_layout_that_does_not_add_up_is_rejected() -> None:
    with pytest.raises(PlannerInputError, match="tp x pp x dp = 4 but the deployment has 8 GPUs"):
        emit_command("vllm", Deployment(gpu="h200", gpus=8, tp=4, weights_dtype="fp8"), V32, "deepseek-v3.2")


def test_shell_text_double_quotes_environment_references_only() -> None:
    assert shell_join(["a b", "${HEAD_NODE_IP}:20000", "x;y"]) == "'a b' \"${HEAD_NODE_IP}:20000\" 'x;y'"


DP8 = ["--gpus", "8", "--tp", "1", "--dp", "8", "--ep", "8", "--dp-attention"]


def test_cli_prints_the_command_and_exits_zero(capsys) -> None:
    code = main(["emit", "vllm", "--model", "deepseek-v3.2", "--gpu", "h200", *DP8])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("vllm serve deepseek-ai/DeepSeek-V3.2 --data-parallel-size 8 --enable-expert-parallel")
    # Defaults come from `planner estimate`: FP8 KV for DSA models, the model's own context length.
    assert "--kv-cache-dtype fp8 --max-model-len 163840" in out


def test_cli_gpus_auto_emits_the_deployment_the_estimate_chose(capsys) -> None:
    from planner.estimate import EstimateRequest, run_estimate

    chosen = run_estimate(EstimateRequest(model="deepseek-v3.2", gpu="h100", gpus="auto", engine="sglang")).deployment
    code = main(["emit", "sglang", "--model", "deepseek-v3.2", "--gpu", "h100", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert chosen.nodes == 2  # 685B at FP8 needs two nodes of 8x H100
    assert [node["node_rank"] for node in data["nodes"]] == [0, 1]
    assert data["engine_version"] == "0.5.23"
    argv = data["nodes"][1]["argvs"][0]
    assert argv[-2:] == ["--node-rank", "1"]
    assert _flag_value(argv, "--tp-size") == str(chosen.moe_group)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gpus", "8", "--tp", "3"], "--tp 3 does not divide the 128 attention heads"),
        (["--gpus", "8", "--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization must be in (0, 1]"),
        (["--gpus", "8", "--weights", "int4"], "name a int4 checkpoint with --hf-model"),
        (["--gpu", "h100", "--gpus", "8"], "nothing to launch: weights need"),
    ],
)
def test_cli_user_mistakes_are_one_line_and_exit_two(capsys, argv, message) -> None:
    code = main(["emit", "vllm", "--model", "deepseek-v3.2", "--gpu", "h200", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("role", ["aggregated", "prefill", "decode"])
def test_v32_commands_are_also_valid_in_the_newest_vllm(layout: str, role: str) -> None:
    from planner.emit import LaunchOptions
    from planner.emit.flag_lists import ALSO_VALID_IN

    command = emit_command("vllm", LAYOUTS[layout], V32, "deepseek-v3.2", options=LaunchOptions(role=role, mtp=1))
    for version in ALSO_VALID_IN["vllm"]:
        for argv in _engine_argvs(command):
            assert undocumented_options("vllm", argv, version) == [], version


def test_v32_on_eight_h200_is_the_vllm_recipes_launch_shape(capsys) -> None:
    """vllm-project/recipes DeepSeek-V3.2: `vllm serve deepseek-ai/DeepSeek-V3.2 -dp 8 --enable-expert-parallel`
    with `--tokenizer-mode deepseek_v32 --tool-call-parser deepseek_v32 --reasoning-parser deepseek_v3`."""
    assert main(["emit", "vllm", "--model", "deepseek-v3.2", "--gpu", "h200", "--json"]) == 0
    argv = json.loads(capsys.readouterr().out)["nodes"][0]["argvs"][0]
    assert argv[:3] == ["vllm", "serve", V32] and "--tensor-parallel-size" not in argv
    recipe = {"--data-parallel-size": "8", "--tokenizer-mode": "deepseek_v32", "--tool-call-parser": "deepseek_v32",
              "--reasoning-parser": "deepseek_v3"}
    assert {flag: _flag_value(argv, flag) for flag in recipe} == recipe
    assert "--enable-expert-parallel" in argv and "--enable-auto-tool-choice" in argv


def test_wide_ep_mtp_and_pd_roles_become_each_engines_flags() -> None:
    from planner.emit import LaunchOptions

    wide = Deployment(gpu="h200", gpus=32, dp=32, ep=32, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8",
                      nodes=4, eplb=True, redundant_experts=32, tbo=True)
    (vllm, *_), (sglang, *_) = (_engine_argvs(emit_command(e, wide, V32, "deepseek-v3.2",
                                                           options=LaunchOptions(role="decode", mtp=2)))
                                for e in ("vllm", "sglang"))
    assert _flag_value(vllm, "--all2all-backend") == "deepep_low_latency"
    assert json.loads(_flag_value(vllm, "--eplb-config")) == {"num_redundant_experts": 32} and "--enable-dbo" in vllm
    assert json.loads(_flag_value(vllm, "--speculative-config")) == {"method": "mtp", "num_speculative_tokens": 2}
    assert json.loads(_flag_value(vllm, "--kv-transfer-config"))["kv_connector"] == "NixlConnector"
    assert _flag_value(sglang, "--moe-a2a-backend") == "deepep" and "--enable-two-batch-overlap" in sglang
    assert _flag_value(sglang, "--ep-num-redundant-experts") == "32" and "--enable-eplb" in sglang
    assert _flag_value(sglang, "--disaggregation-mode") == "decode"
    assert _flag_value(sglang, "--speculative-num-draft-tokens") == "3"
    prefill = _engine_argvs(emit_command("sglang", LAYOUTS["dp8-ep8"], V32, "deepseek-v3.2",
                                         options=LaunchOptions(role="prefill")))[0]
    assert _flag_value(prefill, "--disaggregation-bootstrap-port") == "8998"


def test_cli_emits_both_pools_and_the_sglang_router(capsys) -> None:
    code = main(["emit", "sglang", "--model", "deepseek-v3.2", "--gpu", "h200", "--max-model-len", "8192",
                 "--prefill-gpus", "8", "--prefill-instances", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("--disaggregation-mode prefill") == 1 and out.count("--disaggregation-mode decode") == 1
    assert "# prefill pool: 2 instance(s)" in out
    assert out.count("--prefill \"http://${PREFILL_HOST_") == 2 and "sglang_router.launch_router --pd-disaggregation" in out
