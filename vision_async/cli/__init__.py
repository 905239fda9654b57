"""The ``vision-async`` command line (``vision_async.cli:main`` is its entry point)."""

from __future__ import annotations

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
