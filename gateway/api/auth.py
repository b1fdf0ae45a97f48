"""Request guards for routes without a body to route: the client key on `/v1/models`, the admin key on `/admin/*`,
and for admin calls that change something (or run work: forms), the admin key itself plus the
cross-site checks of `gateway.auth.browser_guard`.

The completion endpoints and `/v1/route/explain` authenticate inside their handler, where the
key's tags and budget feed routing.
"""

from __future__ import annotations

from fastapi import Request, Response

from gateway.auth.browser_guard import CSRF_HEADER, cross_site_refusal
from gateway.auth.errors import CrossSiteRequestError
from gateway.services import GatewayServices

__all__ = ["require_admin_key", "require_admin_write", "require_client_key"]


async def require_client_key(request: Request) -> None:
    """401 unless the request carries a known client key (or the gateway is in loopback open access)."""
    services: GatewayServices = request.app.state.services
    services.authenticate(request.headers.get("authorization"))


async def require_admin_key(request: Request, response: Response) -> None:
    """403 unless the request carries SWITCHYARD_ADMIN_KEY (without one: loopback open access only).
    Admin answers are never cached (`Cache-Control: no-store`)."""
    services: GatewayServices = request.app.state.services
    services.auth.check_admin(request.headers.get("authorization"))
    response.headers["cache-control"] = "no-store"


async def require_admin_write(request: Request) -> None:
    """403 unless the request carries the admin key (which must be set: no open access here) and, from a
    browser, is same-origin with the console's CSRF token."""
    services: GatewayServices = request.app.state.services
    auth = services.auth
    auth.check_admin(request.headers.get("authorization"), key_required=True)
    refusal = cross_site_refusal(request.headers, auth.check_console_token(request.headers.get(CSRF_HEADER)))
    if refusal is not None:
        raise CrossSiteRequestError(refusal)
