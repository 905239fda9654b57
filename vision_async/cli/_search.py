"""``vision-async search``: a text query against the vectors ``vision-async batch`` wrote.

::

    vision-async search "a red bicycle" vectors.jsonl [more.jsonl ...] [--top 10] [--json]

The query is vectorized with the model version of the files' vectors (``--model-version`` must
agree), then the files are streamed: each line is parsed into a row of a float32 numpy matrix of
:data:`CHUNK_ROWS` rows, each full matrix is scored by cosine similarity with one matrix product,
and only the best ``--top`` are kept. Memory is a chunk and the top
list, whatever the number of vectors. Lines without a vector (failures) are skipped, a broken
line (a crash's) too; a vector of another model version or another dimension refuses the search
(exit 2): such vectors are not comparable. Exit codes: 0 found, 1 the query failed, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._defaults import SEARCH_TOP
from ._batch_files import UsageError
from ._client_args import make_client

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["CHUNK_ROWS", "Found", "Scan", "add_parser", "first_model_version", "run", "scan"]

#: Vectors parsed and scored at a time: each line's numbers go straight into a row of one float32
#: matrix (1024 numbers: 16 MB per chunk), so no more than one line's Python floats live at once.
CHUNK_ROWS = 4096
DEFAULT_TOP = SEARCH_TOP


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``search`` subcommand on the ``vision-async`` subparsers."""
    help_text = "find the images nearest a text query in the vectors of `batch --operation v4.vectorize_image`"
    p: argparse.ArgumentParser = sub.add_parser("search", help=help_text, description=__doc__.split("\n\n")[2])
    p.add_argument("query", help="the text to search for (1 to 70 words)")
    p.add_argument("files", nargs="+", type=Path, metavar="VECTORS", help="JSON Lines files of vectors")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"how many to print (default {DEFAULT_TOP})")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--model-version", default=None, help="the files' model version (default: what they hold)")
    return p


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is in the cli extra
        raise UsageError("search needs numpy: pip install 'vision-async[cli]'") from None
    return numpy


def _records(path: Path, broken: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of each line of ``path`` that holds a vector."""
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    broken[0] += 1
                    continue
                if isinstance(record, dict) and "vector" in record:
                    yield number, record
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def first_model_version(paths: Sequence[Path]) -> str:
    """The model version of the first vector in ``paths`` (UsageError when there is none)."""
    for path in paths:
        for number, record in _records(path, [0]):
            version = record.get("model_version")
            if not isinstance(version, str) or not version:
                raise UsageError(f"{path}:{number}: the vector names no model_version")
            return version
    raise UsageError(
        f"no vectors in {', '.join(map(str, paths))}: write them with `vision-async batch "
        "--operation v4.vectorize_image`"
    )


@dataclass(frozen=True, slots=True)
class Found:
    key: str
    score: float


@dataclass(slots=True)
class Scan:
    """The outcome of a scan: the best matches, best first, and what was read."""

    found: list[Found] = field(default_factory=list)
    vectors: int = 0
    skipped: int = 0  # broken lines


class _TopK:
    """The ``k`` best scores seen so far, merged chunk by chunk (numpy's argpartition)."""

    def __init__(self, np: Any, k: int) -> None:
        self.np = np
        self.k = k
        self.scores: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self.keys: list[str] = []

    def add(self, scores: npt.NDArray[np.float32], keys: list[str]) -> None:
        np = self.np
        merged = np.concatenate((self.scores, scores))
        names = self.keys + keys
        if len(merged) > self.k:
            keep = np.argpartition(-merged, self.k - 1)[: self.k]
            merged = merged[keep]
            names = [names[i] for i in keep]
        self.scores, self.keys = merged, names

    def best(self) -> list[Found]:
        order = sorted(range(len(self.keys)), key=lambda i: (-float(self.scores[i]), self.keys[i]))
        return [Found(self.keys[i], float(self.scores[i])) for i in order]


def scan(paths: Sequence[Path], query: Sequence[float], model_version: str, *, top: int) -> Scan:
    """The ``top`` vectors of ``paths`` nearest ``query`` by cosine similarity, streamed in chunks."""
    np = _numpy()
    q = np.asarray(query, dtype=np.float32)
    norm = float(np.linalg.norm(q))
    q = q / (norm or 1.0)
    dimensions = len(q)
    best = _TopK(np, top)
    result = Scan()
    broken = [0]
    chunk = np.empty((CHUNK_ROWS, dimensions), dtype=np.float32)  # one row per vector, reused
    keys: list[str] = []

    def flush() -> None:
        matrix = chunk[: len(keys)]
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        best.add((matrix @ q) / norms, list(keys))
        result.vectors += len(keys)
        keys.clear()

    for path in paths:
        for number, record in _records(path, broken):
            version = record.get("model_version")
            if version != model_version:
                raise UsageError(
                    f"{path}:{number}: a vector of model version {version!r} among vectors of {model_version!r}; "
                    "vectors of different model versions are not comparable: search one model version at a time"
                )
            vector = record["vector"]
            if not isinstance(vector, list) or len(vector) != dimensions:
                size = len(vector) if isinstance(vector, list) else type(vector).__name__
                raise UsageError(f"{path}:{number}: a vector of {size} dimensions; the query has {dimensions}")
            try:
                chunk[len(keys)] = vector
            except (ValueError, TypeError):
                raise UsageError(f"{path}:{number}: the vector holds something that is not a number") from None
            keys.append(str(record.get("key")))
            if len(keys) == CHUNK_ROWS:
                flush()
    if keys:
        flush()
    result.found = best.best()
    result.skipped = broken[0]
    return result


async def _vectorize(args: argparse.Namespace, model_version: str) -> list[float]:
    client = make_client(args, timeout=args.timeout)
    async with client:
        embedding = await client.v4.vectorize_text(args.query, model_version=model_version)
    return list(embedding.vector)


def run(args: argparse.Namespace) -> int:
    """The ``search`` command; returns the exit code (its UsageError and VisionError go to ``main``'s handler)."""
    if args.top < 1:
        raise UsageError(f"--top must be >= 1, got {args.top}")
    for path in args.files:
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
    model_version = first_model_version(args.files)
    if args.model_version is not None and args.model_version != model_version:
        raise UsageError(f"--model-version {args.model_version} but {args.files[0]} holds vectors of {model_version}")
    query = anyio.run(_vectorize, args, model_version)
    start = time.perf_counter()
    found = scan(args.files, query, model_version, top=args.top)
    elapsed = time.perf_counter() - start
    if args.json:
        document = {
            "query": args.query,
            "model_version": model_version,
            "results": [{"key": f.key, "score": round(f.score, 6)} for f in found.found],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        for f in found.found:
            print(f"{f.score:.4f}  {f.key}")
    skipped = f", {found.skipped} broken line(s) skipped" if found.skipped else ""
    print(
        f"vision-async search: {found.vectors} vectors of model version {model_version} compared in "
        f"{elapsed:.2f}s{skipped}",
        file=sys.stderr,
    )
    return 0
