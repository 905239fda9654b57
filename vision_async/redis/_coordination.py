"""Flow-control state shared through Redis, so that many worker processes act as one client (the ``redis`` extra).

```python
from vision_async import VisionClient, RateLimit
from vision_async.redis import RedisCoordination

async with VisionClient(endpoint, key, rate_limit=RateLimit.S1,
                        coordination=RedisCoordination("redis://127.0.0.1:6379/0", workers=8)) as client:
    ...
```

What the workers share, per Azure resource (keys ``{prefix + namespace}:...``, the namespace
derived from the endpoint, so that workers of different resources never share a quota):

- **the rate limit**: one GCRA for all workers, an atomic Lua script with Redis ``TIME`` as the
  one clock (the machines' clocks never enter it, so clock skew does not matter); one round trip
  per token, and that round trip also carries the cool-down, the adaptive state and the breaker
  state both ways;
- **the 429 cool-down**: a 429 in one worker pushes the next slot of every worker past the wait
  the service asked for (pushed at once, in the background);
- **the adaptive rate**: the send rate is measured over all workers and the last throttle is
  shared, so one worker's 429 lowers the rate of all of them;
- **the circuit breaker**: a breaker that opens in one worker is open in all within
  ``sync_interval`` (0.5 s) of their next attempt; once ``reset_timeout`` has passed, exactly one
  half-open probe goes out across all workers (a ``SET NX PX`` lock that expires after
  ``probe_timeout``, so that a dead worker cannot hold it). Failure counting stays per worker.

**When Redis is unreachable** nothing fails: the first failed command logs one WARNING and each
worker goes on with local state (assuming ``1/workers`` of the rate when ``workers`` is given,
else the whole rate); a background PING retries with backoff (``reconnect_min`` doubling up to
``reconnect_max``), never per request, and the first answer logs one WARNING and the workers
rejoin the shared limit. A command waits at most ``timeout`` seconds (0.25 s) for Redis, and
while it is down, requests do not wait for it at all. :meth:`RedisCoordination.describe` (shown
by ``client.stats()``) says ``"redis"`` or ``"redis (fallback: local)"``.

**The Redis client library**: redis-py, the well-kept standard, through its *synchronous* client
run in worker threads (``anyio.to_thread.run_sync``) -- under asyncio and trio alike. Its
``redis.asyncio`` client is asyncio-only (it would leave trio users without coordination), binds
its connection pool to one event loop, and has had connection-corruption bugs on cancellation
(CVE-2023-28858/28859); the threaded sync client has none of these, and a push that must not wait
for the next request (a cool-down) simply goes to the link's own thread. The cost per token, and
beside it ``redis.asyncio``'s, is measured by ``benchmarks/bench_redis.py``; the figures are in
the guide (docs/scaling-out.md). A worker books its tokens one at a time (FIFO), which bounds what
one process gets through Redis per resource.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

from .._checks import is_int, is_number
from .._defaults import REDIS_PROBE_TIMEOUT as DEFAULT_PROBE_TIMEOUT
from .._defaults import REDIS_RECONNECT_MAX as DEFAULT_RECONNECT_MAX
from .._defaults import REDIS_RECONNECT_MIN as DEFAULT_RECONNECT_MIN
from .._defaults import REDIS_SYNC_INTERVAL as DEFAULT_SYNC_INTERVAL
from .._defaults import REDIS_TIMEOUT as DEFAULT_TIMEOUT
from .._errors import ConfigurationError
from .._resilience.state import ResourceState

if TYPE_CHECKING:
    import redis as redis_py

    from .._policies import BreakerPolicy
    from .._resilience.rate_limit import RateLimit
    from ._link import Link
    from ._state import Namespace

__all__ = [
    "DEFAULT_PROBE_TIMEOUT",
    "DEFAULT_RECONNECT_MAX",
    "DEFAULT_RECONNECT_MIN",
    "DEFAULT_SYNC_INTERVAL",
    "DEFAULT_TIMEOUT",
    "RedisCoordination",
]


def _seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    if not is_number(value) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    return float(value)


def _label(client: Any) -> str:
    """Where the client connects, without credentials: ``host:port/db`` or the socket path."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix:{kwargs['path']}/{db}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{db}"


class RedisCoordination:
    """Shares the rate limit, cool-down, adaptive rate and breaker of every resource through Redis.

    ``url``: a ``redis://``, ``rediss://`` (TLS) or ``unix://`` URL, or a ``redis.Redis`` client
    you configured yourself (then its own timeouts and retries apply, and it is never closed by
    this object). ``workers``: how many workers share the resource, used only while Redis is down
    (each then assumes ``1/workers`` of the rate; ``None``: the whole). ``prefix`` goes before
    every key (several deployments on one Redis). The rest are the ``DEFAULT_*`` constants above.

    Give each client its own coordination; the client closes it.
    """

    def __init__(
        self,
        url: str | redis_py.Redis,
        *,
        workers: int | None = None,
        prefix: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        sync_interval: float = DEFAULT_SYNC_INTERVAL,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
        reconnect_min: float = DEFAULT_RECONNECT_MIN,
        reconnect_max: float = DEFAULT_RECONNECT_MAX,
    ) -> None:
        try:
            import redis as redis_py
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            from ._link import Link
        except ImportError as exc:
            raise ConfigurationError("RedisCoordination needs redis-py: pip install 'vision-async[redis]'") from exc
        if workers is not None and (not is_int(workers) or workers < 1):
            raise ConfigurationError(f"workers must be an int >= 1 or None, got {workers!r}")
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a str, got {type(prefix).__name__}")
        if "{" in prefix or "}" in prefix:
            raise ConfigurationError("prefix must not contain braces (they delimit the Redis Cluster hash tag)")
        timeout = _seconds("timeout", timeout)
        self._sync_interval = _seconds("sync_interval", sync_interval, allow_zero=True)
        self._probe_timeout = _seconds("probe_timeout", probe_timeout)
        reconnect_min = _seconds("reconnect_min", reconnect_min)
        reconnect_max = max(reconnect_min, _seconds("reconnect_max", reconnect_max))
        if isinstance(url, str):
            if not url.strip():
                raise ConfigurationError("the Redis URL is empty")
            try:
                client = redis_py.Redis.from_url(
                    url.strip(),
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 0),
                    client_name="vision_async",
                )
            except (ValueError, TypeError):
                # The message of redis-py's URL parser may quote the URL, password included.
                raise ConfigurationError(
                    "not a usable Redis URL: expected redis://[[user]:password@]host[:port][/db], "
                    "rediss://... (TLS) or unix:///path/to/socket"
                ) from None
            owned = True
        elif isinstance(url, redis_py.Redis):
            client, owned = url, False
        else:
            raise ConfigurationError(
                f"url must be a Redis URL or a (synchronous) redis.Redis client, not {type(url).__name__}"
            )
        self._workers = workers
        self._prefix = prefix
        self._label = _label(client)
        fallback = f"each worker assumes 1/{workers} of the rate" if workers else "each worker assumes the whole rate"
        self._link: Link = Link(
            client,
            label=self._label,
            owned=owned,
            backoff_min=reconnect_min,
            backoff_max=reconnect_max,
            fallback=fallback,
        )
        self._namespaces: dict[str, Namespace] = {}
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """Whether Redis answered the last command (True before the first one)."""
        return self._link.up

    @property
    def outages(self) -> int:
        """How many times Redis became unreachable (each logged once)."""
        return self._link.failures

    @property
    def reconnects(self) -> int:
        """How many times Redis answered again after an outage (each logged once)."""
        return self._link.reconnects

    def resource(
        self,
        namespace: str,
        *,
        rate_limit: RateLimit | None,
        breaker: BreakerPolicy | None,
    ) -> ResourceState:
        """The shared state of one resource (its keys under ``{prefix + namespace}``)."""
        from ._state import Namespace, RedisAdaptive, RedisBreakerStore, RedisCooldown, RedisTokens

        self._link.reopen()
        with self._lock:
            ns = self._namespaces.get(namespace)
            if ns is None:
                ns = Namespace(
                    self._link, self._prefix + namespace, workers=self._workers, sync_interval=self._sync_interval
                )
                self._namespaces[namespace] = ns
        return ResourceState(
            tokens=RedisTokens(ns),
            adaptive=RedisAdaptive(ns),
            cooldown=RedisCooldown(ns),
            breaker=RedisBreakerStore(ns, probe_timeout=self._probe_timeout) if breaker is not None else None,
        )

    async def aclose(self) -> None:
        """Stop the background thread and close the connections (a Redis client given is left open)."""
        self._link.close()

    def describe(self) -> str:
        """``"redis"`` while Redis answers, ``"redis (fallback: local)"`` while it does not."""
        return "redis" if self._link.up else "redis (fallback: local)"

    def __repr__(self) -> str:
        workers = "" if self._workers is None else f", workers={self._workers}"
        return f"RedisCoordination({self._label!r}{workers}, {self.describe()})"
