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
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["UndefinedMetricWarning", "apcer", "apcer_per_species", "max_apcer", "bpcer", "acer",
           "non_response_rate", "OPERATING_POINTS", "error_rates", "threshold_at_apcer",
           "threshold_at_bpcer", "bpcer_at_apcer", "apcer_at_bpcer", "session_scores",
           "compute_metrics", "flatten_metrics", "as_summary"]


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


# --------------------------------------------------------------------------------------------
# results tables (pandas): the metrics of an evaluation, with intervals and operating points

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


def _species_of(results: Any) -> np.ndarray:
    sp = results["pai_species"].fillna("").astype(str).to_numpy(object)
    sp[sp == ""] = "unspecified"
    return sp


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


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    from .intervals import wilson_interval
    return wilson_interval(k, n, confidence=confidence)


def _bootstrap_block(results: Any, *, n_resamples: int, confidence: float, seed: int
                     ) -> dict[str, Any] | None:
    from .intervals import bootstrap_interval

    if n_resamples <= 0 or not len(results):
        return None
    groups, kind = _groups_of(results)
    acc = results["success"].to_numpy(bool)
    bf = (results["label"] == "bona_fide").to_numpy()
    at = ~bf
    species = _species_of(results)
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
    return {"groups": kind, "n_groups": int(groups.max()) + 1, "n_resamples": int(n_resamples),
            "confidence": confidence, **{k: v for k, v in out.items()}}


def _operating_points(results: Any, calibration: Any | None, apcer_targets: Sequence[float],
                      bpcer_targets: Sequence[float]) -> list[dict[str, Any]]:
    """Thresholds chosen on ``calibration`` (or ``results`` itself), applied to ``results``."""
    source = results if calibration is None else calibration
    points = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        s_scores, s_bf, s_at = _split_scores(source)
        r_scores, r_bf, r_at = _split_scores(results)
        for kind, targets in (("apcer", apcer_targets), ("bpcer", bpcer_targets)):
            for target in targets:
                if kind == "apcer":
                    t = threshold_at_apcer(s_at, target) if s_at else math.nan
                    name = f"BPCER{round(1 / target)}" if target > 0 else "BPCER@APCER0"
                else:
                    t = threshold_at_bpcer(s_bf, target) if s_bf.size else math.nan
                    name = f"APCER@BPCER{100 * target:g}%"
                if math.isnan(t):
                    a = b = math.nan
                else:
                    a, b = error_rates(r_bf, r_at, t) if r_at else (math.nan, math.nan)
                points.append({"name": name, "fixed": kind, "target": float(target),
                               "threshold": t, "apcer": a, "bpcer": b,
                               "calibrated_on": "self" if calibration is None else "calibration"})
    return points


def _split_scores(results: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    scores = session_scores(results)
    bf = (results["label"] == "bona_fide").to_numpy()
    species = _species_of(results)
    at = {s: scores[~bf & (species == s)] for s in sorted(set(species[~bf]))}
    return scores, scores[bf], at


def _metrics_block(results: Any, calibration: Any | None, *, apcer_targets: Sequence[float],
                   bpcer_targets: Sequence[float], confidence: float, n_bootstrap: int,
                   seed: int, single_type: bool) -> dict[str, Any]:
    acc = results["success"].to_numpy(bool)
    bf = (results["label"] == "bona_fide").to_numpy()
    at = ~bf
    species = _species_of(results)
    per: dict[str, dict[str, Any]] = {}
    for sp in sorted(set(species[at])):
        m = at & (species == sp)
        k, n = int((acc & m).sum()), int(m.sum())
        per[sp] = {"accepted": k, "total": n, "apcer": k / n, "ci": _wilson(k, n, confidence)}
    n_bf = int(bf.sum())
    rejected = int((bf & ~acc).sum())
    mx = max((v["apcer"] for v in per.values()), default=math.nan)
    b = rejected / n_bf if n_bf else math.nan
    decided = results["decided"].to_numpy(bool) if "decided" in results else np.ones(len(acc), bool)
    scores = session_scores(results)
    has_scores = bool(np.isfinite(scores).any())
    block: dict[str, Any] = {
        "n_sessions": int(len(results)), "n_bona_fide": n_bf, "n_attack": int(at.sum()),
        "n_subjects": int(results["subject_id"].replace("", np.nan).nunique())
        if "subject_id" in results else 0,
        "species": per, "max_apcer": mx,
        "max_apcer_species": [sp for sp, v in per.items() if v["apcer"] == mx] if per else [],
        "bpcer": b, "bpcer_rejected": rejected, "bpcer_ci": _wilson(rejected, n_bf, confidence),
        "acer": (mx + b) / 2, "non_responses": int((~decided).sum()),
        "non_response_rate": float((~decided).mean()) if len(decided) else math.nan,
        "confidence": confidence, "has_scores": has_scores,
        "bootstrap": _bootstrap_block(results, n_resamples=n_bootstrap, confidence=confidence,
                                      seed=seed),
        "operating_points": [], "eer": math.nan,
    }
    if single_type and has_scores and n_bf and at.any():
        block["operating_points"] = _operating_points(results, calibration, apcer_targets,
                                                      bpcer_targets)
        from .curves import equal_error_rate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            _, r_bf, r_at = _split_scores(results)
            block["eer"] = equal_error_rate(r_bf, r_at)[0]
    return block


def compute_metrics(results: Any, *, calibration: Any | None = None,
                    apcer_targets: Iterable[float] = tuple(OPERATING_POINTS.values()),
                    bpcer_targets: Iterable[float] = (0.05, 0.10),
                    confidence: float = 0.95, n_bootstrap: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """Every metric of a results table, overall and per challenge type, with intervals.

    Parameters
    ----------
    results : pandas.DataFrame
        A results table (:data:`liveness_lab.evaluation.replay.RESULT_COLUMNS`), e.g. the
        ``test`` split.
    calibration : pandas.DataFrame, optional
        Where operating-point thresholds are chosen (e.g. the ``dev`` split); they are then
        applied unchanged to ``results``. Default: ``results`` itself (optimistic).
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
    dict
        ``{"overall": block, "by_type": {TYPE: block}}``. A block holds counts
        (``n_sessions``, ``n_bona_fide``, ``n_attack``, ``n_subjects``), ``species``
        (``{species: {accepted, total, apcer, ci}}``, Wilson intervals), ``max_apcer``
        and ``max_apcer_species``, ``bpcer``, ``bpcer_rejected``, ``bpcer_ci`` (Wilson),
        ``acer`` (OULU-NPU convention), ``non_responses``, ``non_response_rate``,
        ``bootstrap`` (subject-grouped percentile intervals of ``max_apcer``, ``bpcer``,
        ``acer``, or ``None``), ``has_scores``, ``operating_points`` (list of
        ``{name, fixed, target, threshold, apcer, bpcer, calibrated_on}``; only for a
        single challenge type with scores) and ``eer``.

    Notes
    -----
    Sessions without a decision count as rejected in APCER and BPCER (as the original
    framework answered ``false``) and are also reported as the non-response rate.
    Score-based numbers use :func:`session_scores`.
    """
    _check_results(results)
    if calibration is not None:
        _check_results(calibration, "calibration")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95, got {confidence!r}")
    apcer_targets = [_check_rate(t, "apcer_targets") for t in apcer_targets]
    bpcer_targets = [_check_rate(t, "bpcer_targets") for t in bpcer_targets]
    kw = dict(apcer_targets=apcer_targets, bpcer_targets=bpcer_targets, confidence=confidence,
              n_bootstrap=int(n_bootstrap), seed=seed)
    types = sorted(set(results["challenge_type"].astype(str)))
    by_type = {}
    for t in types:
        part = results[results["challenge_type"].astype(str) == t]
        cal = None
        if calibration is not None:
            cal = calibration[calibration["challenge_type"].astype(str) == t]
            if not len(cal):
                cal = None
        by_type[t] = _metrics_block(part, cal, single_type=True, **kw)
    overall = _metrics_block(results, calibration, single_type=len(types) == 1, **kw)
    return {"overall": overall, "by_type": by_type}


def _key(text: str) -> str:
    """A metric-name-safe version of ``text`` (letters, digits, ``_ - .``)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in str(text))


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flat ``{name: value}`` of :func:`compute_metrics`'s output, for trackers and tables.

    Names: ``max_apcer``, ``bpcer``, ``acer``, ``non_response_rate``, ``apcer.SPECIES``,
    ``bpcer20`` (etc.), ``eer``, ``*_ci_low`` / ``*_ci_high``, for the overall block, then
    ``TYPE.<name>`` for each challenge type; each prefixed with ``prefix`` (e.g. ``"dev."``).
    ``nan`` values are dropped.
    """
    out: dict[str, float] = {}

    def block(b: Mapping[str, Any], pre: str) -> None:
        vals: dict[str, float] = {
            "n_sessions": b["n_sessions"], "n_bona_fide": b["n_bona_fide"],
            "n_attack": b["n_attack"], "max_apcer": b["max_apcer"], "bpcer": b["bpcer"],
            "acer": b["acer"], "non_response_rate": b["non_response_rate"], "eer": b["eer"],
            "bpcer_ci_low": b["bpcer_ci"][0], "bpcer_ci_high": b["bpcer_ci"][1]}
        for sp, v in b["species"].items():
            vals[f"apcer.{_key(sp)}"] = v["apcer"]
        boot = b.get("bootstrap")
        if boot:
            for name in ("max_apcer", "bpcer", "acer"):
                vals[f"{name}_boot_low"], vals[f"{name}_boot_high"] = boot[name]
        for p in b["operating_points"]:
            n = _key(p["name"].lower().replace("@", "_at_").replace("%", "pct"))
            vals[n] = p["bpcer"] if p["fixed"] == "apcer" else p["apcer"]
        for k, v in vals.items():
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                out[f"{prefix}{pre}{k}"] = float(v)

    block(metrics["overall"], "")
    for t, b in metrics["by_type"].items():
        block(b, f"{_key(t)}.")
    return out


def as_summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`compute_metrics` output in the shape of
    :func:`liveness_lab.evaluation.replay.summarize`, e.g. to print it with
    :func:`~liveness_lab.evaluation.replay.format_summary`."""
    def block(b: Mapping[str, Any]) -> dict[str, Any]:
        return {"n_sessions": b["n_sessions"], "n_bona_fide": b["n_bona_fide"],
                "n_attack": b["n_attack"], "bpcer": b["bpcer"],
                "bpcer_counts": (b["bpcer_rejected"], b["n_bona_fide"]),
                "apcer": {sp: v["apcer"] for sp, v in b["species"].items()},
                "apcer_counts": {sp: (v["accepted"], v["total"]) for sp, v in b["species"].items()},
                "max_apcer": b["max_apcer"], "acer": b["acer"],
                "non_response_rate": b["non_response_rate"]}
    return {"overall": block(metrics["overall"]),
            "by_type": {t: block(b) for t, b in metrics["by_type"].items()}}
