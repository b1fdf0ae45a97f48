"""One vLLM release everywhere: the one `planner emit` validates flags against (ENGINE_VERSIONS),
its flag list, the `serve` extra, the real-engine suite's `make vllm-engine`, and docs/deploying.md."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib

from planner.emit.flag_lists import ALSO_VALID_IN, ENGINE_VERSIONS

from tests.conftest import ROOT

PINNED = ENGINE_VERSIONS["vllm"]


def test_the_serve_extra_pins_the_release_planner_emit_writes_for():
    serve = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    pins = [spec for spec in serve if re.match(r"vllm\b", spec)]
    assert pins == [f"vllm=={PINNED}"], f"pyproject's serve extra pins {pins}; ENGINE_VERSIONS['vllm'] is {PINNED}"


def test_the_flag_lists_are_the_pinned_release_and_those_it_is_also_checked_against():
    lists = sorted(p.name for p in (ROOT / "planner" / "emit" / "data").glob("vllm-*-flags.txt"))
    expected = sorted(f"vllm-{version}-flags.txt" for version in (PINNED, *ALSO_VALID_IN.get("vllm", ())))
    assert lists == expected, f"flag lists {lists}; ENGINE_VERSIONS['vllm'] is {PINNED}, ALSO_VALID_IN {ALSO_VALID_IN}"


def test_make_vllm_engine_installs_the_pinned_release():
    unset = ("VLLM_VERSION", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # no override from the caller's make
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = subprocess.run(["make", "-s", "--no-print-directory", "vllm-version"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == PINNED, "the Makefile must read ENGINE_VERSIONS, not name a release of its own"


def test_the_deploying_guide_names_the_pinned_release():
    page = (ROOT / "docs" / "deploying.md").read_text()
    assert f"vllm/vllm-openai:v{PINNED}" in page, f"docs/deploying.md never names the image of vLLM {PINNED}"
