"""Client and admin keys: SHA-256 digests only, the policy's and created keys, loopback-only open access."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from accounting_fixtures import ROOT, accounting_policy, prefix  # noqa: F401 - fixture

from gateway.auth import (
    AdminForbiddenError,
    AuthenticationError,
    Authenticator,
    FileKeyStore,
    KeyRing,
    RedisKeyStore,
    hash_key,
    is_loopback,
    load_key_ring,
    new_plaintext_key,
)
from gateway.redis_connection import connect_redis

ALPHA = "sk-test-alpha-0123456789"
POLICY_KEYS = f"""
keys:
  - name: team-alpha
    sha256: "{hash_key(ALPHA)}"
    tags: [batch, internal]
    budgets: {{daily_usd: 5, monthly_usd: 100}}
    rpm: 60
    tpm: 100000
"""


def test_keys_are_hashed_with_sha256_and_generated_with_256_random_bits():
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    first, second = new_plaintext_key(), new_plaintext_key()
    assert first.startswith("sk-sy-") and len(first) == len("sk-sy-") + 43 and first != second


@pytest.fixture
def policy_ring() -> KeyRing:
    return asyncio.run(load_key_ring(accounting_policy(POLICY_KEYS)))


def test_policy_key_authenticates_with_its_tags_and_limits(policy_ring):
    key = Authenticator(policy_ring, admin_key=None, host="0.0.0.0").authenticate(f"Bearer {ALPHA}")
    assert (key.name, key.tags, key.source) == ("team-alpha", frozenset({"batch", "internal"}), "policy")
    assert (key.limits.daily_usd, key.limits.monthly_usd, key.limits.rpm, key.limits.tpm) == (5, 100, 60, 100_000)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", f"Bearer {ALPHA}x", f"Token {ALPHA}"])
def test_missing_or_unknown_key_is_a_401_that_never_echoes_the_key(policy_ring, header):
    with pytest.raises(AuthenticationError) as refused:
        Authenticator(policy_ring, admin_key=None, host="127.0.0.1").authenticate(header)
    error = refused.value
    assert (error.status, error.code, error.headers) == (401, "invalid_api_key", {"www-authenticate": "Bearer"})
    assert ALPHA not in error.message and ALPHA not in error.body().decode()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_without_keys_a_loopback_gateway_is_open(host):
    auth = Authenticator(KeyRing(), admin_key=None, host=host)
    assert is_loopback(host) and auth.open_access
    assert auth.authenticate(None) is None
    assert "accepting unauthenticated requests" in auth.startup_notice()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "gateway.internal"])
def test_without_keys_a_non_loopback_gateway_refuses_everything_and_says_so(host):
    auth = Authenticator(KeyRing(), admin_key=None, host=host)
    assert not auth.open_access
    with pytest.raises(AuthenticationError, match="not bound to loopback"):
        auth.authenticate("Bearer anything")
    assert "every request will be refused" in auth.startup_notice()


def test_admin_key_guards_admin_endpoints(policy_ring):
    auth = Authenticator(policy_ring, admin_key="admin-secret-42", host="127.0.0.1")
    auth.check_admin("Bearer admin-secret-42")
    for header in (None, "Bearer admin-secret-4", f"Bearer {ALPHA}"):
        with pytest.raises(AdminForbiddenError) as refused:
            auth.check_admin(header)
        assert refused.value.status == 403 and "admin-secret-42" not in refused.value.message
    with pytest.raises(AdminForbiddenError, match="SWITCHYARD_ADMIN_KEY"):
        Authenticator(policy_ring, admin_key=None, host="127.0.0.1").check_admin("Bearer admin-secret-42")
    Authenticator(KeyRing(), admin_key=None, host="127.0.0.1").check_admin(None)  # open loopback gateway


def _keys_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SWITCHYARD_REDIS_URL")}
    return subprocess.run([sys.executable, "-m", "gateway.cli", "keys", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**full_env, **(env or {})})


async def test_cli_created_key_in_a_file_is_printed_once_stored_hashed_and_authenticates(tmp_path):
    keys_file = tmp_path / "keys.json"
    created = _keys_cli("create", "--name", "ci-bot", "--tags", "batch, ci", "--budget-usd-month", "25", "--rpm", "30",
                        "--tpm", "50000", "--keys-file", str(keys_file))
    assert created.returncode == 0, created.stderr
    plaintext = created.stdout.strip()
    assert plaintext.startswith("sk-sy-") and plaintext not in created.stderr
    stored = keys_file.read_text()
    assert plaintext not in stored and hash_key(plaintext) in stored
    assert keys_file.stat().st_mode & 0o777 == 0o600
    ring = await load_key_ring(accounting_policy(POLICY_KEYS), file_store=FileKeyStore(keys_file))
    key = Authenticator(ring, admin_key=None, host="0.0.0.0").authenticate(f"Bearer {plaintext}")
    assert (key.name, key.tags, key.limits.monthly_usd, key.limits.rpm, key.limits.tpm) == (
        "ci-bot", frozenset({"batch", "ci"}), 25, 30, 50_000)
    listed = _keys_cli("list", "--keys-file", str(keys_file))
    assert "ci-bot" in listed.stdout and "usd/month 25" in listed.stdout and plaintext not in listed.stdout


def test_cli_mistakes_are_one_line_with_exit_2(tmp_path):
    keys_file = tmp_path / "keys.json"
    assert _keys_cli("create", "--name", "dup", "--keys-file", str(keys_file)).returncode == 0
    duplicate = _keys_cli("create", "--name", "dup", "--keys-file", str(keys_file))
    assert duplicate.returncode == 2 and duplicate.stderr.strip().endswith("a key named 'dup' already exists")
    negative = _keys_cli("create", "--name", "x", "--budget-usd-month", "-1", "--keys-file", str(keys_file))
    assert negative.returncode == 2 and negative.stderr.startswith("gateway: error: --budget-usd-month")
    bad_name = _keys_cli("create", "--name", "has space", "--keys-file", str(keys_file))
    assert bad_name.returncode == 2 and "Traceback" not in bad_name.stderr


@pytest.mark.redis
async def test_cli_created_key_in_redis_is_seen_by_every_replica(redis_url, prefix):
    created = _keys_cli("create", "--name", "shared", "--tags", "gold", "--redis-url", redis_url, "--redis-prefix", prefix)
    assert created.returncode == 0, created.stderr
    plaintext = created.stdout.strip()
    client = connect_redis(redis_url)
    ring = await load_key_ring(accounting_policy(), redis_store=RedisKeyStore(client, prefix))
    assert ring.lookup(plaintext).tags == frozenset({"gold"})
    raw = await client.hget(f"{prefix}keys", "shared")
    assert plaintext.encode() not in raw and hash_key(plaintext).encode() in raw
    await client.aclose()
    listed = _keys_cli("list", "--json", env={"REDIS_URL": redis_url, "SWITCHYARD_REDIS_PREFIX": prefix})
    assert [k["name"] for k in json.loads(listed.stdout)] == ["shared"]
