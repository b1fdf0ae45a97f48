"""schemathesis against the gateway's own `/openapi.json`: for every operation, bodies and parameters
that fit the document and bodies that do not (both seeded, bounded), and never a server error.

Valid bodies get a model alias the policy serves, so they travel the whole path to an emulator
and back instead of stopping at "unknown model". (schemathesis's pytest loader does not run on
pytest 9, so the operations' strategies are driven with hypothesis directly.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.hardening.conftest import HardenedStack

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
MODELS = ("auto", "via-secondary")
OPERATIONS = (
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/route/explain"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}"),
    ("GET", "/v1/responses/{response_id}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/admin/status"),
    ("GET", "/admin/usage"),
    ("GET", "/admin/spend"),
    # the web console's admin endpoints
    ("GET", "/admin/console/session"),
    ("GET", "/admin/policy"),
    ("POST", "/admin/explain"),
    ("GET", "/admin/requests/{request_id}/explanation"),
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys"),
    ("DELETE", "/admin/keys/{name}"),
    ("GET", "/admin/planner/options"),
    ("POST", "/admin/planner/estimate"),
    ("POST", "/admin/planner/plan"),
)
SERVED_MODEL_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/route/explain"})
ADMIN_FORMS = frozenset({"/admin/explain", "/admin/keys", "/admin/planner/estimate", "/admin/planner/plan"})
"""POSTs whose generated bodies are mostly refused (a form's fields are checked against catalogs and
stores): they must never get a server error, but need not reach a 200."""


@pytest.fixture(scope="module")
def schema(hardened_stack: HardenedStack) -> Any:
    return schemathesis.openapi.from_url(f"{hardened_stack.gateway.url}/openapi.json")


def _with_served_model(pair: tuple[Any, str]) -> Any:
    case, model = pair
    if isinstance(case.body, dict):
        case.body["model"] = model
    return case


def _with_served_request(pair: tuple[Any, str]) -> Any:
    """`POST /admin/explain`: the pasted request is a chat body for a served model, the rest as generated."""
    case, model = pair
    if isinstance(case.body, dict):
        case.body["request"] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return case


def _strategy(operation: Any, mode: GenerationMode) -> st.SearchStrategy[Any]:
    cases = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and operation.path in SERVED_MODEL_PATHS:
        return st.tuples(cases, st.sampled_from(MODELS)).map(_with_served_model)
    if mode is GenerationMode.POSITIVE and operation.path == "/admin/explain":
        return st.tuples(cases, st.sampled_from(MODELS)).map(_with_served_request)
    return cases


def _run(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> tuple[Counter[int], list[str]]:
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=_strategy(operation, mode))
    def send(case: Any) -> None:
        response = case.call(headers=headers, timeout=15)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{response.status_code} {response.text[:300]} for body {case.body!r:.300}")

    try:
        send()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no body and no parameters
    return statuses, server_errors


def test_every_operation_of_the_document_is_exercised(schema):
    documented = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_never_get_a_server_error(schema, hardened_stack, method, path):
    operation = schema[path][method]
    headers = hardened_stack.admin_headers if path.startswith("/admin") else hardened_stack.client_headers
    valid, valid_errors = _run(operation, GenerationMode.POSITIVE, headers)
    invalid, invalid_errors = _run(operation, GenerationMode.NEGATIVE, headers)
    assert valid_errors + invalid_errors == []
    assert sum(valid.values()) >= 1
    if method == "POST":
        if path not in ADMIN_FORMS:
            assert valid[200] >= 1, valid  # generated bodies reached a backend and came back
        assert sum(n for status, n in invalid.items() if 400 <= status < 500) >= 1, invalid


def test_the_document_declares_the_limits_the_gateway_enforces(hardened_stack):
    document = httpx.get(f"{hardened_stack.gateway.url}/openapi.json").json()
    chat = document["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert chat["n"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 128}
    assert chat["messages"]["minItems"] == 1
