"""Flow-control state shared through Redis, so that many worker processes act as one client (the ``redis`` extra).

See :class:`RedisCoordination`; the how and why are in its module, ``vision_async.redis._coordination``.
"""

from __future__ import annotations

from . import _coordination
from ._coordination import *  # noqa: F403  (the names its __all__ lists, stated once there)

__all__ = list(_coordination.__all__)
