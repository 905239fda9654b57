"""The connection to Redis and its health: up, or down with local fallback and reconnection in the background.

Every Redis command runs on redis-py's synchronous client in a thread, so that it works the same
under asyncio and trio (see :mod:`vision_async.redis` for why):

- :meth:`Link.call` runs a command for a request (``anyio.to_thread.run_sync``) and returns
  ``None`` at once, without touching the network, while Redis is down;
- :meth:`Link.submit` runs a command in the background on the link's own thread (pushes that must
  not wait for the next round trip, reconnection attempts); nothing awaits it.

The first failure marks the link down and logs one WARNING; from then on a background PING is
tried after ``backoff_min`` seconds, doubling up to ``backoff_max``, never per request. The first
PING that succeeds marks the link up again and logs one WARNING. Nothing here ever raises into a
request: every failure (a refused connection, a timeout, an unexpected reply) means "down".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio
import anyio.to_thread
import redis

__all__ = ["Link"]

logger = logging.getLogger("vision_async.redis")

T = TypeVar("T")


class Link:
    """One Redis client, its health, and a background thread for pushes and reconnection."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        label: str,
        owned: bool,
        backoff_min: float,
        backoff_max: float,
        fallback: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.label = label
        self._owned = owned
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._backoff = backoff_min
        self._fallback = fallback
        self._clock = clock
        self._lock = threading.Lock()
        self._up = True  # optimistic: the first command finds out
        self._next_try = 0.0
        self._trying = False
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self.failures = 0  # times the link went down
        self.reconnects = 0  # times it came back

    @property
    def up(self) -> bool:
        """Whether Redis answered the last command (or none was sent yet)."""
        return self._up

    def usable(self) -> bool:
        """True while up; while down, starts a background reconnection attempt when one is due."""
        if self._up:
            return True
        self._maybe_reconnect()
        return False

    async def call(self, command: Callable[[], T]) -> T | None:
        """Run ``command`` in a worker thread; ``None`` (and local state for the caller) while down."""
        if not self.usable():
            return None
        try:
            result = await anyio.to_thread.run_sync(command)
        except Exception as exc:  # any failure means "Redis is not usable now"; never raise into a request
            self.failed(exc)
            return None
        return result

    def submit(self, command: Callable[[], object]) -> bool:
        """Run ``command`` in the background on the link's thread; False when down or closed."""
        if not self.usable() or self._closed:
            return False
        self._run_in_background(command)
        return True

    def _run_in_background(self, command: Callable[[], object]) -> None:
        def run() -> None:
            if self._closed:
                return
            try:
                command()
            except Exception as exc:  # background: log through failed(), never raise
                self.failed(exc)

        with self._lock:
            if self._closed:
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vision-async-redis")
            self._executor.submit(run)

    def failed(self, exc: BaseException) -> None:
        """A command failed: mark the link down (one WARNING per outage) and schedule a reconnection."""
        with self._lock:
            if not self._up or self._closed:
                return  # already down, or a command cut short by close(): nothing to report
            self._up = False
            self.failures += 1
            self._backoff = self._backoff_min
            self._next_try = self._clock() + self._backoff
        logger.warning(
            "Redis at %s is unreachable (%s); falling back to local state (%s) and reconnecting in the background",
            self.label,
            type(exc).__name__,
            self._fallback,
        )

    def _maybe_reconnect(self) -> None:
        with self._lock:
            if self._up or self._trying or self._closed or self._clock() < self._next_try:
                return
            self._trying = True
        self._run_in_background(self._reconnect)

    def _reconnect(self) -> None:
        try:
            # Connections from before the outage are dead: drop them, then try a fresh one.
            self.client.connection_pool.disconnect()
            self.client.ping()
        except Exception as exc:
            with self._lock:
                self._trying = False
                self._backoff = min(self._backoff * 2.0, self._backoff_max)
                self._next_try = self._clock() + self._backoff
            logger.debug(
                "Redis at %s still unreachable (%s); next try in %.1fs", self.label, type(exc).__name__, self._backoff
            )
            return
        with self._lock:
            self._trying = False
            self._up = True
            self.reconnects += 1
        logger.warning("Redis at %s answers again; the workers share their state again", self.label)

    def close(self) -> None:
        """Stop the background thread (without waiting for it) and close the connections if owned."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if self._owned:
            self.client.close()

    def reopen(self) -> None:
        """Allow use again after :meth:`close` (a coordination outlives one client)."""
        with self._lock:
            self._closed = False
