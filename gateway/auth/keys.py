"""Client API keys: generated once, stored and compared only as SHA-256 hex digests."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.limits.key_limits import KeyLimits
from policies.schema import KeySpec

__all__ = ["ClientKey", "KeyRing", "StoredKey", "hash_key", "new_plaintext_key", "policy_key", "PLAINTEXT_PREFIX"]

PLAINTEXT_PREFIX = "sk-sy-"
KEY_ENTROPY_BYTES = 32


def hash_key(plaintext: str) -> str:
    """Lower-case hex SHA-256 of a key, the only form in which keys are stored."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def new_plaintext_key() -> str:
    """A fresh key: `sk-sy-` and 256 random bits, URL-safe base64."""
    return PLAINTEXT_PREFIX + secrets.token_urlsafe(KEY_ENTROPY_BYTES)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """A known caller: its name (what logs, metrics and the ledger show), tags and limits."""

    name: str
    sha256: str
    tags: frozenset[str]
    limits: KeyLimits
    source: str  # "policy", a key file path, or "redis"


class StoredKey(BaseModel):
    """A key created by `gateway keys create`, as kept in the key file or in Redis."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", max_length=128)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tags: list[str] = Field(default_factory=list)
    daily_usd: float | None = Field(None, ge=0)
    monthly_usd: float | None = Field(None, ge=0)
    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def client_key(self, source: str) -> ClientKey:
        limits = KeyLimits(self.name, daily_usd=self.daily_usd, monthly_usd=self.monthly_usd, rpm=self.rpm, tpm=self.tpm)
        return ClientKey(self.name, self.sha256, frozenset(self.tags), limits, source)


def policy_key(spec: KeySpec) -> ClientKey:
    """A key from the policy's `keys:` section."""
    budgets = spec.budgets
    limits = KeyLimits(
        spec.name,
        daily_usd=budgets.daily_usd if budgets else None,
        monthly_usd=budgets.monthly_usd if budgets else None,
        total_usd=budgets.total_usd if budgets else None,
        rpm=spec.rpm,
        tpm=spec.tpm,
    )
    return ClientKey(spec.name, spec.sha256, frozenset(spec.tags), limits, "policy")


class KeyRing:
    """Every known key by digest; the first source listing a digest wins (the policy comes first)."""

    def __init__(self, keys: Iterable[ClientKey] = ()) -> None:
        self._by_digest: dict[str, ClientKey] = {}
        for key in keys:
            self._by_digest.setdefault(key.sha256, key)

    def lookup(self, plaintext: str) -> ClientKey | None:
        return self._by_digest.get(hash_key(plaintext))

    def by_name(self, name: str) -> ClientKey | None:
        return next((key for key in self._by_digest.values() if key.name == name), None)

    def __len__(self) -> int:
        return len(self._by_digest)

    def __iter__(self) -> Iterator[ClientKey]:
        return iter(self._by_digest.values())
