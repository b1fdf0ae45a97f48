"""How `prefer: latency` shares first picks between backends, and how fast it leaves one that slows down.

    .venv/bin/python benchmarks/latency_exploration.py

Prints (both seeded, so the figures repeat exactly):
1. the share of first picks over 4000 decisions for a few states of three candidates (median TTFT,
   and how many responses' worth of evidence each has): a known-slow backend, a stale one, an
   untried one;
2. the engine and the in-memory state store replayed on an injected clock, two backends at 150 and
   10 ms: how many of 30 requests leave the 10 ms one after it slows to 400 ms (20 seeds), and the
   share a 15x slower backend gets over 600 requests.
"""

from __future__ import annotations

import random
from collections import Counter

from backends.usage import Usage
from gateway.outcomes import AttemptOutcome
from gateway.state.memory import MemoryStateStore
from policies.engine import decide
from policies.features import RequestFeatures
from policies.latency_posterior import LogLatencyStats
from policies.loader import parse_policy_text
from policies.state import BackendState

DRAWS = 4000
STREAMED = RequestFeatures(model="auto", max_tokens=100, stream=True)


def _policy(names: list[str]):
    backends = "\n".join(f'  {n}: {{type: vllm, base_url: "http://127.0.0.1:{i + 1}/v1", model: m, family: deepseek-v3.2}}'
                         for i, n in enumerate(names))
    return parse_policy_text(f"version: 1\nbackends:\n{backends}\nmodels: {{auto: {{}}}}\n"
                             f"routes:\n  - {{name: r, use: [{', '.join(names)}], prefer: latency}}\n", "bench.yaml")


def _known(median_ms: float, responses: float) -> BackendState:
    return BackendState(ttft_stats=LogLatencyStats.point(median_ms, responses))


def shares() -> None:
    policy = _policy(["a", "b", "c"])
    states = {
        "150 ms (3), 10 ms (3), 12 ms (3)": {"a": _known(150, 3), "b": _known(10, 3), "c": _known(12, 3)},
        "150 ms stale (0.2), 10 ms (3), 150 ms (3)": {"a": _known(150, 0.2), "b": _known(10, 3), "c": _known(150, 3)},
        "150 ms (3), 10 ms (3), untried": {"a": _known(150, 3), "b": _known(10, 3)},
        "100 ms (3), 100 ms (3), untried": {"a": _known(100, 3), "b": _known(100, 3)},
        "nothing observed": {},
    }
    print(f"first picks over {DRAWS} decisions (a, b, c)")
    for label, snapshot in states.items():
        rng = random.Random(1)
        firsts = Counter(decide(policy, STREAMED, snapshot, rng=rng).chain[0] for _ in range(DRAWS))
        print(f"  {label:44s} " + "  ".join(f"{firsts[n] / DRAWS:6.1%}" for n in "abc"))


class _Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def _serve(requests: int, ttft_ms: dict[str, float], store: MemoryStateStore, clock: _Clock, rng: random.Random) -> list[str]:
    policy = _policy(["slow", "fast"])
    features = RequestFeatures(model="auto", max_tokens=8, stream=True)
    served = []
    for _ in range(requests):
        backend = decide(policy, features, store.snapshot(), rng=rng).chain[0]
        clock.now_s += ttft_ms[backend] / 1000
        store.attempt_started(backend)
        store.record(AttemptOutcome(
            request_id="r", attempt=1, backend=backend, route="r", upstream_model="m", streamed=True, ok=True, status=200,
            error_kind=None, latency_ms=ttft_ms[backend], ttft_ms=ttft_ms[backend],
            usage=Usage(prompt_tokens=10, cached_tokens=0, completion_tokens=8), cost_usd=None, started_at=0.0))
        served.append(backend)
    return served


def adaptation() -> None:
    left, back = [], []
    for seed in range(20):
        clock = _Clock()
        store, rng = MemoryStateStore(clock=clock), random.Random(seed)
        _serve(30, {"slow": 150.0, "fast": 10.0}, store, clock, rng)
        left.append(_serve(30, {"slow": 150.0, "fast": 400.0}, store, clock, rng).count("slow"))
        recovered = "".join(b[0] for b in _serve(200, {"slow": 150.0, "fast": 10.0}, store, clock, rng))
        back.append(recovered.find("fffff") + 1)  # requests until it serves five in a row again (0: never)
    print(f"after 10 -> 400 ms (other at 150 ms), of the next 30 requests leaving it, 20 seeds: "
          f"min {min(left)}, mean {sum(left) / len(left):.1f}, max {max(left)}")
    print(f"back at 10 ms without a pause: requests until it serves five in a row again, 20 seeds: "
          f"min {min(back)}, median {sorted(back)[10]}, max {max(back)}")
    clock = _Clock()
    served = _serve(600, {"slow": 150.0, "fast": 10.0}, MemoryStateStore(clock=clock), clock, random.Random(11))
    print(f"a 15x slower backend's share of requests 31-600: {served[30:].count('slow') / 570:.1%}")


if __name__ == "__main__":
    shares()
    adaptation()
