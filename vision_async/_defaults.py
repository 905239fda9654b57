"""Every default of the client, stated once, with its reason (the docs' tables quote these).

The modules that use a default import it from here; none repeats a value. Settings dataclasses
(``_policies.py``) take their field defaults from here too.
"""

from __future__ import annotations

__all__ = [
    "BATCH_CONCURRENCY",
    "BATCH_PATIENCE",
    "BATCH_PROBE_POLL",
    "BATCH_THROTTLE_WAIT",
    "BATCH_TRANSIENT_WAIT",
    "BREAKER_FAILURE_RATIO",
    "BREAKER_FAIL_MAX",
    "BREAKER_MAX_RESET_TIMEOUT",
    "BREAKER_MINIMUM_THROUGHPUT",
    "BREAKER_RESET_TIMEOUT",
    "BREAKER_SAMPLING_WINDOW",
    "BREAKER_SHORT_BREAKS",
    "BUDGET_MIN_PER_SECOND",
    "BUDGET_RATIO",
    "BUDGET_WINDOW",
    "BURST_SECONDS",
    "CLI_CONCURRENCY",
    "COOLDOWN",
    "HUNG_FACTOR",
    "HUNG_FLOOR",
    "HUNG_FRESH",
    "HUNG_MIN_SAMPLES",
    "HUNG_QUANTILE",
    "HUNG_REFRESH",
    "HUNG_SAMPLES",
    "KEEPALIVE_EXPIRY",
    "MAX_CONNECTIONS",
    "MODEL_VERSION_EMBEDDINGS",
    "READ_TIMEOUT",
    "REDIS_PROBE_TIMEOUT",
    "REDIS_RECONNECT_MAX",
    "REDIS_RECONNECT_MIN",
    "REDIS_SYNC_INTERVAL",
    "REDIS_TIMEOUT",
    "RETRY_INITIAL_BACKOFF",
    "RETRY_MAX_ATTEMPTS",
    "RETRY_MAX_BACKOFF",
    "RETRY_MAX_RETRY_AFTER",
    "RETRY_TOTAL_TIMEOUT",
    "SEARCH_TOP",
    "SPARK_CONCURRENCY",
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

# -- retries and the breaker --------------------------------------------------------------------

#: Attempts per call, the first included (azure-core's policy retries 3 times too).
RETRY_MAX_ATTEMPTS = 4
#: Seconds before the first retry; doubles per retry (full jitter), up to RETRY_MAX_BACKOFF.
RETRY_INITIAL_BACKOFF = 0.5
RETRY_MAX_BACKOFF = 8.0
#: A server asking for a longer wait than this (Retry-After) gets no retry: the call fails at once.
RETRY_MAX_RETRY_AFTER = 60.0
#: Seconds one call may take in all: every attempt, backoff and wait for a token or a cool-down.
RETRY_TOTAL_TIMEOUT = 60.0

#: Share of failed attempts over the sampling window that opens the breaker (resilience4j's 50%).
BREAKER_FAILURE_RATIO = 0.5
#: Attempts the sampling window must hold before the ratio is trusted.
BREAKER_MINIMUM_THROUGHPUT = 20
#: Seconds the failure ratio looks back.
BREAKER_SAMPLING_WINDOW = 1.0
#: Consecutive failures that open the breaker when traffic is too low for the ratio.
BREAKER_FAIL_MAX = 5
#: Seconds of the first break (Polly's and Hystrix's 5 s).
BREAKER_RESET_TIMEOUT = 5.0
#: Longest break: breaks double while probes keep failing, up to this.
BREAKER_MAX_RESET_TIMEOUT = 30.0
#: Breaks of ``reset_timeout`` before they start doubling: the first 30 s of an outage are probed
#: every 5 s, so that an outage of up to 30 s is noticed over within 5 s of its end (with
#: doubling from the first failed probe, a 16 s outage was noticed 19 s late, a 20 s one 15 s).
BREAKER_SHORT_BREAKS = 6


# -- operations --------------------------------------------------------------------------------

#: Seconds :meth:`VisionClient.read` waits for an operation to finish, polls included.
READ_TIMEOUT = 120.0
#: Pinned, not "latest": vectors of different model versions are not comparable, and a silent
#: model change would corrupt an index. 2023-04-15 is the multilingual model (102 languages).
MODEL_VERSION_EMBEDDINGS = "2023-04-15"

# -- batches -----------------------------------------------------------------------------------

#: Calls a batch keeps in flight unless told otherwise.
BATCH_CONCURRENCY = 32
#: Seconds an input may wait in all, turned away for now (429s, an open breaker, transient faults),
#: before it ends with the error that turned it away.
BATCH_PATIENCE = 300.0
#: A batch's input deferred while a half-open breaker's probe is out (no time to wait for is
#: known): how often it asks again.
BATCH_PROBE_POLL = 0.5
#: How long a batch's input waits after a throttled call that named no wait of its own.
BATCH_THROTTLE_WAIT = 1.0
#: Seconds before a batch's input whose call ended with a transient fault (5xx, timeout,
#: connection error, 408) is run again.
BATCH_TRANSIENT_WAIT = 1.0
#: Inside a batch, an attempt running past max(HUNG_FLOOR, HUNG_FACTOR x the HUNG_QUANTILE of the
#: last HUNG_SAMPLES successful attempts) is abandoned as hung and retried (its item's later
#: attempts get twice the time), once HUNG_MIN_SAMPLES attempts succeeded and the last success is
#: at most HUNG_FRESH seconds old. The floor keeps a fast service's jitter from cutting answers.
HUNG_FLOOR = 2.0
HUNG_FACTOR = 4.0
HUNG_QUANTILE = 0.99
HUNG_SAMPLES = 256
HUNG_MIN_SAMPLES = 32
HUNG_FRESH = 10.0
#: The cut-off is computed again every this many successes (a sort of HUNG_SAMPLES floats).
HUNG_REFRESH = 16

# -- Spark and the command line ----------------------------------------------------------------

#: Calls in flight per Python worker of ``vision_transform``.
SPARK_CONCURRENCY = 16
#: Images the command line analyzes at once when it is given several (``vision-async tag a b c``).
CLI_CONCURRENCY = 8
#: Matches ``vision-async search`` prints unless told ``--top``.
SEARCH_TOP = 10

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
