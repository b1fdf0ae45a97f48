"""The gateway's errors: one shallow tree, one client-facing shape.

Every error a client sees is OpenAI's `{"error": {"message", "type", "param", "code"}}` with the
right HTTP status, so the official SDKs raise their usual exception classes.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "CliError",
    "GatewayError",
    "InvalidRequestError",
    "NotFoundError",
    "MethodNotAllowedError",
    "PayloadTooLargeError",
    "UpstreamFailedError",
    "InternalError",
    "HeadersTooLargeError",
    "as_gateway_error",
    "error_body",
]


def error_body(message: str, type_: str, param: str | None = None, code: str | int | None = None) -> bytes:
    """OpenAI's error JSON."""
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


class CliError(Exception):
    """A user mistake on the command line: printed as one line, exit code 2."""


class GatewayError(Exception):
    """Base of every error the gateway answers on purpose."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None
    retryable: bool = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.param, self.code)


class InvalidRequestError(GatewayError):
    """The request body or a parameter is wrong (400)."""

    status = 400
    type = "invalid_request_error"

    @classmethod
    def from_validation(cls, exc: Any) -> InvalidRequestError:
        """The first problem of a pydantic ValidationError, as `field.path: message` naming the field."""
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        return cls(f"{field or 'request'}: {first['msg']}", param=field)


class NotFoundError(GatewayError):
    """No such route or resource (404)."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowedError(GatewayError):
    """The route exists but not for this HTTP method (405)."""

    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLargeError(GatewayError):
    """The request body is over the configured limit (413)."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UpstreamFailedError(GatewayError):
    """Every backend tried failed; carries the last failure's status and kind."""

    type = "upstream_error"

    def __init__(self, message: str, *, status: int, code: str, retryable: bool, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code, headers=headers)
        self.status = status
        self.retryable = retryable
        if status == 429:
            self.type = "rate_limit_error"
        elif status < 500:
            self.type = "invalid_request_error"


class InternalError(GatewayError):
    """A bug in the gateway; the client gets a generic message, the log gets the traceback (500)."""

    status = 500
    type = "server_error"
    code = "internal_error"


def as_gateway_error(exc: Any) -> GatewayError | None:
    """Wrap a policy routing error (it carries `http_status`, `error_type`, `code`) in the gateway's shape."""
    status = getattr(exc, "http_status", None)
    if not isinstance(status, int):
        return None
    code = getattr(exc, "code", None)
    error = GatewayError(str(exc), code=code, param="model" if code == "model_not_found" else None)
    error.status = status
    error.type = getattr(exc, "error_type", "invalid_request_error")
    error.retryable = bool(getattr(exc, "retryable", False))
    return error


class HeadersTooLargeError(GatewayError):
    """The request's headers are over the configured limit (431)."""

    status = 431
    type = "invalid_request_error"
    code = "headers_too_large"
