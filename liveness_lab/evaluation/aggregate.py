"""Results tables → frozen metric records: per species, per challenge type, overall.

:func:`compute_metrics` turns a results table (one row per session, see
:data:`liveness_lab.evaluation.replay.RESULT_COLUMNS`) into a :class:`Metrics` record:
one :class:`MetricsBlock` per challenge type and an overall block. Every number comes from
the plain functions of :mod:`~liveness_lab.evaluation.metrics`,
:mod:`~liveness_lab.evaluation.intervals` and :mod:`~liveness_lab.evaluation.curves`.

The records are frozen dataclasses. For code written against the earlier dict output they
also answer ``block["bpcer"]`` and ``block.get("bootstrap")`` (read-only).

Conventions (see ``docs/evaluation.md``):

* APCER and BPCER count a session without a decision (frames ran out) as rejected, as the
  original framework answered ``false``; the non-response rates of ISO/IEC 30107-3 are
  reported apart: **APNRR** per species and **BPNRR**.
* Headline intervals are informative at zero errors: Wilson per proportion, and for the
  APCER max the per-species Wilson bounds maximised. The subject-grouped bootstrap is kept
  beside them.
* Operating points are :class:`OperatingPoint` records (thresholds chosen on the
  calibration split, applied unchanged); **EER** is the pooled-attack EER (bob.measure,
  scikit-learn), ``eer_max_species`` the one on the max-over-species curve.
* Scores of different challenge types are never mixed; with several types the overall
  block holds only the **maximum of the per-type figures** (species are not pooled across
  types).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .metrics import (OPERATING_POINTS, UndefinedMetricWarning, _check_rate, error_rates,
                      threshold_at_apcer, threshold_at_bpcer)

__all__ = ["CalibrationWarning", "SpeciesRate", "SubjectCounts", "OperatingPoint",
           "BootstrapIntervals", "MetricsBlock", "Metrics", "session_scores", "split_scores",
           "compute_metrics", "flatten_metrics", "as_summary"]

Interval = tuple[float, float]


class CalibrationWarning(UserWarning):
    """Thresholds could not be chosen on the calibration split (it lacks a challenge type)."""


class _Readable:
    """Read-only mapping-style access to a frozen record's fields (``r["name"]``)."""

    #: derived properties readable like fields
    _derived: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)] + list(self._derived)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SubjectCounts(_Readable):
    """How many subjects, and presentations per subject (min, median, max)."""

    n_subjects: int
    min: int
    median: float
    max: int

    def describe(self) -> str:
        if not self.n_subjects:
            return "no subject ids"
        spread = f"{self.min}" if self.min == self.max else \
            f"{self.min}-{self.max}, median {self.median:g}"
        return f"{self.n_subjects} subjects, {spread} per subject"


@dataclass(frozen=True)
class SpeciesRate(_Readable):
    """One PAI species: APCER and APNRR with counts and Wilson intervals."""

    accepted: int
    total: int
    apcer: float
    ci: Interval
    non_responses: int
    apnrr: float
    apnrr_ci: Interval
    subjects: SubjectCounts


@dataclass(frozen=True)
class OperatingPoint(_Readable):
    """A score threshold chosen for a target rate, and both error rates there.

    Attributes
    ----------
    fixed:
        ``"apcer"`` (threshold meets ``APCER <= target``: BPCER20 for 0.05) or ``"bpcer"``
        (``BPCER <= target``: APCER@BPCER5%).
    target:
        The target proportion.
    threshold:
        The threshold chosen (``nan`` when none reaches the target).
    apcer, bpcer:
        The rates at ``threshold`` on the reported data (APCER: max over species).
    calibrated_on:
        ``"calibration"`` (chosen on the calibration split) or ``"self"``.

    Examples
    --------
    >>> p = OperatingPoint("apcer", 0.05, threshold=0.3, apcer=0.04, bpcer=0.12)
    >>> p.name, p.metric_key, p.value
    ('BPCER20', 'bpcer20', 0.12)
    >>> OperatingPoint("bpcer", 0.05, 0.1, 0.2, 0.05).metric_key
    'apcer_at_bpcer5pct'
    """

    fixed: str
    target: float
    threshold: float
    apcer: float
    bpcer: float
    calibrated_on: str = "self"
    #: display name, derived from ``fixed`` and ``target`` (``BPCER20``, ``APCER@BPCER5%``);
    #: never parsed back
    name: str = field(init=False)

    _derived = ("metric_key", "value")

    def __post_init__(self) -> None:
        if self.fixed not in ("apcer", "bpcer"):
            raise ValueError(f"fixed must be 'apcer' or 'bpcer', got {self.fixed!r}")
        _check_rate(self.target, "target")
        if self.fixed == "apcer":
            name = f"BPCER{round(1 / self.target)}" if self.target > 0 else "BPCER@APCER0"
        else:
            name = f"APCER@BPCER{100 * self.target:g}%"
        object.__setattr__(self, "name", name)

    @property
    def metric_key(self) -> str:
        """Metric name: ``bpcer20``, ``apcer_at_bpcer5pct``."""
        if self.fixed == "apcer":
            return f"bpcer{round(1 / self.target)}" if self.target > 0 else "bpcer_at_apcer0"
        return f"apcer_at_bpcer{100 * self.target:g}pct".replace(".", "_")

    @property
    def value(self) -> float:
        """The rate the point reports: BPCER at an APCER target, APCER at a BPCER target."""
        return self.bpcer if self.fixed == "apcer" else self.apcer


@dataclass(frozen=True)
class BootstrapIntervals(_Readable):
    """Subject-grouped percentile bootstrap intervals of the headline numbers."""

    groups: str
    n_groups: int
    n_resamples: int
    confidence: float
    seed: int
    max_apcer: Interval
    bpcer: Interval
    acer: Interval


@dataclass(frozen=True)
class MetricsBlock(_Readable):
    """Every metric of one challenge type (or the overall maximum over types)."""

    n_sessions: int
    n_bona_fide: int
    n_attack: int
    n_subjects: int
    species: Mapping[str, SpeciesRate]
    max_apcer: float
    max_apcer_species: tuple[str, ...]
    max_apcer_ci: Interval
    bpcer: float
    bpcer_rejected: int
    bpcer_ci: Interval
    acer: float
    acer_ci: Interval
    non_responses: int
    non_response_rate: float
    bona_fide_non_responses: int
    bpnrr: float
    bpnrr_ci: Interval
    bona_fide_subjects: SubjectCounts
    confidence: float
    has_scores: bool
    bootstrap: BootstrapIntervals | None
    operating_points: tuple[OperatingPoint, ...] = ()
    eer: float = math.nan
    eer_threshold: float = math.nan
    eer_max_species: float = math.nan
    decision_threshold: float | None = None
    calibration_note: str | None = None

    def point(self, fixed: str, target: float) -> OperatingPoint | None:
        """The operating point for ``fixed`` (``"apcer"``/``"bpcer"``) at ``target``."""
        for p in self.operating_points:
            if p.fixed == fixed and math.isclose(p.target, target):
                return p
        return None


@dataclass(frozen=True)
class Metrics(_Readable):
    """:func:`compute_metrics`'s result: ``overall`` and ``by_type`` blocks."""

    overall: MetricsBlock
    by_type: Mapping[str, MetricsBlock] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# reading results tables

_REQUIRED_COLUMNS = ("label", "pai_species", "challenge_type", "success")


def session_scores(results: Any) -> np.ndarray:
    """Per-session scores of a results table, with missing scores made explicit.

    A session's ``score`` is used when it is finite. A session without a score is
    given ``+inf`` when the challenge accepted it (it stays accepted at every
    threshold) and ``nan`` when it was rejected (rejected at every threshold), so
    curves and operating points never invent a decision the challenge did not make.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (``success`` and optionally ``score`` columns).

    Returns
    -------
    numpy.ndarray of float, shape (n_sessions,)
    """
    success = results["success"].to_numpy(bool)
    if "score" in results:
        score = np.array(results["score"].to_numpy(), dtype=float)
    else:
        score = np.full(len(results), np.nan)
    missing = ~np.isfinite(score)
    out = score.copy()
    out[missing & success] = np.inf
    out[missing & ~success] = np.nan
    return out


def _check_results(results: Any, name: str = "results") -> None:
    missing = [c for c in _REQUIRED_COLUMNS if c not in getattr(results, "columns", ())]
    if missing:
        raise ValueError(f"{name} must be a results table with columns "
                         f"{', '.join(_REQUIRED_COLUMNS)}; missing: {', '.join(missing)}")
    bad = sorted(set(results["label"]) - {"bona_fide", "attack"})
    if bad:
        raise ValueError(f"{name}: label must be bona_fide or attack, got {bad[:3]!r}")


def species_of(results: Any) -> np.ndarray:
    """The PAI species column (``"unspecified"`` for an attack without one)."""
    sp = results["pai_species"].fillna("").astype(str).to_numpy(object)
    sp[sp == ""] = "unspecified"
    return sp


def split_scores(results: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(all scores, bona fide scores, {species: attack scores})`` of a results table."""
    scores = session_scores(results)
    bf = (results["label"] == "bona_fide").to_numpy()
    species = species_of(results)
    at = {s: scores[~bf & (species == s)] for s in sorted(set(species[~bf]))}
    return scores, scores[bf], at


def _groups_of(results: Any) -> tuple[np.ndarray, str]:
    """Bootstrap groups: subject ids; a session without one is its own group."""
    n = len(results)
    if "subject_id" in results:
        subj = results["subject_id"].fillna("").astype(str).to_numpy(object)
    else:
        subj = np.full(n, "", dtype=object)
    have = subj != ""
    ids = results["session_id"].astype(str).to_numpy(object) if "session_id" in results \
        else np.array([str(i) for i in range(n)], dtype=object)
    keys = np.where(have, "s:" + subj.astype(str), "x:" + ids.astype(str))
    _, codes = np.unique(keys, return_inverse=True)
    return codes, ("subject" if have.all() else "subject (sessions without one: alone)"
                   if have.any() else "session")


def _subject_counts(subjects: np.ndarray) -> SubjectCounts:
    ids = [s for s in subjects.tolist() if s]
    if not ids:
        return SubjectCounts(0, 0, 0.0, 0)
    _, counts = np.unique(np.asarray(ids, dtype=object).astype(str), return_counts=True)
    return SubjectCounts(int(counts.size), int(counts.min()), float(np.median(counts)),
                         int(counts.max()))


def _wilson(k: int, n: int, confidence: float) -> Interval:
    from .intervals import wilson_interval
    return wilson_interval(k, n, confidence=confidence)


# --------------------------------------------------------------------------------------------
# one block

def _bootstrap(results: Any, *, n_resamples: int, confidence: float, seed: int
               ) -> BootstrapIntervals | None:
    from .intervals import bootstrap_interval

    if n_resamples <= 0 or not len(results):
        return None
    groups, kind = _groups_of(results)
    acc = results["success"].to_numpy(bool)
    bf = (results["label"] == "bona_fide").to_numpy()
    at = ~bf
    species = species_of(results)
    sp_masks = [(at & (species == s)).astype(float) for s in sorted(set(species[at]))]
    bf_f, rej_f = bf.astype(float), (bf & ~acc).astype(float)
    acc_f = acc.astype(float)

    def stats(w: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            if sp_masks:
                per = np.vstack([(w @ (m * acc_f)) / (w @ m) for m in sp_masks])
                all_nan = np.isnan(per).all(axis=0)
                per_filled = np.where(np.isnan(per), -np.inf, per)
                mx = np.where(all_nan, np.nan, per_filled.max(axis=0))
            else:
                mx = np.full(w.shape[0], np.nan)
            b = (w @ rej_f) / (w @ bf_f)
        return {"max_apcer": mx, "bpcer": b, "acer": (mx + b) / 2}

    out = bootstrap_interval(stats, groups, n_resamples=n_resamples, confidence=confidence,
                             seed=seed)
    return BootstrapIntervals(kind, int(groups.max()) + 1, int(n_resamples), confidence,
                              int(seed), out["max_apcer"], out["bpcer"], out["acer"])


def _operating_points(results: Any, calibration: Any | None, apcer_targets: Sequence[float],
                      bpcer_targets: Sequence[float]) -> tuple[OperatingPoint, ...]:
    """Thresholds chosen on ``calibration`` (or ``results`` itself), applied to ``results``."""
    source = results if calibration is None else calibration
    where = "self" if calibration is None else "calibration"
    points = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        _, s_bf, s_at = split_scores(source)
        _, r_bf, r_at = split_scores(results)
        for fixed, targets in (("apcer", apcer_targets), ("bpcer", bpcer_targets)):
            for target in targets:
                if fixed == "apcer":
                    t = threshold_at_apcer(s_at, target) if s_at else math.nan
                else:
                    t = threshold_at_bpcer(s_bf, target) if s_bf.size else math.nan
                if math.isnan(t) or not r_at:
                    a = b = math.nan
                else:
                    a, b = error_rates(r_bf, r_at, t)
                points.append(OperatingPoint(fixed, float(target), t, a, b, where))
    return tuple(points)


def _decision_threshold(ctype: str) -> float | None:
    from ..challenges.registry import default_registry
    try:
        return default_registry().get(ctype).score_threshold
    except Exception:  # a type not registered here: its operating point is unknown
        return None


def _type_block(results: Any, calibration: Any | None, *, ctype: str | None,
                apcer_targets: Sequence[float], bpcer_targets: Sequence[float],
                confidence: float, n_bootstrap: int, seed: int,
                calibration_note: str | None = None) -> MetricsBlock:
    from .curves import equal_error_rate

    acc = results["success"].to_numpy(bool)
    bf = (results["label"] == "bona_fide").to_numpy()
    at = ~bf
    decided = results["decided"].to_numpy(bool) if "decided" in results \
        else np.ones(len(acc), bool)
    subjects = results["subject_id"].fillna("").astype(str).to_numpy(object) \
        if "subject_id" in results else np.full(len(acc), "", dtype=object)
    species = species_of(results)
    per: dict[str, SpeciesRate] = {}
    for sp in sorted(set(species[at])):
        m = at & (species == sp)
        k, n, nr = int((acc & m).sum()), int(m.sum()), int((m & ~decided).sum())
        per[sp] = SpeciesRate(k, n, k / n, _wilson(k, n, confidence), nr, nr / n,
                              _wilson(nr, n, confidence), _subject_counts(subjects[m]))
    n_bf = int(bf.sum())
    rejected = int((bf & ~acc).sum())
    bf_nr = int((bf & ~decided).sum())
    mx = max((v.apcer for v in per.values()), default=math.nan)
    mx_ci = (max(v.ci[0] for v in per.values()), max(v.ci[1] for v in per.values())) \
        if per else (math.nan, math.nan)
    b = rejected / n_bf if n_bf else math.nan
    b_ci = _wilson(rejected, n_bf, confidence)
    scores = session_scores(results)
    has_scores = bool(np.isfinite(scores).any())
    kw: dict[str, Any] = {}
    if ctype is not None and has_scores and n_bf and at.any():
        kw["operating_points"] = _operating_points(results, calibration, apcer_targets,
                                                   bpcer_targets)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            _, r_bf, r_at = split_scores(results)
            kw["eer"], kw["eer_threshold"] = equal_error_rate(r_bf, np.concatenate(
                list(r_at.values())))
            kw["eer_max_species"] = equal_error_rate(r_bf, r_at)[0]
    n_subj = int(len({s for s in subjects.tolist() if s}))
    return MetricsBlock(
        n_sessions=int(len(results)), n_bona_fide=n_bf, n_attack=int(at.sum()),
        n_subjects=n_subj, species=per, max_apcer=mx,
        max_apcer_species=tuple(sp for sp, v in per.items() if v.apcer == mx),
        max_apcer_ci=mx_ci, bpcer=b, bpcer_rejected=rejected, bpcer_ci=b_ci,
        acer=(mx + b) / 2, acer_ci=((mx_ci[0] + b_ci[0]) / 2, (mx_ci[1] + b_ci[1]) / 2),
        non_responses=int((~decided).sum()),
        non_response_rate=float((~decided).mean()) if len(decided) else math.nan,
        bona_fide_non_responses=bf_nr, bpnrr=bf_nr / n_bf if n_bf else math.nan,
        bpnrr_ci=_wilson(bf_nr, n_bf, confidence), bona_fide_subjects=_subject_counts(
            subjects[bf]), confidence=confidence, has_scores=has_scores,
        bootstrap=_bootstrap(results, n_resamples=n_bootstrap, confidence=confidence,
                             seed=seed),
        decision_threshold=_decision_threshold(ctype) if ctype else None,
        calibration_note=calibration_note, **kw)


def _worst_of(blocks: Mapping[str, MetricsBlock], results: Any) -> MetricsBlock:
    """The overall block of several types: each figure the maximum over the types."""
    def mx(values: Iterable[float]) -> float:
        v = [x for x in values if not math.isnan(x)]
        return max(v) if v else math.nan

    def mx_ci(cis: Iterable[Interval]) -> Interval:
        cis = [c for c in cis if not math.isnan(c[0])]
        return (max(c[0] for c in cis), max(c[1] for c in cis)) if cis else (math.nan, math.nan)

    bs = list(blocks.values())
    worst_apcer = mx(b.max_apcer for b in bs)
    worst = tuple(f"{t} {sp}" for t, b in blocks.items() if b.max_apcer == worst_apcer
                  for sp in b.max_apcer_species)
    subjects = results["subject_id"].fillna("").astype(str).to_numpy(object) \
        if "subject_id" in results else np.full(len(results), "", dtype=object)
    bf = (results["label"] == "bona_fide").to_numpy()
    return MetricsBlock(
        n_sessions=sum(b.n_sessions for b in bs), n_bona_fide=sum(b.n_bona_fide for b in bs),
        n_attack=sum(b.n_attack for b in bs),
        n_subjects=int(len({s for s in subjects.tolist() if s})), species={},
        max_apcer=worst_apcer, max_apcer_species=worst,
        max_apcer_ci=mx_ci(b.max_apcer_ci for b in bs), bpcer=mx(b.bpcer for b in bs),
        bpcer_rejected=sum(b.bpcer_rejected for b in bs),
        bpcer_ci=mx_ci(b.bpcer_ci for b in bs), acer=mx(b.acer for b in bs),
        acer_ci=mx_ci(b.acer_ci for b in bs), non_responses=sum(b.non_responses for b in bs),
        non_response_rate=mx(b.non_response_rate for b in bs),
        bona_fide_non_responses=sum(b.bona_fide_non_responses for b in bs),
        bpnrr=mx(b.bpnrr for b in bs), bpnrr_ci=mx_ci(b.bpnrr_ci for b in bs),
        bona_fide_subjects=_subject_counts(subjects[bf]), confidence=bs[0].confidence,
        has_scores=any(b.has_scores for b in bs), bootstrap=None)


def compute_metrics(results: Any, *, calibration: Any | None = None,
                    apcer_targets: Iterable[float] = tuple(OPERATING_POINTS.values()),
                    bpcer_targets: Iterable[float] = (0.05, 0.10),
                    confidence: float = 0.95, n_bootstrap: int = 1000,
                    seed: int = 0) -> Metrics:
    """Every metric of a results table, per challenge type and overall, with intervals.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (:data:`liveness_lab.evaluation.replay.RESULT_COLUMNS`), e.g. the
        ``test`` split.
    calibration : pandas.DataFrame, optional
        Where operating-point thresholds are chosen (e.g. the ``dev`` split); they are then
        applied unchanged to ``results``. Default: ``results`` itself (optimistic). A
        challenge type missing from ``calibration`` warns (:class:`CalibrationWarning`)
        and its block says so in ``calibration_note``.
    apcer_targets, bpcer_targets : iterable of float
        Operating points: BPCER at each APCER target, APCER at each BPCER target.
    confidence : float
        Level of every interval.
    n_bootstrap : int
        Resamples of the subject-grouped bootstrap of the headline numbers (0: none).
    seed : int
        Seed of the bootstrap (the same seed gives the same intervals).

    Returns
    -------
    Metrics
        ``by_type``: one :class:`MetricsBlock` per challenge type. ``overall``: the same
        block when there is one type; with several, each figure is the maximum over the
        types (no species pooled across types, no score operating points, no bootstrap).

    Notes
    -----
    Sessions without a decision count as rejected in APCER and BPCER (as the original
    framework answered ``false``) and are also reported as APNRR / BPNRR.
    Score-based numbers use :func:`session_scores`.
    """
    _check_results(results)
    if calibration is not None:
        _check_results(calibration, "calibration")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95, got {confidence!r}")
    if isinstance(n_bootstrap, bool) or int(n_bootstrap) != n_bootstrap or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer (0: no bootstrap), got "
                         f"{n_bootstrap!r}")
    apcer_targets = [_check_rate(t, "apcer_targets") for t in apcer_targets]
    bpcer_targets = [_check_rate(t, "bpcer_targets") for t in bpcer_targets]
    kw = dict(apcer_targets=apcer_targets, bpcer_targets=bpcer_targets, confidence=confidence,
              n_bootstrap=int(n_bootstrap), seed=seed)
    types = sorted(set(results["challenge_type"].astype(str)))
    by_type = {}
    for t in types:
        part = results[results["challenge_type"].astype(str) == t]
        cal, note = None, None
        if calibration is not None:
            cal = calibration[calibration["challenge_type"].astype(str) == t]
            if not len(cal):
                cal = None
                note = (f"the calibration split has no {t} session: {t}'s thresholds are "
                        "chosen on the reported split itself (optimistic)")
                warnings.warn(note, CalibrationWarning, stacklevel=2)
        by_type[t] = _type_block(part, cal, ctype=t, calibration_note=note, **kw)
    if len(types) == 1:
        overall = by_type[types[0]]
    elif types:
        overall = _worst_of(by_type, results)
    else:
        overall = _type_block(results, None, ctype=None, **kw)
    return Metrics(overall, by_type)


# flat views (for trackers, tables and terminal summaries) live in .flat
from .flat import as_summary, flatten_metrics  # noqa: E402  (re-exported)
