"""Failure budgets: lock a client out after too many failed attempts (in memory, per process).

Amazon Rekognition Face Liveness advises at most 5 failed checks per device in
3 minutes, then a lockout of 30 to 60 minutes. :class:`FailureBudget` does that
for any key: :meth:`FailureBudget.record_failure` after each failure,
:meth:`FailureBudget.check` before the next attempt (raises
:class:`~liveness_lab.service.errors.RateLimited` with ``retry_after`` while the
key is locked out). The service keeps two: failed verifications per client
(principal, else address) and failed creation authentications per address.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable

from .errors import RateLimited

__all__ = ["FailureBudget", "BudgetState"]


@dataclass(frozen=True)
class BudgetState:
    """Where a key stands: failures counted in the window, the limit, and the lockout end.

    ``locked_until`` is seconds on the budget's clock (``None``: not locked out);
    ``retry_after_s`` is how long is left of the lockout (0 when not locked out).
    """

    failures: int
    limit: int
    window_s: float
    locked_until: float | None
    retry_after_s: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.failures) if self.locked_until is None else 0


class FailureBudget:
    """At most ``max_failures`` failures per key in ``window_s``; then a ``lockout_s`` lockout.

    ``max_failures=0`` disables the budget. ``clock`` gives seconds (tests
    inject one); ``what`` names the failures in the refusal message.
    """

    def __init__(self, max_failures: int, window_s: float, lockout_s: float, *,
                 what: str = "failed attempts", max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
            raise ValueError(f"max_failures must be an integer >= 0, got {max_failures!r}")
        if not window_s > 0 or not lockout_s > 0:
            raise ValueError(f"window_s and lockout_s must be > 0, got {window_s!r} and "
                             f"{lockout_s!r}")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self.lockout_s = float(lockout_s)
        self.what = what
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def state(self, key: str) -> BudgetState:
        """The budget of ``key`` now."""
        now = self._clock()
        with self._lock:
            until = self._locked.get(key)
            if until is not None and until <= now:
                del self._locked[key]
                until = None
            count = len(self._prune(key, now))
        return BudgetState(count, self.max_failures, self.window_s, until,
                           0.0 if until is None else until - now)

    def check(self, key: str) -> None:
        """Raise :class:`RateLimited` (with ``retry_after``) while ``key`` is locked out."""
        if not self.enabled:
            return
        st = self.state(key)
        if st.locked_until is not None:
            raise RateLimited(f"too many {self.what} ({self.max_failures} in "
                              f"{self.window_s:g} s): locked out, retry in "
                              f"{st.retry_after_s:.0f} s", retry_after=st.retry_after_s)

    def record_failure(self, key: str) -> BudgetState:
        """Count a failure of ``key``; the one that reaches the limit starts the lockout."""
        if not self.enabled:
            return self.state(key)
        now = self._clock()
        with self._lock:
            times = self._prune(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
            if len(times) >= self.max_failures:
                self._locked[key] = now + self.lockout_s
                times.clear()
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)  # a lockout already started stays
            for k in [k for k, until in self._locked.items() if until <= now]:
                del self._locked[k]
        return self.state(key)
