"""The clients and what a genuine user does for each challenge type.

Each ``perform_*`` function scripts a :class:`~bench.sim2.people.LiveHead` for a challenge's
params (what the user does after seeing the instructions) and returns the client's filming
window ``(t_start, t_end)`` in ms. Times start when the client shows the challenge.

* **NOSE** (the original web client): frames of at most 480 x 480 at up to 12 fps, uploaded
  only during the nose step. The user has already fitted the face in the area (the client
  guided that step), the nose target appears at t = 0; after a reaction time the user brings
  the nose into the target with a minimum-jerk movement (duration from Fitts' law; one in four
  overshoots and corrects), by turning the head and partly by moving it. The client stops
  uploading once its own detector sees the nose inside the target box.
* **POSE**, two protocols. *photo* (the original): the client shows the pose and takes one
  photo after a 1.5-3 s countdown. *filmed* (params carry ``holdFrames`` and ``transition``):
  the client films a neutral face, shows the pose, then asks for the neutral face again, each
  phase at least one second and long enough for ``holdFrames + 1`` frames at its frame rate.
  Looking left/right moves the eyes by the person's gaze amplitude (with a small head turn
  the same way); the user mimics the pictured pose as in a mirror, so LOOKING_LEFT puts the
  pupils toward the image's left. Smiles open the mouth for some people only.
* **BLINK**: the hardened client (cues, the slight turn): :mod:`bench.sim2.blink_protocol`.
* **HEAD_TURN**: the client asks to look at the camera for one second, then shows each
  direction for 2.5 s; the user turns by his own amplitude *relative to his resting pose*,
  holds and comes back. Early movers start the first turn before the lead-in is over.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .camera import Camera
from .face import INDEX, PIVOT, rotation
from .people import LiveHead, Person

__all__ = ["NOSE_CLIENT", "fit_distance", "centre_face", "perform_nose", "perform_pose",
           "perform_head_turn", "nose_in_box", "HEAD_TURN_LEAD_MS", "HEAD_TURN_PERIOD_MS"]

#: The original web client's caps: (max width, max height, max fps).
NOSE_CLIENT = (480, 480, 12.0)
HEAD_TURN_LEAD_MS = 1000.0
HEAD_TURN_PERIOD_MS = 2500.0
_FACE_BOX_MM = 182.0  # height of a Rekognition-like face box on an average face


def fit_distance(person: Person, camera: Camera, box_fraction: float) -> Person:
    """The person at the distance where the face box is ``box_fraction`` of the image height."""
    d = camera.focal_px * _FACE_BOX_MM * person.geometry.points[INDEX["chinBottom"], 1] / 112.0 \
        / (box_fraction * camera.height)
    return replace(person, distance_mm=float(np.clip(d, 250.0, 1400.0)))


def _nose_px(head: LiveHead, camera: Camera, dyaw: float, dpitch: float, dx: float,
             dy: float) -> np.ndarray:
    """Where the nose appears with the head turned/moved by the given offsets from its resting
    place (no sway)."""
    p = head.person
    pts = p.geometry.points
    r = rotation(np.array([p.resting_yaw + dyaw]), np.array([p.resting_pitch + dpitch]),
                 np.array([p.resting_roll]))[0]
    r0 = rotation(np.array([p.resting_yaw]), np.array([p.resting_pitch]),
                  np.array([p.resting_roll]))[0]
    cam = r @ (pts[INDEX["nose"]] - PIVOT) + PIVOT + np.array(
        [dx + head.tx.rest, dy + head.ty.rest, p.distance_mm])
    cam -= r0 @ (np.array([0.0, 28.0, 0.0]) - PIVOT) + PIVOT
    return camera.project(cam)


def centre_face(head: LiveHead, camera: Camera, rng: np.random.Generator) -> None:
    """Move the head so that its face box is centred in the image (within a few pixels), as the
    original client's face and area steps make the user do before the nose step starts."""
    px = camera.project(head.states(np.array([0.0])).points[0])
    top = px[[INDEX["leftEyeBrowUp"], INDEX["rightEyeBrowUp"]], 1].min()
    chin = px[INDEX["chinBottom"], 1]
    cy = top - 0.32 * (chin - top) + 0.5 * 1.37 * (chin - top)
    cx = 0.5 * (px[:, 0].min() + px[:, 0].max())
    err = np.array([cx - camera.width / 2, cy - camera.height / 2]) + rng.normal(0, 4.0, 2)
    mm = err * head.person.distance_mm / camera.focal_px
    head.tx.rest -= float(mm[0])
    head.ty.rest -= float(mm[1])


def _fitts_ms(distance_px: float, width_px: float, person: Person) -> float:
    return (250.0 + 160.0 * np.log2(1.0 + distance_px / width_px)) * person.turn_ms / 575.0


def nose_in_box(nose_px: tuple[float, float] | None, params: dict, margin: float = 0.0) -> bool:
    if nose_px is None:
        return False
    x, y = nose_px
    return (params["noseLeft"] - margin <= x <= params["noseLeft"] + params["noseWidth"] + margin
            and params["noseTop"] - margin <= y <= params["noseTop"] + params["noseHeight"]
            + margin)


def perform_nose(head: LiveHead, camera: Camera, params: dict, rng: np.random.Generator,
                 target_px: np.ndarray | None = None) -> tuple[float, float]:
    """Bring the nose to the target (``target_px`` overrides the params' box centre)."""
    p = head.person
    centre_face(head, camera, rng)
    if target_px is None:
        target_px = np.array([params["noseLeft"] + params["noseWidth"] / 2,
                              params["noseTop"] + params["noseHeight"] / 2])
    aim = np.asarray(target_px, float) + rng.uniform(-6.0, 6.0, 2)
    start = _nose_px(head, camera, 0, 0, 0, 0)
    want = aim - start
    # rotation part: Newton on (dyaw, dpitch) for rotate_fraction of the displacement
    goal = start + p.rotate_fraction * want
    ang = np.zeros(2)
    for _ in range(6):
        f0 = _nose_px(head, camera, ang[0], ang[1], 0, 0) - goal
        jac = np.empty((2, 2))
        for k in range(2):
            e = np.zeros(2)
            e[k] = 0.5
            jac[:, k] = (_nose_px(head, camera, *(ang + e), 0, 0) - goal - f0) / 0.5
        ang = ang - np.linalg.solve(jac, f0)
        ang = np.clip(ang, -40, 40)
    rest = aim - _nose_px(head, camera, ang[0], ang[1], 0, 0)
    z = p.distance_mm
    trans = rest * z / camera.focal_px
    t0 = p.reaction(rng)
    dur = _fitts_ms(float(np.linalg.norm(want)), 20.0, p)
    k = rng.uniform(1.05, 1.2) if rng.random() < 0.25 else 1.0
    head.yaw.step(t0, dur, ang[0] * k)
    head.pitch.step(t0, dur, ang[1] * k)
    head.tx.step(t0, dur, trans[0] * k)
    head.ty.step(t0, dur, trans[1] * k)
    if k > 1.0:  # correct the overshoot
        t1 = t0 + dur + rng.uniform(120.0, 300.0)
        d2 = dur * 0.5
        head.yaw.step(t1, d2, ang[0] * (1 - k))
        head.pitch.step(t1, d2, ang[1] * (1 - k))
        head.tx.step(t1, d2, trans[0] * (1 - k))
        head.ty.step(t1, d2, trans[1] * (1 - k))
    return 0.0, 12000.0


def _pose_phase(head: LiveHead, pose: dict, t_cue: float, rng: np.random.Generator,
                back_at: float | None) -> None:
    """Show the requested eyes/mouth pose from ``t_cue`` (and go back to neutral at ``back_at``)."""
    p = head.person
    t = t_cue + p.reaction(rng)
    eyes, mouth = pose["eyes"], pose["mouth"]
    moves = []
    if eyes == "CLOSED":
        moves.append((head.eyes.level, 150.0, float(rng.uniform(0.0, 0.08)), 1.0))
    elif eyes in ("LOOKING_LEFT", "LOOKING_RIGHT"):
        sign = -1.0 if eyes == "LOOKING_LEFT" else 1.0
        amp = p.gaze_amplitude
        moves.append((head.gaze_yaw, 200.0, sign * amp, 0.0))
        moves.append((head.yaw, 400.0, head.yaw.final() + sign * amp * rng.uniform(0.05, 0.3),
                      head.yaw.final()))
    if mouth == "SMILE":
        moves.append((head.smile, 350.0, p.smile_intensity, 0.0))
        if p.smile_opens_mouth:
            moves.append((head.mouth, 350.0, float(rng.uniform(5.0, 12.0)), 0.0))
    for ch, dur, target, neutral in moves:
        ch.move_to(t, dur, target)
    if back_at is not None:
        tb = back_at + p.reaction(rng)
        for ch, dur, _target, neutral in moves:
            ch.move_to(tb, dur, neutral)


def pose_phases(params: dict, camera: Camera) -> tuple[float, float]:
    """(neutral, pose) phase durations (ms) of the filmed client."""
    hold = int(params.get("holdFrames", 1))
    phase = max(1000.0, (hold + 1) * 1000.0 / camera.fps)
    return phase, max(1500.0, (hold + 2) * 1000.0 / camera.fps)


def perform_pose(head: LiveHead, camera: Camera, params: dict, rng: np.random.Generator,
                 filmed: bool) -> tuple[float, float]:
    if not filmed:
        _pose_phase(head, params["pose"], 0.0, rng, None)
        t = float(rng.uniform(1500.0, 3000.0))
        return t, t
    neutral, hold = pose_phases(params, camera)
    _pose_phase(head, params["pose"], neutral, rng, neutral + hold)
    return 0.0, 2 * neutral + hold


_DIRS = {"LEFT": (1.0, 0.0), "RIGHT": (-1.0, 0.0), "UP": (0.0, 1.0), "DOWN": (0.0, -1.0)}


def perform_head_turn(head: LiveHead, camera: Camera, params: dict, rng: np.random.Generator
                      ) -> tuple[float, float]:
    p = head.person
    seq = list(params["sequence"])
    for k, d in enumerate(seq):
        cue = HEAD_TURN_LEAD_MS + k * HEAD_TURN_PERIOD_MS
        if k == 0 and p.early_mover:
            start = float(rng.uniform(100.0, 500.0))
        else:
            start = cue + p.reaction(rng)
        dy, dp = _DIRS[d]
        amp_y = p.turn_yaw * rng.uniform(0.85, 1.1)
        amp_p = p.turn_pitch * rng.uniform(0.85, 1.1)
        dur = p.turn_ms * rng.uniform(0.85, 1.15)
        hold = rng.uniform(500.0, 900.0)
        head.yaw.step(start, dur, dy * amp_y)
        head.pitch.step(start, dur, dp * amp_p)
        back = start + dur + hold
        head.yaw.step(back, dur, -dy * amp_y)
        head.pitch.step(back, dur, -dp * amp_p)
    return 0.0, HEAD_TURN_LEAD_MS + len(seq) * HEAD_TURN_PERIOD_MS + 800.0
