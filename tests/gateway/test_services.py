"""The gateway's services: where keys come from, the start-up refusal, files outside the checkout, reloads."""

from __future__ import annotations

import hashlib
import logging

import pytest
from accounting_fixtures import accounting_policy

from gateway.auth.key_store import keys_file_path
from gateway.ledger.sqlite_sink import ledger_path
from gateway.runtime import GatewayRuntime
from gateway.auth.errors import AuthenticationError
from gateway.services import GatewayServices
from gateway.settings import GatewaySettings


def _key(name: str) -> str:
    digest = hashlib.sha256(f"sk-{name}".encode()).hexdigest()
    return f'\nkeys:\n  - {{name: {name}, sha256: "{digest}", budgets: {{daily_usd: 10}}}}\n'


@pytest.fixture
def make_services(tmp_path):
    made: list[GatewayServices] = []

    def make(**settings: object) -> GatewayServices:
        values = {"ledger_path": tmp_path / "ledger.sqlite3", "keys_file": tmp_path / "keys.json", **settings}
        services = GatewayServices.create(GatewaySettings(**values))
        made.append(services)
        return services

    yield make
    for services in made:
        services.ledger.ledger.close()


def test_without_keys_a_loopback_gateway_serves_openly_and_says_so(make_services):
    notice = make_services(host="127.0.0.1").load_keys(accounting_policy())
    assert notice == "auth: no client keys configured; accepting unauthenticated requests because 127.0.0.1 is a loopback address"


def test_without_keys_a_public_address_starts_but_refuses_every_request_until_a_key_exists(make_services):
    services = make_services(host="0.0.0.0")
    notice = services.load_keys(accounting_policy())
    assert notice.startswith("auth: no client keys configured and 0.0.0.0 is not a loopback address: every request will be refused")
    with pytest.raises(AuthenticationError) as refused:
        services.auth.authenticate(None)
    assert refused.value.status == 401
    with pytest.raises(AuthenticationError):
        services.auth.authenticate("Bearer sk-anything")


def test_with_a_policy_key_a_public_address_starts(make_services):
    assert make_services(host="0.0.0.0").load_keys(accounting_policy(_key("team-a"))) == (
        "auth: 1 client key(s); requests need Authorization: Bearer <key>")


def test_a_policy_reload_replaces_the_policy_keys_and_reprices_the_ledger(make_services):
    services = make_services()
    runtime = GatewayRuntime(accounting_policy(_key("team-a")), state=services.state)
    services.load_keys(runtime.policy)
    services.attach(runtime)
    assert services.authenticate("Bearer sk-team-a").name == "team-a"
    runtime.apply_policy(accounting_policy(_key("team-b")))
    assert services.auth.keys.lookup("sk-team-a") is None
    assert services.authenticate("Bearer sk-team-b").name == "team-b"
    assert services.ledger.costs is not None and services.ledger.costs.family("deepseek") == "deepseek-v3.2"


async def test_a_broken_key_file_keeps_the_keys_in_force_with_one_warning(make_services, tmp_path, caplog):
    services = make_services()
    services.attach(GatewayRuntime(accounting_policy(_key("team-a"))))
    (tmp_path / "keys.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="switchyard.services"):
        await services.refresh_keys()
        await services.refresh_keys()
    assert services.authenticate("Bearer sk-team-a").name == "team-a"
    assert len([r for r in caplog.records if "cannot re-read created keys" in r.getMessage()]) == 1


def test_the_ledger_and_key_files_default_to_the_data_directory_not_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("SWITCHYARD_LEDGER_PATH", raising=False)
    monkeypatch.delenv("SWITCHYARD_KEYS_FILE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert ledger_path() == tmp_path / "data" / "switchyard" / "ledger.sqlite3"
    assert keys_file_path() == tmp_path / "data" / "switchyard" / "keys.json"
    monkeypatch.setenv("SWITCHYARD_LEDGER_PATH", str(tmp_path / "mine.sqlite3"))
    assert ledger_path() == tmp_path / "mine.sqlite3"
