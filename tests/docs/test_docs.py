"""Every runnable block of README.md, CONTRIBUTING.md and docs/ runs, and prints what the page shows.

One case per block, named PAGE:LINE. `python -m tests.docs.regenerate PAGE` rewrites the shown
output from real runs when the code changed it on purpose.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from policies.loader import parse_policy_text
from tests.docs.runner import run_block
from tests.docs.snippets import ROOT, Block, doc_pages, normalise, output_matches, relative, runnable_blocks, unmarked_blocks

# `${VAR}` in a ```yaml policy block resolves from these, never from the caller's environment.
POLICY_ENV = {"VLLM_BASE_URL": "http://vllm:8000/v1", "SGLANG_BASE_URL": "http://sglang:30000/v1",
              "NOVITA_API_KEY": "docs-key", "FIREWORKS_API_KEY": "docs-key", "DEEPSEEK_API_KEY": "docs-key"}

BLOCKS = runnable_blocks()


def _diff(expected: str, actual: str) -> str:
    return "\n".join(difflib.unified_diff(normalise(expected).splitlines(), normalise(actual).splitlines(),
                                          "shown on the page", "printed now", lineterm=""))


def test_every_code_block_says_whether_it_runs():
    unmarked = [block.test_id for block in unmarked_blocks()]
    assert not unmarked, ("mark each block `run`, `run=demo`, `policy` or `norun=\"why\"` "
                          f"(tests/docs/snippets.py): {unmarked}")


@pytest.mark.slow  # starts processes: the CLIs, the snippets, a demo gateway
@pytest.mark.parametrize("block", BLOCKS, ids=[block.test_id for block in BLOCKS])
def test_block_runs_as_shown(block: Block, docs_scratch, request):
    if "policy" in block.attrs:
        parse_policy_text(block.body, block.test_id, env=POLICY_ENV)
        return
    if block.run == "local":
        result = request.getfixturevalue("local_runs")[block.test_id]
    else:
        result = run_block(block, docs_scratch.for_page(block.page), request.getfixturevalue("docs_demo"))
    for expected, actual in zip(result.expected, result.outputs):
        assert output_matches(expected, actual), (
            f"{block.test_id} printed something else (python -m tests.docs.regenerate {relative(block.page)}):\n"
            + _diff(expected, actual))


_LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    slugs = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", page.read_text(encoding="utf-8"), flags=re.MULTILINE):
        slugs.add(re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-"))
    return slugs


def _broken_links(page: Path) -> list[str]:
    broken = []
    text = re.sub(r"^(```|~~~).*?^\1", "", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    for target in _LINK.findall(text):
        path, _, anchor = unquote(target).partition("#")
        resolved = (page.parent / path).resolve() if path else page.resolve()
        if not resolved.exists():
            broken.append(f"{relative(page)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{relative(page)}: {target} (no such heading)")
    return broken


def test_every_relative_link_reaches_a_page_and_heading():
    broken = [problem for page in doc_pages() for problem in _broken_links(page)]
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guides = {relative(p) for p in (ROOT / "docs").glob("*.md")}
    missing = sorted(g for g in guides if f"({g})" not in readme)
    assert not missing, f"README.md has no line for {missing}"
    # about 150 lines: the picture, two commands, the first request, the outputs issues 12, 16 and 17 asked
    # to see there (explain, thinking: auto, simulate and plan --from-ledger), one line per guide
    assert len(readme.splitlines()) <= 170, "README.md is for the first ten minutes: move detail to docs/"


def test_the_routing_guide_shows_every_shipped_policy_as_it_is():
    page = (ROOT / "docs" / "routing-policy.md").read_text(encoding="utf-8")
    for policy in sorted((ROOT / "policies").glob("*.yaml")):
        assert f"```yaml policy\n{policy.read_text(encoding='utf-8')}```" in page, (
            f"docs/routing-policy.md does not show {relative(policy)} as it is")


def test_every_policy_key_is_named_in_a_guide():
    from gateway.commands.schema import policy_json_schema

    guides = ["routing-policy.md", "backends.md", "simulate.md", "keys-and-usage.md", "thinking.md",
              "load-balancing.md", "latency-routing.md"]
    text = "".join((ROOT / "docs" / g).read_text(encoding="utf-8") for g in guides if (ROOT / "docs" / g).exists())
    schema = policy_json_schema()
    unnamed = [f"{section}.{key}" for section, model in [("Policy", schema), *schema["$defs"].items()]
               for key in model.get("properties", {}) if f"`{key}`" not in text]
    assert not unnamed, f"no guide names {unnamed} (docs/routing-policy.md's table of every key is the place)"


def test_every_policy_file_beside_a_page_is_shown_on_it_as_it_is():
    """docs/<page>/*.yaml are the policies a page walks through: the page shows each one verbatim."""
    for policy in sorted((ROOT / "docs").glob("*/*.yaml")):
        page = policy.parent.with_suffix(".md")
        assert page.exists(), f"{relative(policy)} has no page {relative(page)}"
        assert f"```yaml policy\n{policy.read_text(encoding='utf-8')}```" in page.read_text(encoding="utf-8"), (
            f"{relative(page)} does not show {relative(policy)} as it is (as a ```yaml policy block)")
