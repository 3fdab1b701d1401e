"""Confidence intervals for error rates: Wilson for proportions, bootstrap grouped by subject.

* :func:`wilson_interval` - the Wilson score interval of a proportion ``k / n``. Unlike the
  normal ("Wald") interval it stays inside [0, 1] and is informative at 0 errors: 0 accepted
  attacks out of 30 still leaves APCER up to 11.4 % at 95 %.
* :func:`bootstrap_interval` - a percentile bootstrap that resamples **groups** (subjects)
  with replacement rather than sessions: the sessions of one person are correlated, and
  resampling them independently would make the intervals too narrow.

Both are plain functions of numpy arrays; the same seed always gives the same interval.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Callable, Iterator, Mapping

import numpy as np

__all__ = ["wilson_interval", "rate_with_interval", "clopper_pearson_interval", "grouped_bootstrap_draws", "grouped_bootstrap_indices",
           "bootstrap_interval"]

#: Resamples whose weights are materialised at once are limited to about this many cells.
_MAX_CELLS = 2_000_000


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95, got {confidence!r}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``successes / n``.

    Parameters
    ----------
    successes : int
        Number of events counted (e.g. accepted attacks), ``0 <= successes <= n``.
    n : int
        Number of trials (e.g. attack presentations).
    confidence : float
        Coverage level, e.g. 0.95.

    Returns
    -------
    (low, high) : tuple of float
        Bounds in [0, 1]; ``(nan, nan)`` when ``n == 0``.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(0, 10)]
    [0.0, 0.2775]
    >>> [round(v, 4) for v in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    """
    if isinstance(successes, bool) or isinstance(n, bool) or int(successes) != successes \
            or int(n) != n:
        raise ValueError(f"successes and n must be integers, got {successes!r} and {n!r}")
    k, n = int(successes), int(n)
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got successes={k}, n={n}")
    z = _z(confidence)
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # exact bounds at the edges (the formula gives them up to rounding)
    if k == 0:
        low = 0.0
    if k == n:
        high = 1.0
    return (low, high)


def rate_with_interval(errors: int, n: int, *, unit: str = " %") -> str:
    """``"5.0 % [2.2, 11.2] (5/100)"``: the rate, its Wilson 95 % interval and the count.

    ``unit`` goes after the rate (``"%"`` for ``"5.0%"``); ``"-"`` when ``n`` is 0.
    """
    if n == 0:
        return "-"
    lo, hi = wilson_interval(errors, n)
    return f"{100 * errors / n:.1f}{unit} [{100 * lo:.1f}, {100 * hi:.1f}] ({errors}/{n})"


def clopper_pearson_interval(successes: int, n: int, *, confidence: float = 0.95
                             ) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of the proportion ``successes / n``.

    Conservative (coverage at least ``confidence``), informative at zero errors.

    Examples
    --------
    >>> [round(v, 4) for v in clopper_pearson_interval(0, 10)]
    [0.0, 0.3085]
    """
    from scipy.stats import beta
    wilson_interval(successes, n, confidence=confidence)  # the same argument checks
    k, n = int(successes), int(n)
    if n == 0:
        return (math.nan, math.nan)
    alpha = 1 - confidence
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (low, high)


def _group_codes(groups: Any) -> tuple[np.ndarray, int]:
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be one-dimensional (one group id per row), got shape "
                         f"{g.shape}")
    _, codes = np.unique(g, return_inverse=True)
    return codes.reshape(-1), int(codes.max()) + 1 if codes.size else 0


def grouped_bootstrap_draws(n_groups: int, n_resamples: int, seed: int | None
                            ) -> Iterator[np.ndarray]:
    """The groups drawn by each resample: ``n_resamples`` arrays of ``n_groups`` group codes.

    One ``numpy.random.default_rng(seed)`` draws each resample in turn, so every consumer
    of these draws (the fast weighted path and the slow reference) sees the same resamples.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    rng = np.random.default_rng(seed)
    for _ in range(int(n_resamples)):
        yield rng.integers(0, n_groups, size=n_groups)


def grouped_bootstrap_indices(groups: Any, *, n_resamples: int, seed: int | None = 0
                              ) -> Iterator[np.ndarray]:
    """Row indices of each grouped-bootstrap resample (slow, explicit; for checks and small data).

    Each resample draws as many groups as there are, with replacement, and takes every row
    of each drawn group (a group drawn twice contributes its rows twice).
    """
    codes, n_groups = _group_codes(groups)
    rows_of = [np.flatnonzero(codes == g) for g in range(n_groups)]
    for draw in grouped_bootstrap_draws(n_groups, n_resamples, seed):
        yield np.concatenate([rows_of[g] for g in draw]) if n_groups else np.array([], int)


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if not v.size:
        return (math.nan, math.nan)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(v, [alpha, 1 - alpha])
    return (float(low), float(high))


def bootstrap_interval(statistic: Callable[[np.ndarray], Any], groups: Any, *,
                       n_resamples: int = 1000, confidence: float = 0.95,
                       seed: int | None = 0) -> Any:
    """Percentile interval(s) of a statistic under a bootstrap that resamples groups.

    Parameters
    ----------
    statistic : callable
        Vectorised over resamples: takes a weight matrix ``w`` of shape
        ``(n_batch, n_rows)`` (how many times each row appears in each resample) and
        returns an array of shape ``(n_batch,)``, or a dict of such arrays for several
        statistics at once. A weighted proportion is ``(w @ events) / (w @ trials)``.
    groups : array-like, shape (n_rows,)
        The group (e.g. subject id) of each row.
    n_resamples : int
        Number of bootstrap resamples.
    confidence : float
        Coverage level of the percentile interval.
    seed : int or None
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same interval.

    Returns
    -------
    (low, high), or a dict of them when ``statistic`` returns a dict
        Resamples where the statistic is undefined (``nan``) are left out.

    Examples
    --------
    >>> errors = np.array([1, 0, 0, 1, 0, 0, 0, 0])
    >>> subjects = ["a", "a", "b", "b", "c", "c", "d", "d"]
    >>> low, high = bootstrap_interval(lambda w: w @ errors / w.sum(axis=1), subjects,
    ...                                n_resamples=200, seed=1)
    >>> 0.0 <= low <= 0.25 <= high <= 1.0
    True
    """
    _z(confidence)
    codes, n_groups = _group_codes(groups)
    n_rows = codes.size
    if n_rows == 0:
        raise ValueError("bootstrap_interval needs at least one row")
    batch = max(1, _MAX_CELLS // max(n_rows, n_groups))
    collected: list[Any] = []
    weights: list[np.ndarray] = []

    def flush() -> None:
        if not weights:
            return
        counts = np.vstack(weights)
        collected.append(statistic(counts[:, codes]))
        weights.clear()

    for draw in grouped_bootstrap_draws(n_groups, n_resamples, seed):
        weights.append(np.bincount(draw, minlength=n_groups).astype(float))
        if len(weights) >= batch:
            flush()
    flush()
    if isinstance(collected[0], Mapping):
        return {k: _percentile_interval(np.concatenate([np.asarray(c[k], float)
                                                        for c in collected]), confidence)
                for k in collected[0]}
    return _percentile_interval(np.concatenate([np.asarray(c, float) for c in collected]),
                                confidence)
