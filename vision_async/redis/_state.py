"""One resource's flow-control state kept in Redis: the four protocols of ``_resilience.state``.

:class:`Namespace` holds the resource's keys, the last state Redis sent back (:class:`Snapshot`,
refreshed by every round trip), the changes not yet pushed (:class:`_Pending`) and the local
fallback state used while Redis is down. Four thin views implement the protocols on it:
:class:`RedisTokens` (the GCRA script, one round trip per token), :class:`RedisAdaptive` and
:class:`RedisCooldown` (synchronous, answered from the snapshot), :class:`RedisBreakerStore`.

A snapshot older than ``sync_interval`` is refreshed in the background when one of the
synchronous views is read (a client without a rate limit books no tokens, so nothing else would
refresh it); changes that other workers must see at once (a cool-down, a throttle) are pushed in
the background too. Everything else rides on the next round trip.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._events import BreakerState
from .._resilience.adaptive import LocalAdaptiveState, Throttle
from .._resilience.rate_limit import Grant, LocalTokenState
from ._link import Link
from ._scripts import BREAKER_PUBLISH, KEY_SUFFIXES, RELEASE, SYNC, TOKEN, TRY_PROBE

if TYPE_CHECKING:
    from .._resilience.breaker import Breaker

__all__ = ["Namespace", "RedisAdaptive", "RedisBreakerStore", "RedisCooldown", "RedisTokens", "Snapshot"]

#: How long the "tripped" key outlives the last trip (garbage collection for abandoned resources).
TRIPPED_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A resource's shared state as one reply told it. Times: ``sent``/``at`` on ``time.monotonic``;
    ``server_now``, ``tat``, ``thr_at`` in Redis ``TIME`` microseconds."""

    sent: float
    at: float
    generation: int
    server_now: float
    tat: float
    cooldown: float
    thr_rate: float | None
    thr_at: str
    send_rate: float
    open_ms: int
    tripped: bool


@dataclass(slots=True)
class _Pending:
    """Changes waiting for the next round trip."""

    cool: float = 0.0  # seconds of cool-down asked for at cool_at
    cool_at: float = 0.0
    sends: int = 0
    throttle: tuple[int, float, float, str] | None = None  # (op, rate, monotonic at, thr_at to clear)


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Namespace:
    """The keys, snapshot, pending changes and local fallback of one resource."""

    def __init__(self, link: Link, hashtag: str, *, workers: int | None, sync_interval: float) -> None:
        self.link = link
        self.keys = [f"{{{hashtag}}}:{suffix}" for suffix in KEY_SUFFIXES]
        self.workers = workers
        self.sync_interval = sync_interval
        client = link.client
        self._token = client.register_script(TOKEN)
        self._sync = client.register_script(SYNC)
        self.release_script = client.register_script(RELEASE)
        self.probe_script = client.register_script(TRY_PROBE)
        self.publish_script = client.register_script(BREAKER_PUBLISH)
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._syncing = False
        self.refreshing = False  # an awaited refresh is in flight (event-loop side)
        self.snapshot: Snapshot | None = None
        self.generation = 0  # bumped around every breaker publish: older snapshots are not mirrored
        # Local fallback (and the source of immediate answers before the first reply).
        self.local_tokens = LocalTokenState()
        self.local_adaptive = LocalAdaptiveState()

    @property
    def share(self) -> float:
        """The share of the rate this worker assumes while Redis is down."""
        return 1.0 / self.workers if self.workers else 1.0

    # -- pushes ------------------------------------------------------------------------------

    def add_cooldown(self, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            pending = self._pending
            if pending.cool <= 0.0 or now + seconds > pending.cool_at + pending.cool:
                pending.cool, pending.cool_at = seconds, now
        self.push_now()

    def add_send(self) -> None:
        with self._lock:
            self._pending.sends += 1

    def set_throttle(self, op: int, rate: float, thr_at: str) -> None:
        with self._lock:
            self._pending.throttle = (op, rate, time.monotonic(), thr_at)
        self.push_now()

    def _take_pending(self, sent: float) -> list[str]:
        with self._lock:
            pending, self._pending = self._pending, _Pending()
        cool = 0.0
        if pending.cool > 0.0:
            cool = max(0.0, pending.cool - (sent - pending.cool_at)) * 1e6
        op, rate, age, thr_at = 0, "", "0", ""
        if pending.throttle is not None:
            op, thr_rate, at, thr_at = pending.throttle
            rate, age = repr(thr_rate), f"{max(0.0, sent - at) * 1e6:.0f}"
        return [f"{cool:.0f}", str(pending.sends), str(op), rate, age, thr_at]

    # -- round trips -------------------------------------------------------------------------

    def _run(self, script: Any, extra: Sequence[str]) -> tuple[Snapshot, int, float]:
        """Run TOKEN or SYNC (in a worker thread): push what is pending, store the state it returns."""
        sent = time.monotonic()
        generation = self.generation
        args = self._take_pending(sent)
        reply = script(keys=self.keys, args=[*args, *extra])
        snapshot = Snapshot(
            sent=sent,
            at=time.monotonic(),
            generation=generation,
            server_now=float(_str(reply[3])),
            tat=float(_str(reply[2])),
            cooldown=float(_str(reply[4])) / 1e6,
            thr_rate=float(_str(reply[5])) if _str(reply[5]) else None,
            thr_at=_str(reply[6]),
            send_rate=float(_str(reply[7])),
            open_ms=int(reply[8]),
            tripped=bool(int(reply[9])),
        )
        current = self.snapshot
        if current is None or current.sent <= sent:
            self.snapshot = snapshot
        return snapshot, int(reply[0]), float(_str(reply[1])) / 1e6

    def book(
        self, interval_us: float, burst: float, max_wait_us: float, floor_us: float = 0.0
    ) -> tuple[Snapshot, int, float]:
        return self._run(self._token, [repr(interval_us), repr(burst), f"{max_wait_us:.0f}", f"{floor_us:.0f}"])

    def sync(self) -> Snapshot:
        return self._run(self._sync, [])[0]

    def push_now(self) -> None:
        """Send pending changes in the background (a cool-down or a throttle others must see now)."""
        self.link.submit(self.sync)

    def fresh(self) -> Snapshot | None:
        """The snapshot, after starting a background refresh if it is older than ``sync_interval``.

        ``None`` while Redis is down (the caller answers from local state).
        """
        if not self.link.usable():
            return None
        snapshot = self.snapshot
        if snapshot is None or time.monotonic() - snapshot.at > self.sync_interval:
            with self._lock:
                if self._syncing:
                    return snapshot
                self._syncing = True
            self.link.submit(self._background_sync)
        return snapshot

    def _background_sync(self) -> None:
        try:
            self.sync()
        finally:
            with self._lock:
                self._syncing = False


class RedisTokens:
    """The GCRA in Redis (:class:`~vision_async._resilience.rate_limit.TokenState`): one script per token.

    Switching between Redis and local state keeps the schedule: the first local booking comes no
    earlier than the shared schedule's end as last seen, and the first shared booking after local
    ones no earlier than this worker's own next local slot.
    """

    __slots__ = ("_last_local", "_last_redis", "_local", "_ns")

    def __init__(self, namespace: Namespace) -> None:
        self._ns = namespace
        self._last_redis: Grant | None = None
        self._last_local: Grant | None = None
        self._local = False  # the last booking came from local state

    async def reserve(self, now: float, rate: float, burst: float, max_wait: float | None) -> Grant | None:
        ns = self._ns
        interval = 1e6 / rate
        max_wait_us = -1.0 if max_wait is None else max(0.0, max_wait) * 1e6
        share = ns.share
        local_rate, local_burst = rate * share, max(1.0, burst * share)
        floor = ns.local_tokens.next_free_in(now, local_rate, local_burst) * 1e6 if self._local else 0.0
        result = await ns.link.call(lambda: ns.book(interval, burst, max_wait_us, floor))
        if result is None:
            if not self._local:
                self._local = True
                snapshot = ns.snapshot
                if snapshot is not None:
                    # Start after the shared schedule as last seen, plus one booking per other worker
                    # (each books one token at a time), so that the local schedules interleave.
                    ahead = (snapshot.tat - snapshot.server_now) / 1e6 - (time.monotonic() - snapshot.at)
                    ahead += ((ns.workers or 1) - 1) / rate
                    ns.local_tokens.tat = max(ns.local_tokens.tat, now + ahead)
            grant = await ns.local_tokens.reserve(now, local_rate, local_burst, max_wait)
            self._last_local = grant
            return grant
        self._local = False
        snapshot, granted, wait = result
        if not granted:
            return None
        # The wait counts from when the script ran (about halfway through the round trip), not
        # from now: a reply that came back late (a busy thread, a slow hop) must not push the send
        # past its slot, where it would crowd the next worker's.
        wait = max(0.0, wait - (time.monotonic() - (snapshot.sent + snapshot.at) / 2.0))
        grant = Grant(wait, snapshot.tat, interval)
        self._last_redis = grant
        return grant

    async def release(self, grant: Grant) -> bool:
        ns = self._ns
        if grant is self._last_local:
            return await ns.local_tokens.release(grant)
        if grant is not self._last_redis:
            return False
        ticket, cost = f"{grant.ticket:.0f}", repr(grant.cost)
        released = await ns.link.call(lambda: ns.release_script(keys=ns.keys[:1], args=[ticket, cost]))
        return bool(released)

    def next_free_in(self, now: float, rate: float, burst: float) -> float:
        ns = self._ns
        snapshot = ns.fresh()
        if snapshot is None:
            share = ns.share
            return ns.local_tokens.next_free_in(now, rate * share, max(1.0, burst * share))
        server_now = snapshot.server_now + (time.monotonic() - snapshot.at) * 1e6
        tat = max(snapshot.tat, server_now)
        slot = tat - (burst - 1.0) * 1e6 / rate
        cool_end = snapshot.server_now + snapshot.cooldown * 1e6
        return max(0.0, (max(slot, cool_end) - server_now) / 1e6)


class RedisCooldown:
    """The 429 cool-down shared by all workers (:class:`~vision_async._resilience.state.CooldownState`)."""

    __slots__ = ("_ns",)

    def __init__(self, namespace: Namespace) -> None:
        self._ns = namespace

    def remaining(self) -> float:
        snapshot = self._ns.fresh()
        if snapshot is None:
            return 0.0  # the local Cooldown keeps this worker's own
        return max(0.0, snapshot.cooldown - (time.monotonic() - snapshot.at))

    def publish(self, seconds: float) -> None:
        if seconds > 0 and math.isfinite(seconds) and self._ns.link.usable():
            self._ns.add_cooldown(seconds)


class RedisAdaptive:
    """The send-rate meter and the last throttle, shared (:class:`~vision_async._resilience.adaptive.AdaptiveState`).

    The rate is measured in Redis over every worker's sends (pushed with the next round trip), so
    the allowed rate is the workers' total, the rate the shared GCRA is given. While Redis is
    down, this worker's own rate times ``workers`` stands for the total.
    """

    __slots__ = ("_ns", "_offset", "_override")

    def __init__(self, namespace: Namespace) -> None:
        self._ns = namespace
        self._offset = 0.0  # caller's clock minus time.monotonic(), learnt from the ``now`` it passes
        self._override: tuple[float, Throttle | None] | None = None  # a local change not yet in a snapshot

    def _learn(self, now: float) -> None:
        self._offset = now - time.monotonic()

    def record_send(self, now: float) -> None:
        self._learn(now)
        ns = self._ns
        ns.local_adaptive.record_send(now)
        if ns.link.up:
            ns.add_send()

    def send_rate(self, now: float) -> float:
        self._learn(now)
        ns = self._ns
        snapshot = ns.fresh()
        if snapshot is None or not snapshot.send_rate:
            workers = ns.workers or 1
            return ns.local_adaptive.send_rate(now) * workers
        return snapshot.send_rate

    def last_throttle(self) -> Throttle | None:
        ns = self._ns
        snapshot = ns.fresh()
        override = self._override
        if snapshot is None:
            return ns.local_adaptive.last_throttle()
        if override is not None and snapshot.sent <= override[0]:
            return override[1]
        self._override = None
        if snapshot.thr_rate is None:
            return None
        age = (snapshot.server_now - float(snapshot.thr_at)) / 1e6 + (time.monotonic() - snapshot.at)
        return Throttle(rate=snapshot.thr_rate, at=time.monotonic() + self._offset - age)

    def set_throttle(self, throttle: Throttle | None) -> None:
        ns = self._ns
        ns.local_adaptive.set_throttle(throttle)
        if not ns.link.usable():
            return
        snapshot = ns.snapshot
        self._override = (time.monotonic(), throttle)
        if throttle is not None:
            ns.set_throttle(1, throttle.rate, "")
        elif snapshot is not None and snapshot.thr_rate is not None:
            ns.set_throttle(2, 0.0, snapshot.thr_at)


class RedisBreakerStore:
    """The breaker's state shared by all workers (:class:`~vision_async._resilience.state.BreakerStore`).

    Mirrored into the local breaker from a snapshot at most ``sync_interval`` old; one half-open
    probe across all workers (a SET NX PX lock, so a dead worker holds it ``probe_timeout`` at most).
    """

    __slots__ = ("_applied", "_dirty", "_ns", "_probe_ms", "_token")

    def __init__(self, namespace: Namespace, *, probe_timeout: float) -> None:
        self._ns = namespace
        self._probe_ms = max(1, int(probe_timeout * 1000))
        self._token = secrets.token_hex(8)  # this worker's name on the probe lock
        self._applied: Snapshot | None = None
        self._dirty = False  # a state change Redis has not heard of (it was down)

    async def refresh(self, breaker: Breaker) -> None:
        ns = self._ns
        if not ns.link.usable():
            return
        if self._dirty:
            await self.publish(breaker)
            if self._dirty:
                return
        snapshot = ns.snapshot
        if (snapshot is None or time.monotonic() - snapshot.at > ns.sync_interval) and not ns.refreshing:
            ns.refreshing = True  # one refresh at a time; concurrent attempts use the state known
            try:
                snapshot = await ns.link.call(ns.sync)
            finally:
                ns.refreshing = False
        if snapshot is None:
            return
        if snapshot is self._applied or snapshot.generation != ns.generation:
            return  # already followed, or older than this worker's own last change
        self._applied = snapshot
        if snapshot.open_ms > 0:
            breaker.mirror(BreakerState.OPEN, open_remaining=snapshot.open_ms / 1000.0)
        elif snapshot.tripped:
            breaker.mirror(BreakerState.HALF_OPEN)
        else:
            breaker.mirror(BreakerState.CLOSED)

    async def try_probe(self) -> bool:
        ns = self._ns
        args = [self._token, str(self._probe_ms)]
        won = await ns.link.call(lambda: ns.probe_script(keys=ns.keys[3:6], args=args))
        return True if won is None else bool(won)  # down: the local breaker decides alone

    async def publish(self, breaker: Breaker) -> None:
        state = breaker.state
        if state is BreakerState.HALF_OPEN:
            self._dirty = False
            return  # the open key expired on its own; the probe lock says who probes
        ns = self._ns
        remaining = breaker.open_remaining() if state is BreakerState.OPEN else 0.0
        open_ms = max(1, int((remaining or breaker.break_length) * 1000))
        args = [
            "open" if state is BreakerState.OPEN else "closed",
            str(open_ms),
            self._token,
            str(TRIPPED_TTL_MS),
        ]
        ns.generation += 1
        try:
            done = await ns.link.call(lambda: ns.publish_script(keys=ns.keys[3:6], args=args))
        finally:
            ns.generation += 1
        self._dirty = done is None
