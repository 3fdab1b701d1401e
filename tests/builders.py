"""Builders for hand-made faces and sessions (no hand-written JSON blobs in tests)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from liveness_lab.faces import (LANDMARK_TYPES, BoolAttribute, BoundingBox, FaceDetail, Landmark,
                                Pose, Quality)
from liveness_lab.sessions import Frame, Session

# Landmark template in face-box coordinates (0..1 of the box), with a depth used to fake a
# head turn: the nose protrudes (1.0), the eyes and mouth a little, the jawline not at all.
TEMPLATE: dict[str, tuple[float, float, float]] = {
    "eyeLeft": (0.30, 0.38, 0.3), "eyeRight": (0.70, 0.38, 0.3),
    "mouthLeft": (0.35, 0.78, 0.4), "mouthRight": (0.65, 0.78, 0.4),
    "nose": (0.50, 0.58, 1.0),
    "leftEyeBrowLeft": (0.18, 0.28, 0.2), "leftEyeBrowRight": (0.42, 0.27, 0.3),
    "leftEyeBrowUp": (0.30, 0.24, 0.25),
    "rightEyeBrowLeft": (0.58, 0.27, 0.3), "rightEyeBrowRight": (0.82, 0.28, 0.2),
    "rightEyeBrowUp": (0.70, 0.24, 0.25),
    "leftEyeLeft": (0.22, 0.38, 0.25), "leftEyeRight": (0.38, 0.38, 0.3),
    "leftEyeUp": (0.30, 0.35, 0.3), "leftEyeDown": (0.30, 0.41, 0.3),
    "rightEyeLeft": (0.62, 0.38, 0.3), "rightEyeRight": (0.78, 0.38, 0.25),
    "rightEyeUp": (0.70, 0.35, 0.3), "rightEyeDown": (0.70, 0.41, 0.3),
    "noseLeft": (0.43, 0.62, 0.7), "noseRight": (0.57, 0.62, 0.7),
    "mouthUp": (0.50, 0.74, 0.5), "mouthDown": (0.50, 0.83, 0.45),
    "leftPupil": (0.30, 0.38, 0.3), "rightPupil": (0.70, 0.38, 0.3),
    "upperJawlineLeft": (0.05, 0.40, 0.0), "midJawlineLeft": (0.12, 0.75, 0.0),
    "chinBottom": (0.50, 1.00, 0.1), "midJawlineRight": (0.88, 0.75, 0.0),
    "upperJawlineRight": (0.95, 0.40, 0.0),
}
assert set(TEMPLATE) == set(LANDMARK_TYPES)


def make_landmarks(box: tuple[float, float, float, float], *, turn: float = 0.0,
                   overrides: dict[str, tuple[float, float]] | None = None,
                   omit: Iterable[str] = ()) -> tuple[Landmark, ...]:
    """Landmarks of a face in ``box`` (ratios); ``turn`` shifts points by depth x turn x width."""
    left, top, width, height = box
    out = []
    omit = set(omit)
    for name, (u, v, depth) in TEMPLATE.items():
        if name in omit:
            continue
        x = left + (u + turn * depth) * width
        y = top + v * height
        if overrides and name in overrides:
            x, y = overrides[name]
        out.append(Landmark(name, x, y))
    return tuple(out)


def make_face(*, box: tuple[float, float, float, float] = (0.3125, 0.1667, 0.375, 0.6667),
              yaw: float | None = 0.0, pitch: float | None = 0.0, roll: float | None = 0.0,
              turn: float = 0.0, nose: tuple[float, float] | None = None,
              landmarks: Sequence[Landmark] | None = None, omit: Iterable[str] = (),
              confidence: float | None = 99.9, eyes_open: bool | None = True,
              mouth_open: bool | None = False, smile: bool | None = False,
              pupils: tuple[float, float] | None = None, with_box: bool = True) -> FaceDetail:
    """A face in ``box`` (Left, Top, Width, Height ratios) with a consistent landmark layout.

    ``nose`` moves the nose landmark to an absolute position (ratios); ``pupils`` sets both
    pupils' horizontal position inside their eyes (0 = outer-left corner, 1 = right corner).
    """
    overrides: dict[str, tuple[float, float]] = {}
    if nose is not None:
        overrides["nose"] = nose
    if landmarks is None:
        lms = list(make_landmarks(box, turn=turn, overrides=overrides, omit=omit))
        if pupils is not None:
            by = {lm.type: lm for lm in lms}
            for side, rel in (("left", pupils[0]), ("right", pupils[1])):
                lc, rc = by[f"{side}EyeLeft"], by[f"{side}EyeRight"]
                p = Landmark(f"{side}Pupil", lc.x + rel * (rc.x - lc.x), lc.y)
                lms = [p if lm.type == p.type else lm for lm in lms]
        landmarks = tuple(lms)
    pose = None if yaw is None and pitch is None and roll is None else Pose(roll, yaw, pitch)
    return FaceDetail(
        bounding_box=BoundingBox(*box) if with_box else None,
        landmarks=tuple(landmarks), pose=pose, quality=Quality(60.0, 80.0),
        eyes_open=None if eyes_open is None else BoolAttribute(eyes_open, 98.0),
        mouth_open=None if mouth_open is None else BoolAttribute(mouth_open, 95.0),
        smile=None if smile is None else BoolAttribute(smile, 95.0),
        confidence=confidence)


def make_session(challenge_type: str, params: dict[str, Any],
                 frames: Sequence[tuple[int, Sequence[FaceDetail]]], *, sid: str = "s-1",
                 label: str = "bona_fide", species: str | None = None) -> Session:
    return Session(sid, challenge_type, params,
                   tuple(Frame(ts, tuple(faces)) for ts, faces in frames), label, species)


# A 640x480 NOSE challenge with the target right of and below the centre.
NOSE_PARAMS = {"imageWidth": 640, "imageHeight": 480, "areaLeft": 185, "areaTop": 60,
               "areaWidth": 270, "areaHeight": 360, "minFaceAreaPercent": 40,
               "noseLeft": 383, "noseTop": 256, "noseWidth": 20, "noseHeight": 20}
T0 = 1_700_000_000_000
