"""Trace-level synthetic challenge sessions: face detections without images.

A deterministic simulator of people (and presentation attacks) answering NOSE
and POSE challenges, at the level of what Amazon Rekognition ``DetectFaces``
reports for each frame. A generic 3D head (30 Rekognition landmarks, in mm) or
a flat printed photo is moved by a behaviour model, projected through a
pinhole camera and "measured" with detector noise into Rekognition-shaped
``FaceDetail`` JSON. :func:`generate_dataset` writes labelled datasets in the
session format; ``docs/synthetic-traces.md`` describes the model and its limits.

Coordinates and sign conventions
--------------------------------
Camera frame: ``x`` toward the image's right, ``y`` down, ``z`` forward (away
from the camera), millimetres. Frames are the unmirrored camera images that
the client uploads. The head frame has the same axes when the head faces the
camera; a point ``p`` of the head is at ``position + R @ (p - pivot)`` in the
camera frame, ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (:func:`rotation_matrix`).
Landmark names follow Rekognition: ``...Left`` points are on the image's
left for a frontal face (``eyeLeft.X < eyeRight.X``, ``leftEyeLeft.X <
leftEyeRight.X``).

* **Yaw** is positive when the nose tip moves toward the image's **right**
  side (the subject turns toward their own left). This is what the original
  NOSE rule implies: ``rotated_right = yaw > 5`` is the "good" rotation when
  the nose box is in the right half of the image (``noseLeft + 10 >
  imageWidth / 2``), so a live user who brings the nose tip to a target on
  the right of the unmirrored image must report positive yaw. (This differs
  from the wording of :class:`liveness_lab.faces.Pose`; see the dataset docs.)
* **Pitch** is positive when the face looks up (the nose tip moves up).
* **Roll** is positive for a clockwise in-plane rotation in the image.
* Gaze: a positive eye yaw moves the pupils toward the image's right.

A flat photo is a plane: its landmarks are the images of fixed points of the
plane ``z = 0`` of the print, so between two frames they move exactly by a 2D
homography (no parallax between the nose and the face outline). A live head
is not planar: turning it moves the nose tip (about 12 cm in front of the neck
pivot) much more than the face outline, which is computed as the silhouette
of elliptic cross-sections of the head and slides over the surface.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ..faces import LANDMARK_TYPES

if TYPE_CHECKING:  # pragma: no cover
    from ..sessions import Session

__all__ = [
    "SIMULATOR", "SPECIES", "Camera", "HeadModel", "FlatPrint", "rotation_matrix",
    "head_landmarks", "print_landmarks", "face_box", "simulate_session", "dataset_size",
    "generate_dataset", "add_synth_command", "run_synth_command",
]

SIMULATOR = "liveness-lab/traces@1"

#: attack species simulated for each challenge type
SPECIES: Mapping[str, tuple[str, ...]] = {
    "NOSE": ("print_static", "print_moved", "print_tilted", "print_rolled",
             "replay_other_challenge", "multiple_faces"),
    "POSE": ("print_static", "print_random_pose", "replay_other_challenge"),
}

_IDX = {name: i for i, name in enumerate(LANDMARK_TYPES)}
_NOSE = _IDX["nose"]
_CHIN = _IDX["chinBottom"]
_CONTOUR = (_IDX["upperJawlineLeft"], _IDX["upperJawlineRight"],
            _IDX["midJawlineLeft"], _IDX["midJawlineRight"])
_BROWS = tuple(_IDX[n] for n in ("leftEyeBrowLeft", "leftEyeBrowRight", "leftEyeBrowUp",
                                  "rightEyeBrowLeft", "rightEyeBrowRight", "rightEyeBrowUp"))
_PUPILS = (_IDX["leftPupil"], _IDX["rightPupil"])
_EYE_CENTRES = (_IDX["eyeLeft"], _IDX["eyeRight"])
_EYE_UP = (_IDX["leftEyeUp"], _IDX["rightEyeUp"])
_EYE_DOWN = (_IDX["leftEyeDown"], _IDX["rightEyeDown"])

# Canonical head, mm: origin midway between the pupils on the corneal plane, x toward the
# image's right, y down, z away from the camera. Average adult proportions (interpupillary
# distance 63 mm, eye to nose tip 40 mm, eye to chin 110 mm, nose tip 21 mm in front of the
# corneas, outer eye corners 13 mm behind them).
_CANONICAL: dict[str, tuple[float, float, float]] = {
    "eyeLeft": (-31.5, 0.5, 3.0), "eyeRight": (31.5, 0.5, 3.0),
    "mouthLeft": (-25.0, 67.0, 3.0), "mouthRight": (25.0, 67.0, 3.0),
    "nose": (0.0, 40.0, -21.0),
    "leftEyeBrowLeft": (-52.0, -15.0, 14.0), "leftEyeBrowRight": (-15.0, -19.0, -4.0),
    "leftEyeBrowUp": (-33.0, -24.0, -5.0),
    "rightEyeBrowLeft": (15.0, -19.0, -4.0), "rightEyeBrowRight": (52.0, -15.0, 14.0),
    "rightEyeBrowUp": (33.0, -24.0, -5.0),
    "leftEyeLeft": (-46.0, 1.5, 13.0), "leftEyeRight": (-17.0, 1.5, 6.0),
    "leftEyeUp": (-31.5, -5.5, 2.0), "leftEyeDown": (-31.5, 5.0, 3.0),
    "rightEyeLeft": (17.0, 1.5, 6.0), "rightEyeRight": (46.0, 1.5, 13.0),
    "rightEyeUp": (31.5, -5.5, 2.0), "rightEyeDown": (31.5, 5.0, 3.0),
    "noseLeft": (-16.0, 46.0, -3.0), "noseRight": (16.0, 46.0, -3.0),
    "mouthUp": (0.0, 60.0, -12.0), "mouthDown": (0.0, 76.0, -10.0),
    "leftPupil": (-31.5, 0.0, -0.5), "rightPupil": (31.5, 0.0, -0.5),
    # frontal-view silhouette points; recomputed for every view (see HeadModel.contour)
    "upperJawlineLeft": (-69.0, 20.0, 46.0), "midJawlineLeft": (-56.0, 72.0, 52.0),
    "chinBottom": (0.0, 110.0, 2.0),
    "midJawlineRight": (56.0, 72.0, 52.0), "upperJawlineRight": (69.0, 20.0, 46.0),
}

# Rekognition-like attribute outputs: (value, confidence) produced by a classifier that is
# right with probability 1 - error.
_ATTR_ERROR = 0.005


# =============================================================================================
# geometry
# =============================================================================================

@dataclass(frozen=True)
class Camera:
    """A pinhole camera with square pixels and the principal point at the image centre.

    Parameters
    ----------
    width, height:
        Image size in pixels.
    hfov_deg:
        Horizontal field of view in degrees (webcams: about 60..70).
    """

    width: int
    height: int
    hfov_deg: float = 65.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 16:
                raise ValueError(f"Camera {name} must be an integer >= 16 pixels, got {v!r}")
        if not 10.0 <= float(self.hfov_deg) <= 150.0:
            raise ValueError("Camera hfov_deg must be within 10..150 degrees, "
                             f"got {self.hfov_deg!r}")

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates ``(..., 2)`` of camera-frame points ``(..., 3)`` in mm (z > 0)."""
        points = np.asarray(points, dtype=float)
        f = self.focal_px
        z = points[..., 2]
        return np.stack((self.width / 2.0 + f * points[..., 0] / z,
                         self.height / 2.0 + f * points[..., 1] / z), axis=-1)


def rotation_matrix(yaw: Any, pitch: Any, roll: Any) -> np.ndarray:
    """Rotation matrices ``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` of shape ``(..., 3, 3)``; degrees.

    With these signs a point in front of the pivot (negative ``z``) moves toward
    the image's right for a positive yaw and up for a positive pitch, and a
    positive roll turns the image clockwise (see the module docstring).
    """
    y, p, r = np.broadcast_arrays(*(np.radians(np.asarray(a, dtype=float))
                                    for a in (yaw, pitch, roll)))
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    # Ry(yaw) = [[cy,0,-sy],[0,1,0],[sy,0,cy]]; Rx(pitch) = [[1,0,0],[0,cp,sp],[0,-sp,cp]];
    # Rz(roll) = [[cr,-sr,0],[sr,cr,0],[0,0,1]]
    a00, a01, a02 = cy, sy * sp, -sy * cp          # Ry @ Rx
    a10, a11, a12 = np.zeros_like(cy), cp, sp
    a20, a21, a22 = sy, -cy * sp, cy * cp
    out = np.empty(y.shape + (3, 3))
    out[..., 0, 0] = cr * a00 - sr * a10
    out[..., 0, 1] = cr * a01 - sr * a11
    out[..., 0, 2] = cr * a02 - sr * a12
    out[..., 1, 0] = sr * a00 + cr * a10
    out[..., 1, 1] = sr * a01 + cr * a11
    out[..., 1, 2] = sr * a02 + cr * a12
    out[..., 2, 0] = a20
    out[..., 2, 1] = a21
    out[..., 2, 2] = a22
    return out


@dataclass(frozen=True, eq=False)
class HeadModel:
    """A 3D head: the 30 Rekognition landmarks in mm plus what moves them.

    Attributes
    ----------
    points:
        ``(30, 3)`` landmark positions (mm, head frame, neutral face), rows in
        :data:`~liveness_lab.faces.LANDMARK_TYPES` order. The four upper/mid
        jawline rows are only the frontal silhouette; they are recomputed for
        every view from :attr:`contour`.
    eyeball_centres:
        ``(2, 3)`` centres of the image-left and image-right eyeballs.
    eyeball_radius:
        mm; the pupil sits on the eyeball surface in the gaze direction.
    contour:
        ``(2, 4)`` elliptic cross-sections ``(y, half_width, half_depth, z_centre)``
        of the head at the upper and the mid jawline; the jawline landmarks
        are the silhouette (tangent points seen from the camera) of these.
    pivot:
        ``(3,)`` centre of head rotations (upper neck), mm.
    """

    points: np.ndarray
    eyeball_centres: np.ndarray
    eyeball_radius: float
    contour: np.ndarray
    pivot: np.ndarray

    @classmethod
    def generic(cls) -> "HeadModel":
        """The average adult head."""
        points = np.array([_CANONICAL[n] for n in LANDMARK_TYPES], dtype=float)
        return cls(points=points,
                   eyeball_centres=np.array([[-31.5, 0.0, 11.5], [31.5, 0.0, 11.5]]),
                   eyeball_radius=12.0,
                   contour=np.array([[20.0, 70.0, 60.0, 55.0], [72.0, 57.0, 62.0, 60.0]]),
                   pivot=np.array([0.0, 55.0, 95.0]))

    def varied(self, rng: np.random.Generator) -> "HeadModel":
        """A random individual: overall size +-5 %, nose depth, face shape and small asymmetries."""
        scale = float(np.clip(rng.normal(1.0, 0.05), 0.88, 1.12))
        points = self.points * scale + rng.normal(0.0, 1.2, self.points.shape)
        nose_depth = float(np.clip(rng.normal(1.0, 0.12), 0.75, 1.3))
        points[_NOSE, 2] = self.points[_NOSE, 2] * scale * nose_depth
        width = float(np.clip(rng.normal(1.0, 0.04), 0.9, 1.1))
        contour = self.contour.copy() * scale
        contour[:, 1] *= width
        return HeadModel(points=points, eyeball_centres=self.eyeball_centres * scale,
                         eyeball_radius=self.eyeball_radius * scale, contour=contour,
                         pivot=self.pivot * scale)


def _head_frame_points(model: HeadModel, n: int, gaze_yaw: Any, gaze_pitch: Any,
                       eye_open: Any, smile: Any, mouth_open: Any) -> np.ndarray:
    """``(n, 30, 3)`` head-frame landmarks with gaze and expression applied (not the contour)."""
    pts = np.broadcast_to(model.points, (n,) + model.points.shape).copy()
    gy = np.radians(np.broadcast_to(np.asarray(gaze_yaw, dtype=float), (n,)))
    gp = np.radians(np.broadcast_to(np.asarray(gaze_pitch, dtype=float), (n,)))
    eo = np.clip(np.broadcast_to(np.asarray(eye_open, dtype=float), (n,)), 0.0, 1.0)
    sm = np.clip(np.broadcast_to(np.asarray(smile, dtype=float), (n,)), 0.0, 1.0)
    mo = np.clip(np.broadcast_to(np.asarray(mouth_open, dtype=float), (n,)), 0.0, 1.0)
    r = model.eyeball_radius
    direction = np.stack((np.sin(gy) * np.cos(gp), -np.sin(gp), -np.cos(gy) * np.cos(gp)), axis=-1)
    for k in range(2):
        centre = pts[:, _EYE_CENTRES[k]]
        pupil = model.eyeball_centres[k] + r * direction
        closed = (eo < 0.3)[:, None]
        pts[:, _PUPILS[k]] = np.where(closed, centre + [0.0, 1.0, -1.0], pupil)
        lid = (0.1 + 0.9 * eo - 0.15 * sm)[:, None]
        for idx in (_EYE_UP[k], _EYE_DOWN[k]):
            pts[:, idx, 1] = centre[:, 1] + (pts[:, idx, 1] - centre[:, 1]) * lid[:, 0]
    # smile: corners out, up and back; open mouth: lower lip and chin drop
    ml, mr = _IDX["mouthLeft"], _IDX["mouthRight"]
    pts[:, ml] += sm[:, None] * np.array([-4.0, -3.0, 2.0])
    pts[:, mr] += sm[:, None] * np.array([4.0, -3.0, 2.0])
    pts[:, _IDX["mouthUp"], 1] -= 1.5 * mo + 0.5 * sm
    pts[:, _IDX["mouthDown"], 1] += 9.0 * mo + 1.0 * sm
    pts[:, _CHIN, 1] += 5.0 * mo
    return pts


def head_landmarks(model: HeadModel, camera: Camera, *, yaw: Any, pitch: Any, roll: Any,
                   position: Any, gaze_yaw: Any = 0.0, gaze_pitch: Any = 0.0,
                   eye_open: Any = 1.0, smile: Any = 0.0, mouth_open: Any = 0.0) -> np.ndarray:
    """Pixel positions ``(T, 30, 2)`` of a live head's landmarks.

    Parameters
    ----------
    yaw, pitch, roll:
        Head rotation in degrees, scalars or ``(T,)`` arrays (conventions in the
        module docstring).
    position:
        ``(3,)`` or ``(T, 3)``: camera-frame position of the head's pivot, mm.
    gaze_yaw, gaze_pitch:
        Eye-in-head rotation, degrees (positive yaw: pupils toward the image's right).
    eye_open, smile, mouth_open:
        0..1 (eyelid opening, smile intensity, jaw opening).
    """
    position = np.atleast_2d(np.asarray(position, dtype=float))
    yaw, pitch, roll = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (yaw, pitch, roll))
    n = max(len(position), len(yaw), len(pitch), len(roll))
    position = np.broadcast_to(position, (n, 3))
    R = np.broadcast_to(rotation_matrix(yaw, pitch, roll), (n, 3, 3))
    pts = _head_frame_points(model, n, gaze_yaw, gaze_pitch, eye_open, smile, mouth_open)
    # silhouette of each elliptic cross-section seen from the camera centre (head frame)
    eye = model.pivot - np.einsum("tji,tj->ti", R, position)
    for level, (li, ri) in enumerate(((_CONTOUR[0], _CONTOUR[1]), (_CONTOUR[2], _CONTOUR[3]))):
        y_l, a, b, zc = model.contour[level]
        A = eye[:, 0] / a
        B = (eye[:, 2] - zc) / b
        rho = np.maximum(np.hypot(A, B), 1.0 + 1e-9)
        phi = np.arctan2(B, A)
        delta = np.arccos(1.0 / rho)
        t1, t2 = phi + delta, phi - delta
        x1, x2 = a * np.cos(t1), a * np.cos(t2)
        z1, z2 = zc + b * np.sin(t1), zc + b * np.sin(t2)
        first_left = x1 < x2
        pts[:, li, 0] = np.where(first_left, x1, x2)
        pts[:, li, 2] = np.where(first_left, z1, z2)
        pts[:, ri, 0] = np.where(first_left, x2, x1)
        pts[:, ri, 2] = np.where(first_left, z2, z1)
        pts[:, li, 1] = pts[:, ri, 1] = y_l
    cam = position[:, None, :] + np.einsum("tij,tkj->tki", R, pts - model.pivot)
    return camera.project(cam)


@dataclass(frozen=True, eq=False)
class FlatPrint:
    """A face printed on a flat sheet.

    Attributes
    ----------
    points:
        ``(30, 2)`` landmark positions on the sheet in mm (x right, y down),
        origin at the centre of the face's landmarks.
    pose:
        ``(yaw, pitch, roll)`` of the photographed head, degrees.
    eyes_open, smile, mouth_open:
        What the photo shows.
    """

    points: np.ndarray
    pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    eyes_open: bool = True
    smile: bool = False
    mouth_open: bool = False

    @classmethod
    def from_head(cls, model: HeadModel, *, width_mm: float, yaw: float = 0.0,
                  pitch: float = 0.0, roll: float = 0.0, gaze_yaw: float = 0.0,
                  gaze_pitch: float = 0.0, eyes_open: bool = True, smile: bool = False,
                  mouth_open: bool = False) -> "FlatPrint":
        """Photograph ``model`` (portrait camera at 70 cm) and print it ``width_mm`` wide."""
        if not width_mm > 0:
            raise ValueError(f"width_mm must be > 0, got {width_mm!r}")
        portrait = Camera(1000, 1000, 40.0)
        px = head_landmarks(model, portrait, yaw=yaw, pitch=pitch, roll=roll,
                            position=[0.0, 0.0, 700.0 + model.pivot[2]], gaze_yaw=gaze_yaw,
                            gaze_pitch=gaze_pitch, eye_open=1.0 if eyes_open else 0.0,
                            smile=1.0 if smile else 0.0, mouth_open=1.0 if mouth_open else 0.0)[0]
        px = px - px.mean(axis=0)
        span = px[:, 0].max() - px[:, 0].min()
        return cls(points=px * (width_mm / span), pose=(float(yaw), float(pitch), float(roll)),
                   eyes_open=eyes_open, smile=smile, mouth_open=mouth_open)


def print_landmarks(sheet: FlatPrint, camera: Camera, *, yaw: Any, pitch: Any, roll: Any,
                    position: Any, hold_point: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Pixel positions ``(T, 30, 2)`` of a print's landmarks.

    The sheet point ``hold_point`` (mm, sheet coordinates; e.g. where a hand
    holds it) is at camera-frame ``position`` and the sheet is rotated by
    :func:`rotation_matrix` (``yaw``, ``pitch``, ``roll``) about it. Every
    landmark lies on the sheet plane, so any two frames are related exactly by
    a homography.
    """
    position = np.atleast_2d(np.asarray(position, dtype=float))
    yaw, pitch, roll = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (yaw, pitch, roll))
    n = max(len(position), len(yaw), len(pitch), len(roll))
    position = np.broadcast_to(position, (n, 3))
    R = np.broadcast_to(rotation_matrix(yaw, pitch, roll), (n, 3, 3))
    local = np.zeros((len(sheet.points), 3))
    local[:, :2] = sheet.points - np.asarray(hold_point, dtype=float)
    cam = position[:, None, :] + np.einsum("tij,kj->tki", R, local)
    return camera.project(cam)


def face_box(landmarks_px: np.ndarray) -> np.ndarray:
    """Rekognition-like face boxes ``(T, 4)`` = left, top, width, height (pixels).

    Horizontally the landmark extent (jawline) plus 3 % on each side;
    vertically from the top of the brows, padded upward by 10 % of the
    brow-to-chin height (the forehead), to 2 % below the chin.
    """
    lm = np.asarray(landmarks_px, dtype=float)
    x0, x1 = lm[..., 0].min(axis=-1), lm[..., 0].max(axis=-1)
    top = lm[..., _BROWS, 1].min(axis=-1)
    bottom = lm[..., 1].max(axis=-1)
    w, h = x1 - x0, bottom - top
    left, right = x0 - 0.03 * w, x1 + 0.03 * w
    top, bottom = top - 0.10 * h, bottom + 0.02 * h
    return np.stack((left, top, right - left, bottom - top), axis=-1)


# =============================================================================================
# motion
# =============================================================================================

# degrees of freedom of a rig state: yaw, pitch, roll (deg), x, y, z (mm)
_YAW, _PITCH, _ROLL, _X, _Y, _Z = range(6)


def _minjerk(tau: np.ndarray) -> np.ndarray:
    tau = np.clip(tau, 0.0, 1.0)
    return tau ** 3 * (10.0 - 15.0 * tau + 6.0 * tau * tau)


class _Plan:
    """A commanded trajectory: a start state plus minimum-jerk submovements (Flash & Hogan)."""

    def __init__(self, start: np.ndarray) -> None:
        self.start = np.asarray(start, dtype=float).copy()
        self.moves: list[tuple[float, float, np.ndarray]] = []

    def add(self, t0: float, duration: float, delta: np.ndarray) -> None:
        self.moves.append((float(t0), max(float(duration), 0.05), np.asarray(delta, dtype=float)))

    def end(self) -> np.ndarray:
        return self.start + sum((d for _, _, d in self.moves), np.zeros(6))

    def end_time(self) -> float:
        return max((t0 + d for t0, d, _ in self.moves), default=0.0)

    def at(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        out = np.broadcast_to(self.start, times.shape + (6,)).copy()
        for t0, dur, delta in self.moves:
            out += _minjerk((times - t0) / dur)[..., None] * delta
        return out


class _Sway:
    """Postural sway and tremor: sums of sinusoids with random phases, per degree of freedom."""

    def __init__(self, rng: np.random.Generator, slow: Sequence[float], fast: Sequence[float]):
        self.freq = np.concatenate((rng.uniform(0.1, 0.7, (6, 3)), rng.uniform(3.0, 9.0, (6, 2))),
                                   axis=1)
        self.phase = rng.uniform(0.0, 2 * np.pi, (6, 5))
        slow_amp = np.repeat(np.asarray(slow, float)[:, None], 3, axis=1) / math.sqrt(1.5)
        fast_amp = np.repeat(np.asarray(fast, float)[:, None], 2, axis=1)
        amp = np.concatenate((slow_amp, fast_amp), axis=1)
        self.amp = amp * rng.uniform(0.6, 1.4, (6, 5))

    def at(self, times: np.ndarray) -> np.ndarray:
        t = np.asarray(times, float)[:, None, None]
        arg = 2 * np.pi * self.freq[None] * t + self.phase[None]
        return (self.amp[None] * np.sin(arg)).sum(axis=-1)


_HEAD_SWAY = ((0.5, 0.5, 0.3, 1.5, 1.0, 2.0), (0.12, 0.12, 0.08, 0.2, 0.2, 0.3))
_HAND_SWAY = ((0.6, 0.6, 0.5, 2.0, 2.0, 2.5), (0.25, 0.25, 0.2, 0.4, 0.4, 0.4))


def _frame_times(rng: np.random.Generator, fps: float, duration: float) -> np.ndarray:
    """Capture times (s) of a client running at about ``fps`` with jitter and stalls."""
    n = int(duration * fps * 1.2) + 8
    iv = (1.0 / fps) * np.exp(rng.normal(0.0, 0.12, n))
    stall = rng.random(n) < 0.03
    iv[stall] *= rng.uniform(1.8, 3.5, int(stall.sum()))
    iv = np.maximum(iv, 0.03)
    t = rng.uniform(0.0, 1.0 / fps) + np.cumsum(iv)
    return t[t <= duration]


# =============================================================================================
# rigs: a live head or a held print, driven by a 6-DOF state
# =============================================================================================

class _HeadRig:
    """A live head: state = head rotation and the camera-frame position of its pivot."""

    def __init__(self, model: HeadModel, camera: Camera) -> None:
        self.model, self.camera = model, camera

    def landmarks(self, states: np.ndarray, **expr: Any) -> np.ndarray:
        s = np.atleast_2d(states)
        return head_landmarks(self.model, self.camera, yaw=s[:, _YAW], pitch=s[:, _PITCH],
                              roll=s[:, _ROLL], position=s[:, _X:], **expr)

    def nose(self, state: np.ndarray) -> np.ndarray:
        p = self.model.points[_NOSE] - self.model.pivot
        R = rotation_matrix(state[_YAW], state[_PITCH], state[_ROLL])
        return self.camera.project(state[_X:] + R @ p)

    def nose_depth(self, state: np.ndarray) -> float:
        R = rotation_matrix(state[_YAW], state[_PITCH], state[_ROLL])
        return float((state[_X:] + R @ (self.model.points[_NOSE] - self.model.pivot))[2])


class _PrintRig:
    """A hand-held print: state = sheet rotation and the camera-frame position of the hold point."""

    def __init__(self, sheet: FlatPrint, camera: Camera, hold_point: Sequence[float]) -> None:
        self.sheet, self.camera = sheet, camera
        self.hold = np.array([hold_point[0], hold_point[1], 0.0])

    def landmarks(self, states: np.ndarray, **_: Any) -> np.ndarray:
        s = np.atleast_2d(states)
        return print_landmarks(self.sheet, self.camera, yaw=s[:, _YAW], pitch=s[:, _PITCH],
                               roll=s[:, _ROLL], position=s[:, _X:], hold_point=self.hold[:2])

    def _nose_cam(self, state: np.ndarray) -> np.ndarray:
        p = np.array([*self.sheet.points[_NOSE], 0.0]) - self.hold
        return state[_X:] + rotation_matrix(state[_YAW], state[_PITCH], state[_ROLL]) @ p

    def nose(self, state: np.ndarray) -> np.ndarray:
        return self.camera.project(self._nose_cam(state))

    def nose_depth(self, state: np.ndarray) -> float:
        return float(self._nose_cam(state)[2])


def _solve_nose(rig: Any, state: np.ndarray, aim: np.ndarray, free: tuple[int, int]) -> np.ndarray:
    """Adjust two degrees of freedom of ``state`` so the nose tip projects at ``aim`` (Newton)."""
    s = np.asarray(state, dtype=float).copy()
    eps = np.array([0.05, 0.05, 0.05, 0.2, 0.2, 0.2])
    for _ in range(8):
        err = aim - rig.nose(s)
        if np.hypot(*err) < 0.02:
            break
        J = np.empty((2, 2))
        for j, k in enumerate(free):
            d = s.copy()
            d[k] += eps[k]
            J[:, j] = (rig.nose(d) - rig.nose(s)) / eps[k]
        try:
            step = np.linalg.solve(J, err)
        except np.linalg.LinAlgError:
            break
        limit = np.array([60.0 if k < 3 else 400.0 for k in free])
        step = np.clip(step, -limit, limit)
        s[list(free)] += step
    return s


def _box_of(rig: Any, state: np.ndarray) -> np.ndarray:
    return face_box(rig.landmarks(state))[0]


def _centre_in_area(rig: Any, state: np.ndarray, box_centre: np.ndarray,
                    box_width: float) -> np.ndarray:
    """Move ``state`` (x, y, z only): face box ``box_width`` px wide, centred at ``box_centre``."""
    s = np.asarray(state, dtype=float).copy()
    cam = rig.camera
    principal = np.array([cam.width / 2.0, cam.height / 2.0])
    for _ in range(3):
        b = _box_of(rig, s)
        scale = b[2] / box_width
        depth = rig.nose_depth(s)
        s[_Z] += depth * (scale - 1.0)
        # after moving along z the box shrinks toward the principal point
        centre = principal + (b[:2] + b[2:] / 2 - principal) / scale
        s[_X:_Z] += (box_centre - centre) * depth * scale / cam.focal_px
    return s


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


def _attribute(rng: np.random.Generator, truth: np.ndarray, error: float = _ATTR_ERROR
               ) -> tuple[np.ndarray, np.ndarray]:
    wrong = rng.random(truth.shape) < error
    conf = np.where(wrong, rng.uniform(51.0, 80.0, truth.shape),
                    rng.uniform(86.0, 99.95, truth.shape))
    return truth ^ wrong, conf


def _measure(rng: np.random.Generator, track: _Track, width: int, height: int
             ) -> list[dict[str, Any] | None]:
    """Rekognition-like ``FaceDetail`` JSON for each frame (``None``: face not detected)."""
    lm = track.landmarks
    n = len(lm)
    box = face_box(lm)
    size = np.maximum(box[:, 2], 1.0)
    noisy = (lm + rng.normal(0.0, 1.0, lm.shape) * (0.004 * size)[:, None, None]
             + rng.normal(0.0, 1.0, (n, 1, 2)) * (0.002 * size)[:, None, None])
    box = box + rng.normal(0.0, 1.0, box.shape) * (0.006 * size)[:, None]
    pose = track.pose + rng.normal(0.0, 1.0, (n, 3)) * np.asarray(track.pose_noise)
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


# =============================================================================================
# NOSE: behaviour
# =============================================================================================

_CLIENT_NOSE_TIMEOUT_S = 10.0      # the sample client's nose-state duration
_CLIENT_AREA_TOLERANCE = 0.20      # the sample client's FACE_AREA_TOLERANCE_PERCENT / 100
_CLIENT_MIN_FACE_AREA = 0.40       # the client's (MIN_FACE_AREA_PERCENT - tolerance) / 100


@dataclass
class _NoseGeometry:
    area: np.ndarray        # left, top, width, height px
    target: np.ndarray      # nose box left, top, width, height px
    aim: np.ndarray         # nose box centre px

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "_NoseGeometry":
        area = np.array([params["areaLeft"], params["areaTop"], params["areaWidth"],
                         params["areaHeight"]], dtype=float)
        target = np.array([params["noseLeft"], params["noseTop"], params["noseWidth"],
                           params["noseHeight"]], dtype=float)
        return cls(area, target, target[:2] + target[2:] / 2)

    def inside_area(self, box: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        a = self.area
        if tolerance:  # the sample client's way of growing the area
            lo = a[:2] * (1 - tolerance)
            hi = a[:2] + a[2:] * (1 + tolerance)
        else:
            lo, hi = a[:2], a[:2] + a[2:]
        return ((box[..., 0] >= lo[0]) & (box[..., 1] >= lo[1]) &
                (box[..., 0] + box[..., 2] <= hi[0]) & (box[..., 1] + box[..., 3] <= hi[1]))

    def big_enough(self, box: np.ndarray) -> np.ndarray:
        return box[..., 2] * box[..., 3] >= _CLIENT_MIN_FACE_AREA * self.area[2] * self.area[3]

    def in_target(self, nose: np.ndarray) -> np.ndarray:
        t = self.target
        return ((nose[..., 0] >= t[0]) & (nose[..., 0] <= t[0] + t[2]) &
                (nose[..., 1] >= t[1]) & (nose[..., 1] <= t[1] + t[3]))


def _desired_box_width(geo: _NoseGeometry, rng: np.random.Generator, aspect: float) -> float:
    """The face box width a user settles at: just large enough for the client, in the area."""
    need = math.sqrt(_CLIENT_MIN_FACE_AREA * geo.area[2] * geo.area[3] / aspect)
    return float(min(need * rng.uniform(1.02, 1.14), geo.area[2] * 0.95))


def _approach(rng: np.random.Generator, rig: Any, subj_speed: float, geo: _NoseGeometry,
              lateral_sd: float = 35.0, angle_sd: float = 4.0) -> tuple[_Plan, np.ndarray]:
    """Start somewhere off-centre and farther, then centre the face in the area box."""
    centre = geo.area[:2] + geo.area[2:] / 2 + rng.normal(0.0, [3.0, 4.0])
    start = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 450.0])
    probe = _box_of(rig, start)
    width = _desired_box_width(geo, rng, probe[3] / probe[2])
    centred = _centre_in_area(rig, start, centre, width)
    a = angle_sd
    start = centred + np.array([rng.normal(0, a), rng.normal(-a / 2, a), rng.normal(0, 0.75 * a),
                                rng.normal(0, lateral_sd), rng.normal(0, lateral_sd * 0.7),
                                centred[_Z] * rng.uniform(0.1, 0.5)])
    a = angle_sd * 0.375
    target = centred + np.array([rng.normal(0, a), rng.normal(-a / 1.5, a), rng.normal(0, a / 1.5),
                                 rng.normal(0, 2.0), rng.normal(0, 2.0), rng.normal(0, 3.0)])
    plan = _Plan(start)
    plan.add(rng.uniform(0.2, 0.8), rng.uniform(0.8, 1.4) * subj_speed, target - start)
    return plan, centred


def _recording_start(rng: np.random.Generator, rig: Any, plan: _Plan, sway: _Sway,
                     times: np.ndarray, geo: _NoseGeometry, centred: np.ndarray,
                     subj_speed: float) -> int:
    """Index of the first frame the client uploads: the face is big enough and inside the area."""
    for attempt in range(4):
        horizon = plan.end_time() + 1.5
        idx = np.nonzero(times <= horizon)[0]
        if len(idx):
            states = plan.at(times[idx]) + sway.at(times[idx])
            boxes = face_box(rig.landmarks(states)) + rng.normal(0, 1.5, (len(idx), 4))
            ok = geo.inside_area(boxes) & geo.big_enough(boxes) & (idx >= 3)
            hits = np.nonzero(ok)[0]
            if len(hits):
                return int(idx[hits[0]])
        # still not centred: the user corrects toward the centre
        exact = centred if attempt < 3 else centred * np.array([1, 1, 1, 1, 1, 0.97])
        plan.add(horizon - 1.2, 0.6 * subj_speed, exact - plan.end())
    return int(np.nonzero(times > plan.end_time())[0][0]) if (times > plan.end_time()).any() else 0


def _aim_movements(rng: np.random.Generator, rig: Any, plan: _Plan, t_start: float, aim: np.ndarray,
                   geo: _NoseGeometry, *, speed: float, gain: float, share: float,
                   roll_coupling: float, free: tuple[int, int], t_limit: float,
                   mirror_first: bool = False) -> int:
    """Plan a primary movement of the nose tip toward ``aim`` and corrective submovements.

    The displacement is split between translation (``share``) and the two
    ``free`` degrees of freedom (solved exactly for the nose to land where the
    person aims). Returns the number of submovements.
    """
    f = rig.camera.focal_px
    t = t_start
    count = 0
    targets = []
    if mirror_first:
        here = rig.nose(plan.end())
        targets.append((np.array([2 * here[0] - aim[0], aim[1]]), rng.uniform(0.3, 0.7)))
    targets.append((aim, gain * rng.normal(1.0, 0.08)))
    for goal, g in targets:
        state = plan.end()
        here = rig.nose(state)
        want = here + g * (goal - here) + rng.normal(0.0, 3.0, 2)
        amplitude = float(np.hypot(*(want - here)))
        new = state.copy()
        move = (want - here) * share * rig.nose_depth(state) / f
        new[_X] += move[0]
        new[_Y] += move[1]
        new = _solve_nose(rig, new, want, free)
        new[_ROLL] += roll_coupling * (new[_YAW] - state[_YAW])
        # Fitts-like duration; the client asks to move "slowly"
        duration = (0.6 + 0.35 * math.log2(1 + amplitude / 20.0)) * speed * rng.uniform(0.8, 1.25)
        plan.add(t, duration, new - state)
        count += 1
        t += duration + rng.uniform(0.25, 0.6) * speed
    # corrections while the nose is visibly outside the target box
    while t < t_limit and count < 12:
        state = plan.end()
        here = rig.nose(state)
        err = aim - here
        if np.all(np.abs(err) <= geo.target[2:] / 2 - 2.0):
            break
        want = here + rng.normal(1.0, 0.12) * err + rng.normal(0.0, 1.5, 2)
        new = _solve_nose(rig, state, want, free)
        duration = (0.25 + 0.1 * math.log2(1 + float(np.hypot(*err)) / 20.0)) * speed
        plan.add(t, duration, new - state)
        count += 1
        t += duration + rng.uniform(0.12, 0.3) * speed
    return count


def _client_end(rng: np.random.Generator, rig: Any, plan: _Plan, sway: _Sway, times: np.ndarray,
                k0: int, geo: _NoseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Frames the sample client uploads from ``k0``: until its own nose check succeeds,
    the face leaves its (tolerant) area, or its 10 s nose-state timeout."""
    t_rec = times[k0]
    sel = times[k0:]
    sel = sel[sel - t_rec <= _CLIENT_NOSE_TIMEOUT_S]
    states = plan.at(sel) + sway.at(sel)
    lm = rig.landmarks(states)
    boxes = face_box(lm) + rng.normal(0.0, 1.5, (len(sel), 4))
    client_nose = lm[:, _NOSE] + rng.normal(0.0, 1.5, 2) + rng.normal(0.0, 1.0, (len(sel), 2))
    out = ~geo.inside_area(boxes, _CLIENT_AREA_TOLERANCE)
    hit = geo.in_target(client_nose) & ~out
    n = len(sel)
    first_out = int(np.argmax(out)) if out.any() else n
    first_hit = int(np.argmax(hit)) + 1 if hit.any() else n
    n = max(1, min(n, first_hit, first_out))
    return sel[:n], states[:n]


# =============================================================================================
# NOSE: sessions
# =============================================================================================

@dataclass
class _Trace:
    """Simulation output for one session before measurement."""

    times: np.ndarray                   # (T,) s from the challenge start
    tracks: list[_Track]
    order: list[list[int]] | None = None  # per frame, the order of the tracks' faces
    metadata: dict[str, Any] = field(default_factory=dict)


def _live_track(rng: np.random.Generator, subj: _Subject, rig: _HeadRig, plan: _Plan,
                times: np.ndarray, states: np.ndarray, *, gaze_follow: float = 0.85) -> _Track:
    """A live face looking at the screen (eyes counter-rotate), blinking, neutral expression."""
    eye_open = _blinks(rng, subj.blink_rate, times)
    gaze_yaw = -gaze_follow * states[:, _YAW]
    gaze_pitch = -gaze_follow * states[:, _PITCH] - 4.0
    lm = rig.landmarks(states, gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, eye_open=eye_open)
    pose = np.stack((states[:, _YAW] + subj.yaw_bias, states[:, _PITCH] + subj.pitch_bias,
                     states[:, _ROLL]), axis=1)
    n = len(times)
    return _Track(landmarks=lm, pose=pose, eyes_open=eye_open > 0.5,
                  smile=np.zeros(n, bool), mouth_open=np.zeros(n, bool),
                  speed=_angular_speed(plan, times) if n else np.zeros(0),
                  drop_rate=subj.drop_rate, brightness=subj.brightness,
                  sharpness=subj.sharpness)


def _nose_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
               params: Mapping[str, Any]) -> _Trace:
    """A bona fide user: centre the face, then turn the head so the nose tip reaches the box."""
    geo = _NoseGeometry.from_params(params)
    rig = _HeadRig(subj.head, camera)
    fps = float(rng.uniform(5.0, 15.0))
    times = _frame_times(rng, fps, 40.0)
    sway = _Sway(rng, *_HEAD_SWAY)
    plan, centred = _approach(rng, rig, subj.speed, geo)
    k0 = _recording_start(rng, rig, plan, sway, times, geo, centred, subj.speed)
    t_rec = float(times[k0])
    reaction = subj.reaction_s * float(np.exp(rng.normal(0.0, 0.2)))
    if subj.style == "drifter":
        drift = np.zeros(6)
        if rng.random() < 0.5:
            drift[_Z] = -rng.uniform(10.0, 25.0) * 6.0   # leaning in
        else:
            drift[_X] = rng.choice([-1, 1]) * rng.uniform(6.0, 14.0) * 6.0
        plan.add(t_rec + reaction * 0.5, 6.0, drift)
    mirror = bool(rng.random() < subj.mirror_prone)
    moves = _aim_movements(rng, rig, plan, t_rec + reaction, geo.aim, geo, speed=subj.speed,
                           gain=subj.gain, share=subj.translation_share,
                           roll_coupling=subj.roll_coupling, free=(_YAW, _PITCH),
                           t_limit=t_rec + _CLIENT_NOSE_TIMEOUT_S, mirror_first=mirror)
    sel, states = _client_end(rng, rig, plan, sway, times, k0, geo)
    track = _live_track(rng, subj, rig, plan, sel, states)
    return _Trace(sel, [track], metadata={
        "fps": round(fps, 3), "style": subj.style, "distance_mm": round(float(centred[_Z]), 1),
        "reaction_s": round(reaction, 3), "translation_share": round(subj.translation_share, 3),
        "wrong_way_first": mirror, "submovements": moves})


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
                  pose_noise=(0.6, 0.8, 0.5))


def _nose_print(rng: np.random.Generator, subj: _Subject, camera: Camera,
                params: Mapping[str, Any], species: str) -> _Trace:
    """A print held in front of the camera: still, moved, tilted or rolled toward the target."""
    geo = _NoseGeometry.from_params(params)
    width_mm = float(rng.uniform(110.0, 160.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm)
    hold = (float(rng.normal(0.0, 15.0)), float(rng.uniform(90.0, 150.0)))
    if species != "print_rolled" and rng.random() < 0.5:
        hold = (0.0, 0.0)  # pinched at the face's level / held by both sides
    rig = _PrintRig(sheet, camera, hold)
    fps = float(rng.uniform(5.0, 15.0))
    times = _frame_times(rng, fps, 40.0)
    sway = _Sway(rng, *_HAND_SWAY)
    speed = float(np.exp(rng.normal(0.0, 0.2)))
    plan, centred = _approach(rng, rig, speed, geo, lateral_sd=25.0, angle_sd=2.0)
    k0 = _recording_start(rng, rig, plan, sway, times, geo, centred, speed)
    t_rec = float(times[k0])
    reaction = float(np.exp(rng.normal(math.log(0.7), 0.3)))
    tilt_gain = 0.0
    meta: dict[str, Any] = {"fps": round(fps, 3), "print_width_mm": round(width_mm, 1),
                            "hold_point_mm": [round(hold[0], 1), round(hold[1], 1)],
                            "photo_pose": [round(v, 2) for v in sheet.pose]}
    side = 1.0 if geo.aim[0] > camera.width / 2 else -1.0
    if species == "print_static":
        t_stop = t_rec + float(rng.uniform(4.0, 11.0))
        sel = times[(times >= t_rec) & (times <= t_stop)]
        states = plan.at(sel) + sway.at(sel)
    else:
        if species == "print_moved":
            free = (_X, _Y)
        elif species == "print_tilted":
            tilt_gain = float(rng.uniform(0.1, 0.5))
            tilt = np.zeros(6)
            tilt[_YAW] = side * rng.uniform(15.0, 45.0)
            tilt[_PITCH] = -np.sign(geo.aim[1] - camera.height / 2) * rng.uniform(0.0, 20.0)
            plan.add(t_rec + reaction, rng.uniform(0.6, 1.2) * speed, tilt)
            free = (_X, _Y)
            meta["tilt_deg"] = [round(float(tilt[_YAW]), 2), round(float(tilt[_PITCH]), 2)]
            meta["reported_tilt_fraction"] = round(tilt_gain, 3)
        else:  # print_rolled: rotate in the image plane about the holding hand
            free = (_ROLL, _Y)
        moves = _aim_movements(rng, rig, plan, t_rec + reaction, geo.aim, geo, speed=speed,
                               gain=float(rng.normal(0.95, 0.05)), share=0.0, roll_coupling=0.0,
                               free=free, t_limit=t_rec + _CLIENT_NOSE_TIMEOUT_S)
        meta["submovements"] = moves
        sel, states = _client_end(rng, rig, plan, sway, times, k0, geo)
    track = _print_track(rng, subj, sheet, rig, plan, sel, states, tilt_gain)
    return _Trace(sel, [track], metadata=meta)


def _nose_multiple_faces(rng: np.random.Generator, subj: _Subject, camera: Camera,
                         params: Mapping[str, Any]) -> _Trace:
    """An attacker answers the challenge live while holding the victim's photo beside the head.

    The attacker is a person outside the subject pool; the photo shows the
    session's subject. It is raised at a random moment (sometimes before the
    first uploaded frame). Rekognition's face order is not specified: each
    frame lists the live face first with a per-session probability.
    """
    attacker = _Subject.sample("attacker", rng)
    attacker = replace(attacker, style="typical", drop_rate=0.001, mirror_prone=0.0,
                       translation_share=0.1, gain=max(attacker.gain, 0.9))
    live = _nose_live(rng, attacker, camera, params)
    times = live.times
    live_box = face_box(live.tracks[0].landmarks[:1])[0]
    side = float(rng.choice([-1.0, 1.0]))
    width_mm = float(rng.uniform(90.0, 130.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm)
    rig = _PrintRig(sheet, camera, (0.0, 0.0))
    distance = float(live.metadata["distance_mm"]) * rng.uniform(0.95, 1.15)
    probe = _box_of(rig, np.array([0, 0, 0, 0, 0, distance]))
    gap = float(rng.uniform(5.0, 30.0))
    u = live_box[0] + live_box[2] / 2 + side * (live_box[2] / 2 + probe[2] / 2 + gap)
    u = float(np.clip(u, probe[2] / 2 + 2, camera.width - probe[2] / 2 - 2))
    v = float(live_box[1] + live_box[3] / 2 + rng.uniform(0.0, 0.25) * live_box[3])
    f = camera.focal_px
    centre = np.array([0.0, 0.0, rng.normal(0, 4), (u - camera.width / 2) * distance / f,
                       (v - camera.height / 2) * distance / f, distance])
    plan = _Plan(centre)
    sway = _Sway(rng, *_HAND_SWAY)
    states = plan.at(times) + sway.at(times)
    t_show = float(times[0] + rng.uniform(-1.0, 2.0)) if len(times) else 0.0
    track = _print_track(rng, subj, sheet, rig, plan, times, states, 0.0)
    track.visible = times >= t_show
    p_live_first = float(rng.uniform(0.2, 0.8))
    order = [[0, 1] if rng.random() < p_live_first else [1, 0] for _ in times]
    meta = dict(live.metadata)
    meta.update({"second_face": "print", "second_face_side": "right" if side > 0 else "left",
                 "second_face_visible_from_s": round(t_show - float(times[0]), 3)
                 if len(times) else None,
                 "live_face_first_probability": round(p_live_first, 3)})
    return _Trace(times, [live.tracks[0], track], order, meta)


# =============================================================================================
# POSE
# =============================================================================================

_POSE_EYES = ("OPEN", "CLOSED", "LOOKING_LEFT", "LOOKING_RIGHT")
_POSE_MOUTH = ("CLOSED", "SMILE")


def _pose_placement(rng: np.random.Generator) -> np.ndarray:
    z = float(rng.uniform(330.0, 600.0))
    return np.array([0.0, 0.0, 0.0, rng.normal(0, 30), rng.normal(10, 25), z])


def _pose_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
               params: Mapping[str, Any]) -> _Trace:
    """A bona fide user copies the requested pose and takes one photo (as the sample client)."""
    pose = params.get("pose") or {}
    eyes, mouth = pose.get("eyes", "OPEN"), pose.get("mouth", "CLOSED")
    rig = _HeadRig(subj.head, camera)
    state = _pose_placement(rng)
    state[_YAW] = rng.normal(0.0, 4.0)
    state[_PITCH] = rng.normal(-2.0, 4.0)
    state[_ROLL] = rng.normal(0.0, 3.0)
    if rng.random() < 0.01:
        state[_YAW] = rng.choice([-1, 1]) * rng.uniform(20.0, 26.0)
    mirrored = eyes in ("LOOKING_LEFT", "LOOKING_RIGHT") and rng.random() < 0.06
    direction = {"LOOKING_LEFT": -1.0, "LOOKING_RIGHT": 1.0}.get(eyes, 0.0)
    if mirrored:  # copies the drawing as in a mirror: pupils to the other side
        direction = -direction
    gaze_yaw = direction * rng.uniform(18.0, 35.0) if direction else rng.normal(0.0, 3.0)
    blink = eyes != "CLOSED" and rng.random() < 0.015
    eyes_closed = eyes == "CLOSED" or blink
    smiling = mouth == "SMILE" or rng.random() < 0.02
    mouth_open = mouth == "SMILE" and not subj.closed_smile
    t_photo = float(rng.uniform(1.5, 4.0) + rng.uniform(1.0, 3.0) * subj.speed)
    times = np.array([t_photo])
    lm = rig.landmarks(state[None], gaze_yaw=gaze_yaw, gaze_pitch=rng.normal(-3, 2),
                       eye_open=0.0 if eyes_closed else 1.0, smile=1.0 if smiling else 0.0,
                       mouth_open=1.0 if mouth_open else 0.0)
    eyes_truth = np.array([not eyes_closed])
    if eyes == "CLOSED" and rng.random() < 0.03:   # eyes not quite shut: seen open
        eyes_truth[:] = True
    track = _Track(landmarks=lm, pose=np.array([[state[_YAW] + subj.yaw_bias,
                                                 state[_PITCH] + subj.pitch_bias, state[_ROLL]]]),
                   eyes_open=eyes_truth, smile=np.array([smiling]),
                   mouth_open=np.array([mouth_open]), speed=np.zeros(1),
                   drop_rate=subj.drop_rate, brightness=subj.brightness,
                   sharpness=subj.sharpness)
    return _Trace(times, [track], metadata={
        "client": "single photo", "distance_mm": round(float(state[_Z]), 1),
        "gaze_yaw_deg": round(float(gaze_yaw), 2), "mirrored_gaze": mirrored,
        "blink": blink})


def _pose_print(rng: np.random.Generator, subj: _Subject, camera: Camera,
                params: Mapping[str, Any], species: str) -> _Trace:
    """A print held in front of the camera, photographed once."""
    if species == "print_random_pose":
        label = (str(rng.choice(_POSE_EYES)), str(rng.choice(_POSE_MOUTH)))
    else:
        label = ("OPEN", "CLOSED")
    width_mm = float(rng.uniform(110.0, 160.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm, pose_label=label)
    rig = _PrintRig(sheet, camera, (0.0, 0.0))
    state = _pose_placement(rng)
    state[_YAW] = rng.normal(0.0, 8.0)
    state[_PITCH] = rng.normal(0.0, 8.0)
    state[_ROLL] = rng.normal(0.0, 4.0)
    tilt_gain = float(rng.uniform(0.1, 0.5))
    times = np.array([float(rng.uniform(2.0, 8.0))])
    plan = _Plan(state)
    track = _print_track(rng, subj, sheet, rig, plan, times, state[None], tilt_gain)
    return _Trace(times, [track], metadata={
        "client": "single photo", "photo_shows": {"eyes": label[0], "mouth": label[1]},
        "print_width_mm": round(width_mm, 1), "photo_pose": [round(v, 2) for v in sheet.pose],
        "reported_tilt_fraction": round(tilt_gain, 3)})


# =============================================================================================
# sessions
# =============================================================================================

def _params_for(ctype: str, image_size: tuple[int, int], seed: int, registry: Any = None
                ) -> dict[str, Any]:
    from ..challenges import SeededRandom, default_registry
    reg = registry or default_registry()
    return reg.get(ctype).generate_params({"imageWidth": image_size[0],
                                           "imageHeight": image_size[1]},
                                          rng=SeededRandom(seed))


def _differs(ctype: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if ctype == "POSE":
        return a.get("pose") != b.get("pose")
    return (a.get("noseLeft"), a.get("noseTop")) != (b.get("noseLeft"), b.get("noseTop"))


def _simulate(rng: np.random.Generator, ctype: str, species: str | None, subj: _Subject,
              camera: Camera, params: Mapping[str, Any], registry: Any) -> _Trace:
    if species == "replay_other_challenge":
        for _ in range(50):
            other = _params_for(ctype, (camera.width, camera.height),
                                int(rng.integers(2 ** 62)), registry)
            if _differs(ctype, other, params):
                break
        trace = _simulate(rng, ctype, None, subj, camera, other, registry)
        trace.metadata = {**trace.metadata, "replayed_params": other,
                          "replay_delay_s": round(float(rng.uniform(60.0, 86400.0)), 1)}
        return trace
    if ctype == "NOSE":
        if species is None:
            return _nose_live(rng, subj, camera, params)
        if species == "multiple_faces":
            return _nose_multiple_faces(rng, subj, camera, params)
        return _nose_print(rng, subj, camera, params, species)
    if species is None:
        return _pose_live(rng, subj, camera, params)
    return _pose_print(rng, subj, camera, params, species)


def _check_species(ctype: str, species: str | None) -> None:
    if ctype not in SPECIES:
        raise ValueError(f"challenge type must be one of {', '.join(SPECIES)}, got {ctype!r}")
    if species is not None and species not in SPECIES[ctype]:
        raise ValueError(f"pai_species for {ctype} must be None (bona fide) or one of "
                         f"{', '.join(SPECIES[ctype])}, got {species!r}")


def _document(challenge_type: str, params: Mapping[str, Any], *, species: str | None,
              seed: int | Sequence[int], session_id: str,
              subject_seed: int | Sequence[int] | None, subject_id: str | None,
              split: str | None, hfov_deg: float | None, registry: Any,
              metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The session document (session-format JSON object) of one simulated session."""
    from ..sessions import FORMAT
    ctype = str(challenge_type).upper()
    _check_species(ctype, species)
    width, height = int(params["imageWidth"]), int(params["imageHeight"])
    rng = np.random.default_rng(seed)
    subj = _Subject.sample(subject_id or "subject",
                           np.random.default_rng(seed if subject_seed is None else subject_seed))
    fov = float(hfov_deg) if hfov_deg is not None else float(rng.uniform(58.0, 72.0))
    camera = Camera(width, height, fov)
    trace = _simulate(rng, ctype, species, subj, camera, params, registry)
    measured = [_measure(rng, tr, width, height) for tr in trace.tracks]
    base_ms = 1_700_000_000_000 + int(rng.integers(0, 180 * 86_400_000))
    if species == "replay_other_challenge":
        base_ms += int(trace.metadata["replay_delay_s"] * 1000)
    frames = []
    last = -1
    for k, t in enumerate(trace.times):
        ts = max(base_ms + int(round(float(t) * 1000.0)), last + 1)
        last = ts
        order = trace.order[k] if trace.order is not None else range(len(measured))
        frames.append({"timestamp": ts,
                       "faces": [measured[j][k] for j in order if measured[j][k] is not None]})
    meta = {"simulator": SIMULATOR, "seed": _jsonable_seed(seed), "hfov_deg": round(fov, 2)}
    meta.update(trace.metadata)
    if metadata:
        meta.update(metadata)
    doc: dict[str, Any] = {"format": FORMAT, "id": session_id,
                           "challenge": {"type": ctype, "params": dict(params)},
                           "label": "bona_fide" if species is None else "attack",
                           "pai_species": species}
    if subject_id is not None:
        doc["subject_id"] = subject_id
    if split is not None:
        doc["split"] = split
    doc["frames"] = frames
    doc["metadata"] = meta
    return doc


def simulate_session(challenge_type: str, params: Mapping[str, Any], *,
                     species: str | None = None, seed: int | Sequence[int] = 0,
                     session_id: str = "s-000000", subject_seed: int | Sequence[int] | None = None,
                     subject_id: str | None = None, split: str | None = None,
                     hfov_deg: float | None = None, registry: Any = None,
                     metadata: Mapping[str, Any] | None = None) -> "Session":
    """Simulate one labelled session against given challenge params.

    Parameters
    ----------
    challenge_type:
        ``"NOSE"`` or ``"POSE"``.
    params:
        The challenge's params, as its challenge type generated them (pixels).
    species:
        ``None`` for a bona fide session, else one of :data:`SPECIES` for the type.
    seed:
        Seed (or seed sequence) of everything random in the session.
    session_id, subject_id, split:
        Written as such in the session.
    subject_seed:
        Seed of the simulated subject (head shape, habits); default: ``seed``.
        Sessions with the same subject seed show the same person.
    hfov_deg:
        Camera horizontal field of view; default: drawn in 58..72 degrees.
    registry:
        Challenge registry used to draw other params for ``replay_other_challenge``.
    metadata:
        Extra entries for the session's ``metadata``.

    Returns
    -------
    Session
        Frames with Rekognition-shaped faces (no images), label, species and
        ``metadata`` describing the simulation (``"simulator"``, ``"seed"``,
        ``"fps"``, camera field of view, behaviour or attack parameters).
    """
    from ..sessions import session_from_dict
    return session_from_dict(_document(
        challenge_type, params, species=species, seed=seed, session_id=session_id,
        subject_seed=subject_seed, subject_id=subject_id, split=split, hfov_deg=hfov_deg,
        registry=registry, metadata=metadata))


def _jsonable_seed(seed: Any) -> Any:
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    return [int(s) for s in seed]


# =============================================================================================
# datasets
# =============================================================================================

def _classes(challenge_types: Sequence[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for ctype in challenge_types:
        out.append((ctype, None))
        out.extend((ctype, sp) for sp in SPECIES[ctype])
    return out


def _normalise_types(challenge_types: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(challenge_types, str):
        challenge_types = [t for t in challenge_types.split(",") if t.strip()]
    types = tuple(dict.fromkeys(str(t).strip().upper() for t in challenge_types))
    if not types:
        raise ValueError("challenge_types must name at least one of NOSE, POSE")
    for t in types:
        if t not in SPECIES:
            raise ValueError(f"challenge type must be one of {', '.join(SPECIES)}, got {t!r}")
    return types


def dataset_size(sessions_per_class: int, challenge_types: Sequence[str] = ("NOSE", "POSE")) -> int:
    """Number of sessions :func:`generate_dataset` writes for these arguments."""
    return sessions_per_class * len(_classes(_normalise_types(challenge_types)))


def _subject_splits(n: int, seed: int) -> list[str]:
    perm = np.random.default_rng([seed, 2]).permutation(n)
    n_train = max(1, int(round(0.5 * n)))
    n_dev = max(1, int(round(0.25 * n)))
    splits = [""] * n
    for rank, idx in enumerate(perm):
        splits[idx] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    return splits


def generate_dataset(out_dir: str | os.PathLike, *, sessions_per_class: int, seed: int,
                     challenge_types: Sequence[str] = ("NOSE", "POSE"),
                     image_size: tuple[int, int] = (640, 480),
                     progress: Callable[[int], Any] | None = None) -> Path:
    """Write a labelled synthetic dataset (session format) and return its directory.

    Parameters
    ----------
    out_dir:
        Target directory; created if missing, must be empty if it exists.
    sessions_per_class:
        Bona fide sessions per challenge type, and attack sessions per species
        (:data:`SPECIES`) of each type.
    seed:
        Everything is determined by it: the same seed writes identical files.
        Session ``i`` of a class draws from ``(seed, type, class, i)``, so
        results do not depend on generation order.
    challenge_types:
        Types to simulate (``"NOSE"``, ``"POSE"``).
    image_size:
        ``(width, height)`` of the simulated client's frames, pixels.
    progress:
        Called with ``1`` after each session (for instance ``tqdm(...).update``).

    Notes
    -----
    Subjects ``subj-000``... (``max(4, ceil(sessions_per_class / 2))`` of
    them) each get sessions of every class; an attack session's subject is
    the person whose face is presented (the photo's or the replayed video's
    subject). Subjects are split 50/25/25 into train/dev/test, so a subject's
    sessions all share one split. Challenge params are drawn from the
    registered challenge types with :class:`~liveness_lab.challenges.SeededRandom`.
    """
    spc = sessions_per_class
    if isinstance(spc, bool) or not isinstance(spc, (int, np.integer)) or spc < 1:
        raise ValueError(f"sessions_per_class must be a positive integer, got {spc!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError("image_size must be (width, height) in pixels, "
                         f"got {image_size!r}") from None
    if width < 160 or height < 120:
        raise ValueError(f"image_size must be at least 160 x 120 pixels, got {width} x {height}")
    types = _normalise_types(challenge_types)
    out = Path(out_dir)
    _check_out_dir(out)
    from ..challenges import default_registry
    from ..sessions import ManifestEntry, write_manifest
    registry = default_registry()
    n_subjects = max(4, math.ceil(sessions_per_class / 2))
    splits = _subject_splits(n_subjects, int(seed))
    (out / "sessions").mkdir(parents=True)
    entries = []
    for ctype, species in _classes(types):
        type_idx = ("NOSE", "POSE").index(ctype)
        class_idx = 0 if species is None else 1 + SPECIES[ctype].index(species)
        for i in range(sessions_per_class):
            key = [int(seed), 3, type_idx, class_idx, i]
            subj_idx = (i + class_idx) % n_subjects
            params_seed = int(np.random.default_rng(key + [1]).integers(2 ** 62))
            params = _params_for(ctype, (width, height), params_seed, registry)
            sid = f"{ctype.lower()}-{species or 'bona_fide'}-{i:05d}"
            doc = _document(ctype, params, species=species, seed=key, session_id=sid,
                            subject_seed=[int(seed), 1, subj_idx],
                            subject_id=f"subj-{subj_idx:03d}", split=splits[subj_idx],
                            hfov_deg=None, registry=registry,
                            metadata={"dataset_seed": int(seed), "session_index": i})
            rel = f"sessions/{sid}.json"
            _write_json(out / rel, doc)
            entries.append(ManifestEntry(sid, rel, doc["label"], species, doc["subject_id"],
                                         doc["split"], ctype))
            if progress is not None:
                progress(1)
    write_manifest(out, entries)
    return out


def _check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty directory; choose a new "
                         "output directory")


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` compactly, as :func:`liveness_lab.sessions.write_session` would (no fsync:
    a dataset is written in bulk, and the manifest, written last, lists only complete files)."""
    import json
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


# =============================================================================================
# command line
# =============================================================================================

def add_synth_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``synth --out DIR --sessions-per-class N --seed S [--types NOSE,POSE]``."""
    p = subparsers.add_parser(
        "synth", help="generate a synthetic trace-level dataset (no images)",
        description="Simulate bona fide and attack sessions as Rekognition-shaped face "
                    "detections and write them as a dataset (manifest.csv + session JSON).")
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--sessions-per-class", type=int, default=50,
                   help="bona fide sessions per type and attacks per species (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--types", default="NOSE,POSE", help="challenge types, comma-separated")
    p.add_argument("--image-size", default="640x480",
                   help="frame size WIDTHxHEIGHT (default 640x480)")
    p.set_defaults(func=run_synth_command)
    return p


def run_synth_command(args: argparse.Namespace) -> int:
    """Handler of ``synth``: returns the process exit code (0 on success, 2 on bad arguments)."""
    import sys

    from tqdm import tqdm
    try:
        width, height = (int(v) for v in str(args.image_size).lower().split("x"))
    except ValueError:
        print(f"liveness-lab synth: error: --image-size must look like 640x480, got "
              f"{args.image_size!r}", file=sys.stderr)
        return 2
    try:
        types = _normalise_types(args.types)
        _check_out_dir(Path(args.out))
        total = dataset_size(args.sessions_per_class, types) if args.sessions_per_class > 0 else 0
        with tqdm(total=total, unit="session", desc="synth") as bar:
            out = generate_dataset(args.out, sessions_per_class=args.sessions_per_class,
                                   seed=args.seed, challenge_types=types,
                                   image_size=(width, height), progress=bar.update)
    except ValueError as e:
        print(f"liveness-lab synth: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {total} sessions to {out}")
    return 0
