"""What a gateway runs beside routing: Redis, shared state, client keys, limits, the usage ledger,
metrics and the job scheduler, built from its settings.

`gateway serve` creates them (`GatewayServices.create`), gives `state` to the runtime, loads the
keys (`load_keys`; a public address without keys refuses every request until one is created), and `create_app` attaches them
to the runtime and starts and closes them in its lifespan. Without a Redis URL every part is
in-process; with one, state, limits, created keys and the ledger stream are shared by every
replica under `redis_prefix`, and each part falls back to local state while Redis is away.

Per request, the relay calls `authenticate`, `budget_remaining_usd`, `admit` and `settle`;
everything else arrives through the runtime's `OutcomeHub`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.auth.authenticator import Authenticator
from gateway.auth.key_store import FileKeyStore, KeyStoreError, RedisKeyStore, keys_file_path
from gateway.auth.keys import ClientKey, KeyRing, StoredKey, policy_key
from gateway.costing import CostBook
from gateway.decision_log import DecisionLog
from gateway.ledger.sqlite_sink import LedgerFileError, SqliteLedger, ledger_path
from gateway.ledger.stream import LedgerStream
from gateway.ledger.writer import LedgerWriter
from gateway.limits.memory import MemoryLimitStore
from gateway.limits.redis_limits import RedisLimitStore
from gateway.limits.settlements import RequestSettlements, expected_spend
from gateway.limits.store import LimitStore
from gateway.metrics import GatewayMetrics
from gateway.redis_connection import connect_redis
from gateway.runtime import GatewayRuntime
from gateway.scheduler import ClusterScheduler
from gateway.settings import GatewaySettings
from gateway.state.affinity_store import AffinityStore, MemoryAffinityStore, RedisAffinityStore
from gateway.state.redis_store import RedisStateStore
from gateway.state.response_store import MemoryResponseStore, RedisResponseStore, ResponseStore
from policies.decision import Decision
from policies.features import RequestFeatures
from policies.schema import Policy

__all__ = ["GatewayServices", "StartupError"]

log = logging.getLogger("switchyard.services")


class StartupError(Exception):
    """The gateway cannot start with these settings (ledger or key file unusable, no keys on a public address)."""


class GatewayServices:
    """The gateway's accounting and cluster parts; see the module docstring."""

    def __init__(self, settings: GatewaySettings, ledger: SqliteLedger, *, redis: Redis | None = None) -> None:
        self.settings = settings
        self.redis = redis
        prefix = settings.redis_prefix
        self.replica_id = settings.replica_id or f"{socket.gethostname()}:{settings.port}"
        self.state = (RedisStateStore(redis, prefix, replica_id=self.replica_id, sync_interval_s=settings.state_sync_interval_s)
                      if redis is not None else None)  # None: the runtime's in-process store
        self.limits: LimitStore = RedisLimitStore(redis, prefix) if redis is not None else MemoryLimitStore()
        self.settlements = RequestSettlements(self.limits)
        stream = None
        if redis is not None:
            stream = LedgerStream(redis, key=f"{prefix}ledger", consumer=self.replica_id,
                                  claim_idle_ms=int(settings.ledger_claim_idle_s * 1000))
        self.ledger = LedgerWriter(ledger, stream=stream, flush_interval_s=settings.ledger_flush_interval_s)
        self.metrics = GatewayMetrics()
        self.decisions = DecisionLog()  # the newest requests' routing decisions, for the console
        self.responses: ResponseStore = (  # stored Responses API answers (gateway.api.responses)
            RedisResponseStore(redis, prefix, ttl_s=settings.responses_ttl_s) if redis is not None
            else MemoryResponseStore(ttl_s=settings.responses_ttl_s, max_entries=settings.responses_max_stored))
        self.affinity: AffinityStore = (  # affinity key -> the backend that served it last (`affinity:` routes)
            RedisAffinityStore(redis, prefix, max_local_entries=settings.affinity_max_entries) if redis is not None
            else MemoryAffinityStore(settings.affinity_max_entries))
        self.scheduler = ClusterScheduler(redis, prefix, replica_id=self.replica_id)
        self.key_file = FileKeyStore(keys_file_path(settings.keys_file))
        self.key_store = RedisKeyStore(redis, prefix) if redis is not None else None
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
        self.auth = Authenticator(KeyRing(), admin_key=admin_key, host=settings.host)
        self._policy: Policy | None = None
        self._stored_keys: list[ClientKey] = []  # from the key file and Redis, as last read
        self._keys_stale = False  # the last refresh failed
        self._key_write_lock = asyncio.Lock()  # one read-modify-write of the key file at a time

    @classmethod
    def create(cls, settings: GatewaySettings) -> GatewayServices:
        """Open the ledger file and (lazily) Redis; raises StartupError for an unusable ledger file."""
        try:
            ledger = SqliteLedger(ledger_path(settings.ledger_path))
        except LedgerFileError as exc:
            raise StartupError(str(exc)) from None
        return cls(settings, ledger, redis=connect_redis(settings.redis_url) if settings.redis_url else None)

    # -- keys -----------------------------------------------------------------------------------

    def load_keys(self, policy: Policy) -> str:
        """Read every key source once before serving (blocking; start-up only) and return the line to
        print about authentication. With no key on a non-loopback address the gateway still starts (so keys
        can be created against the running deployment: they are re-read every few seconds) but refuses
        every request with 401 until one exists; the notice says so."""
        self._policy = policy
        try:
            self._stored_keys = asyncio.run(self._read_at_start_up())
        except KeyStoreError as exc:
            raise StartupError(str(exc)) from None
        self._rebuild_ring()
        return self.auth.startup_notice()

    async def _read_at_start_up(self) -> list[ClientKey]:
        """The created keys, over a Redis connection of this event loop's own (the app's loop comes later)."""
        if not self.settings.redis_url:
            return await self._read_created_keys(None)
        redis = connect_redis(self.settings.redis_url)
        try:
            return await self._read_created_keys(RedisKeyStore(redis, self.settings.redis_prefix))
        except (RedisError, OSError) as exc:
            log.warning("keys: Redis unavailable (%s); serving the policy's and the key file's keys until it returns",
                        type(exc).__name__)
            return await self._read_created_keys(None)
        finally:
            await redis.aclose()

    async def _read_created_keys(self, key_store: RedisKeyStore | None) -> list[ClientKey]:
        """Keys made by `gateway keys create`: the key file's, then Redis's."""
        keys = [key.client_key(str(self.key_file.path)) for key in await asyncio.to_thread(self.key_file.load)]
        if key_store is not None:
            keys += [key.client_key("redis") for key in await key_store.load()]
        return keys

    async def refresh_keys(self) -> None:
        """Re-read created keys (a scheduler job); on a read error the keys in force stay (one warning until it reads again)."""
        try:
            keys = await self._read_created_keys(self.key_store)
        except (KeyStoreError, RedisError, OSError) as exc:
            if not self._keys_stale:
                log.warning("keys: cannot re-read created keys (%s); the keys in force stay", exc)
                self._keys_stale = True
            return
        self._keys_stale = False
        self._stored_keys = keys
        self._rebuild_ring()

    async def create_key(self, key: StoredKey) -> str:
        """Store a new key where `gateway keys create` would (Redis when configured, else the key file)
        and serve it at once on this replica (the others re-read within `keys_refresh_s`); returns where
        it went. Raises KeyStoreError (name taken, store unwritable) or RedisError."""
        async with self._key_write_lock:
            if self.key_store is not None:
                await self.key_store.add(key)
                where = f"Redis {self.key_store.hash_key}"
            else:
                await asyncio.to_thread(self.key_file.add, key)
                where = str(self.key_file.path)
            await self.refresh_keys()
        return where

    async def revoke_key(self, name: str) -> bool:
        """Delete a created key from its store and stop serving it on this replica at once (the others
        within `keys_refresh_s`); False when no created key has that name. Policy keys are the policy's."""
        async with self._key_write_lock:
            removed = await self.key_store.remove(name) if self.key_store is not None else False
            removed = await asyncio.to_thread(self.key_file.remove, name) or removed
            await self.refresh_keys()
        return removed

    def _rebuild_ring(self) -> None:
        """The policy's keys first, then the created ones (a digest listed twice keeps its first entry)."""
        policy_keys = [policy_key(spec) for spec in self._policy.keys] if self._policy is not None else []
        self.auth.replace_keys(KeyRing([*policy_keys, *self._stored_keys]))

    # -- wiring and lifetime --------------------------------------------------------------------

    def attach(self, runtime: GatewayRuntime) -> None:
        """Listen to the runtime's attempts and policy changes (once, before serving)."""
        self.ledger.costs = CostBook(runtime.policy)
        hub = runtime.hub
        hub.subscribe(self.ledger.on_outcome)
        hub.subscribe(self.settlements.on_outcome)
        hub.subscribe(self.metrics.on_outcome)
        runtime.policy_listeners.append(self._policy_applied)
        if self._policy is None:
            self._policy = runtime.policy
            self._rebuild_ring()
        self.metrics.watch(
            snapshot=runtime.state.snapshot,
            budget_remaining=lambda: [(key.name, self.limits.remaining_usd(key.name)) for key in self.auth.keys
                                      if key.limits.has_budget],
            ledger_backlog=lambda: (self.ledger.appended - self.ledger.durable, self.ledger.dropped),
        )

    def _policy_applied(self, policy: Policy) -> None:
        self._policy = policy
        self.ledger.costs = CostBook(policy, self.ledger.costs.meter if self.ledger.costs else None)
        self._rebuild_ring()

    def start(self) -> None:
        """Start the background tasks and the jobs on the running loop (app start-up)."""
        if isinstance(self.state, RedisStateStore):
            self.state.start()
        if isinstance(self.limits, RedisLimitStore):
            self.limits.start()
        self.ledger.start()
        options = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        self.scheduler.add_job(self.refresh_keys, "interval", seconds=self.settings.keys_refresh_s, id="refresh-keys", **options)
        if self.ledger.stream is not None:
            self.scheduler.add_job(self.ledger.drain, "interval", seconds=self.settings.ledger_drain_interval_s,
                                   id="drain-ledger", once_per_cluster=True, **options)

    async def aclose(self) -> None:
        """Graceful shutdown: settle, store every record (flush, drain), withdraw from Redis."""
        self.scheduler.shutdown()
        await self.limits.close()
        await self.ledger.close()
        if isinstance(self.state, RedisStateStore):
            await self.state.close()
        await asyncio.to_thread(self.ledger.ledger.close)
        if self.redis is not None:
            await self.redis.aclose()

    # -- the request path -----------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> ClientKey | None:
        """The calling key (None in open access); raises AuthenticationError (401)."""
        return self.auth.authenticate(authorization)

    def budget_remaining_usd(self, key: ClientKey | None) -> float | None:
        """The key's smallest remaining budget as last seen, for `when.budget_remaining_usd`."""
        if key is None or not key.limits.has_budget:
            return None
        return self.limits.remaining_usd(key.name)

    async def admit(self, key: ClientKey | None, request_id: str, decision: Decision, features: RequestFeatures,
                    max_attempts: int) -> None:
        """Reserve the request's expected spend and tokens; raises BudgetExceededError / RateLimitedError (429)."""
        if key is None or key.limits.unlimited:
            return
        expected_usd, expected_tokens = expected_spend(decision, features, max_attempts)
        reservation = await self.limits.reserve(key.limits, expected_usd=expected_usd, expected_tokens=expected_tokens)
        self.settlements.open(request_id, reservation)

    def settle(self, request_id: str) -> None:
        """The request is over: replace its reservation by what its attempts cost."""
        self.settlements.close(request_id)

    @property
    def ledger_file(self) -> Path:
        return self.ledger.ledger.path
