"""Where `gateway keys create` keeps keys: a local JSON file (mode 0600) or a Redis hash.

Both hold only digests (`StoredKey`), keyed by the key's name; a name can be created once.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis

from gateway.auth.keys import KeyRing, StoredKey, policy_key
from gateway.data_dir import data_dir
from policies.schema import Policy

__all__ = ["KEYS_FILE_NAME", "KEYS_FILE_ENV", "FileKeyStore", "KeyExistsError", "KeyStoreError", "RedisKeyStore", "keys_file_path",
           "load_key_ring"]

KEYS_FILE_NAME = "keys.json"
KEYS_FILE_ENV = "SWITCHYARD_KEYS_FILE"


class KeyStoreError(Exception):
    """The key store cannot be read or written, or the name is taken."""


class KeyExistsError(KeyStoreError):
    """A key of that name is already stored."""


def keys_file_path(explicit: str | Path | None = None) -> Path:
    """`explicit`, else $SWITCHYARD_KEYS_FILE, else the data directory's keys.json."""
    return Path(explicit or os.environ.get(KEYS_FILE_ENV) or data_dir() / KEYS_FILE_NAME)


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[StoredKey]


class FileKeyStore:
    """Keys in a JSON file; blocking I/O, for the CLI and for start-up."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> list[StoredKey]:
        if not self.path.exists():
            return []
        try:
            return _KeysFile.model_validate_json(self.path.read_bytes()).keys
        except OSError as exc:
            raise KeyStoreError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise KeyStoreError(f"{self.path}: {where}: {first['msg']}") from None

    def add(self, key: StoredKey) -> None:
        keys = self.load()
        if any(existing.name == key.name for existing in keys):
            raise KeyExistsError(f"{self.path}: a key named {key.name!r} already exists")
        self._write([*keys, key])

    def remove(self, name: str) -> bool:
        """Delete the key named `name` (revoke it); False when there is none."""
        keys = self.load()
        kept = [key for key in keys if key.name != name]
        if len(kept) == len(keys):
            return False
        self._write(kept)
        return True

    def _write(self, keys: list[StoredKey]) -> None:
        """Replace the file atomically (a temporary file in the same directory, mode 0600, renamed over it)."""
        data = _KeysFile(keys=keys).model_dump(mode="json")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.write("\n")
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise KeyStoreError(f"{self.path}: cannot write: {exc.strerror or exc}") from None


class RedisKeyStore:
    """Keys in the Redis hash `<prefix>keys` (name -> StoredKey JSON), shared by every replica."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.hash_key = f"{prefix}keys"

    async def load(self) -> list[StoredKey]:
        entries = await self.redis.hgetall(self.hash_key)
        keys = []
        for name, raw in sorted(entries.items()):
            try:
                keys.append(StoredKey.model_validate_json(raw))
            except ValidationError:
                raise KeyStoreError(f"Redis {self.hash_key} field {name.decode(errors='replace')!r} is not a stored key") from None
        return keys

    async def add(self, key: StoredKey) -> None:
        if not await self.redis.hsetnx(self.hash_key, key.name, key.model_dump_json()):
            raise KeyExistsError(f"Redis {self.hash_key}: a key named {key.name!r} already exists")

    async def remove(self, name: str) -> bool:
        """Delete the key named `name` (revoke it); False when there is none."""
        return bool(await self.redis.hdel(self.hash_key, name))


async def load_key_ring(policy: Policy, *, file_store: FileKeyStore | None = None,
                        redis_store: RedisKeyStore | None = None) -> KeyRing:
    """The policy's keys, then the key file's, then Redis's (a digest listed twice keeps its first entry).

    Raises KeyStoreError for a bad key file and RedisError when Redis is away: a refresh job keeps
    the ring it had.
    """
    keys = [policy_key(spec) for spec in policy.keys]
    if file_store is not None:
        stored = await asyncio.to_thread(file_store.load)
        keys += [key.client_key(str(file_store.path)) for key in stored]
    if redis_store is not None:
        keys += [key.client_key("redis") for key in await redis_store.load()]
    return KeyRing(keys)
