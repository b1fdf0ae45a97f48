"""infra/k8s: every manifest validates against Kubernetes 1.32's schemas (strict) or the LWS CRD, and says what the plan says."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from planner.emit.k8s import server_url
from policies.loader import parse_policy_text

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "infra" / "k8s"
KUBERNETES_VERSION = "1.32"
LWS_SCHEMA = Path(__file__).parent / "data" / "leaderworkerset-v1-schema.yaml"
MANIFESTS = sorted(path for path in K8S_DIR.glob("*.yaml") if path.name != "kustomization.yaml")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _all_documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in MANIFESTS for doc in _documents(path)]


def _find(kind: str, name: str) -> dict[str, Any]:
    return next(doc for _, doc in _all_documents() if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _strict(schema: Any) -> Any:
    """The CRD schema as the API server's strict field validation reads it: unknown fields are errors."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


def _validate_pod_template(template: dict[str, Any]) -> None:
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template},
                                 KUBERNETES_VERSION, strict=True)  # fmt: skip


def _validate_leader_worker_set(document: dict[str, Any]) -> None:
    schema = _strict(yaml.safe_load(LWS_SCHEMA.read_text()))
    jsonschema.Draft7Validator(schema).validate(document)
    template = document["spec"]["leaderWorkerTemplate"]
    for key in ("leaderTemplate", "workerTemplate"):
        if key in template:
            _validate_pod_template(template[key])


def test_the_expected_manifests_are_checked_in() -> None:
    names = {path.name for path in MANIFESTS}
    assert {"gateway.yaml", "gateway-policy.yaml", "redis.yaml", "vllm-8xh200.yaml", "vllm-16xh100.yaml"} <= names


@pytest.mark.parametrize(("filename", "document"), _all_documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_validates_against_its_schema(filename: str, document: dict[str, Any]) -> None:
    if document["apiVersion"] == "leaderworkerset.x-k8s.io/v1":
        _validate_leader_worker_set(document)
    else:
        assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_validation_catches_a_misspelt_field_and_a_wrong_type() -> None:
    deployment = copy.deepcopy(_find("Deployment", "switchyard-gateway"))
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    lws = copy.deepcopy(_find("LeaderWorkerSet", "vllm-deepseek-v3-2"))
    lws["spec"]["leaderWorkerTemplate"]["size"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        _validate_leader_worker_set(lws)
    lws = copy.deepcopy(_find("LeaderWorkerSet", "vllm-deepseek-v3-2"))
    lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_leader_worker_set(lws)


def test_kustomization_lists_the_gateway_policy_and_redis() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["gateway-policy.yaml", "gateway.yaml", "redis.yaml"]


def test_gateway_runs_two_replicas_with_readiness_liveness_pdb_and_hpa() -> None:
    deployment = _find("Deployment", "switchyard-gateway")
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert _find("PodDisruptionBudget", "switchyard-gateway")["spec"]["selector"]["matchLabels"] == labels
    assert _find("Service", "switchyard-gateway")["spec"]["selector"] == labels
    hpa = _find("HorizontalPodAutoscaler", "switchyard-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "switchyard-gateway"}
    assert hpa["spec"]["minReplicas"] >= 2


def test_provider_and_admin_keys_are_secret_references_never_values() -> None:
    container = _find("Deployment", "switchyard-gateway")["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    for name in ("NOVITA_API_KEY", "FIREWORKS_API_KEY", "DEEPSEEK_API_KEY", "SWITCHYARD_ADMIN_KEY"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == name
    assert not [doc for _, doc in _all_documents() if doc["kind"] == "Secret"]


def test_gateway_reaches_redis_and_the_planned_vllm_service() -> None:
    env = {item["name"]: item.get("value") for item in
           _find("Deployment", "switchyard-gateway")["spec"]["template"]["spec"]["containers"][0]["env"]}  # fmt: skip
    assert env["VLLM_BASE_URL"] == server_url("deepseek-v3.2", 8000) == "http://vllm-deepseek-v3-2:8000/v1"
    redis_service = _find("Service", "switchyard-redis")
    assert env["SWITCHYARD_REDIS_URL"] == f"redis://switchyard-redis:{redis_service['spec']['ports'][0]['port']}/0"
    for filename in ("vllm-8xh200.yaml", "vllm-16xh100.yaml"):
        services = [doc for doc in _documents(K8S_DIR / filename) if doc["kind"] == "Service"]
        assert [s["metadata"]["name"] for s in services] == ["vllm-deepseek-v3-2"]


def test_policy_config_map_is_the_default_policy_and_loads(monkeypatch) -> None:
    policy_text = _find("ConfigMap", "switchyard-policy")["data"]["policy.yaml"]
    assert policy_text == (ROOT / "policies" / "default.yaml").read_text(), (
        "infra/k8s/gateway-policy.yaml differs from policies/default.yaml; copy the policy into it"
    )
    for name in ("NOVITA_API_KEY", "FIREWORKS_API_KEY", "DEEPSEEK_API_KEY"):
        monkeypatch.setenv(name, "sk-test")
    policy = parse_policy_text(policy_text, "gateway-policy.yaml")
    assert "local-v32" in policy.backends
