"""`prefer: least_loaded`: the replica with the least work ahead of a new request first."""

from __future__ import annotations

from policies.candidate import Candidate, RankContext
from policies.state import BackendState

__all__ = ["LeastLoadedStrategy", "load_score"]


def load_score(state: BackendState) -> float:
    """score = (in_flight + waiting) x (1 + kv_usage); lower is less loaded.

    - `in_flight`: requests the gateway has open to the backend, summed over every gateway replica
      sharing the Redis state store (gateway.state.redis_store), exact for this replica's own. It is
      live, where a scrape is up to 2 s old, so it carries a burst that arrives between scrapes.
    - `waiting`: the engine's queue, `vllm:num_requests_waiting` / `sglang:num_queue_reqs`
      (gateway.live.scrape; plus requests opened since the scrape, gateway.state.memory). A queued
      request is counted again on top of `in_flight` when it is ours, and once when another client
      sent it: a queue means the engine is at its batch limit, and a new arrival waits for every
      queued prefill before its own starts, which costs far more than one more running sequence.
    - `kv_usage` (`vllm:kv_cache_usage_perc` / `sglang:token_usage`, 0..1): near 1 the engine
      preempts running sequences and recomputes them, so the same load is slower; it scales the load
      (up to 2x) rather than adding to it, so idle replicas stay tied whatever their KV usage.

    Unknown figures (no /metrics, failed scrape) count as 0: such a backend is ranked by in-flight
    requests alone, which is the classic least-requests balancer (Envoy LEAST_REQUEST).
    """
    waiting = state.waiting or 0
    kv_usage = min(max(state.kv_usage or 0.0, 0.0), 1.0)
    return (state.in_flight + waiting) * (1.0 + kv_usage)


class LeastLoadedStrategy:
    """Ranks by `load_score`, lowest first; equal scores in a random order drawn from `context.rng`.

    For several replicas of one self-hosted model. Ties are broken at random, never by `use` order:
    at low load every replica scores 0, and list order would send every such request to the first
    replica (and concurrent requests deciding on the same snapshot would pile onto it).
    """

    name = "least_loaded"

    def rank(self, candidates: list[Candidate], context: RankContext) -> list[Candidate]:
        scored = []
        for candidate in candidates:
            score = load_score(candidate.state)
            candidate.rank_note = _note(candidate.state, score)
            scored.append((score, context.rng.random(), candidate))
        scored.sort(key=lambda entry: (entry[0], entry[1]))
        return [candidate for _, _, candidate in scored]


def _note(state: BackendState, score: float) -> str:
    waiting = "?" if state.waiting is None else str(state.waiting)
    kv_usage = "?" if state.kv_usage is None else f"{state.kv_usage:.3f}"
    return f"load {score:.2f} = (in_flight {state.in_flight} + waiting {waiting}) x (1 + kv_usage {kv_usage})"
