"""What `gateway simulate` reports, per policy, and its side-by-side text form.

The `--json` contract (keys may be added, never renamed):
`{"policies": [{"config", "requests", "served", "failed", "spill_share",
"cost_usd": {"total", "self_hosted", "managed"}, "ttft_ms": {"p50", "p95", "p99"},
"tpot_ms": {"p50", "p95", "p99"}, "slo_violations",
"backends": {NAME: {"requests", "input_tokens", "output_tokens", "cached_tokens", "cost_usd"}}}]}`.
`spill_share` is the share of served requests that managed backends served. Self-hosted cost is
the GPU-hours of the trace's span (`cost.gpu_hourly_usd` x GPUs, else the planner catalog's GPU
price) plus any `cost.marginal_usd_per_mtok`; managed cost is tokens x the backend's prices, cached
input at the cached price.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from planner.simulate.stats import Percentiles

__all__ = ["BackendReport", "CostSplit", "PolicyReport", "SimulationReport", "TimelinePoint", "TraceSummary",
           "render_side_by_side"]


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CostSplit(_Report):
    """USD over the trace's span."""

    total: float
    self_hosted: float
    managed: float


class BackendReport(_Report):
    """One backend's share of the traffic."""

    requests: int = Field(description="Requests it served.")
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    self_hosted: bool
    attempts: int = Field(description="Attempts sent to it, failed ones included.")
    failed_attempts: int


class TimelinePoint(_Report):
    """One slice of the trace, by arrival time: cumulative cost and that slice's p95 TTFT."""

    t_s: float = Field(description="End of the slice, seconds from the trace's start.")
    cost_usd: float = Field(description="Cost so far: managed spend of requests arrived by then + GPU time.")
    ttft_p95_ms: float | None
    requests: int


class PolicyReport(_Report):
    """One policy replayed over the trace."""

    config: str
    requests: int
    served: int
    failed: int
    spill_share: float
    cost_usd: CostSplit
    ttft_ms: Percentiles
    tpot_ms: Percentiles
    slo_violations: int = Field(description="Served requests over their route's slo (or --slo-*-ms).")
    backends: dict[str, BackendReport]
    failures: dict[str, int] = Field(description="Failed requests by reason.")
    span_s: float
    simulated_in_s: float = Field(description="Wall-clock seconds the simulation took.")
    simulated_cpu_s: float = Field(description="CPU seconds the simulation took.")
    timeline: list[TimelinePoint]


class TraceSummary(_Report):
    """The trace that was replayed."""

    source: str
    requests: int
    span_s: float
    mean_input_tokens: float
    mean_output_tokens: float
    skipped: int = 0


class SimulationReport(_Report):
    """What `gateway simulate --json` prints."""

    trace: TraceSummary
    policies: list[PolicyReport]


def _pct(p: Percentiles) -> str:
    if p.p50 is None:
        return "-"
    return f"{p.p50:,.0f} / {p.p95:,.0f} / {p.p99:,.0f}"


def _rows(report: PolicyReport) -> list[tuple[str, str]]:
    cost = report.cost_usd
    rows = [
        ("requests", f"{report.requests:,}"),
        ("served / failed", f"{report.served:,} / {report.failed:,}"),
        ("spill share (managed)", f"{report.spill_share:.1%}"),
        ("cost USD total", f"{cost.total:,.2f}"),
        ("  self-hosted (GPU time)", f"{cost.self_hosted:,.2f}"),
        ("  managed (tokens)", f"{cost.managed:,.2f}"),
        ("TTFT ms p50 / p95 / p99", _pct(report.ttft_ms)),
        ("TPOT ms p50 / p95 / p99", _pct(report.tpot_ms)),
        ("SLO violations", f"{report.slo_violations:,}"),
    ]
    return rows


def _backend_cell(b: BackendReport | None) -> str:
    if b is None or (b.requests == 0 and b.attempts == 0):
        return "-"
    failed = f" ({b.failed_attempts:,} failed attempts)" if b.failed_attempts else ""
    tokens = f"{_mega(b.input_tokens)} in / {_mega(b.output_tokens)} out"
    return f"{b.requests:,} req{failed}, {tokens}, {b.cost_usd:,.2f} USD"


def _mega(tokens: int) -> str:
    return f"{tokens / 1e6:.1f}M" if tokens >= 100_000 else f"{tokens / 1e3:.0f}k"


def render_side_by_side(report: SimulationReport) -> str:
    """The table `gateway simulate` prints: one column per policy."""
    trace = report.trace
    rate = trace.requests / trace.span_s if trace.span_s else 0.0
    head = (f"trace {trace.source}: {trace.requests:,} requests over {trace.span_s:,.0f} s ({rate:.3g} req/s), "
            f"mean {trace.mean_input_tokens:,.0f} input / {trace.mean_output_tokens:,.0f} output tokens")
    if trace.skipped:
        head += f" ({trace.skipped:,} skipped)"
    names = [p.config for p in report.policies]
    table: list[tuple[str, list[str]]] = []
    for index, (label, _) in enumerate(_rows(report.policies[0])):
        table.append((label, [_rows(p)[index][1] for p in report.policies]))
    backends: list[str] = []
    for p in report.policies:
        backends += [name for name in p.backends if name not in backends]
    for name in backends:
        table.append((f"backend {name}", [_backend_cell(p.backends.get(name)) for p in report.policies]))
    for p in report.policies:
        for reason, count in p.failures.items():
            label = f"failed: {reason}"
            if all(row[0] != label for row in table):
                table.append((label, [f"{q.failures.get(reason, 0):,}" for q in report.policies]))
    label_width = max(len(label) for label, _ in table)
    widths = [max(len(names[i]), *(len(cells[i]) for _, cells in table)) for i in range(len(names))]
    lines = [head, " " * label_width + "  " + "  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip()]
    for label, cells in table:
        lines.append(label.ljust(label_width) + "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    return "\n".join(lines) + "\n"
