"""The web console's server side over a real gateway: `/ui` files and their security headers, and
the admin endpoints it calls (session, policy, explain, stored explanations, keys, planner), with
their cross-site request forgery checks. The browser itself is driven in tests/ui."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from gateway.api.console import STATIC_DIR
from gateway.auth.authenticator import Authenticator
from gateway.auth.errors import AdminForbiddenError
from gateway.auth.keys import KeyRing
from planner.estimate import EstimateRequest, run_estimate

ADMIN_KEY = "sk-FAKE-CONSOLE-ADMIN-0042"
PROVIDER_KEY = "sk-FAKE-CONSOLE-PROVIDER-77"
POLICY_KEY = "sk-FAKE-CONSOLE-POLICY-KEY-9"
POLICY_KEY_SHA256 = hashlib.sha256(POLICY_KEY.encode()).hexdigest()
HELLO = [{"role": "user", "content": "Hello there"}]


def _policy(local_url: str) -> str:
    return f"""
version: 1
backends:
  local:
    type: vllm
    base_url: {local_url}/v1
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    cost: {{gpu_hourly_usd: 3.6, gpus: 8}}
  managed:
    type: novita
    base_url: "http://user:pw@127.0.0.1:9/v1?token=abc"
    api_key: ${{CONSOLE_PROVIDER_KEY}}
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
models:
  auto: {{}}
routes:
  - name: default
    use: [local, managed]
    prefer: cost
keys:
  - {{name: from-policy, sha256: "{POLICY_KEY_SHA256}", tags: [gold]}}
"""


@pytest.fixture(scope="module")
def gateway(servers):
    local = servers.emulator("vllm", name="console-local")
    return servers.gateway(_policy(local.url), env={"SWITCHYARD_ADMIN_KEY": ADMIN_KEY, "CONSOLE_PROVIDER_KEY": PROVIDER_KEY,
                                                    "SWITCHYARD_KEYS_REFRESH_S": "3600"})


ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def csrf(gateway) -> str:
    session = httpx.get(f"{gateway.url}/admin/console/session", headers=ADMIN, timeout=10)
    assert session.status_code == 200
    return session.json()["csrf_token"]


def _browser(gateway, csrf: str | None, **overrides: str) -> dict[str, str]:
    """Headers a same-origin fetch from the console sends, changed by `overrides`."""
    headers = {**ADMIN, "origin": gateway.url, "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors"}
    if csrf is not None:
        headers["x-switchyard-csrf"] = csrf
    headers.update(overrides)
    return {name: value for name, value in headers.items() if value}


# -- /ui files -----------------------------------------------------------------------------------

def test_the_console_page_is_served_with_a_strict_content_security_policy(gateway):
    redirect = httpx.get(f"{gateway.url}/ui", timeout=10)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/ui/"
    page = httpx.get(f"{gateway.url}/ui/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="app.js"></script>' in page.text
    csp = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    missing = httpx.get(f"{gateway.url}/ui/nope.js", timeout=10)
    assert missing.status_code == 404 and missing.headers["content-security-policy"] == page.headers["content-security-policy"]
    again = httpx.get(f"{gateway.url}/ui/app.js", headers={"if-none-match": page.headers.get("etag", "")}, timeout=10)
    assert again.headers["content-type"] == "text/javascript; charset=utf-8"
    assert httpx.get(f"{gateway.url}/ui/app.js", headers={"if-none-match": again.headers["etag"]}, timeout=10).status_code == 304


def test_every_module_the_console_imports_is_served(gateway):
    sources = {path.relative_to(STATIC_DIR).as_posix(): path.read_text() for path in STATIC_DIR.rglob("*.js")}
    assert {"app.js", "api.js", "pages/backends.js", "pages/requests.js", "pages/spend.js", "pages/policy.js",
            "pages/keys.js", "pages/planner.js"} <= set(sources)
    for name, text in sources.items():
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', text):
            resolved = (STATIC_DIR / name).parent.joinpath(target).resolve().relative_to(STATIC_DIR).as_posix()
            response = httpx.get(f"{gateway.url}/ui/{resolved}", timeout=10)
            assert response.status_code == 200, f"{name} imports {target}"


def test_the_console_has_no_inline_code_and_builds_no_html_from_strings():
    html = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # every script is a file
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html)  # no inline style or handler
    for path in STATIC_DIR.rglob("*.js"):
        text = path.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", '"style"',
                       "localStorage", "document.cookie"):
            assert banned not in text, f"{path.name} uses {banned}"


# -- session, policy, explanations ----------------------------------------------------------------

def test_the_console_session_needs_the_admin_key(gateway):
    for headers in ({}, {"authorization": "Bearer wrong"}):
        response = httpx.get(f"{gateway.url}/admin/console/session", headers=headers, timeout=10)
        assert response.status_code == 403 and response.json()["error"]["code"] == "admin_key_required"
    session = httpx.get(f"{gateway.url}/admin/console/session", headers=ADMIN, timeout=10)
    assert session.headers["cache-control"] == "no-store"
    body = session.json()
    assert body["demo"] is False and re.fullmatch(r"[0-9a-f]{64}", body["csrf_token"])
    assert ADMIN_KEY not in session.text and hashlib.sha256(ADMIN_KEY.encode()).hexdigest() not in session.text


def test_without_an_admin_key_state_changing_calls_are_refused_even_in_open_access():
    auth = Authenticator(KeyRing(), admin_key=None, host="127.0.0.1")
    assert auth.open_access
    auth.check_admin(None)  # reads stay open on loopback, as before
    with pytest.raises(AdminForbiddenError, match="needs an admin key"):
        auth.check_admin(None, key_required=True)
    assert auth.console_token() is None and not auth.check_console_token("anything")


def test_the_policy_is_shown_with_every_secret_redacted(gateway):
    response = httpx.get(f"{gateway.url}/admin/policy", headers=ADMIN, timeout=10)
    assert response.status_code == 200
    view = response.json()
    managed = view["policy"]["backends"]["managed"]
    assert managed["api_key"] == "[redacted]"
    assert managed["base_url"] == "http://[redacted]@127.0.0.1:9/v1?[redacted]"
    assert view["policy"]["keys"] == [{"name": "from-policy", "sha256": "[redacted]", "tags": ["gold"]}]
    assert "api_key: '[redacted]'" in view["yaml"]
    assert view["status"]["watching"] is True and view["status"]["last_reload_error"] is None
    for secret in (PROVIDER_KEY, POLICY_KEY, POLICY_KEY_SHA256, "user:pw", "token=abc"):
        assert secret not in response.text


def test_status_shows_each_backends_price(gateway):
    backends = httpx.get(f"{gateway.url}/admin/status", headers=ADMIN, timeout=10).json()["backends"]
    assert backends["local"]["price"] == {"input_usd_per_mtok": 0.0, "cached_input_usd_per_mtok": 0.0, "output_usd_per_mtok": 0.0,
                                          "source": "self-hosted marginal cost"}
    assert backends["managed"]["price"]["input_usd_per_mtok"] > 0 and "litellm" in backends["managed"]["price"]["source"]


def test_a_recorded_request_is_explained_by_the_decision_it_got(gateway, csrf):
    answer = httpx.post(f"{gateway.v1}/chat/completions", json={"model": "auto", "messages": HELLO, "max_tokens": 3},
                        headers={"authorization": f"Bearer {POLICY_KEY}"}, timeout=20)
    assert answer.status_code == 200
    request_id = answer.headers["x-switchyard-request-id"]
    kept = httpx.get(f"{gateway.url}/admin/requests/{request_id}/explanation", headers=ADMIN, timeout=10)
    assert kept.status_code == 200
    decision = kept.json()["decision"]
    assert decision["route"] == "default" and decision["chain"] == ["local", "managed"]
    assert [(c["backend"], c["kept"]) for c in decision["candidates"]] == [("local", True), ("managed", True)]
    now = httpx.post(f"{gateway.url}/admin/explain", json={"request": {"model": "auto", "messages": HELLO, "max_tokens": 3},
                                                           "key": "from-policy"}, headers=_browser(gateway, csrf), timeout=10)
    assert now.status_code == 200 and now.json() == decision  # same live state: the same decision
    unknown = httpx.get(f"{gateway.url}/admin/requests/req_nope/explanation", headers=ADMIN, timeout=10)
    assert unknown.status_code == 404 and "keeps the newest" in unknown.json()["error"]["message"]


@pytest.mark.parametrize(("form", "status", "text"), [
    ({"request": {"model": "auto"}}, 400, "'messages' is required"),
    ({"request": {"model": "nope", "messages": HELLO}}, 404, "nope"),
    ({"request": {"model": "auto", "messages": HELLO}, "key": "nobody"}, 404, "no client key named 'nobody'"),
], ids=["no-messages", "unknown-model", "unknown-key"])
def test_the_explain_form_answers_mistakes_in_the_openai_error_shape(gateway, csrf, form, status, text):
    response = httpx.post(f"{gateway.url}/admin/explain", json=form, headers=_browser(gateway, csrf), timeout=10)
    assert response.status_code == status and text in response.json()["error"]["message"]


# -- cross-site request forgery --------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "reason"), [
    ({"origin": "http://evil.example"}, "Origin is not this gateway"),
    ({"origin": "null"}, "Origin is not this gateway"),
    ({"sec-fetch-site": "cross-site"}, "Sec-Fetch-Site: cross-site"),
    ({"sec-fetch-site": "same-site"}, "Sec-Fetch-Site: same-site"),
    ({"x-switchyard-csrf": "0" * 64}, "x-switchyard-csrf"),
    ({"x-switchyard-csrf": ""}, "x-switchyard-csrf"),
], ids=["foreign-origin", "null-origin", "cross-site", "same-site", "wrong-token", "no-token"])
def test_a_browser_request_that_is_not_same_origin_with_the_token_is_refused(gateway, csrf, overrides, reason):
    for method, path in (("POST", "/admin/keys"), ("DELETE", "/admin/keys/whatever"), ("POST", "/admin/explain")):
        response = httpx.request(method, f"{gateway.url}{path}", json={"name": "forged"}, headers=_browser(gateway, csrf, **overrides),
                                 timeout=10)
        assert response.status_code == 403, (method, path)
        error = response.json()["error"]
        assert error["code"] == "cross_site_request" and reason in error["message"]
    assert "forged" not in httpx.get(f"{gateway.url}/admin/keys", headers=ADMIN, timeout=10).text


def test_state_changing_calls_need_the_admin_key_itself(gateway, csrf):
    for authorization in ("", "Bearer wrong"):
        response = httpx.post(f"{gateway.url}/admin/keys", json={"name": "nokey"},
                              headers=_browser(gateway, csrf, authorization=authorization), timeout=10)
        assert response.status_code == 403 and response.json()["error"]["code"] == "admin_key_required"


# -- keys --------------------------------------------------------------------------------------------

def test_a_key_created_from_the_console_works_at_once_and_stops_working_when_revoked(gateway, csrf):
    created = httpx.post(f"{gateway.url}/admin/keys", json={"name": "console-made", "tags": ["a", " b ", ""], "daily_usd": 5, "rpm": 60},
                         headers=_browser(gateway, csrf), timeout=10)
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    plaintext = created.json()["key"]
    assert plaintext.startswith("sk-sy-") and created.json()["stored_in"].endswith(".json")
    client = {"authorization": f"Bearer {plaintext}"}
    assert httpx.get(f"{gateway.v1}/models", headers=client, timeout=10).status_code == 200  # no refresh wait
    listing = httpx.get(f"{gateway.url}/admin/keys", headers=ADMIN, timeout=10)
    mine = next(k for k in listing.json()["data"] if k["name"] == "console-made")
    assert mine == {"name": "console-made", "source": mine["source"], "revocable": True, "tags": ["a", "b"], "daily_usd": 5.0,
                    "monthly_usd": None, "total_usd": None, "rpm": 60, "tpm": None, "remaining_usd": None}
    assert plaintext not in listing.text and hashlib.sha256(plaintext.encode()).hexdigest() not in listing.text
    assert POLICY_KEY_SHA256 not in listing.text
    again = httpx.post(f"{gateway.url}/admin/keys", json={"name": "console-made"}, headers=ADMIN, timeout=10)  # curl: no Origin
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_exists"
    revoked = httpx.delete(f"{gateway.url}/admin/keys/console-made", headers=_browser(gateway, csrf), timeout=10)
    assert revoked.status_code == 200 and revoked.json() == {"name": "console-made", "revoked": True}
    assert httpx.get(f"{gateway.v1}/models", headers=client, timeout=10).status_code == 401
    assert httpx.delete(f"{gateway.url}/admin/keys/console-made", headers=ADMIN, timeout=10).status_code == 404


@pytest.mark.parametrize(("method", "path", "body", "status", "text"), [
    ("DELETE", "/admin/keys/from-policy", None, 400, "written in the policy file"),
    ("POST", "/admin/keys", {"name": "bad name!"}, 400, "name: String should match pattern"),
    ("POST", "/admin/keys", {"name": "neg", "daily_usd": -1}, 400, "daily_usd"),
    ("POST", "/admin/keys", {"name": "x", "sha256": "f" * 64}, 400, "sha256"),
], ids=["policy-key", "bad-name", "negative-budget", "no-digest-from-outside"])
def test_key_mistakes_get_a_readable_4xx(gateway, method, path, body, status, text):
    response = httpx.request(method, f"{gateway.url}{path}", json=body, headers=ADMIN, timeout=10)
    assert response.status_code == status and text in response.json()["error"]["message"]


# -- planner ------------------------------------------------------------------------------------------

def test_the_planner_estimate_is_planner_estimates_report_with_its_cost_curve(gateway, csrf):
    form = {"gpu": "h200", "input_len": 1024, "output_len": 256, "concurrency": 32}
    response = httpx.post(f"{gateway.url}/admin/planner/estimate", json=form, headers=_browser(gateway, csrf), timeout=60)
    assert response.status_code == 200
    answer = response.json()
    assert answer["report"] == run_estimate(EstimateRequest(**form)).model_dump(mode="json")
    curve = answer["cost_curve"]
    assert curve["self_hosted"]["monthly_usd"][0] == pytest.approx(answer["report"]["cost"]["monthly_usd"])
    assert {line["label"] for line in curve["managed"]} == {m["provider"] for m in answer["report"]["cost"]["managed"]}
    assert set(curve["break_even_tokens_per_day"]) == {line["label"] for line in curve["managed"]}


def test_the_planner_plan_answers_with_the_best_deployments_and_their_curve(gateway, csrf):
    form = {"rps": 2, "input_len": 1024, "output_len": 256, "gpus": ["h200"], "engines": ["vllm"], "weights": ["fp8"], "top": 3}
    response = httpx.post(f"{gateway.url}/admin/planner/plan", json=form, headers=_browser(gateway, csrf), timeout=120)
    assert response.status_code == 200
    answer = response.json()
    best = answer["result"]["best"]
    assert 1 <= len(best) <= 3 and {c["deployment"]["gpu"] for c in best} == {"h200"}
    assert answer["cost_curve"]["self_hosted"]["monthly_usd"][0] == pytest.approx(best[0]["monthly_usd"] / best[0]["replicas"])


@pytest.mark.parametrize(("path", "form", "text"), [
    ("/admin/planner/estimate", {"prices_path": "/etc/passwd"}, "server-side files cannot be named"),
    ("/admin/planner/estimate", {"gpu": "h9000"}, "h9000"),
    ("/admin/planner/estimate", {"input_len": -5}, "--input-len must be between"),
    ("/admin/planner/plan", {"input_len": 100}, "give rps or tokens_per_day"),
    ("/admin/planner/plan", {"rps": 1, "gpus": ["h9000"]}, "h9000"),
], ids=["server-file", "unknown-gpu", "negative-length", "no-load", "plan-unknown-gpu"])
def test_planner_mistakes_get_a_400_with_the_planners_message(gateway, path, form, text):
    response = httpx.post(f"{gateway.url}{path}", json=form, headers=ADMIN, timeout=60)
    assert response.status_code == 400 and text in response.json()["error"]["message"]
