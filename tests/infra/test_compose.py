"""infra/compose.yaml (+ the generated compose.gpu.yaml): valid Compose files wiring gateway, Redis, Prometheus and Grafana."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from planner.emit.flag_lists import ENGINE_VERSIONS
from policies.loader import parse_policy_text

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE_FILES = ("compose.yaml", "compose.gpu.yaml")


def _compose_schema() -> dict[str, Any]:
    """compose-spec's schema/compose-spec.json as vendored by check-jsonschema (pinned in the dev extra)."""
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    return json.loads(text)


def _validate(compose: dict[str, Any]) -> None:
    schema = _compose_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(compose)  # the draft the schema names (2020-12)


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((INFRA / name).read_text())


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_validates_against_the_compose_specification(name: str) -> None:
    _validate(_load(name))


def test_schema_rejects_a_misspelt_service_key() -> None:
    compose = copy.deepcopy(_load("compose.yaml"))
    compose["services"]["gateway"]["enviroment"] = {}
    with pytest.raises(jsonschema.ValidationError):
        _validate(compose)


def test_default_stack_runs_without_gpus_and_the_gpu_profile_adds_vllm() -> None:
    compose = _load("compose.yaml")
    assert compose["include"] == ["compose.gpu.yaml"]
    services = compose["services"]
    assert {"gateway", "redis", "prometheus", "grafana", "vllm-emulator"} <= set(services)
    assert not [name for name, service in services.items() if "profiles" in service or "deploy" in service]
    gpu = _load("compose.gpu.yaml")["services"]
    assert list(gpu) == ["vllm"] and gpu["vllm"]["profiles"] == ["gpu"]
    assert gpu["vllm"]["image"] == f"vllm/vllm-openai:v{ENGINE_VERSIONS['vllm']}"


def test_gateway_serves_the_mounted_policy_on_redis_against_the_emulators_by_default() -> None:
    gateway = _load("compose.yaml")["services"]["gateway"]
    assert "../policies/default.yaml:/etc/switchyard/policy.yaml:ro" in gateway["volumes"]
    env = gateway["environment"]
    assert env["SWITCHYARD_CONFIG"] == "/etc/switchyard/policy.yaml"
    assert env["SWITCHYARD_REDIS_URL"] == "redis://redis:6379/0"
    assert env["VLLM_BASE_URL"] == "${VLLM_BASE_URL:-http://vllm-emulator:8000/v1}"
    assert (ROOT / "policies" / "default.yaml").exists()


def test_prometheus_scrapes_the_gateway_and_vllm_and_grafana_is_provisioned() -> None:
    prometheus = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert targets == {"switchyard-gateway": ["gateway:8080"], "vllm": ["vllm:8000", "vllm-emulator:8000"]}
    datasource = yaml.safe_load((INFRA / "grafana/provisioning/datasources/prometheus.yaml").read_text())["datasources"][0]
    dashboard = json.loads((INFRA / "grafana" / "switchyard.json").read_text())
    panel_sources = {p["datasource"]["uid"] for p in dashboard["panels"] if p["type"] != "row"}
    assert panel_sources == {datasource["uid"]}
    provider = yaml.safe_load((INFRA / "grafana/provisioning/dashboards/switchyard.yaml").read_text())["providers"][0]
    grafana = _load("compose.yaml")["services"]["grafana"]
    assert f"./grafana/switchyard.json:{provider['options']['path']}/switchyard.json:ro" in grafana["volumes"]


def _compose_defaults(environment: dict[str, str]) -> dict[str, str]:
    """The service's environment as Compose sets it with none of the variables exported: `${VAR:-default}` -> default."""
    return {name: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value) for name, value in environment.items()}


def test_default_policy_loads_with_the_gateways_environment_and_targets_compose_services() -> None:
    compose = _load("compose.yaml")
    env = _compose_defaults(compose["services"]["gateway"]["environment"])
    policy = parse_policy_text((ROOT / "policies" / "default.yaml").read_text(), "default.yaml", env=env)
    hosts = {name: urlsplit(spec.base_url).hostname for name, spec in policy.backends.items()}
    assert hosts == {"local-v32": "vllm-emulator", "novita-v32": "novita-emulator",
                     "fireworks-terminus": "fireworks-emulator", "deepseek-api": "deepseek-emulator"}  # fmt: skip
    assert set(hosts.values()) <= set(compose["services"])
    gpu_port = _load("compose.gpu.yaml")["services"]["vllm"]["ports"][0].split(":")[1]
    assert f"http://vllm:{gpu_port}/v1" in (INFRA / "compose.yaml").read_text()  # the gpu profile's documented switch
