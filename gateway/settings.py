"""Server settings: environment variables prefixed `SWITCHYARD_`, overridden by `gateway serve` flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["GatewaySettings", "MIB"]

MIB = 1024 * 1024


class GatewaySettings(BaseSettings):
    """Everything `gateway serve` needs besides the policy itself."""

    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to listen on; a non-loopback one needs client keys.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on.")
    config: Path | None = Field(None, description="Policy file to serve.")
    demo: bool = Field(False, description="Start emulated backends and serve policies/demo.yaml.")
    redis_url: str | None = Field(None, validation_alias=AliasChoices("SWITCHYARD_REDIS_URL", "REDIS_URL"), description="Redis shared by the replicas (state, budgets, keys, ledger stream); none: in-process state.")
    redis_prefix: str = Field("switchyard:", min_length=1, description="Prefix of every Redis key this cluster uses.")
    replica_id: str | None = Field(None, description="This replica's name in Redis (default HOSTNAME:PORT, stable across "
                                                     "restarts, so a restarted replica drains its own unfinished ledger batch).")
    admin_key: SecretStr | None = Field(None, description="Key that guards /admin/* and the web console.")
    keys_file: Path | None = Field(None, description="Keys made by `gateway keys create` without Redis "
                                                    "(default: the data directory's keys.json).")
    keys_refresh_s: float = Field(5.0, gt=0, description="How often created keys are re-read from the key file or Redis.")
    ledger_path: Path | None = Field(None, description="Usage ledger SQLite file (default: the data directory's ledger.sqlite3).")
    ledger_flush_interval_s: float = Field(0.2, gt=0, description="Longest a usage record waits in memory.")
    ledger_drain_interval_s: float = Field(1.0, gt=0, description="With Redis: how often the ledger stream is drained "
                                                                 "into SQLite (once per cluster).")
    ledger_claim_idle_s: float = Field(30.0, ge=0, description="With Redis: stream entries a drainer took and did not "
                                                              "store for this long are taken over by another.")
    state_sync_interval_s: float = Field(0.1, gt=0, description="With Redis: how often shared backend state is exchanged.")
    responses_ttl_s: float = Field(30 * 86400.0, gt=0, description="How long a stored Responses API answer (store: true) "
                                                                   "can be fetched or continued (OpenAI keeps them 30 days).")
    responses_max_stored: int = Field(10_000, ge=1, description="Without Redis: the most stored responses this process keeps "
                                                               "(oldest dropped first).")
    routing_seed: int | None = Field(None, description="Seed of the routing draws (prefer: weighted, prefer: latency's "
                                                       "Thompson sampling); unset: seeded by the OS. For reproducible tests.")
    affinity_max_entries: int = Field(100_000, ge=1, description="Affinity keys (`affinity:` routes) this process keeps "
                                                                "in memory, least recently used dropped first; with Redis "
                                                                "its keys expire by their ttl_s instead.")
    max_body_bytes: int = Field(8 * MIB, ge=1024, description="Largest request body accepted (413 above).")
    max_messages: int = Field(10_000, ge=1, description="Most messages one request may carry (400 above).")
    max_header_bytes: int = Field(64 * 1024, ge=1024, description="Largest request head, URL and headers (431 above).")
    timeout_keep_alive_s: float = Field(30.0, gt=0, description="Idle keep-alive connections are closed after this.")
    log_level: str = Field("info", pattern="^(critical|error|warning|info|debug)$", description="critical, error, warning, info or debug.")
    health_interval_s: float = Field(5.0, gt=0, description="GET /health of vLLM, SGLang and emulated backends.")
    provider_health_interval_s: float = Field(60.0, gt=0, description="GET /models of managed providers.")
    scrape_interval_s: float = Field(2.0, gt=0, description="GET /metrics of vLLM and SGLang backends.")
    policy_poll_s: float = Field(0.5, gt=0, description="How often the policy file is checked for changes.")
    price_refresh_s: float = Field(
        300.0, gt=0, description="How often litellm's cost map file is checked; when it changed, prices are re-read."
    )
