"""The NOSE seed path's speed-ups compute exactly what the numpy calls they replace compute.

``_histogram2d_counts`` stands in for ``np.histogram2d`` in the landmark-histogram check:
its counts must be equal, bin for bin, on random landmarks, on values lying exactly on bin
edges, on all-equal values (numpy's widened range), and it must hand unusual inputs (ints,
non-finite values) back to numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveness_lab.challenges.nose_histogram import (_histogram2d_counts, _histogram_distance,
                                                    _histogram_distance_xy)
from liveness_lab.faces import Landmark


def numpy_counts(xs, ys, bins):
    h, _, _ = np.histogram2d(xs, ys, bins=bins)
    return np.reshape(h, bins ** 2).tolist()


finite = st.floats(-2000, 2000, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=40), st.integers(1, 6))
def test_counts_equal_numpy_on_random_points(points, bins):
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    assert _histogram2d_counts(xs, ys, bins) == numpy_counts(xs, ys, bins)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=30), st.integers(1, 4),
       st.floats(0.1, 500), st.floats(-100, 100))
def test_counts_equal_numpy_on_values_at_the_edges(steps, bins, scale, offset):
    # values on a grid that the edges of ``bins`` bins also fall on: ties everywhere
    xs = [offset + scale * k / 6 for k in steps]
    ys = [offset - scale * k / 3 for k in reversed(steps)]
    assert _histogram2d_counts(xs, ys, bins) == numpy_counts(xs, ys, bins)


@pytest.mark.parametrize("xs, ys", [([3.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0]),
                                    ([7.5], [0.0]), ([0.0, -0.0], [1e-300, 1e-300])])
def test_counts_equal_numpy_on_an_empty_range(xs, ys):
    for bins in (1, 3, 5):
        assert _histogram2d_counts(xs, ys, bins) == numpy_counts(xs, ys, bins)


@pytest.mark.parametrize("xs, ys", [([1, 2, 3], [1.0, 2.0, 3.0]),
                                    ([1.0, math.inf], [1.0, 2.0]),
                                    ([1.0, 2.0], [math.nan, 2.0])])
def test_unusual_values_are_left_to_numpy(xs, ys):
    assert _histogram2d_counts(xs, ys, 3) is None


def test_the_distance_is_numpys_distance():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = [Landmark("p", float(x), float(y)) for x, y in rng.random((30, 2))]
        b = [Landmark("p", float(x), float(y)) for x, y in rng.random((30, 2)) * 0.7]
        hists = []
        for lms in (a, b):
            h, _, _ = np.histogram2d([640 * lm.x for lm in lms], [480 * lm.y for lm in lms],
                                     bins=3)
            hists.append(np.reshape(h, 9) / len(lms))
        expected = float(np.linalg.norm(hists[0] - hists[1]))
        assert _histogram_distance(tuple(a), tuple(b), 640, 480, 3) == expected
        xy = ([lm.x for lm in a], [lm.y for lm in a]), ([lm.x for lm in b], [lm.y for lm in b])
        assert _histogram_distance_xy(*xy, 640, 480, 3) == expected
    assert math.isnan(_histogram_distance_xy(([], []), ([0.5], [0.5]), 640, 480, 3))
