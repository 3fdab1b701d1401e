"""Wilson intervals (known values, a root-finding reference) and the grouped bootstrap."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from liveness_lab.evaluation import intervals
from liveness_lab.evaluation.intervals import (bootstrap_interval, grouped_bootstrap_indices,
                                               wilson_interval)


@pytest.mark.parametrize("k, n, low, high", [
    # published values (e.g. Newcombe 1998, Table I; any statistics package)
    (0, 10, 0.0, 0.2775),
    (1, 10, 0.0179, 0.4042),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),
    (0, 30, 0.0, 0.1135),
])
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def wilson_reference(k, n, confidence):
    """The two roots in [0, 1] of (k/n - p)^2 = z^2 p (1 - p) / n."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    ph = k / n
    # (1 + z^2/n) p^2 - (2 ph + z^2/n) p + ph^2 = 0
    roots = np.roots([1 + z * z / n, -(2 * ph + z * z / n), ph * ph])
    roots = sorted(float(np.real(r)) for r in roots)
    return max(0.0, roots[0]), min(1.0, roots[1])


@pytest.mark.parametrize("seed", range(4))
def test_wilson_matches_quadratic_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        n = int(rng.integers(1, 500))
        k = int(rng.integers(0, n + 1))
        conf = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        lo, hi = wilson_interval(k, n, confidence=conf)
        rlo, rhi = wilson_reference(k, n, conf)
        assert lo == pytest.approx(rlo, abs=1e-9) and hi == pytest.approx(rhi, abs=1e-9)
        assert lo <= k / n <= hi


def test_wilson_edge_cases_and_misuse():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    narrow, wide = wilson_interval(3, 20, confidence=0.8), wilson_interval(3, 20, confidence=0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(5, 3)
    with pytest.raises(ValueError, match="integers"):
        wilson_interval(1.5, 3)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 3, confidence=95)


GROUPS = np.array(["a", "a", "a", "b", "c", "c", "d", "e", "e", "e", "e", "f"])
ERRORS = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1], dtype=float)


def rate(w):
    return (w @ ERRORS) / w.sum(axis=1)


def test_bootstrap_is_deterministic_for_a_seed():
    a = bootstrap_interval(rate, GROUPS, n_resamples=300, seed=42)
    b = bootstrap_interval(rate, GROUPS, n_resamples=300, seed=42)
    c = bootstrap_interval(rate, GROUPS, n_resamples=300, seed=43)
    assert a == b
    assert a != c
    assert a[0] <= ERRORS.mean() <= a[1]


def test_bootstrap_resamples_whole_groups():
    for idx in grouped_bootstrap_indices(GROUPS, n_resamples=50, seed=1):
        drawn = GROUPS[idx]
        # every drawn group appears with all of its rows, a multiple of its size
        for g in set(drawn.tolist()):
            assert (drawn == g).sum() % (GROUPS == g).sum() == 0
        assert len(set(drawn.tolist())) <= len(set(GROUPS.tolist()))


def test_bootstrap_weights_equal_explicit_resampling(monkeypatch):
    """The vectorised weighted path gives exactly the statistics of explicit resamples."""
    n = 300
    slow = [ERRORS[idx].mean() for idx in grouped_bootstrap_indices(GROUPS, n_resamples=n,
                                                                   seed=7)]
    lo, hi = np.quantile(slow, [0.025, 0.975])
    assert bootstrap_interval(rate, GROUPS, n_resamples=n, seed=7) == pytest.approx((lo, hi))
    # processing the resamples in small batches changes nothing
    monkeypatch.setattr(intervals, "_MAX_CELLS", 30)
    assert bootstrap_interval(rate, GROUPS, n_resamples=n, seed=7) == pytest.approx((lo, hi))


def test_bootstrap_dict_statistics_and_undefined_resamples():
    def stats(w):
        with np.errstate(invalid="ignore"):
            only_a = (w[:, :3] @ ERRORS[:3]) / w[:, :3].sum(axis=1)  # nan when 'a' not drawn
        return {"rate": rate(w), "a": only_a}
    out = bootstrap_interval(stats, GROUPS, n_resamples=200, seed=0)
    assert set(out) == {"rate", "a"}
    assert out["a"][0] >= 0 and out["a"][1] <= 1
    with pytest.raises(ValueError, match="at least one row"):
        bootstrap_interval(rate, [], n_resamples=10)


def test_rate_with_interval_formats_rate_interval_and_count():
    from liveness_lab.evaluation.intervals import rate_with_interval

    assert rate_with_interval(5, 100) == "5.0 % [2.2, 11.2] (5/100)"
    assert rate_with_interval(0, 30, unit="%") == "0.0% [0.0, 11.4] (0/30)"
    assert rate_with_interval(0, 0) == "-"
