"""Simulate several policies over one trace, each in its own process when there are cores for it.

Policies are independent replays of the same trace, so they run side by side: workers are forked
(the trace and the loaded policies are inherited, not copied through pipes) and each returns its
report. Where fork is unavailable, or with `jobs=1`, they run one after another. Loading happens
first, in this process, so a bad policy is reported before anything runs.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Mapping, Sequence

from gateway.simulate.report import PolicyReport, SimulationReport, TraceSummary
from gateway.simulate.runner import SimulationOptions, simulate_policy
from planner.trace.record import Trace
from policies.loader import load_policy
from policies.schema import Policy

__all__ = ["SimulationEnv", "load_policies", "simulate_policies", "trace_summary"]


class SimulationEnv(Mapping[str, str]):
    """The process environment, where unset variables read as empty: a simulation never calls a
    backend, so a policy's `${NOVITA_API_KEY}` need not be set to simulate it."""

    def __init__(self, base: Mapping[str, str] | None = None) -> None:
        self._base = os.environ if base is None else base

    def __getitem__(self, name: str) -> str:
        return self._base.get(name, "")

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


def load_policies(paths: Sequence[str]) -> list[Policy]:
    """Each policy file, validated; raises PolicyError (`FILE:LINE:COL: ...`) on the first bad one."""
    env = SimulationEnv()
    return [load_policy(path, env=env) for path in paths]


def trace_summary(trace: Trace) -> TraceSummary:
    n = len(trace.records) or 1
    return TraceSummary(
        source=trace.source, requests=len(trace.records), span_s=round(trace.span_s, 3),
        mean_input_tokens=round(sum(r.prompt_tokens for r in trace.records) / n, 1),
        mean_output_tokens=round(sum(r.output_tokens for r in trace.records) / n, 1), skipped=trace.skipped,
    )


_WORK: tuple[list[Policy], list[str], Trace, SimulationOptions] | None = None  # set before forking


def _simulate_one(index: int) -> dict:
    assert _WORK is not None
    policies, names, trace, options = _WORK
    return simulate_policy(policies[index], names[index], trace, options).model_dump()


def simulate_policies(policies: Sequence[Policy], names: Sequence[str], trace: Trace,
                      options: SimulationOptions, jobs: int | None = None) -> SimulationReport:
    """Every policy over `trace`, in the order given; `jobs` worker processes at most (default: CPUs)."""
    global _WORK
    jobs = min(len(policies), jobs or os.cpu_count() or 1)
    reports: list[PolicyReport]
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        _WORK = (list(policies), list(names), trace, options)
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                reports = [PolicyReport.model_validate(r) for r in pool.map(_simulate_one, range(len(policies)))]
        finally:
            _WORK = None
    else:
        reports = [simulate_policy(p, n, trace, options) for p, n in zip(policies, names)]
    return SimulationReport(trace=trace_summary(trace), policies=reports)
