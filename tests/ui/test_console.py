"""The web console in a real browser (headless Chromium) against `gateway serve --demo`: log in,
watch the three backends, stop `local-v32` from the page and see traffic fall back, open a
request's routing explanation, check the spend table against `gateway spend --json`, create and
revoke a key, explain a pasted request, run the planner. Each page's screenshot is saved under
the pytest temporary directory (`console-screenshots*`), never committed.

The tests run in file order on one logged-in page; waits are Playwright's auto-retrying
assertions (polling the DOM), never sleeps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
import openai
import pytest

from benchmarks.console_screenshot import ADMIN_KEY_LINE, VIEWPORT
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture says why, and fails under CI=true
    expect = None
FALLBACK_DEADLINE_S = 5.0  # the acceptance point: requests land on novita-v32 within 5 s of the click
WAIT_MS = 15_000  # a backstop for the page's own polling (every second)
CHAT = [{"role": "user", "content": "Hello from the browser test"}]

# JavaScript run in the page: form controls without a label, and the spend table as data.
UNLABELLED = """() => [...document.querySelectorAll('#page input, #page select, #page textarea')]
  .filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label')).map((c) => c.id || c.outerHTML)"""
SPEND_ROWS = """() => [...document.querySelectorAll('#spend-table tr[data-group]')].map((tr) =>
  Object.fromEntries([...tr.querySelectorAll('[data-field]')].map((c) => [c.dataset.field, c.textContent])))"""


@pytest.fixture(scope="module")
def demo(servers):
    return servers.demo_gateway(env={"SWITCHYARD_HEALTH_INTERVAL_S": "0.5"})  # a stopped backend is seen at once


@pytest.fixture(scope="module")
def admin_key(demo) -> str:
    found = ADMIN_KEY_LINE.search(demo.log())
    assert found, demo.log()
    return found.group(1)


@pytest.fixture(scope="module")
def ledger(demo, servers):
    return servers.directory / f"ledger-{demo.port}.sqlite3"


@pytest.fixture(scope="module")
def client(demo) -> openai.OpenAI:
    return openai.OpenAI(base_url=demo.v1, api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def problems() -> dict[str, list[Any]]:
    """What went wrong in the page: script errors and CSP violations, and every failed HTTP answer."""
    return {"errors": [], "failed": []}


def _console_error(problems: dict[str, list[Any]], message: Any) -> None:
    if message.type == "error" and not message.text.startswith("Failed to load resource"):  # those are in "failed"
        problems["errors"].append(message.text)


@pytest.fixture(scope="module")
def page(browser, problems):
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    opened.on("console", lambda message: _console_error(problems, message))
    opened.on("pageerror", lambda error: problems["errors"].append(f"page error: {error}"))
    opened.on("response", lambda response: problems["failed"].append(
        (response.request.method, response.url.split(":", 2)[2].split("/", 1)[1], response.status)) if response.status >= 400 else None)
    yield opened
    context.close()


def _visit(page, name: str) -> None:
    """Open a page from the menu (as a user does) and check that its controls are labelled."""
    page.click(f'nav a[data-page="{name}"]')
    expect(page.locator(f'nav a[data-page="{name}"]')).to_have_attribute("aria-current", "page")
    expect(page.locator("#page h1")).to_be_focused()  # focus moves to the new page's heading


def _shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def _chat(client: openai.OpenAI, **extra: Any) -> tuple[str, str]:
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=CHAT, max_tokens=4, **extra)
    raw.parse()
    return raw.headers["x-switchyard-request-id"], raw.headers["x-switchyard-backend"]


def test_logging_in_shows_the_three_demo_backends_healthy(page, demo, admin_key, client, screenshots):
    _chat(client)
    page.goto(f"{demo.url}/ui/")
    expect(page.locator("#admin-key")).to_be_focused()
    page.keyboard.type("not-the-key")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_contain_text("Not logged in")
    page.fill("#admin-key", admin_key)
    page.keyboard.press("Enter")  # the keyboard alone logs in
    rows = page.locator("#backends-table tbody tr")
    expect(rows).to_have_count(3)
    for name in ("local-v32", "novita-v32", "fireworks-terminus"):
        row = page.locator(f'#backends-table tr[data-backend="{name}"]')
        expect(row.locator('[data-field="health"]')).to_have_text("healthy")
        expect(row.locator('[data-field="circuit"]')).to_have_text("closed")
    expect(page.locator("#recent-table tbody tr").first).to_contain_text("local-v32")
    for role, label in (("banner", None), ("navigation", "Console pages"), ("main", None)):
        expect(page.get_by_role(role, name=label) if label else page.get_by_role(role)).to_be_visible()
    assert admin_key not in page.url and page.evaluate("document.cookie") == ""
    assert page.evaluate("sessionStorage.getItem('switchyard.adminKey')") == admin_key
    assert page.evaluate(UNLABELLED) == []
    _shot(page, screenshots, "backends")


def test_stopping_local_v32_from_the_page_sends_the_next_requests_to_novita(page, client, screenshots):
    local = page.locator('#backends-table tr[data-backend="local-v32"]')
    toggle = local.locator('[data-action="toggle"]')
    expect(toggle).to_have_text("Stop")
    clicked = time.monotonic()
    toggle.click()
    expect(toggle).to_have_text("Start", timeout=WAIT_MS)  # the emulator is down
    while True:  # each request is the poll: no sleep
        request_id, backend = _chat(client)
        if backend == "novita-v32" or time.monotonic() - clicked > FALLBACK_DEADLINE_S:
            break
    landed_s = time.monotonic() - clicked
    assert backend == "novita-v32" and landed_s <= FALLBACK_DEADLINE_S, f"{backend} after {landed_s:.1f} s"
    expect(page.locator(f'#recent-table tr[data-request-id="{request_id}"][data-backend="novita-v32"]')).to_be_visible(timeout=WAIT_MS)
    expect(local.locator('[data-field="health"]')).to_have_text("unhealthy", timeout=WAIT_MS)
    expect(page.locator(".summary")).to_contain_text("2 of 3 backends healthy")
    _shot(page, screenshots, "backends-local-stopped")
    toggle.click()
    expect(toggle).to_have_text("Stop", timeout=WAIT_MS)
    expect(local.locator('[data-field="health"]')).to_have_text("healthy", timeout=WAIT_MS)
    assert _chat(client)[1] == "local-v32"  # back in front once healthy


def test_a_request_opens_its_routing_explanation(page, demo, admin_key, client, screenshots):
    request_id, backend = _chat(client)
    _visit(page, "requests")
    button = page.get_by_role("button", name=f"Explain {request_id}:1")
    expect(button).to_be_visible(timeout=WAIT_MS)
    button.click()
    detail = page.locator("#request-detail")
    expect(detail).to_be_focused()
    expect(detail.locator("h2")).to_contain_text(request_id)
    expect(detail.locator('dd[data-field="backend"]').first).to_have_text(backend)
    kept = httpx.get(f"{demo.url}/admin/requests/{request_id}/explanation", headers={"authorization": f"Bearer {admin_key}"},
                     timeout=10).json()["decision"]
    candidates = detail.locator("table.candidates tbody tr")
    expect(candidates).to_have_count(len(kept["candidates"]))
    expect(detail.locator('.decision dd[data-field="chain"]')).to_have_text(" → ".join(kept["chain"]))
    expect(detail.locator('.decision dd[data-field="route"]')).to_have_text(kept["route"])
    for candidate in kept["candidates"]:
        expect(detail.locator(f'tr[data-backend="{candidate["backend"]}"] [data-field="reason"]')).to_have_text(candidate["reason"])
    assert page.evaluate(UNLABELLED) == []
    _shot(page, screenshots, "requests")


EXPLAIN_IDS = "rows => rows.map((row) => row.textContent)"


def test_the_requests_page_pages_newest_first_and_filters(page, demo, admin_key, client):
    for _ in range(3):
        _chat(client)
    admin = {"authorization": f"Bearer {admin_key}"}

    def usage(**params: Any) -> dict[str, Any]:
        return httpx.get(f"{demo.url}/admin/usage", params={"limit": 5, **params}, headers=admin, timeout=10).json()

    buttons = page.locator('#requests-table button[data-action="explain"]')
    page.select_option("#page-size", "5")
    page.click("#request-filters button[type=submit]")
    first = usage()
    expect(buttons).to_have_count(5)
    expect(buttons.first).to_have_text(first["data"][0]["id"])
    assert buttons.evaluate_all(EXPLAIN_IDS) == [r["id"] for r in first["data"]] and first["has_more"]
    expect(page.locator("#page-newer")).to_be_disabled()
    page.click("#page-older")
    second = usage(after=first["last_id"])
    expect(buttons.first).to_have_text(second["data"][0]["id"])
    assert buttons.evaluate_all(EXPLAIN_IDS) == [r["id"] for r in second["data"]]
    page.click("#page-newer")
    expect(buttons.first).to_have_text(first["data"][0]["id"])
    assert buttons.evaluate_all(EXPLAIN_IDS) == [r["id"] for r in first["data"]]
    page.select_option("#filter-backend", "novita-v32")
    page.select_option("#page-size", "100")
    page.click("#request-filters button[type=submit]")
    novita = usage(backend="novita-v32", limit=100)["data"]
    assert novita  # the fallbacks of the stop test
    expect(buttons).to_have_count(len(novita))
    assert page.locator('#requests-table td[data-field="backend"]').evaluate_all(EXPLAIN_IDS) == ["novita-v32"] * len(novita)
    page.select_option("#filter-backend", "")
    page.click("#request-filters button[type=submit]")


def _nano_text(nano: int) -> str:
    sign, magnitude = ("-" if nano < 0 else ""), abs(nano)
    return f"{sign}{magnitude // 1_000_000_000}.{magnitude % 1_000_000_000:09d}"


def _expected_cells(row: dict[str, Any]) -> dict[str, str]:
    """A `gateway spend --json` row as the page must show it: counts with separators, dollars to the nano."""
    spent = row["cost_nano_usd"] + row["self_hosted_cost_nano_usd"]
    cells = {field: f"{row[field]:,}" for field in ("requests", "attempts", "prompt_tokens", "cached_tokens", "completion_tokens",
                                                   "reasoning_tokens")}
    cells.update(group=row["group"], cost_usd=_nano_text(row["cost_nano_usd"]), self_hosted_cost_usd=_nano_text(row["self_hosted_cost_nano_usd"]),
                 total_usd=_nano_text(spent), baseline_usd=_nano_text(row["baseline_nano_usd"]),
                 savings_usd=_nano_text(row["baseline_nano_usd"] - spent))
    for field in ("cost_usd", "self_hosted_cost_usd", "total_usd", "baseline_usd", "savings_usd"):
        assert cells[field] == f"{row[field]:.9f}"  # what `gateway spend`'s own table prints
    return cells


@pytest.mark.parametrize("by", ["backend", "day"])
def test_the_spend_table_equals_gateway_spend_json(page, ledger, screenshots, by):
    if page.locator('nav a[data-page="spend"][aria-current="page"]').count() == 0:
        _visit(page, "spend")
    page.select_option("#spend-by", by)
    page.click("#spend-form button[type=submit]")
    expect(page.locator("#spend-table caption")).to_have_text(f"Tokens and dollars by {by}")
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "spend", "--by", by, "--json", "--db", str(ledger)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total"]["requests"] >= 4 and len(report["rows"]) >= 1
    shown = page.evaluate(SPEND_ROWS)
    assert shown == [_expected_cells(row) for row in [*report["rows"], report["total"]]]
    _shot(page, screenshots, f"spend-by-{by}")


def test_a_key_is_created_shown_once_and_revoked(page, demo, screenshots):
    _visit(page, "keys")
    plaintexts = {}
    for name in ("ui-first", "ui-second"):
        page.fill("#key-name", name)
        page.fill("#key-tags", "browser, test")
        page.fill("#key-daily", "2.5")
        page.fill("#key-rpm", "600")
        page.click("#key-form button[type=submit]")
        expect(page.locator("#key-created")).to_be_focused()
        plaintexts[name] = page.locator("#key-plaintext").text_content()
        assert plaintexts[name].startswith("sk-sy-")
        expect(page.locator(f'#keys-table tr[data-key="{name}"]')).to_contain_text("browser, test")
        if name == "ui-first":
            _shot(page, screenshots, "keys-created")
        page.get_by_role("button", name="Done, I have copied it").click()
    assert all(plaintext not in page.content() for plaintext in plaintexts.values())  # shown once, then gone
    models = f"{demo.v1}/models"
    assert httpx.get(models, timeout=10).status_code == 401  # with a key configured, the demo needs one
    assert httpx.get(models, headers={"authorization": f"Bearer {plaintexts['ui-first']}"}, timeout=10).status_code == 200
    for name in ("ui-first", "ui-second"):
        row = page.locator(f'#keys-table tr[data-key="{name}"]')
        row.get_by_role("button", name=f"Revoke {name}").click()
        page.get_by_role("button", name=f"Revoke {name} now").click()
        expect(row).to_have_count(0)
        if name == "ui-first":
            assert httpx.get(models, headers={"authorization": f"Bearer {plaintexts['ui-first']}"}, timeout=10).status_code == 401
            assert httpx.get(models, headers={"authorization": f"Bearer {plaintexts['ui-second']}"}, timeout=10).status_code == 200
    assert httpx.get(models, timeout=10).status_code == 200  # no key left: the demo's open access is back
    assert page.evaluate(UNLABELLED) == []


def test_the_policy_page_explains_a_pasted_request(page, screenshots):
    _visit(page, "policy")
    expect(page.locator("#policy-yaml")).to_contain_text("local-v32:")
    expect(page.locator('dd[data-field="last_reload_error"]')).to_have_text("none")
    page.fill("#explain-body", json.dumps({"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "Think hard."}]}))
    page.click("#explain-form button[type=submit]")
    expect(page.locator("#explain-result h3")).to_have_text("Route reasoning: fireworks-terminus → local-v32 → novita-v32")
    expect(page.locator('#explain-result tr[data-backend="fireworks-terminus"] [data-field="kept"]')).to_have_text("yes")
    _shot(page, screenshots, "policy")
    page.fill("#explain-body", "{not json")
    page.click("#explain-form button[type=submit]")
    expect(page.locator("#explain-result [role=alert]")).to_contain_text("not valid JSON")
    assert page.evaluate(UNLABELLED) == []


def test_the_planner_page_estimates_and_plans_with_the_cost_chart(page, screenshots):
    _visit(page, "planner")
    expect(page.locator("#est-gpu option[value=h200]")).to_have_count(1)
    page.click("#estimate-form button[type=submit]")
    chart = page.locator("#estimate-result svg.chart")
    expect(chart).to_be_visible(timeout=WAIT_MS)
    managed = page.locator("#estimate-result table.managed tbody tr").count()
    assert managed >= 1
    expect(chart.locator("polyline")).to_have_count(1 + managed)  # self-hosted, then each managed provider
    page.check("#plan-gpus input[value=h200]")
    page.click("#plan-form button[type=submit]")
    expect(page.locator("#plan-table tbody tr").first).to_contain_text("h200", timeout=WAIT_MS)
    expect(page.locator("#plan-result svg.chart")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    _shot(page, screenshots, "planner")


def test_no_page_raised_an_error_or_a_content_security_policy_violation(page, problems):
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('switchyard.adminKey')") is None
    assert problems["errors"] == []  # no script error, no Content-Security-Policy violation
    assert problems["failed"] == [("GET", "admin/console/session", 403)]  # only the deliberately wrong key
