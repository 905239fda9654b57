"""``vision-async batch``: many images through ``client.batch``, one JSON line each, resumable.

::

    vision-async batch INPUT... -o results.jsonl [--operation analyze] [--features ...]
                       [--concurrency 32] [--rate 20] [--patience 300] [--shard I/N]
                       [--no-retry-failed]
    vision-async batch --texts manifest.txt -o vectors.jsonl --operation v4.vectorize_text

INPUT is a folder (searched recursively for image files), a file of paths or URLs one per line
(blank lines and ``#`` comments skipped), an image file, an http(s) URL, or ``-`` for stdin.
Each input's key is its path or URL as written (folders: the folder as written joined with the
file's path inside it); one input, one line, whatever happens:

    {"key": ..., "operation": ..., "result": {wire JSON}, "request_id": ..., "attempts": n, "elapsed": s}
    {"key": ..., "operation": ..., "error": {"class", "status", "code", "inner_code", "message",
     "request_id"}, "attempts": n, "elapsed": s}

The embeddings (``v4.vectorize_image``, ``v4.vectorize_text``) write ``"model_version"`` and
``"vector"`` in place of ``"result"``. ``--texts FILE`` (or ``-``) gives ``v4.vectorize_text`` its
texts, one a line: the key is the line number, or the first column of a ``key<TAB>text`` line.

Rerunning the same command resumes: inputs with a success line are skipped, failed ones are run
again (their old line dropped) unless ``--no-retry-failed``, and a broken last line (a crash, a
power loss) is removed first. SIGINT/SIGTERM stop feeding new inputs, give in-flight requests
:data:`GRACE_PERIOD` seconds (a second signal abandons them), flush the file and exit 128+signal.
Exit codes otherwise: 0 every input succeeded, 1 any failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._client import VisionClient
from .._errors import VisionError
from .._resilience.rate_limit import RateLimit
from ..batch import DEFAULT_CONCURRENCY, DEFAULT_PATIENCE, OPERATIONS, _reraise
from ._batch_files import (
    Entry,
    Previous,
    ResultWriter,
    UsageError,
    check_command,
    digest,
    in_shard,
    iter_entries,
    load_previous,
)
from ._client_args import make_client as make_client_for
from ._progress import Progress, Tally, duration, make_progress

__all__ = ["add_parser", "run"]

#: Seconds in-flight requests get to finish after SIGINT/SIGTERM (a second signal abandons them).
GRACE_PERIOD = 10.0
#: Keys read from the inputs per hand-over from the reading thread.
CHUNK = 256

# -- the command line --------------------------------------------------------------------------


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_shard(value: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), with 0 <= I < N."""
    try:
        index_text, count_text = value.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes I/N (e.g. 0/4), got {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard I/N needs N >= 1 and 0 <= I < N, got {value!r}")
    return index, count


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {value!r}")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {value!r}")
    return number


def _option(value: str) -> tuple[str, Any]:
    name, sep, text = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--option takes NAME=VALUE, got {value!r}")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return name.strip().replace("-", "_"), parsed


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``batch`` subcommand on the ``vision-async`` subparsers."""
    help_text = "run one operation over many images, one JSON line each (resumable)"
    p: argparse.ArgumentParser = sub.add_parser("batch", help=help_text, description=__doc__.split("\n\n")[1])
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="folder, file of paths/URLs, image, URL, or - (stdin)")
    p.add_argument(
        "--texts",
        default=None,
        metavar="FILE",
        help="v4.vectorize_text: a file of texts, one a line (key<TAB>text, or keyed by line number); - for stdin",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="the JSON Lines file (appended to, resumable)")
    p.add_argument("--operation", default="analyze", choices=OPERATIONS, help="the operation (default analyze)")
    p.add_argument("--features", type=_csv, default=None, help="comma-separated features (analyze, v4.analyze)")
    p.add_argument("--details", type=_csv, default=None, help="celebrities,landmarks (analyze)")
    p.add_argument("--language", default=None, help="result language (default: the operation's)")
    p.add_argument("--model", default=None, help="domain model, for analyze_by_domain (celebrities, landmarks)")
    p.add_argument("--width", type=int, default=None, help="thumbnail width (generate_thumbnail)")
    p.add_argument("--height", type=int, default=None, help="thumbnail height (generate_thumbnail)")
    p.add_argument("--smart-cropping", action="store_true", default=None, help="smart cropping (thumbnails)")
    p.add_argument("--model-version", default=None, help="model version (v4 operations; embeddings: 2023-04-15)")
    p.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other keyword of the operation (VALUE is JSON if it parses, else a string)",
    )
    p.add_argument("--thumbnail-dir", type=Path, default=None, help="write thumbnails here (default: base64 in JSON)")
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"calls in flight ({DEFAULT_CONCURRENCY})",
    )
    p.add_argument("--rate", type=_positive_float, default=None, help="requests per second, at most (client-side)")
    p.add_argument(
        "--patience",
        type=_seconds,
        default=DEFAULT_PATIENCE,
        metavar="SECONDS",
        help=(
            "how long an input may wait in all, turned away by a transient fault, throttling or an"
            " open breaker (300; 0: fail at once)"
        ),
    )
    p.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="share the rate limit, 429 cool-down and breaker with other workers through Redis (the redis extra)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="with --redis: how many workers share the quota (each takes 1/N of --rate while Redis is unreachable)",
    )
    p.add_argument("--shard", type=parse_shard, default=None, metavar="I/N", help="only shard I (0-based) of N")
    p.add_argument(
        "--no-retry-failed",
        dest="retry_failed",
        action="store_false",
        help="on resume, keep earlier failures instead of running them again",
    )
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "plain", "none"),
        default="auto",
        help="a live bar on a terminal, plain lines otherwise (auto)",
    )
    return p


def operation_options(args: argparse.Namespace) -> dict[str, Any]:
    """The operation's keyword arguments: only those the user gave, so the operation's defaults hold."""
    options: dict[str, Any] = {}
    for name in ("features", "details", "language", "model", "width", "height", "smart_cropping", "model_version"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    for name, value in args.option:
        options[name] = value
    return options


# -- reading the inputs in a thread ----------------------------------------------------------


class KeySource:
    """The inputs (key and input), read by a daemon thread (stdin and big folders never block the loop).

    The thread hands over chunks of :data:`CHUNK` entries through a stream of two chunks, so it
    stays at most a few hundred entries ahead of the batch.
    """

    def __init__(self, keys: Iterator[Entry]) -> None:
        self._keys = keys
        send, receive = anyio.create_memory_object_stream[list[Entry] | BaseException](max_buffer_size=2)
        self._send: MemoryObjectSendStream[list[Entry] | BaseException] = send
        self.receive: MemoryObjectReceiveStream[list[Entry] | BaseException] = receive

    def start(self) -> None:
        token = anyio.lowlevel.current_token()
        threading.Thread(target=self._run, args=(token,), name="vision-async-batch-inputs", daemon=True).start()

    def _run(self, token: Any) -> None:
        try:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
                try:
                    chunk: list[Entry] = []
                    for key in self._keys:
                        chunk.append(key)
                        if len(chunk) >= CHUNK:
                            anyio.from_thread.run(self._send.send, chunk, token=token)
                            chunk = []
                    if chunk:
                        anyio.from_thread.run(self._send.send, chunk, token=token)
                except (OSError, UnicodeError) as exc:
                    anyio.from_thread.run(self._send.send, exc, token=token)
        finally:
            with contextlib.suppress(RuntimeError):
                anyio.from_thread.run_sync(self._send.close, token=token)

    async def keys(self) -> AsyncGenerator[Entry, None]:
        """The entries, in order; closing this generator stops the thread at its next hand-over."""
        async with self.receive:
            async for chunk in self.receive:
                if isinstance(chunk, BaseException):
                    raise UsageError(f"cannot read the inputs: {chunk}") from chunk
                for key in chunk:
                    yield key


def count_in_background(keys: Iterator[Entry], shard: tuple[int, int] | None, tally: Tally) -> threading.Event:
    """Count the inputs of this shard in a daemon thread (for the progress total); set the event to stop."""
    stop = threading.Event()

    def run() -> None:
        n = 0
        try:
            for key, _ in keys:
                if stop.is_set():
                    return
                n += in_shard(key, shard)
        except (OSError, UnicodeError):
            return
        tally.total = n

    threading.Thread(target=run, name="vision-async-batch-count", daemon=True).start()
    return stop


# -- running ---------------------------------------------------------------------------------


def make_client(args: argparse.Namespace) -> VisionClient:
    """The client, made as the other commands make theirs (one resource, several, or the emulator),
    plus the batch's rate limit."""
    options: dict[str, Any] = {"timeout": args.timeout, "max_connections": max(args.concurrency, 10)}
    if args.rate is not None:
        options["rate_limit"] = RateLimit(per_second=args.rate)
    if args.workers is not None and args.redis is None:
        raise UsageError("--workers needs --redis")
    if args.redis is not None:
        try:
            from ..redis import RedisCoordination
        except ImportError:  # pragma: no cover - redis is in the dev extra
            raise UsageError("--redis needs the redis extra: pip install 'vision-async[redis]'") from None
        options["coordination"] = RedisCoordination(args.redis, workers=args.workers)
    return make_client_for(args, **options)


class _Run:
    """One run of the command: inputs -> client.batch -> the output file, with signals and progress."""

    def __init__(self, args: argparse.Namespace, client: VisionClient, previous: Previous, tally: Tally) -> None:
        self.args = args
        self.client = client
        self.previous = previous
        self.tally = tally
        self.stopping = False
        self.signal: int | None = None
        self.batch_scope: anyio.CancelScope | None = None

    async def inputs(self) -> AsyncGenerator[Entry, None]:
        source = KeySource(iter_entries(self.args))
        source.start()
        seen = self.previous.done
        async with contextlib.aclosing(source.keys()) as keys:
            async for key, entry in keys:
                if self.stopping:
                    return
                if not in_shard(key, self.args.shard):
                    continue
                h = digest(key)
                if h in seen:
                    self.tally.skipped += 1
                    continue
                seen.add(h)
                yield key, entry

    async def watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if self.signal is None:
                    self.signal = int(signum)
                    self.stopping = True
                    if self.batch_scope is not None:
                        self.batch_scope.deadline = anyio.current_time() + GRACE_PERIOD
                    print(
                        f"\nvision-async batch: {signal.Signals(signum).name}: finishing the requests in flight "
                        f"(at most {GRACE_PERIOD:.0f}s; again to abandon them)",
                        file=sys.stderr,
                        flush=True,
                    )
                elif self.batch_scope is not None:
                    self.batch_scope.cancel()

    async def tick(self, progress: Progress) -> None:
        while True:
            progress.refresh()
            await anyio.sleep(0.25)

    async def main(self) -> None:
        args = self.args
        self.batch_scope = anyio.CancelScope()
        inputs = self.inputs()
        # The batch checks the operation's options now: a bad one ends the command before the
        # output file is touched.
        batch = self.client.batch(
            inputs, args.operation, concurrency=args.concurrency, patience=args.patience, **operation_options(args)
        )
        writer = ResultWriter(args.output, args.operation, args.thumbnail_dir)
        progress = make_progress(args.progress, self.tally, self.client)
        stop_count = (
            count_in_background(iter_entries(args), args.shard, self.tally)
            if "-" not in args.inputs and args.texts != "-"
            else None
        )
        try:
            async with self.client, anyio.create_task_group() as tg, contextlib.aclosing(inputs):
                tg.start_soon(self.watch_signals)
                tg.start_soon(self.tick, progress)
                with self.batch_scope:
                    async with batch as outcomes:
                        async for item in outcomes:
                            if item.ok:
                                self.tally.succeeded += 1
                            else:
                                self.tally.failed += 1
                            writer.write(item)
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            if len(group.exceptions) != 1:
                raise
            _reraise(group.exceptions[0])
        finally:
            writer.close()
            progress.close()
            if stop_count is not None:
                stop_count.set()


def summary(tally: Tally, previous: Previous, throttled: int, output: Path, interrupted: str | None) -> str:
    state = f"interrupted by {interrupted}" if interrupted else "done"
    lines = [
        f"vision-async batch: {state} in {duration(tally.elapsed)}: "
        f"{tally.succeeded} succeeded, {tally.failed} failed, {tally.skipped} skipped "
        f"({tally.rate():.1f}/s, {throttled} answers 429); results in {output}"
    ]
    if previous.repaired:
        lines.append(f"vision-async batch: removed {previous.repaired} broken or repeated line(s) from {output}")
    if previous.failed_dropped:
        lines.append(f"vision-async batch: {previous.failed_dropped} earlier failure(s) run again")
    if previous.failed_kept:
        lines.append(f"vision-async batch: {previous.failed_kept} earlier failure(s) kept (--no-retry-failed)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """The ``batch`` command; returns the exit code."""
    try:
        check_command(args)
        if not args.output.parent.is_dir():
            raise UsageError(f"no such folder for the output: {args.output.parent}")
        if args.operation == "generate_thumbnail" and (args.width is None or args.height is None):
            raise UsageError("generate_thumbnail needs --width and --height")
        tally = Tally()
        previous = load_previous(args.output, args.operation, retry_failed=args.retry_failed)
        client = make_client(args)
        job = _Run(args, client, previous, tally)
        anyio.run(job.main)
    except UsageError as exc:
        print(f"vision-async batch: {exc}", file=sys.stderr)
        return 2
    except VisionError as exc:  # bad options, found before anything was sent
        print(f"vision-async batch: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except OSError as exc:
        print(f"vision-async batch: {exc}", file=sys.stderr)
        return 1
    interrupted = signal.Signals(job.signal).name if job.signal is not None else None
    print(summary(tally, previous, client.stats().throttled, args.output, interrupted), file=sys.stderr)
    if job.signal is not None:
        return 128 + job.signal
    return 1 if tally.failed or previous.failed_kept else 0
