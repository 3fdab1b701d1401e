"""A per-client token-bucket rate limiter (in memory, per process).

Each client key (the authenticated principal, else the client address) has a
bucket of ``burst`` tokens refilled at ``rate_per_minute``; an action takes a
token or is refused with the number of seconds after which it would succeed.
Buckets live in this process only: with several processes or Lambda instances
each enforces its own limit (put API Gateway throttling or AWS WAF rate rules
in front at that scale, see ``docs/service.md``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from .errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets by client key.

    Parameters
    ----------
    rate_per_minute:
        Sustained actions per minute and client; ``0`` disables the limiter.
    burst:
        Bucket size: actions a client may take at once after being idle.
    max_clients:
        Buckets kept; the least recently used are dropped beyond it (a dropped
        client starts again with a full bucket).
    clock:
        Monotonic seconds (tests inject one).
    """

    def __init__(self, rate_per_minute: float, burst: int, *, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_minute < 0:
            raise ValueError(f"rate_per_minute must be >= 0, got {rate_per_minute!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate_per_s = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, t)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def acquire(self, key: str) -> None:
        """Take one token for ``key`` or raise :class:`~liveness_lab.service.errors.RateLimited`."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate_per_s
                raise RateLimited(f"too many challenges created; retry in {wait:.1f} s",
                                  retry_after=wait)
            self._buckets[key] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
