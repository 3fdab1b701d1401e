"""Evaluation dashboard: MLflow runs and results files, metrics, DET curves, operating points."""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import streamlit as st

from ..common import app_settings, dataframe_or_info, error_box, format_rate, page_header

__all__ = ["render", "metric_columns", "comparison_table", "split_choices", "default_type",
           "default_threshold"]


def metric_columns(runs: Any, names: Any = None) -> list[str]:
    """``metric.*`` columns of a runs table: the headline metrics first (any split prefix).

    >>> import pandas as pd
    >>> metric_columns(pd.DataFrame(columns=["run_id", "metric.test.bpcer", "metric.test.eer",
    ...                                      "metric.test.NOSE.bpcer"]))
    ['metric.test.bpcer', 'metric.test.eer']
    """
    from ..evaluation_data import HEADLINE_METRICS

    names = names or HEADLINE_METRICS
    cols = [c for c in runs.columns if c.startswith("metric.")]
    out = []
    for name in names:
        for c in cols:
            parts = c.split(".")
            if parts[-1] == name and len(parts) == 3 and c not in out:
                out.append(c)
    return out


def comparison_table(runs: Any, run_ids: list[str]) -> Any:
    """Metrics of the chosen runs side by side: one row per metric, one column per run.

    Overall metrics (``SPLIT.name``) come first, then per challenge type
    (``SPLIT.TYPE.name``); metrics no chosen run has are dropped.
    """
    import pandas as pd

    sel = runs[runs["run_id"].isin(run_ids)]
    cols = [c for c in sel.columns if c.startswith("metric.")]
    table = sel.set_index(sel["run_name"].fillna("") + " (" + sel["run_id"].str[:8] + ")")[cols].T
    table.index = [c[len("metric."):] for c in table.index]
    table = table.dropna(how="all")
    if not len(table):
        return pd.DataFrame()
    order = sorted(table.index, key=lambda n: (n.count("."), n))
    return table.loc[order]


def _metric_format(value: Any) -> str:
    """Rates as percentages, counts as integers, missing as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    v = float(value)
    if v.is_integer() and abs(v) > 1:
        return f"{int(v)}"
    return f"{100 * v:.1f} %" if 0 <= v <= 1 else f"{v:.4g}"


def split_choices(results: Any) -> list[str]:
    """Splits offered for a results table: ``auto`` then those present, then ``all``."""
    present = sorted({s for s in results.get("split", []).fillna("").astype(str) if s}) \
        if "split" in results else []
    return ["auto"] + present + ["all"]


@st.cache_resource(show_spinner="Opening the MLflow store…")
def _tracker(uri: str, project_dir: str) -> Any:
    from ..evaluation_data import open_tracker
    return open_tracker(uri, project_dir)


@st.cache_data(show_spinner="Downloading the run's results…", max_entries=32)
def _run_results(run_id: str, uri: str) -> tuple[Any, dict[str, Any]]:
    from ...evaluation.replay import read_results
    from ..evaluation_data import fetch_run_results

    with tempfile.TemporaryDirectory() as tmp:
        run = fetch_run_results(run_id, uri, tmp)
        df = read_results(run["results_path"])
    info = {k: run[k] for k in ("run_id", "run_name", "experiment", "params", "metrics")}
    return df, info


@st.cache_data(show_spinner=False, max_entries=32)
def _file_results(path: str, mtime: float) -> Any:
    from ...evaluation.replay import read_results
    return read_results(path)


@st.cache_data(show_spinner="Computing metrics…", max_entries=32)
def _metrics(reported: Any, calibration: Any, n_bootstrap: int) -> dict[str, Any]:
    from ...evaluation.metrics import UndefinedMetricWarning, compute_metrics
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return compute_metrics(reported, calibration=calibration, n_bootstrap=n_bootstrap)


def _delta(value: float, reference: float) -> str | None:
    """``"+12.5 pts vs decisions"``, or ``None`` when equal or undefined."""
    if math.isnan(value) or math.isnan(reference) or abs(value - reference) < 1e-12:
        return None
    return f"{100 * (value - reference):+.1f} pts vs decisions"


def _det_figure(scores: Any, threshold: float | None, own: tuple[float, float] | None) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ...evaluation.curves import det_curve, plot_det
    from ..evaluation_data import rates_at

    _, a, b = det_curve(scores.bona_fide, dict(scores.attacks))
    points = {}
    if own is not None:
        points["the challenge's decisions"] = own
    if threshold is not None:
        r = rates_at(scores, threshold)
        points[f"threshold {threshold:.4g}"] = (r["apcer"], r["bpcer"])
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    plot_det({"max over species": (a, b)}, ax=ax, points=points,
             title="DET curve (probit axes)")
    fig.tight_layout()
    return fig


def default_type(results: Any) -> str:
    """The challenge type the dashboard opens on: NOSE when present, else the most common.

    >>> import pandas as pd
    >>> default_type(pd.DataFrame({"challenge_type": ["BLINK", "POSE", "POSE"]}))
    'POSE'
    """
    counts = results["challenge_type"].astype(str).value_counts()
    return "NOSE" if "NOSE" in counts.index else str(counts.index[0])


def default_threshold(block: dict[str, Any], lo: float, hi: float) -> float:
    """Where the threshold slider opens: the first operating point's threshold (chosen on
    the calibration split), else the challenge's own decision threshold 0, within [lo, hi].

    >>> default_threshold({"operating_points": [{"threshold": 0.02}]}, -0.1, 0.3)
    0.02
    >>> default_threshold({"operating_points": []}, 0.1, 0.3)
    0.1
    """
    for p in block.get("operating_points") or []:
        t = p.get("threshold")
        if isinstance(t, (int, float)) and math.isfinite(t) and lo <= t <= hi:
            return float(t)
    return min(max(0.0, lo), hi)


@st.fragment
def _analysis(results: Any, *, key: str) -> None:
    """Metrics, per-species breakdown, DET and the operating-point slider of a results table.

    A fragment: its choices rerun this part only; the slider is a nested fragment.
    """
    from ...evaluation.report import split_results
    from .. import charts
    from ..evaluation_data import score_set

    c1, c2, c3 = st.columns(3)
    split = c1.selectbox("Reported split", split_choices(results), key=f"{key}.split",
                         help="auto: test when present (thresholds chosen on dev), else all")
    types = sorted(results["challenge_type"].astype(str).unique())
    ctype = c2.selectbox("Challenge type", types, key=f"{key}.type",
                         index=types.index(default_type(results)))
    boot = c3.select_slider("Bootstrap resamples", [0, 200, 1000], value=0,
                            key=f"{key}.boot", help="subject-grouped bootstrap intervals of the "
                                                    "overall rates (0: none, the fastest; the "
                                                    "per-species Wilson intervals are always "
                                                    "shown)")
    try:
        reported, calibration, label, cal_label = split_results(
            results, None if split == "all" else split,
            "auto" if split == "auto" else None)
    except ValueError as e:
        error_box(str(e))
        return
    reported = reported[reported["challenge_type"].astype(str) == ctype]
    if calibration is not None:
        calibration = calibration[calibration["challenge_type"].astype(str) == ctype]
        calibration = calibration if len(calibration) else None
    if not len(reported):
        st.info(f"No {ctype} session in {label}.")
        return
    m = _metrics(reported, calibration, int(boot))
    block = m["by_type"].get(ctype) or m["overall"]
    st.caption(f"{block['n_bona_fide']} bona fide and {block['n_attack']} attack sessions in "
               f"{label}" + (f"; operating thresholds chosen on {cal_label}" if cal_label else ""))
    k = st.columns(5)
    worst = ", ".join(block.get("max_apcer_species") or []) or "n/a"
    k[0].metric("APCER (max)", format_rate(block["max_apcer"]), help=f"worst species: {worst}")
    k[1].metric("BPCER", format_rate(block["bpcer"]),
                help=f"{block['bpcer_rejected']} of {block['n_bona_fide']} bona fide rejected")
    k[2].metric("ACER", format_rate(block["acer"]), help="OULU-NPU convention, not an ISO metric")
    k[3].metric("Non-response", format_rate(block["non_response_rate"]))
    k[4].metric("EER", format_rate(block["eer"]), help="from scores (nan without scores)")

    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Per species** (the challenge's own decisions)")
        rows = [{"species": sp, "accepted": v["accepted"], "total": v["total"],
                 "APCER": format_rate(v["apcer"]),
                 "95 % interval": f"{format_rate(v['ci'][0])} – {format_rate(v['ci'][1])}"}
                for sp, v in block["species"].items()]
        dataframe_or_info(rows, "No attack sessions.")
        chart = charts.species_chart({sp: v["apcer"] for sp, v in block["species"].items()})
        if chart is not None:
            st.altair_chart(chart, width="stretch")
        if block["operating_points"]:
            st.markdown("**Operating points** (thresholds from "
                        f"{cal_label or 'the reported split itself, optimistic'})")
            st.dataframe([{"point": p["name"], "threshold": p["threshold"],
                           "APCER": format_rate(p["apcer"]), "BPCER": format_rate(p["bpcer"])}
                          for p in block["operating_points"]], hide_index=True, width="stretch")
    scores = score_set(reported, ctype)
    with right:
        st.markdown("**Operating point**")
        if not scores.usable:
            st.info(f"{ctype} reports no scores (or a class is missing): no DET curve and no "
                    "threshold to move; the rates above are the challenge's decisions.")
            return
        _operating_point(scores, block, key=key)


@st.fragment
def _operating_point(scores: Any, block: dict[str, Any], *, key: str) -> None:
    """The threshold slider and what follows it (a fragment: a slider step reruns this only)."""
    from .. import charts
    from ..evaluation_data import rate_curve, rates_at

    finite = scores.finite
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-9:
        hi = lo + 1e-3
    step = (hi - lo) / 200
    t = st.slider("Score threshold (accept when score ≥ threshold)", lo, hi,
                  value=default_threshold(block, lo, hi), step=step, format="%.4f",
                  key=f"{key}.threshold")
    r = rates_at(scores, t)
    q = st.columns(2)
    q[0].metric("APCER at threshold", format_rate(r["apcer"]),
                delta=_delta(r["apcer"], block["max_apcer"]), delta_color="inverse")
    q[1].metric("BPCER at threshold", format_rate(r["bpcer"]),
                delta=_delta(r["bpcer"], block["bpcer"]), delta_color="inverse")
    st.dataframe([{"species": sp, "APCER at threshold": format_rate(v)}
                  for sp, v in r["species"].items()], hide_index=True, width="stretch")
    st.pyplot(_det_figure(scores, t, (block["max_apcer"], block["bpcer"])), width="content")
    rc = charts.rates_chart(rate_curve(scores), t)
    if rc is not None:
        st.altair_chart(rc, width="stretch")


def _mlflow_tab() -> None:
    from ..evaluation_data import list_experiments, list_runs, tracking_store_exists

    settings = app_settings()
    uri = settings.mlflow_uri
    if not tracking_store_exists(uri):
        st.info(f"No MLflow store at `{uri}` yet. Create runs with `liveness-lab sweep "
                "experiments/nose_tolerances.yaml` (or a study), then come back.",
                icon=":material/info:")
        return
    try:
        tracker = _tracker(uri, str(settings.project_dir))
        exps = list_experiments(tracker)
    except Exception as e:  # a broken or foreign store
        error_box(f"Cannot read the MLflow store {uri}: {e}")
        return
    if not len(exps):
        st.info("The MLflow store has no experiment yet.")
        return
    names = list(exps["name"])
    chosen = st.multiselect("Experiments", names, default=names[:1], key="eval.experiments")
    ids = list(exps[exps["name"].isin(chosen)]["experiment_id"])
    runs = list_runs(tracker, ids)
    if not len(runs):
        st.info("No runs in these experiments.")
        return
    mcols = metric_columns(runs)
    pcols = [c for c in ("param.profile", "param.dataset_fingerprint") if c in runs.columns]
    shown = ["run_name", "role", "status", "start_time", "selected"] + pcols + mcols
    st.dataframe(runs[[c for c in shown if c in runs.columns]], hide_index=True,
                 width="stretch", column_config={
                     c: st.column_config.NumberColumn(c[len("metric."):], format="percent")
                     for c in mcols if not c.endswith((".eer",))})
    labels = {r: f"{n} ({r[:8]}, {role or 'run'})" for r, n, role in
              zip(runs["run_id"], runs["run_name"].fillna(""), runs["role"])}
    all_metrics = [c for c in runs.columns if c.startswith("metric.")]
    with_metrics = [r for r, has in zip(runs["run_id"], runs[all_metrics].notna().any(axis=1))
                    if has] if all_metrics else []
    compare = st.multiselect("Compare runs", list(labels), format_func=labels.get,
                             default=with_metrics[:2], key="eval.compare")
    if compare:
        table = comparison_table(runs, compare)
        st.dataframe(table.style.format(_metric_format), width="stretch", height=300)
        from .. import charts
        chart = charts.runs_chart(table)
        if chart is not None:
            st.altair_chart(chart, width="stretch")
        st.caption("Browse everything in MLflow's own UI: `liveness-lab mlflow-ui`, then "
                   "http://127.0.0.1:5000 - runs: " + ", ".join(
                       f"[{r[:8]}](http://127.0.0.1:5000/#/experiments/"
                       f"{runs.loc[runs['run_id'] == r, 'experiment_id'].iloc[0]}/runs/{r})"
                       for r in compare))
    st.subheader("Run details")
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="eval.run")
    try:
        results, info = _run_results(run_id, uri)
    except Exception as e:  # no results.csv artifact (e.g. a study's parent run)
        st.info(f"This run has no per-session results to analyze: {e}")
        return
    st.caption(f"Run {info['run_name']} of experiment {info['experiment']} - "
               f"{len(results)} sessions; profile {info['params'].get('profile', 'n/a')}")
    _analysis(results, key=f"eval.run.{run_id}")


def _files_tab() -> None:
    from ..evaluation_data import find_results_files

    settings = app_settings()
    files = find_results_files(settings.reports_dir)
    options = [str(p) for p in files] + ["another file…"]
    choice = st.selectbox("Results file", options, key="eval.file",
                          help=f"results*.csv under {settings.reports_dir} (from `liveness-lab "
                               "evaluate --output`, studies and sweeps)")
    path = choice if choice != "another file…" else st.text_input(
        "Results CSV", key="eval.file_path", placeholder="results.csv")
    if not path:
        return
    p = Path(path)
    if not p.is_file():
        error_box(f"No such file: {p}")
        return
    try:
        results = _file_results(str(p), p.stat().st_mtime)
    except (ValueError, KeyError) as e:
        error_box(f"Not a results table: {e}")
        return
    _analysis(results, key="eval.fileview")


def _reports_tab() -> None:
    from ..evaluation_data import find_reports, inline_report

    settings = app_settings()
    reports = find_reports(settings.reports_dir)
    if not reports:
        st.info(f"No report under `{settings.reports_dir}` yet: `liveness-lab report "
                "RESULTS_OR_RUN --out reports/NAME/` writes one.")
        return
    choice = st.selectbox("Report", [str(p) for p in reports], key="eval.report")
    p = Path(choice)
    html_text = inline_report(p)
    c1, c2 = st.columns([1, 3])
    c1.download_button("Download report.html", html_text.encode("utf-8"),
                       file_name=f"{p.parent.name}-report.html", mime="text/html",
                       icon=":material/download:")
    c2.caption(f"`{p.resolve()}` (images embedded for display)")
    st.iframe(html_text, height=900)


def render() -> None:
    """The Evaluation dashboard page."""
    page_header("Evaluation dashboard",
                "Runs tracked in MLflow and results files: ISO/IEC 30107-3 metrics per PAI "
                "species, DET curves, and a threshold slider to watch APCER and BPCER trade "
                "off. Reports written by `liveness-lab report` open here too.")
    tabs = st.tabs([":material/science: MLflow runs", ":material/table: Results files",
                    ":material/description: Reports"])
    with tabs[0]:
        _mlflow_tab()
    with tabs[1]:
        _files_tab()
    with tabs[2]:
        _reports_tab()
