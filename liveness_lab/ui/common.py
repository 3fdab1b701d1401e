"""Streamlit pieces shared by the pages: settings, the service link, the verdict badge, traces.

State lives in ``st.session_state`` (per browser session); the in-process
challenge service is a resource shared by the sessions of one Streamlit server
process (``st.cache_resource``).
"""

from __future__ import annotations

import atexit
import html
from typing import Any, Callable, Mapping, MutableMapping, Sequence

import streamlit as st

from .service_link import InProcessService, ServiceLink, app_origins, in_process_settings
from .settings import AppSettings, get_app_settings

__all__ = ["app_settings", "service_link", "service_sidebar", "verdict_badge", "verdict_label", "trace_section",
           "history", "remember_challenge", "page_header", "error_box", "profile_banner"]

HISTORY_KEY = "studio.history"


def app_settings() -> AppSettings:
    """The app's settings (``LIVENESS_APP_*``), read once per browser session."""
    if "studio.settings" not in st.session_state:
        st.session_state["studio.settings"] = get_app_settings()
    return st.session_state["studio.settings"]


@st.cache_resource(show_spinner="Starting the challenge service (loading the face models)…")
def _in_process_service(origins: tuple[str, ...], profile: str | None = None
                        ) -> InProcessService:
    overrides = {"profile": profile} if profile else {}
    svc = InProcessService(in_process_settings(origins, **overrides)).start()
    atexit.register(svc.stop)
    return svc


def service_link() -> ServiceLink:
    """The challenge service: the remote one named by the settings, or the in-process one.

    The in-process service is started on first use, once per Streamlit server process,
    with CORS allowing the app's origins (``server.port``, ``server.address``).
    """
    settings = app_settings()
    if settings.service_url:
        return ServiceLink(settings.service_url, None, settings.api_key)
    port = int(st.get_option("server.port") or 8501)
    address = st.get_option("server.address") or ""
    origins = app_origins(port, [address])
    from ..errors import ConfigError
    try:
        svc = _in_process_service(origins, settings.profile) if settings.profile \
            else _in_process_service(origins)
    except ConfigError as e:
        # e.g. a profile whose checks need evidence the analyzer never gives: say which
        # check and the fix, instead of a traceback (st.cache_resource does not cache it)
        st.error("The challenge service cannot start with these settings.",
                 icon=":material/block:")
        st.code(str(e), language=None)
        st.stop()
    return ServiceLink(svc.url, svc)


def service_sidebar(link: ServiceLink) -> None:
    """The sidebar block naming the challenge service, its health and its mode."""
    with st.sidebar:
        st.markdown("**Challenge service**")
        health = link.health()
        ok = health.get("status") == "ok"
        st.markdown(f"{':green' if ok else ':red'}[{'●'}] `{link.url}` ({link.mode})")
        if not ok:
            st.caption("; ".join(health.get("problems") or []) or health.get("status", ""))
        else:
            st.caption(f"analyzer {health.get('analyzer')}, "
                       f"{health.get('pendingAnalyses', 0)} analyses pending")
        svc = link.challenge_service
        if svc is not None and svc.settings.test_seed is not None:
            st.warning(f"TEST SEED {svc.settings.test_seed}: challenge params are predictable. "
                       "Never use this setting in production.", icon=":material/science:")


def page_header(title: str, intro: str) -> None:
    """The page's title and a one-paragraph introduction."""
    st.title(title)
    st.caption(intro)


def error_box(message: str, *, hint: str | None = None) -> None:
    """An error with an optional next step."""
    st.error(message + (f"\n\n{hint}" if hint else ""), icon=":material/error:")


def verdict_label(verdict: Mapping[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``NO DECISION``."""
    if verdict.get("success"):
        return "PASS"
    return "FAIL" if verdict.get("decided", True) else "NO DECISION"


_BADGE_COLORS = {"PASS": ("#15803d", "#dcfce7"), "FAIL": ("#b91c1c", "#fee2e2"),
                 "NO DECISION": ("#b45309", "#fef3c7")}


def verdict_badge(verdict: Mapping[str, Any], *, title: str | None = None,
                  t0_ms: int | None = None, technical: bool = True) -> None:
    """The verdict as a big pass / fail badge: a plain headline and what to do next.

    The code and the verifier's reason (epoch times as seconds since ``t0_ms``)
    are one click away, in a "Technical details" expander (``technical=False``
    leaves it out, e.g. for a second badge next to the first).
    """
    from .plain_words import explain

    plain = explain(verdict, t0_ms=t0_ms)
    label = plain.label
    fg, bg = _BADGE_COLORS[label]
    icon = {"PASS": "✔", "FAIL": "✘", "NO DECISION": "?"}[label]
    heading = f'<div style="font-size:0.9rem;color:#475569">{html.escape(title)}</div>' \
        if title else ""
    st.html(
        f'<div data-testid="ll-verdict" data-verdict="{label}" '
        f'data-code="{html.escape(plain.code)}" style="display:flex;flex-wrap:wrap;'
        f'align-items:center;gap:8px 18px;padding:14px 18px;border-radius:12px;background:{bg};'
        f'border:2px solid {fg};margin:6px 0 12px 0">'
        f'<div style="font-size:2.2rem;font-weight:800;color:{fg};line-height:1;'
        f'white-space:nowrap">{icon} {label}</div>'
        f'<div style="min-width:0;flex:1 1 220px">{heading}'
        f'<div data-testid="ll-headline" style="font-size:1.2rem;font-weight:700;'
        f'color:#0f172a">{html.escape(plain.headline)}</div>'
        f'<div data-testid="ll-next-step" style="font-size:1rem;color:#1e293b">'
        f'{html.escape(plain.next_step)}</div></div></div>')
    if technical:
        with st.expander("Technical details", icon=":material/code:"):
            st.markdown(f"code `{plain.code or 'none'}`")
            st.text(plain.technical or "(no reason given)")


def profile_banner(link: Any, *, key: str = "profile") -> str | None:
    """The challenge profile in use, shown prominently (``None``: a remote service's choice).

    In-process: the service's configuration profile, which comes from
    ``LIVENESS_APP_PROFILE``, ``LIVENESS_PROFILE`` or the service's default
    (:func:`liveness_lab.ui.offered.default_live_profile`), in that order.
    """
    from .offered import default_live_profile

    profile = None
    svc = getattr(link, "challenge_service", None)
    if svc is not None:
        profile = svc.configs.profile
    else:
        profile = link.health().get("profile")
    default = default_live_profile()
    if profile is None:
        st.info("Profile: chosen by the remote service (shown with each verdict).",
                icon=":material/shield:")
        return None
    from ..config import get_profile
    from ..errors import ConfigError

    try:
        note = get_profile(profile).description
    except ConfigError:  # a profile only the remote service knows
        note = ""
    tail = " (the service's default)" if profile == default else ""
    text = f"**Profile `{profile}`**{tail}" + (f": {note.rstrip('. ')}" if note else "")
    if profile == "seed":
        st.warning(text + ". Set `LIVENESS_APP_PROFILE` to use another.",
                   icon=":material/shield:")
    else:
        st.success(text, icon=":material/shield:")
    return profile


#: The tabs of :func:`trace_section` that show the face track (what the analyzer saw), and
#: those that show what the verifier did with it.
TRACK_TABS = ("Nose vs target", "Head pose", "Eyes and mouth")
VERIFIER_TABS = ("States", "Trace table")


def trace_section(trace: Any, track: Any, params: Mapping[str, Any], *,
                  challenge_type: str, config: Mapping[str, Any] | None = None,
                  key: str = "trace", mirror: bool = False,
                  memo: MutableMapping[Any, Any] | None = None,
                  tabs: Sequence[str] | None = None) -> None:
    """The landmark traces: nose vs target, head pose, eyes and mouth, states, the table.

    Parameters
    ----------
    trace:
        :func:`liveness_lab.ui.tracks.trace_table` output.
    track:
        :func:`liveness_lab.ui.tracks.face_track` output (may be empty).
    params:
        The challenge params (boxes of NOSE).
    config:
        The type's thresholds (``nose_box_tolerance``, ``rotation_threshold``) to draw.
    mirror:
        Draw the nose path mirrored, as the (mirrored) camera preview showed it.
    memo:
        A cache owned by the caller for *one* ``track`` and ``params`` (the explorer keeps
        one per open session): the face-track charts are built once per threshold they
        draw and kept as Vega-Lite specs, so a redraw re-sends the same spec instead of
        rebuilding and validating the Altair chart. The state chart and the table follow
        ``trace`` and are always drawn from it.
    tabs:
        Only these tabs (:data:`TRACK_TABS`, :data:`VERIFIER_TABS`), in the usual order;
        ``None``: all of them.
    """
    from . import charts

    config = config or {}
    tolerance = config.get("nose_box_tolerance")
    rotation = config.get("rotation_threshold")
    order = [t for t in tab_order(challenge_type, params) if tabs is None or t in tabs]
    shown = dict(zip(order, st.tabs(order)))
    if "Nose vs target" in shown:
        with shown["Nose vs target"]:
            path = _chart(memo, ("nose_path", tolerance, mirror),
                          lambda: charts.nose_path_chart(track, params, tolerance=tolerance,
                                                         mirror=mirror))
            xy = _chart(memo, ("nose_xy", tolerance),
                        lambda: charts.nose_vs_target_chart(track, params, tolerance=tolerance))
            if path is None and xy is None:
                st.info(f"No nose positions to plot ({challenge_type} has no nose target, or no "
                        "face was analyzed).")
            else:
                if path is not None:
                    _show_chart(path)
                if xy is not None:
                    _show_chart(xy)
    if "Head pose" in shown:
        with shown["Head pose"]:
            chart = _chart(memo, ("pose", rotation),
                           lambda: charts.head_pose_chart(track, rotation_threshold=rotation))
            if chart is None:
                st.info("No head pose in the analyzed frames.")
            else:
                _show_chart(chart)
    if "Eyes and mouth" in shown:
        with shown["Eyes and mouth"]:
            chart = _chart(memo, ("attributes",), lambda: charts.attributes_chart(track))
            if chart is None:
                st.info("No eyes or mouth estimates in the analyzed frames (the 5-point local "
                        "analyzer does not estimate them).")
            else:
                _show_chart(chart)
    if "States" in shown:
        with shown["States"]:
            chart = charts.state_timeline_chart(trace)
            if chart is None:
                st.info("The verifier saw no frame.")
            else:
                _show_chart(chart if memo is None else _spec(chart))
                from .tracks import state_summary
                st.dataframe(state_summary(trace), hide_index=True, width="stretch")
    if "Trace table" in shown:
        with shown["Trace table"]:
            st.dataframe(display_trace(trace), hide_index=True, width="stretch",
                         key=f"{key}-table")


def _chart(memo: MutableMapping[Any, Any] | None, key: Any, build: Callable[[], Any]) -> Any:
    """``build()`` (an Altair chart or ``None``); with a ``memo``, its Vega-Lite spec, built once."""
    if memo is None:
        return build()
    if key not in memo:
        chart = build()
        memo[key] = None if chart is None else _spec(chart)
    return memo[key]


def _spec(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec of an Altair chart of :mod:`liveness_lab.ui.charts`.

    Converted as ``st.altair_chart`` does (Altair's "none" theme: no default view size), but
    without re-validating the spec against the Vega-Lite schema on every redraw (the chart
    builders' output is validated by their tests).
    """
    import altair as alt

    with alt.theme.enable("none"):
        return chart.to_dict(validate=False)


def _show_chart(chart: Any) -> None:
    if isinstance(chart, Mapping):
        st.vega_lite_chart(spec=dict(chart), width="stretch")
    else:
        st.altair_chart(chart, width="stretch")


def tab_order(challenge_type: str, params: Mapping[str, Any]) -> list[str]:
    """The trace tabs of a challenge type, the most telling first (no nose tab without a target).

    >>> tab_order("HEAD_TURN", {})[0], "Nose vs target" in tab_order("BLINK", {})
    ('Head pose', False)
    """
    t = str(challenge_type).upper()
    if "noseLeft" in params or t == "NOSE":
        return ["Nose vs target", "Head pose", "Eyes and mouth", "States", "Trace table"]
    if t == "HEAD_TURN":
        return ["Head pose", "States", "Eyes and mouth", "Trace table"]
    return ["Eyes and mouth", "Head pose", "States", "Trace table"]


def display_trace(trace: Any) -> Any:
    """The trace table as shown: seconds since the start, no epoch timestamps anywhere.

    The ``timestamp`` column is dropped (``t_s`` stays) and epoch times inside
    messages become seconds since the first frame.
    """
    from .plain_words import humanize_times

    if trace is None or not len(trace) or "timestamp" not in trace.columns:
        return trace
    import pandas as pd

    ts = pd.to_numeric(trace["timestamp"], errors="coerce")
    t_s = pd.to_numeric(trace["t_s"], errors="coerce") if "t_s" in trace.columns else None
    t0 = None
    if t_s is not None and ts.notna().any():
        first = ts.first_valid_index()
        t0 = int(ts[first] - 1000 * (t_s[first] if t_s[first] == t_s[first] else 0))
    out = trace.drop(columns=["timestamp"])
    if "message" in out.columns:
        out["message"] = [humanize_times(m, t0) if isinstance(m, str) else m
                          for m in out["message"]]
    return out


def history() -> list[dict[str, Any]]:
    """The challenges run in this browser session, newest last."""
    return st.session_state.setdefault(HISTORY_KEY, [])


def remember_challenge(entry: Mapping[str, Any]) -> None:
    """Add a verified challenge (``id``, ``token``, ``type``, ``verdict``...) to the history."""
    items = history()
    items[:] = [e for e in items if e.get("id") != entry.get("id")][-49:] + [dict(entry)]


def format_rate(value: Any) -> str:
    """``12.5 %``, or ``n/a`` for ``None`` / ``nan``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{100 * v:.1f} %"


def dataframe_or_info(df: Any, empty: str, **kwargs: Any) -> None:
    """``st.dataframe(df)`` or an info line when it is empty."""
    if df is None or not len(df):
        st.info(empty)
    else:
        st.dataframe(df, hide_index=True, width="stretch", **kwargs)


def columns_present(df: Any, names: Sequence[str]) -> list[str]:
    """The names that are columns of ``df``, in order."""
    return [n for n in names if n in getattr(df, "columns", ())]
