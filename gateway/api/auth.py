"""Request guards for routes without a body to route: the client key on `/v1/models`, the admin key on `/admin/*`.

The completion endpoints and `/v1/route/explain` authenticate inside their handler, where the
key's tags and budget feed routing.
"""

from __future__ import annotations

from fastapi import Request

from gateway.services import GatewayServices

__all__ = ["require_admin_key", "require_client_key"]


async def require_client_key(request: Request) -> None:
    """401 unless the request carries a known client key (or the gateway is in loopback open access)."""
    services: GatewayServices = request.app.state.services
    services.authenticate(request.headers.get("authorization"))


async def require_admin_key(request: Request) -> None:
    """403 unless the request carries SWITCHYARD_ADMIN_KEY (without one: loopback open access only)."""
    services: GatewayServices = request.app.state.services
    services.auth.check_admin(request.headers.get("authorization"))
