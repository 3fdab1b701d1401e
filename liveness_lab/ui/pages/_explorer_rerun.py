"""The Session explorer's dataset-wide re-run: the edited thresholds over every session of
the open dataset, with progress, the counts and the misclassified sessions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

import streamlit as st

from ..common import error_box

__all__ = ["dataset_rerun"]


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_sessions(dataset: str, challenge_type: str, stamp: float) -> list[Any]:
    """The dataset's sessions of one type, parsed once per manifest version (``stamp``)."""
    from ..explorer_data import load_sessions

    return load_sessions(dataset, challenge_type=challenge_type)


def dataset_rerun(dataset: str, ctype_name: str, profile: str,
                   changed: Mapping[str, Any]) -> None:
    """Re-run the edited thresholds over every session of the dataset, with progress."""
    from ..explorer_data import misclassified, rerun_sessions, rerun_summary
    from ...errors import ConfigError, SessionFormatError

    st.subheader("The whole dataset")
    key = (dataset, ctype_name, profile, json.dumps(dict(changed), sort_keys=True, default=str))
    results = st.session_state.setdefault("explorer.reruns", {})
    edit = ", ".join(f"{k}={v}" for k, v in changed.items()) or "no edit"
    if st.button(f"Re-run {profile} ({edit}) over every {ctype_name} session of the dataset",
                 key="explorer.rerun", icon=":material/replay:"):
        bar = st.progress(0.0, text="Reading the sessions…")
        try:
            stamp = (Path(dataset) / "manifest.csv").stat().st_mtime
            sessions = _cached_sessions(dataset, ctype_name, stamp)
            t_start = time.perf_counter()

            def tick(done: int, total: int) -> None:
                bar.progress(done / max(total, 1) / 2,
                             text=f"Unedited profile: {done} of {total} sessions")

            base = rerun_sessions(sessions, profile=profile, progress=tick)

            def tick2(done: int, total: int) -> None:
                bar.progress(0.5 + done / max(total, 1) / 2,
                             text=f"Edited thresholds: {done} of {total} sessions")

            table = rerun_sessions(sessions, profile=profile,
                                   overrides={ctype_name: dict(changed)} if changed else {},
                                   baseline=base, progress=tick2)
        except (ConfigError, SessionFormatError, OSError) as e:
            bar.empty()
            error_box(f"The re-run stopped: {e}")
            return
        bar.empty()
        results.clear()
        results[key] = (table, time.perf_counter() - t_start)
    if key not in results:
        st.caption("Re-run these thresholds over every session of this type in the dataset, "
                   "and list the misclassified ones.")
        return
    table, seconds = results[key]
    summary = rerun_summary(table)
    m = st.columns(4)
    m[0].metric("Sessions", summary["sessions"], help=f"re-run in {seconds:.1f} s")
    m[1].metric("Attacks accepted", summary["attacks_accepted"])
    m[2].metric("Bona fide rejected", summary["bona_fide_rejected"])
    m[3].metric("Decisions changed by the edit", summary["changed"],
                delta=summary["misclassified"] - summary["baseline_misclassified"],
                delta_color="inverse", help="delta: misclassified sessions against the "
                                            "unedited profile")
    only = st.toggle("Only misclassified sessions", value=True, key="explorer.only_wrong")
    shown = misclassified(table) if only else table
    st.dataframe(shown, hide_index=True, width="stretch", height=240,
                 key="explorer.rerun_table")
    if len(shown):
        sid = st.selectbox("Open one of them", list(shown["session_id"]),
                           key="explorer.rerun_open")
        if st.button("Open this session", key="explorer.rerun_go",
                     icon=":material/open_in_new:"):
            st.session_state["explorer.pending_session"] = sid
            for k in ("explorer.f_label", "explorer.f_species", "explorer.f_type"):
                st.session_state.pop(k, None)
            st.rerun(scope="app")
