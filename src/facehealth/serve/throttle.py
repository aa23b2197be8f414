"""Sliding-window rate limiters: in-process by default, in Redis when ``REDIS_URL`` is set.

One service process can count attempts in its own memory. Several processes (uvicorn workers, or
replicas behind a proxy) must share the count, or an attacker gets N times the attempts; that is
what Redis is for here. Both limiters keep the same rule: at most ``attempts`` hits per key in any
``window_s`` seconds, and a refused hit is not counted.

Redis holds only these counters (keys like ``facehealth:login:<address>|<e-mail>``, expiring with
their window), never health data: nothing the service computes is slow enough to need a cache, and
a second store of results would be a second place for them to leak from.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict, deque
from typing import Any, Protocol

__all__ = ["Limiter", "RateLimiter", "RedisRateLimiter", "connect_redis"]


class Limiter(Protocol):
    def hit(self, key: str) -> float: ...

    def reset(self, key: str) -> None: ...


class RateLimiter:
    """In-process limiter (one service process)."""

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float:
        """Count an attempt; returns 0 when allowed, else the seconds until the next is allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.attempts:
                return hits[0] + self.window_s - now
            hits.append(now)
            return 0.0

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


# One atomic step on the server's own clock (so every process agrees on time): drop hits older than
# the window, refuse when full (returning the wait in ms), else add this hit and renew the expiry.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisRateLimiter:
    """The same limiter shared by every process that uses the same Redis and ``name``."""

    def __init__(self, client: Any, name: str, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._client = client
        self._prefix = f"facehealth:{name}:"
        self._script = client.register_script(_HIT)

    def hit(self, key: str) -> float:
        member = uuid.uuid4().hex  # two hits in the same millisecond are two hits
        wait_ms = self._script(keys=[self._prefix + key], args=[int(self.window_s * 1000), self.attempts, member])
        return max(float(wait_ms), 0.0) / 1000.0

    def reset(self, key: str) -> None:
        self._client.delete(self._prefix + key)


def connect_redis(url: str) -> Any:
    """A Redis client for ``url``, checked with a PING; raises ConfigError with the reason."""
    from facehealth.errors import ConfigError

    try:
        import redis
    except ImportError as exc:
        raise ConfigError("REDIS_URL is set but the redis package is not installed (pip install redis)") from exc
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"cannot reach Redis at REDIS_URL ({exc}); unset REDIS_URL to count in-process") from exc
    return client
