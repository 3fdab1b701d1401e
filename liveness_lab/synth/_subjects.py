"""Simulated people and the Rekognition-like measurement of their faces.

:class:`_Subject` is a person (head shape, habits, how the detector sees
them); :class:`_Track` is one face's true state over a session's frames;
:func:`_measure` turns a track into Rekognition-shaped ``FaceDetail`` JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..faces import LANDMARK_TYPES
from ._head import FlatPrint, HeadModel, face_box
from ._motion import _PITCH, _ROLL, _X, _Y, _YAW, _HeadRig, _Plan, _PrintRig

# Rekognition-like attribute outputs: (value, confidence) produced by a classifier that is
# right with probability 1 - error.
_ATTR_ERROR = 0.005

# =============================================================================================
# subjects and the Rekognition-like measurement
# =============================================================================================

_STYLES = ("typical", "slow", "undershooter", "drifter", "translator")
_STYLE_P = (0.74, 0.08, 0.07, 0.05, 0.06)


@dataclass(frozen=True, eq=False)
class _Subject:
    """A simulated person: a head, habits, and how Rekognition sees their face."""

    subject_id: str
    head: HeadModel
    style: str
    speed: float              # movement duration multiplier (>1: slower)
    reaction_s: float         # median reaction time, s
    gain: float               # mean amplitude gain of a primary movement (<1: undershoot)
    translation_share: float  # share of the nose displacement done by moving, not turning
    roll_coupling: float      # roll per degree of yaw while turning
    drop_rate: float          # per-frame probability that the detector misses the face
    mirror_prone: float       # probability of first answering a mirrored instruction
    blink_rate: float         # blinks per second
    yaw_bias: float           # the detector's pose bias for this face, degrees
    pitch_bias: float
    closed_smile: bool        # smiles without opening the mouth
    brightness: float
    sharpness: float

    @classmethod
    def sample(cls, subject_id: str, rng: np.random.Generator) -> "_Subject":
        style = str(rng.choice(_STYLES, p=_STYLE_P))
        speed = float(np.exp(rng.normal(0.0, 0.18)))
        reaction = float(np.exp(rng.normal(math.log(0.65), 0.25)))
        gain = float(rng.normal(0.95, 0.05))
        share = float(rng.uniform(0.05, 0.25))
        if style == "slow":
            speed *= float(rng.uniform(1.6, 2.4))
            reaction += float(rng.uniform(0.8, 2.5))
        elif style == "undershooter":
            gain = float(rng.uniform(0.55, 0.75))
        elif style == "translator":
            share = float(rng.uniform(0.55, 0.9))
        drop = 0.0003 if rng.random() < 0.92 else float(rng.uniform(0.005, 0.02))
        return cls(subject_id=subject_id, head=HeadModel.generic().varied(rng), style=style,
                   speed=speed, reaction_s=reaction, gain=gain, translation_share=share,
                   roll_coupling=float(rng.normal(0.0, 0.08)), drop_rate=drop,
                   mirror_prone=float(rng.choice([0.0, 0.05, 0.15], p=[0.6, 0.3, 0.1])),
                   blink_rate=float(rng.uniform(0.15, 0.5)),
                   yaw_bias=float(rng.normal(0.0, 1.5)), pitch_bias=float(rng.normal(0.0, 2.5)),
                   closed_smile=bool(rng.random() < 0.08),
                   brightness=float(np.clip(rng.normal(62.0, 12.0), 20.0, 95.0)),
                   sharpness=float(rng.uniform(25.0, 90.0)))


@dataclass
class _Track:
    """One face's true state over the recorded frames, and how to report it."""

    landmarks: np.ndarray                 # (T, 30, 2) px, true
    pose: np.ndarray                      # (T, 3) yaw, pitch, roll the detector would estimate
    eyes_open: np.ndarray                 # (T,) bool, true
    smile: np.ndarray
    mouth_open: np.ndarray
    speed: np.ndarray                     # (T,) angular speed deg/s (motion blur, misses)
    drop_rate: float
    brightness: float
    sharpness: float
    confidence_loss: float = 0.01         # median of 100 - Confidence
    pose_noise: tuple[float, float, float] = (1.0, 1.2, 0.7)
    visible: np.ndarray | None = None     # (T,) bool: in view at all
    identity: Any = None                  # seed key of the person shown (None: the subject)
    medium: str = "live"                  # "live", "print" or "screen" (what a PAD stage sees)


def _attribute(rng: np.random.Generator, truth: np.ndarray, error: float = _ATTR_ERROR
               ) -> tuple[np.ndarray, np.ndarray]:
    wrong = rng.random(truth.shape) < error
    conf = np.where(wrong, rng.uniform(51.0, 80.0, truth.shape),
                    rng.uniform(86.0, 99.95, truth.shape))
    return truth ^ wrong, conf


def _measure(rng: np.random.Generator, track: _Track, width: int, height: int,
             noise: float = 1.0) -> list[dict[str, Any] | None]:
    """Rekognition-like ``FaceDetail`` JSON for each frame (``None``: face not detected).

    ``noise`` multiplies the landmark, box and pose noise (a stress condition)."""
    lm = track.landmarks
    n = len(lm)
    box = face_box(lm)
    size = np.maximum(box[:, 2], 1.0)
    if noise != 1.0:
        size = size * noise
    noisy = (lm + rng.normal(0.0, 1.0, lm.shape) * (0.004 * size)[:, None, None]
             + rng.normal(0.0, 1.0, (n, 1, 2)) * (0.002 * size)[:, None, None])
    box = box + rng.normal(0.0, 1.0, box.shape) * (0.006 * size)[:, None]
    pose = track.pose + rng.normal(0.0, 1.0, (n, 3)) * (np.asarray(track.pose_noise) * noise)
    eyes, eyes_c = _attribute(rng, track.eyes_open)
    smile, smile_c = _attribute(rng, track.smile)
    mouth, mouth_c = _attribute(rng, track.mouth_open)
    conf = 100.0 - track.confidence_loss * np.exp(rng.normal(0.0, 1.0, n)) * (
        1.0 + np.abs(pose[:, 0]) / 15.0)
    conf = np.clip(conf, 50.0, 100.0)
    blur = np.exp(-track.speed / 80.0)
    sharp = np.clip(track.sharpness * blur * rng.uniform(0.93, 1.07, n), 1.0, 99.9)
    bright = np.clip(track.brightness + rng.normal(0.0, 1.5, n), 1.0, 99.9)
    p_miss = np.clip(track.drop_rate * (1.0 + track.speed / 30.0), 0.0, 1.0)
    detected = rng.random(n) >= p_miss
    if track.visible is not None:
        detected &= track.visible
    xs = np.round(noisy[..., 0] / width, 6).tolist()
    ys = np.round(noisy[..., 1] / height, 6).tolist()
    bx = np.round(box / [width, height, width, height], 6).tolist()
    pose = np.round(pose, 4).tolist()
    conf = np.round(conf, 5).tolist()
    qual = np.round(np.stack((bright, sharp), axis=1), 4).tolist()
    attrs = [(np.asarray(v).tolist(), np.round(c, 4).tolist())
             for v, c in ((smile, smile_c), (eyes, eyes_c), (mouth, mouth_c))]
    out: list[dict[str, Any] | None] = []
    for t in range(n):
        if not detected[t]:
            out.append(None)
            continue
        out.append({
            "BoundingBox": {"Width": bx[t][2], "Height": bx[t][3], "Left": bx[t][0],
                            "Top": bx[t][1]},
            "Smile": {"Value": attrs[0][0][t], "Confidence": attrs[0][1][t]},
            "EyesOpen": {"Value": attrs[1][0][t], "Confidence": attrs[1][1][t]},
            "MouthOpen": {"Value": attrs[2][0][t], "Confidence": attrs[2][1][t]},
            "Landmarks": [{"Type": name, "X": x, "Y": y}
                          for name, x, y in zip(LANDMARK_TYPES, xs[t], ys[t])],
            "Pose": {"Roll": pose[t][2], "Yaw": pose[t][0], "Pitch": pose[t][1]},
            "Quality": {"Brightness": qual[t][0], "Sharpness": qual[t][1]},
            "Confidence": conf[t],
        })
    return out


def _blinks(rng: np.random.Generator, rate: float, times: np.ndarray) -> np.ndarray:
    """Eye openness (0 or 1) at ``times`` for a Poisson blink process."""
    if len(times) == 0:
        return np.ones(0)
    span = float(times[-1]) + 1.0
    k = rng.poisson(rate * span)
    starts = rng.uniform(-0.3, span, k)
    durs = rng.uniform(0.1, 0.25, k)
    t = times[:, None]
    closed = ((t >= starts[None]) & (t < (starts + durs)[None])).any(axis=1)
    return np.where(closed, 0.0, 1.0)


def _angular_speed(plan: _Plan, times: np.ndarray) -> np.ndarray:
    d = plan.at(times + 0.02) - plan.at(times)
    return np.hypot(d[:, _YAW], d[:, _PITCH]) / 0.02 + np.hypot(d[:, _X], d[:, _Y]) / 0.02 / 3.0


@dataclass
class _Trace:
    """Simulation output for one session before measurement."""

    times: np.ndarray                   # (T,) s from the challenge start
    tracks: list[_Track]
    order: list[list[int]] | None = None  # per frame, the order of the tracks' faces
    metadata: dict[str, Any] = field(default_factory=dict)


def _reported_pose(subj: _Subject, rig: _HeadRig, states: np.ndarray) -> np.ndarray:
    """The (yaw, pitch, roll) a detector reports for a live head: its own turn, the camera's
    mount and the detector's bias for this face."""
    cam = rig.camera
    return np.stack((states[:, _YAW] + subj.yaw_bias + cam.mount_yaw,
                     states[:, _PITCH] + subj.pitch_bias + cam.mount_pitch,
                     states[:, _ROLL]), axis=1)


def _live_track(rng: np.random.Generator, subj: _Subject, rig: _HeadRig, plan: _Plan,
                times: np.ndarray, states: np.ndarray, *, gaze_follow: float = 0.85) -> _Track:
    """A live face looking at the screen (eyes counter-rotate), blinking, neutral expression."""
    eye_open = _blinks(rng, subj.blink_rate, times)
    gaze_yaw = -gaze_follow * states[:, _YAW]
    gaze_pitch = -gaze_follow * states[:, _PITCH] - 4.0
    lm = rig.landmarks(states, gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, eye_open=eye_open)
    pose = _reported_pose(subj, rig, states)
    n = len(times)
    return _Track(landmarks=lm, pose=pose, eyes_open=eye_open > 0.5,
                  smile=np.zeros(n, bool), mouth_open=np.zeros(n, bool),
                  speed=_angular_speed(plan, times) if n else np.zeros(0),
                  drop_rate=subj.drop_rate, brightness=subj.brightness,
                  sharpness=subj.sharpness)


def _victim_print(rng: np.random.Generator, subj: _Subject, *, width_mm: float,
                  pose_label: tuple[str, str] | None = None) -> FlatPrint:
    """A near-frontal photo of the subject; neutral unless ``pose_label`` (eyes, mouth) says."""
    eyes, mouth = pose_label or ("OPEN", "CLOSED")
    gaze = {"OPEN": 0.0, "CLOSED": 0.0, "LOOKING_LEFT": -rng.uniform(18, 35),
            "LOOKING_RIGHT": rng.uniform(18, 35)}[eyes]
    smile = mouth == "SMILE"
    return FlatPrint.from_head(subj.head, width_mm=width_mm, yaw=float(rng.normal(0, 2.5)),
                               pitch=float(rng.normal(0, 3.0)), roll=float(rng.normal(0, 2.0)),
                               gaze_yaw=gaze, gaze_pitch=float(rng.normal(0, 2)),
                               eyes_open=eyes != "CLOSED", smile=smile,
                               mouth_open=smile and not subj.closed_smile)


def _print_track(rng: np.random.Generator, subj: _Subject, sheet: FlatPrint, rig: _PrintRig,
                 plan: _Plan, times: np.ndarray, states: np.ndarray, tilt_gain: float) -> _Track:
    lm = rig.landmarks(states)
    yaw0, pitch0, roll0 = sheet.pose
    pose = np.stack((yaw0 + subj.yaw_bias + tilt_gain * states[:, _YAW],
                     pitch0 + subj.pitch_bias + tilt_gain * states[:, _PITCH],
                     roll0 + states[:, _ROLL]), axis=1)
    n = len(times)
    return _Track(landmarks=lm, pose=pose, eyes_open=np.full(n, sheet.eyes_open),
                  smile=np.full(n, sheet.smile), mouth_open=np.full(n, sheet.mouth_open),
                  speed=_angular_speed(plan, times) if n else np.zeros(0),
                  drop_rate=float(rng.uniform(0.0, 0.003)),
                  brightness=float(np.clip(rng.normal(58, 12), 15, 95)),
                  sharpness=float(rng.uniform(15.0, 70.0)), confidence_loss=0.05,
                  pose_noise=(0.6, 0.8, 0.5), medium="print")


def _expressive_track(subj: _Subject, rig: _HeadRig, plan: _Plan, times: np.ndarray,
                      states: np.ndarray, *, eye_open: np.ndarray, gaze_yaw: np.ndarray,
                      gaze_pitch: np.ndarray, smile: np.ndarray, mouth_open: np.ndarray,
                      eyes_seen_open: np.ndarray | None = None) -> _Track:
    """A live face whose eyes, gaze and mouth follow per-frame values (0..1, degrees).

    ``eyes_seen_open`` overrides the truth of the ``EyesOpen`` attribute
    (default: ``eye_open > 0.5``); smile and mouth attributes are true above 0.5.
    """
    lm = rig.landmarks(states, gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, eye_open=eye_open,
                       smile=smile, mouth_open=mouth_open)
    pose = _reported_pose(subj, rig, states)
    n = len(times)
    seen = eye_open > 0.5 if eyes_seen_open is None else eyes_seen_open
    return _Track(landmarks=lm, pose=pose, eyes_open=np.asarray(seen, bool),
                  smile=np.asarray(smile) > 0.5, mouth_open=np.asarray(mouth_open) > 0.5,
                  speed=_angular_speed(plan, times) if n else np.zeros(0),
                  drop_rate=subj.drop_rate, brightness=subj.brightness,
                  sharpness=subj.sharpness)


def _eyelid(times: np.ndarray, starts: Any, durations: Any, depths: Any) -> np.ndarray:
    """Eye openness 1..0 at ``times`` for blinks (closing 35 %, closed 20 %, opening 45 %)."""
    out = np.ones(len(times))
    for t0, d, q in zip(starts, durations, depths):
        u = (times - t0) / d
        shape = np.where(u < 0.35, u / 0.35, np.where(u < 0.55, 1.0, (1.0 - u) / 0.45))
        shape = np.where((u >= 0) & (u <= 1), np.clip(shape, 0.0, 1.0), 0.0)
        out = np.minimum(out, 1.0 - q * shape)
    return out


def _spontaneous_blinks(rng: np.random.Generator, rate: float, span: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Start times and durations (s) of a Poisson blink process over ``[-0.3, span]``."""
    k = rng.poisson(rate * (span + 0.3))
    return rng.uniform(-0.3, span, k), rng.uniform(0.1, 0.25, k)


def _padded(track: _Track, before: int, after: int) -> _Track:
    """``track`` extended by repeating its first / last frame, invisible in the padding."""
    def pad(a: np.ndarray) -> np.ndarray:
        widths = [(before, after)] + [(0, 0)] * (np.ndim(a) - 1)
        return np.pad(np.asarray(a), widths, mode="edge")
    n = len(track.landmarks)
    visible = np.zeros(before + n + after, bool)
    visible[before:before + n] = True if track.visible is None else track.visible
    return _Track(landmarks=pad(track.landmarks), pose=pad(track.pose),
                  eyes_open=pad(track.eyes_open), smile=pad(track.smile),
                  mouth_open=pad(track.mouth_open), speed=pad(track.speed),
                  drop_rate=track.drop_rate, brightness=track.brightness,
                  sharpness=track.sharpness, confidence_loss=track.confidence_loss,
                  pose_noise=track.pose_noise, visible=visible, identity=track.identity,
                  medium=track.medium)


def _splice(first: _Trace, k: int, second: _Trace, gap_s: float) -> _Trace:
    """The first ``k`` frames of ``first`` (one face), then ``second`` after ``gap_s`` seconds.

    Both traces must hold one track each. ``second``'s times are shifted so
    that its first frame comes ``gap_s`` after ``first``'s ``k``-th; frames
    of the gap itself are not recorded (the client sees the swap as a jump).
    """
    k = max(1, min(k, len(first.times)))
    t1 = first.times[:k]
    shift = t1[-1] + gap_s - (second.times[0] if len(second.times) else 0.0)
    t2 = second.times + shift
    a, b = first.tracks[0], second.tracks[0]
    head = _Track(landmarks=a.landmarks[:k], pose=a.pose[:k], eyes_open=a.eyes_open[:k],
                  smile=a.smile[:k], mouth_open=a.mouth_open[:k], speed=a.speed[:k],
                  drop_rate=a.drop_rate, brightness=a.brightness, sharpness=a.sharpness,
                  confidence_loss=a.confidence_loss, pose_noise=a.pose_noise,
                  visible=None if a.visible is None else a.visible[:k], identity=a.identity,
                  medium=a.medium)
    tracks = [_padded(head, 0, len(t2)), _padded(b, k, 0)]
    return _Trace(np.concatenate([t1, t2]), tracks, None, {})
