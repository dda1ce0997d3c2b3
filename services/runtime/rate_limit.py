"""Token-bucket rate limits per key (an agency, usually).

``acquire`` takes ``cost`` tokens or refuses. ``acquire_many`` is for one call that
stands for many sends (a bulk send's rows): every one of them is taken from the
bucket, which may go into debt below zero, and the call is refused up front
unless the bucket holds ``min(count, burst)`` now. So a bulk send is never larger
than the rate allows by splitting it up, the agency's next sends wait until the
bulk's rows have been paid back at its rate, and a bulk send larger than the
burst is still possible (it could never fit a bucket of ``burst`` tokens).

``RedisRateLimiter`` holds the buckets in Redis, updated atomically by a Lua
script, so every replica draws from the same bucket; ``LocalRateLimiter`` is the
in-process fallback when no ``REDIS_URL`` is configured (one replica).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from services.runtime.errors import ResourceExhausted, StartupError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: float

    @classmethod
    def per_minute(cls, count: float, burst: float | None = None) -> Limit:
        return cls(rate=count / 60.0, burst=burst if burst is not None else count)


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: Limit, cost: float = 1.0) -> None:
        """Take ``cost`` tokens or raise ``ResourceExhausted`` with the wait needed."""
        ...

    def acquire_many(self, key: str, limit: Limit, count: int) -> None:
        """Take ``count`` tokens, into debt if need be, when the bucket holds
        ``min(count, burst)``; else raise ``ResourceExhausted`` with the wait needed."""
        ...


def _exhausted(what: str, retry_after: float) -> ResourceExhausted:
    if not math.isfinite(retry_after):  # more than the bucket ever holds: waiting won't help
        return ResourceExhausted(
            f"rate limit for {what} is smaller than this one request; it cannot succeed",
            retry_after,
        )
    wait = max(0.001, retry_after)
    return ResourceExhausted(f"rate limit reached for {what}; retry in {wait:.2f}s", wait)


class _TokenBuckets:
    """What both limiters share: how a call's cost maps to the bucket (``_take``)."""

    def acquire(self, key: str, limit: Limit, cost: float = 1.0) -> None:
        if cost > limit.burst:
            raise _exhausted(key, math.inf)
        self._take(key, limit, need=cost, cost=cost)

    def acquire_many(self, key: str, limit: Limit, count: int) -> None:
        self._take(key, limit, need=min(count, limit.burst), cost=count)

    def _take(self, key: str, limit: Limit, *, need: float, cost: float) -> None:
        raise NotImplementedError


class LocalRateLimiter(_TokenBuckets):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, key: str, limit: Limit, *, need: float, cost: float) -> None:
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (limit.burst, now))
            tokens = min(limit.burst, tokens + (now - at) * limit.rate)
            if tokens < need:
                self._buckets[key] = (tokens, now)
                raise _exhausted(key, (need - tokens) / limit.rate)
            self._buckets[key] = (tokens - cost, now)


# KEYS[1] bucket; ARGV: rate, burst, need, cost (need <= cost: the tokens the bucket
# must hold now; cost: the tokens taken, into debt). Redis's own clock keeps
# replicas in step; the key lives until the bucket would be full again.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local need, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < need then
  wait = (need - tokens) / rate
else
  tokens = tokens - cost
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter(_TokenBuckets):
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_SCRIPT)

    def _take(self, key: str, limit: Limit, *, need: float, cost: float) -> None:
        try:
            wait = float(
                self._script(
                    keys=[f"{self._prefix}:{key}"], args=[limit.rate, limit.burst, need, cost]
                )
            )
        except redis.RedisError:
            # Fail open: a Redis outage must not stop every agency; log it loudly.
            log.error("rate limiter unavailable; allowing the call")
            return
        if wait > 0:
            raise _exhausted(key, wait)


def connect(redis_url: str, prefix: str) -> RateLimiter:
    """Redis when a URL is configured (checked at start), otherwise in-process."""
    if not redis_url:
        return LocalRateLimiter()
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=2)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise StartupError(f"cannot reach Redis at REDIS_URL: {exc}") from None
    return RedisRateLimiter(client, prefix)
