"""Demo-only control (`gateway serve --demo`): stop and restart an emulated backend by name.

Served twice: at `/demo/backends` with no key (the demo's own `curl` lines), and at
`/admin/demo/backends` behind the admin key and the cross-site checks, for the console.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from gateway.api.auth import require_admin_key, require_admin_write
from gateway.errors import NotFoundError

__all__ = ["router", "admin_router"]

router = APIRouter(prefix="/demo", tags=["demo"])
admin_router = APIRouter(prefix="/admin/demo", tags=["admin"], dependencies=[Depends(require_admin_key)])


class DemoBackendStatus(BaseModel):
    """Whether one emulated backend is up."""

    backend: str
    running: bool
    url: str


def _status(request: Request, name: str) -> DemoBackendStatus:
    demo = request.app.state.demo
    if name not in demo.names:
        raise NotFoundError(f"no emulated backend named {name!r}; the demo has {', '.join(demo.names)}")
    return DemoBackendStatus(backend=name, running=demo.is_running(name), url=demo.url(name))


@router.get("/backends", response_model=list[DemoBackendStatus])
async def list_backends(request: Request) -> list[DemoBackendStatus]:
    return [_status(request, name) for name in request.app.state.demo.names]


@router.post("/backends/{name}/stop", response_model=DemoBackendStatus)
async def stop_backend(name: str, request: Request) -> DemoBackendStatus:
    """Take one emulated backend down; the next requests fall back."""
    _status(request, name)
    await asyncio.to_thread(request.app.state.demo.stop, name)  # waits for the emulator: off the loop
    return _status(request, name)


@router.post("/backends/{name}/start", response_model=DemoBackendStatus)
async def start_backend(name: str, request: Request) -> DemoBackendStatus:
    """Bring a stopped emulated backend back."""
    _status(request, name)
    await asyncio.to_thread(request.app.state.demo.restart, name)  # binds and polls until it serves: off the loop
    return _status(request, name)


admin_router.add_api_route("/backends", list_backends, methods=["GET"], response_model=list[DemoBackendStatus])
for _action, _endpoint in (("stop", stop_backend), ("start", start_backend)):
    admin_router.add_api_route(f"/backends/{{name}}/{_action}", _endpoint, methods=["POST"], response_model=DemoBackendStatus,
                               dependencies=[Depends(require_admin_write)])
