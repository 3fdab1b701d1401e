"""ISO/IEC 30107-3 presentation attack detection metrics, as plain numpy functions.

Vocabulary: a *bona fide* presentation is a live person; an *attack* is a
presentation attack instrument (PAI) of some *species*. A challenge
"accepts" a presentation when verification succeeds.

* APCER (per species): proportion of attack presentations of that species accepted.
  The overall APCER is the **maximum** over species (ISO/IEC 30107-3).
* BPCER: proportion of bona fide presentations rejected.
* ACER: mean of max-APCER and BPCER - the OULU-NPU convention, *not* an ISO metric.

Undefined results (no attack of a species, no bona fide) warn with
:class:`UndefinedMetricWarning` and return ``nan``.

Scores and operating points
---------------------------
A challenge may report a continuous **score** per session, higher meaning
"more like a live person". At a threshold ``t`` a presentation is accepted
when ``score >= t`` (the convention of Idiap's bob.measure). Two special
values are handled explicitly, never by accident of arithmetic:

* ``nan`` (and ``-inf``): the session has no score; it is **rejected at every
  threshold** (but still counts in the denominators);
* ``+inf``: accepted at every threshold (e.g. a session the challenge accepted
  without reporting a score).

With several PAI species the APCER at a threshold is the **maximum over
species** of the per-species APCER (ISO/IEC 30107-3's overall APCER), so an
operating point such as BPCER20 (the BPCER at APCER = 5 %) guarantees the
APCER target for *every* species. Pass attack scores as a mapping
``{species: scores}`` for this definition, or as one array to pool them.

* :func:`threshold_at_apcer` is the **smallest** threshold whose APCER is at
  most the target (so the BPCER there is the smallest possible);
  :func:`bpcer_at_apcer` is the BPCER at that threshold.
* :func:`threshold_at_bpcer` is the **largest** threshold whose BPCER is at
  most the target; :func:`apcer_at_bpcer` is the APCER there.

Choose thresholds on a development set and apply them unchanged to the
evaluation set (:func:`error_rates`); :func:`compute_metrics` does that for
results tables.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping

import numpy as np

__all__ = ["UndefinedMetricWarning", "apcer", "apcer_per_species", "max_apcer", "bpcer", "acer",
           "non_response_rate", "OPERATING_POINTS", "error_rates", "threshold_at_apcer",
           "threshold_at_bpcer", "bpcer_at_apcer", "apcer_at_bpcer", "hter",
           "threshold_min_weighted_error"]

#: Names that moved to :mod:`liveness_lab.evaluation.aggregate` (results tables), still
#: importable from here.
_MOVED = ("session_scores", "compute_metrics", "flatten_metrics", "as_summary")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from . import aggregate
        return getattr(aggregate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the given data (e.g. no sample of a class); ``nan`` returned."""


def _bool_array(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must hold booleans (accepted / rejected), got {a[:5]!r}...")
        a = a.astype(bool)
    return a.astype(bool)


def apcer(accepted: Any) -> float:
    """Attack presentation classification error rate of one PAI species.

    Parameters
    ----------
    accepted : array-like of bool, shape (n_attacks,)
        Whether each attack presentation was accepted as bona fide.

    Returns
    -------
    float
        The proportion accepted, or ``nan`` (with a warning) when there is no attack.

    Examples
    --------
    >>> apcer([False, False, True, False])
    0.25
    """
    a = _bool_array(accepted, "accepted")
    if a.size == 0:
        warnings.warn("APCER is undefined without attack presentations", UndefinedMetricWarning,
                      stacklevel=2)
        return math.nan
    return float(a.mean())


def apcer_per_species(accepted: Any, species: Any) -> dict[str, float]:
    """APCER of each PAI species.

    Parameters
    ----------
    accepted : array-like of bool, shape (n_attacks,)
    species : array-like of str, shape (n_attacks,)
        The PAI species of each attack presentation.

    Returns
    -------
    dict
        ``{species: apcer}``, sorted by species name.

    Examples
    --------
    >>> apcer_per_species([True, False, False, False], ["print", "print", "replay", "replay"])
    {'print': 0.5, 'replay': 0.0}
    """
    a = _bool_array(accepted, "accepted")
    s = np.asarray(species, dtype=object)
    if s.shape != a.shape:
        raise ValueError(f"accepted and species must have the same length, got {a.size} and "
                         f"{s.size}")
    return {str(sp): float(a[s == sp].mean()) for sp in sorted(set(s.tolist()), key=str)}


def max_apcer(per_species: Mapping[str, float]) -> float:
    """The overall APCER of ISO/IEC 30107-3: the maximum over species (``nan`` if none).

    >>> max_apcer({'print': 0.5, 'replay': 0.0})
    0.5
    """
    values = [v for v in per_species.values() if not math.isnan(v)]
    if not values:
        warnings.warn("APCER is undefined without attack presentations", UndefinedMetricWarning,
                      stacklevel=2)
        return math.nan
    return float(max(values))


def bpcer(accepted: Any) -> float:
    """Bona fide presentation classification error rate: the proportion of bona fide rejected.

    Parameters
    ----------
    accepted : array-like of bool, shape (n_bona_fide,)
        Whether each bona fide presentation was accepted.

    Examples
    --------
    >>> bpcer([True, True, False, True])
    0.25
    """
    a = _bool_array(accepted, "accepted")
    if a.size == 0:
        warnings.warn("BPCER is undefined without bona fide presentations",
                      UndefinedMetricWarning, stacklevel=2)
        return math.nan
    return float(1.0 - a.mean())


def acer(max_apcer_value: float, bpcer_value: float) -> float:
    """Average classification error rate, ``(APCER_max + BPCER) / 2``.

    The OULU-NPU benchmark's convention; ISO/IEC 30107-3 does not define it.

    >>> acer(0.5, 0.1)
    0.3
    """
    return float((max_apcer_value + bpcer_value) / 2)


def non_response_rate(decided: Any) -> float:
    """Proportion of sessions that ended without a decision (the frames ran out).

    >>> non_response_rate([True, True, False, True])
    0.25
    """
    d = _bool_array(decided, "decided")
    if d.size == 0:
        return math.nan
    return float(1.0 - d.mean())


# --------------------------------------------------------------------------------------------
# scores, thresholds and operating points

#: ISO/IEC 30107-3 operating points: BPCER at an APCER target (BPCER20 = BPCER at APCER 5 %).
OPERATING_POINTS: Mapping[str, float] = {"BPCER100": 0.01, "BPCER20": 0.05, "BPCER10": 0.10}


def _score_array(x: Any, name: str) -> np.ndarray:
    """A 1-D float copy of ``x`` with ``-inf`` turned into ``nan`` (no score: always rejected)."""
    try:
        a = np.array(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers (scores, higher = more live), got "
                         f"{np.asarray(x, dtype=object)[:3]!r}...") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    a[np.isneginf(a)] = np.nan
    return a


def _attack_groups(attack_scores: Any) -> dict[str, np.ndarray]:
    """``{species: scores}`` from a mapping, or ``{"": scores}`` for one pooled array."""
    if isinstance(attack_scores, Mapping):
        return {str(k): _score_array(v, f"attack_scores[{k!r}]") for k, v in attack_scores.items()}
    return {"": _score_array(attack_scores, "attack_scores")}


def _check_rate(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {value!r}") from None
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a proportion between 0 and 1 (0.05 for 5 %), "
                         f"got {value!r}")
    return v


def _accepted_counts(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``#(scores >= t)`` for each threshold ``t`` (``nan`` scores never count)."""
    s = np.sort(scores[~np.isnan(scores)])
    return s.size - np.searchsorted(s, thresholds, side="left")


def _apcer_at(groups: Mapping[str, np.ndarray], thresholds: np.ndarray) -> np.ndarray:
    """The max-over-species APCER at each threshold (species without samples are skipped)."""
    rates = [_accepted_counts(g, thresholds) / g.size for g in groups.values() if g.size]
    return np.max(np.vstack(rates), axis=0)


def _bpcer_at(bona_fide: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (bona_fide.size - _accepted_counts(bona_fide, thresholds)) / bona_fide.size


def _undefined(message: str) -> float:
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)
    return math.nan


def error_rates(bona_fide_scores: Any, attack_scores: Any, threshold: float
                ) -> tuple[float, float]:
    """APCER and BPCER when presentations with ``score >= threshold`` are accepted.

    Parameters
    ----------
    bona_fide_scores : array-like of float, shape (n_bona_fide,)
        Scores of the bona fide presentations (higher = more live; ``nan`` = no score,
        rejected at every threshold; ``+inf`` = accepted at every threshold).
    attack_scores : array-like of float, or mapping of species to array-like
        Scores of the attack presentations; with a mapping the APCER is the maximum
        over species.
    threshold : float
        Decision threshold (``-inf`` accepts every scored presentation).

    Returns
    -------
    (apcer, bpcer) : tuple of float
        ``nan`` (with a warning) for a class without presentations.

    Examples
    --------
    >>> error_rates([0.9, 0.8, 0.3], {"print": [0.1, 0.5], "replay": [0.6, 0.2]}, 0.5)
    (0.5, 0.3333333333333333)
    """
    bf = _score_array(bona_fide_scores, "bona_fide_scores")
    groups = _attack_groups(attack_scores)
    t = np.array([float(threshold)])
    if any(g.size for g in groups.values()):
        a = float(_apcer_at(groups, t)[0])
    else:
        a = _undefined("APCER is undefined without attack presentations")
    b = float(_bpcer_at(bf, t)[0]) if bf.size else _undefined(
        "BPCER is undefined without bona fide presentations")
    return a, b


def threshold_at_apcer(attack_scores: Any, apcer_target: float) -> float:
    """The smallest threshold at which the APCER is at most ``apcer_target``.

    Parameters
    ----------
    attack_scores : array-like of float, or mapping of species to array-like
        Attack scores; with a mapping, the APCER is the maximum over species, so the
        target holds for every species.
    apcer_target : float
        A proportion, e.g. ``0.05``.

    Returns
    -------
    float
        The threshold (just above an attack score, ``-inf`` when every presentation may be
        accepted); ``nan`` with a warning when no threshold reaches the target (attacks
        scored ``+inf``) or there is no attack.

    Examples
    --------
    >>> t = threshold_at_apcer([0.1, 0.2, 0.3, 0.4], 0.25)
    >>> bool(0.3 < t < 0.3001)
    True
    """
    target = _check_rate(apcer_target, "apcer_target")
    groups = _attack_groups(attack_scores)
    if not any(g.size for g in groups.values()):
        return _undefined("APCER is undefined without attack presentations")
    finite = np.concatenate([g[np.isfinite(g)] for g in groups.values()])
    cands = np.unique(np.concatenate([[-np.inf], np.nextafter(finite, np.inf), [np.inf]]))
    ok = _apcer_at(groups, cands) <= target
    if not ok.any():
        return _undefined(f"no threshold reaches APCER <= {target:g}: attacks scored +inf are "
                          "accepted at every threshold")
    return float(cands[int(np.argmax(ok))])


def threshold_at_bpcer(bona_fide_scores: Any, bpcer_target: float) -> float:
    """The largest threshold at which the BPCER is at most ``bpcer_target``.

    Parameters
    ----------
    bona_fide_scores : array-like of float, shape (n_bona_fide,)
    bpcer_target : float
        A proportion, e.g. ``0.05``.

    Returns
    -------
    float
        The threshold (a bona fide score, or ``+inf``); ``nan`` with a warning when no
        threshold reaches the target (too many bona fide without a score) or there is no
        bona fide presentation.

    Examples
    --------
    >>> threshold_at_bpcer([0.1, 0.2, 0.3, 0.4], 0.25)
    0.2
    """
    target = _check_rate(bpcer_target, "bpcer_target")
    bf = _score_array(bona_fide_scores, "bona_fide_scores")
    if not bf.size:
        return _undefined("BPCER is undefined without bona fide presentations")
    cands = np.unique(np.concatenate([[-np.inf], bf[np.isfinite(bf)], [np.inf]]))
    ok = _bpcer_at(bf, cands) <= target
    if not ok.any():
        return _undefined(f"no threshold reaches BPCER <= {target:g}: too many bona fide "
                          "presentations have no score")
    return float(cands[len(ok) - 1 - int(np.argmax(ok[::-1]))])


def bpcer_at_apcer(bona_fide_scores: Any, attack_scores: Any, apcer_target: float) -> float:
    """The BPCER at the operating point APCER <= ``apcer_target`` (BPCER20 for 0.05).

    The threshold is :func:`threshold_at_apcer`'s, the smallest that meets the APCER
    target, hence the smallest BPCER that any threshold meeting it achieves. With attack
    scores given per species, the target holds for the worst species (ISO/IEC 30107-3).

    Examples
    --------
    >>> bpcer_at_apcer([0.2, 0.6, 0.7, 0.9], [0.1, 0.3, 0.5, 0.8], 0.25)
    0.25
    """
    bf = _score_array(bona_fide_scores, "bona_fide_scores")
    t = threshold_at_apcer(attack_scores, apcer_target)
    if math.isnan(t):
        return math.nan
    if not bf.size:
        return _undefined("BPCER is undefined without bona fide presentations")
    return float(_bpcer_at(bf, np.array([t]))[0])


def apcer_at_bpcer(bona_fide_scores: Any, attack_scores: Any, bpcer_target: float) -> float:
    """The (max-over-species) APCER at the operating point BPCER <= ``bpcer_target``.

    The threshold is :func:`threshold_at_bpcer`'s, the largest that meets the BPCER
    target, hence the smallest APCER that any threshold meeting it achieves.

    Examples
    --------
    >>> apcer_at_bpcer([0.2, 0.6, 0.7, 0.9], [0.1, 0.3, 0.5, 0.8], 0.25)
    0.25
    """
    groups = _attack_groups(attack_scores)
    t = threshold_at_bpcer(bona_fide_scores, bpcer_target)
    if math.isnan(t):
        return math.nan
    if not any(g.size for g in groups.values()):
        return _undefined("APCER is undefined without attack presentations")
    return float(_apcer_at(groups, np.array([t]))[0])


def hter(bona_fide_scores: Any, attack_scores: Any, threshold: float) -> float:
    """Half total error rate at ``threshold``: ``(APCER + BPCER) / 2`` (bob's HTER).

    With attack scores per species the APCER is the maximum over species.

    >>> hter([0.9, 0.8, 0.3], [0.1, 0.6], 0.5)
    0.41666666666666663
    """
    a, b = error_rates(bona_fide_scores, attack_scores, threshold)
    return float((a + b) / 2)


def threshold_min_weighted_error(bona_fide_scores: Any, attack_scores: Any,
                                 alpha: float = 0.5) -> float:
    """The threshold minimising ``alpha * APCER + (1 - alpha) * BPCER``.

    ``alpha = 0.5`` is bob's ``min-hter`` criterion; sweeping ``alpha`` over [0, 1] gives
    the expected performance curve (EPC). Candidates: ``-inf``, every distinct finite
    score and ``+inf``; ties go to the smallest threshold.

    >>> threshold_min_weighted_error([0.6, 0.8, 0.9], [0.1, 0.2, 0.7])
    0.6
    """
    a = _check_rate(alpha, "alpha")
    bf = _score_array(bona_fide_scores, "bona_fide_scores")
    groups = _attack_groups(attack_scores)
    if not bf.size or not any(g.size for g in groups.values()):
        return _undefined("a threshold needs bona fide and attack presentations")
    finite = np.concatenate([bf[np.isfinite(bf)]] + [g[np.isfinite(g)] for g in groups.values()])
    cands = np.unique(np.concatenate([[-np.inf], finite, [np.inf]]))
    cost = a * _apcer_at(groups, cands) + (1 - a) * _bpcer_at(bf, cands)
    return float(cands[int(np.argmin(cost))])
