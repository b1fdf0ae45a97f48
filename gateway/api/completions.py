"""`POST /v1/completions` (the legacy text completions API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.body import check_completions_body
from gateway.api.relay import serve_completion
from gateway.api.schemas import CompletionRequest, openapi_body

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/completions", openapi_extra=openapi_body(CompletionRequest), tags=["openai"])
async def completions(request: Request) -> Response:
    """OpenAI text completions, streamed (SSE) or not."""
    return await serve_completion(request, path="/completions", check=check_completions_body, protocol="openai-completions")
