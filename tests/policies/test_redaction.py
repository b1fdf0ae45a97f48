"""A policy as the console shows it: every secret replaced, everything else kept."""

from __future__ import annotations

import pytest

from policies.loader import parse_policy_text
from policies.redaction import REDACTED, redacted_policy, redacted_url

DIGEST = "ab" * 32


@pytest.mark.parametrize(("url", "shown"), [
    ("https://api.novita.ai/openai/v1", "https://api.novita.ai/openai/v1"),
    ("http://user:pw@gpu-node:8000/v1", "http://[redacted]@gpu-node:8000/v1"),
    ("https://host/v1?api-key=s3cret#frag", "https://host/v1?[redacted]"),
    ("http://token@[::1]:9/v1", "http://[redacted]@[::1]:9/v1"),
    ("not a url", "not a url"),
])
def test_urls_lose_their_credentials_and_query(url, shown):
    assert redacted_url(url) == shown


def test_api_keys_digests_and_url_secrets_are_redacted_and_the_rest_is_kept(monkeypatch):
    monkeypatch.setenv("REDACTION_KEY", "sk-redaction-secret")
    policy = parse_policy_text(f"""
version: 1
backends:
  managed:
    type: novita
    base_url: "https://me:pw@api.example/v1?key=1"
    api_key: ${{REDACTION_KEY}}
    model: deepseek/deepseek-v3.2
models: {{auto: {{}}}}
routes: [{{name: default, use: [managed]}}]
keys: [{{name: team, sha256: "{DIGEST}", tags: [gold]}}]
""", "redaction.yaml")
    shown = redacted_policy(policy)
    backend = shown["backends"]["managed"]
    assert (backend["api_key"], backend["base_url"]) == (REDACTED, "https://[redacted]@api.example/v1?[redacted]")
    assert shown["keys"] == [{"name": "team", "sha256": REDACTED, "tags": ["gold"]}]
    assert backend["model"] == "deepseek/deepseek-v3.2" and shown["routes"][0]["use"] == ["managed"]
    text = repr(shown)
    assert "sk-redaction-secret" not in text and DIGEST not in text and "me:pw" not in text
