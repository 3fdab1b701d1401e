"""Geometry of the trace-level simulator: camera, 3D head, flat print, face box.

Conventions (camera frame, yaw / pitch / roll signs, landmark naming) are in
the docstring of :mod:`liveness_lab.synth.traces`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..faces import LANDMARK_TYPES

__all__ = ["Camera", "rotation_matrix", "HeadModel", "head_landmarks", "FlatPrint",
           "print_landmarks", "face_box"]

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
    fps, exposure_ms:
        The capture rate and exposure when fixed (a stress condition); ``None``: each
        simulator draws them (:meth:`frame_rate`, :meth:`exposure_s`).
    noise:
        Multiplier of the detector's landmark, box and pose noise (1: the default model).
    mount_yaw, mount_pitch:
        Degrees the camera sits off the person's line of sight to the screen (a webcam
        beside or below the screen): a person facing the screen shows this pose.
    """

    width: int
    height: int
    hfov_deg: float = 65.0
    fps: float | None = None
    exposure_ms: float | None = None
    noise: float = 1.0
    mount_yaw: float = 0.0
    mount_pitch: float = 0.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 16:
                raise ValueError(f"Camera {name} must be an integer >= 16 pixels, got {v!r}")
        if not 10.0 <= float(self.hfov_deg) <= 150.0:
            raise ValueError("Camera hfov_deg must be within 10..150 degrees, "
                             f"got {self.hfov_deg!r}")
        if self.fps is not None and not 1.0 <= float(self.fps) <= 240.0:
            raise ValueError(f"Camera fps must be within 1..240, got {self.fps!r}")
        if self.exposure_ms is not None and not 0.1 <= float(self.exposure_ms) <= 1000.0:
            raise ValueError(f"Camera exposure_ms must be within 0.1..1000, got "
                             f"{self.exposure_ms!r}")
        if not 0.0 <= float(self.noise) <= 20.0:
            raise ValueError(f"Camera noise must be within 0..20, got {self.noise!r}")
        for name in ("mount_yaw", "mount_pitch"):
            if not -45.0 <= float(getattr(self, name)) <= 45.0:
                raise ValueError(f"Camera {name} must be within -45..45 degrees, got "
                                 f"{getattr(self, name)!r}")

    def frame_rate(self, drawn: float) -> float:
        """The capture rate: the fixed :attr:`fps`, else the simulator's ``drawn`` value."""
        return float(self.fps) if self.fps is not None else drawn

    def exposure_s(self, drawn: float) -> float:
        """The exposure in seconds: the fixed :attr:`exposure_ms`, else ``drawn`` (s)."""
        return float(self.exposure_ms) / 1000.0 if self.exposure_ms is not None else drawn

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
