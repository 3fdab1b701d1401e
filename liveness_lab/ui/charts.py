"""Altair charts of the studio (Altair ships with Streamlit), every axis labelled with its unit.

Inputs are the tables of :mod:`liveness_lab.ui.tracks` (face track, trace) and
of :mod:`liveness_lab.ui.evaluation_data` (rate curves). Each function returns
an Altair chart, or ``None`` when the data has nothing to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import altair as alt
    import pandas as pd

__all__ = ["nose_path_chart", "nose_vs_target_chart", "head_pose_chart", "attributes_chart",
           "state_timeline_chart", "rates_chart", "species_chart", "runs_chart", "RESULT_COLORS"]

#: Colours of the step results in state timelines.
RESULT_COLORS = {"continue": "#94a3b8", "next": "#2563eb", "success": "#16a34a",
                 "fail": "#dc2626"}
_NOSE_KEYS = ("noseLeft", "noseTop", "noseWidth", "noseHeight", "imageWidth", "imageHeight")


def _has(df: "pd.DataFrame", *cols: str) -> bool:
    return len(df) > 0 and all(c in df.columns and df[c].notna().any() for c in cols)


def _rect(x: float, y: float, w: float, h: float, label: str) -> dict[str, Any]:
    return {"x": x, "x2": x + w, "y": y, "y2": y + h, "box": label}


def _grown(lo: float, size: float, tolerance: float | None) -> tuple[float, float]:
    grow = size * (tolerance or 0.0)
    return lo - grow, size + 2 * grow


def nose_path_chart(track: "pd.DataFrame", params: Mapping[str, Any], *,
                    tolerance: float | None = None, mirror: bool = False
                    ) -> "alt.Chart | None":
    """The nose tip's path in the image (pixels, y down) over the area box and the target.

    ``tolerance`` (NOSE's ``nose_box_tolerance``) adds the grown target in which the
    nose counts as on target. ``mirror`` draws x reversed, as the mirrored camera
    preview showed it (the target on the same side as during the capture).
    """
    import altair as alt
    import pandas as pd

    if not _has(track, "nose_x", "nose_y") or not all(k in params for k in _NOSE_KEYS):
        return None
    w, h = params["imageWidth"], params["imageHeight"]
    boxes = []
    if all(k in params for k in ("areaLeft", "areaTop", "areaWidth", "areaHeight")):
        boxes.append(_rect(params["areaLeft"], params["areaTop"], params["areaWidth"],
                           params["areaHeight"], "face area"))
    if tolerance:
        gx, gw = _grown(params["noseLeft"], params["noseWidth"], tolerance)
        gy, gh = _grown(params["noseTop"], params["noseHeight"], tolerance)
        boxes.append(_rect(gx, gy, gw, gh, "on target (with tolerance)"))
    boxes.append(_rect(params["noseLeft"], params["noseTop"], params["noseWidth"],
                       params["noseHeight"], "nose target"))
    x = alt.X("x:Q", scale=alt.Scale(domain=[w, 0] if mirror else [0, w]),
              title="x (px, mirrored as in the preview)" if mirror else "x (px, image)")
    y = alt.Y("y:Q", scale=alt.Scale(domain=[h, 0]), title="y (px, image)")
    box_layer = alt.Chart(pd.DataFrame(boxes)).mark_rect(opacity=0.3, stroke="black").encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q",
        color=alt.Color("box:N", scale=alt.Scale(
            domain=["face area", "on target (with tolerance)", "nose target"],
            range=["#cbd5e1", "#fef08a", "#eab308"]), legend=alt.Legend(title="box")))
    pts = track.dropna(subset=["nose_x", "nose_y"]).rename(columns={"nose_x": "x",
                                                                    "nose_y": "y"})
    path = alt.Chart(pts).mark_line(color="#64748b", strokeWidth=1).encode(x=x, y=y,
                                                                           order="t_s:Q")
    dots = alt.Chart(pts).mark_circle(size=45).encode(
        x=x, y=y, color=alt.Color("t_s:Q", title="time (s)", scale=alt.Scale(scheme="viridis")),
        tooltip=[alt.Tooltip("frame_index:Q", title="frame"), alt.Tooltip("t_s:Q", format=".2f"),
                 alt.Tooltip("x:Q", format=".1f"), alt.Tooltip("y:Q", format=".1f")])
    return (box_layer + path + dots).resolve_scale(color="independent").properties(
        title="Nose tip in the image", height=320)


def nose_vs_target_chart(track: "pd.DataFrame", params: Mapping[str, Any], *,
                         tolerance: float | None = None) -> "alt.VConcatChart | None":
    """Nose x and y over time, each against the target box's extent (a shaded band).

    ``tolerance`` adds a lighter band: the target grown by ``nose_box_tolerance``.
    """
    import altair as alt
    import pandas as pd

    if not _has(track, "nose_x", "nose_y") or not all(k in params for k in _NOSE_KEYS):
        return None
    charts = []
    t_max = float(track["t_s"].max()) if len(track) else 1.0
    for col, lo, size, title in (("nose_x", params["noseLeft"], params["noseWidth"], "nose x (px)"),
                                 ("nose_y", params["noseTop"], params["noseHeight"],
                                  "nose y (px)")):
        bands = []
        if tolerance:
            glo, gsize = _grown(lo, size, tolerance)
            bands.append({"t0": 0.0, "t1": max(t_max, 0.1), "lo": glo, "hi": glo + gsize,
                          "band": "on target (with tolerance)"})
        bands.append({"t0": 0.0, "t1": max(t_max, 0.1), "lo": lo, "hi": lo + size,
                      "band": "nose target"})
        band = alt.Chart(pd.DataFrame(bands)).mark_rect(opacity=0.45).encode(
            x="t0:Q", x2="t1:Q", y="lo:Q", y2="hi:Q",
            color=alt.Color("band:N", scale=alt.Scale(
                domain=["on target (with tolerance)", "nose target"],
                range=["#fef08a", "#eab308"]), legend=alt.Legend(title="target")))
        line = alt.Chart(track.dropna(subset=[col])).mark_line(point=True).encode(
            x=alt.X("t_s:Q", title="time since first frame (s)"),
            y=alt.Y(f"{col}:Q", title=title, scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("frame_index:Q", title="frame"),
                     alt.Tooltip(f"{col}:Q", format=".1f")])
        charts.append((band + line).properties(height=150))
    return alt.vconcat(*charts).properties(
        title="Nose position against the target box")


def head_pose_chart(track: "pd.DataFrame", *, rotation_threshold: float | None = None
                    ) -> "alt.LayerChart | None":
    """Yaw, pitch and roll over time (degrees), with the NOSE rotation threshold as dashed rules."""
    import altair as alt
    import pandas as pd

    cols = [c for c in ("yaw", "pitch", "roll") if c in track.columns and track[c].notna().any()]
    if not cols:
        return None
    long = track.melt(id_vars=["t_s", "frame_index"], value_vars=cols, var_name="angle",
                      value_name="degrees").dropna(subset=["degrees"])
    chart = alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=20)).encode(
        x=alt.X("t_s:Q", title="time since first frame (s)"),
        y=alt.Y("degrees:Q", title="angle (degrees)"),
        color=alt.Color("angle:N", title="head pose",
                        scale=alt.Scale(domain=["yaw", "pitch", "roll"],
                                        range=["#2563eb", "#16a34a", "#f97316"])),
        tooltip=["angle:N", alt.Tooltip("degrees:Q", format=".1f"),
                 alt.Tooltip("frame_index:Q", title="frame")])
    if rotation_threshold is not None:
        rules = alt.Chart(pd.DataFrame({"y": [rotation_threshold, -rotation_threshold]})).mark_rule(
            strokeDash=[4, 4], color="#94a3b8").encode(y="y:Q")
        chart = chart + rules
    return chart.properties(title="Head pose (yaw > 0: nose toward the image's right)",
                            height=220)


def attributes_chart(track: "pd.DataFrame") -> "alt.Chart | None":
    """Eyes open, mouth open and smile over time, as probabilities that each is true."""
    import altair as alt

    names = {"eyes_open": "eyes open", "mouth_open": "mouth open", "smile": "smile",
             "left_pupil": "left pupil position", "right_pupil": "right pupil position"}
    cols = [c for c in names if c in track.columns and track[c].notna().any()]
    if not cols:
        return None
    palette = dict(zip(names.values(), ["#2563eb", "#dc2626", "#f59e0b", "#10b981", "#8b5cf6"]))
    shown = [names[c] for c in cols]
    long = track.melt(id_vars=["t_s", "frame_index"], value_vars=cols, var_name="measure",
                      value_name="value").dropna(subset=["value"])
    long["measure"] = long["measure"].map(names)
    return alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=20)).encode(
        x=alt.X("t_s:Q", title="time since first frame (s)"),
        y=alt.Y("value:Q", title="probability true / pupil position (0..1)",
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure:N", title="series",
                        scale=alt.Scale(domain=shown, range=[palette[n] for n in shown]),
                        legend=alt.Legend(orient="bottom", columns=3, labelLimit=200)),
        tooltip=["measure:N", alt.Tooltip("value:Q", format=".2f"),
                 alt.Tooltip("frame_index:Q", title="frame")]).properties(
        title=alt.TitleParams("Eyes and mouth", subtitle="pupil position: 0 at the "
                              "image-left eye corner, 1 at the image-right one"), height=260)


def state_timeline_chart(trace: "pd.DataFrame") -> "alt.LayerChart | None":
    """The state the challenge was in at each frame, coloured by the step's result."""
    import altair as alt

    if not len(trace) or "state" not in trace.columns:
        return None
    order = list(dict.fromkeys(trace["state"].astype(str)))
    # only the columns drawn: the trace's other columns (the type's per-frame records) would
    # be sanitized and sent with the chart for nothing (ten times the cost of the chart)
    used = [c for c in ("frame_index", "t_s", "state", "result", "code", "message")
            if c in trace.columns]
    data = trace[used].assign(state=trace["state"].astype(str))
    y = alt.Y("state:N", sort=order, title="state")
    x = alt.X("t_s:Q", title="time since first frame (s)")
    line = alt.Chart(data).mark_line(interpolate="step-after", color="#cbd5e1").encode(x=x, y=y)
    dots = alt.Chart(data).mark_circle(size=70).encode(
        x=x, y=y,
        color=alt.Color("result:N", title="step result",
                        scale=alt.Scale(domain=list(RESULT_COLORS),
                                        range=list(RESULT_COLORS.values()))),
        tooltip=[alt.Tooltip("frame_index:Q", title="frame"), "state:N", "result:N", "code:N",
                 "message:N"])
    return (line + dots).properties(title="State timeline", height=alt.Step(40))


def rates_chart(curve: "pd.DataFrame", threshold: float | None = None
                ) -> "alt.LayerChart | None":
    """APCER and BPCER against the decision threshold (accept when score >= threshold)."""
    import altair as alt
    import pandas as pd

    if not len(curve):
        return None
    long = curve.melt(id_vars=["threshold"], value_vars=["apcer", "bpcer"], var_name="rate",
                      value_name="value")
    long["rate"] = long["rate"].map({"apcer": "APCER (attacks accepted)",
                                     "bpcer": "BPCER (bona fide rejected)"})
    chart = alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("threshold:Q", title="score threshold"),
        y=alt.Y("value:Q", title="error rate", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("rate:N", title=None,
                        scale=alt.Scale(range=["#dc2626", "#2563eb"])),
        tooltip=["rate:N", alt.Tooltip("threshold:Q", format=".4f"),
                 alt.Tooltip("value:Q", format=".1%")])
    if threshold is not None:
        chart = chart + alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(
            color="black", strokeDash=[5, 3]).encode(x="threshold:Q")
    return chart.properties(title="Error rates against the score threshold", height=260)


def species_chart(per_species: Mapping[str, float]) -> "alt.Chart | None":
    """APCER per PAI species (bars), as percentages."""
    import altair as alt
    import pandas as pd

    rows = [{"species": k, "apcer": v} for k, v in per_species.items() if v == v]
    if not rows:
        return None
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("apcer:Q", title="APCER (attacks of the species accepted)",
                axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("species:N", title="PAI species", sort="-x"),
        tooltip=["species:N", alt.Tooltip("apcer:Q", format=".1%")])
    # a 0 % bar has no width: the value is written next to every bar, zeros included
    labels = base.mark_text(align="left", dx=4, color="#0f172a").encode(
        text=alt.Text("apcer:Q", format=".1%"))
    return (base.mark_bar(color="#dc2626") + labels).properties(
        title="APCER per species", height=alt.Step(24))


def runs_chart(table: "pd.DataFrame") -> "alt.Chart | None":
    """Grouped bars of the overall APCER, BPCER and ACER of runs (a comparison table's rows).

    ``table`` has one row per metric (``SPLIT.max_apcer``...) and one column per run.
    """
    import altair as alt

    wanted = [i for i in table.index if i.count(".") == 1
              and i.split(".")[-1] in ("max_apcer", "bpcer", "acer")]
    if not wanted:
        return None
    long = table.loc[wanted].reset_index(names="metric").melt(
        id_vars="metric", var_name="run", value_name="value").dropna()
    if not len(long):
        return None
    long["metric"] = long["metric"].str.split(".").str[-1].map(
        {"max_apcer": "APCER (max)", "bpcer": "BPCER", "acer": "ACER"})
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("value:Q", title="error rate", axis=alt.Axis(format="%")),
        y=alt.Y("metric:N", title=None, sort=["APCER (max)", "BPCER", "ACER"]),
        yOffset=alt.YOffset("run:N"),
        color=alt.Color("run:N", title="run", legend=alt.Legend(orient="bottom", columns=2)),
        tooltip=["run:N", "metric:N", alt.Tooltip("value:Q", format=".1%")]).properties(
        title="Headline error rates by run", height=alt.Step(14))
