"""Record dataset: run challenges with the camera and save them, labelled, into a dataset folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import streamlit as st

from ..common import app_settings, error_box, page_header, service_link, service_sidebar
from ..flow import available_types, flow_state, render_flow, reset_flow, start_challenge
from ..service_link import ServiceLink

__all__ = ["render", "save_recording", "OTHER_SPECIES"]

PREFIX = "record"
OTHER_SPECIES = "other…"


def save_recording(link: ServiceLink, state: Mapping[str, Any], dataset_dir: str | Path,
                   meta: Mapping[str, Any]) -> Any:
    """Write a finished run into ``dataset_dir`` (see :func:`liveness_lab.ui.recording.record_session`).

    Frames and faces come from the in-process service's stores; with a remote
    service, from the JPEGs the capture component kept (no faces: run
    ``liveness-lab analyze`` on the dataset).

    Parameters
    ----------
    meta:
        ``label``, ``pai_species``, ``subject_id``, ``split`` and ``notes``.
    """
    from ..recording import frames_from_component, frames_from_service, new_session_id, \
        record_session

    ch = state["challenge"]
    summary = state.get("capture") or {}
    if link.challenge_service is not None:
        _, frames = frames_from_service(link.challenge_service, ch["id"])
        source = "in-process service store (frames and faces)"
    else:
        frames = frames_from_component(summary.get("frames") or [])
        source = "capture component (frames only; analyze the dataset to add faces)"
    if not frames:
        raise ValueError("the run has no frames to record")
    verdict = (state.get("result") or {}).get("verdict") or {}
    metadata = {"recorded_with": "liveness-lab studio", "challenge_id": ch["id"],
                "service_url": link.url, "frames_source": source,
                "service_verdict": {k: verdict.get(k) for k in
                                    ("success", "decided", "code", "reason", "profile")},
                "capture": {k: summary.get(k) for k in
                            ("framesSent", "framesFailed", "reason", "video")},
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if meta.get("notes"):
        metadata["notes"] = meta["notes"]
    return record_session(dataset_dir, session_id=new_session_id(ch["id"]),
                          challenge_type=ch["type"], params=ch["params"], frames=frames,
                          label=meta["label"], pai_species=meta.get("pai_species"),
                          subject_id=meta.get("subject_id"), split=meta.get("split"),
                          metadata=metadata)


def _labels_form(type_names: list[str], *, busy: bool = False) -> dict[str, Any]:
    from ..recording import suggested_species

    c1, c2 = st.columns(2)
    label = c1.radio("Label", ["bona_fide", "attack"], horizontal=True, key="record.label", disabled=busy,
                     format_func=lambda v: "bona fide (a live person)" if v == "bona_fide"
                     else "attack (a presentation attack instrument)")
    species = None
    if label == "attack":
        choice = c2.selectbox("PAI species", list(suggested_species(
            st.session_state.get("record.type"))) + [OTHER_SPECIES],
                              key="record.species", disabled=busy,
                              help="the kind of attack instrument, named as the benches name "
                                   "it (the chosen type's species first); new names are "
                                   "allowed")
        species = c2.text_input("Species name", key="record.species_other", disabled=busy,
                                placeholder="e.g. paper_mask") if choice == OTHER_SPECIES \
            else choice
    c3, c4, c5 = st.columns(3)
    subject = c3.text_input("Subject id", key="record.subject", placeholder="subj-001",
                            disabled=busy,
                            help="who (or which instrument) is presented; for grouped statistics")
    split = c4.selectbox("Split", ["", "train", "dev", "test"], key="record.split",
                         disabled=busy,
                         format_func=lambda v: v or "none")
    ctype = c5.selectbox("Challenge", type_names, key="record.type", disabled=busy,
                         index=type_names.index("NOSE") if "NOSE" in type_names else 0)
    notes = st.text_input("Notes", key="record.notes", placeholder="lighting, distance, device…",
                          disabled=busy)
    return {"label": label, "pai_species": species, "subject_id": subject or None,
            "split": split or None, "challenge_type": ctype or "NOSE", "notes": notes}


def _dataset_summary(folder: str) -> None:
    from ...errors import SessionFormatError
    from ..recording import dataset_table

    try:
        table = dataset_table(folder)
    except SessionFormatError as e:
        error_box(f"This folder's manifest is invalid: {e}")
        return
    if not len(table):
        st.caption("No session recorded here yet; the folder and its manifest.csv are created "
                   "with the first one.")
        return
    counts = table.assign(pai_species=table["pai_species"].replace("", "-")).groupby(
        ["label", "pai_species", "challenge_type"]).size().rename("sessions").reset_index()
    n = len(table)
    st.caption(f"{n} session{'s' if n != 1 else ''} in this dataset")
    st.dataframe(counts, hide_index=True, width="content")


def _save_done_run(link: ServiceLink, state: dict[str, Any]) -> None:
    """Save a finished run once (before the dataset summary is drawn, so its count is fresh)."""
    if state.get("phase") != "done" or "saved" in state or "save_error" in state \
            or state.get("discarded"):
        return
    try:
        session = save_recording(link, state, state["folder"], state["meta"])
        state["saved"] = {"id": session.id, "path": session.source,
                          "frames": len(session.frames)}
    except (ValueError, OSError) as e:
        state["save_error"] = str(e)


def _done(link: ServiceLink, state: dict[str, Any]) -> None:
    """The saved recording: where it went, discard / explore / record another, verdict, traces."""
    from ..flow import render_result, type_config
    from ..recording import discard_session

    if state.get("discarded"):
        st.info(f"Recording **{state['discarded']}** discarded: removed from the manifest and "
                "its folder deleted.", icon=":material/delete:")
    elif "saved" in state:
        saved = state["saved"]
        st.success(f"Saved session **{saved['id']}** ({saved['frames']} frames) to "
                   f"`{saved['path']}`", icon=":material/save:")
    else:
        error_box(f"The session could not be saved: {state['save_error']}")
    b1, b2, b3, _ = st.columns([1, 1, 1.4, 1.6])
    if b1.button("Record another", key="record.again", icon=":material/restart_alt:"):
        reset_flow(PREFIX)
        st.rerun()
    if "saved" in state and not state.get("discarded"):
        if b2.button("Discard it", key="record.discard", icon=":material/delete:"):
            try:
                discard_session(state["folder"], state["saved"]["id"])
            except (ValueError, OSError) as e:
                error_box(f"The recording could not be discarded: {e}")
            else:
                state["discarded"] = state["saved"]["id"]
                st.rerun()
        if b3.button("Open in the Session explorer", key="record.explore",
                     icon=":material/manage_search:"):
            from ..navigation import page_for

            st.session_state["explorer.open_dataset"] = {"folder": str(state["folder"]),
                                                         "session": state["saved"]["id"]}
            st.switch_page(page_for("explorer"))
    render_result(state, key="record-result", config=type_config(link, state["challenge"]["type"]))


def render() -> None:
    """The Record dataset page."""
    page_header("Record dataset",
                "Record labelled challenge sessions - bona fide or attacks of a named PAI "
                "species - into a dataset folder in the session format, to evaluate "
                "configurations on your own data (`liveness-lab evaluate FOLDER`).")
    try:
        link = service_link()
    except Exception as e:  # the in-process service could not start
        error_box(f"The challenge service is not available: {e}")
        return
    service_sidebar(link)
    settings = app_settings()
    state = flow_state(PREFIX)
    _save_done_run(link, state)
    folder = st.text_input("Dataset folder", value=str(settings.recordings_dir),
                           key="record.folder",
                           disabled=state.get("phase") in ("capturing", "verifying"))
    _dataset_summary(folder)
    st.divider()
    busy = state.get("phase", "idle") in ("capturing", "verifying")
    meta = _labels_form([t["name"] for t in available_types(link)], busy=busy)
    if meta["label"] == "attack" and not meta["pai_species"]:
        st.warning("Name the PAI species of the attack.")
    start = st.button("Start recording", type="primary", key="record.start",
                      icon=":material/fiber_manual_record:",
                      disabled=busy or (meta["label"] == "attack" and not meta["pai_species"]))
    if start and not busy:
        start_challenge(link, PREFIX, challenge_type=meta["challenge_type"], width=640,
                        height=480, options={"fps": 12, "max_seconds": 30, "mirror": True,
                                             "keep_frames": link.in_process is None})
        state["meta"] = meta
        state["folder"] = folder
        st.rerun()
    phase = render_flow(link, PREFIX)
    if phase == "capturing":
        meta = state.get("meta") or {}
        st.caption(f"Recording a {meta.get('label', '')} "
                   f"{meta.get('pai_species') or ''} session into `{state.get('folder')}`")
    elif phase == "done":
        _save_done_run(link, state)  # a run that finished during this script run
        _done(link, state)
