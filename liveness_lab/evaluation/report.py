"""The accuracy report: HTML + Markdown with PNG plots, for a team or an auditor.

:func:`build_report` writes ``report.html`` (self-contained except for the PNG files next
to it), ``report.md`` and the PNGs into one directory. Contents, for one or several
evaluated configurations (e.g. the ``seed`` profile and a tuned one):

* an iBeta-style summary block (attacks per species; APCER target 0 %, BPCER target
  <= 15 %: met or not) - a reading aid, not a certification;
* the dataset (sessions per split, type, label and species; subjects; fingerprint);
* per challenge type: per-species APCER with counts and Wilson intervals, max APCER,
  BPCER, ACER (OULU-NPU convention) with subject-grouped bootstrap intervals, the
  non-response rate, operating points (thresholds chosen on the calibration split and
  applied unchanged), the EER and the DET curve;
* the failure-reason breakdown;
* the worst sessions (accepted attacks, rejected bona fide) with their traces plotted;
* the exact configuration, code version and data fingerprint, and the definitions used.

matplotlib (Agg backend) is imported when a report is built, never at import time.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ConfigError
from .metrics import compute_metrics, session_scores

__all__ = ["Evaluation", "ReportFiles", "build_report", "split_results", "plot_trace",
           "IBETA_APCER_TARGET", "IBETA_BPCER_TARGET"]

#: iBeta-style pass criteria: no attack of any species accepted, at most 15 % bona fide rejected.
IBETA_APCER_TARGET = 0.0
IBETA_BPCER_TARGET = 0.15


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
    analyzer:
        Analyzer for frames without recorded faces (re-verification only).
    metrics:
        Precomputed :func:`~liveness_lab.evaluation.metrics.compute_metrics` output.
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
    analyzer: str = "local"
    metrics: Mapping[str, Any] | None = None
    dataset_dir: Any = None

    def configs(self) -> Any:
        """The resolved :class:`~liveness_lab.config.Configs`."""
        from ..config import resolve_configs
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


# --------------------------------------------------------------------------------------------
# a tiny document model rendered to both HTML and Markdown

class _Doc:
    def __init__(self) -> None:
        self.blocks: list[tuple[Any, ...]] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str, cls: str | None = None) -> None:
        self.blocks.append(("p", text, cls))

    def ul(self, items: Sequence[str]) -> None:
        self.blocks.append(("ul", list(items)))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Cells are strings, or ``(text, css_class)`` pairs."""
        self.blocks.append(("table", list(headers), [list(r) for r in rows]))

    def img(self, file: str, alt: str) -> None:
        self.blocks.append(("img", file, alt))

    def pre(self, text: str) -> None:
        self.blocks.append(("pre", text))

    # -- renderers -------------------------------------------------------------------------
    def to_markdown(self) -> str:
        out: list[str] = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                out.append("#" * b[1] + " " + b[2])
            elif kind == "p":
                out.append(f"**{b[1]}**" if b[2] in ("met", "notmet") else b[1])
            elif kind == "ul":
                out.append("\n".join(f"- {i}" for i in b[1]))
            elif kind == "table":
                def cell(c: Any) -> str:
                    text, cls = (c if isinstance(c, tuple) else (c, None))
                    text = str(text).replace("|", "\\|").replace("\n", " ")
                    return f"**{text}**" if cls in ("met", "notmet") else text
                lines = ["| " + " | ".join(cell(h) for h in b[1]) + " |",
                         "|" + "|".join(" --- " for _ in b[1]) + "|"]
                lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in b[2]]
                out.append("\n".join(lines))
            elif kind == "img":
                out.append(f"![{b[2]}]({b[1]})")
            elif kind == "pre":
                out.append("```\n" + b[1] + "\n```")
        return "\n\n".join(out) + "\n"

    def to_html(self, title: str) -> str:
        e = html.escape
        body: list[str] = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                body.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
            elif kind == "p":
                cls = f' class="{b[2]}"' if b[2] else ""
                body.append(f"<p{cls}>{e(b[1])}</p>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b[1]) + "</ul>")
            elif kind == "table":
                def cell(c: Any, tag: str) -> str:
                    text, cls = (c if isinstance(c, tuple) else (c, None))
                    attr = f' class="{cls}"' if cls else ""
                    return f"<{tag}{attr}>{e(str(text))}</{tag}>"
                head = "".join(cell(h, "th") for h in b[1])
                rows = "".join("<tr>" + "".join(cell(c, "td") for c in r) + "</tr>"
                               for r in b[2])
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif kind == "img":
                body.append(f'<figure><img src="{e(b[1])}" alt="{e(b[2])}"/>'
                            f"<figcaption>{e(b[2])}</figcaption></figure>")
            elif kind == "pre":
                body.append(f"<pre>{e(b[1])}</pre>")
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
                f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
                + "\n".join(body) + "\n</body></html>\n")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right}
.met{background:#e3f4e3;color:#145214;font-weight:600}
.notmet{background:#fbe3e3;color:#7a1010;font-weight:600}
.na{color:#888}.note{color:#555;font-size:0.9em}
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:0.85em;color:#555}
pre{background:#f6f6f6;padding:0.6em;overflow-x:auto;font-size:0.85em}
"""


# --------------------------------------------------------------------------------------------
# formatting

def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _pct(v: Any, digits: int = 1) -> str:
    return "n/a" if _nan(v) else f"{100 * v:.{digits}f} %"


def _ci(ci: Any) -> str:
    if not ci or _nan(ci[0]) or _nan(ci[1]):
        return "n/a"
    return f"[{100 * ci[0]:.1f} %, {100 * ci[1]:.1f} %]"


def _num(v: Any) -> str:
    if _nan(v):
        return "n/a"
    if isinstance(v, float):
        if math.isinf(v):
            return "+inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def _status(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return ("n/a", "na")
    return ("met", "met") if ok else ("not met", "notmet")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(text)).strip("-") or "x"


# --------------------------------------------------------------------------------------------
# plots

def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _det_figure(evals: Sequence[Evaluation], metrics: Sequence[Mapping[str, Any]], ctype: str,
                path: Path) -> bool:
    from .curves import det_curve, plot_det
    from .metrics import _split_scores

    curves: dict[str, tuple[Any, Any]] = {}
    points: dict[str, tuple[float, float]] = {}
    for ev, m in zip(evals, metrics):
        block = m["by_type"].get(ctype)
        if block is None or not block["has_scores"] or not block["n_bona_fide"] \
                or not block["n_attack"]:
            continue
        part = ev.results[ev.results["challenge_type"].astype(str) == ctype]
        _, bf, at = _split_scores(part)
        prefix = f"{ev.name}: " if len(evals) > 1 else ""
        _, a, b = det_curve(bf, at)
        curves[f"{prefix}max over species"] = (a, b)
        if len(evals) == 1 and len(at) > 1:
            for sp, scores in at.items():
                _, a, b = det_curve(bf, scores)
                curves[f"{sp}"] = (a, b)
        points[f"{prefix}challenge decisions"] = (block["max_apcer"], block["bpcer"])
        for p in block["operating_points"]:
            if p["name"] == "BPCER20":
                where = "dev" if p["calibrated_on"] == "calibration" else "same data"
                points[f"{prefix}BPCER20 threshold from {where}"] = (p["apcer"], p["bpcer"])
    if not curves:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    plot_det(curves, ax=ax, points=points, title=f"DET curve - {ctype} (score: higher = more live)")
    lines = ax.get_lines()
    if len(evals) == 1:
        for ln in lines[1:len(curves)]:
            ln.set_linewidth(0.9)
            ln.set_linestyle("--")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


_SKIP_MEASURES = {"frame_index", "timestamp", "n_faces", "face_left", "face_top", "face_right",
                  "face_bottom"}


def _numeric_columns(df: Any) -> list[tuple[str, Any]]:
    """Numeric (not boolean) measurement columns of a trace, as float Series."""
    import numpy as np
    import pandas as pd
    out = []
    for c in df.columns:
        if c in _SKIP_MEASURES or c in ("state", "result", "code", "message"):
            continue
        if df[c].map(lambda v: isinstance(v, (bool, np.bool_))).any():
            continue
        col = pd.to_numeric(df[c], errors="coerce")
        if col.notna().any():
            out.append((c, col))
    return out


def plot_trace(verdict: Any, session: Any, path: str | os.PathLike, *, title: str = "") -> Path:
    """Plot a verdict's per-frame trace into a PNG.

    Panels: the nose path in the image with the area and target boxes (when the trace
    has ``nose_x`` / ``nose_y`` and the params a nose box), the state timeline coloured by
    each step's result, up to three measurements recorded on several frames, over time,
    and the measurements of the deciding frame as text.
    """
    import pandas as pd

    plt = _plt()
    from matplotlib.patches import Rectangle

    df = verdict.trace.to_dataframe()
    params = session.params
    t0 = df["timestamp"].min() if len(df) else 0
    t = (df["timestamp"] - t0) / 1000.0 if len(df) else pd.Series([], dtype=float)
    has_nose = bool(len(df)) and {"nose_x", "nose_y"} <= set(df.columns) \
        and df["nose_x"].notna().any() and all(
            k in params for k in ("noseLeft", "noseTop", "noseWidth", "noseHeight",
                                  "imageWidth", "imageHeight"))
    numeric = _numeric_columns(df)
    series = sorted([(c, col) for c, col in numeric if col.notna().sum() >= 3],
                    key=lambda x: -int(x[1].notna().sum()))[:3]
    ncols = 2 + (1 if series else 0) + (1 if has_nose else 0)
    fig = plt.figure(figsize=(3.6 * ncols, 3.9))
    grid = fig.add_gridspec(max(1, len(series)), ncols)
    col0 = 0
    if has_nose:
        ax = fig.add_subplot(grid[:, 0])
        w, h = params["imageWidth"], params["imageHeight"]
        if all(k in params for k in ("areaLeft", "areaTop", "areaWidth", "areaHeight")):
            ax.add_patch(Rectangle((params["areaLeft"], params["areaTop"]), params["areaWidth"],
                                   params["areaHeight"], fill=False, color="#555", lw=1,
                                   label="area box"))
        ax.add_patch(Rectangle((params["noseLeft"], params["noseTop"]), params["noseWidth"],
                               params["noseHeight"], fill=True, alpha=0.35, color="tab:green",
                               label="nose target"))
        nx = pd.to_numeric(df["nose_x"], errors="coerce")
        ny = pd.to_numeric(df["nose_y"], errors="coerce")
        ok = nx.notna() & ny.notna()
        ax.plot(nx[ok], ny[ok], "-", color="tab:blue", lw=1, alpha=0.6)
        sc = ax.scatter(nx[ok], ny[ok], c=t[ok], cmap="viridis", s=14, zorder=3)
        cb = fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.02)
        cb.set_label("time (s)", fontsize=7)
        cb.ax.tick_params(labelsize=6)
        if {"face_left", "face_top", "face_right", "face_bottom"} <= set(df.columns):
            boxes = df[["face_left", "face_top", "face_right", "face_bottom"]].apply(
                pd.to_numeric, errors="coerce").dropna()
            for idx, style, label in ((0, ":", "first face box"),
                                      (len(boxes) - 1, "--", "last face box")):
                if len(boxes):
                    left, top, right, bottom = boxes.iloc[idx]
                    ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False,
                                           ls=style, color="tab:orange", lw=1, label=label))
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_aspect("equal")
        ax.set_title("nose path in the image (px)", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=5.5, loc="lower right")
        col0 = 1
    ax = fig.add_subplot(grid[:, col0])
    states = list(dict.fromkeys(df["state"].tolist())) if len(df) else []
    colors = {"continue": "#999", "next": "tab:blue", "success": "tab:green", "fail": "tab:red"}
    if len(df):
        y = df["state"].map({s: i for i, s in enumerate(states)})
        ax.step(t, y, where="post", color="#bbb", lw=1)
        ax.scatter(t, y, c=[colors.get(r, "k") for r in df["result"]], s=16, zorder=3)
    ax.set_yticks(range(len(states)))
    ax.set_yticklabels(states, fontsize=7)
    ax.set_ylim(-0.5, max(len(states), 1) - 0.5)
    ax.set_xlabel("time since first frame (s)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_title("state per frame (grey continue, blue next,\ngreen success, red fail)",
                 fontsize=7)
    for i, (name, col) in enumerate(series):
        axm = fig.add_subplot(grid[i, col0 + 1], sharex=ax)
        axm.plot(t, col, ".-", lw=1, ms=3)
        axm.set_title(name, fontsize=7, pad=2)
        axm.tick_params(labelsize=6)
        if i < len(series) - 1:
            axm.tick_params(labelbottom=False)
    axt = fig.add_subplot(grid[:, col0 + (2 if series else 1)])
    axt.set_axis_off()
    lines = [f"decision: {verdict.code}", f"after {verdict.frames_used} of "
             f"{verdict.frames_total} frames", ""]
    if len(df):
        last = df.iloc[-1]
        lines.append(f"deciding frame {int(last['frame_index'])}, state {last['state']}:")
        for c in df.columns:
            if c in ("frame_index", "timestamp", "state", "result", "code", "message"):
                continue
            v = last[c]
            if v is None or (isinstance(v, float) and pd.isna(v)):
                continue
            lines.append(f"  {c} = {_num(v) if not isinstance(v, bool) else v}")
    if verdict.score is not None:
        lines.append(f"score = {_num(verdict.score)}")
    axt.text(0, 1, "\n".join(lines[:22]), va="top", ha="left", fontsize=7, family="monospace")
    fig.suptitle(title or f"{session.id}: {verdict.reason}", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------
# sections

def _dataset_section(doc: _Doc, evals: Sequence[Evaluation], *, dataset_dir: Any,
                     fingerprint: str | None, split_label: str, calibration_label: str | None
                     ) -> None:
    doc.h(2, "Dataset")
    own = [ev for ev in evals if ev.dataset_dir is not None]
    items = [f"dataset: {dataset_dir}" if dataset_dir else "dataset: not given"] if not own \
        else [f"{ev.name}: dataset {ev.dataset_dir or dataset_dir}" for ev in evals]
    items += [f"data fingerprint (SHA-256 of manifest.csv and session files): "
              f"{fingerprint or 'not computed'}",
              f"reported split: {split_label}",
              "operating-point thresholds chosen on: "
              + (f"{calibration_label} (then applied unchanged to {split_label})"
                 if calibration_label else f"{split_label} itself (optimistic: no separate "
                                           "calibration split)")]
    doc.ul(items)
    for ev in (evals if own else evals[:1]):
        _dataset_counts(doc, ev, split_label, bool(own))


def _dataset_counts(doc: _Doc, ev: Evaluation, split_label: str, named: bool) -> None:
    import pandas as pd

    res = ev.results
    rows = []
    species = res["pai_species"].fillna("").astype(str).replace("", "bona fide")
    table = pd.crosstab(species, res["challenge_type"].astype(str))
    for sp in table.index:
        rows.append([sp] + [str(int(v)) for v in table.loc[sp]])
    rows.append([("total", None)] + [str(int(v)) for v in table.sum(axis=0)])
    doc.p(f"Sessions of the reported split ({split_label}) by challenge type and presentation"
          + (f" ({ev.name}'s dataset):" if named else ":"))
    doc.table(["presentation"] + [str(c) for c in table.columns], rows)
    if "subject_id" in res:
        n_subj = res["subject_id"].replace("", float("nan")).nunique()
        doc.p(f"{len(res)} sessions, {n_subj} subjects"
              + (f"; calibration split: {len(ev.calibration)} sessions"
                 if ev.calibration is not None else "") + ".")


def _ibeta_section(doc: _Doc, evals: Sequence[Evaluation],
                   metrics: Sequence[Mapping[str, Any]]) -> None:
    doc.h(2, "iBeta-style summary")
    doc.p("Pass criteria in the style of iBeta's ISO/IEC 30107-3 presentation attack detection "
          "tests: no attack of any species accepted (APCER target 0 %) and at most 15 % of bona "
          "fide presentations rejected (BPCER target <= 15 %). A reading aid on this dataset, "
          "not a certification: a lab's protocol fixes its own attack species, instruments and "
          "counts.", "note")
    for ev, m in zip(evals, metrics):
        for ctype, block in m["by_type"].items():
            rows = []
            all_ok = True
            for sp, v in block["species"].items():
                ok = v["accepted"] == 0
                all_ok &= ok
                rows.append([f"APCER {sp}", str(v["total"]), f"{v['accepted']} accepted",
                             _pct(v["apcer"]), "0 %", _status(ok)])
            b_ok = None if _nan(block["bpcer"]) else block["bpcer"] <= IBETA_BPCER_TARGET
            all_ok &= bool(b_ok)
            rows.append(["BPCER", str(block["n_bona_fide"]), f"{block['bpcer_rejected']} rejected",
                         _pct(block["bpcer"]), "<= 15 %", _status(b_ok)])
            verdict = "all criteria met" if all_ok else "criteria not met"
            doc.h(3, f"{ev.name} - {ctype}: {verdict}")
            doc.table(["criterion", "presentations", "errors", "rate", "target", "status"], rows)


def _metrics_rows(block: Mapping[str, Any]) -> list[list[Any]]:
    boot = block.get("bootstrap") or {}
    rows: list[list[Any]] = []
    for sp, v in block["species"].items():
        rows.append([f"APCER {sp}", _pct(v["apcer"]), _ci(v["ci"]) + " Wilson",
                     f"{v['accepted']}/{v['total']} attacks accepted"])
    worst = ", ".join(block["max_apcer_species"]) or "n/a"
    rows.append([("APCER (max over species, ISO/IEC 30107-3)", None), _pct(block["max_apcer"]),
                 (_ci(boot.get("max_apcer")) + " bootstrap") if boot else "n/a",
                 f"worst: {worst}"])
    rows.append([("BPCER", None), _pct(block["bpcer"]),
                 _ci(block["bpcer_ci"]) + " Wilson"
                 + (f"; {_ci(boot.get('bpcer'))} bootstrap" if boot else ""),
                 f"{block['bpcer_rejected']}/{block['n_bona_fide']} bona fide rejected"])
    rows.append(["ACER (OULU-NPU convention, not ISO)", _pct(block["acer"]),
                 (_ci(boot.get("acer")) + " bootstrap") if boot else "n/a",
                 "(APCER max + BPCER) / 2"])
    rows.append(["non-response rate", _pct(block["non_response_rate"]), "",
                 f"{block['non_responses']}/{block['n_sessions']} sessions without a decision "
                 "(counted as rejected above)"])
    if not _nan(block.get("eer")):
        rows.append(["EER (from scores)", _pct(block["eer"]), "", "where APCER = BPCER"])
    return rows


def _operating_rows(block: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for p in block["operating_points"]:
        fixed = f"APCER <= {_pct(p['target'], 0)}" if p["fixed"] == "apcer" \
            else f"BPCER <= {_pct(p['target'], 0)}"
        main = p["bpcer"] if p["fixed"] == "apcer" else p["apcer"]
        rows.append([p["name"], fixed, _num(p["threshold"]), _pct(p["apcer"]), _pct(p["bpcer"]),
                     _pct(main)])
    return rows


def _reasons_rows(results: Any) -> list[list[Any]]:
    df = results.copy()
    df["outcome"] = df["success"].map(lambda s: "accepted" if s else "rejected")
    if "decided" in df:
        df.loc[~df["decided"].astype(bool), "outcome"] = "no decision"
    g = df.groupby(["code", "outcome", "label"]).size().unstack("label", fill_value=0)
    for col in ("bona_fide", "attack"):
        if col not in g:
            g[col] = 0
    g["total"] = g["bona_fide"] + g["attack"]
    g = g.sort_values("total", ascending=False)
    example = df.groupby("code")["reason"].first()
    rows = []
    for (code, outcome), r in g.iterrows():
        cls = "notmet" if (outcome == "accepted" and r["attack"]) else None
        rows.append([(code, cls), outcome, str(int(r["bona_fide"])), str(int(r["attack"])),
                     str(example.get(code, ""))[:90]])
    return rows


def _worst_sessions(results: Any, n: int) -> list[tuple[str, Any]]:
    """Accepted attacks (highest score first) and rejected bona fide (lowest first)."""
    import numpy as np
    if n <= 0 or not len(results):
        return []
    scores = session_scores(results)
    df = results.assign(_s=scores)
    acc_att = df[(df["label"] == "attack") & df["success"].astype(bool)]
    acc_att = acc_att.assign(_k=-acc_att["_s"].fillna(np.inf)).sort_values(["_k", "session_id"])
    rej_bf = df[(df["label"] == "bona_fide") & ~df["success"].astype(bool)]
    rej_bf = rej_bf.assign(_k=rej_bf["_s"].fillna(-np.inf)).sort_values(["_k", "session_id"])
    half = max(1, n // 2)
    a, b = acc_att.head(half), rej_bf.head(half)
    if len(a) < half:
        b = rej_bf.head(n - len(a))
    elif len(b) < half:
        a = acc_att.head(n - len(b))
    return [("accepted attack", r) for _, r in a.iterrows()] + \
        [("rejected bona fide", r) for _, r in b.iterrows()]


def _worst_section(doc: _Doc, ev: Evaluation, ev_index: int, ctype: str, out: Path,
                   dataset_dir: Any, n_worst: int, images: list[Path]) -> None:
    part = ev.results[ev.results["challenge_type"].astype(str) == ctype]
    worst = _worst_sessions(part, n_worst)
    doc.h(3, f"{ev.name} - {ctype}")
    if not worst:
        doc.p("No attack was accepted and no bona fide presentation was rejected.")
        return
    doc.p("Accepted attacks with the highest scores and rejected bona fide presentations with "
          "the lowest (sessions without a score first), replayed with this configuration "
          "to plot their traces.", "note")
    doc.table(["kind", "session", "type", "species", "subject", "code", "score", "reason"],
              [[kind, r["session_id"], r["challenge_type"], r["pai_species"] or "-",
                r.get("subject_id", "") or "-", r["code"], _num(r.get("score")),
                str(r["reason"])[:100]] for kind, r in worst])
    if dataset_dir is None:
        doc.p("Traces not plotted: the report was built without the dataset directory.", "note")
        return
    from ..sessions import read_manifest
    entries = {e.session_id: e for e in read_manifest(dataset_dir)}
    try:
        configs = ev.configs()
    except ConfigError as e:
        doc.p(f"Traces not plotted: the configuration cannot be resolved here ({e}).", "note")
        return
    for kind, r in worst:
        entry = entries.get(str(r["session_id"]))
        if entry is None:
            doc.p(f"{r['session_id']}: not in the dataset's manifest; trace not plotted.", "note")
            continue
        verdict, session = _reverify(dataset_dir, entry, configs, ev.analyzer)
        name = f"trace-{ev_index}-{_slug(str(r['session_id']))}.png"
        plot_trace(verdict, session, out / name,
                   title=f"{ev.name} | {kind}: {session.id} ({session.pai_species or 'bona fide'})"
                         f" - {verdict.code}")
        images.append(out / name)
        doc.img(name, f"{kind} {session.id}: {verdict.reason}")


def _reverify(dataset_dir: Any, entry: Any, configs: Any, analyzer: str) -> tuple[Any, Any]:
    from ..sessions import load_dataset_session
    from ..verify import verify_session
    session = load_dataset_session(dataset_dir, entry)
    if any(fr.faces is None for fr in session.frames):
        from .replay import ReplaySpec, _worker_analyzed
        session = _worker_analyzed(session, ReplaySpec(analyzer=analyzer))
    return verify_session(session, configs=configs), session


def _config_section(doc: _Doc, evals: Sequence[Evaluation], *, code_version: str | None,
                    fingerprint: str | None, extra: Mapping[str, Any]) -> None:
    doc.h(2, "Exact configuration")
    doc.ul([f"code version: {code_version or 'unknown'}",
            f"data fingerprint: {fingerprint or 'not computed'}"]
           + [f"{k}: {v}" for k, v in extra.items()])
    flats = []
    for ev in evals:
        try:
            flats.append(ev.configs().flat())
        except ConfigError as e:  # e.g. a profile that is not registered here: say so
            flats.append({"(configuration)": f"cannot be resolved here: {e}"})
    for ev in evals:
        desc = [f"profile: {ev.profile or 'seed (default)'}"]
        if ev.sets:
            desc.append("--set " + " --set ".join(ev.sets))
        if ev.overrides:
            desc.append("overrides: " + ", ".join(f"{t}.{k}={v}" for t, kv in ev.overrides.items()
                                                  for k, v in kv.items()))
        doc.p(f"{ev.name}: " + "; ".join(desc))
    keys = sorted(set().union(*[f.keys() for f in flats]))
    doc.table(["key"] + [ev.name for ev in evals],
              [[k] + [_num(f.get(k)) if not isinstance(f.get(k), str) else f.get(k)
                      for f in flats] for k in keys])


def _definitions(doc: _Doc, confidence: float, n_bootstrap: int) -> None:
    c = f"{100 * confidence:g} %"
    doc.h(2, "Definitions")
    doc.ul([
        "APCER (per PAI species): proportion of that species' attack presentations accepted. "
        "The overall APCER is the maximum over species (ISO/IEC 30107-3).",
        "BPCER: proportion of bona fide presentations rejected.",
        "ACER: (APCER max + BPCER) / 2, the OULU-NPU benchmark's convention; ISO/IEC 30107-3 "
        "does not define it.",
        "Non-response: a session whose frames ran out before the challenge decided. It counts "
        "as rejected in APCER and BPCER (as the original framework answered false) and is "
        "reported separately.",
        f"Intervals: {c} Wilson score intervals for single proportions; for the headline "
        + (f"numbers a percentile bootstrap ({n_bootstrap} resamples) that resamples subjects "
           "with all their sessions (a session without a subject id is its own group)."
           if n_bootstrap else "numbers no bootstrap was run."),
        "Scores: higher = more live; a presentation is accepted when score >= threshold. A "
        "session without a score is rejected at every threshold unless the challenge accepted "
        "it, in which case it is accepted at every threshold. With several species the APCER "
        "at a threshold is the maximum over species.",
        "Operating points: BPCER100 / BPCER20 / BPCER10 = BPCER at APCER <= 1 % / 5 % / 10 %; "
        "the threshold is the smallest meeting the APCER target on the calibration split; "
        "APCER@BPCERx uses the largest threshold meeting the BPCER target; both are applied "
        "unchanged to the reported split.",
        "DET curve: BPCER against APCER over every threshold, normal-deviate axes.",
    ])


# --------------------------------------------------------------------------------------------

def build_report(evaluations: Evaluation | Sequence[Evaluation], out_dir: str | os.PathLike, *,
                 title: str = "liveness-lab accuracy report",
                 dataset_dir: str | os.PathLike | None = None,
                 dataset_fingerprint: str | None = None, code_version: str | None = None,
                 split_label: str = "test", calibration_label: str | None = "dev",
                 notes: Iterable[str] = (),
                 extra_config: Mapping[str, Any] | None = None,
                 extra_tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
                 n_worst: int = 4, n_bootstrap: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> ReportFiles:
    """Write ``report.html``, ``report.md`` and PNG plots into ``out_dir``.

    Parameters
    ----------
    evaluations:
        One :class:`Evaluation` or several (compared side by side).
    out_dir:
        Output directory (created; a previous report's files there are replaced, its
        ``det-*.png`` and ``trace-*.png`` plots removed).
    dataset_dir:
        The dataset, to re-verify the worst sessions and plot their traces (optional).
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

    Returns
    -------
    ReportFiles
    """
    from ..sessions import atomic_write_text

    evals = [evaluations] if isinstance(evaluations, Evaluation) else list(evaluations)
    if not evals:
        raise ValueError("build_report needs at least one evaluation")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("det-*.png"), *out.glob("trace-*.png")]:
        old.unlink()  # plots of a previous report in this folder
    metrics = [ev.metrics if ev.metrics is not None else
               compute_metrics(ev.results, calibration=ev.calibration, n_bootstrap=n_bootstrap,
                               confidence=confidence, seed=seed) for ev in evals]
    images: list[Path] = []
    doc = _Doc()
    doc.h(1, title)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc.p(f"Generated {now} by liveness-lab {code_version or ''}; data fingerprint "
          f"{dataset_fingerprint or 'not computed'}; reported split: {split_label}.", "note")
    for n in notes:
        doc.p(n)

    # headline comparison
    doc.h(2, "Summary")
    rows = []
    for ev, m in zip(evals, metrics):
        for ctype, b in list(m["by_type"].items()):
            boot = b.get("bootstrap") or {}
            ok = all(v["accepted"] == 0 for v in b["species"].values()) and \
                not _nan(b["bpcer"]) and b["bpcer"] <= IBETA_BPCER_TARGET
            rows.append([ev.name, ctype, str(b["n_bona_fide"]), str(b["n_attack"]),
                         f"{_pct(b['max_apcer'])} {_ci(boot.get('max_apcer'))}",
                         f"{_pct(b['bpcer'])} {_ci(boot.get('bpcer') or b['bpcer_ci'])}",
                         f"{_pct(b['acer'])} {_ci(boot.get('acer'))}",
                         _pct(b["non_response_rate"]), _status(ok)])
    doc.table(["configuration", "type", "bona fide", "attacks", "APCER max", "BPCER",
               "ACER (OULU-NPU)", "non-response", "iBeta-style criteria"], rows)
    doc.p(f"Brackets: {100 * confidence:g} % subject-grouped bootstrap intervals (Wilson for "
          "BPCER when no bootstrap was run).", "note")

    _ibeta_section(doc, evals, metrics)
    _dataset_section(doc, evals, dataset_dir=dataset_dir, fingerprint=dataset_fingerprint,
                     split_label=split_label, calibration_label=calibration_label
                     if any(ev.calibration is not None for ev in evals) else None)

    types = sorted({t for m in metrics for t in m["by_type"]})
    for ctype in types:
        doc.h(2, f"{ctype}: error rates")
        for ev, m in zip(evals, metrics):
            block = m["by_type"].get(ctype)
            if block is None:
                continue
            doc.h(3, f"{ev.name} - {ctype}")
            doc.table(["metric", "value", f"{100 * confidence:g} % interval", "counts"],
                      _metrics_rows(block))
            if block["operating_points"]:
                src = "the calibration split" if ev.calibration is not None \
                    else "the reported split itself (optimistic)"
                doc.p(f"Operating points from scores; thresholds chosen on {src}, applied "
                      f"unchanged to the reported split:", "note")
                doc.table(["operating point", "constraint", "threshold", "APCER", "BPCER",
                           "value"], _operating_rows(block))
            elif not block["has_scores"]:
                doc.p(f"{ctype} reports no scores: no DET curve or score operating points; the "
                      "rates above are the challenge's own decisions.", "note")
        name = f"det-{_slug(ctype)}.png"
        if _det_figure(evals, metrics, ctype, out / name):
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
                      _reasons_rows(part))

    doc.h(2, "Worst sessions")
    for i, ev in enumerate(evals):
        for ctype in types:
            _worst_section(doc, ev, i, ctype, out, ev.dataset_dir or dataset_dir, n_worst,
                           images)

    for heading, headers, rows_ in extra_tables:
        doc.h(2, heading)
        doc.table(headers, rows_)

    _config_section(doc, evals, code_version=code_version, fingerprint=dataset_fingerprint,
                    extra=dict(extra_config or {}))
    _definitions(doc, confidence, n_bootstrap)

    html_path, md_path = out / "report.html", out / "report.md"
    atomic_write_text(html_path, doc.to_html(title))
    atomic_write_text(md_path, doc.to_markdown())
    return ReportFiles(out, html_path, md_path, tuple(images),
                       {ev.name: m for ev, m in zip(evals, metrics)})
