"""One challenge run in the browser: create -> capture -> verify -> result (Live and Record pages).

The run's state is a dict in ``st.session_state[prefix]``:

* ``phase``: ``idle``, ``capturing`` (the capture component is on the page),
  ``verifying``, ``done`` or ``error``;
* ``challenge``: ``{id, token, type, params}`` from ``POST /challenge``;
* ``options``: capture options (fps, mirror, time limit, keep frames);
* ``capture``: the component's summary; ``result``: verdict, trace, faces;
  ``error``: what went wrong.

:func:`collect_result` (verify, then read the verdict, the trace and the
faces) needs no Streamlit and is what the tests exercise.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import streamlit as st

from .common import remember_challenge, trace_section, verdict_badge
from .components.capture import capture, capture_config, is_single_frame_pose, steps_for
from .drawing import pose_instructions, pose_svg
from .service_link import ServiceLink
from .tracks import face_track, trace_table

__all__ = ["flow_state", "start_challenge", "render_flow", "collect_result", "render_result",
           "reset_flow", "type_config", "available_types", "apply_capture_summary",
           "CHALLENGE_CHOICES"]

#: Types offered when the service cannot list its types ("random": the service draws one).
CHALLENGE_CHOICES = ("NOSE", "POSE", "random")


def available_types(link: ServiceLink) -> list[dict[str, Any]]:
    """The service's challenge types a person can take, cached per browser session.

    ``GET /challenge-types`` filtered by :func:`liveness_lab.ui.offered.user_facing_types`
    (no example or test plugins). Falls back to NOSE and POSE when the service
    cannot list them.
    """
    from .common import app_settings
    from .offered import user_facing_types

    key = f"studio.types.{link.url}"
    if key not in st.session_state:
        try:
            with link.client(timeout=10.0) as client:
                st.session_state[key] = user_facing_types(
                    client.challenge_types(), extra=app_settings().challenge_types)
        except Exception:  # unreachable: the two original types
            return [{"name": n, "description": ""} for n in CHALLENGE_CHOICES[:2]]
    return st.session_state[key]


def flow_state(prefix: str) -> dict[str, Any]:
    """The run's state dict (created idle)."""
    return st.session_state.setdefault(prefix, {"phase": "idle", "attempt": 0})


def reset_flow(prefix: str) -> None:
    """Back to idle (keeps the attempt counter, so the next component is fresh)."""
    state = flow_state(prefix)
    attempt = state.get("attempt", 0)
    state.clear()
    state.update(phase="idle", attempt=attempt)


def start_challenge(link: ServiceLink, prefix: str, *, challenge_type: str, width: int,
                    height: int, options: Mapping[str, Any]) -> dict[str, Any]:
    """Create a challenge on the service and move the run to ``capturing``.

    ``challenge_type`` ``"random"`` lets the service draw the type. A refusal
    moves the run to ``error`` with the service's message.
    """
    import httpx

    from ..service.client import ApiError

    state = flow_state(prefix)
    reset_flow(prefix)
    state["attempt"] = state.get("attempt", 0) + 1
    requested = None if challenge_type == "random" else challenge_type
    try:
        with link.client(timeout=30.0) as client:
            ch = client.create_challenge(int(width), int(height), challenge_type=requested)
    except (ApiError, httpx.HTTPError) as e:
        state.update(phase="error", error=f"the service refused to create a challenge: {e}")
        return state
    if requested is not None and ch.type != requested:
        st.toast(f"The service chose a {ch.type} challenge (it does not let clients choose).")
    state.update(phase="capturing", options=dict(options), created_at=time.time(),
                 challenge={"id": ch.id, "token": ch.token, "type": ch.type,
                            "params": dict(ch.params)})
    return state


def _frames_faces(link: ServiceLink, challenge_id: str, capture_summary: Mapping[str, Any] | None
                  ) -> tuple[list[tuple[int, list[dict[str, Any]] | None]], str]:
    """Faces of every frame from the in-process store, else those seen by the live feedback."""
    svc = link.challenge_service
    if svc is not None:
        from .recording import frames_from_service

        try:
            _, frames = frames_from_service(svc, challenge_id)
        except KeyError:
            frames = []
        out = [(f.timestamp, None if f.faces is None else [x.to_rekognition() for x in f.faces])
               for f in frames]
        return out, "every frame, from the service's store"
    track = (capture_summary or {}).get("track") or []
    out = sorted(((int(t["timestamp"]), list(t.get("faces") or [])) for t in track
                  if "timestamp" in t), key=lambda x: x[0])
    return out, "the frames seen by the live feedback (a sample)"


def collect_result(link: ServiceLink, challenge: Mapping[str, Any],
                   capture_summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Verify the challenge (once) and gather what the result view shows.

    A challenge verified already (409) is read back instead. Returns
    ``{"status", "verdict", "trace", "faces", "faces_source", "verify_s"}``:
    ``status`` is ``GET /challenge/{id}``'s answer, ``trace`` its rows, ``faces``
    ``(timestamp, [FaceDetail dicts] or None)`` per frame.

    Raises
    ------
    liveness_lab.service.client.ApiError
        The service refused (expired token, analysis still running...).
    """
    from ..service.client import ApiError, Challenge

    ch = Challenge(challenge["id"], challenge["token"], challenge["type"], challenge["params"])
    t0 = time.perf_counter()
    with link.client() as client:
        try:
            client.verify(ch)
        except ApiError as e:
            if e.status_code != 409:
                raise
        status = client.get_challenge(ch, trace=True)
    elapsed = time.perf_counter() - t0
    verdict = dict(status.get("verdict") or {"success": bool(status.get("success")),
                                             "decided": True, "code": status.get("code"),
                                             "reason": status.get("reason")})
    faces, source = _frames_faces(link, ch.id, capture_summary)
    return {"status": status, "verdict": verdict, "trace": list(status.get("trace") or []),
            "faces": faces, "faces_source": source, "verify_s": elapsed}


def apply_capture_summary(state: dict[str, Any], summary: Mapping[str, Any] | None) -> bool:
    """Move a ``capturing`` run on once the component reports the end of *its* challenge.

    A run that sent frames goes to ``verifying`` (even when stopped early or after
    an error: the verifier says why it did not pass); a run that could not send
    any frame (no camera, service unreachable) goes to ``error``. Returns whether
    the phase changed.
    """
    if state.get("phase") != "capturing" or not summary:
        return False
    if summary.get("challengeId") != (state.get("challenge") or {}).get("id"):
        return False  # the summary of an earlier challenge
    state["capture"] = dict(summary)
    if summary.get("status") == "error" and not summary.get("framesSent"):
        state.update(phase="error", error=summary.get("error") or "the capture failed")
    elif not summary.get("framesSent"):
        errors = summary.get("errors") or []
        state.update(phase="error", error="no frame reached the service" +
                     (f": {errors[-1]}" if errors else ""))
    else:
        state["phase"] = "verifying"
    return True


#: seconds the capture runs past a challenge's own window (``windowMs``): the last frames
#: still travel to the service and the last answer may end in them
CAPTURE_MARGIN_S = 2.0


def capture_seconds(params: Any, chosen: float) -> float:
    """The capture's time limit: the one chosen, or longer when the challenge's params declare
    a window (``windowMs``, e.g. a cue-timed BLINK: up to ~34 s) that it would cut short."""
    window = params.get("windowMs") if isinstance(params, Mapping) else None
    if isinstance(window, (int, float)) and not isinstance(window, bool) and window > 0:
        return max(float(chosen), window / 1000.0 + CAPTURE_MARGIN_S)
    return float(chosen)


def _options_config(link: ServiceLink, state: Mapping[str, Any]) -> dict[str, Any]:
    ch = state["challenge"]
    opts = state.get("options", {})
    steps = []
    try:
        from ..challenges.registry import default_registry
        steps = steps_for(list(default_registry().get(ch["type"]).states))
    except Exception:  # a type only the remote service knows: no progress chips
        steps = []
    svg = instructions = None
    pose = ch["params"].get("pose") if isinstance(ch["params"], Mapping) else None
    if ch["type"] == "POSE" and isinstance(pose, Mapping):
        try:
            svg = pose_svg(pose["eyes"], pose["mouth"], mirror=opts.get("mirror", True))
            instructions = pose_instructions(pose["eyes"], pose["mouth"])
        except (KeyError, ValueError):
            svg = None
    from .hints import READY_SECONDS, challenge_instructions, plain_text

    svc = link.challenge_service
    if svc is not None:
        max_frames = svc.settings.max_frames_per_challenge
    else:  # a remote service: assume its default
        from ..service.settings import Settings
        max_frames = Settings.model_fields["max_frames_per_challenge"].default
    description = next((t.get("description", "") for t in available_types(link)
                        if t.get("name") == ch["type"]), "")
    ready_text = plain_text(challenge_instructions(ch["type"], ch["params"], description))
    timeout = (type_config(link, ch["type"]) or {}).get("state_timeout_s")
    return capture_config(link.url, ch, steps=steps, fps=float(opts.get("fps", 12)),
                          max_seconds=capture_seconds(ch["params"],
                                                      float(opts.get("max_seconds", 30))),
                          max_frames=max_frames,
                          mirror=bool(opts.get("mirror", True)), pose_svg=svg,
                          instructions=instructions or "",
                          keep_frames=bool(opts.get("keep_frames", False)),
                          ready_s=float(opts.get("ready_s", READY_SECONDS.get(
                              str(ch["type"]).upper(), 4))),
                          ready_text=ready_text,
                          step_timeout_s=float(timeout) if isinstance(timeout, (int, float))
                          and timeout > 0 else None)


def render_flow(link: ServiceLink, prefix: str) -> str:
    """Draw the current phase (capture component, verification, error); returns the phase.

    When the component reports the end of the run, the run moves to
    ``verifying`` and the page reruns; ``verifying`` verifies under a
    progress indicator and moves to ``done`` (or ``error``).
    """
    state = flow_state(prefix)
    phase = state.get("phase", "idle")
    if phase == "capturing":
        ch = state["challenge"]
        if not is_single_frame_pose(ch["type"], ch["params"]):  # that one shows it inside
            from .hints import challenge_instructions
            description = next((t.get("description", "") for t in available_types(link)
                                if t.get("name") == ch["type"]), "")
            st.info(challenge_instructions(ch["type"], ch["params"], description),
                    icon=":material/directions_run:")
        summary = capture(_options_config(link, state), key=f"{prefix}-capture-{ch['id']}")
        if apply_capture_summary(state, summary):
            st.rerun()
    elif phase == "verifying":
        _verify_phase(link, state)
    elif phase == "error":
        from .common import error_box
        from .plain_words import humanize_times

        kind = state.get("error_kind")
        if kind == "busy":
            hint = ("The service is still analyzing the frames (a slow analyzer): wait a few "
                    "seconds and retry; your frames are kept.")
        elif kind == "verify":
            hint = "Retry the verification, or start a new challenge."
        else:
            hint = ("Check that the camera is allowed for this page and that the service "
                    f"({link.url}) is reachable from your browser, then start again.")
        started = (state.get("capture") or {}).get("captureStartedAt")
        error_box(humanize_times(str(state.get("error")), started), hint=hint)
        if state.get("can_retry") and st.button("Retry verification", key=f"{prefix}.retry",
                                                icon=":material/refresh:", type="primary"):
            state.update(phase="verifying", error=None, can_retry=False, error_kind=None)
            st.rerun()
    return state.get("phase", "idle")


def _verify_phase(link: ServiceLink, state: dict[str, Any]) -> None:
    import httpx

    from ..service.client import ApiError

    ch = state["challenge"]
    sent = (state.get("capture") or {}).get("framesSent", "?")
    with st.status(f"Verifying the {ch['type']} challenge ({sent} frames)…", expanded=True) as s:
        st.write("Waiting for the last frames' face analysis, then replaying the challenge's "
                 "state machine on every frame.")
        try:
            result = collect_result(link, ch, state.get("capture"))
        except (ApiError, httpx.HTTPError) as e:
            s.update(label="Verification failed", state="error")
            busy = getattr(e, "status_code", None) in (503, 429) or isinstance(
                e, httpx.TimeoutException)
            state.update(phase="error", error=f"verification failed: {e}", can_retry=True,
                         error_kind="busy" if busy else "verify")
            st.rerun()
            return
        s.update(label=f"Verified in {result['verify_s']:.1f} s", state="complete",
                 expanded=False)
    state.update(phase="done", result=result)
    remember_challenge({"id": ch["id"], "token": ch["token"], "type": ch["type"],
                        "params": ch["params"], "verdict": result["verdict"],
                        "in_process": link.in_process is not None, "at": time.time()})
    st.rerun()


def type_config(link: ServiceLink, challenge_type: str) -> dict[str, Any] | None:
    """The service's configuration of ``challenge_type`` (thresholds), or ``None`` if unknown."""
    svc = link.challenge_service
    try:
        if svc is not None:
            return svc.configs.for_type(svc.registry.get(challenge_type)).to_dict()
        with link.client(timeout=5.0) as client:
            for t in client.challenge_types():
                if t.get("name") == challenge_type:
                    return dict(t.get("config") or {})
    except Exception:  # unknown type or unreachable service: charts without threshold lines
        return None
    return None


def render_result(state: Mapping[str, Any], *, key: str,
                  config: Mapping[str, Any] | None = None) -> None:
    """The verdict badge, the run's numbers and the landmark traces of a finished run.

    ``config`` (the challenge type's thresholds, :func:`type_config`) draws the
    NOSE tolerances and rotation limits on the charts.
    """
    result = state.get("result") or {}
    ch = state.get("challenge") or {}
    verdict = result.get("verdict") or {}
    summary = state.get("capture") or {}
    status = result.get("status") or {}
    params = ch.get("params") or {}
    faces = result.get("faces") or []
    t0 = faces[0][0] if faces else None
    if t0 is None and result.get("trace"):
        t0 = min(int(r["timestamp"]) for r in result["trace"] if "timestamp" in r)
    verdict_badge(verdict, title=f"{ch.get('type', '')} challenge {ch.get('id', '')[:8]}",
                  t0_ms=t0)
    cols = st.columns(5)
    cols[0].metric("Frames sent", summary.get("framesSent", status.get("frameCount", 0)))
    cols[1].metric("Frames analyzed", status.get("analyzedCount", "n/a"))
    cols[2].metric("Frames used", verdict.get("frames_used", "n/a"),
                   help="frames the state machine processed before deciding")
    start, end = summary.get("captureStartedAt"), summary.get("endedAt")
    cols[3].metric("Capture time", f"{(end - start) / 1000:.1f} s" if start and end else "n/a")
    score = verdict.get("score")
    cols[4].metric("Score", f"{score:.3f}" if isinstance(score, (int, float)) else "none",
                   help="continuous score of the challenge (higher = more live); POSE has none")
    details = [f"ended in state `{verdict.get('final_state')}`",
               f"profile `{verdict.get('profile', 'n/a')}`",
               f"capture stopped: {summary.get('reason', 'n/a')}"]
    st.caption(" · ".join(details))
    if summary.get("errors"):
        from .plain_words import humanize_times

        with st.expander(f"{len(summary['errors'])} capture message(s)"):
            for line in summary["errors"]:
                st.text(humanize_times(str(line), summary.get("captureStartedAt") or t0))
    track = face_track(faces, params.get("imageWidth") or 640, params.get("imageHeight") or 480,
                       t0=t0)
    trace = trace_table(result.get("trace") or [], t0=t0)
    st.subheader("Landmark traces")
    st.caption(f"Faces of {result.get('faces_source', 'the frames')}; the state timeline and "
               "the trace table come from the verifier.")
    mirror = bool((state.get("options") or {}).get("mirror", False))
    trace_section(trace, track, params, challenge_type=str(ch.get("type")), config=config,
                  key=key, mirror=mirror)
