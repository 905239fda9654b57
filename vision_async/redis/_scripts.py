"""The Lua scripts that keep a resource's flow-control state in Redis (see :mod:`vision_async.redis`).

Every script runs atomically in Redis and reads the one clock, Redis ``TIME``, in microseconds.
Times and TATs are stored as integer microseconds written with ``%.0f`` (Lua's ``tostring`` keeps
only 14 digits, too few for microseconds since 1970).

Keys of one resource (``H`` is ``{prefix + namespace}``, a Redis Cluster hash tag, so all keys of
a resource live in one slot)::

    H:gcra              GCRA theoretical arrival time, us                  (PX: until it is past)
    H:cool              end of the shared 429 cool-down, us                (PX: its length)
    H:adapt             hash: bucket, count, first, rate (send-rate meter); thr_rate, thr_at (last throttle)
    H:breaker:open      exists while the breaker is open                   (PX: reset_timeout)
    H:breaker:tripped   exists while the breaker is not closed (open or half-open)
    H:breaker:probe     the half-open probe lock, SET NX PX                (PX: probe_timeout)

:data:`TOKEN` and :data:`SYNC` take the same pushes (ARGV 1-6) and return the same state (the
reply layout is :data:`REPLY_FIELDS`), so that every round trip carries the cool-down, the
adaptive state and the breaker state both ways.
"""

from __future__ import annotations

__all__ = ["BREAKER_PUBLISH", "KEY_SUFFIXES", "RELEASE", "REPLY_FIELDS", "SYNC", "TOKEN", "TRY_PROBE"]

#: Key suffixes, in the order the scripts take them as KEYS.
KEY_SUFFIXES = ("gcra", "cool", "adapt", "breaker:open", "breaker:tripped", "breaker:probe")

#: The reply of TOKEN and SYNC, in order. granted: 1 booked, 0 refused (max_wait), -1 SYNC.
REPLY_FIELDS = (
    "granted",
    "wait_us",
    "tat",
    "now",
    "cool_us",
    "thr_rate",
    "thr_at",
    "send_rate",
    "open_ms",
    "tripped",
)

_PREAMBLE = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function us(x) return string.format('%.0f', x) end
local BUCKET = 500000
local IDLE = 600000
"""

# ARGV[1] cool-down to publish, us (0: none); ARGV[2] sends to count; ARGV[3] throttle op
# (0 none, 1 set ARGV[4] rate refused, ARGV[5] its age in us; 2 clear if thr_at == ARGV[6]).
_PUSH = """
local cool_push = tonumber(ARGV[1])
if cool_push > 0 then
  local ends = now + cool_push
  local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
  if ends > cur then
    redis.call('SET', KEYS[2], us(ends), 'PX', math.ceil(cool_push / 1000) + 1)
  end
end
local sends = tonumber(ARGV[2])
if sends > 0 then
  local h = redis.call('HMGET', KEYS[3], 'bucket', 'count', 'rate')
  local b = math.floor(now / BUCKET)
  local hb = tonumber(h[1])
  if hb == nil then
    redis.call('HSET', KEYS[3], 'bucket', us(b), 'count', us(sends), 'first', us(now))
  elseif b > hb then
    local bucket_rate = tonumber(h[2]) / ((b - hb) * BUCKET / 1000000)
    local rate = tonumber(h[3])
    if rate == nil then rate = bucket_rate else rate = 0.8 * bucket_rate + 0.2 * rate end
    redis.call('HSET', KEYS[3], 'bucket', us(b), 'count', us(sends), 'rate', string.format('%.17g', rate))
  else
    redis.call('HINCRBY', KEYS[3], 'count', sends)
  end
  redis.call('PEXPIRE', KEYS[3], IDLE)
end
local thr_op = tonumber(ARGV[3])
if thr_op == 1 then
  local at = now - tonumber(ARGV[5])
  local cur = tonumber(redis.call('HGET', KEYS[3], 'thr_at') or '0')
  if at >= cur then
    redis.call('HSET', KEYS[3], 'thr_rate', ARGV[4], 'thr_at', us(at))
    redis.call('PEXPIRE', KEYS[3], IDLE)
  end
elseif thr_op == 2 then
  if redis.call('HGET', KEYS[3], 'thr_at') == ARGV[6] then
    redis.call('HDEL', KEYS[3], 'thr_rate', 'thr_at')
  end
end
"""

# ARGV[7] emission interval, us; ARGV[8] burst, tokens; ARGV[9] max wait, us (-1: no bound);
# ARGV[10] this worker's own earliest slot, us from now (0: none; after it ran on local state).
# GCRA: tat = max(TAT, now); the slot (tat - tau) never comes before the cool-down's end nor
# before the worker's own earliest slot.
_TOKEN_BODY = """
local interval = tonumber(ARGV[7])
local tau = (tonumber(ARGV[8]) - 1) * interval
local max_wait = tonumber(ARGV[9])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local cool_end = tonumber(redis.call('GET', KEYS[2]) or '0')
if cool_end > tat - tau then tat = cool_end + tau end
local floor = tonumber(ARGV[10])
if floor > 0 and now + floor > tat - tau then tat = now + floor + tau end
local wait = tat - tau - now
if wait < 0 then wait = 0 end
local granted = 0
if max_wait < 0 or wait <= max_wait then
  tat = math.ceil(tat + interval)
  redis.call('SET', KEYS[1], us(tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
  granted = 1
end
"""

_SYNC_BODY = """
local granted, wait = -1, 0
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
"""

_READ = """
local cool_left = tonumber(redis.call('GET', KEYS[2]) or '0') - now
if cool_left < 0 then cool_left = 0 end
local h = redis.call('HMGET', KEYS[3], 'bucket', 'count', 'first', 'rate', 'thr_rate', 'thr_at')
local send_rate = 0
if h[1] then
  local b = math.floor(now / BUCKET)
  local hb = tonumber(h[1])
  local count = tonumber(h[2])
  if b > hb then
    local bucket_rate = count / ((b - hb) * BUCKET / 1000000)
    if h[4] then send_rate = 0.8 * bucket_rate + 0.2 * tonumber(h[4]) else send_rate = bucket_rate end
  elseif h[4] then
    send_rate = tonumber(h[4])
  else
    send_rate = count / math.max((now - tonumber(h[3])) / 1000000, BUCKET / 1000000)
  end
end
local tripped = redis.call('EXISTS', KEYS[5])
return {granted, us(wait), us(tat), us(now), us(cool_left), h[5] or '', h[6] or '',
        string.format('%.17g', send_rate), redis.call('PTTL', KEYS[4]), tripped}
"""

#: Book one token (push, GCRA, read).
TOKEN = _PREAMBLE + _PUSH + _TOKEN_BODY + _READ

#: Push and read, booking nothing.
SYNC = _PREAMBLE + _PUSH + _SYNC_BODY + _READ

#: Give back the last booking: KEYS[1] gcra; ARGV[1] the TAT it set (us); ARGV[2] its interval (us).
RELEASE = """
local cur = redis.call('GET', KEYS[1])
if cur and cur == ARGV[1] then
  redis.call('SET', KEYS[1], string.format('%.0f', tonumber(cur) - tonumber(ARGV[2])), 'KEEPTTL')
  return 1
end
return 0
"""

#: The half-open probe lock: KEYS open, tripped, probe; ARGV[1] the worker's token, ARGV[2] PX.
#: 0 while open; 1 when the shared breaker is closed (nothing to lock); 1 when this worker holds
#: the lock already (its probe was cancelled: it probes again); else SET NX PX.
TRY_PROBE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

#: A worker's breaker changed state: KEYS open, tripped, probe; ARGV[1] "open" or "closed",
#: ARGV[2] the open PX (ms), ARGV[3] the worker's probe token, ARGV[4] tripped PX (ms).
BREAKER_PUBLISH = """
if ARGV[1] == 'open' then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1], KEYS[2])
end
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return 1
"""
