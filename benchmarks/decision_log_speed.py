"""What keeping each request's routing decision costs on the request path (`DecisionLog.remember`).

    python benchmarks/decision_log_speed.py

Prints nanoseconds per call with the log full (every call also drops the oldest entry), beside
an empty Python call on the same machine for scale.
"""

from __future__ import annotations

import timeit

from gateway.decision_log import DecisionLog
from policies.decision import CandidateVerdict, Decision

CALLS = 200_000


def main() -> None:
    decision = Decision(route="default", chain=["local", "managed"], thinking=None,
                        candidates=[CandidateVerdict("local", True, "rank 1 by cost", 0.0),
                                    CandidateVerdict("managed", True, "rank 2 by cost", 1e-5)])
    log = DecisionLog()
    ids = iter([f"req_{i:024x}" for i in range(CALLS + log.capacity)])
    for _ in range(log.capacity):
        log.remember(next(ids), decision)
    remember_ns = timeit.timeit(lambda: log.remember(next(ids), decision), number=CALLS) / CALLS * 1e9
    empty_ns = timeit.timeit(lambda: None, number=CALLS) / CALLS * 1e9
    print(f"DecisionLog.remember: {remember_ns:.0f} ns per request (log full at {log.capacity}); an empty call: {empty_ns:.0f} ns")


if __name__ == "__main__":
    main()
