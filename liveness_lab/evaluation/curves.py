"""DET curves and the equal error rate, from scores (higher = more live).

A **DET curve** (detection error trade-off) plots the BPCER against the APCER over every
threshold, both axes on a normal-deviate (probit) scale, as Idiap's bob.measure draws it.
Thresholds, score conventions and the handling of missing scores (``nan``: rejected at every
threshold; ``+inf``: accepted at every threshold) are those of
:mod:`liveness_lab.evaluation.metrics`; with attack scores given per species the APCER is the
maximum over species.

Plotting needs matplotlib, imported only by :func:`plot_det`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .metrics import _apcer_at, _attack_groups, _bpcer_at, _score_array, _undefined

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["det_curve", "equal_error_rate", "plot_det", "DET_TICKS"]

#: Tick positions (proportions) of DET plots.
DET_TICKS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 0.99)


def det_curve(bona_fide_scores: Any, attack_scores: Any
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """APCER and BPCER at every threshold where either changes.

    Parameters
    ----------
    bona_fide_scores : array-like of float, shape (n_bona_fide,)
    attack_scores : array-like of float, or mapping of species to array-like

    Returns
    -------
    thresholds : numpy.ndarray, shape (n_points,)
        Increasing: ``-inf``, every distinct finite score, ``+inf``.
    apcer : numpy.ndarray, shape (n_points,)
        Non-increasing (max over species when ``attack_scores`` is a mapping).
    bpcer : numpy.ndarray, shape (n_points,)
        Non-decreasing.

    Raises
    ------
    ValueError
        When either class has no presentation (there is no curve).

    Examples
    --------
    >>> t, a, b = det_curve([0.2, 0.6, 0.9], [0.1, 0.5])
    >>> t.tolist()
    [-inf, 0.1, 0.2, 0.5, 0.6, 0.9, inf]
    >>> a.tolist()
    [1.0, 1.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    >>> (3 * b).tolist()
    [0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0]
    """
    bf = _score_array(bona_fide_scores, "bona_fide_scores")
    groups = _attack_groups(attack_scores)
    if not bf.size or not any(g.size for g in groups.values()):
        raise ValueError("a DET curve needs at least one bona fide and one attack presentation")
    finite = np.concatenate([bf[np.isfinite(bf)]] + [g[np.isfinite(g)] for g in groups.values()])
    thresholds = np.unique(np.concatenate([[-np.inf], finite, [np.inf]]))
    return thresholds, _apcer_at(groups, thresholds), _bpcer_at(bf, thresholds)


def equal_error_rate(bona_fide_scores: Any, attack_scores: Any) -> tuple[float, float]:
    """The equal error rate and its threshold.

    The threshold minimising ``|APCER - BPCER|`` over the DET curve's thresholds (the
    smallest such threshold); the EER is the mean of the two rates there.

    Returns
    -------
    (eer, threshold) : tuple of float
        ``(nan, nan)`` with a warning when a class has no presentation.

    Examples
    --------
    >>> equal_error_rate([0.4, 0.6, 0.8, 0.9], [0.1, 0.2, 0.3, 0.7])
    (0.25, 0.6)
    """
    try:
        t, a, b = det_curve(bona_fide_scores, attack_scores)
    except ValueError:
        return (_undefined("the EER needs bona fide and attack presentations"), math.nan)
    i = int(np.argmin(np.abs(a - b)))
    return (float((a[i] + b[i]) / 2), float(t[i]))


def _probit(p: Any, eps: float) -> np.ndarray:
    from scipy.special import ndtri
    return ndtri(np.clip(np.asarray(p, dtype=float), eps, 1 - eps))


def plot_det(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
             ax: "Axes | None" = None,
             points: Mapping[str, tuple[float, float]] | None = None,
             limits: tuple[float, float] = (0.001, 0.99), title: str | None = None) -> "Axes":
    """Draw DET curves on probit axes (x: APCER, y: BPCER).

    Each curve joins its reachable (APCER, BPCER) points by straight segments (as
    bob.measure draws them), never by steps through corners no threshold reaches.

    Parameters
    ----------
    curves : mapping
        ``{label: (apcer, bpcer)}`` arrays, e.g. from :func:`det_curve`.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    points : mapping, optional
        ``{label: (apcer, bpcer)}`` operating points to mark (e.g. the challenge's own
        decision, or a threshold chosen on dev).
    limits : (low, high)
        Axis range as proportions; rates of 0 and 1 are drawn at the edges (a probit axis
        cannot show them).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib
    if ax is None:
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(5.5, 5))
    eps = limits[0]
    for label, (apcer, bpcer) in curves.items():
        # straight segments between reachable points only: a step would draw corners no
        # threshold reaches when scores tie across classes
        x, y = _probit(apcer, eps), _probit(bpcer, eps)
        ax.plot(x, y, label=label, linewidth=1.6)
    for label, (apcer, bpcer) in (points or {}).items():
        if apcer is None or bpcer is None or math.isnan(apcer) or math.isnan(bpcer):
            continue
        ax.plot(_probit([apcer], eps), _probit([bpcer], eps), marker="o", linestyle="none",
                markersize=7, label=label)
    ticks = [t for t in DET_TICKS if limits[0] <= t <= limits[1]]
    pos = _probit(ticks, eps)
    labels = [f"{100 * t:g}%" for t in ticks]
    lo, hi = _probit([limits[0], limits[1]], eps)
    pad = 0.05 * (hi - lo)
    for setter_ticks, setter_labels, setter_lim in ((ax.set_xticks, ax.set_xticklabels,
                                                     ax.set_xlim),
                                                    (ax.set_yticks, ax.set_yticklabels,
                                                     ax.set_ylim)):
        setter_ticks(pos)
        setter_labels(labels, fontsize=8)
        setter_lim(lo - pad, hi + pad)
    ax.set_xlabel("APCER (attacks accepted)")
    ax.set_ylabel("BPCER (bona fide rejected)")
    ax.grid(True, linestyle=":", linewidth=0.6)
    if title:
        ax.set_title(title, fontsize=10)
    if curves or points:
        ax.legend(fontsize=8, loc="upper right")
    return ax
