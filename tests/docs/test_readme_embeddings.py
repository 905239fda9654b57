"""The "Embeddings and image search" page's examples run as written against the emulator."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def section_examples() -> list[str]:
    text = (ROOT / "docs" / "embeddings.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_section_has_two_examples() -> None:
    """The section holds the API example and the batch example."""
    assert len(section_examples()) == 2


@pytest.mark.parametrize(
    ("index", "expected"),
    [(0, ["1024 2023-04-15", "0.095"]), (1, ["q1 1024", "q2 1024", "q3 failed: the text to vectorize is empty"])],
)
def test_example_runs_against_the_emulator(index: int, expected: list[str]) -> None:
    """Each example is a complete program: run from the repository root, it prints what the README says."""
    code = section_examples()[index]
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for line in expected:
        assert line in done.stdout
