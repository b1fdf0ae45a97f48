"""The request bodies as pydantic models, for the OpenAPI document (`/openapi.json`).

Handlers do not validate bodies with these (see `gateway.api.body`): the gateway parses only
what routing needs and passes every other parameter, known or not, through untouched.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatMessage", "ChatCompletionRequest", "CompletionRequest", "openapi_body", "SCHEMA_COMPONENTS"]

REF_TEMPLATE = "#/components/schemas/{model}"
SCHEMA_COMPONENTS: dict[str, Any] = {}  # merged into the OpenAPI document's components by the app


class _OpenAIBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # new OpenAI parameters must pass through


class StreamOptions(_OpenAIBody):
    """`stream_options` of a streaming request."""

    include_usage: bool | None = None


class ChatMessage(_OpenAIBody):
    """One message of a conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class _SamplingParams(_OpenAIBody):
    model: str = Field(min_length=1, description="A model alias from GET /v1/models.")
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    n: int | None = Field(None, ge=1, le=128)
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None


class ChatCompletionRequest(_SamplingParams):
    """OpenAI's chat completions body (plus any provider parameter)."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None


class CompletionRequest(_SamplingParams):
    """OpenAI's legacy completions body."""

    prompt: str | list[str] | list[int] | list[list[int]]


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as a route's JSON request body."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    SCHEMA_COMPONENTS.update(schema.pop("$defs", {}))
    SCHEMA_COMPONENTS[model.__name__] = schema
    ref = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}
