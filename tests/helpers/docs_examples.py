"""The examples of the documentation, collected for tests/docs/test_docs_examples.py.

Collected: every fenced ```python, ```pycon and ```sh block of ``README.md`` and ``docs/**/*.md``,
and every ```python block and ``>>>`` doctest in the package's docstrings. A block that cannot run here is
marked, on the line directly before its opening fence::

    <!-- example: skip (needs a real Azure resource) -->

A marker that is malformed, or not followed by a fence, is an error, never a silent skip.

How a block runs is decided by its text (see :func:`kind_of`):

- ``pytest``: Python defining ``test_...`` functions: written to a file and run by pytest;
- ``snippet``: Python with a top-level ``await``: run inside an event loop, with ``client`` (an open
  ``VisionClient``) and the other names of :data:`SNIPPET_NAMES` given;
- ``program``: any other Python: run as a script (``__name__ == "__main__"``);
- ``doctest``: a docstring's ``>>>`` lines, or a ```pycon block, checked by :mod:`doctest`;
- ``cli``: a shell block: each line that runs ``vision-async`` (with its ``\\`` continuations).
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "vision_async"

SKIP = re.compile(r"^\s*<!-- example: skip \((?P<reason>[^)]+(?:\([^)]*\)[^)]*)*)\) -->\s*$")
MARKER = re.compile(r"^\s*<!--\s*example\b")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)(?:\s+[^`]*)?$")  # ```python title="x.py" too
LANGS = {
    "python": "python",
    "py": "python",
    "pycon": "doctest",
    "sh": "sh",
    "bash": "sh",
    "shell": "sh",
    "console": "sh",
}

#: The names a snippet (Python with a top-level ``await``) may use without defining them.
SNIPPET_NAMES = ("client", "image", "images", "pdf_bytes", "endpoint", "key")


class MarkerError(ValueError):
    """A skip marker that is malformed or not directly before a fence."""


@dataclass(frozen=True, slots=True)
class Example:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str  # "python", "sh" or "doctest"
    code: str
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        return kind_of(self)


def kind_of(example: Example) -> str:
    if example.lang == "doctest":
        return "doctest"
    if example.lang == "sh":
        return "cli"
    code = compile(example.code, example.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    if re.search(r"^\s*(?:async\s+)?def test_\w*\(", example.code, re.MULTILINE):
        return "pytest"
    if code.co_flags & 0x80:  # CO_COROUTINE: the block awaits at top level
        return "snippet"
    return "program"


def fenced_blocks(text: str, path: Path, *, first_line: int = 1, markers: bool = True) -> Iterator[Example]:
    """The ```python and ```sh blocks of Markdown text, with their skip markers."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if markers and MARKER.search(line):
            match = SKIP.match(line)
            if match is None:
                raise MarkerError(f"{path}:{first_line + i}: malformed example marker {line.strip()!r}")
            if i + 1 >= len(lines) or not FENCE.match(lines[i + 1]) or not FENCE.match(lines[i + 1]).group("lang"):
                raise MarkerError(f"{path}:{first_line + i}: an example marker must be directly before a fence")
        opening = FENCE.match(line)
        if opening is None or not opening.group("lang"):
            i += 1
            continue
        indent, lang = opening.group("indent"), opening.group("lang")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^{re.escape(indent)}```\s*$", lines[j]):
            body.append(lines[j])
            j += 1
        if lang in LANGS:
            skip = SKIP.match(lines[i - 1]) if i > 0 and markers else None
            code = textwrap.dedent("\n".join(body)) + "\n"
            yield Example(path, first_line + i, LANGS[lang], code, skip.group("reason") if skip else None)
        i = j + 1


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def docstrings(path: Path) -> Iterator[tuple[int, str]]:
    """(line of the docstring's first line, its text) for a module's, classes' and functions' docstrings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                value = body[0].value.value
                if isinstance(value, str):
                    yield body[0].lineno, value


def docstring_examples(path: Path) -> Iterator[Example]:
    for line, text in docstrings(path):
        text = inspect.cleandoc(text)
        found = list(fenced_blocks(text, path, first_line=line, markers=False))
        yield from (e for e in found if e.lang == "python")
        if ">>>" in text:  # the whole docstring, so that >>> lines outside a fence count too
            yield Example(path, line, "doctest", text)


def collect() -> list[Example]:
    examples: list[Example] = []
    for path in markdown_files():
        examples.extend(e for e in fenced_blocks(path.read_text(), path) if e.lang != "sh" or cli_commands(e.code))
    for path in sorted(PACKAGE.rglob("*.py")):
        examples.extend(docstring_examples(path))
    return examples


def cli_commands(code: str) -> list[str]:
    """The lines of a shell block that run ``vision-async``, each with its continuation lines joined."""
    commands: list[str] = []
    pending = ""
    for raw in code.splitlines():
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        if line.strip().startswith("vision-async "):
            commands.append(line.strip())
    return commands
