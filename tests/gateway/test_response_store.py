"""Stored Responses API answers: bounded and expiring in process, shared and expiring in Redis."""

from __future__ import annotations

import pytest

from gateway.redis_connection import connect_redis
from gateway.state.response_store import MemoryResponseStore, RedisResponseStore, ResponseStoreError
from accounting_fixtures import delete_prefixed_keys, unique_prefix


async def test_memory_store_keeps_the_newest_entries_only():
    store = MemoryResponseStore(ttl_s=60, max_entries=2)
    for name in ("a", "b", "c"):
        await store.put(f"resp_{name}", name.encode())
    assert [await store.get(f"resp_{name}") for name in ("a", "b", "c")] == [None, b"b", b"c"]


async def test_memory_store_forgets_an_entry_after_its_ttl():
    store = MemoryResponseStore(ttl_s=-1.0, max_entries=10)  # already expired when written
    await store.put("resp_a", b"a")
    assert await store.get("resp_a") is None


@pytest.mark.redis
async def test_redis_store_is_shared_by_replicas_and_expires(redis_url):
    prefix = unique_prefix()
    writer, reader = connect_redis(redis_url), connect_redis(redis_url)
    try:
        await RedisResponseStore(writer, prefix, ttl_s=30).put("resp_x", b'{"response":{}}')
        assert await RedisResponseStore(reader, prefix, ttl_s=30).get("resp_x") == b'{"response":{}}'
        ttl_ms = await reader.pttl(f"{prefix}response:resp_x")
        assert 0 < ttl_ms <= 30_000
        assert await RedisResponseStore(reader, unique_prefix(), ttl_s=30).get("resp_x") is None  # another cluster's prefix
    finally:
        await writer.aclose()
        await reader.aclose()
        delete_prefixed_keys(redis_url, prefix)


async def test_redis_store_failures_are_its_own_error():
    store = RedisResponseStore(connect_redis("redis://127.0.0.1:1/0"), "sy:", ttl_s=30)
    with pytest.raises(ResponseStoreError):
        await store.get("resp_x")
    await store.redis.aclose()
