"""The report's plots: DET curves per challenge type, and per-session traces.

matplotlib (Agg backend) is imported when a plot is drawn, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from .document import num

__all__ = ["det_figure", "plot_trace"]

def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def det_figure(evals: Sequence[Any], metrics: Sequence[Any], ctype: str, path: Path) -> bool:
    """Draw the DET curves of ``ctype`` for every evaluation into ``path``; False if none.

    Per evaluation: the pooled-attack curve (the EER's), the max-over-species curve and,
    for a single evaluation, each species dashed; the challenge's own decisions and the
    BPCER20 threshold chosen on the calibration split as points.
    """
    import numpy as np

    from ..aggregate import split_scores
    from ..curves import det_curve, plot_det

    curves: dict[str, tuple[Any, Any]] = {}
    points: dict[str, tuple[float, float]] = {}
    dashed: list[str] = []
    for ev, m in zip(evals, metrics):
        block = m.by_type.get(ctype)
        if block is None or not block.has_scores or not block.n_bona_fide \
                or not block.n_attack:
            continue
        part = ev.results[ev.results["challenge_type"].astype(str) == ctype]
        _, bf, at = split_scores(part)
        prefix = f"{ev.name}: " if len(evals) > 1 else ""
        _, a, b = det_curve(bf, np.concatenate(list(at.values())))
        curves[f"{prefix}all attacks pooled"] = (a, b)
        if len(at) > 1:
            _, a, b = det_curve(bf, at)
            curves[f"{prefix}max over species"] = (a, b)
        if len(evals) == 1 and len(at) > 1:
            for sp, scores in at.items():
                _, a, b = det_curve(bf, scores)
                curves[sp] = (a, b)
                dashed.append(sp)
        points[f"{prefix}challenge decisions"] = (block.max_apcer, block.bpcer)
        p = block.point("apcer", 0.05)
        if p is not None:
            where = "dev" if p.calibrated_on == "calibration" else "same data"
            points[f"{prefix}BPCER20 threshold from {where}"] = (p.apcer, p.bpcer)
    if not curves:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    plot_det(curves, ax=ax, points=points, title=f"DET curve - {ctype} (score: higher = more live)")
    for ln in ax.get_lines():
        if ln.get_label() in dashed:
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
            lines.append(f"  {c} = {num(v) if not isinstance(v, bool) else v}")
    if verdict.score is not None:
        lines.append(f"score = {num(verdict.score)}")
    axt.text(0, 1, "\n".join(lines[:22]), va="top", ha="left", fontsize=7, family="monospace")
    fig.suptitle(title or f"{session.id}: {verdict.reason}", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


