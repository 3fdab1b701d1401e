"""How many presentations a claim needs: exact binomial bounds and attempt plans.

A test that observes ``k`` errors in ``n`` presentations supports the claim "the error rate
is below ``limit``" at confidence ``c`` when the exact (Clopper-Pearson) one-sided upper
bound is at most ``limit``, i.e. when ``P(X <= k | n, limit) <= 1 - c`` for
``X ~ Binomial(n, limit)``. With no error at all that is ``(1 - limit) ** n <= 1 - c``:
the "rule of three" (about ``3 / limit`` presentations at 95 %).

:func:`presentations_needed` inverts this: the smallest ``n`` for which ``k`` errors still
support the claim. :data:`ATTEMPT_PLANS` are the two iBeta-*style* plans the report prints
(a Level 1 style and a Level 2 style claim); their limits are this project's assumptions,
stated as such, not iBeta's protocol.

Plain functions of integers and floats (scipy for the binomial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["upper_bound", "claim_supported", "presentations_needed", "AttemptPlan",
           "ATTEMPT_PLANS"]


def _check(limit: float, confidence: float) -> None:
    if not 0 < limit < 1:
        raise ValueError(f"limit must be a proportion strictly between 0 and 1 (0.05 for 5 %), "
                         f"got {limit!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95, got {confidence!r}")


def _counts(errors: int, n: int) -> tuple[int, int]:
    if isinstance(errors, bool) or isinstance(n, bool) or int(errors) != errors \
            or int(n) != n or not 0 <= int(errors) <= int(n):
        raise ValueError(f"need integers 0 <= errors <= n, got errors={errors!r}, n={n!r}")
    return int(errors), int(n)


def upper_bound(errors: int, n: int, *, confidence: float = 0.95) -> float:
    """The exact one-sided upper confidence bound of a rate, ``errors / n`` observed.

    Returns ``nan`` when ``n == 0``.

    >>> round(upper_bound(0, 59), 4)
    0.0495
    >>> round(upper_bound(0, 58), 4)
    0.0503
    """
    from scipy.stats import beta
    k, n = _counts(errors, n)
    _check(0.5, confidence)
    if n == 0:
        return math.nan
    if k == n:
        return 1.0
    return float(beta.ppf(confidence, k + 1, n - k))


def claim_supported(errors: int, n: int, limit: float, *, confidence: float = 0.95) -> bool:
    """Whether ``errors`` in ``n`` presentations show the rate is below ``limit``.

    >>> claim_supported(0, 59, 0.05), claim_supported(0, 58, 0.05)
    (True, False)
    """
    from scipy.stats import binom
    k, n = _counts(errors, n)
    _check(limit, confidence)
    return n > 0 and float(binom.cdf(k, n, limit)) <= 1 - confidence


def presentations_needed(limit: float, *, confidence: float = 0.95,
                         allowed_errors: int = 0) -> int:
    """The fewest presentations for which ``allowed_errors`` still support ``rate < limit``.

    >>> presentations_needed(0.05), presentations_needed(0.01)
    (59, 299)
    >>> presentations_needed(0.05, allowed_errors=1)
    93
    """
    from scipy.stats import binom
    _check(limit, confidence)
    if isinstance(allowed_errors, bool) or int(allowed_errors) != allowed_errors \
            or allowed_errors < 0:
        raise ValueError(f"allowed_errors must be a non-negative integer, got "
                         f"{allowed_errors!r}")
    k = int(allowed_errors)
    # binom.cdf(k, n, limit) decreases in n: bracket, then bisect
    lo, hi = k + 1, max(k + 2, 2 * math.ceil((k + 3) / limit))
    while binom.cdf(k, hi, limit) > 1 - confidence:
        lo, hi = hi, 2 * hi
    while lo < hi:
        mid = (lo + hi) // 2
        if binom.cdf(k, mid, limit) <= 1 - confidence:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass(frozen=True)
class AttemptPlan:
    """A claim to test: "APCER of every species is below ``apcer_limit``" at ``confidence``.

    Attributes
    ----------
    name:
        How the report labels it (e.g. ``"Level 1 style"``).
    apcer_limit:
        The largest APCER the claim allows, a proportion.
    confidence:
        Confidence of the claim (one-sided, exact binomial).
    description:
        What kind of attack the level stands for, for the report.
    """

    name: str
    apcer_limit: float
    confidence: float = 0.95
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an attempt plan needs a name")
        _check(self.apcer_limit, self.confidence)

    def needed(self, allowed_errors: int = 0) -> int:
        """Presentations per species when ``allowed_errors`` attacks may be accepted."""
        return presentations_needed(self.apcer_limit, confidence=self.confidence,
                                    allowed_errors=allowed_errors)

    def supported(self, accepted: int, total: int) -> bool:
        """Whether ``accepted`` of ``total`` attacks of a species support the claim."""
        return claim_supported(accepted, total, self.apcer_limit, confidence=self.confidence)


#: The iBeta-style plans of the report (this project's assumptions, not iBeta's protocol).
ATTEMPT_PLANS = (
    AttemptPlan("Level 1 style", 0.05, 0.95,
                "everyday instruments (prints, screen replays), minutes of preparation"),
    AttemptPlan("Level 2 style", 0.01, 0.95,
                "crafted instruments (masks, curved prints), days of preparation"),
)
