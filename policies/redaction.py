"""A policy as it may be shown (the console's Policy page): every secret replaced by a marker.

Secrets in a policy: `api_key` (a `SecretStr` after `${VAR}` expansion), each key's `sha256`
digest, and credentials or tokens inside a URL (`https://user:pass@host/...?token=...`). The
walk is generic over the pydantic model: any `SecretStr` anywhere is redacted, so a secret field
added later is covered without touching this file.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from policies.schema import Policy

__all__ = ["REDACTED", "redacted_policy", "redacted_url"]

REDACTED = "[redacted]"
_DIGEST_FIELDS = frozenset({"sha256"})


def redacted_url(url: str) -> str:
    """`https://user:pw@host:8000/v1?key=x#y` -> `https://[redacted]@host:8000/v1?[redacted]`."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    netloc = (f"{REDACTED}@" if parts.username or parts.password else "") + (f"[{host}]" if ":" in host else host)
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, REDACTED if parts.query else "", ""))


def _redact(value: Any, field: str | None) -> Any:
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, dict):
        return {key: _redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(item, field) for item in value]
    if isinstance(value, str):
        if field in _DIGEST_FIELDS:
            return REDACTED
        if value.startswith(("http://", "https://")):
            return redacted_url(value)
    return value


def redacted_policy(policy: Policy) -> dict[str, Any]:
    """The policy as plain data (fields left at their default omitted where None), secrets replaced by `[redacted]`."""
    return _redact(policy.model_dump(mode="python", exclude_none=True), None)
