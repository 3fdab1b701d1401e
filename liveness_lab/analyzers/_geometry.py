"""Pure geometry of the local analyzer: dlib points in, Rekognition-shaped measures out.

Everything here is a plain function on numpy arrays (pixel coordinates,
``x`` to the right, ``y`` down), so it can be tested without dlib. The
mappings and constants are documented in ``docs/analyzers.md``.

dlib's 68-point scheme (iBUG 300-W), 0-based, as seen in the image of a
frontal face: jaw 0..16 (0 at the image left), brows 17..21 (image left) and
22..26, nose bridge 27..30 (30 = tip), nostrils 31..35, eyes 36..41 (image
left, 36 = outer corner) and 42..47 (42 = inner corner), outer lips 48..59
(48 = image-left corner, 51 = top, 57 = bottom), inner lips 60..67.
dlib's 5-point scheme: 0, 1 outer and inner corner of the image-right eye,
2, 3 outer and inner corner of the image-left eye, 4 the base of the nose
(subnasale, the same point as 68-point 33).

Rekognition names landmarks from the image: ``eyeLeft`` is the eye on the
image's left for an upright unmirrored face (68-point 36..41).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..faces import LANDMARK_TYPES

__all__ = [
    "LANDMARKS_68",
    "MODEL_POINTS_68",
    "MODEL_POINTS_5",
    "MODEL_NOSE_TIP",
    "rekognition_landmarks_68",
    "rekognition_landmarks_5",
    "face_box_68",
    "face_box_5",
    "eye_aspect_ratio",
    "mouth_measures",
    "estimate_pupil",
    "solve_pose",
    "project_points",
    "face_quality",
    "detector_confidence",
    "threshold_confidence",
]

# -- landmark mapping -----------------------------------------------------------------------
#: Rekognition landmark type -> the 68-point indices averaged to place it.
#: ``leftPupil`` / ``rightPupil`` are not in the table: they are measured from
#: the pixels (:func:`estimate_pupil`).
LANDMARKS_68: dict[str, tuple[int, ...]] = {
    "eyeLeft": (36, 37, 38, 39, 40, 41),
    "eyeRight": (42, 43, 44, 45, 46, 47),
    "mouthLeft": (48,),
    "mouthRight": (54,),
    "nose": (30,),
    "leftEyeBrowLeft": (17,),
    "leftEyeBrowRight": (21,),
    "leftEyeBrowUp": (19,),
    "rightEyeBrowLeft": (22,),
    "rightEyeBrowRight": (26,),
    "rightEyeBrowUp": (24,),
    "leftEyeLeft": (36,),
    "leftEyeRight": (39,),
    "leftEyeUp": (37, 38),
    "leftEyeDown": (40, 41),
    "rightEyeLeft": (42,),
    "rightEyeRight": (45,),
    "rightEyeUp": (43, 44),
    "rightEyeDown": (46, 47),
    "noseLeft": (31,),
    "noseRight": (35,),
    "mouthUp": (51,),
    "mouthDown": (57,),
    "upperJawlineLeft": (0,),
    "midJawlineLeft": (3, 4),
    "chinBottom": (8,),
    "midJawlineRight": (12, 13),
    "upperJawlineRight": (16,),
}

# -- generic 3D head model ------------------------------------------------------------------
# Millimetres, origin at the nose tip, X toward the image right of a frontal
# face, Y up, Z toward the camera. Widths and depths are average adult
# proportions (outer eye corners 88 mm apart); the heights were set from the
# 68-point fits of the two frontal test portraits (see docs/analyzers.md).
# Only points that expressions move little are used: not the mouth (a smile
# raises its corners and would read as the head looking down), not the brows.
MODEL_POINTS_68: dict[int, tuple[float, float, float]] = {
    30: (0.0, 0.0, 0.0),        # nose tip
    27: (0.0, 34.0, -18.0),     # top of the nose bridge
    31: (-12.0, -6.5, -17.0),   # nostrils
    33: (0.0, -10.5, -13.0),    # subnasale
    35: (12.0, -6.5, -17.0),
    36: (-44.0, 32.0, -33.0),   # eye corners, outer and inner
    39: (-15.0, 31.5, -25.0),
    42: (15.0, 31.5, -25.0),
    45: (44.0, 32.0, -33.0),
    8: (0.0, -70.0, -30.0),     # chin
}
#: The same model for the 5-point scheme (index -> 3D point).
MODEL_POINTS_5: dict[int, tuple[float, float, float]] = {
    0: MODEL_POINTS_68[45], 1: MODEL_POINTS_68[42], 2: MODEL_POINTS_68[36],
    3: MODEL_POINTS_68[39], 4: MODEL_POINTS_68[33],
}
MODEL_NOSE_TIP = (0.0, 0.0, 0.0)

# Rekognition's box from the landmarks (see docs/analyzers.md): it reaches
# above the brows by this fraction of the brow-to-chin height...
BOX_FOREHEAD = 0.36
# ...below the chin by this fraction of the same height...
BOX_BELOW_CHIN = 0.015
# ...and beyond the jaw contour by this fraction of the jaw width on each side.
BOX_SIDES = 0.05
# 5-point box, in units of the outer-eye-corner distance from the eye midpoint:
# the mean ratios of the 68-point boxes of the test photos and their variants.
BOX5_WIDTH, BOX5_ABOVE, BOX5_BELOW = 1.76, 0.84, 1.23


def _mean(points: np.ndarray, idx: Sequence[int]) -> tuple[float, float]:
    p = points[list(idx)].mean(axis=0)
    return float(p[0]), float(p[1])


def rekognition_landmarks_68(points: np.ndarray, left_pupil: tuple[float, float],
                             right_pupil: tuple[float, float]) -> list[tuple[str, float, float]]:
    """The 30 Rekognition landmarks ``(type, x, y)`` in pixels from 68 dlib points."""
    out = [(name, *_mean(points, idx)) for name, idx in LANDMARKS_68.items()]
    out.append(("leftPupil", float(left_pupil[0]), float(left_pupil[1])))
    out.append(("rightPupil", float(right_pupil[0]), float(right_pupil[1])))
    return _in_rekognition_order(out)


def _in_rekognition_order(landmarks: list[tuple[str, float, float]]
                          ) -> list[tuple[str, float, float]]:
    order = {t: i for i, t in enumerate(LANDMARK_TYPES)}
    return sorted(landmarks, key=lambda lm: order[lm[0]])


def rekognition_landmarks_5(points: np.ndarray, nose_tip: tuple[float, float] | None
                            ) -> list[tuple[str, float, float]]:
    """The landmarks that 5 dlib points support: eye corners and centres, and the nose.

    ``nose_tip`` is the tip projected through the fitted head model (the
    5-point scheme only has the base of the nose); ``None`` omits it.
    """
    out = [
        ("eyeLeft", *_mean(points, (2, 3))),
        ("eyeRight", *_mean(points, (0, 1))),
        ("leftEyeLeft", *_mean(points, (2,))),
        ("leftEyeRight", *_mean(points, (3,))),
        ("rightEyeLeft", *_mean(points, (1,))),
        ("rightEyeRight", *_mean(points, (0,))),
    ]
    if nose_tip is not None:
        out.append(("nose", float(nose_tip[0]), float(nose_tip[1])))
    return _in_rekognition_order(out)


def face_box_68(points: np.ndarray) -> tuple[float, float, float, float]:
    """A Rekognition-like face box ``(left, top, right, bottom)`` in pixels from 68 points.

    Horizontally the jaw contour plus :data:`BOX_SIDES`; vertically from the
    highest brow point raised by :data:`BOX_FOREHEAD` of the brow-to-chin
    height (Rekognition's box covers the lower forehead) down to the chin.
    """
    jaw = points[0:17]
    left, right = float(jaw[:, 0].min()), float(jaw[:, 0].max())
    brow_top = float(points[17:27, 1].min())
    chin = float(jaw[:, 1].max())
    height = max(chin - brow_top, 1.0)
    width = right - left
    return (left - BOX_SIDES * width, brow_top - BOX_FOREHEAD * height,
            right + BOX_SIDES * width, chin + BOX_BELOW_CHIN * height)


def face_box_5(points: np.ndarray) -> tuple[float, float, float, float]:
    """A coarse Rekognition-like box ``(left, top, right, bottom)`` from 5 points.

    Centred on the eye midpoint, sized from the outer-eye-corner distance
    ``d``: width ``BOX5_WIDTH * d``, from ``BOX5_ABOVE * d`` above the eyes to
    ``BOX5_BELOW * d`` below them (ratios fitted on the 68-point boxes of the
    test photos and their variants, within about 5%).
    """
    d = float(np.hypot(*(points[0] - points[2])))
    cx, cy = _mean(points, (0, 1, 2, 3))
    half = BOX5_WIDTH * d / 2
    return cx - half, cy - BOX5_ABOVE * d, cx + half, cy + BOX5_BELOW * d


# -- eyes and mouth -------------------------------------------------------------------------
def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Eye aspect ratio of 6 eye points (corner, 2 upper, corner, 2 lower).

    ``(|p1 - p5| + |p2 - p4|) / (2 |p0 - p3|)``: about 0.25-0.35 for an open
    eye, under 0.2 for a closed one (Soukupova & Cech 2016).
    """
    width = float(np.hypot(*(eye[0] - eye[3])))
    if width <= 0:
        return 0.0
    v = float(np.hypot(*(eye[1] - eye[5]))) + float(np.hypot(*(eye[2] - eye[4])))
    return v / (2.0 * width)


def mouth_measures(points: np.ndarray) -> tuple[float, float, float]:
    """``(opening, width, corner_lift)`` of the mouth, in inter-ocular distances.

    - opening: mean gap between the inner lips (61-67, 62-66, 63-65);
    - width: distance between the mouth corners (48, 54);
    - corner_lift: how far the corners sit above the midpoint of the outer
      lip top (51) and bottom (57), measured perpendicular to the eye line so
      that head roll does not change it (positive: corners up).
    """
    left_eye = points[36:42].mean(axis=0)
    right_eye = points[42:48].mean(axis=0)
    axis = right_eye - left_eye
    iod = float(np.hypot(*axis))
    if iod <= 0:
        return 0.0, 0.0, 0.0
    ex = axis / iod
    down = np.array([-ex[1], ex[0]])  # the face's "down" direction in the image
    gaps = [float(np.hypot(*(points[a] - points[b]))) for a, b in ((61, 67), (62, 66), (63, 65))]
    opening = float(np.mean(gaps)) / iod
    width = float(np.hypot(*(points[54] - points[48]))) / iod
    centre = (points[51] + points[57]) / 2.0
    corners = (points[48] + points[54]) / 2.0
    lift = float(np.dot(centre - corners, down)) / iod
    return opening, width, lift


def estimate_pupil(gray: np.ndarray, eye: np.ndarray) -> tuple[float, float] | None:
    """The pupil position in pixels, measured from the pixels inside the eye outline.

    The eye polygon (6 points) is shrunk toward its centre to leave out the
    lashes and corner shadows; inside it, after a light blur, the darkest
    pixels (below the 35th intensity percentile) vote for the centre with a
    weight that grows with their darkness. The iris and pupil are the darkest
    part of an open eye, so the result follows the gaze, unlike the centre of
    the outline. ``None`` when the region is too small or has no contrast
    (a closed eye): the caller decides what to report.
    """
    import cv2

    centre = eye.mean(axis=0)
    poly = centre + (eye - centre) * np.array([0.9, 0.8])
    x0 = int(math.floor(poly[:, 0].min()))
    y0 = int(math.floor(poly[:, 1].min()))
    x1 = int(math.ceil(poly[:, 0].max())) + 1
    y1 = int(math.ceil(poly[:, 1].max())) + 1
    h, w = gray.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 2:
        return None
    crop = gray[y0:y1, x0:x1].astype(np.float32)
    scale = 1
    if x1 - x0 < 32:  # small eyes: work on a 4x finer grid for sub-pixel weights
        scale = 4
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    crop = cv2.GaussianBlur(crop, (0, 0), 0.8 * scale)
    mask = np.zeros(crop.shape, np.uint8)
    shifted = (poly - (x0, y0)) * scale + (scale - 1) / 2.0
    cv2.fillPoly(mask, [np.round(shifted * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    values = crop[mask > 0]
    if values.size < 6:
        return None
    low, high = np.percentile(values, (35, 95))
    if high - low < 8.0:  # no visible iris
        return None
    weights = np.where(mask > 0, np.clip(low - crop, 0, None), 0.0)
    total = float(weights.sum())
    if total <= 0:
        return None
    ys, xs = np.mgrid[0:crop.shape[0], 0:crop.shape[1]]
    cx = float((weights * xs).sum()) / total
    cy = float((weights * ys).sum()) / total
    return x0 + (cx - (scale - 1) / 2.0) / scale, y0 + (cy - (scale - 1) / 2.0) / scale


# -- head pose ------------------------------------------------------------------------------
def _camera(width: int, height: int) -> np.ndarray:
    f = float(max(width, height))  # about a 53 degree field of view, typical of webcams
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


# Model frame (x right, y up, z toward the camera) to OpenCV camera frame
# (x right, y down, z away from the camera): a half turn about x.
_FLIP = np.diag([1.0, -1.0, -1.0])


def solve_pose(image_points: np.ndarray, model_points: np.ndarray, width: int, height: int
               ) -> tuple[float, float, float, np.ndarray, np.ndarray] | None:
    """Head pose ``(roll, yaw, pitch, rvec, tvec)`` with Rekognition's sign conventions.

    ``None`` when the fit fails (the caller then omits the pose).

    Fits the generic model with :func:`cv2.solvePnP` (iterative), seeded
    with a frontal pose at the distance that matches the face's size in the
    image, so the solution stays in the basin of the frontal pose and never
    flips to the mirror solution. Angles in degrees:

    - yaw > 0 when the nose turns toward the image's right side;
    - pitch > 0 when the face looks up;
    - roll > 0 when the face is rotated clockwise in the image.

    They are the Euler angles of ``M = Rz(-roll) Ry(yaw) Rx(-pitch)``, the
    head rotation in a viewer frame (x right, y up, z toward the viewer).
    Roll is outermost, so rotating the image in its plane changes the roll
    only, never the yaw or pitch.
    """
    import cv2

    image_points = np.ascontiguousarray(image_points, dtype=np.float64).reshape(-1, 1, 2)
    model_points = np.ascontiguousarray(model_points, dtype=np.float64).reshape(-1, 1, 3)
    cam = _camera(width, height)
    f = cam[0, 0]
    img = image_points.reshape(-1, 2)
    mdl = model_points.reshape(-1, 3)
    img_c, mdl_c = img.mean(axis=0), mdl.mean(axis=0)
    img_spread = float(np.sqrt(((img - img_c) ** 2).sum(axis=1).mean()))
    mdl_spread = float(np.sqrt(((mdl[:, :2] - mdl_c[:2]) ** 2).sum(axis=1).mean()))
    z = f * mdl_spread / max(img_spread, 1e-6)
    # frontal seed: the model centroid projects onto the image centroid at depth z
    rvec = np.array([[math.pi], [0.0], [0.0]])
    cam_c = _FLIP @ mdl_c
    tvec = np.array([[(img_c[0] - cam[0, 2]) * z / f - cam_c[0]],
                     [(img_c[1] - cam[1, 2]) * z / f - cam_c[1]],
                     [z - cam_c[2]]])
    ok, rvec, tvec = cv2.solvePnP(model_points, image_points, cam, None, rvec, tvec,
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok or not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
        return None
    rot, _ = cv2.Rodrigues(rvec)
    m = _FLIP @ rot
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -m[2, 0]))))
    pitch = -math.degrees(math.atan2(m[2, 1], m[2, 2]))
    roll = -math.degrees(math.atan2(m[1, 0], m[0, 0]))
    return roll, yaw, pitch, rvec, tvec


def project_points(model_points: np.ndarray, rvec: np.ndarray, tvec: np.ndarray,
                   width: int, height: int) -> np.ndarray:
    """Pixel positions ``(N, 2)`` of model points under the pose from :func:`solve_pose`."""
    import cv2

    pts, _ = cv2.projectPoints(np.asarray(model_points, dtype=np.float64).reshape(-1, 1, 3),
                               rvec, tvec, _camera(width, height), None)
    return pts.reshape(-1, 2)


# -- image quality ----------------------------------------------------------------------------
#: Laplacian variance (face resized to 128 px wide) that maps to Sharpness 50.
SHARPNESS_HALF = 150.0
QUALITY_WIDTH = 128


def face_quality(gray: np.ndarray, box: tuple[float, float, float, float]
                 ) -> tuple[float, float] | None:
    """``(brightness, sharpness)`` in 0..100 over the face box (clipped to the image).

    Brightness is the mean luminance scaled from 0..255 to 0..100. Sharpness
    is the variance ``v`` of the Laplacian of the face resized to 128 pixels
    wide (so that it does not depend on the face's size in pixels), mapped
    to ``100 * v / (v + SHARPNESS_HALF)``. ``None`` when the box is outside
    the image.
    """
    import cv2

    h, w = gray.shape[:2]
    x0, y0 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    x1, y1 = min(int(round(box[2])), w), min(int(round(box[3])), h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = gray[y0:y1, x0:x1]
    brightness = float(crop.mean()) * 100.0 / 255.0
    scale = QUALITY_WIDTH / (x1 - x0)
    size = (QUALITY_WIDTH, max(4, int(round((y1 - y0) * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    norm = cv2.resize(crop, size, interpolation=interp)
    v = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    sharpness = 100.0 * v / (v + SHARPNESS_HALF)
    return brightness, sharpness


# -- confidences ------------------------------------------------------------------------------
def detector_confidence(score: float) -> float:
    """Face confidence 0..100 from a dlib HOG detector score (an SVM margin).

    A logistic curve ``100 / (1 + exp(-4.6 * score))``: 50 at the detector's
    own decision boundary (score 0), 90.9 at 0.5, 99 at 1.0, 99.9 at 1.5.
    """
    return 100.0 / (1.0 + math.exp(-4.59512 * float(score)))


def threshold_confidence(value: float, threshold: float, spread: float) -> float:
    """Confidence 50..100 in a thresholded decision.

    ``50 + 50 tanh(|value - threshold| / spread)``: 50 at the threshold, about
    88 one ``spread`` away, 98 two spreads away.
    """
    return 50.0 + 50.0 * math.tanh(abs(value - threshold) / spread)
