"""POSE: show a requested pose of the eyes and mouth.

With the default configuration (the ``seed`` profile) this decides exactly as
the original: one state that decides on the **first frame** it sees. A missing
attribute or landmark fails its check with a reason.

Hardened (``frames_required > 1`` or ``require_transition``, as in the
``recommended`` profile) it decides over several frames: a neutral face
(eyes open looking ahead, mouth closed) for ``neutral_frames`` frames, then
the requested pose held for ``frames_required`` consecutive frames, then the
neutral face again. A still photo cannot show that transition.
``gaze_must_match`` makes LOOKING_LEFT / LOOKING_RIGHT (and OPEN) require the
gaze to be positively seen, not merely "not the opposite".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from ..evidence import Evidence, Need
from ..faces import FaceDetail
from .checks import SessionChecksConfig, before_success, observe_face, skip_missing_face
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult, Success)
from .framework import IMAGE_SIZE_SCHEMA, Param

__all__ = ["POSE", "PoseConfig", "pose_params", "EYES", "MOUTH", "NEUTRAL", "eye_direction"]

EYES = ("OPEN", "CLOSED", "LOOKING_LEFT", "LOOKING_RIGHT")
MOUTH = ("CLOSED", "SMILE")
#: the neutral face (eyes, mouth), shown before and after the pose in multi-frame mode
NEUTRAL = ("OPEN", "CLOSED")


@dataclass(frozen=True)
class PoseConfig(SessionChecksConfig):
    """Thresholds of the POSE challenge (defaults: the original's values and behaviour)."""

    min_face_confidence: float = field(default=90.0, metadata={
        "help": "minimum face Confidence (0..100)"})
    max_rotation: float = field(default=20.0, metadata={
        "help": "maximum |roll|, |yaw| and |pitch|, degrees"})
    eye_direction_area_multiplier: float = field(default=1.2, metadata={
        "help": "a pupil within (1/3 x this) of the eye width from a corner looks that way"})
    frames_required: int = field(default=1, metadata={
        "help": "consecutive frames that must show the requested pose (1 with "
                "require_transition off: decide on the first frame, as the original)"})
    require_transition: bool = field(default=False, metadata={
        "help": "require a neutral face, then the pose, then the neutral face again"})
    neutral_frames: int = field(default=1, metadata={
        "help": "consecutive neutral frames needed before and after the pose"})
    gaze_must_match: bool = field(default=False, metadata={
        "help": "LOOKING_LEFT / LOOKING_RIGHT need the pupils (mean of both eyes) seen in that "
                "third of the eye, OPEN needs them in the middle (the original only refused "
                "the opposite direction)"})
    exclude_neutral_pose: bool = field(default=False, metadata={
        "help": "never draw eyes OPEN with mouth CLOSED (the neutral face shows no transition)"})
    max_missing_faces: int = field(default=0, metadata={
        "help": "multi-frame mode: frames without a face skipped before the run fails"})
    smile_needs_open_mouth: bool = field(default=True, metadata={
        "help": "SMILE needs MouthOpen as well as Smile (the original); off: a closed-mouth "
                "smile counts"})

    def validate(self) -> None:
        super().validate()
        if self.frames_required < 1:
            raise ConfigError(f"frames_required must be >= 1, got {self.frames_required!r}")
        if self.neutral_frames < 1:
            raise ConfigError(f"neutral_frames must be >= 1, got {self.neutral_frames!r}")
        if self.max_missing_faces < 0:
            raise ConfigError(f"max_missing_faces must be >= 0, got {self.max_missing_faces!r}")

    def evidence_needs(self) -> tuple[Need, ...]:
        return super().evidence_needs() + (
            Need(frozenset({Evidence.ATTRIBUTES}), "the requested eyes and mouth"),)

    @property
    def multi_frame(self) -> bool:
        """Whether the run decides over several frames (the hardened protocol)."""
        return self.frames_required > 1 or self.require_transition


POSE = ChallengeType("POSE", config_class=PoseConfig,
                     description="show the requested eyes and mouth pose",
                     params_schema={**IMAGE_SIZE_SCHEMA,
                                    "pose": Param(dict, fields={"eyes": Param(str, choices=EYES),
                                                                "mouth": Param(str, choices=MOUTH)}),
                                    "holdFrames": Param(int, required=False, minimum=1),
                                    "transition": Param(bool, required=False)})


@POSE.params
def pose_params(client_metadata: Mapping[str, Any], config: PoseConfig,
                rng: ChallengeRandom) -> dict[str, Any]:
    """Params of a new POSE challenge: the image size and a random eyes/mouth pose.

    In multi-frame mode the params also tell the client the protocol:
    ``holdFrames`` (frames the pose must be held) and ``transition`` (whether a
    neutral face must come before and after it).
    """
    w, h = image_size(client_metadata)
    eyes = rng.choice(list(EYES))
    mouth = rng.choice(list(MOUTH))
    while config.exclude_neutral_pose and (eyes, mouth) == NEUTRAL:
        eyes = rng.choice(list(EYES))
        mouth = rng.choice(list(MOUTH))
    params: dict[str, Any] = {"imageWidth": w, "imageHeight": h,
                              "pose": {"eyes": eyes, "mouth": mouth}}
    if config.multi_frame:
        params["holdFrames"] = config.frames_required
        params["transition"] = config.require_transition
    return params


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
    if cfg.gaze_must_match and expected != "CLOSED":
        return _check_gaze(expected, face, cfg, context)
    return None


def _check_gaze(expected: str, face: FaceDetail, cfg: PoseConfig, context: Context
                ) -> StepResult | None:
    """Positive gaze: the pupils' mean position within their eyes must show ``expected``.

    Both eyes move together when a person looks aside, while anatomy and
    landmark noise move each eye's pupil a little on its own, so the direction
    is read from the mean relative pupil position of the two eyes (0 = the
    image-left corner, 1 = the image-right corner) with the original's zones.
    """
    positions = []
    for side in ("left", "right"):
        corner_l, corner_r, pupil = (face.landmark(n) for n in _EYE_LANDMARKS[side])
        width = corner_r.x - corner_l.x  # type: ignore[union-attr]
        if width <= 0:
            return Fail("pose.gaze", f"{side} eye corners are not left-to-right")
        positions.append((pupil.x - corner_l.x) / width)  # type: ignore[union-attr]
    mean = sum(positions) / 2
    direction = eye_direction(0.0, 1.0, mean, cfg.eye_direction_area_multiplier)
    context.record(gaze_position=mean, gaze_direction=direction)
    if direction != expected:
        seen = "ahead" if direction == "OPEN" else direction.split("_")[1].lower()
        return Fail("pose.gaze", f"the eyes look {seen}; expected {expected}")
    return None


def _check_mouth(expected: str, face: FaceDetail, context: Context) -> StepResult | None:
    if face.smile is None or face.mouth_open is None:
        missing = [n for n, v in (("Smile", face.smile), ("MouthOpen", face.mouth_open)) if v is None]
        return Fail("pose.missing_mouth", f"the face has no {' or '.join(missing)} estimate")
    smiling, mouth_open = face.smile.value, face.mouth_open.value
    context.record(smile=smiling, smile_confidence=face.smile.confidence,
                   mouth_open=mouth_open, mouth_open_confidence=face.mouth_open.confidence)
    if expected == "SMILE":
        ok = smiling and (mouth_open or not context.config.smile_needs_open_mouth)
    else:
        ok = not smiling and not mouth_open
    if ok:
        return None
    return Fail("pose.mouth", f"smile={smiling}, mouth open={mouth_open}; expected {expected}")


@POSE.state(first=True, next_state="neutral_state")
def first_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Decide on this frame: one confident, frontal face showing the requested pose.

    In multi-frame mode, move on to the neutral / pose / return states instead.
    """
    cfg: PoseConfig = context.config
    if cfg.multi_frame:
        return Next("pose.multi_frame", "deciding over several frames")
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
    result = observe_face(face, frame, context) or before_success(context)
    if result is not None:
        return result
    return Success("pose.ok", f"pose {expected['eyes']} / {expected['mouth']} shown")


# -- multi-frame mode ----------------------------------------------------------------------------

def _shows(face: FaceDetail, eyes: str, mouth: str, cfg: PoseConfig, context: Context
           ) -> StepResult | None:
    """``None`` when ``face`` shows the pose; a failure result (fatal or not) otherwise."""
    if face.confidence is None:
        return Fail("pose.missing_confidence", "the face has no Confidence")
    pose = face.pose
    if pose is None or None in (pose.roll, pose.yaw, pose.pitch):
        return Fail("pose.missing_pose", "the face has no complete Pose (roll, yaw, pitch)")
    context.record(confidence=face.confidence, roll=pose.roll, yaw=pose.yaw, pitch=pose.pitch)
    if face.confidence < cfg.min_face_confidence:
        return Fail("pose.confidence", f"face confidence {face.confidence:.1f} < "
                                       f"{cfg.min_face_confidence:g}")
    limit = cfg.max_rotation
    if max(abs(pose.roll), abs(pose.yaw), abs(pose.pitch)) > limit:  # type: ignore[arg-type]
        return Fail("pose.rotation", f"head rotated beyond {limit:g} degrees")
    return _check_eyes(eyes, face, cfg, context) or _check_mouth(mouth, face, context)


def _frame_face(frame: FrameInput, context: Context, cfg: PoseConfig
                ) -> tuple[FaceDetail | None, StepResult | None]:
    n = len(frame.faces)
    if n == 0:
        return None, skip_missing_face(context, cfg.max_missing_faces, "pose")
    if n > 1:
        return None, Fail("pose.face_count", f"{n} faces in the frame; exactly one is needed")
    face = frame.faces[0]
    return face, observe_face(face, frame, context)


def _run(context: Context, key: str, shown: StepResult | None) -> tuple[int, StepResult | None]:
    """Update the run of consecutive matching frames; a missing attribute is fatal."""
    if shown is not None and shown.code and shown.code.startswith("pose.missing"):
        return 0, shown
    if shown is not None:
        context.record(mismatch=shown.message)
    run = context.get(key, 0) + 1 if shown is None else 0
    context[key] = run
    return run, None


def _neutral_run(frame: FrameInput, context: Context, key: str) -> tuple[int, StepResult | None]:
    cfg: PoseConfig = context.config
    face, result = _frame_face(frame, context, cfg)
    if face is None or result is not None:
        return 0, result
    run, fatal = _run(context, key, _shows(face, *NEUTRAL, cfg, context))
    context.record(neutral_run=run)
    return run, fatal


@POSE.state(next_state="pose_state")
def neutral_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Multi-frame mode: wait for ``neutral_frames`` consecutive neutral frames."""
    cfg: PoseConfig = context.config
    if not cfg.require_transition:
        return Next("pose.no_transition", "no neutral face required")
    if (params["pose"]["eyes"], params["pose"]["mouth"]) == NEUTRAL:
        return Fail("pose.neutral_requested", "the requested pose is the neutral face: no "
                                              "transition can be seen")
    run, fatal = _neutral_run(frame, context, "pose.neutral_before")
    if fatal is not None:
        return fatal
    if run >= cfg.neutral_frames:
        return Next("pose.neutral", "neutral face seen")
    return Continue("pose.waiting_neutral", "waiting for a neutral face (eyes open looking "
                                            "ahead, mouth closed)")


@POSE.state(next_state="return_state")
def pose_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Multi-frame mode: wait for the pose held ``frames_required`` consecutive frames."""
    cfg: PoseConfig = context.config
    face, result = _frame_face(frame, context, cfg)
    if result is not None:
        return result
    if face is None:  # pragma: no cover - _frame_face returns a result with no face
        return Continue()
    expected = params["pose"]
    run, fatal = _run(context, "pose.pose_run",
                      _shows(face, expected["eyes"], expected["mouth"], cfg, context))
    context.record(pose_run=run)
    if fatal is not None:
        return fatal
    if run >= cfg.frames_required:
        return Next("pose.held", f"pose held for {run} frames")
    return Continue("pose.waiting_pose", f"waiting for {expected['eyes']} / "
                                         f"{expected['mouth']} ({run} of {cfg.frames_required})")


@POSE.state()
def return_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Multi-frame mode: wait for the neutral face again, then the session checks."""
    cfg: PoseConfig = context.config
    if cfg.require_transition:
        run, fatal = _neutral_run(frame, context, "pose.neutral_after")
        if fatal is not None:
            return fatal
        if run < cfg.neutral_frames:
            return Continue("pose.waiting_return", "waiting for the neutral face again")
    final = before_success(context)
    if final is not None:
        return final
    expected = params["pose"]
    return Success("pose.ok", f"pose {expected['eyes']} / {expected['mouth']} shown"
                   + (" between neutral faces" if cfg.require_transition else ""))
