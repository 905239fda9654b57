"""Every default of the client, stated once, with its reason (the docs' tables quote these).

The modules that use a default import it from here; none repeats a value. Settings dataclasses
(``_policies.py``) take their field defaults from here too.
"""

from __future__ import annotations

__all__ = [
    "BATCH_CONCURRENCY",
    "BATCH_PATIENCE",
    "BUDGET_MIN_PER_SECOND",
    "BUDGET_RATIO",
    "BUDGET_WINDOW",
    "BURST_SECONDS",
    "COOLDOWN",
    "KEEPALIVE_EXPIRY",
    "MAX_CONNECTIONS",
    "MODEL_VERSION_EMBEDDINGS",
    "READ_TIMEOUT",
    "REDIS_PROBE_TIMEOUT",
    "REDIS_RECONNECT_MAX",
    "REDIS_RECONNECT_MIN",
    "REDIS_SYNC_INTERVAL",
    "REDIS_TIMEOUT",
    "TIMEOUT",
]

# -- one attempt, the connections --------------------------------------------------------------

#: Seconds one attempt (connect, send, wait for and read the answer) may take.
TIMEOUT = 30.0
#: Connections the default pool keeps open to the endpoint.
MAX_CONNECTIONS = 100
#: Seconds an idle pooled connection is kept (below the usual server keep-alive of 5-15 s).
KEEPALIVE_EXPIRY = 5.0

# -- flow control ------------------------------------------------------------------------------

#: Seconds to pause when a 429 names no wait.
COOLDOWN = 1.0
#: The default burst of a rate limit is this many seconds' worth of tokens, and at least one token.
BURST_SECONDS = 0.1
#: Retries may add this fraction of the recent calls (Finagle's and Envoy's 20%).
BUDGET_RATIO = 0.2
#: Retries always allowed per second of window, whatever the traffic (10 per 10-second window).
BUDGET_MIN_PER_SECOND = 1.0
#: How far back, in seconds, calls and retries are counted (Finagle's ttl).
BUDGET_WINDOW = 10.0

# -- operations --------------------------------------------------------------------------------

#: Seconds :meth:`VisionClient.read` waits for an operation to finish, polls included.
READ_TIMEOUT = 120.0
#: Pinned, not "latest": vectors of different model versions are not comparable, and a silent
#: model change would corrupt an index. 2023-04-15 is the multilingual model (102 languages).
MODEL_VERSION_EMBEDDINGS = "2023-04-15"

# -- batches -----------------------------------------------------------------------------------

#: Calls a batch keeps in flight unless told otherwise.
BATCH_CONCURRENCY = 32
#: Seconds an input may wait in all, turned away for now (429s, an open breaker), before it ends
#: with the error that turned it away.
BATCH_PATIENCE = 300.0

# -- coordination through Redis ----------------------------------------------------------------

#: Seconds a Redis command (and a connection attempt) may take before Redis counts as down.
REDIS_TIMEOUT = 0.25
#: The oldest shared state (seconds) a worker acts on: the breaker, the cool-down and the adaptive
#: rate are refreshed at least this often while the worker sends.
REDIS_SYNC_INTERVAL = 0.5
#: Seconds one worker's half-open probe holds the probe lock (the longest a dead worker blocks
#: probing; set it to about your attempt timeout).
REDIS_PROBE_TIMEOUT = 30.0
#: First and longest pause between reconnection attempts while Redis is down, seconds.
REDIS_RECONNECT_MIN = 0.5
REDIS_RECONNECT_MAX = 10.0
