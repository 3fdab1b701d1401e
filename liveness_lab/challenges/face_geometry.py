"""Identity continuity from face geometry alone: pose-normalised landmark ratios.

When no descriptor and no CompareFaces similarity is available (faces exactly as
DetectFaces returns them), the session can still check that the face keeps the proportions
of one person: a photo of someone else swapped in mid-session, or a second person taking
over, changes ratios such as mouth width or eye-to-mouth height over the inter-ocular
distance.

How a face becomes a feature vector (:func:`geometry_features`):

1. landmarks to pixels, then rotated so the eye line is horizontal (in-plane roll removed);
2. horizontal distances divided by ``cos(yaw)``, vertical ones by ``cos(pitch)`` (the
   first-order foreshortening of a turned or tilted head); frames beyond ``max_yaw`` /
   ``max_pitch`` give no features (the correction is poor there);
3. eight distances divided by the inter-ocular distance: each eye's width, the nose width,
   the mouth width, eye line to nose tip, eye line to mouth corners, the upper jaw width, eye
   line to chin.

The session's reference is the element-wise median of the first ``reference_frames``
usable frames; a frame's change is the mean absolute log-ratio to it. The check fails after
``consecutive`` frames in a row change by more than ``max_change`` (a single noisy frame
does not fail a person).

This is weak evidence: people of similar proportions are not told apart, and expressions
(a wide smile, an open mouth) move two of the eight ratios. ``docs/hardening.md`` gives the
measured separation; prefer descriptors or CompareFaces where they exist.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from ..faces import FaceDetail

__all__ = ["GEOMETRY_FEATURES", "geometry_features", "geometry_change"]

#: names of the features, in order
GEOMETRY_FEATURES = ("left_eye_width", "right_eye_width", "nose_width", "mouth_width",
                     "eyes_to_nose", "eyes_to_mouth", "jaw_width", "eyes_to_chin")

_NEEDED = ("eyeLeft", "eyeRight", "leftEyeLeft", "leftEyeRight", "rightEyeLeft",
           "rightEyeRight", "noseLeft", "noseRight", "nose", "mouthLeft", "mouthRight",
           "upperJawlineLeft", "upperJawlineRight", "chinBottom")


def geometry_features(face: FaceDetail, image_width: float, image_height: float, *,
                      max_yaw: float = 25.0, max_pitch: float = 20.0) -> np.ndarray | None:
    """The face's 8 pose-normalised ratios (see the module doc), or ``None``.

    ``None`` when a landmark or the pose is missing, the head is turned beyond ``max_yaw`` /
    ``max_pitch`` degrees, or the eyes coincide.
    """
    pose = face.pose
    if pose is None or pose.yaw is None or pose.pitch is None:
        return None
    if abs(pose.yaw) > max_yaw or abs(pose.pitch) > max_pitch:
        return None
    pts = {}
    for name in _NEEDED:
        lm = face.landmark(name)
        if lm is None:
            return None
        pts[name] = (lm.x * image_width, lm.y * image_height)
    (lx, ly), (rx, ry) = pts["eyeLeft"], pts["eyeRight"]
    angle = math.atan2(ry - ly, rx - lx)
    c, s = math.cos(-angle), math.sin(-angle)
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    kx = 1.0 / max(math.cos(math.radians(pose.yaw)), 1e-3)
    ky = 1.0 / max(math.cos(math.radians(pose.pitch)), 1e-3)
    p = {}
    for name, (x, y) in pts.items():
        dx, dy = x - cx, y - cy
        p[name] = ((c * dx - s * dy) * kx, (s * dx + c * dy) * ky)
    iod = abs(p["eyeRight"][0] - p["eyeLeft"][0])
    if iod <= 1e-6:
        return None

    def width(a: str, b: str) -> float:
        return abs(p[a][0] - p[b][0])

    def below_eyes(*names: str) -> float:
        return float(np.mean([p[n][1] for n in names]))

    values = np.array([
        width("leftEyeLeft", "leftEyeRight"), width("rightEyeLeft", "rightEyeRight"),
        width("noseLeft", "noseRight"), width("mouthLeft", "mouthRight"),
        below_eyes("nose"), below_eyes("mouthLeft", "mouthRight"),
        width("upperJawlineLeft", "upperJawlineRight"), below_eyes("chinBottom"),
    ], dtype=float) / iod
    if not np.all(np.isfinite(values)) or np.any(values <= 1e-6):
        return None
    return values


def geometry_change(reference: np.ndarray, features: np.ndarray) -> float:
    """Mean absolute log-ratio of ``features`` to ``reference`` (0: same proportions)."""
    return float(np.mean(np.abs(np.log(features / reference))))


def median_reference(samples: Sequence[np.ndarray]) -> np.ndarray:
    """The element-wise median of feature vectors."""
    return np.median(np.vstack(samples), axis=0)


def image_size_of(params: Mapping[str, object]) -> tuple[float, float]:
    """``(width, height)`` from challenge params, ``(1, 1)`` when they do not say."""
    w, h = params.get("imageWidth"), params.get("imageHeight")
    if isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0:
        return float(w), float(h)
    return 1.0, 1.0
