"""`planner emit compose|k8s`: manifests that carry exactly the plan's vLLM command, checked in without drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.cli import main
from planner.deployment import Deployment
from planner.emit import emit_command
from planner.emit.container import cache_size_gib, server_name, vllm_image
from planner.emit.flag_lists import ENGINE_VERSIONS
from planner.emit.k8s import HEAD_ADDRESS, render_k8s
from planner.emit.launch import LaunchOptions

ROOT = Path(__file__).resolve().parents[2]
V32 = "deepseek-ai/DeepSeek-V3.2"

# The checked-in manifests and the commands that write them (README "Deploying").
CHECKED_IN = {
    "infra/k8s/vllm-8xh200.yaml": ["k8s", "--model", "deepseek-v3.2", "--gpu", "h200", "--gpus", "8"],
    "infra/k8s/vllm-16xh100.yaml": ["k8s", "--model", "deepseek-v3.2", "--gpu", "h100", "--gpus", "16", "--weights", "fp8"],
    "infra/compose.gpu.yaml": ["compose", "--model", "deepseek-v3.2", "--gpu", "h200", "--gpus", "8"],
    "infra/k8s/sglang-pd-2p1d-16xh200.yaml": [
        "k8s", "--engine", "sglang", "--gpu", "h200", "--gpus", "16", "--tp", "1", "--dp", "16", "--ep", "16",
        "--dp-attention", "--eplb", "--redundant-experts", "32", "--tbo", "--max-model-len", "32768",
        "--prefill-gpus", "8", "--prefill-tp", "1", "--prefill-dp", "8", "--prefill-ep", "8", "--prefill-dp-attention",
        "--prefill-instances", "2"],
    "infra/k8s/vllm-pd-1p1d-8xh200.yaml": [
        "k8s", "--gpu", "h200", "--gpus", "8", "--max-model-len", "32768", "--prefill-gpus", "8", "--prefill-tp", "1",
        "--prefill-dp", "8", "--prefill-ep", "8", "--prefill-dp-attention"],
}


def _emit(argv: list[str], out: Path, capsys) -> tuple[int, str, str]:
    code = main(["emit", *argv, "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("path", list(CHECKED_IN))
def test_checked_in_manifest_is_exactly_what_planner_emit_writes(path: str, tmp_path: Path, capsys) -> None:
    code, out, _ = _emit(CHECKED_IN[path], tmp_path, capsys)
    written = tmp_path / Path(path).name
    assert code == 0 and out == f"wrote {written}\n"
    assert written.read_text() == (ROOT / path).read_text(), (
        f"{path} drifted from the plan; regenerate it: planner emit {' '.join(CHECKED_IN[path])} --out {Path(path).parent}"
    )


def _documents(path: Path) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(path.read_text())}


def test_single_node_deployment_serves_the_plans_argv_on_eight_h200(tmp_path: Path, capsys) -> None:
    _emit(CHECKED_IN["infra/k8s/vllm-8xh200.yaml"], tmp_path, capsys)
    docs = _documents(tmp_path / "vllm-8xh200.yaml")
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    argv = container["command"]
    assert argv[:3] == ["vllm", "serve", V32]
    for flag, value in (("--data-parallel-size", "8"), ("--max-model-len", "163840"), ("--gpu-memory-utilization", "0.9"),
                        ("--kv-cache-dtype", "fp8"), ("--port", "8000")):  # fmt: skip
        assert argv[argv.index(flag) + 1] == value
    assert "--enable-expert-parallel" in argv  # DeepSeek-V3.2's recipe shape: DP8 + EP on one node
    assert container["image"] == "vllm/vllm-openai:v0.32.0" == vllm_image(ENGINE_VERSIONS["vllm"])
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "32Gi"}} in pod["volumes"]
    assert docs["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "800Gi"
    assert docs["Service"]["spec"]["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]


def test_two_node_h100_plan_becomes_a_leader_worker_set_over_ray(tmp_path: Path, capsys) -> None:
    _emit(CHECKED_IN["infra/k8s/vllm-16xh100.yaml"], tmp_path, capsys)
    docs = _documents(tmp_path / "vllm-16xh100.yaml")
    template = docs["LeaderWorkerSet"]["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 2
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    worker = template["workerTemplate"]["spec"]["containers"][0]
    script = leader["command"][2]
    assert leader["command"][:2] == ["/bin/sh", "-c"]
    assert script.splitlines()[:2] == ["set -e", "ray start --head --port 6379"]
    assert 'while ray.cluster_resources().get("GPU", 0) < 16:' in script
    assert script.splitlines()[-1].startswith("exec vllm serve deepseek-ai/DeepSeek-V3.2 --tensor-parallel-size 8 --pipeline-parallel-size 2")
    assert script.splitlines()[-1].endswith("--distributed-executor-backend ray")
    assert worker["command"][2] == 'exec ray start --address "${LWS_LEADER_ADDRESS}:6379" --block\n'
    assert leader["resources"]["limits"]["nvidia.com/gpu"] == worker["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert "readinessProbe" in leader and "readinessProbe" not in worker
    assert docs["Service"]["spec"]["selector"]["role"] == "leader"
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_multi_node_data_parallel_workers_take_their_start_rank_from_the_worker_index() -> None:
    deployment = Deployment(gpu="h100", gpus=32, dp=32, ep=32, dp_attention=True, weights_dtype="fp8", kv_dtype="fp8",
                            max_model_len=32768, nodes=4)  # fmt: skip
    command = emit_command("vllm", deployment, V32, "deepseek-v3.2", options=LaunchOptions(head_address=HEAD_ADDRESS))
    docs = list(yaml.safe_load_all(render_k8s(command, deployment, "deepseek-v3.2", cache_gib=800, port=8000)))
    template = docs[1]["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 4
    worker_script = template["workerTemplate"]["spec"]["containers"][0]["command"][2]
    assert '--data-parallel-address "${LWS_LEADER_ADDRESS}"' in worker_script
    assert worker_script.rstrip().endswith('--headless --data-parallel-start-rank "$((LWS_WORKER_INDEX * 8))"')


def test_compose_gpu_service_reserves_the_plans_gpus_in_the_gpu_profile(tmp_path: Path, capsys) -> None:
    _emit(["compose", "--gpu", "h200", "--gpus", "8", "--max-model-len", "32768", "--gpu-memory-utilization", "0.85"],
          tmp_path, capsys)  # fmt: skip
    service = yaml.safe_load((tmp_path / "compose.gpu.yaml").read_text())["services"]["vllm"]
    assert service["profiles"] == ["gpu"]
    argv = service["entrypoint"]
    assert argv[argv.index("--max-model-len") + 1] == "32768"
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.85"
    assert service["deploy"]["resources"]["reservations"]["devices"] == [{"driver": "nvidia", "count": 8, "capabilities": ["gpu"]}]
    assert service["ipc"] == "host"


def test_compose_refuses_a_multi_node_plan_with_one_line_and_exit_two(tmp_path: Path, capsys) -> None:
    code, out, err = _emit(["compose", "--gpu", "h100", "--gpus", "16", "--weights", "fp8"], tmp_path, capsys)
    assert code == 2 and out == ""
    assert err.startswith("planner: error: this deployment spans 2 nodes and compose runs on one machine")
    assert err.count("\n") == 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize(("argv", "message"), [
    (["emit", "k8s", "--json"], "--json prints a launch command"),
    (["emit", "vllm", "--out", "x"], "--out applies to `emit compose` and `emit k8s`"),
    (["emit", "k8s", "--gpu", "h100", "--gpus", "2"], "nothing to launch"),
])  # fmt: skip
def test_manifest_user_mistakes_are_one_line_and_exit_two(argv: list[str], message: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_k8s_manifest_prints_to_stdout_without_out(capsys) -> None:
    assert main(["emit", "k8s", "--gpu", "h200", "--gpus", "8"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (ROOT / "infra/k8s/vllm-8xh200.yaml").read_text()
    assert "HEAD_NODE_IP" not in captured.err


def test_names_and_cache_size_are_derived_from_the_model() -> None:
    assert server_name("deepseek-v3.2") == "vllm-deepseek-v3-2"
    assert cache_size_gib(685.4e9, "fp8") == 800  # 638.3 GiB x 1.25 = 797.9, up to 800
    assert cache_size_gib(685.4e9, "bf16") == 1600


@pytest.mark.parametrize("path", list(CHECKED_IN))
def test_the_command_in_a_manifests_header_rewrites_it_exactly(path: str, tmp_path: Path, capsys) -> None:
    header = [line for line in (ROOT / path).read_text().splitlines() if line.startswith("#   planner emit ")]
    assert len(header) == 1
    argv = header[0].removeprefix("#   planner emit ").removesuffix(" --out DIR").split()
    code, _, _ = _emit(argv, tmp_path, capsys)
    assert code == 0 and (tmp_path / Path(path).name).read_text() == (ROOT / path).read_text()


def test_disaggregated_manifests_run_both_pools_and_the_sglang_router(tmp_path: Path, capsys) -> None:
    _emit(CHECKED_IN["infra/k8s/sglang-pd-2p1d-16xh200.yaml"], tmp_path, capsys)
    docs = list(yaml.safe_load_all((tmp_path / "sglang-pd-2p1d-16xh200.yaml").read_text()))
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    prefill = by[("Deployment", "sglang-deepseek-v3-2-prefill")]
    decode = by[("LeaderWorkerSet", "sglang-deepseek-v3-2-decode")]
    router = by[("Deployment", "sglang-deepseek-v3-2")]
    assert prefill["spec"]["replicas"] == 2 and decode["spec"]["leaderWorkerTemplate"]["size"] == 2
    prefill_argv = prefill["spec"]["template"]["spec"]["containers"][0]["command"]
    assert prefill_argv[prefill_argv.index("--disaggregation-mode") + 1] == "prefill"
    assert "lmsysorg/sglang:v0.5.23" == prefill["spec"]["template"]["spec"]["containers"][0]["image"]
    worker_script = decode["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["command"][-1]
    assert '--node-rank "${LWS_WORKER_INDEX}"' in worker_script
    router_argv = router["spec"]["template"]["spec"]["containers"][0]["command"]
    assert router_argv[:4] == ["python3", "-m", "sglang_router.launch_router", "--pd-disaggregation"]
    assert "http://sglang-deepseek-v3-2-prefill:8000" in router_argv and "http://sglang-deepseek-v3-2-decode:8000" in router_argv
    assert {("Service", n) for n in ("sglang-deepseek-v3-2", "sglang-deepseek-v3-2-prefill", "sglang-deepseek-v3-2-decode")} <= set(by)
