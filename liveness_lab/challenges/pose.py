"""POSE: show a requested pose of the eyes and mouth.

With the default configuration (the ``seed`` profile) this decides exactly as
the original: one state that decides on the **first frame** it sees. A missing
attribute or landmark fails its check with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..faces import FaceDetail
from .framework import (ChallengeConfig, ChallengeRandom, ChallengeType, Context, Fail,
                        FrameInput, StepResult, Success)
from .nose import _image_size

__all__ = ["POSE", "PoseConfig", "pose_params", "EYES", "MOUTH", "eye_direction"]

EYES = ("OPEN", "CLOSED", "LOOKING_LEFT", "LOOKING_RIGHT")
MOUTH = ("CLOSED", "SMILE")


@dataclass(frozen=True)
class PoseConfig(ChallengeConfig):
    """Thresholds of the POSE challenge (defaults: the original's values)."""

    min_face_confidence: float = field(default=90.0, metadata={
        "help": "minimum face Confidence (0..100)"})
    max_rotation: float = field(default=20.0, metadata={
        "help": "maximum |roll|, |yaw| and |pitch|, degrees"})
    eye_direction_area_multiplier: float = field(default=1.2, metadata={
        "help": "a pupil within (1/3 x this) of the eye width from a corner looks that way"})


POSE = ChallengeType("POSE", config_class=PoseConfig,
                     description="show the requested eyes and mouth pose")


@POSE.params
def pose_params(client_metadata: Mapping[str, Any], config: PoseConfig,
                rng: ChallengeRandom) -> dict[str, Any]:
    """Params of a new POSE challenge: the image size and a random eyes/mouth pose."""
    w, h = _image_size(client_metadata)
    eyes = rng.choice(list(EYES))
    mouth = rng.choice(list(MOUTH))
    return {"imageWidth": w, "imageHeight": h, "pose": {"eyes": eyes, "mouth": mouth}}


def eye_direction(corner_left_x: float, corner_right_x: float, pupil_x: float,
                  multiplier: float) -> str:
    """``LOOKING_LEFT``, ``LOOKING_RIGHT`` or ``OPEN`` from the pupil's x within the eye."""
    third = (corner_right_x - corner_left_x) / 3
    if pupil_x <= corner_left_x + third * multiplier:
        return "LOOKING_LEFT"
    if pupil_x >= corner_right_x - third * multiplier:
        return "LOOKING_RIGHT"
    return "OPEN"


_EYE_LANDMARKS = {"left": ("leftEyeLeft", "leftEyeRight", "leftPupil"),
                  "right": ("rightEyeLeft", "rightEyeRight", "rightPupil")}


def _check_eyes(expected: str, face: FaceDetail, cfg: PoseConfig, context: Context
                ) -> StepResult | None:
    if face.eyes_open is None:
        return Fail("pose.missing_eyes_open", "the face has no EyesOpen estimate")
    is_open = face.eyes_open.value
    context.record(eyes_open=is_open, eyes_open_confidence=face.eyes_open.confidence)
    if (expected == "CLOSED" and is_open) or (expected != "CLOSED" and not is_open):
        return Fail("pose.eyes_open", f"eyes {'open' if is_open else 'closed'}; "
                                      f"expected {expected}")
    # The original reads both eyes' corners and pupils even for CLOSED (a missing one crashed it).
    for side in ("left", "right"):
        names = _EYE_LANDMARKS[side]
        lms = [face.landmark(n) for n in names]
        missing = [n for n, lm in zip(names, lms) if lm is None]
        if missing:
            return Fail("pose.missing_landmark", f"the face has no {', '.join(missing)} landmark")
    for side in ("left", "right"):
        corner_l, corner_r, pupil = (face.landmark(n) for n in _EYE_LANDMARKS[side])
        direction = eye_direction(corner_l.x, corner_r.x, pupil.x,  # type: ignore[union-attr]
                                  cfg.eye_direction_area_multiplier)
        width = corner_r.x - corner_l.x  # type: ignore[union-attr]
        context.record(**{f"{side}_eye_direction": direction,
                          f"{side}_pupil_position": (pupil.x - corner_l.x) / width  # type: ignore[union-attr]
                          if width else None})
        if (direction, expected) in (("LOOKING_LEFT", "LOOKING_RIGHT"),
                                     ("LOOKING_RIGHT", "LOOKING_LEFT")):
            return Fail("pose.gaze", f"{side} eye looks {direction.split('_')[1].lower()}; "
                                     f"expected {expected}")
    return None


def _check_mouth(expected: str, face: FaceDetail, context: Context) -> StepResult | None:
    if face.smile is None or face.mouth_open is None:
        missing = [n for n, v in (("Smile", face.smile), ("MouthOpen", face.mouth_open)) if v is None]
        return Fail("pose.missing_mouth", f"the face has no {' or '.join(missing)} estimate")
    smiling, mouth_open = face.smile.value, face.mouth_open.value
    context.record(smile=smiling, smile_confidence=face.smile.confidence,
                   mouth_open=mouth_open, mouth_open_confidence=face.mouth_open.confidence)
    if expected == "SMILE":
        ok = smiling and mouth_open
    else:
        ok = not smiling and not mouth_open
    if ok:
        return None
    return Fail("pose.mouth", f"smile={smiling}, mouth open={mouth_open}; expected {expected}")


@POSE.state(first=True)
def first_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Decide on this frame: one confident, frontal face showing the requested pose."""
    cfg: PoseConfig = context.config
    n = len(frame.faces)
    if n != 1:
        return Fail("pose.face_count", f"{n} faces in the frame; exactly one is needed")
    face = frame.faces[0]
    context.record(confidence=face.confidence)
    if face.confidence is None:
        return Fail("pose.missing_confidence", "the face has no Confidence")
    if face.confidence < cfg.min_face_confidence:
        return Fail("pose.confidence", f"face confidence {face.confidence:.1f} < "
                                       f"{cfg.min_face_confidence:g}")
    pose = face.pose
    if pose is None or None in (pose.roll, pose.yaw, pose.pitch):
        return Fail("pose.missing_pose", "the face has no complete Pose (roll, yaw, pitch)")
    context.record(roll=pose.roll, yaw=pose.yaw, pitch=pose.pitch)
    limit = cfg.max_rotation
    if abs(pose.roll) > limit or abs(pose.yaw) > limit or abs(pose.pitch) > limit:  # type: ignore[arg-type]
        return Fail("pose.rotation", f"head rotated beyond {limit:g} degrees (roll {pose.roll:.1f},"
                                     f" yaw {pose.yaw:.1f}, pitch {pose.pitch:.1f})")
    expected = params["pose"]
    result = _check_eyes(expected["eyes"], face, cfg, context)
    if result is None:
        result = _check_mouth(expected["mouth"], face, context)
    if result is not None:
        return result
    return Success("pose.ok", f"pose {expected['eyes']} / {expected['mouth']} shown")
