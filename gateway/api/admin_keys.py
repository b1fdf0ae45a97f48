"""`GET /admin/keys`, `POST /admin/keys`, `DELETE /admin/keys/{name}`: client keys from the console.

Keys are listed by name, source, tags and limits, never by digest. A created key's plaintext is
in the creation answer only (`Cache-Control: no-store`), and nowhere else: the store keeps its
SHA-256 digest, as `gateway keys create` does. Keys written in the policy file are revoked by
editing the file; created ones (key file or Redis) are deleted from their store.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import RedisError

from gateway.api.auth import require_admin_key, require_admin_write
from gateway.auth.key_store import KeyExistsError, KeyStoreError
from gateway.auth.keys import StoredKey, hash_key, new_plaintext_key
from gateway.errors import GatewayError, InvalidRequestError, NotFoundError
from gateway.services import GatewayServices

__all__ = ["router", "KeyView", "KeyList", "KeyCreateForm", "CreatedKey", "RevokedKey"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyView(_View):
    """One client key as the console lists it (no digest, no plaintext)."""

    name: str
    source: str = Field(description="policy, redis, or the key file's path.")
    revocable: bool = Field(description="Created by `gateway keys create` or the console, so it can be deleted here.")
    tags: list[str]
    daily_usd: float | None
    monthly_usd: float | None
    total_usd: float | None
    rpm: int | None
    tpm: int | None
    remaining_usd: float | None = Field(description="Smallest remaining budget as last seen; None without a budget.")


class KeyList(_View):
    data: list[KeyView]


@router.get("/keys", response_model=KeyList)
async def list_keys(request: Request) -> KeyList:
    services: GatewayServices = request.app.state.services
    views = []
    for key in sorted(services.auth.keys, key=lambda k: k.name):
        limits = key.limits
        views.append(KeyView(
            name=key.name, source=key.source, revocable=key.source != "policy", tags=sorted(key.tags),
            daily_usd=limits.daily_usd, monthly_usd=limits.monthly_usd, total_usd=limits.total_usd, rpm=limits.rpm,
            tpm=limits.tpm, remaining_usd=services.limits.remaining_usd(key.name) if limits.has_budget else None,
        ))
    return KeyList(data=views)


class KeyCreateForm(_View):
    """`POST /admin/keys`: the fields of `gateway keys create`."""

    name: str
    tags: list[str] = Field(default_factory=list)
    daily_usd: float | None = None
    monthly_usd: float | None = None
    rpm: int | None = None
    tpm: int | None = None


class CreatedKey(_View):
    """The new key; `key` is its plaintext, shown this once."""

    name: str
    key: str = Field(description="The plaintext key: shown only in this answer.")
    stored_in: str


class _KeyExistsError(GatewayError):
    """A key of that name exists (409)."""

    status = 409
    type = "invalid_request_error"
    code = "key_exists"


class _KeyStoreUnavailableError(GatewayError):
    """The key store could not be read or written (503)."""

    status = 503
    type = "server_error"
    code = "key_store_unavailable"
    retryable = True


@router.post("/keys", response_model=CreatedKey, status_code=201, dependencies=[Depends(require_admin_write)])
async def create_key(form: KeyCreateForm, request: Request) -> CreatedKey:
    services: GatewayServices = request.app.state.services
    plaintext = new_plaintext_key()
    try:
        stored = StoredKey(name=form.name, sha256=hash_key(plaintext), tags=[t.strip() for t in form.tags if t.strip()],
                           daily_usd=form.daily_usd, monthly_usd=form.monthly_usd, rpm=form.rpm, tpm=form.tpm)
    except ValidationError as exc:
        raise InvalidRequestError.from_validation(exc) from None
    if services.auth.keys.by_name(stored.name) is not None:
        raise _KeyExistsError(f"a key named {stored.name!r} already exists")
    try:
        where = await services.create_key(stored)
    except KeyExistsError:
        raise _KeyExistsError(f"a key named {stored.name!r} already exists") from None
    except KeyStoreError as exc:
        raise _KeyStoreUnavailableError(str(exc)) from None
    except (RedisError, OSError) as exc:
        raise _KeyStoreUnavailableError(f"the key store is unavailable ({type(exc).__name__})") from None
    return CreatedKey(name=stored.name, key=plaintext, stored_in=where)


class RevokedKey(_View):
    name: str
    revoked: bool


@router.delete("/keys/{name}", response_model=RevokedKey, dependencies=[Depends(require_admin_write)])
async def revoke_key(name: str, request: Request) -> RevokedKey:
    services: GatewayServices = request.app.state.services
    key = services.auth.keys.by_name(name)
    if key is not None and key.source == "policy":
        raise InvalidRequestError(f"key {name!r} is written in the policy file: remove it there", param="name")
    try:
        removed = await services.revoke_key(name)
    except KeyStoreError as exc:
        raise _KeyStoreUnavailableError(str(exc)) from None
    except (RedisError, OSError) as exc:
        raise _KeyStoreUnavailableError(f"the key store is unavailable ({type(exc).__name__})") from None
    if not removed:
        raise NotFoundError(f"no created key named {name!r}")
    return RevokedKey(name=name, revoked=True)
