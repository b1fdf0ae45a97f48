"""Upstream failures, classified so dispatch can decide whether to fall back.

`kind` is one of the policy's `fallback.on` names (plus `client_error` and `midstream`, which
never fall back): connect_error | timeout | rate_limited | server_error | client_error | midstream.
`code` is what the client sees in `error.code` when no fallback absorbed the failure; it is the
kind unless a subclass says more (an upstream that refused the gateway's own credential).
"""

from __future__ import annotations

__all__ = [
    "UpstreamError",
    "UpstreamConnectError",
    "UpstreamTimeoutError",
    "UpstreamRateLimitedError",
    "UpstreamServerError",
    "UpstreamAuthError",
    "UpstreamClientError",
    "UpstreamMidstreamError",
    "BackendConfigError",
]


class UpstreamError(Exception):
    """Base of every failure of one call to one upstream."""

    kind: str = "server_error"
    retryable: bool = True
    status: int = 502

    @property
    def code(self) -> str:
        return self.kind

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        upstream_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.upstream_status = upstream_status  # what the upstream answered, if it answered
        self.retry_after_s = retry_after_s


class UpstreamConnectError(UpstreamError):
    """The upstream could not be reached (refused, DNS, reset before any response)."""

    kind = "connect_error"
    status = 502


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer (or send its first token) in time."""

    kind = "timeout"
    status = 504


class UpstreamRateLimitedError(UpstreamError):
    """The upstream answered 429."""

    kind = "rate_limited"
    status = 429


class UpstreamServerError(UpstreamError):
    """The upstream answered 5xx, a malformed body, or an error inside a 200."""

    kind = "server_error"
    status = 502


class UpstreamAuthError(UpstreamServerError):
    """The upstream refused the gateway's own credential (401/403): the gateway's fault, not the client's."""

    @property
    def code(self) -> str:
        return "upstream_auth_failed"


class UpstreamClientError(UpstreamError):
    """The upstream rejected the request itself (4xx other than 429): retrying elsewhere won't help."""

    kind = "client_error"
    retryable = False
    status = 400


class UpstreamMidstreamError(UpstreamError):
    """The upstream failed after content had already been sent to the client."""

    kind = "midstream"
    retryable = False
    status = 502


class BackendConfigError(ValueError):
    """A backend is configured with an unknown type or an unusable setting."""
