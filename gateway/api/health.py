"""`GET /healthz` (the process is up) and `GET /readyz` (a policy is loaded and its backends built)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

__all__ = ["router"]

router = APIRouter()


class Health(BaseModel):
    """Liveness."""

    status: str


class Readiness(BaseModel):
    """Readiness and what is being served."""

    status: str
    policy: str
    backends: list[str]


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, tags=["health"])
async def readyz(request: Request) -> Readiness:
    runtime = request.app.state.runtime
    return Readiness(status="ready", policy=runtime.source, backends=list(runtime.backends))
