"""Live challenge: the browser camera against the challenge service, then the verdict and traces."""

from __future__ import annotations

import hashlib
import time
from typing import Any, Mapping

import streamlit as st

from ..common import error_box, page_header, profile_banner, service_link, service_sidebar
from ..flow import (available_types, flow_state, render_flow, render_result, reset_flow,
                    start_challenge, type_config)
from ..service_link import ServiceLink

__all__ = ["render", "SIZES", "INSTRUCTIONS", "submit_photo"]

PREFIX = "live"
PHOTO_KEY = "live.photo"

#: Frame sizes offered (width, height): the challenge's imageWidth x imageHeight.
SIZES = {"640 × 480": (640, 480), "480 × 480 (the original client's largest)": (480, 480),
         "320 × 240": (320, 240)}

INSTRUCTIONS = {
    "NOSE": "Fit your face in the **white box**, hold still a moment, then move the **tip of "
            "your nose** toward the **yellow box** by turning your head. The challenge ends on "
            "its own.",
    "POSE": "A picture shows the pose to make (eyes, mouth). Make it before the countdown "
            "ends: a short burst of frames is taken then.",
    "BLINK": "Look at the camera with your eyes open, then blink the number of times asked, "
             "naturally, within the time shown.",
    "HEAD_TURN": "Face the camera, then turn your head in each direction of the sequence, "
                 "coming back to the centre between turns. Read the whole sequence first.",
    "random": "The service draws a challenge type at random. Follow the instructions shown with "
              "the video.",
}


def _controls(link: ServiceLink, *, busy: bool = False) -> dict[str, Any] | None:
    """The start form; returns the chosen options when Start was pressed.

    It stays on the page, disabled, while a run is ``busy`` (so the choices persist).
    """
    types = available_types(link)
    names = [t["name"] for t in types] + ["random"]
    c1, c2, c3 = st.columns([2, 2, 1])
    descriptions = {t["name"]: t.get("description") or "" for t in types}
    ctype = c1.selectbox("Challenge", names, index=names.index("NOSE") if "NOSE" in names else 0,
                         key="live.type", disabled=busy,
                         format_func=lambda n: f"{n} - {descriptions[n]}" if descriptions.get(n)
                         else ("random - the service chooses" if n == "random" else n))
    size = c2.selectbox("Frame size", list(SIZES), key="live.size", disabled=busy,
                        help="imageWidth x imageHeight of the challenge; the camera image is "
                             "scaled and centre-cropped to it")
    c3.write("")
    start = c3.button("Start challenge", type="primary", icon=":material/videocam:",
                      key="live.start", width="stretch", disabled=busy)
    with st.expander("Capture options"):
        o1, o2, o3 = st.columns(3)
        fps = o1.slider("Frames per second", 2, 12, 12, key="live.fps", disabled=busy,
                        help="at most 12, as the original web client")
        max_s = o2.slider("Time limit (s)", 5, 60, 30, key="live.max_s", disabled=busy)
        mirror = o3.toggle("Mirror the preview", True, key="live.mirror", disabled=busy)
    chosen = ctype or names[0]
    if not busy:
        text = INSTRUCTIONS.get(chosen) or next(
            (t.get("description") for t in types if t["name"] == chosen), "") \
            or INSTRUCTIONS["random"]
        st.info(text + " The instructions for your challenge are shown over the video "
                "before the capture starts.", icon=":material/info:")
    if not start or busy:
        return None
    w, h = SIZES[size]
    return {"challenge_type": chosen, "width": w, "height": h,
            "options": {"fps": fps, "max_seconds": max_s, "mirror": mirror}}


def _live_tab(link: ServiceLink) -> None:
    state = flow_state(PREFIX)
    phase = state.get("phase", "idle")
    busy = phase in ("capturing", "verifying")
    if busy:
        # the video first (on a phone it is then above the fold); the choices stay below,
        # disabled, so they persist for the next run
        phase = render_flow(link, PREFIX)
        if phase == "capturing":
            ch = state["challenge"]
            st.caption(f"{ch['type']} challenge `{ch['id'][:8]}` · frames go straight from "
                       f"this page to `{link.url}` · press Stop to end early")
        _controls(link, busy=True)
        return
    chosen = _controls(link, busy=False)
    if chosen is not None:
        start_challenge(link, PREFIX, challenge_type=chosen["challenge_type"],
                        width=chosen["width"], height=chosen["height"],
                        options=chosen["options"])
        st.rerun()
    phase = render_flow(link, PREFIX)
    if phase == "done":
        render_result(state, key="live-result",
                      config=type_config(link, state["challenge"]["type"]))
        b1, b2, _ = st.columns([1, 1.6, 2.4])
        if b1.button("New challenge", icon=":material/restart_alt:", key="live.again"):
            reset_flow(PREFIX)
            st.rerun()
        if link.in_process is not None:
            if b2.button("Open in the Session explorer", icon=":material/manage_search:",
                         key="live.explore"):
                from ..navigation import page_for

                st.session_state["explorer.open_live"] = state["challenge"]["id"]
                st.switch_page(page_for("explorer"))


def submit_photo(link: ServiceLink, challenge: Mapping[str, Any], jpeg: bytes,
                 timestamp_ms: int | None = None, *, wait_s: float = 3.0) -> dict[str, Any]:
    """Send one photo as a frame of ``challenge`` and return the live feedback on it.

    The feedback is ``GET /challenge/{id}/frames/latest`` after waiting up to
    ``wait_s`` seconds for the photo's analysis.
    """
    from ...service.client import Challenge

    ch = Challenge(challenge["id"], challenge["token"], challenge["type"], challenge["params"])
    ts = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
    with link.client(timeout=30.0) as client:
        client.put_frame(ch, ts, jpeg)
        return client.latest_frame(ch, wait=wait_s)


def _photo_challenge(link: ServiceLink, ctype: str, size: tuple[int, int]) -> dict[str, Any]:
    """Create the photo fallback's challenge *before* any photo: its instructions come first."""
    with link.client(timeout=30.0) as client:
        c = client.create_challenge(size[0], size[1], challenge_type=ctype)
    return {"id": c.id, "token": c.token, "type": c.type, "params": dict(c.params)}


def _photo_tab(link: ServiceLink) -> None:
    """``st.camera_input`` photos sent one by one through the app (no direct browser upload).

    The challenge is created when the user presses Start, so its instructions (the
    POSE to make, as a picture and in words) are on the page before the photo that
    decides it. Photos are scaled and centre-cropped to the challenge's frame size.
    """
    import httpx

    from ..drawing import cover_resize, decode_jpeg, draw_frame, encode_jpeg
    from ..flow import collect_result
    from ..hints import challenge_instructions, live_hint
    from ...service.client import ApiError
    from ..tracks import as_faces

    st.markdown("No live video? Take photos instead: each photo is sent to the service through "
                "the app and analyzed. A **POSE** challenge decides on the first photo; a "
                "**NOSE** challenge needs several photos, moving a little between them, within "
                "its 10 s per step.")
    photo = st.session_state.setdefault(PHOTO_KEY, {"photos": [], "challenge": None})
    ch = photo["challenge"]
    c1, c2 = st.columns([2, 1])
    ctype = c1.segmented_control("Challenge", ["POSE", "NOSE"], default="POSE",
                                 key="live.photo.type", required=True,
                                 disabled=ch is not None)
    if ch is None:
        if c2.button("Start photo challenge", key="live.photo.start", type="primary",
                     icon=":material/photo_camera:"):
            try:
                photo["challenge"] = _photo_challenge(link, ctype or "POSE", SIZES["640 × 480"])
            except (ApiError, httpx.HTTPError) as e:
                error_box(f"The service refused to create a challenge: {e}")
                return
            st.rerun()
        st.caption("Press **Start photo challenge**: the instructions appear first, then the "
                   "camera.")
        return
    if c2.button("Start over", key="live.photo.reset", icon=":material/restart_alt:"):
        st.session_state[PHOTO_KEY] = {"photos": [], "challenge": None,
                                       "round": photo.get("round", 0) + 1}
        st.rerun()
    st.caption(f"{ch['type']} challenge `{ch['id'][:8]}`")
    pose = ch["params"].get("pose")
    if ch["type"] == "POSE" and isinstance(pose, Mapping):
        from ..drawing import pose_instructions, pose_svg
        p1, p2 = st.columns([1, 3])
        with p1:
            # drawn as the person sees themselves in the (mirrored) camera preview
            st.image(pose_svg(pose["eyes"], pose["mouth"], mirror=True, size=140), width=140)
        p2.markdown(f"**Make this pose, then take the photo:** "
                    f"{pose_instructions(pose['eyes'], pose['mouth'])}")
    else:
        st.info(challenge_instructions(ch["type"], ch["params"]), icon=":material/info:")
    width, height = int(ch["params"]["imageWidth"]), int(ch["params"]["imageHeight"])
    if photo.get("result") is None:
        shot = st.camera_input("Take a photo", key=f"live.photo.cam.{photo.get('round', 0)}")
        if shot is not None:
            data = shot.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            if digest not in {p["sha256"] for p in photo["photos"]}:
                try:
                    rgb = decode_jpeg(data)
                    if rgb.shape[:2] != (height, width):
                        data = encode_jpeg(cover_resize(rgb, width, height))
                    elif data[:3] != b"\xff\xd8\xff":
                        data = encode_jpeg(rgb)
                    with st.spinner("Analyzing the photo…"):
                        feedback = submit_photo(link, ch, data)
                except (ApiError, httpx.HTTPError, ValueError) as e:
                    error_box(f"The photo could not be used: {e}")
                    return
                faces = ((feedback.get("frame") or {}).get("faces")) or []
                _, level, text = live_hint(feedback.get("state"), faces, ch["params"],
                                           decided=feedback.get("decided"),
                                           success=feedback.get("success"))
                if feedback.get("decided"):
                    text = "the challenge has decided: press Verify now"
                photo["photos"].append({"sha256": digest, "jpeg": data, "faces": faces,
                                        "hint": text, "level": level})
                st.rerun()
    for i, p in enumerate(reversed(photo["photos"][-3:])):
        img = draw_frame(p["jpeg"], as_faces(p["faces"]), ch["params"])
        st.image(img, caption=f"photo {len(photo['photos']) - i}: {p['hint']}", width=420)
    if photo["photos"] and photo.get("result") is None:
        if st.button("Verify now", type="primary", key="live.photo.verify",
                     icon=":material/verified_user:"):
            with st.spinner("Verifying…"):
                try:
                    photo["result"] = collect_result(link, ch)
                except (ApiError, httpx.HTTPError) as e:
                    error_box(f"Verification failed: {e}")
                    return
            st.rerun()
    if photo.get("result") is not None:
        render_result({"challenge": ch, "result": photo["result"],
                       "capture": {"framesSent": len(photo["photos"]), "reason": "photos"}},
                      key="live-photo-result", config=type_config(link, ch["type"]))


def render() -> None:
    """The Live challenge page."""
    page_header("Live challenge",
                "Take a challenge with your camera. Frames go from this page to the challenge "
                "service (as the original web client sent them), which analyzes each one; the "
                "hints come from that analysis. Then see the verdict, its reason and the "
                "landmark traces.")
    try:
        link = service_link()
    except Exception as e:  # the in-process service could not start
        error_box(f"The challenge service is not available: {e}",
                  hint="Start the app with `liveness-lab app --service-url URL` to use a "
                       "running `liveness-lab serve`.")
        return
    service_sidebar(link)
    profile_banner(link)
    live, photo = st.tabs([":material/videocam: Camera", ":material/photo_camera: Photo fallback"])
    with live:
        _live_tab(link)
    with photo:
        _photo_tab(link)
