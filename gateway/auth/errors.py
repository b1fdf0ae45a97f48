"""Authentication failures, in the gateway's OpenAI-shaped error tree."""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["AuthenticationError", "AdminForbiddenError", "CrossSiteRequestError"]


class AuthenticationError(GatewayError):
    """No key, or a key this gateway does not know (401); the message never echoes the key."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"www-authenticate": "Bearer"})


class AdminForbiddenError(GatewayError):
    """`/admin/*` without the admin key (403)."""

    status = 403
    type = "permission_error"
    code = "admin_key_required"


class CrossSiteRequestError(GatewayError):
    """A browser's state-changing admin call that is not same-origin or lacks the console's CSRF token (403)."""

    status = 403
    type = "permission_error"
    code = "cross_site_request"
