"""`gateway keys create|list`: client keys kept as SHA-256 digests, in Redis or a local key file."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from gateway.cli import CliError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("keys", help="create and list client API keys")
    actions = p.add_subparsers(dest="keys_action", required=True)
    for name, help_text in (("create", "create a key; prints it once"), ("list", "list keys (never the keys themselves)")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--redis-url", default=None, help="store in Redis (env SWITCHYARD_REDIS_URL or REDIS_URL)")
        action.add_argument("--redis-prefix", default=None, help="Redis key prefix (env SWITCHYARD_REDIS_PREFIX, default switchyard:)")
        action.add_argument("--keys-file", default=None, help="without Redis: key file (env SWITCHYARD_KEYS_FILE, "
                                                               "default ~/.local/share/switchyard/keys.json)")
    create = actions.choices["create"]
    create.add_argument("--name", required=True, help="what logs, metrics and the ledger call this key")
    create.add_argument("--tags", default="", help="comma-separated tags routes can test (when.key_tags)")
    create.add_argument("--budget-usd-day", type=float, default=None, help="daily budget in USD")
    create.add_argument("--budget-usd-month", type=float, default=None, help="monthly budget in USD")
    create.add_argument("--rpm", type=int, default=None, help="requests per minute")
    create.add_argument("--tpm", type=int, default=None, help="tokens per minute")
    actions.choices["list"].add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _redis_url(args: argparse.Namespace) -> str | None:
    return args.redis_url or os.environ.get("SWITCHYARD_REDIS_URL") or os.environ.get("REDIS_URL")


async def _with_store(args: argparse.Namespace, work: Any) -> Any:
    """Run `work(store)` on the Redis store when Redis is configured, else on the key file."""
    from redis.exceptions import RedisError

    from gateway.auth.key_store import FileKeyStore, RedisKeyStore, keys_file_path
    from gateway.redis_connection import DEFAULT_PREFIX, connect_redis

    url = _redis_url(args)
    if url is None:
        return await work(FileKeyStore(keys_file_path(args.keys_file)), "file")
    redis = connect_redis(url)
    try:
        prefix = args.redis_prefix or os.environ.get("SWITCHYARD_REDIS_PREFIX") or DEFAULT_PREFIX
        return await work(RedisKeyStore(redis, prefix), "redis")
    except (RedisError, OSError) as exc:
        raise CliError(f"Redis at {url.split('@')[-1]}: {type(exc).__name__}: {exc}") from None
    finally:
        await redis.aclose()


async def _create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gateway.auth.keys import StoredKey, hash_key, new_plaintext_key

    plaintext = new_plaintext_key()
    try:
        stored = StoredKey(
            name=args.name, sha256=hash_key(plaintext), tags=[t.strip() for t in args.tags.split(",") if t.strip()],
            daily_usd=args.budget_usd_day, monthly_usd=args.budget_usd_month, rpm=args.rpm, tpm=args.tpm,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = {"daily_usd": "--budget-usd-day", "monthly_usd": "--budget-usd-month"}.get(str(first["loc"][0]), f"--{first['loc'][0]}")
        raise CliError(f"{flag}: {first['msg']}") from None

    async def add(store: Any, kind: str) -> str:
        if kind == "file":
            await asyncio.to_thread(store.add, stored)
            return str(store.path)
        await store.add(stored)
        return f"Redis {store.hash_key}"

    where = await _with_store(args, add)
    sys.stdout.write(plaintext + "\n")
    sys.stderr.write(f"created key {stored.name!r} (sha256 {stored.sha256[:12]}...) in {where}; "
                     "this is the only time it is shown\n")
    return 0


async def _list(args: argparse.Namespace) -> int:
    async def load(store: Any, kind: str) -> list[Any]:
        return await asyncio.to_thread(store.load) if kind == "file" else await store.load()

    keys = await _with_store(args, load)
    if args.json:
        import json

        sys.stdout.write(json.dumps([k.model_dump(mode="json") for k in keys], indent=2) + "\n")
        return 0
    for key in keys:
        limits = ", ".join(f"{label} {value:g}" for label, value in (
            ("usd/day", key.daily_usd), ("usd/month", key.monthly_usd), ("rpm", key.rpm), ("tpm", key.tpm)) if value is not None)
        sys.stdout.write(f"{key.name}\tsha256 {key.sha256[:12]}...\ttags {','.join(key.tags) or '-'}\t{limits or 'no limits'}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    from gateway.auth.key_store import KeyStoreError

    try:
        return asyncio.run(_create(args) if args.keys_action == "create" else _list(args))
    except KeyStoreError as exc:
        raise CliError(str(exc)) from None
