"""`gateway explain --format text`: a decision as a few lines a person reads at a glance.

The JSON (`--format json`, the default) is the contract; this view is derived from it and may
change. One line for the route and chain, one for the thinking need, one for the affinity when the
route has one, then one line per candidate: its place in the chain (or `-` when it is not tried),
kept or dropped, expected cost and the reason, which carries the figure it was ranked by.
"""

from __future__ import annotations

from policies.decision import DecisionReport

__all__ = ["decision_text"]


def decision_text(report: DecisionReport) -> str:
    """The text view of `report` (see the module docstring), ending with a newline."""
    chain = " -> ".join(report.chain) or "(none)"
    lines = [f"route {report.route} (prefer: {report.strategy}): {chain}"]
    lines.append(f"{_thinking(report)}; {report.input_tokens} input tokens, {report.expected_output_tokens} "
                 f"expected output; exploration pick first: {'yes' if report.exploration else 'no'}")
    if report.affinity is not None:
        verdict = "honoured" if report.affinity.honoured else "not honoured"
        lines.append(f"affinity ({report.affinity.key}): {verdict}: {report.affinity.reason}")
    width = max((len(c.backend) for c in report.candidates), default=0)
    for candidate in report.candidates:
        place = str(report.chain.index(candidate.backend) + 1) if candidate.backend in report.chain else "-"
        cost = "       -     " if candidate.expected_cost_usd is None else f"{candidate.expected_cost_usd:.6f} USD"
        state = "kept   " if candidate.kept else "dropped"
        lines.append(f"  {place} {candidate.backend:<{width}}  {state}  {cost}  {candidate.reason}")
    return "\n".join(lines) + "\n"


def _thinking(report: DecisionReport) -> str:
    """`thinking on (detected, score 0.86)`, `thinking off (body)` or `thinking: no need expressed`."""
    if report.thinking is None:
        return "thinking: no need expressed"
    source = report.thinking_source or "unknown"
    if report.thinking_score is not None:
        source += f", score {report.thinking_score:.2f}"
    return f"thinking {'on' if report.thinking else 'off'} ({source})"
