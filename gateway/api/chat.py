"""`POST /v1/chat/completions`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.api.body import check_chat_body
from gateway.api.relay import serve_completion
from gateway.api.schemas import ChatCompletionRequest, openapi_body

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/chat/completions", openapi_extra=openapi_body(ChatCompletionRequest), tags=["openai"])
async def chat_completions(request: Request) -> Response:
    """OpenAI chat completions, streamed (SSE) or not; every parameter passes through."""
    max_messages = request.app.state.settings.max_messages
    return await serve_completion(request, path="/chat/completions", check=lambda body: check_chat_body(body, max_messages=max_messages))
