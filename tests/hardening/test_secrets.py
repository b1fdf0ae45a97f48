"""Provider, client and admin keys never leave the gateway: requests down every code path with
recognisable fake keys, then every response (body and headers), the gateway's debug log and the
CLI's output are searched for them. Upstream, each backend sees its own key and never the client's."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.hardening.conftest import CLIENT_KEY, HELLO, PROVIDER_KEY, SECRETS, HardenedStack

pytestmark = pytest.mark.slow

WRONG_KEY = "sk-FAKE-WRONG-KEY-31337"  # a client key the gateway does not know; not to be echoed either
ALL_SECRETS = (*SECRETS, WRONG_KEY)
FAULT_MODES = ("500", "429", "timeout", "reset", "midstream", "slow", "malformed", "error-body")


def _fingerprint(authorization: str) -> str:
    return hashlib.sha256(authorization.encode()).hexdigest()[:16]


class Transcript:
    """Everything the gateway said back, as text."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, response: httpx.Response) -> httpx.Response:
        self.parts.append(f"{response.status_code} {dict(response.headers)}\n{response.text}")
        return response

    def leaks(self) -> list[str]:
        text = "\n".join(self.parts)
        return [secret for secret in ALL_SECRETS if secret in text]


def _chat(stack: HardenedStack, transcript: Transcript, *, model: str = "auto", stream: bool = False,
          authorization: str | None = None, **extra: object) -> httpx.Response:
    headers = {"authorization": authorization or f"Bearer {CLIENT_KEY}"}
    body = {"model": model, "messages": HELLO, "max_tokens": 4, "stream": stream, **extra}
    return transcript.add(httpx.post(f"{stack.gateway.v1}/chat/completions", json=body, headers=headers, timeout=15))


def _cli(*args: str, env_key: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "HARDENING_PROVIDER_KEY": PROVIDER_KEY} if env_key else None
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _drive_every_path(stack: HardenedStack, transcript: Transcript) -> None:
    for stream in (False, True):
        assert _chat(stack, transcript, stream=stream).status_code == 200
        assert _chat(stack, transcript, model="via-secondary", stream=stream).status_code == 200
    transcript.add(httpx.post(f"{stack.gateway.v1}/completions", json={"model": "auto", "prompt": "hi", "max_tokens": 2},
                              headers=stack.client_headers))
    stack.set_faults("primary", fail_rate=1.0, fail_mode="500")  # fallback to the managed backend
    assert _chat(stack, transcript).headers["x-switchyard-backend"] == "secondary"
    stack.set_faults("primary", fail_rate=0.0)
    for mode in FAULT_MODES:
        stack.set_faults("secondary", fail_rate=1.0, fail_mode=mode, slow_ms=5)
        for stream in (True,) if mode == "timeout" else (False, True):  # plain, a timeout waits for total_s
            _chat(stack, transcript, model="via-secondary", stream=stream)
    stack.set_faults("secondary", fail_rate=0.0)
    # bad input and bad keys
    transcript.add(httpx.post(f"{stack.gateway.v1}/chat/completions", content=b"{nope", headers=stack.client_headers))
    transcript.add(httpx.post(f"{stack.gateway.v1}/chat/completions", json={"model": "nope", "messages": HELLO}, headers=stack.client_headers))
    for wrong in (f"Bearer {WRONG_KEY}", WRONG_KEY, f"Basic {WRONG_KEY}"):
        assert _chat(stack, transcript, authorization=wrong).status_code == 401
    # explain, admin, metrics, models
    transcript.add(httpx.post(f"{stack.gateway.v1}/route/explain", json={"model": "auto", "messages": HELLO}, headers=stack.client_headers))
    transcript.add(httpx.post(f"{stack.gateway.url}/admin/explain", json={"request": {"model": "auto", "messages": HELLO},
                                                                          "key": "hardening-client"}, headers=stack.admin_headers))
    request_id = _chat(stack, transcript).headers["x-switchyard-request-id"]
    for path in ("/admin/status", "/admin/usage", "/admin/spend", "/admin/policy", "/admin/keys", "/admin/console/session",
                 f"/admin/requests/{request_id}/explanation"):
        assert transcript.add(httpx.get(f"{stack.gateway.url}{path}", headers=stack.admin_headers)).status_code == 200
        assert transcript.add(httpx.get(f"{stack.gateway.url}{path}", headers={"authorization": f"Bearer {WRONG_KEY}"})).status_code in (401, 403)
    for path in ("/metrics", "/v1/models", "/readyz", "/healthz", "/openapi.json", "/ui/", "/ui/app.js", "/ui/api.js"):
        transcript.add(httpx.get(f"{stack.gateway.url}{path}", headers=stack.client_headers))


def test_no_key_appears_in_any_response_or_log(stack):
    transcript = Transcript()
    _drive_every_path(stack, transcript)
    assert len(transcript.parts) >= 51
    assert transcript.leaks() == []
    client_digest = hashlib.sha256(CLIENT_KEY.encode()).hexdigest()  # the policy's key digest is not for showing either
    assert client_digest not in "\n".join(transcript.parts)
    log = stack.gateway.log()
    assert "DEBUG" in log  # the log searched is the most talkative one
    assert [secret for secret in ALL_SECRETS if secret in log] == []


def test_a_provider_that_echoes_its_key_in_an_error_does_not_leak_it(stack):
    transcript = Transcript()
    stack.set_faults("secondary", fail_rate=1.0, fail_mode="401")
    for stream in (False, True):
        response = _chat(stack, transcript, model="via-secondary", stream=stream)
        assert response.status_code == 502  # the gateway's credential failed, not the client's
    assert transcript.leaks() == []
    assert PROVIDER_KEY not in stack.gateway.log()


def test_each_backend_gets_its_own_credential_and_never_the_clients(stack):
    transcript = Transcript()
    for model in ("auto", "via-secondary"):
        for stream in (False, True):
            _chat(stack, transcript, model=model, stream=stream)
    primary, secondary = stack.upstream_requests("primary"), stack.upstream_requests("secondary")
    assert len(primary) == 2 and len(secondary) == 2
    assert all(r["credential_sha256"] == {} for r in primary)  # self-hosted: no key at all
    assert all(r["credential_sha256"] == {"authorization": _fingerprint(f"Bearer {PROVIDER_KEY}")} for r in secondary)
    client_prints = {_fingerprint(f"Bearer {CLIENT_KEY}"), _fingerprint(CLIENT_KEY)}
    for record in primary + secondary:
        assert not client_prints & set(record["credential_sha256"].values())
        assert CLIENT_KEY not in str(record)


@pytest.fixture()
def bad_policy(tmp_path: Path) -> Path:
    """A policy that reads the provider key from the environment and has mistakes around it."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\n"
        "backends:\n"
        "  managed:\n"
        "    type: novita\n"
        "    base_url: http://127.0.0.1:9/v1\n"
        "    api_key: ${HARDENING_PROVIDER_KEY}\n"
        "    api_kye: ${HARDENING_PROVIDER_KEY}\n"  # a typo: an unknown field holding the key
        "    model: m\n"
        "    context_window: ${HARDENING_PROVIDER_KEY}\n"  # the key where a number belongs
        "models: {auto: {}}\n"
        "routes: [{name: default, use: [managed]}]\n"
    )
    return path


def test_cli_errors_about_a_bad_policy_do_not_echo_the_key(bad_policy):
    done = _cli("check", str(bad_policy))
    assert done.returncode == 1
    assert "api_kye" in done.stderr and "context_window" in done.stderr
    assert PROVIDER_KEY not in done.stdout + done.stderr
    served = _cli("serve", "--config", str(bad_policy), "--port", "9")
    assert served.returncode == 2 and PROVIDER_KEY not in served.stdout + served.stderr


def test_cli_explain_does_not_echo_the_key(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nbackends:\n  managed: {type: novita, base_url: 'http://127.0.0.1:9/v1', api_key: '${HARDENING_PROVIDER_KEY}', "
        "model: m, family: deepseek-v3.2}\nmodels: {auto: {}}\nroutes: [{name: default, use: [managed]}]\n"
    )
    request = tmp_path / "request.json"
    request.write_text('{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}')
    done = _cli("explain", "--config", str(policy), "--request", str(request), "--header", f"authorization: Bearer {CLIENT_KEY}")
    assert done.returncode == 0, done.stderr
    assert '"managed"' in done.stdout
    assert [s for s in ALL_SECRETS if s in done.stdout + done.stderr] == []
