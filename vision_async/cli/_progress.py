"""Progress of ``vision-async batch``: a live ``rich`` bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .._client import VisionClient

__all__ = ["PLAIN_PROGRESS_INTERVAL", "Progress", "Tally", "duration", "make_progress"]

#: Seconds between progress lines when stderr is not a terminal.
PLAIN_PROGRESS_INTERVAL = 10.0


@dataclasses.dataclass(slots=True)
class Tally:
    """Counts of this run, read by the progress display and the summary."""

    started: float = dataclasses.field(default_factory=time.monotonic)
    total: int | None = None  # inputs of this shard, once counted
    skipped: int = 0  # done by an earlier run, or a repeated key
    succeeded: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self) -> float:
        return self.finished / self.elapsed if self.elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        if self.total is None or rate <= 0:
            return None
        return max(0, self.total - self.skipped - self.finished) / rate


def _client_status(client: VisionClient) -> str:
    """The client's flow control right now: allowed rate, cool-down, breaker state."""
    stats = client.stats()
    parts = [f"allowed {stats.allowed_rate:.1f}/s" if stats.allowed_rate is not None else "unlimited"]
    if stats.cooldown_remaining > 0:
        parts.append(f"cool-down {stats.cooldown_remaining:.1f}s")
    if stats.breaker_state is not None:
        parts.append(f"breaker {stats.breaker_state}")
    return ", ".join(parts)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def progress_line(tally: Tally, client: VisionClient) -> str:
    done = tally.skipped + tally.finished
    total = f"/{tally.total}" if tally.total is not None else ""
    return (
        f"vision-async batch: {done}{total} done ({tally.skipped} skipped), {tally.failed} errors, "
        f"{client.stats().throttled} 429s, {tally.rate():.1f}/s, ETA {duration(tally.eta())}, " + _client_status(client)
    )


class Progress(Protocol):
    def refresh(self) -> None: ...
    def close(self) -> None: ...


class PlainProgress:
    """A line on stderr every ``interval`` seconds."""

    def __init__(self, tally: Tally, client: VisionClient, interval: float | None = None) -> None:
        self._tally = tally
        self._client = client
        self._interval = PLAIN_PROGRESS_INTERVAL if interval is None else interval
        self._last = time.monotonic()

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            print(progress_line(self._tally, self._client), file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class NoProgress:
    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class BarProgress:
    """A live ``rich`` bar on stderr: done/total, rate, ETA, errors, 429s, allowed rate, breaker."""

    def __init__(self, tally: Tally, client: VisionClient) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._tally = tally
        self._client = client
        self._progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("batch", total=None, rate="", eta="?", status="")
        self._progress.start()

    def refresh(self) -> None:
        t = self._tally
        throttled = self._client.stats().throttled
        self._progress.update(
            self._task,
            completed=t.skipped + t.finished,
            total=t.total,
            rate=f"{t.rate():.1f}/s",
            eta=duration(t.eta()),
            status=f"{t.failed} errors, {throttled} 429s, {_client_status(self._client)}",
        )

    def close(self) -> None:
        self.refresh()
        self._progress.stop()


def make_progress(mode: str, tally: Tally, client: VisionClient) -> Progress:
    if mode == "none":
        return NoProgress()
    if mode == "bar" or (mode == "auto" and sys.stderr.isatty()):
        try:
            return BarProgress(tally, client)
        except ImportError:
            if mode == "bar":
                print(
                    "vision-async batch: the progress bar needs rich: pip install 'vision-async[cli]'", file=sys.stderr
                )
    return PlainProgress(tally, client)
