"""The engine under test is the release the project pins (ENGINE_VERSIONS, see
tests/planner/test_engine_version_pins.py for the other places that name it)."""

from __future__ import annotations

import httpx
import pytest

from planner.emit.flag_lists import ENGINE_VERSIONS

pytestmark = [pytest.mark.slow, pytest.mark.real_vllm]


def test_the_engine_is_the_pinned_vllm_release(vllm_engine):
    version = httpx.get(f"{vllm_engine.url}/version", timeout=10).json()["version"]
    assert version == ENGINE_VERSIONS["vllm"], (
        f"the engine is vLLM {version}, ENGINE_VERSIONS['vllm'] is {ENGINE_VERSIONS['vllm']}: run `make vllm-engine`")
