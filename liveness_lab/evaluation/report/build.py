"""Assemble the accuracy report: HTML + Markdown with PNG plots, for a team or an auditor.

:func:`build_report` writes ``report.html`` (self-contained except for the PNG files next
to it), ``report.md`` and the PNGs into one directory. Contents, for one or several
evaluated configurations (e.g. the ``seed`` profile and a tuned one):

* the summary (per configuration and type, Wilson intervals informative at zero errors),
  naming the profile and analyzer that produced the results;
* the iBeta-style block (claims the sample supports, or how many presentations would) and
  the attempt plan (:mod:`liveness_lab.evaluation.planning`);
* PAI species (instrument, how made, attack potential; subjects and presentations per
  subject) and the capture protocol;
* the dataset; the calibration split beside the reported one;
* per challenge type: per-species APCER and APNRR, APCER max, BPCER, BPNRR, ACER (OULU-NPU
  convention), EERs, the decision's operating point, score operating points chosen on the
  calibration split, and the DET curve;
* the failure-reason breakdown, the worst sessions with their traces, the exact
  configuration and the definitions.

matplotlib (Agg backend) is imported when a report is built, never at import time.
"""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ...errors import ConfigError
from ..aggregate import CalibrationWarning, compute_metrics
from ..planning import ATTEMPT_PLANS, AttemptPlan
from ..species import PaiSpecies
from . import auditor, sections
from .document import Doc, ci, nan, pct, slug
from .plots import det_figure

__all__ = ["Evaluation", "ReportFiles", "build_report", "split_results",
           "recorded_configuration"]


def recorded_configuration(results: Any) -> tuple[str | None, str | None]:
    """The ``(profile, analyzer)`` a results table records (``None`` where it does not).

    Raises ``ValueError`` when the table mixes several (report them apart).
    """
    out: list[str | None] = []
    for col in ("profile", "analyzer"):
        if col not in results:
            out.append(None)
            continue
        values = sorted({str(v) for v in results[col].fillna("") if str(v)})
        if len(values) > 1:
            raise ValueError(f"the results mix several {col}s ({', '.join(values)}); report "
                             "each one apart")
        out.append(values[0] if values else None)
    return out[0], out[1]


@dataclass(frozen=True)
class Evaluation:
    """One configuration's results, as the report shows them.

    Attributes
    ----------
    name:
        Label in tables and plots (e.g. the profile name).
    results:
        The reported results table (e.g. the ``test`` split).
    calibration:
        Results where operating-point thresholds are chosen (e.g. the ``dev`` split), or
        ``None`` (thresholds then come from ``results`` itself: optimistic, and said so).
    profile, sets, overrides:
        The configuration (as for :func:`liveness_lab.config.resolve_configs`); used to
        list every threshold and to re-verify the worst sessions for their traces.
        ``profile=None`` means **unknown**: the report says so and lists no thresholds.
    analyzer:
        Analyzer that produced the faces of frames without recorded ones (``None``:
        unknown; such frames are then not re-analysed for traces).
    metrics:
        Precomputed :func:`~liveness_lab.evaluation.aggregate.compute_metrics` output.
    dataset_dir:
        The dataset this evaluation replayed, when evaluations of one report ran on
        different datasets (default: the report's ``dataset_dir``).
    """

    name: str
    results: Any
    calibration: Any = None
    profile: str | None = None
    sets: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any]] | None = None
    analyzer: str | None = None
    metrics: Any = None
    dataset_dir: Any = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an evaluation needs a name (e.g. the profile)")
        object.__setattr__(self, "sets", tuple(self.sets))

    @classmethod
    def from_results(cls, name: str | None, results: Any, calibration: Any = None, *,
                     profile: str | None = None, analyzer: str | None = None,
                     **kw: Any) -> "Evaluation":
        """An evaluation whose profile and analyzer come from the results' own columns.

        ``profile`` / ``analyzer`` given here must agree with what the results record
        (``ValueError`` otherwise); they fill in what the results do not record.
        """
        rec_profile, rec_analyzer = recorded_configuration(results)
        for what, given, recorded in (("profile", profile, rec_profile),
                                      ("analyzer", analyzer, rec_analyzer)):
            if given and recorded and given != recorded:
                raise ValueError(f"the results were produced with {what} {recorded!r}, not "
                                 f"{given!r}")
        profile, analyzer = rec_profile or profile, rec_analyzer or analyzer
        return cls(name or profile or "results", results, calibration, profile=profile,
                   analyzer=analyzer, **kw)

    def configs(self) -> Any:
        """The resolved :class:`~liveness_lab.config.Configs` (``ConfigError`` when the
        profile is unknown)."""
        from ...config import resolve_configs
        if self.profile is None:
            raise ConfigError("the profile that produced these results is unknown (pass it, "
                              "e.g. --profile seed)")
        return resolve_configs(self.profile, sets=self.sets, overrides=self.overrides)


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`build_report` wrote the report."""

    out_dir: Path
    html: Path
    markdown: Path
    images: tuple[Path, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)


def split_results(results: Any, split: str | None = "auto",
                  calibration_split: str | None = "auto") -> tuple[Any, Any, str, str | None]:
    """Pick the reported rows and the calibration rows of a results table.

    ``"auto"``: report on ``test`` and calibrate on ``dev`` when the table has them;
    otherwise report on every row without a calibration split. ``None``: every row
    (report) / no calibration.

    Returns
    -------
    (reported, calibration or None, reported label, calibration label or None)
    """
    splits = set(results["split"].fillna("").astype(str)) if "split" in results else set()
    if split == "auto":
        split = "test" if "test" in splits else None
    if calibration_split == "auto":
        calibration_split = "dev" if "dev" in splits and split not in (None, "dev") else None
    col = results["split"].fillna("").astype(str) if "split" in results else None

    def rows(name: str) -> Any:
        if col is None or name not in splits:
            known = ", ".join(sorted(s for s in splits if s)) or "none"
            raise ValueError(f"the results have no {name!r} split (splits present: {known})")
        return results[col == name]

    reported = results if split is None else rows(split)
    calibration = None if calibration_split is None else rows(calibration_split)
    return reported, calibration, split or "all sessions", calibration_split



def _metrics_of(ev: Evaluation, *, n_bootstrap: int, confidence: float, seed: int) -> Any:
    if ev.metrics is not None:
        return ev.metrics
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # the report says it instead
        return compute_metrics(ev.results, calibration=ev.calibration, n_bootstrap=n_bootstrap,
                               confidence=confidence, seed=seed)


def _with_ci(value: float, interval: tuple[float, float]) -> str:
    return pct(value) if nan(value) else f"{pct(value)} {ci(interval)}"


def _summary(doc: Doc, evals: Sequence[Evaluation], metrics: Sequence[Any],
             confidence: float) -> None:
    doc.h(2, "Summary")
    rows = []
    for ev, m in zip(evals, metrics):
        for ctype, b in m.by_type.items():
            rows.append([ev.name, ev.profile or "unknown", ev.analyzer or "unknown", ctype,
                         str(b.n_bona_fide), str(b.n_attack),
                         _with_ci(b.max_apcer, b.max_apcer_ci), _with_ci(b.bpcer, b.bpcer_ci),
                         _with_ci(b.acer, b.acer_ci), pct(b.bpnrr),
                         auditor.headline_verdict(b)])
    doc.table(["configuration", "profile", "analyzer", "type", "bona fide", "attacks",
               "APCER max", "BPCER", "ACER (OULU-NPU)", "BPNRR", "iBeta-style criteria"], rows)
    doc.p(f"Brackets: {100 * confidence:g} % Wilson intervals (APCER max: the largest "
          "per-species bounds; ACER: from those bounds), informative at zero errors. "
          "Subject-bootstrap intervals are in the per-type tables.", "note")


def _type_sections(doc: Doc, evals: Sequence[Evaluation], metrics: Sequence[Any], ctype: str,
                   confidence: float) -> None:
    doc.h(2, f"{ctype}: error rates")
    for ev, m in zip(evals, metrics):
        block = m.by_type.get(ctype)
        if block is None:
            continue
        doc.h(3, f"{ev.name} - {ctype}")
        if block.calibration_note:
            doc.p(f"Calibration: {block.calibration_note}.", "notmet")
        doc.table(["metric", "value", f"{100 * confidence:g} % interval", "counts"],
                  sections.metrics_rows(block))
        if block.operating_points:
            src = "the reported split itself (optimistic)" if ev.calibration is None \
                or block.calibration_note else "the calibration split"
            doc.p(f"Operating points from scores; thresholds chosen on {src}, applied "
                  f"unchanged to the reported split:", "note")
            doc.table(["operating point", "constraint", "threshold", "APCER", "BPCER",
                       "value"], sections.operating_rows(block))
        elif not block.has_scores:
            doc.p(f"{ctype} reports no scores: no DET curve or score operating points; the "
                  "rates above are the challenge's own decisions.", "note")


def build_report(evaluations: Evaluation | Sequence[Evaluation], out_dir: str | os.PathLike, *,
                 title: str = "liveness-lab accuracy report",
                 dataset_dir: str | os.PathLike | None = None,
                 dataset_fingerprint: str | None = None, code_version: str | None = None,
                 split_label: str = "test", calibration_label: str | None = "dev",
                 notes: Iterable[str] = (),
                 extra_config: Mapping[str, Any] | None = None,
                 extra_tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
                 n_worst: int = 4, n_bootstrap: int = 1000, confidence: float = 0.95,
                 seed: int = 0, plans: Sequence[AttemptPlan] = ATTEMPT_PLANS,
                 species: Mapping[str, PaiSpecies] | None = None) -> ReportFiles:
    """Write ``report.html``, ``report.md`` and PNG plots into ``out_dir``.

    Parameters
    ----------
    evaluations:
        One :class:`Evaluation` or several (compared side by side).
    out_dir:
        Output directory (created; a previous report's files there are replaced, its
        ``det-*.png`` and ``trace-*.png`` plots removed).
    dataset_dir:
        The dataset, to re-verify the worst sessions, plot their traces and describe the
        capture protocol (optional).
    dataset_fingerprint, code_version:
        Provenance printed in the report (see :mod:`liveness_lab.evaluation.tracking`).
    split_label, calibration_label:
        Names of the reported and calibration splits, for the text.
    notes:
        Paragraphs added after the title (e.g. how a sweep selected the configuration).
    extra_config:
        More ``key: value`` lines for the configuration section (e.g. the sweep file).
    extra_tables:
        ``(heading, headers, rows)`` sections appended before the configuration (e.g. the
        sweep's trials).
    n_worst:
        Worst sessions shown per evaluation and challenge type (half accepted attacks,
        half rejected bona fide when there are enough of each).
    n_bootstrap, confidence, seed:
        For metrics computed here (evaluations without precomputed ``metrics``).
    plans:
        The iBeta-style attempt plans (claims) the report checks.
    species:
        Descriptions of PAI species beyond :data:`liveness_lab.evaluation.species.PAI_SPECIES`.

    Returns
    -------
    ReportFiles
    """
    from ...sessions import atomic_write_text

    evals = [evaluations] if isinstance(evaluations, Evaluation) else list(evaluations)
    if not evals:
        raise ValueError("build_report needs at least one evaluation")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("det-*.png"), *out.glob("trace-*.png")]:
        old.unlink()  # plots of a previous report in this folder
    metrics = [_metrics_of(ev, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)
               for ev in evals]
    images: list[Path] = []
    doc = Doc()
    doc.h(1, title)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc.p(f"Generated {now} by liveness-lab {code_version or ''}; data fingerprint "
          f"{dataset_fingerprint or 'not computed'}; reported split: {split_label}.", "note")
    doc.p("Produced with: " + " | ".join(f"{ev.name}: {sections.describe_configuration(ev)}"
                                         for ev in evals) + ".")
    for n in notes:
        doc.p(n)
    for ev, m in zip(evals, metrics):
        for b in m.by_type.values():
            if b.calibration_note:
                doc.p(f"{ev.name}: {b.calibration_note}.", "notmet")

    _summary(doc, evals, metrics, confidence)
    auditor.ibeta_section(doc, evals, metrics, plans)
    auditor.attempt_plan_section(doc, evals, metrics, plans)
    auditor.protocol_section(doc, evals, metrics, dataset_dir=dataset_dir, species=species)
    sections.dataset_section(doc, evals, dataset_dir=dataset_dir,
                             fingerprint=dataset_fingerprint, split_label=split_label,
                             calibration_label=calibration_label
                             if any(ev.calibration is not None for ev in evals) else None)
    for ev in evals:
        if ev.calibration is not None and len(ev.calibration):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cal_m = compute_metrics(ev.calibration, n_bootstrap=0, confidence=confidence)
            auditor.side_by_side_section(doc, ev, metrics[evals.index(ev)], cal_m,
                                         split_label=split_label,
                                         calibration_label=calibration_label or "calibration")

    types = sorted({t for m in metrics for t in m.by_type})
    for ctype in types:
        _type_sections(doc, evals, metrics, ctype, confidence)
        name = f"det-{slug(ctype)}.png"
        if det_figure(evals, metrics, ctype, out / name):
            images.append(out / name)
            doc.img(name, f"DET curve of {ctype} on the reported split ({split_label}); rates "
                          "of 0 % are drawn at the 0.1 % edge")

    doc.h(2, "Failure-reason breakdown")
    for ev in evals:
        for ctype in types:
            part = ev.results[ev.results["challenge_type"].astype(str) == ctype]
            if not len(part):
                continue
            doc.h(3, f"{ev.name} - {ctype}")
            doc.table(["code", "outcome", "bona fide", "attacks", "example reason"],
                      sections.reasons_rows(part))

    doc.h(2, "Worst sessions")
    for i, ev in enumerate(evals):
        for ctype in types:
            sections.worst_section(doc, ev, i, ctype, out, ev.dataset_dir or dataset_dir,
                                   n_worst, images)

    for heading, headers, rows_ in extra_tables:
        doc.h(2, heading)
        doc.table(headers, rows_)

    sections.config_section(doc, evals, code_version=code_version,
                            fingerprint=dataset_fingerprint, extra=dict(extra_config or {}))
    sections.definitions(doc, confidence, n_bootstrap)

    html_path, md_path = out / "report.html", out / "report.md"
    atomic_write_text(html_path, doc.to_html(title))
    atomic_write_text(md_path, doc.to_markdown())
    return ReportFiles(out, html_path, md_path, tuple(images),
                       {ev.name: m for ev, m in zip(evals, metrics)})
