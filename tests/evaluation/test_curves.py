"""DET curves (monotone, equal to a brute-force reference) and the EER."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liveness_lab.evaluation.curves import det_curve, equal_error_rate, plot_det
from liveness_lab.evaluation.metrics import UndefinedMetricWarning

from test_metrics import as_groups, random_case, ref_apcer, ref_bpcer


@pytest.mark.parametrize("seed", range(3))
def test_det_curve_is_monotone_and_matches_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        bf, attack, _ = random_case(rng)
        t, a, b = det_curve(bf, attack)
        assert np.all(np.diff(t) > 0)
        assert np.all(np.diff(a) <= 0) and np.all(np.diff(b) >= 0)
        groups = as_groups(attack)
        for ti, ai, bi in zip(t, a, b):
            assert ai == pytest.approx(ref_apcer(groups, ti))
            assert bi == pytest.approx(ref_bpcer(bf, ti))
        # +inf accepts only +inf scores; -inf accepts every scored presentation
        assert b[-1] == pytest.approx(sum(s != np.inf for s in bf) / len(bf))
        assert b[0] == pytest.approx(sum(not (s == s and s > -np.inf) for s in bf) / len(bf))


@pytest.mark.parametrize("seed", range(2))
def test_eer_is_the_closest_crossing(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(40):
        bf, attack, _ = random_case(rng)
        eer, thr = equal_error_rate(bf, attack)
        t, a, b = det_curve(bf, attack)
        gaps = np.abs(a - b)
        i = int(np.argmin(gaps))
        assert thr == t[i] and eer == pytest.approx((a[i] + b[i]) / 2)


def test_det_curve_needs_both_classes():
    with pytest.raises(ValueError, match="at least one bona fide"):
        det_curve([], [0.1])
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(equal_error_rate([0.5], [])[0])


def test_plot_det_draws_curves_and_points(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, a, b = det_curve([0.2, 0.6, 0.9, 0.7], {"print": [0.1, 0.5], "replay": [0.65, 0.3]})
    ax = plot_det({"max over species": (a, b)}, points={"decision": (0.5, 0.25)}, title="t")
    assert len(ax.get_lines()) == 2
    assert ax.get_xlabel().startswith("APCER")
    ax.figure.savefig(tmp_path / "det.png")
    plt.close(ax.figure)
    assert (tmp_path / "det.png").stat().st_size > 1000
