"""The planner's errors: every user mistake becomes one readable line and exit code 2."""

from __future__ import annotations

__all__ = ["PlannerError", "PlannerInputError"]


class PlannerError(Exception):
    """Base of every error the planner raises on purpose."""


class PlannerInputError(PlannerError):
    """Bad input from the user (unknown name, bad flag combination, malformed config)."""
