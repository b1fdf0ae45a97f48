"""The policies package's errors: one shallow tree, each with an HTTP status and a retryable flag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "PolicyIssue",
    "PolicyError",
    "RoutingError",
    "UnknownModelError",
    "NoRouteError",
    "NoCandidateError",
    "UnknownStrategyError",
]


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy file, located at FILE:LINE:COL (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PolicyError(Exception):
    """A policy file is invalid; str() is one `FILE:LINE:COL: message` line per issue."""

    http_status = 500
    retryable = False

    def __init__(self, issues: Sequence[PolicyIssue] | str) -> None:
        if isinstance(issues, str):
            issues = [PolicyIssue("<policy>", 1, 1, issues)]
        self.issues: list[PolicyIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class UnknownStrategyError(ValueError):
    """A route names a `prefer` strategy that is not registered."""


class RoutingError(Exception):
    """A request could not be routed; base of the per-request routing errors."""

    http_status = 400
    retryable = False
    error_type = "invalid_request_error"
    code = "routing_error"


class UnknownModelError(RoutingError):
    """The request's `model` is not one of the policy's `models` aliases."""

    http_status = 404
    code = "model_not_found"

    def __init__(self, model: str, known: Sequence[str]) -> None:
        self.model = model
        shown = f"`{model}`" if model else "(none given)"
        super().__init__(f"The model {shown} does not exist; available models: {', '.join(known)}")


class NoRouteError(RoutingError):
    """No route's `when` matched the request (the policy has no catch-all route)."""

    http_status = 400
    code = "no_route"


class NoCandidateError(RoutingError):
    """Every backend of the matched route was filtered out; carries each backend's reason."""

    http_status = 503
    retryable = True
    error_type = "service_unavailable"
    code = "no_backend_available"

    def __init__(self, route: str, reasons: Sequence[tuple[str, str]]) -> None:
        self.route = route
        self.reasons: list[tuple[str, str]] = list(reasons)
        detail = "; ".join(f"{backend}: {reason}" for backend, reason in self.reasons)
        super().__init__(f"no backend can serve this request on route '{route}': {detail}")
