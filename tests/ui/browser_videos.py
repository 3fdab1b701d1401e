"""The browser tests' fake-camera videos, and the service's verdict on their frames.

The videos are rendered from a real photo (matplotlib's ``grace_hopper.jpg``) by
:mod:`liveness_lab.synth.render` and written as Y4M files for Chromium's fake webcam;
:func:`offline_verdict` is the service's verdict on the same frames (its analyzer, its
profile), so a test states its input is right before it drives the browser.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from browser_helpers import FPS, HEIGHT, MARK_BITS, MARK_PX, SEED, WIDTH, Studio


def _encode(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 70])  # as the browser sends them
    assert ok
    return buf.tobytes()


def face_rig():
    from liveness_lab.synth.render import (Camera, FacePlacement, HeadRig, load_photo,
                                           photo_landmarks)

    return HeadRig(load_photo("grace_hopper"), photo_landmarks("grace_hopper"),
                   Camera(WIDTH, HEIGHT, 60.0), FacePlacement(WIDTH / 2, HEIGHT / 2, 170.0))


def offline_verdict(challenge_type: str, params: dict, frames: list[tuple[int, np.ndarray]],
                    studio: "Studio"):
    """The verdict of the rendered frames with the service's analyzer, as it sees them:
    frames analyzed without descriptors, then, when the profile checks identity, the
    service's descriptor stage on its sample of frames (``service/identity.py``)."""
    from liveness_lab.analyzers import create_analyzer
    from liveness_lab.challenges import default_registry
    from liveness_lab.challenges.checks import checks_identity
    from liveness_lab.config import resolve_configs
    from liveness_lab.service.identity import (AnalyzerDescriber, DescriptorStage,
                                               annotate_session)
    from liveness_lab.verify import run_challenge

    ctype = default_registry().get(challenge_type)
    cfg = resolve_configs(studio.profile).for_type(ctype)
    images = [_encode(img) for _, img in frames]
    with create_analyzer(studio.analyzer) as analyzer:
        faces = [analyzer.analyze(data) for data in images]
    stamps = [ts for ts, _ in frames]

    def replay(per_frame):
        return run_challenge(ctype, params, list(zip(stamps, per_frame)), cfg)
    if checks_identity(cfg):
        stage = DescriptorStage(AnalyzerDescriber(create_analyzer(studio.analyzer,
                                                                  descriptors=True)))
        try:
            faces, _ = annotate_session(stage, replay, [lambda d=d: d for d in images], faces)
        finally:
            stage.close()
    return replay(faces)


def nose_video(params: dict, mode: str, path: Path, studio: "Studio") -> tuple[bool, str]:
    """The NOSE session as a looping video; returns its offline (success, code).

    The face is held centred for 4 s (the capture may start anywhere in the first
    seconds of the loop), moves for 2 s, then holds at the target.
    """
    from liveness_lab.synth.render import render_nose_session
    from liveness_lab.synth.video import write_y4m

    frames = render_nose_session(params, mode=mode, seed=SEED, fps=FPS, duration_s=3.0)
    images = [img for _, img in frames]
    write_y4m(path, [images[0]] * (4 * FPS) + images + [images[-1]] * (3 * FPS), FPS)
    verdict = offline_verdict("NOSE", params, frames, studio)
    return verdict.success, verdict.code


def still_video(path: Path, seconds: float = 6.0) -> np.ndarray:
    """The photo's face, centred and still (a presented photo, or a person who does nothing)."""
    from liveness_lab.synth.render import HeadPose
    from liveness_lab.synth.video import write_y4m

    img = face_rig().render(HeadPose())
    write_y4m(path, [img] * int(seconds * FPS), FPS)
    return img


def write_marked_y4m(path: Path, images: list[np.ndarray]) -> None:
    """Write ``images`` as the fake camera's looping video, each stamped with its index.

    The index is drawn in binary as black / white blocks along the top-left corner (far
    from the face), so :func:`run_in_browser` can start the capture at a chosen frame of
    the video (``start_frame``) by reading what the camera shows.
    """
    from liveness_lab.synth.video import write_y4m

    if len(images) >= 2 ** MARK_BITS:
        raise ValueError(f"at most {2 ** MARK_BITS - 1} frames can be marked")
    marked = []
    for i, img in enumerate(images):
        img = img.copy()
        for b in range(MARK_BITS):
            img[:MARK_PX, b * MARK_PX:(b + 1) * MARK_PX] = 255 if i >> b & 1 else 0
        marked.append(img)
    write_y4m(path, marked, FPS)


#: rendered head pose per HEAD_TURN direction (the local analyzer measures about 2/3 of it)
TURN_POSES = {"LEFT": (35.0, 0.0), "UP": (0.0, 25.0), "DOWN": (0.0, -25.0),
              "RIGHT": (-35.0, 0.0)}


def head_turn_video(sequence: list[str], path: Path) -> list[tuple[int, np.ndarray]]:
    """The head turning through ``sequence`` (centre between turns), looping; returns one pass."""
    from liveness_lab.synth.render import HeadPose

    rig = face_rig()
    poses: list[tuple[float, float]] = [(0.0, 0.0)] * int(3 * FPS)
    for direction in sequence:
        yaw, pitch = TURN_POSES[direction]
        ramp = [i / 5 for i in range(1, 6)]
        poses += [(yaw * s, pitch * s) for s in ramp] + [(yaw, pitch)] * 8
        poses += [(yaw * (1 - s), pitch * (1 - s)) for s in ramp] + [(0.0, 0.0)] * 8
    poses += [(0.0, 0.0)] * int(3 * FPS)
    cache: dict[tuple[float, float], np.ndarray] = {}
    images = []
    for pose in poses:
        if pose not in cache:
            cache[pose] = rig.render(HeadPose(*pose))
        images.append(cache[pose])
    write_marked_y4m(path, images)
    start = 1_700_000_000_000
    return [(start + round(1000 * i / FPS), img) for i, img in enumerate(images)]


def close_eyes(img: np.ndarray, landmarks: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """``img`` with both eyes closed by ``amount`` (0 open .. 1 shut): skin from above each eye
    drawn down over it (the upper lid), and at 1 a lash line along the lower lid.

    ``landmarks`` are the frame's 68 dlib landmarks (:meth:`HeadRig.landmarks`). The mesh
    analyzer reads a shut eye as ``EyesOpen`` false (eye aspect ratio under its threshold).
    """
    import cv2

    out = img.astype(np.float32)
    for eye in (landmarks[36:42], landmarks[42:48]):
        eye = np.asarray(eye, dtype=np.float64)
        centre = eye.mean(axis=0)
        width = float(np.linalg.norm(eye[3] - eye[0]))
        outline = centre + (eye - centre) * [1.25, 1.9]       # the eye and its lids
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255)
        soft = cv2.GaussianBlur(mask, (0, 0), 0.12 * width).astype(np.float32)[..., None] / 255
        lid = np.roll(img, int(round(0.45 * width)), axis=0).astype(np.float32)
        out = out * (1 - soft * amount) + lid * (soft * amount)
        if amount >= 1:
            lash = np.vstack([eye[0], eye[5], eye[4], eye[3]]) + [0, -0.05 * width]
            cv2.polylines(out, [np.round(lash).astype(np.int32)], False, (60, 45, 40),
                          max(1, int(width * 0.06)), cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


def blink_video(params: dict, path: Path, lead_s: float) -> list[tuple[int, np.ndarray]]:
    """A person doing a cue-timed BLINK (params with ``cuesMs`` and ``turn``), looping.

    Times count from ``lead_s`` into the video, where the capture is to start (its first
    frame is the cues' time zero): centred, the small head turn ``turn`` asks for and back
    (0.5..1.9 s, before the first cue), then a blink starting 600 ms after each cue (inside
    the 150..1000 ms reaction window however the capture's start falls on a frame), 330 ms shut. Returns the frames from the
    capture start, with their times.
    """
    from liveness_lab.synth.render import HeadPose

    rig = face_rig()
    yaw = {"LEFT": 25.0, "RIGHT": -25.0}[params["turn"]]  # the subject's own side
    end_s = lead_s + params["cuesMs"][-1] / 1000 + 2.5
    n = int(round(end_s * FPS))
    blinks = [lead_s + c / 1000 + 0.6 for c in params["cuesMs"]]
    cache: dict[tuple[float, float], np.ndarray] = {}
    images = []
    for i in range(n):
        t = i / FPS - lead_s
        turn = float(np.clip(min((t - 0.5) / 0.4, (1.9 - t) / 0.4), 0.0, 1.0))
        closed = 0.0
        for b in blinks:
            dt = i / FPS - b
            if 0 <= dt < 0.33:
                closed = 1.0
            elif -1 / FPS <= dt < 0 or 0.33 <= dt < 0.33 + 1 / FPS:
                closed = 0.5
        key = (round(yaw * turn, 3), closed)
        if key not in cache:
            pose = HeadPose(yaw=key[0])
            img = rig.render(pose)
            cache[key] = close_eyes(img, rig.landmarks(pose), closed) if closed else img
        images.append(cache[key])
    write_marked_y4m(path, images)
    first = int(round(lead_s * FPS))
    start = 1_700_000_000_000
    return [(start + round(1000 * (i - first) / FPS), img)
            for i, img in enumerate(images) if i >= first]
