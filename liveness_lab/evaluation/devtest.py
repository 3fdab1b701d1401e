"""Development → evaluation tables in the manner of ``bob pad metrics``, with intervals.

A threshold is chosen on the development split by a :class:`Criterion` (``eer``,
``min-hter``, ``bpcerN``, ``apcerN``, the challenge's own ``decision`` threshold, or a fixed
value) from that split's scores, then applied unchanged to the evaluation split.
:func:`rates_at` gives, at a threshold, APCER per species and the worst, BPCER, APNRR per
species, BPNRR, the pooled EER and the HTER - each rate with its Wilson interval (bob.pad
gives none).

As ``bob pad metrics`` counts failures to acquire apart, presentations **without a
response** (``decided = false``: the frames ran out) are left out of APCER and BPCER here
and reported as APNRR / BPNRR. (The report and :func:`~liveness_lab.evaluation.aggregate.
compute_metrics` count them as rejected, as the original framework answered ``false``.)

:func:`epc` is the expected performance curve: for each weight ``alpha`` the threshold
minimising ``alpha * APCER + (1 - alpha) * BPCER`` on dev, and the HTER it gives on eval.
Scores of different challenge types are never mixed: everything is per type.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .aggregate import session_scores, species_of
from .curves import equal_error_rate
from .intervals import wilson_interval
from .metrics import (UndefinedMetricWarning, threshold_at_apcer, threshold_at_bpcer,
                      threshold_min_weighted_error)

__all__ = ["Criterion", "parse_criterion", "Rate", "SplitRates", "choose_threshold",
           "rates_at", "type_scores", "epc"]

_CRITERION = re.compile(r"^(?:(eer)|(min-hter)|(decision)|(bpcer|apcer)(\d+(?:\.\d+)?))$")


@dataclass(frozen=True)
class Criterion:
    """How a threshold is chosen on the development split.

    Attributes
    ----------
    kind:
        ``"eer"`` (pooled-attack EER), ``"min-hter"`` (minimum half total error),
        ``"bpcer"`` (BPCER at APCER <= 1/N, max over species: ``bpcer20`` is APCER 5 %),
        ``"apcer"`` (APCER at BPCER <= 1/N), ``"decision"`` (the challenge type's own
        score threshold) or ``"fixed"``.
    value:
        ``N`` for bpcerN / apcerN, the threshold for ``fixed``.
    """

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("eer", "min-hter", "bpcer", "apcer", "decision", "fixed"):
            raise ValueError(f"unknown criterion kind {self.kind!r}")
        if self.kind in ("bpcer", "apcer") and not (self.value and self.value >= 1):
            raise ValueError(f"{self.kind}N needs N >= 1 (bpcer20: APCER 5 %), got "
                             f"{self.value!r}")
        if self.kind == "fixed" and (self.value is None or math.isnan(self.value)):
            raise ValueError("a fixed criterion needs a threshold")

    @property
    def label(self) -> str:
        if self.kind in ("bpcer", "apcer"):
            return f"{self.kind}{self.value:g}"
        if self.kind == "fixed":
            return f"fixed threshold {self.value:g}"
        return self.kind


def parse_criterion(text: str, threshold: float | None = None) -> Criterion:
    """A :class:`Criterion` from a command-line value (``eer``, ``min-hter``, ``bpcer20``,
    ``apcer100``, ``decision``), or ``fixed`` when ``threshold`` is given.

    >>> parse_criterion("bpcer20")
    Criterion(kind='bpcer', value=20.0)
    """
    if threshold is not None:
        return Criterion("fixed", float(threshold))
    m = _CRITERION.match(str(text).strip().lower())
    if not m:
        raise ValueError(f"unknown criterion {text!r}; use eer, min-hter, decision, bpcerN "
                         "(BPCER at APCER 1/N, e.g. bpcer20) or apcerN, or a fixed -T")
    if m.group(4):
        return Criterion(m.group(4), float(m.group(5)))
    return Criterion(m.group(1) or m.group(2) or m.group(3))


@dataclass(frozen=True)
class Rate:
    """A proportion with its counts and Wilson interval."""

    errors: int
    total: int
    value: float
    ci: tuple[float, float]

    @classmethod
    def of(cls, errors: int, total: int, confidence: float) -> "Rate":
        return cls(int(errors), int(total), errors / total if total else math.nan,
                   wilson_interval(int(errors), int(total), confidence=confidence))


@dataclass(frozen=True)
class SplitRates:
    """The rates of one challenge type on one split at one threshold."""

    threshold: float
    apcer: Mapping[str, Rate]
    worst_apcer: float
    worst_species: tuple[str, ...]
    bpcer: Rate
    apnrr: Mapping[str, Rate]
    bpnrr: Rate
    eer: float
    hter: float


def type_scores(results: Any) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray,
                                        np.ndarray, np.ndarray]:
    """``(scores, species groups, bona fide mask, decided mask, species array)``."""
    scores = session_scores(results)
    bf = (results["label"] == "bona_fide").to_numpy()
    decided = results["decided"].to_numpy(bool) if "decided" in results \
        else np.ones(len(results), bool)
    species = species_of(results)
    groups = {s: scores[~bf & decided & (species == s)] for s in sorted(set(species[~bf]))}
    return scores, groups, bf, decided, species


def choose_threshold(criterion: Criterion, results: Any,
                     decision_threshold: float | None = None) -> float:
    """The threshold ``criterion`` picks on ``results`` (one type, presentations with a
    response); ``nan`` when it cannot (warns)."""
    if criterion.kind == "fixed":
        return float(criterion.value)  # type: ignore[arg-type]
    if criterion.kind == "decision":
        if decision_threshold is None:
            warnings.warn("the challenge type's decision threshold is unknown here",
                          UndefinedMetricWarning, stacklevel=2)
            return math.nan
        return float(decision_threshold)
    scores, groups, bf, decided, _ = type_scores(results)
    bona = scores[bf & decided]
    groups = {k: v for k, v in groups.items() if v.size}
    if criterion.kind == "eer":
        pooled = np.concatenate(list(groups.values())) if groups else np.array([])
        return equal_error_rate(bona, pooled)[1]
    if criterion.kind == "min-hter":
        pooled = np.concatenate(list(groups.values())) if groups else np.array([])
        return threshold_min_weighted_error(bona, pooled, 0.5)
    target = 1.0 / float(criterion.value)  # type: ignore[arg-type]
    if criterion.kind == "bpcer":
        return threshold_at_apcer(groups, target) if groups else math.nan
    return threshold_at_bpcer(bona, target)


def rates_at(results: Any, threshold: float, *, confidence: float = 0.95) -> SplitRates:
    """Every rate of one challenge type's ``results`` at ``threshold`` (FtA apart)."""
    scores, groups, bf, decided, species = type_scores(results)
    accepted = np.where(np.isnan(scores), False, scores >= threshold) \
        if not math.isnan(threshold) else np.zeros(len(scores), bool)
    apcer, apnrr = {}, {}
    for sp in sorted(set(species[~bf])):
        m = ~bf & (species == sp)
        apnrr[sp] = Rate.of(int((m & ~decided).sum()), int(m.sum()), confidence)
        md = m & decided
        apcer[sp] = Rate.of(int((accepted & md).sum()), int(md.sum()), confidence)
    valid = [r.value for r in apcer.values() if not math.isnan(r.value)]
    worst = max(valid) if valid else math.nan
    bd = bf & decided
    bpcer = Rate.of(int((bd & ~accepted).sum()), int(bd.sum()), confidence)
    bpnrr = Rate.of(int((bf & ~decided).sum()), int(bf.sum()), confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        pooled = [g for g in groups.values() if g.size]
        eer = equal_error_rate(scores[bd], np.concatenate(pooled))[0] if pooled \
            else math.nan
    return SplitRates(threshold, apcer, worst,
                      tuple(sp for sp, r in apcer.items() if r.value == worst), bpcer, apnrr,
                      bpnrr, eer, (worst + bpcer.value) / 2)


def epc(dev: Any, evaluation: Any, alphas: Sequence[float]) -> list[dict[str, float]]:
    """The expected performance curve of one challenge type: thresholds on ``dev``.

    Returns one row per ``alpha``: ``{alpha, threshold, hter, apcer, bpcer}`` (on eval;
    APCER the worst species, presentations without a response left out).
    """
    scores, groups, bf, decided, _ = type_scores(dev)
    bona = scores[bf & decided]
    pooled = np.concatenate([g for g in groups.values() if g.size] or [np.array([])])
    rows = []
    for a in alphas:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            t = threshold_min_weighted_error(bona, pooled, float(a))
        r = rates_at(evaluation, t)
        rows.append({"alpha": float(a), "threshold": t, "hter": r.hter,
                     "apcer": r.worst_apcer, "bpcer": r.bpcer.value})
    return rows
