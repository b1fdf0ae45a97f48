"""Backend type names map to adapters; unknown names list the valid ones."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backends.errors import BackendConfigError
from backends.registry import BACKEND_TYPES, adapter_class, create_backend


def test_every_type_has_an_adapter_with_its_name():
    for type_name in BACKEND_TYPES:
        assert adapter_class(type_name).type_name == type_name


def test_emulator_type_uses_its_profiles_adapter():
    assert adapter_class("emulator", "vllm").type_name == "vllm"
    assert adapter_class("emulator", "deepseek").type_name == "deepseek"


def test_unknown_type_lists_valid_types():
    with pytest.raises(BackendConfigError, match="valid types: vllm, sglang, lmstudio, novita, fireworks, deepseek, openai, litellm, emulator"):
        adapter_class("vlm")


def test_unknown_emulator_profile_lists_profiles():
    with pytest.raises(BackendConfigError, match="valid profiles: vllm, sglang, novita, fireworks, deepseek"):
        adapter_class("emulator", "tgi")


def test_default_base_urls_per_type():
    assert create_backend("n", "novita", model="m").base_url == "https://api.novita.ai/openai/v1"
    assert create_backend("v", "vllm", model="m").base_url == "http://127.0.0.1:8000/v1"


def test_litellm_is_imported_only_when_a_litellm_backend_is_called():
    code = (
        "import sys; from backends.registry import create_backend; "
        "[create_backend(t, t, model='m') for t in ('vllm', 'novita', 'litellm')]; "
        "import gateway.dispatch; print('litellm' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
