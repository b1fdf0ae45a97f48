"""`decide`: the pure routing function. Request features + a snapshot of backend state in, an
ordered fallback chain with reasons out. No I/O, no clock, randomness only from `rng`.

Steps: match the first route whose `when` holds; drop candidates that cannot serve the request
(`policies.filters`), except that when every candidate would be dropped only for its open circuit,
all are kept (panic mode, `Decision.panic`); apply the route's `slo` and `max_usd_per_mtok`; order the
rest with the route's `prefer` strategy; with `affinity:`, move the backend that served this request's
key last to the front when it is healthy and not saturated (`policies.affinity`); cut the chain to
`fallback.max_attempts`.
"""

from __future__ import annotations

import random

from policies.affinity import AffinityLookup, AffinityVerdict, honour_affinity
from policies.candidate import Candidate, RankContext
from policies.compiled import CompiledBackend, CompiledRoute, compiled
from policies.decision import CandidateVerdict, Decision
from policies.errors import NoCandidateError, NoRouteError, UnknownModelError
from policies.features import RequestFeatures
from policies.latency_posterior import LogLatencyStats
from policies.model_aliases import alias_table
from policies.filters import CIRCUIT_OPEN, FILTERS, only_circuit_open
from policies.schema import ModelAliasSpec, Policy
from policies.state import UNKNOWN_STATE, BackendState, StateSnapshot

__all__ = ["decide", "matched_route", "uses_affinity", "expected_output_tokens", "DEFAULT_OUTPUT_TOKENS"]

DEFAULT_OUTPUT_TOKENS = 512
"""Expected output when the request sets no max_tokens and no backend of the route has an
observed average yet: a typical chat answer; replaced by observations as soon as there are some."""

_default_rng = random.Random()
TOKENS_PER_MTOK = 1_000_000


def expected_output_tokens(features: RequestFeatures, route: CompiledRoute, snapshot: StateSnapshot) -> int:
    """max_tokens when set, else the mean observed output of the route's backends, else 512."""
    if features.max_tokens is not None:
        return features.max_tokens
    observed = [
        state.avg_output_tokens
        for backend in route.backends
        if (state := snapshot.get(backend.name)) is not None and state.avg_output_tokens is not None
    ]
    return round(sum(observed) / len(observed)) if observed else DEFAULT_OUTPUT_TOKENS


def _expected_cached_tokens(
    backend: CompiledBackend, state: BackendState, input_tokens: int, affinity: AffinityLookup | None
) -> float:
    """Input tokens expected to be billed (and served) as cached on `backend`.

    With a remembered backend for this request's affinity key: there, the prompt before the last
    message (`AffinityLookup.cached_share`), which it cached serving the previous turn; elsewhere
    none, since no other backend has seen this conversation. Otherwise the backend's observed
    cache-hit ratio (`BackendState.cache_hit_ratio`).
    """
    if affinity is not None and affinity.remembered is not None:
        return input_tokens * affinity.cached_share if backend.name == affinity.remembered else 0.0
    return input_tokens * state.cache_hit_ratio if state.cache_hit_ratio else 0.0


def _expected_cost_usd(
    backend: CompiledBackend, state: BackendState, input_tokens: int, output_tokens: int, cached_tokens: float = 0.0
) -> float | None:
    if backend.price is None:
        return None
    return round(backend.price.cost_usd(input_tokens, output_tokens, cached_tokens), 12)


def _p95(percentile_ms: float | None, stats: LogLatencyStats | None) -> float | None:
    """The window's p95, else the one the latency statistics imply (a snapshot given only those)."""
    if percentile_ms is not None or stats is None:
        return percentile_ms
    return stats.p95_ms


def _over_slo(route: CompiledRoute, state: BackendState) -> str | None:
    """Over the route's SLO on the figures `prefer: latency` learns from (the same windows, non-streamed
    answers' first-token parts included)."""
    ttft, tpot = _p95(state.ttft_p95_ms, state.ttft_stats), _p95(state.tpot_p95_ms, state.tpot_stats)
    if route.slo_ttft_p95_ms is not None and ttft is not None and ttft > route.slo_ttft_p95_ms:
        return f"ttft_p95 {ttft:.0f} ms > slo {route.slo_ttft_p95_ms:.0f} ms"
    if route.slo_tpot_p95_ms is not None and tpot is not None and tpot > route.slo_tpot_p95_ms:
        return f"tpot_p95 {tpot:.1f} ms > slo {route.slo_tpot_p95_ms:.1f} ms"
    return None


def _over_price_ceiling(route: CompiledRoute, candidate: Candidate, total_tokens: int) -> str | None:
    ceiling = route.max_usd_per_mtok
    if ceiling is None:
        return None
    if candidate.expected_cost_usd is None:
        return f"no known price to hold to max_usd_per_mtok {ceiling:g}"
    blended = candidate.expected_cost_usd / max(total_tokens, 1) * TOKENS_PER_MTOK
    if blended > ceiling:
        return f"blended price {blended:.3f} USD/Mtok > max_usd_per_mtok {ceiling:g}"
    return None


def _first_filter_reason(
    backend: CompiledBackend, state: BackendState, features: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    for check in FILTERS:
        reason = check(backend, state, features, alias)
        if reason is not None:
            return reason
    return None


def _apply_slo(
    route: CompiledRoute, survivors: list[Candidate], dropped: list[CandidateVerdict]
) -> tuple[list[Candidate], dict[str, str]]:
    """Drop candidates over the SLO unless that drops all; then keep all with a note each."""
    slow = {c.name: why for c in survivors if (why := _over_slo(route, c.state)) is not None}
    if len(slow) == len(survivors):
        return survivors, {name: f"; over SLO ({why}) but kept: every candidate is" for name, why in slow.items()}
    for candidate in survivors:
        if candidate.name in slow:
            reason = f"over SLO: {slow[candidate.name]}"
            dropped.append(CandidateVerdict(candidate.name, False, reason, candidate.expected_cost_usd))
    return [c for c in survivors if c.name not in slow], {}


def _apply_price_ceiling(
    route: CompiledRoute, survivors: list[Candidate], dropped: list[CandidateVerdict], total_tokens: int
) -> list[Candidate]:
    kept = []
    for candidate in survivors:
        reason = _over_price_ceiling(route, candidate, total_tokens)
        if reason is None:
            kept.append(candidate)
        else:
            dropped.append(CandidateVerdict(candidate.name, False, reason, candidate.expected_cost_usd))
    return kept


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _latency_note(candidate: Candidate) -> str | None:
    """`expected 12 ms, drew 11 ms; exploration pick` for a latency-ranked candidate, else None."""
    if candidate.latency_ms is None or candidate.sampled_latency_ms is None:
        return None
    explored = "; exploration pick" if candidate.exploration else ""
    return f"expected {_ms(candidate.latency_ms)} ms, drew {_ms(candidate.sampled_latency_ms)} ms{explored}"


PANIC_NOTE = f"; {CIRCUIT_OPEN}, tried anyway: every candidate's circuit is open"


def _match(routes: tuple[CompiledRoute, ...], features: RequestFeatures) -> CompiledRoute | None:
    for route in routes:
        if route.matches(features):
            return route
    return None


def matched_route(policy: Policy, features: RequestFeatures) -> CompiledRoute | None:
    """The route `decide` would use for these features (the first whose `when` holds), or None."""
    return _match(compiled(policy).routes, features)


def uses_affinity(policy: Policy) -> bool:
    """Some route of `policy` has `affinity:` (so the gateway has keys to look up)."""
    return compiled(policy).has_affinity


def decide(
    policy: Policy,
    features: RequestFeatures,
    snapshot: StateSnapshot,
    rng: random.Random | None = None,
) -> Decision:
    """The ordered backends to try for this request, and why each was kept or dropped.

    Raises UnknownModelError (404) for a model not in `models`, NoRouteError when no route
    matches, NoCandidateError (503, with every backend's reason) when all are filtered out.
    """
    plan = compiled(policy)
    resolved = alias_table(policy).resolve(features.model)
    if resolved is None:
        raise UnknownModelError(features.model, plan.model_names)
    alias = resolved[1]
    route = _match(plan.routes, features)
    if route is None:
        names = ", ".join(r.name for r in plan.routes)
        raise NoRouteError(f"no route matches this request (routes: {names})")

    output_tokens = expected_output_tokens(features, route, snapshot)
    affinity = features.affinity if route.affinity is not None else None
    dropped: list[CandidateVerdict] = []
    survivors: list[Candidate] = []
    circuit_only: list[Candidate] = []
    for backend in route.backends:
        state = snapshot.get(backend.name, UNKNOWN_STATE)
        cached = _expected_cached_tokens(backend, state, features.input_tokens, affinity)
        cost = _expected_cost_usd(backend, state, features.input_tokens, output_tokens, cached)
        reason = _first_filter_reason(backend, state, features, alias)
        if reason is None:
            survivors.append(Candidate(backend, state, cost))
        else:
            dropped.append(CandidateVerdict(backend.name, False, reason, cost))
            if reason == CIRCUIT_OPEN and only_circuit_open(backend, state, features, alias):
                circuit_only.append(Candidate(backend, state, cost))
    notes: dict[str, str] = {}
    panic = not survivors and bool(circuit_only) and len(circuit_only) == len(dropped)
    if panic:  # Envoy's panic threshold: refusing everything helps nobody, and the circuits may be stale
        survivors, notes, dropped = circuit_only, dict.fromkeys((c.name for c in circuit_only), PANIC_NOTE), []
    if survivors and (route.slo_ttft_p95_ms is not None or route.slo_tpot_p95_ms is not None):
        survivors, slo_notes = _apply_slo(route, survivors, dropped)
        notes = {name: notes.get(name, "") + slo_notes.get(name, "") for name in {*notes, *slo_notes}}
    if route.max_usd_per_mtok is not None:
        survivors = _apply_price_ceiling(route, survivors, dropped, features.input_tokens + output_tokens)
    if not survivors:
        raise NoCandidateError(route.name, [(verdict.backend, verdict.reason) for verdict in dropped])

    context = RankContext(features, output_tokens, route.weights, rng or _default_rng)
    ranked = route.strategy.rank(survivors, context)
    strategy, limit = route.strategy.name, plan.max_attempts
    affinity_verdict = None
    if route.affinity is not None:
        ranked, affinity_verdict = honour_affinity(
            route.affinity, affinity, ranked, {v.backend: v.reason for v in dropped}, strategy)
    verdicts = [
        CandidateVerdict(
            c.name,
            rank <= limit,
            f"rank {rank} by {_ranked_by(c, strategy, affinity_verdict, rank)}{notes.get(c.name, '')}"
            + ("" if rank <= limit else f"; beyond fallback.max_attempts {limit}"),
            c.expected_cost_usd,
            c.latency_ms,
            c.sampled_latency_ms,
            c.exploration,
        )
        for rank, c in enumerate(ranked, start=1)
    ]
    return Decision(
        route=route.name,
        chain=[c.name for c in ranked[:limit]],
        candidates=verdicts + dropped,
        thinking=features.thinking,
        strategy=strategy,
        input_tokens=features.input_tokens,
        expected_output_tokens=output_tokens,
        panic=panic,
        thinking_source=features.thinking_source,
        thinking_score=features.thinking_score,
        exploration=bool(ranked) and ranked[0].exploration,
        affinity=affinity_verdict,
    )


def _ranked_by(candidate: Candidate, strategy: str, affinity: AffinityVerdict | None, rank: int) -> str:
    """`strategy`, with the figure it ranked `candidate` by, or `affinity` for a remembered backend moved first."""
    note = candidate.rank_note or _latency_note(candidate)
    figure = "" if note is None else f": {note}"
    if rank == 1 and affinity is not None and affinity.honoured:
        return f"affinity, it served this key last ({strategy}{figure})"
    return strategy if note is None else f"{strategy} ({note})"
