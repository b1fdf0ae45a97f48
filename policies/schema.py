"""The routing policy file as pydantic models (`extra="forbid"`): the contract in
shared/design/policy-format.md. `gateway schema` prints `Policy.model_json_schema()`.

Defaults filled in after validation, so every reader sees resolved values:
- `base_url`: per type (`DEFAULT_BASE_URLS`); required for `emulator`.
- `context_window`: for managed types, litellm cost map's `max_input_tokens` for the model;
  otherwise the family's catalog value (`policies.families`); None when neither is known.
- `thinking`: the family's catalog value, else False.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from planner.simulate.deployment_spec import DeploymentSpec
from policies.families import family_spec
from policies.price_lookup import litellm_price
from policies.strategies import STRATEGY_NAMES

__all__ = [
    "AFFINITY_KEY_PATTERN",
    "AffinitySpec",
    "BACKEND_TYPES",
    "DEFAULT_BASE_URLS",
    "SELF_HOSTED_TYPES",
    "BackendSpec",
    "BudgetSpec",
    "CircuitBreakerSpec",
    "ComparisonSpec",
    "CostSpec",
    "EmulatorSpec",
    "FallbackSpec",
    "KeySpec",
    "LimitsSpec",
    "DeploymentSpec",
    "ModelAliasSpec",
    "Policy",
    "PriceSpec",
    "RouteSpec",
    "SimulateSpec",
    "SloSpec",
    "ThinkingDetectionSpec",
    "TimeoutsSpec",
    "WhenSpec",
]

BackendType = Literal[
    "vllm", "sglang", "lmstudio", "novita", "fireworks", "deepseek", "openai", "litellm", "emulator"
]
EmulatorProfile = Literal["vllm", "sglang", "novita", "fireworks", "deepseek"]
FailureKind = Literal["connect_error", "timeout", "rate_limited", "server_error", "client_error", "midstream"]
ResponseFormatType = Literal["text", "json_object", "json_schema"]

BACKEND_TYPES: tuple[str, ...] = BackendType.__args__
SELF_HOSTED_TYPES: frozenset[str] = frozenset({"vllm", "sglang", "lmstudio"})

DEFAULT_BASE_URLS: dict[str, str] = {
    "vllm": "http://127.0.0.1:8000/v1",  # `vllm serve` default port 8000
    "sglang": "http://127.0.0.1:30000/v1",  # `sglang.launch_server` default port 30000
    "lmstudio": "http://127.0.0.1:1234/v1",  # LM Studio local server default port 1234
    "novita": "https://api.novita.ai/openai/v1",  # novita.ai/docs LLM API, OpenAI-compatible
    "fireworks": "https://api.fireworks.ai/inference/v1",  # docs.fireworks.ai, also litellm's default
    "deepseek": "https://api.deepseek.com/v1",  # api-docs.deepseek.com (base_url, /v1 accepted)
    "openai": "https://api.openai.com/v1",
}

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", max_length=128)]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9*?\[][A-Za-z0-9._:/*?\[\]!-]*$", max_length=128)]
"""A `models:` key: a name clients send, or a glob pattern such as `claude-*` (policies.model_aliases)."""
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CostSpec(_Spec):
    """A self-hosted backend's cost: fixed GPU spend, plus an optional marginal per-token price."""

    gpu_hourly_usd: NonNegativeFloat | None = Field(None, description="USD per GPU-hour.")
    gpus: Annotated[int, Field(ge=1)] | None = Field(None, description="GPUs this self-hosted backend rents (for the ledger's self_hosted_cost_usd share of gpu_hourly_usd).")
    marginal_usd_per_mtok: NonNegativeFloat = Field(
        0.0, description="What one more million tokens costs while the backend has spare capacity."
    )


class PriceSpec(_Spec):
    """A managed backend's per-token price; overrides litellm's cost map."""

    input_usd_per_mtok: NonNegativeFloat = Field(description="USD per million prompt tokens (uncached).")
    cached_input_usd_per_mtok: NonNegativeFloat | None = Field(None, description="USD per million prompt tokens served from the provider's prompt cache (default: the input price).")
    output_usd_per_mtok: NonNegativeFloat = Field(description="USD per million completion tokens, reasoning tokens included.")


class LimitsSpec(_Spec):
    """At or beyond any of these the backend is saturated and skipped."""

    max_in_flight: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Requests this gateway has open to the backend."
    )
    max_waiting: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Queued requests: vllm:num_requests_waiting / sglang:num_queue_reqs."
    )
    max_kv_usage: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="KV-cache fraction in use: vllm:kv_cache_usage_perc / sglang:token_usage."
    )


class TimeoutsSpec(_Spec):
    """Upstream timeouts in seconds."""

    connect_s: PositiveFloat = Field(2.0, description="Seconds to open the upstream connection.")
    first_token_s: PositiveFloat = Field(60.0, description="Seconds to the first byte of the answer (the first content of a stream).")
    total_s: PositiveFloat = Field(900.0, description="Seconds for the whole attempt; a non-streamed answer may take this long.")


class EmulatorSpec(_Spec):
    """Timing and faults of an emulated backend (`type: emulator`), as `gateway emulate` flags."""

    ttft_ms: NonNegativeFloat | None = Field(None, description="Emulated time to first token (default: the emulator's 20 ms).")
    tpot_ms: NonNegativeFloat | None = Field(None, description="Emulated time per output token (default: the emulator's 5 ms).")
    max_concurrency: Annotated[int, Field(ge=1)] | None = Field(None, description="Requests served at once; more wait in the emulated queue.")
    fail_rate: Annotated[float, Field(ge=0, le=1)] = Field(0.0, description="Share of requests that fail in fail_mode, drawn from seed.")
    fail_mode: Literal["500", "429", "timeout", "reset", "midstream", "slow", "malformed", "error-body"] | None = Field(None, description="How a failing request fails (as `gateway emulate --fail-mode`).")
    seed: int | None = Field(None, description="Seed of the emulated output and of the faults.")


class SimulateSpec(_Spec):
    """A managed backend's latency as `gateway simulate` assumes it; serving ignores it."""

    ttft_ms: NonNegativeFloat | None = Field(None, description="Time to the first token.")
    tpot_ms: NonNegativeFloat | None = Field(None, description="Time per further output token.")


SIMULATED_SELF_HOSTED_TYPES: frozenset[str] = frozenset({"vllm", "sglang"})


class BackendSpec(_Spec):
    """One upstream the gateway may call."""

    type: BackendType = Field(description="Adapter that speaks to it (backends/registry.py); emulator runs `gateway emulate` in-process for the demo.")
    base_url: str | None = Field(None, description="Default per type; required for emulator.")
    api_key: SecretStr | None = Field(None, description="Usually ${PROVIDER_API_KEY}.")
    model: Annotated[str, StringConstraints(min_length=1)] = Field(description="Model id sent upstream.")
    family: str | None = Field(None, description="Planner catalog name, e.g. deepseek-v3.2.")
    thinking: bool | None = Field(None, description="Can serve thinking mode; default from family.")
    thinking_with_tools: bool | None = Field(
        None, description="Can think while calling tools (a request that needs thinking and carries tools); default "
        "from family (false for deepseek-v3.1 and -v3.1-terminus, which call tools only without thinking), else "
        "`thinking`.",
    )
    context_window: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Tokens (prompt + output); default from litellm's cost map or the family."
    )
    cost: CostSpec | None = Field(None, description="Self-hosted only: its marginal price and GPU rent.")
    price: PriceSpec | None = Field(None, description="Per-token price; default: litellm's bundled cost map for the model.")
    limits: LimitsSpec = Field(default_factory=LimitsSpec, description="When the backend counts as saturated and is skipped (from its scraped /metrics and in-flight count).")
    timeouts: TimeoutsSpec = Field(default_factory=TimeoutsSpec, description="Per-attempt timeouts; a timeout is the `timeout` failure kind.")
    profile: EmulatorProfile | None = Field(None, description="type: emulator only: which upstream to mimic.")
    emulator: EmulatorSpec | None = Field(None, description="type: emulator only: timing and faults.")
    deployment: DeploymentSpec | None = Field(
        None, description="vllm/sglang only: what it runs on (planner catalog names), for `gateway simulate` and "
        "`planner plan --trace`; serving ignores it.",
    )
    simulate: SimulateSpec | None = Field(
        None, description="Managed backends only: latency `gateway simulate` assumes (default: per provider type).",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _resolve_defaults(self) -> BackendSpec:
        if self.type == "emulator":
            if self.profile is None:
                raise ValueError("type emulator needs a profile (vllm, sglang, novita, fireworks, deepseek)")
            if self.base_url is None:
                raise ValueError("type emulator needs a base_url")
        elif self.profile is not None or self.emulator is not None:
            raise ValueError("profile and emulator apply only to type emulator")
        if self.deployment is not None:
            if self.provider_type not in SIMULATED_SELF_HOSTED_TYPES:
                raise ValueError(f"deployment applies only to vllm and sglang backends, not {self.provider_type}")
            self.deployment = self.deployment.with_engine(self.provider_type)
        if self.simulate is not None and self.self_hosted:
            raise ValueError("simulate applies only to managed backends; a self-hosted one is timed by its deployment")
        if self.base_url is None:
            self.base_url = DEFAULT_BASE_URLS.get(self.type)
            if self.base_url is None:
                raise ValueError(f"type {self.type} has no default base_url; set base_url")
        family = family_spec(self.family)
        if self.thinking is None:
            self.thinking = family.thinking if family else False
        if self.thinking_with_tools is None:
            self.thinking_with_tools = family.thinks_with_tools if family else self.thinking
        if self.context_window is None:
            listed = None if self.self_hosted else litellm_price(self.provider_type, self.model)
            if listed is not None and listed.context_window:
                self.context_window = listed.context_window
            elif family is not None:
                self.context_window = family.context_window_tokens
        return self

    @property
    def provider_type(self) -> str:
        """The upstream this backend behaves like: its type, or its profile for an emulator."""
        return self.profile if self.type == "emulator" and self.profile else self.type

    @property
    def self_hosted(self) -> bool:
        """Runs on our own GPUs (priced at marginal cost), not a per-token provider."""
        return self.provider_type in SELF_HOSTED_TYPES


class ModelAliasSpec(_Spec):
    """A name clients send as `model`."""

    thinking: bool | Literal["auto"] | None = Field(
        None,
        description="Asking for this model means thinking on/off; auto: detected from the request's content "
        "when the request gives no explicit signal (see thinking_detection).",
    )
    family: str | None = Field(None, description="Only backends of this family may serve it.")
    description: str | None = Field(None, description="Shown in GET /v1/models.")


class ComparisonSpec(_Spec):
    """Numeric test; every bound given must hold."""

    gt: float | None = Field(None, description="Matches above this value.")
    gte: float | None = Field(None, description="Matches at or above this value.")
    lt: float | None = Field(None, description="Matches below this value.")
    lte: float | None = Field(None, description="Matches at or below this value.")

    @model_validator(mode="after")
    def _at_least_one(self) -> ComparisonSpec:
        if self.gt is None and self.gte is None and self.lt is None and self.lte is None:
            raise ValueError("give at least one of gt, gte, lt, lte")
        return self


class WhenSpec(_Spec):
    """Conditions on the request; all must hold. Absent or empty matches every request."""

    model: str | list[str] | None = Field(None, description="The alias (or aliases) the client asked for.")
    thinking: bool | None = Field(None, description="Whether the request needs thinking (header, body, alias or detected).")
    input_tokens: ComparisonSpec | None = Field(None, description="The prompt's estimated token count.")
    max_tokens: ComparisonSpec | None = Field(None, description="The client's max_tokens (or max_completion_tokens).")
    tools: bool | None = Field(None, description="Whether the request carries tools.")
    stream: bool | None = Field(None, description="Whether the client asked for a stream.")
    response_format: ResponseFormatType | list[ResponseFormatType] | None = Field(None, description="The request's response_format type.")
    key_tags: list[str] | None = Field(None, description="The calling key has all these tags.")
    header: dict[str, str] | None = Field(None, description="Header name (any case) -> exact value.")
    budget_remaining_usd: ComparisonSpec | None = Field(
        None, description="The calling key's remaining budget in USD."
    )

    def is_catch_all(self) -> bool:
        return not self.model_dump(exclude_none=True)


class SloSpec(_Spec):
    """Latency targets: candidates observed above them are dropped, unless that drops all."""

    ttft_p95_ms: PositiveFloat | None = Field(None, description="Longest observed p95 time to first token a candidate may have.")
    tpot_p95_ms: PositiveFloat | None = Field(None, description="Longest observed p95 time per output token a candidate may have.")


AFFINITY_KEY_PATTERN = re.compile(r"^(prefix|user|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$")
"""`prefix`, `user`, or `header:<name>` with an HTTP header name (RFC 9110 token characters)."""


class AffinitySpec(_Spec):
    """Send requests with the same key to the backend that served that key last (its prefix cache,
    or its cached-input price), while it is healthy and not saturated (policies.affinity)."""

    key: str = Field(
        "prefix",
        description="What identifies a conversation: `prefix` (a hash of the first `prefix_messages` messages, "
        "ending at the first user message, and the tools), `header:<name>` (a request header such as "
        "`header:x-session-id`), or `user` (the body's `user`; Anthropic's `metadata.user_id`).",
    )
    prefix_messages: Annotated[int, Field(ge=1, le=64)] = Field(
        2, description="key: prefix only: how many leading messages the hash covers (2: system prompt and first user turn).",
    )
    ttl_s: Annotated[float, Field(gt=0, le=30 * 86400)] = Field(
        600.0, description="Seconds a key is remembered after the last request that used it.",
    )
    max_waiting: Annotated[int, Field(ge=0)] = Field(
        8, description="The remembered backend is skipped (the key moves) while its engine queue "
        "(vllm:num_requests_waiting / sglang:num_queue_reqs) holds at least this many requests.",
    )
    max_kv_usage: Annotated[float, Field(gt=0, le=1)] = Field(
        0.95, description="The remembered backend is skipped while its KV-cache usage is at least this fraction.",
    )

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str) -> str:
        if not AFFINITY_KEY_PATTERN.match(value):
            raise ValueError("key must be prefix, user or header:<name> (an HTTP header name, e.g. header:x-session-id)")
        return value


class RouteSpec(_Spec):
    """One rule: when it matches, which backends to try and how to order them."""

    name: Name = Field(description="Shown in x-switchyard-route, the ledger and metrics.")
    when: WhenSpec | None = Field(None, description="Conditions, all of which must hold; none: the route matches every request.")
    use: list[str] = Field(min_length=1, description="Candidate backends, by name.")
    prefer: str = Field("order", json_schema_extra={"enum": list(STRATEGY_NAMES)}, description="How the kept candidates are ordered: a strategy of policies/strategies/.")
    weights: dict[str, NonNegativeFloat] | None = Field(None, description="prefer: weighted only.")
    slo: SloSpec | None = Field(None, description="Drop candidates whose observed p95 latency misses these targets.")
    max_usd_per_mtok: PositiveFloat | None = Field(
        None, description="Drop candidates whose blended price for this request exceeds it."
    )
    affinity: AffinitySpec | None = Field(
        None, description="Keep a conversation on the backend that served it last (prefix cache, cached-input price).",
    )

    def is_catch_all(self) -> bool:
        return self.when is None or self.when.is_catch_all()


class CircuitBreakerSpec(_Spec):
    """Stop sending to a backend that keeps failing; after a cool-down let one trial through.

    Opens when both hold: the last `consecutive_failures` attempts failed, and of the last
    `window_attempts` attempts (at least `minimum_attempts` of them seen) a share of at least
    `failure_rate_threshold` failed. The rate gate (resilience4j's failureRateThreshold with
    minimumNumberOfCalls) keeps a burst of fast failures from opening the circuit of a backend
    that mostly works; with the defaults a dead backend opens within 10 to 15 failed attempts, and
a 5%-faulty one whose failures finish in bursts of several at a time (measured in
tests/gateway/test_circuit.py) does not open.
    """

    enabled: bool = Field(True, description="Whether failing backends are taken out of rotation.")
    consecutive_failures: Annotated[int, Field(ge=1)] = Field(
        5, description="Failed attempts in a row (client errors and disconnects not counted) needed to open the circuit."
    )
    cooldown_s: PositiveFloat = Field(
        30.0, description="Seconds the circuit stays open before one trial request may go (half-open)."
    )
    failure_rate_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.5, description="Share of failed attempts in the window needed to open the circuit."
    )
    window_attempts: Annotated[int, Field(ge=1)] = Field(
        30, description="How many of the most recent attempts the failure rate is computed over."
    )
    minimum_attempts: Annotated[int, Field(ge=1)] = Field(
        15, description="Attempts the window must hold before the failure rate may open the circuit."
    )

    @model_validator(mode="after")
    def _window_holds_the_minimum(self) -> CircuitBreakerSpec:
        if self.minimum_attempts > self.window_attempts:
            raise ValueError(
                f"minimum_attempts {self.minimum_attempts} > window_attempts {self.window_attempts}: the circuit could never open"
            )
        return self


class FallbackSpec(_Spec):
    """Which upstream failures move on to the next candidate, and how many tries in all."""

    on: list[FailureKind] = Field(
        default_factory=lambda: ["connect_error", "timeout", "rate_limited", "server_error"], description="Failure kinds that move on to the next backend of the chain."
    )
    max_attempts: Annotated[int, Field(ge=1)] = Field(3, description="Most backends tried for one request (the chain is cut to this).")
    circuit_breaker: CircuitBreakerSpec = Field(default_factory=CircuitBreakerSpec, description="When a failing backend is dropped, and how it comes back.")


class BudgetSpec(_Spec):
    """Spending caps for one client key, in USD."""

    daily_usd: NonNegativeFloat | None = Field(None, description="Spend allowed per UTC day.")
    monthly_usd: NonNegativeFloat | None = Field(None, description="Spend allowed per UTC month.")
    total_usd: NonNegativeFloat | None = Field(None, description="Spend allowed in all.")


class KeySpec(_Spec):
    """A client API key, stored only as its SHA-256 hex digest."""

    name: Name = Field(description="Written to the ledger, metrics and logs in place of the key.")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="Lower-case hex SHA-256 of the key; quote it in YAML so digits stay a string."
    )
    tags: list[str] = Field(default_factory=list, description="Matched by a route's when.key_tags.")
    budgets: BudgetSpec | None = Field(None, description="Spend limits of this key.")
    rpm: Annotated[int, Field(ge=1)] | None = Field(None, description="Requests per minute.")
    tpm: Annotated[int, Field(ge=1)] | None = Field(None, description="Tokens per minute.")


class ThinkingDetectionSpec(_Spec):
    """How requests to a `thinking: auto` model alias are judged (policies.thinking_detector)."""

    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.5,
        description="A detected score at or above this means thinking on. Lower it to catch more hard requests "
        "(recall), raise it to think less often (precision); benchmarks/thinking_detection.py prints the table.",
    )


class Policy(_Spec):
    """A whole routing policy file."""

    version: Literal[1] = Field(description="Format version of the file: 1.")
    backends: dict[Name, BackendSpec] = Field(min_length=1, description="Upstreams, by the name routes use.")
    models: dict[ModelName, ModelAliasSpec] = Field(
        min_length=1, description="Names clients send as `model`; a glob pattern (claude-*) matches many, an exact name wins.")
    routes: list[RouteSpec] = Field(min_length=1, description="Tried in order; the first whose when matches decides.")
    fallback: FallbackSpec = Field(default_factory=FallbackSpec, description="What happens when an attempt fails.")
    keys: list[KeySpec] = Field(default_factory=list, description="Client keys by SHA-256 digest, with tags and budgets.")
    thinking_detection: ThinkingDetectionSpec = Field(default_factory=ThinkingDetectionSpec, description="The detector behind `thinking: auto` aliases.")

    _compiled: Any = PrivateAttr(default=None)  # policies.compiled.CompiledPolicy, built on first use
    _aliases: Any = PrivateAttr(default=None)  # policies.model_aliases.AliasTable, built on first use
