"""Assemble a :class:`~liveness_lab.faces.FaceDetail` from the 468-point MediaPipe face mesh.

Pure functions of the image, the mesh and the iris points. The mesh is first
mapped onto dlib's 68-point scheme (:data:`MESH_TO_68`), so the measures of
:mod:`._geometry` (Rekognition landmarks, face box, eye aspect ratio, mouth
measures, pose from the generic head model, quality) apply unchanged and the
two offline analyzers follow the same conventions (yaw > 0 when the nose
turns toward the image's right). Only the thresholds differ, because the two
point schemes mark the eyelids and lips a little differently; they are in
:class:`~.mesh.MeshAnalyzerConfig` with the measurements behind them in
``docs/analyzers.md``.

Mesh indices follow MediaPipe's canonical face mesh, 0-based. Seen in the
image of a frontal face, 33 is the outer corner of the image-left eye, 263
the outer corner of the image-right eye, 1 the nose tip, 152 the chin.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..faces import FaceDetail
from . import _geometry as geo
from ._describe import _common, _decision, _round

if TYPE_CHECKING:  # pragma: no cover
    from .mesh import MeshAnalyzerConfig

__all__ = ["MESH_TO_68", "EYE_CORNERS", "EYE_CONTOUR_VERTICES", "mesh_to_68", "refine_eyes", "eye_direction", "describe_mesh"]

#: For each of dlib's 68 points (iBUG 300-W order), the mesh vertex at the same place.
MESH_TO_68: tuple[int, ...] = (
    # jaw 0..16, from the image-left temple over the chin (8 = 152) to the image-right temple
    127, 234, 93, 132, 58, 172, 136, 150, 152, 379, 365, 397, 288, 361, 323, 454, 356,
    # brows 17..21 (image left, outer to inner) and 22..26 (inner to outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27..30 (30 = tip), nostrils 31..35 (33 = subnasale)
    168, 197, 5, 1, 98, 97, 2, 326, 327,
    # image-left eye 36..41: outer corner, 2 upper, inner corner, 2 lower
    33, 160, 158, 133, 153, 144,
    # image-right eye 42..47: inner corner, 2 upper, outer corner, 2 lower
    362, 385, 387, 263, 373, 380,
    # outer lips 48..59 from the image-left corner, over the top (51 = 0), back under (57 = 17)
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # inner lips 60..67
    78, 81, 13, 311, 308, 402, 14, 178,
)

#: The mesh vertices of the first 16 points of the iris model's eye contour (its eyelids:
#: the lower lid from the outer to the inner corner, then the upper lid without the corners),
#: for the image-left and the image-right eye: MediaPipe's own mapping. The iris model
#: follows the lids much better than the mesh (the mesh hardly closes its eyes).
EYE_CONTOUR_VERTICES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
)

#: (image-left eye, image-right eye) corner vertices, each (left, right) in the image:
#: the iris crops are placed and turned on them.
EYE_CORNERS = ((33, 133), (362, 263))

# Eyeball radius in eye widths (corner to corner): about 12 mm over 30 mm. An iris
# centre displaced d eye widths from the middle of the corners is turned asin(d / r).
_EYEBALL_RADIUS = 0.4
# The iris centre of an eye looking straight ahead sits this far above the corner line
# (eye widths): the mean of the two frontal test photos (docs/analyzers.md).
_IRIS_REST_HEIGHT = 0.075


def mesh_to_68(mesh: np.ndarray) -> np.ndarray:
    """The 68 dlib-scheme points ``(68, 2)`` (pixels) of a mesh ``(468, >= 2)``."""
    return np.asarray(mesh, dtype=np.float64)[list(MESH_TO_68), :2]


def refine_eyes(mesh: np.ndarray, contours: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A copy of ``mesh`` whose eyelid vertices are moved (x, y) to the iris model's eye
    contours (each ``(>= 16, >= 2)`` pixels, image-left eye first), as MediaPipe does."""
    out = np.array(mesh, dtype=np.float64, copy=True)
    for vertices, contour in zip(EYE_CONTOUR_VERTICES, contours):
        out[list(vertices), :2] = np.asarray(contour)[:16, :2]
    return out


def _eye_angles(iris: np.ndarray, corners: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """``(yaw, pitch)`` in degrees of one iris centre within its eye corners."""
    left, right = corners
    axis = right - left
    width = float(np.hypot(*axis))
    if width <= 0:
        return 0.0, 0.0
    ex = axis / width
    ey = np.array([-ex[1], ex[0]])  # the face's "down" in the image
    offset = iris - (left + right) / 2.0
    u = float(np.dot(offset, ex)) / width
    v = -float(np.dot(offset, ey)) / width - _IRIS_REST_HEIGHT  # > 0: above its rest height
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, u / _EYEBALL_RADIUS))))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, v / _EYEBALL_RADIUS))))
    return yaw, pitch


def eye_direction(irises: tuple[np.ndarray, np.ndarray], points68: np.ndarray,
                  eyes_open: float, threshold: float) -> dict[str, float]:
    """Rekognition's ``EyeDirection`` ``{Yaw, Pitch, Confidence}`` from the iris centres.

    Independent of the head pose, like Rekognition's: each iris centre's
    offset from the middle of its eye corners, in eye widths, read as the
    turn of an eyeball of radius 0.4 eye widths; the mean of both eyes. Yaw >
    0 when the eyes look toward the image's right, pitch > 0 when they look
    up (the head pose's conventions). ``Confidence`` is 50 at the eyes-open
    threshold, high for open eyes whose two readings agree, lower when they
    disagree (a wrong iris fit) and near 0 for closed eyes.
    """
    left = _eye_angles(irises[0], (points68[36], points68[39]))
    right = _eye_angles(irises[1], (points68[42], points68[45]))
    yaw = (left[0] + right[0]) / 2.0
    pitch = (left[1] + right[1]) / 2.0
    disagreement = math.hypot(left[0] - right[0], left[1] - right[1])
    openness = 1.0 / (1.0 + math.exp(-(eyes_open - threshold) / 0.01))
    confidence = 100.0 * openness * math.exp(-disagreement / 60.0)
    return {"Yaw": _round(yaw, 2), "Pitch": _round(pitch, 2), "Confidence": _round(confidence, 3)}


def describe_mesh(gray: np.ndarray, mesh: np.ndarray,
                  irises: tuple[np.ndarray, np.ndarray] | None, score: float,
                  config: "MeshAnalyzerConfig") -> FaceDetail:
    """Every field from one face's mesh: 30 landmarks (pupils at the iris centres), box,
    pose, quality, ``Confidence`` (``score`` 0..1 times 100), ``MouthOpen``,
    ``Smile`` and, when ``config.mesh``, the mesh in ``LivenessLab.Mesh``; with
    the irises also ``EyesOpen`` and ``EyeDirection``.

    ``gray`` is the grayscale image ``(H, W)``; ``mesh`` the face mesh with its
    eyelids refined by the iris model (:func:`refine_eyes`) when ``irises``
    are given; ``irises`` the two iris centres (pixels) of the image-left and
    image-right eye, or ``None``: the pupils are then the centres of the eye
    outlines, and ``EyesOpen`` and ``EyeDirection`` are omitted (the mesh's
    own eyelids barely move when the eyes close: measured in docs/analyzers.md).
    """
    h, w = gray.shape[:2]
    points = mesh_to_68(mesh)
    idx = list(geo.MODEL_POINTS_68)
    pose = geo.solve_pose(points[idx], np.array(list(geo.MODEL_POINTS_68.values())), w, h)
    ears = [geo.eye_aspect_ratio(points[36:42]), geo.eye_aspect_ratio(points[42:48])]
    ear = (ears[0] + ears[1]) / 2.0
    if irises is not None:
        pupils = [(float(p[0]), float(p[1])) for p in irises]
    else:
        pupils = [tuple(float(v) for v in points[36:42].mean(axis=0)),
                  tuple(float(v) for v in points[42:48].mean(axis=0))]
    landmarks = geo.rekognition_landmarks_68(points, pupils[0], pupils[1])
    opening, width, lift = geo.mouth_measures(points)
    smile = min(width - config.smile_width_threshold, 2.0 * (lift - config.smile_lift_threshold))
    common = _common(gray, geo.face_box_68(points), landmarks, pose, 0.0)
    common["confidence"] = _round(100.0 * min(max(score, 0.0), 1.0), 4)
    # ``extra`` is built read-only here (mapping proxies, tuples), as FaceDetail stores it:
    # FaceDetail then keeps it as it is instead of deep-copying 1,404 mesh numbers per face
    extra: dict[str, Any] = {}
    if irises is not None:
        extra["EyeDirection"] = MappingProxyType(eye_direction(
            (np.asarray(irises[0]), np.asarray(irises[1])), points, ear,
            config.eyes_open_threshold))
    if config.mesh:
        extra["LivenessLab"] = MappingProxyType(
            {"Mesh": tuple(map(tuple, mesh_extension(mesh, w, h)))})
    eyes_open = None
    if irises is not None:
        eyes_open = _decision(ear >= config.eyes_open_threshold, ear,
                              config.eyes_open_threshold, _EAR_SPREAD)
    return FaceDetail(
        eyes_open=eyes_open,
        mouth_open=_decision(opening > config.mouth_open_threshold, opening,
                             config.mouth_open_threshold, _MOUTH_SPREAD),
        smile=_decision(smile >= 0, smile, 0.0, _SMILE_SPREAD),
        extra=MappingProxyType(extra), **common)


_EAR_SPREAD = 0.04
_MOUTH_SPREAD = 0.04
_SMILE_SPREAD = 0.06


def mesh_extension(mesh: np.ndarray, width: int, height: int) -> list[list[float]]:
    """The mesh as stored in ``LivenessLab.Mesh``: 468 ``[X, Y, Z]``, X and Y ratios of the
    image width and height, Z (depth, smaller is nearer the camera, 0 about the face's
    middle) in image widths; 5 decimals."""
    m = np.asarray(mesh, dtype=np.float64)
    out = np.column_stack([m[:, 0] / width, m[:, 1] / height, m[:, 2] / width])
    return np.round(out, 5).tolist()

