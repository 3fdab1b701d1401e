"""A 3D face: the 30 Rekognition landmarks as points of a head, with per-person proportions.

Coordinates of the **head frame** are millimetres: ``x`` toward the image's right when the face
looks at the camera (the subject's left), ``y`` down, ``z`` into the head (away from the
camera). The origin is midway between the eye centres. Rekognition names landmarks from the
image's side: ``eyeLeft`` is the eye on the image's left (the subject's right eye).

The mean geometry comes from adult anthropometry (inter-pupillary distance about 63 mm, eye
fissure 28-32 mm wide and 8-12 mm high, nose tip about 20 mm in front of the eyes and 40-45 mm
below them, mouth about 50 mm wide); a person scales each part with its own factor (5-15 %
coefficients of variation), so that faces differ in proportions, not only in size.

Rotations follow Rekognition's signs: positive yaw turns the nose toward the image's right,
positive pitch raises the face (nose up in the image), positive roll turns the face clockwise
in the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LANDMARKS", "INDEX", "RIGID", "FaceGeometry", "mean_geometry", "sample_geometry",
           "rotation", "pose_from_rotation", "EYEBALL_RADIUS_MM"]

#: The 30 Rekognition landmark types, in the order of the point arrays.
LANDMARKS: tuple[str, ...] = (
    "eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose",
    "leftEyeBrowLeft", "leftEyeBrowRight", "leftEyeBrowUp",
    "rightEyeBrowLeft", "rightEyeBrowRight", "rightEyeBrowUp",
    "leftEyeLeft", "leftEyeRight", "leftEyeUp", "leftEyeDown",
    "rightEyeLeft", "rightEyeRight", "rightEyeUp", "rightEyeDown",
    "noseLeft", "noseRight", "mouthUp", "mouthDown", "leftPupil", "rightPupil",
    "upperJawlineLeft", "midJawlineLeft", "chinBottom", "midJawlineRight", "upperJawlineRight",
)
INDEX = {name: i for i, name in enumerate(LANDMARKS)}

#: Landmarks that do not move with eyelids, gaze or mouth (used to estimate the head pose).
RIGID: tuple[int, ...] = tuple(INDEX[n] for n in (
    "eyeLeft", "eyeRight", "nose", "leftEyeBrowLeft", "leftEyeBrowRight", "rightEyeBrowLeft",
    "rightEyeBrowRight", "leftEyeLeft", "leftEyeRight", "rightEyeLeft", "rightEyeRight",
    "noseLeft", "noseRight", "upperJawlineLeft", "upperJawlineRight", "midJawlineLeft",
    "midJawlineRight"))

#: Radius of the eyeball: the pupil moves ``12 mm x sin(angle)``, about 0.21 mm per degree.
EYEBALL_RADIUS_MM = 12.0

# mean positions (mm) of the left half and the midline; the right half mirrors x
_MEAN = {
    "eyeLeft": (-31.5, 0.0, 0.0),
    "leftEyeLeft": (-46.0, 1.0, 7.0), "leftEyeRight": (-17.0, 1.0, 2.0),
    "leftEyeUp": (-31.5, -5.0, -1.5), "leftEyeDown": (-31.5, 4.5, -0.5),
    "leftEyeBrowLeft": (-55.0, -12.0, 8.0), "leftEyeBrowRight": (-13.0, -15.0, -4.0),
    "leftEyeBrowUp": (-33.0, -21.0, -5.0),
    "leftPupil": (-31.5, 0.0, -1.0),
    "nose": (0.0, 42.0, -20.0), "noseLeft": (-17.0, 47.0, -4.0),
    "mouthLeft": (-25.0, 72.0, 0.0), "mouthUp": (0.0, 66.0, -9.0),
    "mouthDown": (0.0, 80.0, -7.0),
    "upperJawlineLeft": (-72.0, 15.0, 55.0), "midJawlineLeft": (-58.0, 85.0, 30.0),
    "chinBottom": (0.0, 112.0, -2.0),
}
_MIRROR = {"eyeRight": "eyeLeft", "rightEyeRight": "leftEyeLeft", "rightEyeLeft": "leftEyeRight",
           "rightEyeUp": "leftEyeUp", "rightEyeDown": "leftEyeDown",
           "rightEyeBrowRight": "leftEyeBrowLeft", "rightEyeBrowLeft": "leftEyeBrowRight",
           "rightEyeBrowUp": "leftEyeBrowUp", "rightPupil": "leftPupil", "noseRight": "noseLeft",
           "mouthRight": "mouthLeft", "upperJawlineRight": "upperJawlineLeft",
           "midJawlineRight": "midJawlineLeft"}

# head rotation centre (mm, head frame): the neck pivot, behind and below the eyes
PIVOT = np.array([0.0, 60.0, 90.0])


def _mean_points() -> np.ndarray:
    pts = np.zeros((len(LANDMARKS), 3))
    for name, i in INDEX.items():
        if name in _MEAN:
            pts[i] = _MEAN[name]
        else:
            x, y, z = _MEAN[_MIRROR[name]]
            pts[i] = (-x, y, z)
    return pts


@dataclass(frozen=True)
class FaceGeometry:
    """One person's neutral face (``points``: (30, 3) mm, eyes open, mouth closed).

    ``eye_open_mm`` is the height of the open eye fissure (8-12 mm typical, 5-7 mm for narrow
    eyes); ``mouth_width_mm`` the corner-to-corner width of the closed mouth.
    """

    points: np.ndarray
    eye_open_mm: float
    mouth_width_mm: float

    def __post_init__(self) -> None:
        if self.points.shape != (len(LANDMARKS), 3):
            raise ValueError(f"points must have shape (30, 3), got {self.points.shape}")
        if not 3.0 <= self.eye_open_mm <= 15.0:
            raise ValueError(f"eye_open_mm must be 3..15 mm, got {self.eye_open_mm}")

    @property
    def interocular_mm(self) -> float:
        return float(self.points[INDEX["eyeRight"], 0] - self.points[INDEX["eyeLeft"], 0])

    def deform(self, openness: np.ndarray, gaze: np.ndarray, mouth_gap: np.ndarray,
               smile: np.ndarray) -> np.ndarray:
        """Head-frame points (n, 30, 3) for n states.

        ``openness`` (n, 2): visible eyelid opening per eye (image-left eye first), 1 = open,
        0 = closed; ``gaze`` (n, 2): eye yaw and pitch in degrees relative to the head (Rekognition
        signs); ``mouth_gap`` (n,): lip separation in mm; ``smile`` (n,): 0..1.
        """
        n = openness.shape[0]
        p = np.broadcast_to(self.points, (n,) + self.points.shape).copy()
        for eye, (up, down) in enumerate((("leftEyeUp", "leftEyeDown"),
                                          ("rightEyeUp", "rightEyeDown"))):
            iu, idn = INDEX[up], INDEX[down]
            o = np.clip(openness[:, eye], 0.0, 1.2)
            # the upper lid travels down to the lower lid, which rises by about 1 mm
            closed_y = self.points[idn, 1] - 1.0
            p[:, iu, 1] = closed_y + o * (self.points[iu, 1] - closed_y)
            p[:, idn, 1] = self.points[idn, 1] - (1.0 - o) * 1.0
        yaw, pitch = np.radians(gaze[:, 0]), np.radians(gaze[:, 1])
        for pupil in ("leftPupil", "rightPupil"):
            i = INDEX[pupil]
            centre = self.points[i] + np.array([0.0, 0.0, EYEBALL_RADIUS_MM])
            p[:, i, 0] = centre[0] + EYEBALL_RADIUS_MM * np.sin(yaw) * np.cos(pitch)
            p[:, i, 1] = centre[1] - EYEBALL_RADIUS_MM * np.sin(pitch)
            p[:, i, 2] = centre[2] - EYEBALL_RADIUS_MM * np.cos(yaw) * np.cos(pitch)
        s = np.clip(smile, 0.0, 1.0)
        for corner, sign in (("mouthLeft", -1.0), ("mouthRight", 1.0)):
            i = INDEX[corner]
            p[:, i, 0] += sign * 4.0 * s
            p[:, i, 1] -= 3.0 * s
            p[:, i, 2] += 2.0 * s
        p[:, INDEX["mouthUp"], 1] -= 1.0 * s
        gap = np.clip(mouth_gap, 0.0, 40.0)
        p[:, INDEX["mouthDown"], 1] += gap
        p[:, INDEX["chinBottom"], 1] += 0.6 * gap
        for jaw in ("midJawlineLeft", "midJawlineRight"):
            p[:, INDEX[jaw], 1] += 0.4 * gap
        return p


def mean_geometry() -> FaceGeometry:
    """The average adult face (the geometry a generic detector assumes)."""
    return FaceGeometry(_mean_points(), 10.0, 50.0)


def sample_geometry(rng: np.random.Generator, *, narrow_eyes: bool = False) -> FaceGeometry:
    """A person's face: the mean face with per-part scale factors drawn from ``rng``."""
    pts = _mean_points()
    f = lambda cv: float(np.clip(rng.normal(1.0, cv), 1 - 3 * cv, 1 + 3 * cv))  # noqa: E731
    size = f(0.05)
    eye_x, eye_w, nose_y, nose_z = f(0.05), f(0.07), f(0.07), f(0.15)
    mouth_y, mouth_w, chin_y, jaw_w, brow_y = f(0.06), f(0.08), f(0.07), f(0.07), f(0.15)
    out = pts.copy()
    for name, i in INDEX.items():
        x, y, z = pts[i]
        if "Eye" in name and "Brow" not in name or name in ("eyeLeft", "eyeRight") \
                or "Pupil" in name:
            centre = 31.5 * np.sign(x)
            x = centre * eye_x + (x - centre) * eye_w
        elif "Brow" in name:
            x, y = x * eye_x, y * brow_y
        elif name.startswith("nose"):
            y, z = y * nose_y, z * nose_z if name == "nose" else z
        elif name.startswith("mouth"):
            x, y = x * mouth_w, y * mouth_y
        elif "Jaw" in name or name == "chinBottom":
            x, y = x * jaw_w, y * chin_y
        out[i] = (x, y, z)
    out *= size
    eye_open = float(rng.uniform(5.0, 7.0) if narrow_eyes else rng.uniform(8.0, 12.0)) * size
    if narrow_eyes:  # a narrow fissure: the lids sit closer to the eye centre line
        k = eye_open / 10.0
        for up, down in (("leftEyeUp", "leftEyeDown"), ("rightEyeUp", "rightEyeDown")):
            cy = 0.5 * (out[INDEX[up], 1] + out[INDEX[down], 1])
            out[INDEX[up], 1] = cy + (out[INDEX[up], 1] - cy) * k
            out[INDEX[down], 1] = cy + (out[INDEX[down], 1] - cy) * k
    return FaceGeometry(out, eye_open, 50.0 * mouth_w * size)


def rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) ``R = Rroll @ Rpitch @ Ryaw`` from angles in degrees."""
    y, p, r = (np.radians(np.asarray(a, float)) for a in (yaw, pitch, roll))
    n = y.shape[0]
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    ry = np.zeros((n, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, -sy, 1, sy, cy
    rp = np.zeros((n, 3, 3))
    rp[:, 0, 0], rp[:, 1, 1], rp[:, 1, 2], rp[:, 2, 1], rp[:, 2, 2] = 1, cp, sp, -sp, cp
    rr = np.zeros((n, 3, 3))
    rr[:, 0, 0], rr[:, 0, 1], rr[:, 1, 0], rr[:, 1, 1], rr[:, 2, 2] = cr, -sr, sr, cr, 1
    return rr @ rp @ ry


def pose_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of one rotation matrix built as :func:`rotation`."""
    pitch = np.degrees(np.arcsin(np.clip(-r[2, 1], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(r[2, 0], r[2, 2]))
    roll = np.degrees(np.arctan2(-r[0, 1], r[1, 1]))
    return float(yaw), float(pitch), float(roll)
