"""Every client snippet of docs/clients.md runs against the demo gateway (what `make run` serves).

The snippets live in docs/clients/ and the page includes them verbatim (checked here); each runs
as its own process with the documented address (127.0.0.1:8080) pointed at this test's gateway.
Claude Code and Codex CLI are configured, not imported: their set-up is read from the snippet
(environment variables, config.toml) and the requests they make are sent with the official SDKs
exactly as configured there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import anthropic
import openai
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "docs" / "clients"
DOCUMENTED = "127.0.0.1:8080"
PYTHON_SNIPPETS = ("openai_sdk.py", "anthropic_sdk.py", "agents_sdk.py", "langchain_chat.py", "litellm_sdk.py")


@pytest.fixture(scope="module")
def demo(servers):
    return servers.demo_gateway()


def _pointed(text: str, demo) -> str:
    return text.replace(DOCUMENTED, f"127.0.0.1:{demo.port}")


def test_the_page_includes_every_snippet_verbatim():
    page = (ROOT / "docs" / "clients.md").read_text()
    for snippet in CLIENTS.iterdir():
        assert snippet.read_text().strip() in page, f"docs/clients.md does not show {snippet.name} as it is"


@pytest.mark.parametrize("name", PYTHON_SNIPPETS)
def test_each_python_snippet_runs_against_the_demo(name, demo, tmp_path):
    script = tmp_path / name
    script.write_text(_pointed((CLIENTS / name).read_text(), demo))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENAI_API_KEY": "unused"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines and all("Error" not in line for line in lines), done.stdout
    if name == "anthropic_sdk.py":
        assert lines[0].startswith("tool call: get_weather {'city': ")
    if name == "langchain_chat.py":
        assert re.search(r"name='\w+' population=\d+", lines[1]) and "'name': 'City'" in lines[2]


def _exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(\S+)", text, flags=re.MULTILINE))


def test_claude_code_settings_reach_the_gateway(demo):
    settings = _exports(_pointed((CLIENTS / "claude-code.sh").read_text(), demo))
    assert set(settings) == {"ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"}
    # The anthropic SDK reads the same two variables as Claude Code: base URL, and the token sent as a bearer.
    client = anthropic.Anthropic(base_url=settings["ANTHROPIC_BASE_URL"], auth_token=settings["ANTHROPIC_AUTH_TOKEN"],
                                 api_key=None, max_retries=0)
    for model in ("claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5-20251001"):  # what Claude Code sends by default
        with client.messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                    system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cch=1;"},
                                            {"type": "text", "text": "You are Claude Code."}]) as stream:
            assert stream.get_final_message().content


def test_codex_config_speaks_responses_to_the_gateway(demo):
    config = tomllib.loads(_pointed((CLIENTS / "codex-config.toml").read_text(), demo))
    provider = config["model_providers"][config["model_provider"]]
    assert provider["wire_api"] == "responses"
    client = openai.OpenAI(base_url=provider["base_url"], api_key="unused", max_retries=0)
    shell = {"type": "function", "name": "shell", "description": "Run a command",
             "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                            "required": ["command"]}}
    # what Codex sends: streamed, stateless (store false, reasoning carried back encrypted), function tools
    request = {"model": config["model"], "instructions": "You are Codex.", "tools": [shell], "tool_choice": "auto",
               "parallel_tool_calls": False, "reasoning": {"effort": "medium", "summary": "auto"}, "store": False,
               "include": ["reasoning.encrypted_content"], "prompt_cache_key": "session-1"}
    first = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}]
    with client.responses.stream(input=first, **request) as stream:
        output = stream.get_final_response().output
    call = next(item for item in output if item.type == "function_call")
    reasoning = next(item for item in output if item.type == "reasoning")
    assert reasoning.encrypted_content and call.name == "shell"
    second = [*first, *(item.model_dump(exclude_none=True) for item in output),
              {"type": "function_call_output", "call_id": call.call_id, "output": "README.md"}]
    with client.responses.stream(input=second, **request) as stream:
        assert stream.get_final_response().status == "completed"
