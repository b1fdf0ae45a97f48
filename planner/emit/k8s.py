"""`planner emit k8s`: Kubernetes manifests that run the `planner emit vllm` command of a deployment.

One node: a `Deployment` (one replica, `Recreate`, since a second copy would not fit the GPUs
during a rollout). Several nodes: a `LeaderWorkerSet` (leaderworkerset.x-k8s.io/v1, one group of
`nodes` pods), the multi-node pattern of vLLM's docs (docs.vllm.ai deployment/frameworks/lws):
the leader runs node 0's command, each worker node 1's, with `${LWS_LEADER_ADDRESS}` (set by
LWS in every pod of the group) as the head address. Both come with a `Service` on the serving
pod, a `PersistentVolumeClaim` for the model cache, `/dev/shm` as a memory-backed `emptyDir`
(NCCL and vLLM's workers share tensors through it; vLLM's docs ask for `--ipc=host` or a large
`--shm-size` in Docker), `nvidia.com/gpu` requests and startup/readiness/liveness probes on
`/health`.
"""

from __future__ import annotations

from typing import Any

from planner.deployment import Deployment
from planner.emit.command import EmittedCommand, NodeCommand, shell_join
from planner.emit.container import (
    HEALTH_PATH, HF_CACHE_PATH, STARTUP_BUDGET_S, dump_documents, engine_image, manifest_header, server_name,
)  # fmt: skip

__all__ = ["HEAD_ADDRESS", "SHM_SIZE", "manifest_filename", "render_k8s", "render_pd_k8s", "server_url"]

HEAD_ADDRESS = "${LWS_LEADER_ADDRESS}"
"""The leader pod's address, an environment variable LWS sets in every pod of a group."""
SHM_SIZE = "32Gi"
_PROBE_PERIOD_S = 30
_WAIT_POLL_S = 5


def manifest_filename(deployment: Deployment, engine: str = "vllm", prefix: str = "") -> str:
    """`vllm-8xh200.yaml`, `vllm-16xh100.yaml`, `sglang-pd-...yaml`."""
    return f"{engine}-{prefix}{deployment.gpus}x{deployment.gpu}.yaml"


def server_url(family: str, port: int) -> str:
    """The OpenAI base URL other pods reach the server at (the policy's `VLLM_BASE_URL`)."""
    return f"http://{server_name(family)}:{port}/v1"


def render_k8s(command: EmittedCommand, deployment: Deployment, family: str, *, cache_gib: int, port: int) -> str:
    """The manifests as YAML text, headed by the plan they implement."""
    documents = _server_documents(command, deployment, server_name(family, command.engine), cache_gib, port, 1)
    return manifest_header("k8s", command, deployment, family) + dump_documents(documents)


def render_pd_k8s(prefill: EmittedCommand, prefill_dep: Deployment, prefill_instances: int,
                  decode: EmittedCommand, decode_dep: Deployment, decode_instances: int, family: str,
                  *, cache_gib: int, port: int) -> str:
    """Both pools of a prefill/decode-disaggregated deployment, each `instances` replicas of its server,
    and for SGLang the PD router (`sglang_router.launch_router --pd-disaggregation`) in front with its
    Service; for vLLM, which ships no router, the pools' Services for the proxy you run."""
    base = server_name(family, prefill.engine)
    documents = _server_documents(prefill, prefill_dep, f"{base}-prefill", cache_gib, port, prefill_instances)
    documents += _server_documents(decode, decode_dep, f"{base}-decode", cache_gib, port, decode_instances)
    if prefill.engine == "sglang":
        from planner.emit.sglang import router_argv

        labels = {"app.kubernetes.io/name": base, "app.kubernetes.io/part-of": "switchyard", "role": "router"}
        argv = router_argv([f"http://{base}-prefill:{port}"], [f"http://{base}-decode:{port}"], "0.0.0.0", port)
        router = {"name": "router", "image": engine_image("sglang", prefill.engine_version), "command": argv,
                  "ports": [{"name": "http", "containerPort": port}],
                  "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 10}}
        documents.append(_object("apps/v1", "Deployment", base, labels, {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [router]}},
        }))  # fmt: skip
        documents.append(_service(base, labels, labels, port))
    p = prefill_dep
    pool_flags = ["--prefill-gpu", p.gpu, "--prefill-gpus", str(p.gpus), "--prefill-tp", str(p.tp), "--prefill-dp",
                  str(p.dp), "--prefill-ep", str(p.ep)] + (["--prefill-dp-attention"] if p.dp_attention else [])
    pool_flags += ["--prefill-instances", str(prefill_instances), "--decode-instances", str(decode_instances)]
    header = manifest_header("k8s", decode, decode_dep, family, pool_flags).replace(
        "# on ", f"# prefill/decode-disaggregated, {prefill_instances}P{decode_instances}D; decode pool on ", 1)
    header += (f"# prefill pool: {prefill_instances} x ({prefill_dep.gpus} x {prefill_dep.gpu}, {prefill_dep.layout}); "
               f"decode pool: {decode_instances} x ({decode_dep.gpus} x {decode_dep.gpu}, {decode_dep.layout})\n")
    return header + dump_documents(documents)


def _server_documents(command: EmittedCommand, deployment: Deployment, name: str, cache_gib: int, port: int,
                      replicas: int) -> list[dict[str, Any]]:
    """Cache claim, workload (Deployment or LeaderWorkerSet) and Service of one model server."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "switchyard"}
    gpus_per_node = deployment.gpus // deployment.nodes
    image = engine_image(command.engine, command.engine_version)
    head = _container(command.engine, image, _node_script(command.nodes[0], deployment), gpus_per_node, port=port)
    documents: list[dict[str, Any]] = [_cache_claim(name, labels, cache_gib, shared=deployment.nodes > 1 or replicas > 1)]
    if deployment.nodes == 1:
        documents.append(_deployment(name, labels, _pod_template(labels, head, name, port), replicas))
        selector = labels
    else:
        worker = _container(command.engine, image, _node_script(command.nodes[1], deployment), gpus_per_node, port=None)
        leader_labels = {**labels, "role": "leader"}
        documents.append(_leader_worker_set(
            name, labels, deployment.nodes,
            leader=_pod_template(leader_labels, head, name, port),
            worker=_pod_template({**labels, "role": "worker"}, worker, name, None), replicas=replicas,
        ))  # fmt: skip
        selector = leader_labels
    documents.append(_service(name, labels, selector, port))
    return documents


def _node_script(node: NodeCommand, deployment: Deployment) -> list[str]:
    """The container command: the argv itself on one node, else a shell script of the node's steps."""
    argvs = node.argvs
    if deployment.nodes == 1 and len(argvs) == 1:
        return argvs[0]
    lines = [shell_join(argv) for argv in argvs[:-1]]
    if argvs[0][0] == "ray" and node.role == "head":
        lines.append(_wait_for_ray_gpus(deployment.gpus))
    lines.append("exec " + _worker_rank_join(argvs[-1], node.role))
    if len(lines) > 1:
        lines.insert(0, "set -e")
    return ["/bin/sh", "-c", "\n".join(lines) + "\n"]


def _wait_for_ray_gpus(gpus: int) -> str:
    """Block until every node's GPUs have joined the Ray cluster, as vLLM's multi-node-serving.sh
    `leader --ray_cluster_size` does: `vllm serve` refuses a world size the cluster cannot place."""
    return (
        "python3 -c 'import ray, time\n"
        'ray.init(address="auto", logging_level="ERROR")\n'
        f'while ray.cluster_resources().get("GPU", 0) < {gpus}:\n'
        f"    time.sleep({_WAIT_POLL_S})'"
    )


def _worker_rank_join(argv: list[str], role: str = "worker") -> str:
    """Shell text of `argv`; a data-parallel start rank becomes LWS_WORKER_INDEX x ranks per node and an
    SGLang node rank LWS_WORKER_INDEX, so one worker template serves every worker node."""
    if role == "worker" and "--node-rank" in argv:
        at = argv.index("--node-rank")
        rest = argv[at + 2 :]
        text = shell_join(argv[:at]) + ' --node-rank "${LWS_WORKER_INDEX}"'
        return text + (" " + shell_join(rest) if rest else "")
    flag = "--data-parallel-start-rank"
    if flag not in argv:
        return shell_join(argv)
    at = argv.index(flag)
    ranks_per_node = argv[argv.index("--data-parallel-size-local") + 1]
    rest = argv[at + 2 :]
    text = shell_join(argv[:at]) + f' {flag} "$((LWS_WORKER_INDEX * {ranks_per_node}))"'
    return text + (" " + shell_join(rest) if rest else "")


def _container(name: str, image: str, command: list[str], gpus: int, *, port: int | None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "command": command,
        "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}}],
        "resources": {"requests": {"nvidia.com/gpu": gpus}, "limits": {"nvidia.com/gpu": gpus}},
        "volumeMounts": [
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "model-cache", "mountPath": HF_CACHE_PATH},
        ],
    }
    if port is not None:
        probe = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "periodSeconds": _PROBE_PERIOD_S}
        container["ports"] = [{"name": "http", "containerPort": port}]
        container["startupProbe"] = {**probe, "failureThreshold": STARTUP_BUDGET_S // _PROBE_PERIOD_S}
        container["readinessProbe"] = {**probe, "periodSeconds": 10, "failureThreshold": 3}
        container["livenessProbe"] = {**probe, "failureThreshold": 5}
    return container


def _pod_template(labels: dict[str, str], container: dict[str, Any], name: str, port: int | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": labels}
    if port is not None:
        metadata["annotations"] = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                                   "prometheus.io/path": "/metrics"}  # fmt: skip
    return {
        "metadata": metadata,
        "spec": {
            "containers": [container],
            "volumes": [
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}},
                {"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{name}-cache"}},
            ],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 60,
        },
    }


def _object(api_version: str, kind: str, name: str, labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "labels": labels}, "spec": spec}


def _cache_claim(name: str, labels: dict[str, str], cache_gib: int, *, shared: bool) -> dict[str, Any]:
    """Every node of a multi-node group reads the same checkpoint: ReadWriteMany there."""
    return _object("v1", "PersistentVolumeClaim", f"{name}-cache", labels, {
        "accessModes": ["ReadWriteMany" if shared else "ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{cache_gib}Gi"}},
    })  # fmt: skip


def _deployment(name: str, labels: dict[str, str], template: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return _object("apps/v1", "Deployment", name, labels, {
        "replicas": replicas,
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": labels},
        "template": template,
    })  # fmt: skip


def _leader_worker_set(name: str, labels: dict[str, str], nodes: int, *, leader: dict[str, Any],
                       worker: dict[str, Any], replicas: int = 1) -> dict[str, Any]:  # fmt: skip
    return _object("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", name, labels, {
        "replicas": replicas,
        "startupPolicy": "LeaderCreated",
        "leaderWorkerTemplate": {
            "size": nodes,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": leader,
            "workerTemplate": worker,
        },
    })  # fmt: skip


def _service(name: str, labels: dict[str, str], selector: dict[str, str], port: int) -> dict[str, Any]:
    return _object("v1", "Service", name, labels, {
        "selector": selector,
        "ports": [{"name": "http", "port": port, "targetPort": "http"}],
    })  # fmt: skip
