"""`gateway simulate --plot FILE.png`: cost so far and p95 TTFT over the trace, one line per policy.

matplotlib is the optional `plot` extra (`pip install 'switchyard[plot]'`), imported only here.
"""

from __future__ import annotations

from gateway.errors import CliError
from gateway.simulate.report import SimulationReport

__all__ = ["render_simulation_plot", "INSTALL_HINT"]

INSTALL_HINT = "--plot needs matplotlib: pip install 'switchyard[plot]'"


def render_simulation_plot(report: SimulationReport, path: str) -> None:
    """Two panels sharing the time axis: cumulative cost (USD) and p95 TTFT (ms) per slice."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise CliError(INSTALL_HINT) from exc
    figure, (cost_axis, ttft_axis) = plt.subplots(2, 1, figsize=(9.0, 7.0), sharex=True)
    for policy in report.policies:
        minutes = [point.t_s / 60 for point in policy.timeline]
        cost_axis.plot(minutes, [point.cost_usd for point in policy.timeline], linewidth=1.8, label=policy.config)
        ttft = [(m, p.ttft_p95_ms) for m, p in zip(minutes, policy.timeline) if p.ttft_p95_ms is not None]
        ttft_axis.plot([m for m, _ in ttft], [v for _, v in ttft], linewidth=1.4, marker=".", label=policy.config)
    cost_axis.set_ylabel("cost so far (USD)")
    cost_axis.set_title(f"gateway simulate: {report.trace.requests:,} requests from {report.trace.source}")
    ttft_axis.set_ylabel("p95 TTFT (ms)")
    ttft_axis.set_xlabel("minutes into the trace")
    for axis in (cost_axis, ttft_axis):
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=110)
    except OSError as exc:
        raise CliError(f"cannot write plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)
