"""Assemble a :class:`~liveness_lab.faces.FaceDetail` from fitted dlib points.

Pure functions of the grayscale image, the fitted points and the detector
score; the measures come from :mod:`._geometry`. Values are rounded (ratios
to 6 decimals, angles to 0.01 degree) so that the JSON stays readable and
identical inputs give byte-identical output.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..faces import BoolAttribute, BoundingBox, FaceDetail, Landmark, Pose, Quality
from . import _geometry as geo

if TYPE_CHECKING:  # pragma: no cover
    from .local import LocalAnalyzerConfig

__all__ = ["describe_68", "describe_5"]

Box = tuple[float, float, float, float]

# Spreads of the decision confidences (threshold_confidence): how far from
# its threshold a measure must be for a confidence of about 88 (tanh(1)).
_EAR_SPREAD = 0.05
_MOUTH_SPREAD = 0.04
_SMILE_SPREAD = 0.06


def _round(x: float, digits: int) -> float:
    return float(round(x, digits))


def _common(gray: np.ndarray, box: Box, landmarks: list[tuple[str, float, float]],
            pose: tuple | None, score: float) -> dict[str, Any]:
    h, w = gray.shape[:2]
    left, top, right, bottom = box
    quality = geo.face_quality(gray, box)
    return dict(
        bounding_box=BoundingBox(_round(left / w, 6), _round(top / h, 6),
                                 _round((right - left) / w, 6), _round((bottom - top) / h, 6)),
        landmarks=tuple(Landmark(t, _round(x / w, 6), _round(y / h, 6)) for t, x, y in landmarks),
        pose=None if pose is None else Pose(roll=_round(pose[0], 2), yaw=_round(pose[1], 2),
                                            pitch=_round(pose[2], 2)),
        quality=None if quality is None else Quality(brightness=_round(quality[0], 3),
                                                    sharpness=_round(quality[1], 3)),
        confidence=_round(geo.detector_confidence(score), 4),
    )


def _decision(value: bool, measure: float, threshold: float, spread: float) -> BoolAttribute:
    return BoolAttribute(bool(value),
                         _round(geo.threshold_confidence(measure, threshold, spread), 3))


def describe_68(gray: np.ndarray, points: np.ndarray, score: float,
                config: "LocalAnalyzerConfig") -> FaceDetail:
    """Every field from 68 points: 30 landmarks (pupils measured from the pixels),
    box, pose, quality, confidence, ``EyesOpen``, ``MouthOpen`` and ``Smile``.

    The pupil of a closed eye (eye aspect ratio under
    ``config.eyes_open_threshold``) is placed at the centre of its outline,
    as Rekognition always reports both pupils and the POSE challenge reads
    them even for ``CLOSED``; gaze checks must look at ``EyesOpen`` first. The
    pupil of an open eye whose iris cannot be measured is omitted.
    """
    h, w = gray.shape[:2]
    idx = list(geo.MODEL_POINTS_68)
    pose = geo.solve_pose(points[idx], np.array(list(geo.MODEL_POINTS_68.values())), w, h)
    ears = []
    pupils = []
    for eye in (points[36:42], points[42:48]):
        ears.append(geo.eye_aspect_ratio(eye))
        if ears[-1] < config.eyes_open_threshold:  # nothing to measure behind a closed lid
            centre = eye.mean(axis=0)
            pupils.append((float(centre[0]), float(centre[1])))
        else:
            pupils.append(geo.estimate_pupil(gray, eye) or (math.nan, math.nan))
    landmarks = [lm for lm in geo.rekognition_landmarks_68(points, pupils[0], pupils[1])
                 if math.isfinite(lm[1])]
    ear = (ears[0] + ears[1]) / 2.0
    opening, width, lift = geo.mouth_measures(points)
    # a smile needs a wide mouth AND raised corners; the lift counts double because its
    # range is about half that of the width
    smile = min(width - config.smile_width_threshold, 2.0 * (lift - config.smile_lift_threshold))
    return FaceDetail(
        eyes_open=_decision(ear >= config.eyes_open_threshold, ear, config.eyes_open_threshold,
                            _EAR_SPREAD),
        mouth_open=_decision(opening > config.mouth_open_threshold, opening,
                             config.mouth_open_threshold, _MOUTH_SPREAD),
        smile=_decision(smile >= 0, smile, 0.0, _SMILE_SPREAD),
        **_common(gray, geo.face_box_68(points), landmarks, pose, score))


def describe_5(gray: np.ndarray, points: np.ndarray, score: float) -> FaceDetail:
    """The fields 5 points support: eye landmarks, the nose tip, box, coarse pose,
    quality and confidence. No pupils, ``EyesOpen``, ``MouthOpen`` or ``Smile``.

    The 5-point scheme marks the base of the nose; the ``nose`` landmark is the
    generic model's nose tip projected through the fitted pose.
    """
    h, w = gray.shape[:2]
    idx = list(geo.MODEL_POINTS_5)
    pose = geo.solve_pose(points[idx], np.array(list(geo.MODEL_POINTS_5.values())), w, h)
    tip = None
    if pose is not None:
        projected = geo.project_points(np.array([geo.MODEL_NOSE_TIP]), pose[3], pose[4], w, h)[0]
        tip = (float(projected[0]), float(projected[1]))
    landmarks = geo.rekognition_landmarks_5(points, tip)
    return FaceDetail(**_common(gray, geo.face_box_5(points), landmarks, pose, score))
