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
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping

import numpy as np

__all__ = ["UndefinedMetricWarning", "apcer", "apcer_per_species", "max_apcer", "bpcer", "acer",
           "non_response_rate"]


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
