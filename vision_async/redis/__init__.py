"""Flow-control state shared through Redis, so that many worker processes act as one client (the ``redis`` extra).

See :class:`RedisCoordination`; the how and why are in its module, ``vision_async.redis._coordination``.
"""

from __future__ import annotations

from ._coordination import (
    DEFAULT_PROBE_TIMEOUT,
    DEFAULT_RECONNECT_MAX,
    DEFAULT_RECONNECT_MIN,
    DEFAULT_SYNC_INTERVAL,
    DEFAULT_TIMEOUT,
    RedisCoordination,
)

__all__ = [
    "DEFAULT_PROBE_TIMEOUT",
    "DEFAULT_RECONNECT_MAX",
    "DEFAULT_RECONNECT_MIN",
    "DEFAULT_SYNC_INTERVAL",
    "DEFAULT_TIMEOUT",
    "RedisCoordination",
]
