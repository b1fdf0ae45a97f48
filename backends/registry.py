"""Backend type name -> adapter class (the `type:` of a policy's backend)."""

from __future__ import annotations

import importlib
from typing import Any

import httpx

from backends.base import Backend, BackendOptions, BackendTimeouts
from backends.errors import BackendConfigError

__all__ = ["BACKEND_TYPES", "EMULATOR_PROFILES", "adapter_class", "create_backend"]

# type -> "module:Class"; modules are imported only when a policy uses that type.
BACKEND_TYPES: dict[str, str] = {
    "vllm": "backends.vllm:VllmBackend",
    "sglang": "backends.sglang:SglangBackend",
    "lmstudio": "backends.lmstudio:LmStudioBackend",
    "novita": "backends.novita:NovitaBackend",
    "fireworks": "backends.fireworks:FireworksBackend",
    "deepseek": "backends.deepseek:DeepSeekBackend",
    "openai": "backends.openai:OpenAIBackend",
    "litellm": "backends.litellm:LiteLLMBackend",
}
# `type: emulator` speaks like the provider named by its `profile`.
EMULATOR_PROFILES: tuple[str, ...] = ("vllm", "sglang", "novita", "fireworks", "deepseek")


def adapter_class(type_name: str, profile: str | None = None) -> type:
    """The adapter class for a backend type; an unknown type lists the valid ones."""
    if type_name == "emulator":
        if profile not in EMULATOR_PROFILES:
            raise BackendConfigError(
                f"emulator profile {profile!r} is unknown; valid profiles: {', '.join(EMULATOR_PROFILES)}"
            )
        type_name = profile
    target = BACKEND_TYPES.get(type_name)
    if target is None:
        valid = ", ".join([*BACKEND_TYPES, "emulator"])
        raise BackendConfigError(f"backend type {type_name!r} is unknown; valid types: {valid}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_backend(
    name: str,
    type_name: str,
    *,
    model: str,
    base_url: str | None = None,
    api_key: str | None = None,
    timeouts: BackendTimeouts | None = None,
    profile: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> Backend:
    """Build one backend adapter with its own pooled connection."""
    cls = adapter_class(type_name, profile)
    backend_options = BackendOptions(
        name=name, model=model, base_url=base_url, api_key=api_key, timeouts=timeouts or BackendTimeouts(), **options
    )
    return cls(backend_options, transport=transport)
