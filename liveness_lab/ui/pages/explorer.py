"""Session explorer: open a session, scrub its frames, re-run the verifier with other thresholds."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import streamlit as st

from ..common import (app_settings, error_box, history, page_header, trace_section,
                      verdict_badge)
from ..tracks import face_track, trace_table

__all__ = ["render", "find_datasets", "config_overrides", "verify_with"]

SESSION_KEY = "explorer.session"
IMAGES_KEY = "explorer.images"


def find_datasets(root: str | Path, *, max_depth: int = 3, limit: int = 100) -> list[Path]:
    """Dataset folders (holding ``manifest.csv``) under ``root``, at most ``max_depth`` deep."""
    base = Path(root)
    if not base.is_dir():
        return []
    out: list[Path] = []
    stack = [(base, 0)]
    while stack and len(out) < limit:
        folder, depth = stack.pop()
        if (folder / "manifest.csv").is_file():
            out.append(folder)
            continue
        if depth >= max_depth:
            continue
        try:
            children = sorted((p for p in folder.iterdir() if p.is_dir()
                               and not p.name.startswith(".")), reverse=True)
        except OSError:
            continue
        stack.extend((c, depth + 1) for c in children)
    return sorted(out)


def config_overrides(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The keys whose value differs from ``defaults`` (what the user changed).

    >>> config_overrides({"a": 1.0, "b": 2}, {"a": 1.0, "b": 3})
    {'b': 3}
    """
    return {k: v for k, v in values.items() if k in defaults and defaults[k] != v}


def verify_with(session: Any, profile: str, overrides: Mapping[str, Mapping[str, Any]]) -> Any:
    """:func:`~liveness_lab.verify.verify_session` under ``profile`` plus ``overrides``."""
    from ...config import resolve_configs
    from ...verify import verify_session

    return verify_session(session, configs=resolve_configs(profile, overrides=overrides))


def _set_session(session: Any, images: Mapping[int, bytes] | None = None) -> None:
    st.session_state[SESSION_KEY] = session
    st.session_state[IMAGES_KEY] = dict(images or {})
    st.session_state["explorer.frame"] = 0


def _open_dataset() -> None:
    from ...errors import SessionFormatError
    from ...sessions import load_dataset_session, read_manifest

    settings = app_settings()
    found = find_datasets(settings.datasets_dir)
    options = [str(p) for p in found] + ["another folder…"]
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
    """Analyze frames without faces from their images, with the local analyzer."""
    from ...analyzers import create_analyzer
    from ...sessions import Frame

    missing = [i for i, f in enumerate(session.frames) if f.faces is None]
    analyzer = create_analyzer("local")
    bar = st.progress(0.0, text="Analyzing frames with the local analyzer…")
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
    """Inputs for every threshold of ``ctype``; returns (defaults of the profile, values)."""
    from ...config import resolve_configs

    base = resolve_configs(profile).for_type(ctype).to_dict()
    values: dict[str, Any] = {}
    keys = ctype.config_class.keys()
    cols = st.columns(3)
    for i, key in enumerate(keys):
        name, default = key["name"], base[key["name"]]
        wkey = f"explorer.cfg.{profile}.{ctype.name}.{name}"
        col = cols[i % 3]
        label = name.replace("_", " ")
        if isinstance(default, bool):
            values[name] = col.checkbox(label, value=default, key=wkey, help=key["help"])
        elif isinstance(default, int):
            values[name] = int(col.number_input(label, value=default, step=1, key=wkey,
                                                help=key["help"]))
        elif isinstance(default, float):
            values[name] = float(col.number_input(label, value=default, format="%.4g",
                                                  key=wkey, help=key["help"]))
        elif default is None:
            text = col.text_input(label, value="", key=wkey, help=key["help"] + " (empty: none)")
            values[name] = text or None
        else:
            values[name] = col.text_input(label, value=str(default), key=wkey, help=key["help"])
    return base, values


def _frame_view(session: Any, images: Mapping[int, bytes], trace: Any) -> None:
    from ..drawing import draw_frame

    frames = session.frames
    n = len(frames)
    if n == 0:
        st.info("The session has no frames.")
        return
    i = st.slider("Frame", 0, n - 1, key="explorer.frame",
                  help="frames in file order; the verifier replays them by timestamp") \
        if n > 1 else 0
    frame = frames[i]
    data: Any = images.get(i)
    if data is None:
        path = session.image_path(frame)
        data = path.read_bytes() if path is not None and path.is_file() else None
    c1, c2 = st.columns([3, 2])
    try:
        img = draw_frame(data, frame.faces, session.params)
        caption = f"frame {i} · t = {frame.timestamp} ms · " + (
            "no image: landmarks on a blank canvas" if data is None else "image with landmarks")
    except ValueError as e:
        img = draw_frame(None, frame.faces, session.params)
        caption = f"frame {i}: the image does not decode ({e}); blank canvas"
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
            st.markdown("**Verifier at this frame**")
            for r in rows.to_dict("records"):
                st.markdown(f"- `{r.get('state')}` → **{r.get('result')}**: {r.get('message')}")


def _session_view(session: Any, images: Mapping[int, bytes]) -> None:
    from ...challenges.registry import default_registry
    from ...config import profile_names
    from ...errors import ConfigError, SessionFormatError, UnknownChallengeType

    facts = [f"**{session.id}**", session.challenge_type, session.label or "unlabelled"]
    if session.pai_species:
        facts.append(session.pai_species)
    facts.append(f"{len(session.frames)} frames")
    st.markdown(" · ".join(facts))
    missing = sum(1 for f in session.frames if f.faces is None)
    if missing:
        st.warning(f"{missing} of {len(session.frames)} frames have no recorded faces; the "
                   "verifier needs them.", icon=":material/warning:")
        if st.button("Analyze them with the local analyzer", key="explorer.analyze",
                     icon=":material/face:"):
            st.session_state[SESSION_KEY] = _analyze_missing(session, images)
            st.rerun()
        _frame_view(session, images, trace_table([]))
        return
    try:
        ctype = default_registry().get(session.challenge_type)
    except UnknownChallengeType as e:
        error_box(str(e), hint="Install the plugin that defines this challenge type.")
        return
    st.subheader("Verifier")
    profiles = profile_names()
    profile = st.selectbox("Profile", profiles, index=profiles.index("seed")
                           if "seed" in profiles else 0, key="explorer.profile")
    with st.expander(f"{ctype.name} thresholds (edit to re-run)", expanded=False):
        defaults, values = _config_editor(ctype, profile)
    changed = config_overrides(defaults, values)
    try:
        baseline = verify_with(session, "seed", {})
        edited = verify_with(session, profile, {ctype.name: changed} if changed else {})
    except (ConfigError, SessionFormatError) as e:
        error_box(f"The verifier refused: {e}")
        return
    c1, c2 = st.columns(2)
    with c1:
        verdict_badge(baseline.to_dict(with_trace=False), title="seed profile (the original)")
    with c2:
        title = f"profile {profile}" + (f" with {len(changed)} change(s): " + ", ".join(
            f"{k}={v}" for k, v in changed.items()) if changed else "")
        verdict_badge(edited.to_dict(with_trace=False), title=title)
    if (baseline.success, baseline.code) != (edited.success, edited.code):
        st.info(f"The edit changes the decision: {baseline.code} → {edited.code}.",
                icon=":material/compare_arrows:")
    if session.label and edited.success != (session.label == "bona_fide"):
        st.caption(f"This {session.label.replace('_', ' ')} session is "
                   f"{'accepted' if edited.success else 'rejected'}: an error of the challenge "
                   "under this configuration.")
    frames = session.sorted_frames()
    t0 = frames[0].timestamp if frames else None
    trace = trace_table(edited.trace.to_records(), t0=t0)
    st.subheader("Frames")
    _frame_view(session, images, trace)
    st.subheader("Traces")
    track = face_track([(f.timestamp, f.faces) for f in frames],
                       session.params.get("imageWidth") or 640,
                       session.params.get("imageHeight") or 480, t0=t0)
    from ...config import resolve_configs
    try:
        cfg = resolve_configs(profile, overrides={ctype.name: changed} if changed
                              else {}).for_type(ctype).to_dict()
    except ConfigError:
        cfg = None
    trace_section(trace, track, session.params, challenge_type=ctype.name, config=cfg,
                  key="explorer-trace")


def render() -> None:
    """The Session explorer page."""
    page_header("Session explorer",
                "Open a dataset, a session file or a live challenge; scrub through its frames "
                "with the landmarks drawn; change the profile or any threshold and see the "
                "verdict and the trace change.")
    sources = ["Dataset", "Session file", "Live challenge"]
    default = "Live challenge" if st.session_state.get("explorer.open_live") else "Dataset"
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
