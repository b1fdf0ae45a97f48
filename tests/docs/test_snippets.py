"""The block parser and the output comparison of tests/docs/snippets.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.snippets import SnippetError, console_commands, output_matches, parse_info, parse_page

PAGE = Path("page.md")


def blocks_of(text: str):
    return parse_page(PAGE, text)


def test_info_string_reads_language_and_attributes():
    assert parse_info("console run=demo") == ("console", {"run": "demo"})
    assert parse_info('console norun="needs docker and a GPU"') == ("console", {"norun": "needs docker and a GPU"})
    assert parse_info("yaml policy") == ("yaml", {"policy": ""})
    assert parse_info("") == ("", {})


@pytest.mark.parametrize("info", ["console runn", "console run=prod", 'console norun=""', 'console norun="open'])
def test_malformed_markings_are_errors(info):
    with pytest.raises(SnippetError):
        parse_info(info)


def test_blocks_know_their_lines_and_how_they_run():
    text = "intro\n```console run\n$ echo hi\nhi\n```\n\n```python norun=\"needs a GPU\"\nimport torch\n```\n"
    first, second = blocks_of(text)
    assert (first.line, first.end_line, first.run, first.body) == (2, 5, "local", "$ echo hi\nhi\n")
    assert second.run is None and second.marked and second.attrs["norun"] == "needs a GPU"


def test_unmarked_code_blocks_are_found_and_plain_ones_are_not():
    first, second = blocks_of("```console\n$ ls\n```\n```\nplain text\n```\n")
    assert not first.marked and second.language == ""


def test_a_python_run_block_is_paired_with_its_output_block():
    python, output = blocks_of("```python run=demo\nprint(1)\n```\n\n```text output\n1\n```\n")
    assert python.output is output and output.body == "1\n"


def test_a_python_run_block_without_output_is_an_error():
    with pytest.raises(SnippetError, match="text output"):
        blocks_of("```python run=demo\nprint(1)\n```\n")


def test_console_commands_split_output_and_join_continuations():
    (block,) = blocks_of("```console run\n$ a \\\n  --flag\nout 1\nout 2\n$ b\n```\n")
    first, second = console_commands(block)
    assert (first.line, first.text, first.expected) == (2, "a \\\n  --flag", "out 1\nout 2")
    assert (second.line, second.text, second.expected) == (6, "b", "")


def test_a_here_document_belongs_to_its_command():
    (block,) = blocks_of("```console run\n$ python - <<'EOF'\nprint(1)\nEOF\n1\n```\n")
    (command,) = console_commands(block)
    assert (command.text, command.expected) == ("python - <<'EOF'\nprint(1)\nEOF", "1")


def test_an_indented_block_loses_its_fence_indentation():
    (block,) = blocks_of("- item\n\n  ```console run\n  $ echo hi\n  hi\n  ```\n")
    assert block.body == "$ echo hi\nhi\n"


def test_a_longer_fence_holds_a_shorter_one():
    (block,) = blocks_of("````markdown\n```console run\n$ x\n```\n````\n")
    assert block.language == "markdown" and "```console run" in block.body


@pytest.mark.parametrize("expected, actual, matches", [
    ("a\nb", "a\nb\n\n", True),
    ("a  \nb", "a\nb", True),
    ("a\nb", "a\nc", False),
    ("a\n...\nd", "a\nb\nc\nd", True),
    ("a\n...\nd", "a\nd", True),
    ("a\n...", "a", True),
    ("id: ...-x", "id: 42ab-x", True),
    ("id: ...-x", "id: 42ab-y", False),
    ("a", "a\nb", False),
    ("", "", True),
])
def test_output_comparison_is_exact_but_for_ellipses(expected, actual, matches):
    assert output_matches(expected, actual) is matches


def test_a_failing_command_shows_its_exit_status(tmp_path):
    from tests.docs.runner import ScratchDirs, run_block

    page = tmp_path / "page.md"
    (block,) = parse_page(page, "```console run\n$ echo no; exit 3\nno\n[exit status 3]\n$ printf x\nx\n```\n")
    result = run_block(block, ScratchDirs(tmp_path / "scratch").for_page(Path(__file__)), None)
    assert result.outputs == ["no\n[exit status 3]\n", "x"]
    assert all(output_matches(e, a) for e, a in zip(result.expected, result.outputs))


def test_a_blocks_own_ports_are_swapped_for_free_ones_and_back():
    from tests.docs.runner import PAGE_PORTS, _free_ports_for, _ports_swapped

    text = "gateway serve --port 18573 & curl http://127.0.0.1:18573/v1/models; curl :18574 # not 185730 or 1.18573"
    shown = PAGE_PORTS.findall(text)
    assert shown == ["18573", "18573", "18574"]
    ports = _free_ports_for(shown)
    assert set(ports) == {"18573", "18574"} and len(set(ports.values())) == 2
    run = _ports_swapped(text, ports)
    assert "18573 " not in run and ports["18573"] in run and "185730" in run and "1.18573" in run
    assert _ports_swapped(run, {free: doc for doc, free in ports.items()}) == text
