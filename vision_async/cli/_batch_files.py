"""Files of ``vision-async batch``: finding the inputs (images, or a manifest of texts), sharding
them, and the JSON Lines output (writing it line by line, and reading it back to resume: skip,
retry, repair). Embeddings are written as ``{"key", "operation", "model_version", "vector", ...}``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .._core.images import sniff_format
from .._records import error_record, jsonable, result_record, thumbnail_record
from ..batch import BatchItem
from ..v4._embedding import Embedding
from ..v4._retrieval import VECTORIZE_IMAGE
from ..v4._retrieval import VECTORIZE_TEXT as TEXT_OPERATION
from ..v4._surface import OPERATION as V4_ANALYZE

__all__ = [
    "TEXT_OPERATION",
    "Entry",
    "Previous",
    "ResultWriter",
    "UsageError",
    "check_command",
    "check_inputs",
    "digest",
    "image_of",
    "in_shard",
    "iter_entries",
    "iter_keys",
    "iter_texts",
    "load_previous",
]

_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp"})
_V4_SUFFIXES = frozenset({".webp", ".tif", ".tiff", ".ico", ".mpo"})
_EXTRA_SUFFIXES = {
    "read": frozenset({".pdf", ".tif", ".tiff"}),
    V4_ANALYZE: _V4_SUFFIXES,
    VECTORIZE_IMAGE: _V4_SUFFIXES,
}


class UsageError(Exception):
    """A bad command line or output file: exit 2 with the message."""


# -- keys: discovery, sharding, digests ------------------------------------------------------


def digest(key: str) -> int:
    """A stable 64-bit digest of a key (the same on every machine and Python version)."""
    data = key.encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or digest(key) % shard[1] == shard[0]


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _looks_like_image(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return False
    return sniff_format(head) is not None


def check_inputs(inputs: Sequence[str]) -> None:
    """Refuse inputs that do not exist, before anything starts."""
    if inputs.count("-") > 1:
        raise UsageError("'-' (stdin) may be given once")
    for text in inputs:
        if text == "-" or _is_url(text):
            continue
        if not os.path.exists(text):
            raise UsageError(f"no such file or folder: {text}")


def iter_keys(inputs: Sequence[str], operation: str, stdin: IO[str] | None = None) -> Iterator[str]:
    """Every key the inputs name, lazily, in a stable order (folders sorted, files line by line)."""
    suffixes = _IMAGE_SUFFIXES | _EXTRA_SUFFIXES.get(operation, frozenset())
    for text in inputs:
        if text == "-":
            yield from _lines(stdin if stdin is not None else sys.stdin)
        elif _is_url(text):
            yield text
        elif os.path.isdir(text):
            yield from _walk(text, suffixes)
        elif _looks_like_image(text):
            yield text
        else:
            with open(text, encoding="utf-8", errors="surrogateescape") as f:
                yield from _lines(f)


def iter_texts(source: str, stdin: IO[str] | None = None) -> Iterator[tuple[str, str]]:
    """(key, text) of each non-blank line of a manifest of texts (``-``: stdin), lazily.

    A line ``key<TAB>text`` has its first column as key; any other line is keyed by its line
    number (1-based, blank lines counted), so that a key names the same line on every run.
    """
    with contextlib.ExitStack() as stack:
        if source == "-":
            f = stdin if stdin is not None else sys.stdin
        else:
            f = stack.enter_context(open(source, encoding="utf-8", errors="surrogateescape"))
        for number, line in enumerate(f, 1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            key, tab, rest = text.partition("\t")
            if tab and key.strip():
                yield key.strip(), rest
            else:
                yield str(number), text


Entry = tuple[str, Any]  # (key, the operation's input: an image path or URL, or a text)


def iter_entries(args: argparse.Namespace) -> Iterator[Entry]:
    """(key, input) of every input the command line names: texts for ``--texts``, else images."""
    if args.texts is not None:
        return iter_texts(args.texts)
    return ((key, image_of(key)) for key in iter_keys(args.inputs, args.operation))


def check_command(args: argparse.Namespace) -> None:
    """Refuse a command line whose inputs do not fit its operation, before anything starts."""
    if args.operation == TEXT_OPERATION:
        if args.texts is None or args.inputs:
            raise UsageError("v4.vectorize_text takes its texts from --texts FILE (one a line), not INPUT arguments")
        check_inputs([args.texts])
        return
    if args.texts is not None:
        raise UsageError(f"--texts goes with --operation {TEXT_OPERATION}")
    if not args.inputs:
        raise UsageError("name at least one INPUT (a folder, a file of paths or URLs, an image, a URL or -)")
    check_inputs(args.inputs)


def _lines(f: IO[str]) -> Iterator[str]:
    for line in f:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            yield entry


def _walk(root: str, suffixes: frozenset[str]) -> Iterator[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in suffixes:
                yield os.path.join(folder, name)


def image_of(key: str) -> str | Path:
    return key if _is_url(key) else Path(key)


# -- the output file: resume and repair ------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Previous:
    """What an earlier run left in the output file."""

    done: set[int] = dataclasses.field(default_factory=set)  # digests of keys not to run again
    succeeded: int = 0
    failed_kept: int = 0
    failed_dropped: int = 0
    repaired: int = 0  # broken or duplicate lines removed


def _classify(line: bytes, operation: str) -> tuple[str, str | None]:
    """("ok" | "error" | "broken", key) for one line of the output file."""
    if not line.endswith(b"\n"):
        return "broken", None
    try:
        record = json.loads(line)
    except ValueError:
        return "broken", None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return "broken", None
    if record.get("operation") != operation:
        raise UsageError(
            f"the output file holds results of operation {record.get('operation')!r}, not {operation!r}; "
            "use another output file"
        )
    if "result" in record or "vector" in record:
        return "ok", record["key"]
    if "error" in record:
        return "error", record["key"]
    return "broken", None


def load_previous(path: Path, operation: str, *, retry_failed: bool) -> Previous:
    """Read the output file of an earlier run; rewrite it without the lines that must go.

    Goes: a broken line (no newline at the end, not JSON, not a record: what a crash or a power
    loss leaves), a second line for a key, and failures that will be run again. The rewrite is
    atomic (a temporary file, fsync, rename), so a crash during it loses nothing.
    """
    previous = Previous()
    if not path.exists():
        return previous
    if path.is_dir():
        raise UsageError(f"the output {path} is a folder")
    keep: list[bool] = []
    with path.open("rb") as f:
        for line in f:
            kind, key = _classify(line, operation)
            if key is None:
                previous.repaired += 1
                keep.append(False)
                continue
            h = digest(key)
            if h in previous.done:
                previous.repaired += 1
                keep.append(False)
            elif kind == "ok" or not retry_failed:
                previous.done.add(h)
                previous.succeeded += kind == "ok"
                previous.failed_kept += kind == "error"
                keep.append(True)
            else:
                previous.failed_dropped += 1
                keep.append(False)
    if all(keep):
        return previous
    tmp = path.with_name(path.name + ".repair")
    with path.open("rb") as src, tmp.open("wb") as dst:
        for line, kept in zip(src, keep, strict=True):
            if kept:
                dst.write(line)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
    return previous


class ResultWriter:
    """Appends one flushed JSON line per outcome; thumbnails go to a folder or into the line."""

    def __init__(self, path: Path, operation: str, thumbnail_dir: Path | None) -> None:
        self.operation = operation
        self._thumbnail_dir = thumbnail_dir
        if thumbnail_dir is not None:
            thumbnail_dir.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")

    def write(self, item: BatchItem) -> None:
        record: dict[str, Any] = {"key": item.key, "operation": self.operation}
        if item.error is None and isinstance(item.result, Embedding):  # the line an index or `search` reads
            record["model_version"] = item.result.model_version
            record["vector"] = item.result.vector
            record["request_id"] = item.result.request_id
        elif item.error is None:
            record["result"] = self._wire(item.key, item.result)
            record["request_id"] = getattr(item.result, "request_id", None)
        else:
            record["error"] = error_record(item.error)
        record["attempts"] = item.attempts
        record["elapsed"] = round(item.elapsed, 4)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=jsonable)
        self._file.write(line.encode("utf-8", "surrogateescape") + b"\n")
        self._file.flush()

    def _wire(self, key: str, result: Any) -> Any:
        if isinstance(result, bytes) and self._thumbnail_dir is not None:  # a thumbnail, to a file
            meta = thumbnail_record(result)
            target = self._thumbnail_dir / f"{digest(key):016x}.{meta['format'].lower()}"
            target.write_bytes(result)
            return {**meta, "path": str(target)}
        return result_record(result)

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.flush()
        with contextlib.suppress(OSError):
            os.fsync(self._file.fileno())
        self._file.close()
