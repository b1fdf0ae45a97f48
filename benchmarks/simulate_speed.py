"""How long `gateway simulate` takes: one hour of traffic at 50 requests/s against two policies.

Usage: .venv/bin/python benchmarks/simulate_speed.py [--duration-s 3600] [--rps 50] [--jobs N]
       [--config policies/default.yaml --config policies/cost-first.yaml]

Generates the trace in memory (seeded), then times the simulation of every policy over it, as
`gateway simulate` runs it (one process per policy when there are CPUs for it). Prints the trace,
the time to generate it, each policy's own simulation time (wall and CPU: on a shared machine the
wall time depends on what else runs; the load average is printed), the wall time of the whole
simulation and whether it is under the 30 s budget of issue 17 (exit 1 when over).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.simulate.runner import SimulationOptions  # noqa: E402
from gateway.simulate.session import load_policies, simulate_policies  # noqa: E402
from planner.trace import TraceShape, generate_trace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 30.0
DEFAULT_CONFIGS = [str(ROOT / "policies" / "default.yaml"), str(ROOT / "policies" / "cost-first.yaml")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--rps", type=float, default=50.0)
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: CPUs)")
    parser.add_argument("--config", action="append", default=None)
    args = parser.parse_args(argv)
    configs = args.config or DEFAULT_CONFIGS
    began = time.perf_counter()
    trace = generate_trace(TraceShape(duration_s=args.duration_s, rps=args.rps, seed=17))
    generated_s = time.perf_counter() - began
    print(f"trace: {len(trace):,} requests over {trace.span_s:,.0f} s (Poisson {args.rps:g} req/s, lognormal lengths), "
          f"generated in {generated_s:.1f} s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    policies = load_policies(configs)
    began = time.perf_counter()
    report = simulate_policies(policies, configs, trace, SimulationOptions(), args.jobs)
    wall_s = time.perf_counter() - began
    for policy in report.policies:
        print(f"  {Path(policy.config).name}: {policy.simulated_in_s:.1f} s wall, {policy.simulated_cpu_s:.1f} s CPU "
              f"({policy.simulated_cpu_s / max(policy.requests, 1) * 1e6:.0f} us CPU a request), "
              f"spill {policy.spill_share:.1%}, cost {policy.cost_usd.total:,.2f} USD")
    verdict = "ok" if wall_s < BUDGET_S else "OVER BUDGET"
    print(f"simulated {len(trace) * len(policies):,} request-replays ({len(policies)} policies) in {wall_s:.1f} s wall "
          f"(budget {BUDGET_S:g} s): {verdict}")
    return 0 if wall_s < BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
