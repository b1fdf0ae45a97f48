"""Demo-only control (`gateway serve --demo`): stop and restart an emulated backend by name."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gateway.errors import NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/demo", tags=["demo"])


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
