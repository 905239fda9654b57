"""The docs site's structure: the example collector's rules, the API reference's coverage, the nav, the README."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.helpers.docs_examples import ROOT, Example, MarkerError, cli_commands, collect, fenced_blocks

DOCS = ROOT / "docs"
PUBLIC_MODULES = ("testing", "emulator", "cli", "batch", "redis", "spark", "v4")


def blocks(text: str) -> list[Example]:
    return list(fenced_blocks(text, ROOT / "x.md"))


def test_a_skip_marker_directly_before_a_fence_skips_that_block_only() -> None:
    """The marker names its reason and applies to the next block, not to the one after."""
    found = blocks(
        "<!-- example: skip (needs a real Azure resource) -->\n```python\nx = 1\n```\n\n```python\ny = 2\n```\n"
    )
    assert [(e.line, e.skip) for e in found] == [(2, "needs a real Azure resource"), (6, None)]


def test_a_malformed_marker_is_an_error_not_a_silent_skip() -> None:
    """A marker without its parenthesised reason fails the collection."""
    with pytest.raises(MarkerError, match="malformed"):
        blocks("<!-- example: skip -->\n```python\nx = 1\n```\n")


def test_a_marker_away_from_a_fence_is_an_error() -> None:
    """A blank line between the marker and the fence breaks the rule 'directly before'."""
    with pytest.raises(MarkerError, match="directly before"):
        blocks("<!-- example: skip (reason) -->\n\n```python\nx = 1\n```\n")


def test_a_marker_mentioned_in_prose_is_not_a_marker() -> None:
    """Only a line that is the comment itself counts."""
    text = "Mark it `<!-- example: skip (why) -->` like so.\n```python\nx = 1\n```\n"
    assert [e.skip for e in blocks(text)] == [None]


def test_kinds_follow_the_text() -> None:
    """Tests run under pytest, a top-level await is a snippet, the rest a program, sh a CLI example."""
    text = (
        "```python\nasync def test_x():\n    pass\n```\n"
        "```python\nawait client.tag(image)\n```\n"
        "```python\nprint(1)\n```\n"
        "```sh\nvision-async models\n```\n"
    )
    assert [e.kind for e in blocks(text)] == ["pytest", "snippet", "program", "cli"]


def test_fences_with_attributes_and_pycon_blocks_are_collected() -> None:
    """A title after the language does not hide a block; a pycon block is a doctest."""
    text = '```python title="app.py"\nx = 1\n```\n```pycon\n>>> 1 + 1\n2\n```\n'
    assert [(e.kind, e.code) for e in blocks(text)] == [("program", "x = 1\n"), ("doctest", ">>> 1 + 1\n2\n")]


def test_cli_commands_join_continuations_and_ignore_other_lines() -> None:
    """Only vision-async lines are run; a backslash continues a command."""
    assert cli_commands("pip install x\nvision-async batch a \\\n    -o b.jsonl\nvision-async models\n") == [
        "vision-async batch a      -o b.jsonl",
        "vision-async models",
    ]


def test_every_markdown_file_and_docstring_example_is_collected() -> None:
    """README, every docs page with a python block, and the docstrings' examples all reach the tests."""
    examples = collect()
    files = {e.path.relative_to(ROOT).as_posix() for e in examples}
    assert "README.md" in files
    for page in DOCS.rglob("*.md"):
        if "```python" in page.read_text():
            assert page.relative_to(ROOT).as_posix() in files, page
    assert {"vision_async/v4/__init__.py", "vision_async/batch.py", "vision_async/redis/_coordination.py"} <= files
    assert any(e.kind == "doctest" for e in examples)


def _reference_targets() -> set[str]:
    targets: set[str] = set()
    for page in (DOCS / "reference").glob("*.md"):
        targets.update(re.findall(r"^::: ([\w.]+)", page.read_text(), re.MULTILINE))
    return targets


def test_the_api_reference_documents_every_public_name() -> None:
    """Each name of vision_async.__all__ has its entry, and each public module its page."""
    import vision_async

    targets = _reference_targets()
    documented = {t.removeprefix("vision_async.") for t in targets}
    missing = [n for n in vision_async.__all__ if n != "__version__" and n not in documented]
    assert missing == []
    for module in PUBLIC_MODULES:
        assert f"vision_async.{module}" in targets, module
        assert importlib.import_module(f"vision_async.{module}")  # the page names a module that exists


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    """No page is built but unreachable, and no nav entry points at nothing."""
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def entries(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [e for item in node for e in entries(item)]
        if isinstance(node, dict):
            return [e for value in node.values() for e in entries(value)]
        return []

    listed = set(entries(nav))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert listed == pages


def test_the_readme_is_a_front_door() -> None:
    """At most about 200 lines, starting with the two set-up commands CI and users run."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    commands = re.findall(r"```sh\n(.*?)\n```", text, re.DOTALL)[:2]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[cli]' && .venv/bin/vision-async analyze "
        "samples/*.png samples/*.jpg",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest",
    ]
    assert "mkdocs serve" in text
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), link
