"""The generated reference pages match the code they are generated from."""

from __future__ import annotations

import pytest

from tests.docs import references


def test_no_reference_page_is_stale():
    stale = references.stale_pages()
    assert not stale, f"{stale}: run `python -m tests.docs.references` and commit the result"


@pytest.mark.parametrize("page, needle", [
    ("settings.md", "`SWITCHYARD_REDIS_URL` or `REDIS_URL`"),
    ("policy.md", "## CircuitBreakerSpec"),
    ("http-api.md", "| POST | `/v1/chat/completions` |"),
])
def test_each_page_is_built_from_its_source(page, needle):
    assert needle in (references.REFERENCE_DIR / page).read_text(encoding="utf-8")


def test_every_setting_and_policy_key_has_a_description():
    from gateway.commands.schema import policy_json_schema
    from gateway.settings import GatewaySettings

    bare = [f"settings.{n}" for n, f in GatewaySettings.model_fields.items() if not f.description]
    schema = policy_json_schema()
    for name, model in [("Policy", schema), *schema["$defs"].items()]:
        bare += [f"{name}.{key}" for key, prop in model.get("properties", {}).items() if not prop.get("description")]
    assert not bare, f"add description= to {bare} (the reference pages are generated from them)"
