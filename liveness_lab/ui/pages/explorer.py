"""Session explorer: open a session, scrub its frames, re-run the verifier with other thresholds.

The data helpers live in :mod:`liveness_lab.ui.explorer_data`. The verifier,
the frames and the traces are a fragment (``st.fragment``): a threshold edit or
a scrub reruns that part only, not the page; the frame scrubber is a nested
fragment with play / step buttons.

What an edit re-runs is kept small: everything that does not depend on the edit is
computed once per open session and kept in this browser session's state (the unedited
verdict, the face track, the face-track charts as Vega-Lite specs, the drawn frames), so
an edit re-verifies the one session with the edited thresholds and rebuilds only what
follows the edited verdict (its badge, the state chart and the trace table).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import streamlit as st

from ..common import (TRACK_TABS, VERIFIER_TABS, app_settings, error_box, history,
                      page_header, trace_section, verdict_badge)
from ..explorer_data import config_overrides, find_datasets, threshold_groups, verify_with
from ..tracks import face_track, trace_table
from ._explorer_rerun import dataset_rerun

__all__ = ["render"]

SESSION_KEY = "explorer.session"
IMAGES_KEY = "explorer.images"


TOKEN_KEY = "explorer.session_token"
#: the thresholds the face-track charts draw; their values for the current edit, and those
#: the charts on the page were drawn with; False once a full page run has finished (later
#: runs of the verifier's fragment alone then compare the two)
DRAWN_THRESHOLDS = ("nose_box_tolerance", "rotation_threshold")
DRAWN_KEY, SHOWN_KEY, FULL_RUN_KEY = "explorer.drawn", "explorer.shown", "explorer.full_run"


def _set_session(session: Any, images: Mapping[int, bytes] | None = None) -> None:
    st.session_state[SESSION_KEY] = session
    st.session_state[IMAGES_KEY] = dict(images or {})
    st.session_state["explorer.frame"] = 0
    # a new token for every session put on the page: what was computed for the last one
    # (the memos below) is never shown for this one
    st.session_state[TOKEN_KEY] = st.session_state.get(TOKEN_KEY, 0) + 1
    st.session_state.pop("explorer.memo", None)


def _memo(name: str, key: Any, build: Callable[[], Any], limit: int = 32) -> Any:
    """``build()``, computed once per open session and ``key`` (kept in the browser session).

    At most ``limit`` values per ``name`` are kept (the oldest is dropped first).
    """
    memo = st.session_state.setdefault("explorer.memo", {})
    token = st.session_state.get(TOKEN_KEY, 0)
    if memo.get("token") != token:
        memo.clear()
        memo["token"] = token
    values = memo.setdefault(name, {})
    if key not in values:
        if len(values) >= limit:
            values.pop(next(iter(values)))
        values[key] = build()
    return values[key]


def _open_dataset() -> None:
    from ...errors import SessionFormatError
    from ...sessions import load_dataset_session, read_manifest

    settings = app_settings()
    found = find_datasets(settings.datasets_dir)
    options = [str(p) for p in found] + ["another folder…"]
    wanted = st.session_state.pop("explorer.open_dataset", None)  # from the Record page
    if wanted:
        folder = str(wanted["folder"])
        same = [o for o in options[:-1] if Path(o).resolve() == Path(folder).resolve()]
        if same:
            st.session_state["explorer.dataset_choice"] = same[0]
        else:
            st.session_state["explorer.dataset_choice"] = "another folder…"
            st.session_state["explorer.dataset_path"] = folder
        st.session_state["explorer.pending_session"] = wanted.get("session")
        for k in ("explorer.f_label", "explorer.f_species", "explorer.f_type"):
            st.session_state.pop(k, None)
    choice = st.selectbox("Dataset", options, key="explorer.dataset_choice",
                          help=f"folders with a manifest.csv under {settings.datasets_dir}")
    path = choice
    if choice == "another folder…":
        path = st.text_input("Dataset folder", key="explorer.dataset_path",
                             placeholder="datasets/generated/demo")
    if not path:
        return
    try:
        entries = read_manifest(path)
    except SessionFormatError as e:
        error_box(f"Cannot read this dataset: {e}")
        return
    if not entries:
        st.info("The manifest lists no session.")
        return
    import pandas as pd

    table = pd.DataFrame([e.as_row() for e in entries])
    f1, f2, f3 = st.columns(3)
    labels = f1.multiselect("Label", sorted(table["label"].unique()), key="explorer.f_label")
    species = f2.multiselect("PAI species", sorted(s for s in table["pai_species"].unique() if s),
                             key="explorer.f_species")
    types = f3.multiselect("Challenge type", sorted(table["challenge_type"].unique()),
                           key="explorer.f_type")
    sel = table
    if labels:
        sel = sel[sel["label"].isin(labels)]
    if species:
        sel = sel[sel["pai_species"].isin(species)]
    if types:
        sel = sel[sel["challenge_type"].isin(types)]
    st.caption(f"{len(sel)} of {len(table)} sessions")
    st.dataframe(sel, hide_index=True, width="stretch", height=180)
    ids = list(sel["session_id"])
    if not ids:
        return
    pending = st.session_state.pop("explorer.pending_session", None)
    if pending in ids:
        st.session_state["explorer.session_id"] = pending
    sid = st.selectbox("Session", ids, key="explorer.session_id")
    current = st.session_state.get(SESSION_KEY)
    if current is None or current.id != sid or st.session_state.get("explorer.loaded_from") != path:
        entry = next(e for e in entries if e.session_id == sid)
        try:
            session = load_dataset_session(path, entry)
        except SessionFormatError as e:
            error_box(f"Cannot read this session: {e}")
            return
        _set_session(session)
        st.session_state["explorer.loaded_from"] = path
    st.session_state["explorer.dataset"] = str(path)


def _open_file() -> None:
    from ...errors import SessionFormatError
    from ...sessions import read_session, session_from_dict

    path = st.text_input("Session file", key="explorer.file_path",
                         placeholder="datasets/recorded/sessions/rec-…/session.json",
                         help="frames' images are found next to the file")
    upload = st.file_uploader("…or upload a session JSON (images are not uploaded: frames "
                              "are drawn on a blank canvas)", type=["json"],
                              key="explorer.upload")
    try:
        if path:
            session = read_session(path)
            source = f"file:{Path(path).resolve()}"
        elif upload is not None:
            session = session_from_dict(json.loads(upload.getvalue().decode("utf-8")))
            source = f"upload:{upload.file_id}"
        else:
            return
    except (SessionFormatError, UnicodeDecodeError, json.JSONDecodeError) as e:
        error_box(f"Cannot read this session: {e}")
        return
    if st.session_state.get("explorer.loaded_from") != source:
        _set_session(session)
        st.session_state["explorer.loaded_from"] = source


def _open_live() -> None:
    from ..common import service_link
    from ..recording import session_from_service

    items = [h for h in history() if h.get("in_process")]
    wanted = st.session_state.pop("explorer.open_live", None)
    if not items:
        st.info("No live challenge yet in this browser session: run one on the Live challenge "
                "page (with the in-process service, whose frames the app can read).")
        return
    labels = {h["id"]: f"{h['type']} {h['id'][:8]} - "
                       f"{'PASS' if h.get('verdict', {}).get('success') else 'FAIL'}"
              for h in reversed(items)}
    ids = list(labels)
    index = ids.index(wanted) if wanted in ids else 0
    cid = st.selectbox("Live challenge", ids, index=index, format_func=labels.get,
                       key="explorer.live_id")
    if st.session_state.get("explorer.loaded_from") == f"live:{cid}":
        return
    link = service_link()
    if link.challenge_service is None:
        st.info("The app uses a remote service; live challenges cannot be opened here.")
        return
    try:
        session, images = session_from_service(link.challenge_service, cid)
    except KeyError as e:
        error_box(str(e))
        return
    _set_session(session, images)
    st.session_state["explorer.loaded_from"] = f"live:{cid}"


def _analyze_missing(session: Any, images: Mapping[int, bytes]) -> Any:
    """Analyze frames without faces from their images, with the default offline analyzer."""
    from ...analyzers import DEFAULT_ANALYZER, create_analyzer
    from ...sessions import Frame

    missing = [i for i, f in enumerate(session.frames) if f.faces is None]
    analyzer = create_analyzer(DEFAULT_ANALYZER)
    bar = st.progress(0.0, text=f"Analyzing frames with the {DEFAULT_ANALYZER} analyzer…")
    frames = list(session.frames)
    try:
        for n, i in enumerate(missing, start=1):
            data = images.get(i)
            if data is None:
                path = session.image_path(frames[i])
                data = path.read_bytes() if path is not None and path.is_file() else None
            faces = tuple(analyzer.analyze(data)) if data is not None else ()
            frames[i] = Frame(frames[i].timestamp, faces, frames[i].image, frames[i].extra)
            bar.progress(n / len(missing), text=f"Analyzed {n} of {len(missing)} frames")
    finally:
        analyzer.close()
    bar.empty()
    return replace(session, frames=tuple(frames))


def _config_editor(ctype: Any, profile: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inputs for every threshold of ``ctype``, grouped by step; returns (defaults, values).

    Numbers get number inputs, flags toggles, enumerations a choice (never free text
    for a closed set of values).
    """
    from ...config import resolve_configs

    base = resolve_configs(profile).for_type(ctype).to_dict()
    values: dict[str, Any] = {}
    for group in threshold_groups(ctype, base):
        st.markdown(f"**{group.title}**")
        cols = st.columns(3)
        for i, t in enumerate(group.thresholds):
            wkey = f"explorer.cfg.{profile}.{ctype.name}.{t.name}"
            col = cols[i % 3]
            label = t.name.replace("_", " ")
            if t.kind == "bool":
                values[t.name] = col.toggle(label, value=t.default, key=wkey, help=t.help)
            elif t.kind == "int":
                values[t.name] = int(col.number_input(label, value=t.default, step=1, key=wkey,
                                                      help=t.help))
            elif t.kind == "float":
                values[t.name] = float(col.number_input(label, value=t.default, format="%.4g",
                                                        key=wkey, help=t.help))
            elif t.kind == "choice":
                options = list(t.choices)
                values[t.name] = col.selectbox(label, options, index=options.index(t.default)
                                               if t.default in options else 0, key=wkey,
                                               help=t.help)
            elif t.kind == "optional":
                text = col.text_input(label, value="" if t.default is None else str(t.default),
                                      key=wkey, help=t.help + " (empty: none)")
                values[t.name] = text or None
            else:
                values[t.name] = col.text_input(label, value=str(t.default), key=wkey,
                                                help=t.help)
    return base, values


def _edit_key(profile: str, changed: Mapping[str, Any]) -> tuple[str, str]:
    return profile, json.dumps(dict(changed), sort_keys=True, default=str)


def _verdicts(session: Any, profile: str, ctype_name: str,
              changed: Mapping[str, Any]) -> tuple[Any, Any]:
    """(seed verdict, edited verdict) of the open session: the seed verdict is computed once
    per session, the edited one once per profile and edit."""
    baseline = _memo("baseline", "seed", lambda: verify_with(session, "seed", {}), limit=1)
    if profile == "seed" and not changed:
        return baseline, baseline
    edited = _memo("edited", _edit_key(profile, changed), lambda: verify_with(
        session, profile, {ctype_name: dict(changed)} if changed else {}))
    return baseline, edited


@st.fragment
def _frame_view(session: Any, images: Mapping[int, bytes], trace: Any) -> None:
    """The frame scrubber (its own fragment): slider, step and play buttons, the drawn frame."""
    frames = session.frames
    n = len(frames)
    if n == 0:
        st.info("The session has no frames.")
        return
    playing = bool(st.session_state.get("explorer.playing")) and n > 1
    if n > 1:
        b1, b2, b3, _ = st.columns([1, 1, 1, 5])
        if b1.button("Step back", icon=":material/skip_previous:", key="explorer.prev"):
            st.session_state["explorer.frame"] = max(0, st.session_state.get(
                "explorer.frame", 0) - 1)
        if b2.button("Pause" if playing else "Play", key="explorer.play",
                     icon=":material/pause:" if playing else ":material/play_arrow:"):
            playing = not playing
            st.session_state["explorer.playing"] = playing
            if playing:
                st.rerun(scope="fragment")
        if b3.button("Step", icon=":material/skip_next:", key="explorer.next"):
            st.session_state["explorer.frame"] = min(n - 1, st.session_state.get(
                "explorer.frame", 0) + 1)
        if playing:
            cur = int(st.session_state.get("explorer.frame", 0))
            if cur >= n - 1:
                st.session_state["explorer.playing"] = playing = False
            else:
                st.session_state["explorer.frame"] = cur + 1
        i = st.slider("Frame", 0, n - 1, key="explorer.frame",
                      help="frames in file order; the verifier replays them by timestamp")
    else:
        i = 0
    _draw_frame(session, images, trace, i)
    if playing:
        time.sleep(0.25)
        st.rerun(scope="fragment")


def _draw_frame(session: Any, images: Mapping[int, bytes], trace: Any, i: int) -> None:
    frames = session.frames
    frame = frames[i]
    t0 = min(f.timestamp for f in frames)
    c1, c2 = st.columns([3, 2])
    img, caption = _memo("frame", i, lambda: _drawn_frame(session, images, i, t0), limit=48)
    c1.image(img, caption=caption, width="stretch")
    with c2:
        if frame.faces is None:
            st.info("Not analyzed.")
        else:
            st.markdown(f"**{len(frame.faces)} face(s)**")
            if frame.faces:
                f = frame.faces[0]
                facts = {"yaw (°)": f.pose.yaw if f.pose else None,
                         "pitch (°)": f.pose.pitch if f.pose else None,
                         "roll (°)": f.pose.roll if f.pose else None,
                         "confidence": f.confidence,
                         "eyes open": None if f.eyes_open is None else
                         f"{f.eyes_open.value} ({f.eyes_open.confidence or 0:.0f})",
                         "mouth open": None if f.mouth_open is None else
                         f"{f.mouth_open.value} ({f.mouth_open.confidence or 0:.0f})",
                         "smile": None if f.smile is None else
                         f"{f.smile.value} ({f.smile.confidence or 0:.0f})",
                         "landmarks": len(f.landmarks)}
                st.dataframe([{"measure": k, "value": "" if v is None else
                               (f"{v:.2f}" if isinstance(v, float) else str(v))}
                              for k, v in facts.items()], hide_index=True, width="stretch")
        rows = trace[trace["timestamp"] == frame.timestamp] if len(trace) else trace
        if len(rows):
            from ..plain_words import humanize_times

            st.markdown("**Verifier at this frame**")
            for r in rows.to_dict("records"):
                st.markdown(f"- `{r.get('state')}` → **{r.get('result')}**: "
                            f"{humanize_times(str(r.get('message')), t0)}")


def _drawn_frame(session: Any, images: Mapping[int, bytes], i: int, t0: int) -> tuple[bytes, str]:
    """Frame ``i`` drawn with the challenge's boxes and its faces' landmarks (JPEG bytes: the
    same frame is the same image file to the browser), and its caption."""
    import cv2

    from ..drawing import draw_frame

    frame = session.frames[i]
    data: Any = images.get(i)
    if data is None:
        path = session.image_path(frame)
        data = path.read_bytes() if path is not None and path.is_file() else None
    try:
        img = draw_frame(data, frame.faces, session.params)
        caption = f"frame {i} · t = {(frame.timestamp - t0) / 1000:.2f} s · " + (
            "no image: landmarks on a blank canvas" if data is None else "image with landmarks")
    except ValueError as e:
        img = draw_frame(None, frame.faces, session.params)
        caption = f"frame {i}: the image does not decode ({e}); blank canvas"
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 90])
    return (jpeg.tobytes() if ok else img), caption


def _session_view(session: Any, images: Mapping[int, bytes]) -> None:
    from ...challenges.registry import default_registry
    from ...errors import UnknownChallengeType

    facts = [f"**{session.id}**", session.challenge_type, session.label or "unlabelled"]
    if session.pai_species:
        facts.append(session.pai_species)
    facts.append(f"{len(session.frames)} frames")
    st.markdown(" · ".join(facts))
    missing = sum(1 for f in session.frames if f.faces is None)
    if missing:
        st.warning(f"{missing} of {len(session.frames)} frames have no recorded faces; the "
                   "verifier needs them.", icon=":material/warning:")
        from ...analyzers import DEFAULT_ANALYZER
        if st.button(f"Analyze them with the {DEFAULT_ANALYZER} analyzer",
                     key="explorer.analyze", icon=":material/face:"):
            _set_session(_analyze_missing(session, images), images)
            st.rerun()
        _frame_view(session, images, trace_table([]))
        return
    try:
        ctype = default_registry().get(session.challenge_type)
    except UnknownChallengeType as e:
        error_box(str(e), hint="Install the plugin that defines this challenge type.")
        return
    _analysis(session, images, ctype)
    _face_track_view(session, ctype)


@st.fragment
def _analysis(session: Any, images: Mapping[int, bytes], ctype: Any) -> None:
    """Verifier, frames, traces and the dataset-wide re-run: one fragment, so an edit redraws
    this part only."""
    from ...config import profile_names, resolve_configs
    from ...errors import ConfigError, SessionFormatError

    st.subheader("Verifier")
    profiles = profile_names()
    profile = st.selectbox("Profile", profiles, index=profiles.index("seed")
                           if "seed" in profiles else 0, key="explorer.profile")
    with st.expander(f"{ctype.name} thresholds, by step (edit to re-run)", expanded=False):
        defaults, values = _config_editor(ctype, profile)
    changed = config_overrides(defaults, values)
    try:
        baseline, edited = _verdicts(session, profile, ctype.name, changed)
    except (ConfigError, SessionFormatError) as e:
        error_box(f"The verifier refused: {e}")
        return
    frames = session.sorted_frames()
    t0 = frames[0].timestamp if frames else None
    c1, c2 = st.columns(2)
    with c1:
        verdict_badge(baseline.to_dict(with_trace=False), title="seed profile (the original)",
                      t0_ms=t0)
    with c2:
        title = f"profile {profile}" + (f" with {len(changed)} change(s): " + ", ".join(
            f"{k}={v}" for k, v in changed.items()) if changed else "")
        verdict_badge(edited.to_dict(with_trace=False), title=title, t0_ms=t0)
    if (baseline.success, baseline.code) != (edited.success, edited.code):
        st.info(f"The edit changes the decision: {baseline.code} → {edited.code}.",
                icon=":material/compare_arrows:")
    if session.label and edited.success != (session.label == "bona_fide"):
        st.caption(f"This {session.label.replace('_', ' ')} session is "
                   f"{'accepted' if edited.success else 'rejected'}: an error of the challenge "
                   "under this configuration.")
    edit = _edit_key(profile, changed)
    trace = _memo("trace", edit, lambda: trace_table(edited.trace.to_records(), t0=t0))

    def config() -> dict[str, Any] | None:
        try:
            return resolve_configs(profile, overrides={ctype.name: changed} if changed
                                   else {}).for_type(ctype).to_dict()
        except ConfigError:
            return None

    drawn = {k: (_memo("config", edit, config) or {}).get(k) for k in DRAWN_THRESHOLDS}
    st.session_state[DRAWN_KEY] = drawn
    if st.session_state.get(FULL_RUN_KEY) is False and st.session_state.get(SHOWN_KEY) != drawn:
        # the face-track charts, outside this fragment, draw one of the edited thresholds
        st.rerun(scope="app")
    st.subheader("Frames")
    _frame_view(session, images, trace)
    st.subheader("What the verifier did")
    trace_section(trace, None, session.params, challenge_type=ctype.name, key="explorer-trace",
                  tabs=VERIFIER_TABS, memo={})
    dataset = st.session_state.get("explorer.dataset")
    if st.session_state.get("explorer.loaded_from") == dataset and dataset:
        dataset_rerun(dataset, ctype.name, profile, changed)


def _face_track_view(session: Any, ctype: Any) -> None:
    """The face-track charts (what the analyzer saw, with the thresholds they draw).

    Outside the verifier's fragment: an edit does not redraw them, unless it changes a
    threshold they draw (the fragment then reruns the page).
    """
    frames = session.sorted_frames()
    t0 = frames[0].timestamp if frames else None
    drawn = st.session_state.get(DRAWN_KEY) or {}
    track = _memo("track", "track", lambda: face_track(
        [(f.timestamp, f.faces) for f in frames], session.params.get("imageWidth") or 640,
        session.params.get("imageHeight") or 480, t0=t0), limit=1)
    st.subheader("Face track")
    trace_section(None, track, session.params, challenge_type=ctype.name, config=drawn,
                  tabs=TRACK_TABS, memo=_memo("charts", "charts", dict, limit=1))
    st.session_state[SHOWN_KEY] = drawn


def render() -> None:
    """The Session explorer page."""
    st.session_state[FULL_RUN_KEY] = True
    try:
        _render()
    finally:
        st.session_state[FULL_RUN_KEY] = False


def _render() -> None:
    page_header("Session explorer",
                "Open a dataset, a session file or a live challenge; scrub through its frames "
                "with the landmarks drawn; change the profile or any threshold and see the "
                "verdict and the trace change.")
    sources = ["Dataset", "Session file", "Live challenge"]
    default = "Live challenge" if st.session_state.get("explorer.open_live") else "Dataset"
    if st.session_state.get("explorer.open_live") or st.session_state.get("explorer.open_dataset"):
        st.session_state["explorer.source"] = default
    source = st.segmented_control("Open", sources, default=default, key="explorer.source",
                                  required=True)
    if source == "Dataset":
        _open_dataset()
    elif source == "Session file":
        _open_file()
    else:
        _open_live()
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        st.info("Choose a session above.", icon=":material/arrow_upward:")
        return
    st.divider()
    _session_view(session, st.session_state.get(IMAGES_KEY) or {})
