"""The affinity store: bounded (LRU) and expiring (TTL) in process, shared and expiring in Redis,
and served from local memory while Redis is away."""

from __future__ import annotations

import tracemalloc

import pytest
from accounting_fixtures import delete_prefixed_keys, unique_prefix

from gateway.redis_connection import connect_redis
from gateway.state.affinity_store import MemoryAffinityStore, RedisAffinityStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_store_remembers_the_last_backend_per_key():
    store = MemoryAffinityStore(max_entries=10)
    await store.remember("r:a", "r1", 60)
    await store.remember("r:b", "r2", 60)
    await store.remember("r:a", "r3", 60)  # the key moved with the serving backend
    assert [await store.lookup(key) for key in ("r:a", "r:b", "r:c")] == ["r3", "r2", None]


async def test_memory_store_forgets_a_key_ttl_seconds_after_its_last_use():
    clock = Clock()
    store = MemoryAffinityStore(max_entries=10, clock=clock)
    await store.remember("r:a", "r1", 30)
    clock.now += 20
    await store.remember("r:a", "r1", 30)  # used again: its TTL starts over
    clock.now += 20
    assert await store.lookup("r:a") == "r1"
    clock.now += 10
    assert await store.lookup("r:a") is None
    assert len(store) == 0


async def test_memory_store_drops_the_least_recently_used_keys_beyond_its_bound():
    store = MemoryAffinityStore(max_entries=3)
    for key in ("a", "b", "c"):
        await store.remember(key, "r1", 60)
    await store.remember("a", "r2", 60)  # a is now the newest
    await store.remember("d", "r1", 60)
    assert [await store.lookup(key) for key in ("a", "b", "c", "d")] == ["r2", None, "r1", "r1"]
    assert len(store) == 3


def test_memory_stays_flat_as_conversations_keep_arriving():
    store = MemoryAffinityStore(max_entries=10_000)
    tracemalloc.start()
    try:
        for n in range(20_000):
            store.put(f"default:{n:032x}", "replica-1", 600)
        filled, _ = tracemalloc.get_traced_memory()
        for n in range(20_000, 200_000):  # 20x the bound
            store.put(f"default:{n:032x}", "replica-1", 600)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == 10_000
    assert after < filled * 1.1
    assert after < 10_000 * 400  # bytes a key, well within the documented ~300


@pytest.mark.redis
async def test_redis_store_is_shared_by_replicas_and_expires_by_its_ttl(redis_url):
    prefix = unique_prefix()
    one, two = connect_redis(redis_url), connect_redis(redis_url)
    try:
        first, second = RedisAffinityStore(one, prefix), RedisAffinityStore(two, prefix)
        await first.remember("default:abc", "r2", 45)
        assert await second.lookup("default:abc") == "r2"
        await second.remember("default:abc", "r3", 45)
        assert await first.lookup("default:abc") == "r3"
        ttl_ms = await one.pttl(f"{prefix}affinity:default:abc")
        assert 0 < ttl_ms <= 45_000
        assert await RedisAffinityStore(two, unique_prefix()).lookup("default:abc") is None  # another cluster
    finally:
        await one.aclose()
        await two.aclose()
        delete_prefixed_keys(redis_url, prefix)


async def test_redis_store_answers_from_local_memory_while_redis_is_away(caplog):
    clock = Clock()
    store = RedisAffinityStore(connect_redis("redis://127.0.0.1:1/0"), "sy:", clock=clock)
    try:
        await store.remember("default:abc", "r1", 60)
        assert await store.lookup("default:abc") == "r1"
        assert [r.getMessage() for r in caplog.records if r.name == "switchyard.affinity"] == [
            "affinity: Redis unavailable (ConnectionError); keeping affinity in this replica until it returns"]
    finally:
        await store.redis.aclose()
