"""The capture component: browser camera -> JPEG frames -> the challenge service.

A Streamlit custom component (protocol v1, static files in ``frontend/``, no
build step). :func:`capture_config` builds what the browser needs for one
challenge; :func:`capture` mounts the component and returns its summary once
the run has ended (``None`` while it runs)::

    cfg = capture_config(link.url, challenge, steps=steps_for("NOSE"))
    result = capture(cfg, key=f"capture-{challenge.id}")
    if result and result["challengeId"] == challenge.id:
        ...  # verify

The summary: ``challengeId``, ``status`` (``done`` or ``error``), ``reason``
(``decided``, ``burst_complete``, ``time_limit``, ``frame_limit``,
``user_stopped``, ``refused``, ``unreachable``), ``framesSent``,
``framesFailed``, ``framesSkipped``, ``errors``, ``live`` (the last live
feedback), ``track`` (faces of the frames seen through the live feedback),
``frames`` (the JPEGs, base64, when ``keep_frames``), ``startedAt``,
``captureStartedAt``, ``endedAt`` (ms) and ``video`` (camera size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ...hints import HINTS, HINT_LEVELS

__all__ = ["FRONTEND_DIR", "STEP_LABELS", "capture_config", "steps_for", "capture",
           "is_single_frame_pose", "MAX_FPS"]

#: The component's static files (index.html, capture.js, capture.css).
FRONTEND_DIR = Path(__file__).resolve().parent / "frontend"
#: The original web client sent at most 12 frames per second.
MAX_FPS = 12

#: Labels of the progress chips, by state name.
STEP_LABELS = {"face_state": "1. Face found", "area_state": "2. Face in the box",
               "nose_state": "3. Nose on the target"}
#: Words for other state names (numbered by position).
STATE_WORDS = {"first_state": "face found", "neutral_state": "neutral face",
               "pose_state": "pose held", "return_state": "back to neutral",
               "baseline_state": "eyes open", "blink_state": "blinks",
               "centre_state": "face centred"}


def steps_for(state_names: Sequence[str]) -> list[dict[str, str]]:
    """Progress chips for a challenge type's states, in declaration order.

    >>> steps_for(["face_state", "area_state"])[1]
    {'state': 'area_state', 'label': '2. Face in the box'}
    >>> steps_for(["my_state", "neutral_state"])[1]["label"]
    '2. Neutral face'
    """
    out = []
    for i, name in enumerate(state_names, start=1):
        words = STATE_WORDS.get(name) or name.replace("_", " ")
        label = STEP_LABELS.get(name) or f"{i}. {words[0].upper()}{words[1:]}"
        out.append({"state": name, "label": label})
    return out


def is_single_frame_pose(challenge_type: str, params: Mapping[str, Any]) -> bool:
    """Whether a POSE challenge decides on its first frame (the original protocol).

    Multi-frame POSE params carry ``holdFrames`` > 1 or ``transition``: the pose is
    then captured continuously (neutral face, pose, neutral face) until decided.

    >>> is_single_frame_pose("POSE", {"pose": {}}), is_single_frame_pose("POSE", {"transition": True})
    (True, False)
    """
    if challenge_type.upper() != "POSE":
        return False
    try:
        hold = int(params.get("holdFrames", 1) or 1)
    except (TypeError, ValueError):
        hold = 1
    return hold <= 1 and not params.get("transition")


def capture_config(service_url: str, challenge: Mapping[str, Any], *, steps: Sequence[Mapping[str, str]] = (),
                   fps: float = MAX_FPS, max_seconds: float = 30.0, max_frames: int = 300,
                   mirror: bool = True, burst_frames: int = 6, countdown_s: int = 3,
                   pose_svg: str | None = None, instructions: str = "",
                   keep_frames: bool = False, jpeg_quality: float = 0.7,
                   poll_ms: int = 300, ready_s: float = 0.0, ready_text: str = "",
                   step_timeout_s: float | None = None, behind_warn: int = 8
                   ) -> dict[str, Any]:
    """The JSON configuration of one capture run.

    Parameters
    ----------
    service_url:
        Base URL of the challenge service, as the *browser* reaches it.
    challenge:
        ``{"id", "token", "type", "params"}`` as ``POST /challenge`` returned it;
        frames are ``imageWidth`` x ``imageHeight`` (the camera image is scaled
        and centre-cropped to that size).
    steps:
        Progress chips (:func:`steps_for`).
    fps:
        Frames per second, at most :data:`MAX_FPS`.
    max_seconds, max_frames:
        The run stops at whichever comes first (unless the challenge decides sooner).
    mirror:
        Show the preview (and the boxes) mirrored, like a mirror.
    burst_frames, countdown_s:
        Single-frame POSE (:func:`is_single_frame_pose`): after a countdown, send
        this many frames, then stop (it decides on its first frame). Every other
        challenge is captured continuously until the service's live replay decides.
    pose_svg, instructions:
        The requested pose as a picture and in words (POSE).
    keep_frames:
        Return the JPEGs to Python with the summary (to record sessions when
        the service's store is not reachable from the app).
    jpeg_quality:
        0..1, the original client's 0.7 by default.
    poll_ms:
        Interval of the live-feedback requests.
    ready_s, ready_text:
        Guided capture: the instructions are shown over the video for ``ready_s``
        seconds (or until "I'm ready") before anything is captured.
    step_timeout_s:
        The states' timeout, for the per-step countdown (``None``: no countdown).
    behind_warn:
        Frames sent but not analyzed yet from which the component says it is
        "analyzing, N frames behind".

    Raises
    ------
    ValueError
        A challenge without id / token / params, or out-of-range numbers.
    """
    for key in ("id", "token", "type", "params"):
        if key not in challenge:
            raise ValueError(f"challenge is missing {key!r}; expected the POST /challenge "
                             "response (id, token, type, params)")
    params = challenge["params"]
    try:
        width, height = int(params["imageWidth"]), int(params["imageHeight"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("challenge params need integer imageWidth and imageHeight") from None
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be in (0, {MAX_FPS}], got {fps!r}")
    if max_seconds <= 0 or max_frames < 1 or burst_frames < 1 or countdown_s < 0:
        raise ValueError("max_seconds, max_frames and burst_frames must be positive and "
                         "countdown_s >= 0")
    if ready_s < 0 or behind_warn < 1 or (step_timeout_s is not None and step_timeout_s <= 0):
        raise ValueError("ready_s must be >= 0, behind_warn >= 1 and step_timeout_s > 0")
    if not 0 < jpeg_quality <= 1:
        raise ValueError(f"jpeg_quality must be in (0, 1], got {jpeg_quality!r}")
    burst = is_single_frame_pose(str(challenge["type"]), params)
    return {
        "serviceUrl": service_url.rstrip("/"),
        "challenge": {"id": str(challenge["id"]), "token": str(challenge["token"]),
                      "type": str(challenge["type"]), "params": dict(params)},
        "width": width, "height": height, "fps": float(fps), "maxSeconds": float(max_seconds),
        "maxFrames": int(max_frames), "mode": "burst" if burst else "continuous",
        "burstFrames": int(burst_frames), "countdownS": int(countdown_s),
        "mirror": bool(mirror), "steps": [] if burst else [dict(s) for s in steps],
        "hints": dict(HINTS), "hintLevels": dict(HINT_LEVELS),
        "poseSvg": pose_svg, "instructions": instructions, "keepFrames": bool(keep_frames),
        "jpegQuality": float(jpeg_quality), "pollMs": int(poll_ms),
        "readyS": float(ready_s), "readyText": str(ready_text),
        "stepTimeoutS": float(step_timeout_s) if step_timeout_s else 0.0,
        "behindWarn": int(behind_warn),
    }


def capture(config: Mapping[str, Any], *, key: str) -> dict[str, Any] | None:
    """Mount the capture component for ``config``; its summary once the run ended, else ``None``.

    Use a ``key`` unique to the challenge, so a new challenge gets a fresh component.
    The component is declared on each call (a cheap registration of the static folder
    with the running Streamlit server).
    """
    import streamlit.components.v1 as components

    component = components.declare_component("liveness_capture", path=str(FRONTEND_DIR))
    return component(config=dict(config), key=key, default=None)
