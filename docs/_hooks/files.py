"""MkDocs hook: files the pages show that live outside docs/ (the benchmark chart) are added to the site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]

#: site path -> file in the repository
EXTERNAL = {"benchmarks/speed-latest.png": ROOT / "benchmarks" / "results" / "speed-latest.png"}


def on_files(files: Files, config: Any) -> Files:
    for uri, path in EXTERNAL.items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
