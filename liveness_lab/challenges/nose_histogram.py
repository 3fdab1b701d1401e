"""The original NOSE's landmark-histogram test, measured without numpy's per-call overhead.

At the target the original compares the ``bins`` x ``bins`` histograms of the first and the
current face's landmarks (pixels); too small a distance means the face did not change like
a turning head. :func:`_histogram2d_counts` gives ``np.histogram2d``'s counts by the same
float comparisons (the replay bench calls it twice per decision); numpy still decides every
unusual case.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

def _histogram_distance(first: tuple, current: tuple, width: int, height: int, bins: int) -> float:
    """Euclidean distance of the normalised ``bins`` x ``bins`` landmark histograms (pixels)."""
    return _histogram_distance_xy(([lm.x for lm in first], [lm.y for lm in first]),
                                  ([lm.x for lm in current], [lm.y for lm in current]),
                                  width, height, bins)


def _histogram_distance_xy(first: tuple[list, list], current: tuple[list, list], width: int,
                           height: int, bins: int) -> float:
    """:func:`_histogram_distance` of landmarks given as ``(xs, ys)`` lists (image ratios,
    :meth:`~liveness_lab.faces.FaceDetail.landmark_xy`)."""
    if not first[0] or not current[0]:
        return math.nan
    hists = []
    for lx, ly in (first, current):
        xs = [width * x for x in lx]
        ys = [height * y for y in ly]
        counts = _histogram2d_counts(xs, ys, bins)
        if counts is None:  # unusual values: numpy decides (and raises) as it always did
            h, _, _ = np.histogram2d(xs, ys, bins=bins)
            counts = np.reshape(h, bins ** 2)
        hists.append(np.asarray(counts, dtype=float) / len(xs))
    return float(np.linalg.norm(hists[0] - hists[1]))


def _histogram_edges(values: list, bins: int) -> list | None:
    """The bin edges ``np.histogram2d`` computes for one axis (``np.linspace`` over the
    values' range, widened by 0.5 on each side when it is empty), float for float;
    ``None`` when numpy would take another branch (non-finite values, a zero step)."""
    lo, hi = min(values), max(values)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    step = (hi - lo) / bins
    if step == 0:
        return None
    edges = [i * step + lo for i in range(bins)]
    edges.append(hi)
    if any(a > b for a, b in zip(edges, edges[1:])):
        return None  # rounding broke the order: numpy's binary search is the reference
    return edges


def _histogram2d_counts(xs: list, ys: list, bins: int) -> list[float] | None:
    """``np.histogram2d(xs, ys, bins)[0]`` flattened (row-major), the same counts by the same
    float comparisons without numpy's per-call overhead (a NOSE decision computes two).

    A value falls in bin ``bisect_right(edges, v) - 1`` (numpy's ``searchsorted(...,
    side="right")``), the last edge closing the last bin. ``None`` (numpy then runs) unless
    every value is a ``float``.
    """
    if not _FLOATS.issuperset(map(type, xs)) or not _FLOATS.issuperset(map(type, ys)):
        return None
    ex, ey = _histogram_edges(xs, bins), _histogram_edges(ys, bins)
    if ex is None or ey is None:
        return None
    counts = [0.0] * (bins * bins)
    last_x, last_y = ex[-1], ey[-1]
    for x, y in zip(xs, ys):
        i = bisect_right(ex, x) - (2 if x == last_x else 1)
        j = bisect_right(ey, y) - (2 if y == last_y else 1)
        if 0 <= i < bins and 0 <= j < bins:  # numpy drops its outlier bins
            counts[i * bins + j] += 1.0
    return counts


_FLOATS = frozenset({float})
