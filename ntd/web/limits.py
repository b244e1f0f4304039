"""Rate limits, in memory per worker process: requests per token (a token bucket) and failed
logins per client (a sliding window). Per worker on purpose: a limit shared between workers
would need a shared store and a write on every request; with N workers a client may get up to
N times the limit, which the settings' documentation says."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from domain.values import DomainError

Monotonic = Callable[[], float]


class RateLimited(DomainError):
    """Too many requests: try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class TooManyAttempts(RateLimited):
    """Too many failed logins from one client."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """`per_minute` requests a minute per key, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int, clock: Monotonic = time.monotonic, most: int = 100_000):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.clock = clock
        self.most = most
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one request of `key`'s allowance, or raise RateLimited saying when to retry."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.most:
                    self._buckets.clear()  # bounded memory: forgetting is generous, not wrong
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens < 1:
                wait = (1 - bucket.tokens) / self.rate
                raise RateLimited("too many requests for this token; slow down", wait)
            bucket.tokens -= 1


class FailedAttempts:
    """At most `most` failures per key within `window` seconds; a success forgets the key."""

    def __init__(self, most: int, window: float, clock: Monotonic = time.monotonic):
        self.most = most
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Raise TooManyAttempts while `key` has used up its failures."""
        now = self.clock()
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) >= self.most:
                wait = failures[0] + self.window - now
                raise TooManyAttempts("too many failed logins; wait and try again", wait)

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= 100_000:
                self._failures.clear()
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures
