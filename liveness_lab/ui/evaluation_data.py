"""Data behind the Evaluation dashboard: MLflow runs, results tables, reports, operating points.

MLflow is reached only through :mod:`liveness_lab.evaluation.tracking` (the one
module that imports it): :class:`~liveness_lab.evaluation.tracking.Tracker` to
list runs, :func:`~liveness_lab.evaluation.tracking.load_run` to fetch a run's
``results.csv``. Metrics come from :mod:`liveness_lab.evaluation.metrics` and
:mod:`liveness_lab.evaluation.curves`. No Streamlit here.
"""

from __future__ import annotations

import base64
import math
import mimetypes
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..evaluation.tracking import Tracker

__all__ = ["tracking_store_exists", "open_tracker", "list_experiments", "list_runs",
           "fetch_run_results", "find_results_files", "find_reports", "inline_report",
           "ScoreSet", "score_set", "rates_at", "rate_curve", "HEADLINE_METRICS"]

#: Metric names (without split prefix) shown first in the runs table.
HEADLINE_METRICS = ("max_apcer", "bpcer", "acer", "non_response_rate", "eer", "bpcer20")


def tracking_store_exists(uri: str) -> bool:
    """Whether there is a tracking store to read: for ``sqlite:///PATH``, whether the file exists.

    Other URIs (a tracking server, a file store) are assumed to exist; opening them tells.
    """
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).is_file()
    return True


def open_tracker(uri: str, project_dir: str | Path = ".") -> "Tracker":
    """A :class:`~liveness_lab.evaluation.tracking.Tracker` on ``uri``."""
    from ..evaluation.tracking import Tracker

    return Tracker(uri, project_dir=project_dir)


def list_experiments(tracker: "Tracker") -> "pd.DataFrame":
    """Active experiments: ``experiment_id``, ``name``, ``artifact_location``."""
    import pandas as pd

    exps = tracker.client.search_experiments()
    return pd.DataFrame([{"experiment_id": e.experiment_id, "name": e.name,
                          "artifact_location": e.artifact_location} for e in exps],
                        columns=["experiment_id", "name", "artifact_location"])


def list_runs(tracker: "Tracker", experiment_ids: Sequence[str], *, max_results: int = 500
              ) -> "pd.DataFrame":
    """Runs of the experiments, newest first, one row each.

    Columns: ``run_id``, ``run_name``, ``experiment_id``, ``status``, ``start_time``
    (UTC, without time zone), ``role`` (tag ``liveness_lab.role``: study, profile, sweep,
    trial), ``parent_run_id``, ``selected`` (a sweep's chosen trial), then
    ``param.<name>`` and ``metric.<name>`` columns.
    """
    import pandas as pd

    if not experiment_ids:
        return pd.DataFrame(columns=["run_id", "run_name", "experiment_id", "status",
                                     "start_time", "role", "parent_run_id", "selected"])
    runs = tracker.client.search_runs(list(experiment_ids), max_results=max_results,
                                      order_by=["attributes.start_time DESC"])
    rows = []
    for r in runs:
        tags = r.data.tags
        row: dict[str, Any] = {
            "run_id": r.info.run_id, "run_name": r.info.run_name,
            "experiment_id": r.info.experiment_id, "status": r.info.status,
            "start_time": pd.to_datetime(r.info.start_time, unit="ms")  # naive, UTC
            if r.info.start_time else pd.NaT,
            "role": tags.get("liveness_lab.role", ""),
            "parent_run_id": tags.get("mlflow.parentRunId", ""),
            "selected": tags.get("liveness_lab.selected", "") == "true"}
        row.update({f"param.{k}": v for k, v in r.data.params.items()})
        row.update({f"metric.{k}": v for k, v in r.data.metrics.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def fetch_run_results(run_id: str, uri: str, dst: str | Path) -> dict[str, Any]:
    """A run's params, metrics and ``results.csv`` (downloaded into ``dst``).

    See :func:`liveness_lab.evaluation.tracking.load_run`; raises
    :class:`~liveness_lab.errors.ConfigError` when the run has no ``results.csv``.
    """
    from ..evaluation.tracking import load_run

    return load_run(run_id, tracking_uri=uri, dst=dst)


def find_results_files(root: str | Path, *, limit: int = 200) -> list[Path]:
    """Results CSV files under ``root`` (``results*.csv``), newest first."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("results*.csv") if p.is_file()]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]


def find_reports(root: str | Path, *, limit: int = 200) -> list[Path]:
    """Accuracy reports (``report.html``) under ``root``, newest first."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("report.html") if p.is_file()]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:limit]


_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")', re.IGNORECASE)


def inline_report(path: str | Path, *, max_image_bytes: int = 8 * 1024 * 1024) -> str:
    """A report's HTML with its relative images embedded as ``data:`` URIs.

    The report then displays inside the app (or anywhere) without its folder.
    Images that are missing, absolute, remote or larger than ``max_image_bytes``
    are left as they are.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    folder = p.parent.resolve()

    def embed(m: re.Match) -> str:
        src = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.IGNORECASE) or src.startswith("/"):
            return m.group(0)
        img = (folder / src).resolve()
        if not img.is_relative_to(folder) or not img.is_file() \
                or img.stat().st_size > max_image_bytes:
            return m.group(0)
        mime = mimetypes.guess_type(img.name)[0] or "application/octet-stream"
        data = base64.b64encode(img.read_bytes()).decode("ascii")
        return f"{m.group(1)}data:{mime};base64,{data}{m.group(3)}"

    return _SRC.sub(embed, text)


class ScoreSet:
    """Scores of one challenge type's results: bona fide, and attacks per species.

    Built by :func:`score_set` with :func:`liveness_lab.evaluation.metrics.session_scores`
    (a session without a score is ``+inf`` when accepted, ``nan`` when rejected).
    """

    def __init__(self, bona_fide: np.ndarray, attacks: Mapping[str, np.ndarray]) -> None:
        self.bona_fide = np.asarray(bona_fide, dtype=float)
        self.attacks = {k: np.asarray(v, dtype=float) for k, v in attacks.items()}

    @property
    def finite(self) -> np.ndarray:
        """Every finite score (bona fide and attacks)."""
        parts = [self.bona_fide] + list(self.attacks.values())
        allv = np.concatenate(parts) if parts else np.array([])
        return allv[np.isfinite(allv)]

    @property
    def has_scores(self) -> bool:
        """Whether at least one session has a finite score."""
        return bool(self.finite.size)

    @property
    def usable(self) -> bool:
        """Both classes present and some finite score: curves and operating points exist."""
        return self.has_scores and bool(self.bona_fide.size) and any(
            v.size for v in self.attacks.values())


def score_set(results: "pd.DataFrame", challenge_type: str | None = None) -> ScoreSet:
    """The :class:`ScoreSet` of ``results`` (rows of ``challenge_type`` only, when given)."""
    from ..evaluation.metrics import session_scores

    df = results
    if challenge_type is not None:
        df = results[results["challenge_type"].astype(str) == challenge_type]
    scores = session_scores(df) if len(df) else np.array([])
    bf = (df["label"] == "bona_fide").to_numpy() if len(df) else np.array([], bool)
    species = df["pai_species"].fillna("").astype(str).replace("", "unspecified").to_numpy() \
        if len(df) else np.array([], str)
    attacks = {s: scores[~bf & (species == s)] for s in sorted(set(species[~bf]))}
    return ScoreSet(scores[bf], attacks)


def rates_at(scores: ScoreSet, threshold: float) -> dict[str, Any]:
    """APCER (max over species and per species) and BPCER at ``threshold`` (accept ``score >= t``).

    Returns ``{"threshold", "apcer", "bpcer", "species": {name: apcer}}``; rates are
    ``nan`` for a class without sessions.
    """
    from ..evaluation.metrics import UndefinedMetricWarning, error_rates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        apcer, bpcer = error_rates(scores.bona_fide, dict(scores.attacks) or [], threshold)
        per = {}
        for sp, s in scores.attacks.items():
            per[sp] = error_rates([], s, threshold)[0] if s.size else math.nan
    return {"threshold": float(threshold), "apcer": apcer, "bpcer": bpcer, "species": per}


def rate_curve(scores: ScoreSet) -> "pd.DataFrame":
    """APCER and BPCER at every threshold where one changes (the DET curve's points).

    Columns ``threshold``, ``apcer``, ``bpcer`` (finite thresholds only).
    """
    import pandas as pd

    from ..evaluation.curves import det_curve

    t, a, b = det_curve(scores.bona_fide, dict(scores.attacks))
    keep = np.isfinite(t)
    return pd.DataFrame({"threshold": t[keep], "apcer": a[keep], "bpcer": b[keep]})
