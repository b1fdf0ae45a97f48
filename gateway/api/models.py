"""`GET /v1/models`: the names clients may send as `model` (the policy's `models`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from gateway.api.auth import require_client_key
from gateway.errors import NotFoundError
from policies.model_aliases import alias_table

__all__ = ["router", "ModelCard", "ModelList"]

router = APIRouter(dependencies=[Depends(require_client_key)])
CREATED = 1_700_000_000  # policies carry no creation time; a fixed value keeps answers stable


class ModelCard(BaseModel):
    """One model in OpenAI's list shape."""

    id: str
    object: str = "model"
    created: int = CREATED
    owned_by: str = "switchyard"


class ModelList(BaseModel):
    """OpenAI's model list."""

    object: str = "list"
    data: list[ModelCard]


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
async def list_models(request: Request) -> Response:
    """Every model alias of the policy in force."""
    models = request.app.state.runtime.policy.models
    return Response(ModelList(data=[ModelCard(id=name) for name in models]).model_dump_json(), media_type="application/json")


@router.get("/v1/models/{model:path}", response_model=ModelCard, tags=["openai"])
async def get_model(model: str, request: Request) -> Response:
    """One model alias, or a name a glob alias (`claude-*`) covers."""
    if alias_table(request.app.state.runtime.policy).resolve(model) is None:
        raise NotFoundError(f"The model `{model}` does not exist", param="model", code="model_not_found")
    return Response(ModelCard(id=model).model_dump_json(), media_type="application/json")
