"""Uploads per enrollment: a token bucket per enrollment id, in this process's memory.

Only authenticated uploads are counted (after the device's signature checked), so
nobody can spend another participant's allowance. Each server process keeps its
own buckets: behind a load balancer with N processes an enrollment can send up to
N times the rate, which still stops a runaway client.
"""

from __future__ import annotations

import threading
import time

MAX_TRACKED = 100_000


class TokenBuckets:
    def __init__(self, burst: int, per_minute: float, clock=time.monotonic):
        self.burst = burst
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token for ``key``: 0 if allowed, else the seconds until the next one."""
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            if len(self._buckets) >= MAX_TRACKED and key not in self._buckets:
                self._forget_full(now)
            self._buckets[key] = (tokens - 1, now)
            return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they hold no information."""
        self._buckets = {k: (t, w) for k, (t, w) in self._buckets.items()
                         if t + (now - w) * self.rate < self.burst}
