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

Issue 11 additions (off by default, on in the hardened profiles):

* ``continuity_check``: the face must be one continuous track
  (:mod:`.face_track`): a jump of the box or roll faster than a head moves
  between two frames fails with ``pose.track_jump``; face-less time beyond
  ``max_face_gap_ms`` (time, so the limit is the same at 5 and 30 fps) fails
  with ``pose.track_gap``. Photos swapped by hand show one or the other.
* ``gaze_baseline``: LOOKING_LEFT / LOOKING_RIGHT / OPEN are read from the
  pupils' shift against the user's own neutral gaze (the median pupil position
  of the neutral frames), by at least ``min_gaze_shift`` eye widths, instead
  of the fixed outer thirds: a 12 mm eyeball moves the pupil about 0.21 mm per
  degree, so a 15-20 degree glance moves it only 0.1-0.15 of a 28-30 mm eye.

Issue 11 item 4 (POSE at 5 fps, beside the screen, against photo swaps; off by default):

* ``hold_ms``: the pose must be *shown* for this long (the time from the frame
  before the run's first matching frame to the last one), not merely in
  ``frames_required`` frames: 3 frames are 400 ms at 5 fps but 67 ms at 30 fps,
  shorter than a spontaneous blink (100-400 ms), so a recording's blink passed
  as a held CLOSED.
* ``rest_rotation``: the neutral face may be turned up to ``rest_max_rotation``
  (a webcam beside the screen or a laptop below the eyes: 10-18 degrees of
  resting yaw or pitch); the pose and the return are then limited to
  ``max_rotation`` from the user's own neutral pose (a glance of 20-35 degrees
  brings the head along a few degrees).
* ``glitch_attributes``: ``glitch_ms`` also forgives a brief misread of
  EyesOpen, Smile or MouthOpen inside a run (a detector flipping a frame near
  its decision boundary), not only a blink; never a gaze or rotation mismatch.
* ``return_frames``: neutral frames needed after the pose (default
  ``neutral_frames``): the user relaxes at their own pace, often after the
  client stopped filming.
* ``change_gap_frames``: a change into the pose, or back to the neutral face,
  straight after this many face-less frames fails (``pose.swap_gap``): a hand
  swapping photos hides the face while the expression changes; a detector
  missing a live face two frames in a row exactly then is rare. With
  ``max_gapped_changes`` one face-less frame before *both* changes fails too.
* ``change_turn_per_s``: at a change, the reported roll, yaw and pitch may move at
  most ``change_turn_deg`` + this x the time between the two faces
  (``pose.swap_turn``): photos of the victim taken at different head poses make
  the head's direction jump in one frame interval.
* ``change_shift``: at a change, the face box may move at most this many face
  widths (``pose.swap_shift``): a person changing expression holds the head
  nearly still (a glance of up to 35 degrees brings the head along by at most
  ~10, which moves the box ~0.7 x sin(10) = 0.12 face widths); photos put down
  one after the other land elsewhere. Unlike the face track's jump limit it
  does not grow with the frame interval, so it holds at 5 fps.
* ``max_counter_turn`` (with ``rest_rotation``): a LOOKING_LEFT / LOOKING_RIGHT
  frame whose head turned more than this from the neutral pose *against* the
  glance does not show it (``pose.counter_turn``): a glance brings the head
  along or leaves it; a head turning while the eyes fixate - a replayed head
  turn - moves the pupils within the eyes, not the gaze.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from ..evidence import Evidence, Need
from ..faces import FaceDetail
from .checks import SessionChecksConfig, before_success, observe_face
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult, Success)
from .framework import IMAGE_SIZE_SCHEMA, Param
from .pose_run import _BLINK_CODE, _frame_face, _pose_run, _run, _shown_ms

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
    gaze_baseline: bool = field(default=False, metadata={
        "help": "multi-frame mode with require_transition: read the gaze as the pupils' shift "
                "from the user's neutral gaze (median of the neutral frames)"})
    min_gaze_shift: float = field(default=0.06, metadata={
        "help": "gaze_baseline: smallest pupil shift, in eye widths, that counts as looking "
                "aside (about 8 degrees of eye rotation)"})
    gaze_hold_shift: float = field(default=0.0, metadata={
        "help": "gaze_baseline: once a run shows the glance, its next frames keep it while the "
                "pupil shift stays at least this (eye widths, same side; a Schmitt trigger: "
                "landmark noise around min_gaze_shift does not break a held glance); 0: "
                "min_gaze_shift"})
    return_gaze_shift: float = field(default=0.0, metadata={
        "help": "gaze_baseline, LOOKING_LEFT / RIGHT: the face after the pose looks ahead "
                "again only once its pupils have come back at least this far (eye widths) from "
                "the held glance's median (a photo whose gaze sits between min_gaze_shift and "
                "open_max_shift would otherwise show the pose and the return at once); 0: off"})
    open_max_shift: float = field(default=0.12, metadata={
        "help": "gaze_baseline: largest pupil shift, in eye widths, of a face looking ahead "
                "(OPEN; above min_gaze_shift so that landmark noise does not flip it)"})
    gaze_window_ms: float = field(default=0.0, metadata={
        "help": "gaze_baseline: the gaze is the median pupil position of the faces of the last "
                "this many ms (landmark noise averages out at high frame rates; a held glance "
                "lasts far longer); 0: this frame's only"})
    neutral_gaze_window: float = field(default=0.0, metadata={
        "help": "gaze_baseline: until the user's neutral gaze is known, a face looking ahead "
                "(OPEN) may have its pupils up to this far from the eye's middle, in eye "
                "widths (a head turned toward a webcam beside the screen moves the pupils in "
                "the image without any glance); 0: the original's middle third"})
    glitch_ms: float = field(default=0.0, metadata={
        "help": "multi-frame mode: frames with the eyes closed while they should be open, "
                "lasting at most this (ms) inside a run of matching frames, neither count nor "
                "break it (a spontaneous blink lasts 100-400 ms); 0: every mismatch breaks the "
                "run (the original counting)"})

    hold_ms: float = field(default=0.0, metadata={
        "help": "multi-frame mode: the pose must also be shown this long, ms (from the frame "
                "before the run's first matching frame, at most one 200 ms interval, to the "
                "last one); 0: frames_required alone"})
    rest_rotation: bool = field(default=False, metadata={
        "help": "multi-frame mode: the neutral face may be turned up to rest_max_rotation; the "
                "pose and the return up to max_rotation from the user's neutral pose (median "
                "of the neutral frames)"})
    rest_max_rotation: float = field(default=30.0, metadata={
        "help": "rest_rotation: largest |roll|, |yaw|, |pitch| of any frame, degrees"})
    glitch_attributes: bool = field(default=False, metadata={
        "help": "glitch_ms also forgives a brief misread of EyesOpen, Smile or MouthOpen inside "
                "a run (not the gaze, smoothed by gaze_window_ms, nor the head rotation)"})
    return_frames: int = field(default=0, metadata={
        "help": "multi-frame mode: consecutive neutral frames needed after the pose (0: "
                "neutral_frames)"})
    change_gap_frames: int = field(default=0, metadata={
        "help": "multi-frame mode: a change into the pose or back to the neutral face right "
                "after at least this many consecutive face-less frames fails (pose.swap_gap); "
                "0: off"})
    change_turn_deg: float = field(default=6.0, metadata={
        "help": "change_turn_per_s: reported head-direction change allowed at once (detector "
                "jitter), degrees"})
    change_turn_per_s: float = field(default=0.0, metadata={
        "help": "multi-frame mode: at a change into the pose or back, the reported roll, yaw and "
                "pitch may change by at most change_turn_deg + this x the time between the two "
                "faces (deg/s; a face changing expression does not whip the head round; two "
                "photos of different head poses do it in one frame); 0: off"})
    max_counter_turn: float = field(default=0.0, metadata={
        "help": "rest_rotation: LOOKING_LEFT / LOOKING_RIGHT frames whose head turned more than "
                "this (degrees) from the neutral pose *against* the glance do not show it "
                "(pose.counter_turn: a head turning while the eyes fixate - a replayed head "
                "turn - moves the pupils in the eye but not the gaze); 0: off"})
    change_shift: float = field(default=0.0, metadata={
        "help": "multi-frame mode: at a change into the pose or back, the face box may move at "
                "most this many face widths between the two faces (pose.swap_shift: a glance "
                "brings the head along by at most ~10 degrees, ~0.12 face widths; photos put "
                "down one after the other land elsewhere); 0: off"})
    max_gapped_changes: int = field(default=2, metadata={
        "help": "change_gap_frames: how many of the two changes (into the pose, back to the "
                "neutral face) may come right after a single face-less frame (a detector miss "
                "at one change is plausible, at both it is a swap); 2: no limit"})

    def validate(self) -> None:
        super().validate()
        if self.frames_required < 1:
            raise ConfigError(f"frames_required must be >= 1, got {self.frames_required!r}")
        if self.neutral_frames < 1:
            raise ConfigError(f"neutral_frames must be >= 1, got {self.neutral_frames!r}")
        self._require_non_negative("max_missing_faces")
        if not 0 <= self.gaze_hold_shift <= self.min_gaze_shift:
            raise ConfigError(f"need 0 <= gaze_hold_shift <= min_gaze_shift, got "
                              f"{self.gaze_hold_shift!r} and {self.min_gaze_shift!r}")
        if not 0 < self.min_gaze_shift <= self.open_max_shift < 0.5:
            raise ConfigError(f"need 0 < min_gaze_shift <= open_max_shift < 0.5 eye widths, got "
                              f"{self.min_gaze_shift!r} and {self.open_max_shift!r}")
        if not 0 <= self.neutral_gaze_window < 0.5:
            raise ConfigError(f"neutral_gaze_window must be in [0, 0.5) eye widths, got "
                              f"{self.neutral_gaze_window!r}")
        self._require_non_negative("return_gaze_shift", "gaze_window_ms", "glitch_ms",
                                   "hold_ms", "return_frames",
                                   "change_gap_frames", "max_gapped_changes", "change_turn_deg",
                                   "change_turn_per_s", "change_shift", "max_counter_turn")
        if not 0 < self.rest_max_rotation <= 90:
            raise ConfigError(f"rest_max_rotation must be in (0, 90] degrees, got "
                              f"{self.rest_max_rotation!r}")

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
                                    "holdMs": Param(int, required=False, minimum=0),
                                    "transition": Param(bool, required=False)})


@POSE.params
def pose_params(client_metadata: Mapping[str, Any], config: PoseConfig,
                rng: ChallengeRandom) -> dict[str, Any]:
    """Params of a new POSE challenge: the image size and a random eyes/mouth pose.

    In multi-frame mode the params also tell the client the protocol:
    ``holdFrames`` (frames the pose must be held), ``holdMs`` (with ``hold_ms``: how
    long it must be shown) and ``transition`` (whether a
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
        if config.hold_ms:
            params["holdMs"] = int(round(config.hold_ms))
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
        blinked = not is_open and cfg.glitch_ms > 0
        return Fail(_BLINK_CODE if blinked else "pose.eyes_open",
                    f"eyes {'open' if is_open else 'closed'}; expected {expected}")
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
                                     ("LOOKING_RIGHT", "LOOKING_LEFT")) and \
                not (cfg.gaze_baseline and _pose_run(context).neutral_gaze):
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
    run = _pose_run(context)
    if cfg.gaze_baseline and run.now_ms is not None:
        if not run.recent_gaze or run.recent_gaze[-1][0] != run.now_ms:
            run.recent_gaze.append((run.now_ms, mean))
        run.recent_gaze = [(t, g) for t, g in run.recent_gaze
                           if run.now_ms - t <= cfg.gaze_window_ms]
        if cfg.gaze_window_ms:
            mean = statistics.median(g for _, g in run.recent_gaze)
    if cfg.gaze_baseline and run.neutral_gaze:
        base = statistics.median(run.neutral_gaze)
        shift = mean - base
        # hysteresis: aside needs min_gaze_shift (gaze_hold_shift once a run holds it), ahead
        # fails only beyond open_max_shift
        if expected == "OPEN":
            limit = cfg.open_max_shift
        else:
            holding = run.pose_run > 0 and cfg.gaze_hold_shift > 0
            limit = cfg.gaze_hold_shift if holding else cfg.min_gaze_shift
        direction = ("LOOKING_LEFT" if shift <= -limit else
                     "LOOKING_RIGHT" if shift >= limit else "OPEN")
        if expected == "OPEN" and direction == "OPEN" and run.held_shift is not None \
                and (shift - run.held_shift) * math.copysign(1.0, run.held_shift) \
                > -cfg.return_gaze_shift:
            # the glance has not ended: still within return_gaze_shift of the held gaze
            direction = "LOOKING_LEFT" if run.held_shift < 0 else "LOOKING_RIGHT"
        run.last_shift = shift
        context.record(gaze_shift=shift)
    elif cfg.gaze_baseline and cfg.neutral_gaze_window and expected == "OPEN":
        w = cfg.neutral_gaze_window
        direction = ("LOOKING_LEFT" if mean <= 0.5 - w else
                     "LOOKING_RIGHT" if mean >= 0.5 + w else "OPEN")
    else:
        direction = eye_direction(0.0, 1.0, mean, cfg.eye_direction_area_multiplier)
    run.last_gaze = mean
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

def _shows(face: FaceDetail, eyes: str, mouth: str, cfg: PoseConfig, context: Context,
           *, from_rest: bool = False) -> StepResult | None:
    """``None`` when ``face`` shows the pose; a failure result (fatal or not) otherwise.

    ``from_rest`` (with ``rest_rotation``, once the neutral pose is known): the
    rotation limit is ``max_rotation`` from the user's neutral pose.
    """
    if face.confidence is None:
        return Fail("pose.missing_confidence", "the face has no Confidence")
    pose = face.pose
    if pose is None or None in (pose.roll, pose.yaw, pose.pitch):
        return Fail("pose.missing_pose", "the face has no complete Pose (roll, yaw, pitch)")
    context.record(confidence=face.confidence, roll=pose.roll, yaw=pose.yaw, pitch=pose.pitch)
    if face.confidence < cfg.min_face_confidence:
        return Fail("pose.confidence", f"face confidence {face.confidence:.1f} < "
                                       f"{cfg.min_face_confidence:g}")
    angles = (pose.roll, pose.yaw, pose.pitch)
    run = _pose_run(context)
    if cfg.rest_rotation:
        if max(abs(a) for a in angles) > cfg.rest_max_rotation:  # type: ignore[arg-type]
            return Fail("pose.rotation", f"head rotated beyond {cfg.rest_max_rotation:g} degrees")
        if from_rest and run.neutral_pose:
            rest = [statistics.median(p[i] for p in run.neutral_pose) for i in range(3)]
            off = max(abs(a - r) for a, r in zip(angles, rest))  # type: ignore[operator]
            context.record(rotation_from_rest=round(off, 2))
            if off > cfg.max_rotation:
                return Fail("pose.rotation", f"head turned {off:.1f} degrees from its neutral "
                                             f"pose (> {cfg.max_rotation:g})")
            counter = _counter_turn(eyes, angles[1] - rest[1], cfg)  # type: ignore[operator]
            if counter is not None:
                return counter
    elif max(abs(a) for a in angles) > cfg.max_rotation:  # type: ignore[arg-type]
        return Fail("pose.rotation", f"head rotated beyond {cfg.max_rotation:g} degrees")
    run.last_angles = angles  # type: ignore[assignment]
    return _check_eyes(eyes, face, cfg, context) or _check_mouth(mouth, face, context)


def _counter_turn(eyes: str, d_yaw: float, cfg: PoseConfig) -> StepResult | None:
    """``max_counter_turn``: a glance brings the head along or leaves it, never turns it the
    other way (eye-head coordination); a head turning one way while the eyes hold their
    target is fixation (the vestibulo-ocular reflex), not a glance."""
    if not cfg.max_counter_turn or eyes not in ("LOOKING_LEFT", "LOOKING_RIGHT"):
        return None
    against = -d_yaw if eyes == "LOOKING_RIGHT" else d_yaw  # the yaw grows toward image-right
    if against <= cfg.max_counter_turn:
        return None
    side = eyes.split("_")[1].lower()
    return Fail("pose.counter_turn", f"the head turned {against:.1f} degrees against the "
                                     f"glance {side} asked (a glance brings the head along or "
                                     "leaves it; a head that turns while the eyes fixate is "
                                     "not a glance)")


def _neutral_run(frame: FrameInput, context: Context, key: str) -> tuple[int, StepResult | None]:
    cfg: PoseConfig = context.config
    face, result = _frame_face(frame, context, cfg)
    if face is None or result is not None:
        return 0, result
    shown = _shows(face, *NEUTRAL, cfg, context, from_rest=key != "neutral_before")
    run, fatal = _run(context, key, shown, frame.timestamp)
    context.record(neutral_run=run)
    state = _pose_run(context)
    if run and key == "neutral_before" and key not in state.mismatch_since \
            and state.last_gaze is not None:
        state.neutral_gaze.append(state.last_gaze)
        del state.neutral_gaze[:-15]
        if state.last_angles is not None:
            state.neutral_pose.append(state.last_angles)
            del state.neutral_pose[:-15]
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
    run, fatal = _neutral_run(frame, context, "neutral_before")
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
    run, fatal = _run(context, "pose_run",
                      _shows(face, expected["eyes"], expected["mouth"], cfg, context,
                             from_rest=True),
                      frame.timestamp)
    context.record(pose_run=run)
    if fatal is not None:
        return fatal
    state = _pose_run(context)
    matching = "pose_run" not in state.mismatch_since
    if not run:
        state.held_shifts.clear()
    elif matching and state.last_shift is not None:
        state.held_shifts.append(state.last_shift)
    shown_ms = _shown_ms(context, "pose_run") if run else 0.0
    if cfg.hold_ms:
        context.record(pose_shown_ms=round(shown_ms, 1))
    # decided on a frame that shows the pose (not on a forgiven glitch)
    if matching and run >= cfg.frames_required and shown_ms >= cfg.hold_ms:
        if cfg.return_gaze_shift and state.held_shifts \
                and expected["eyes"] in ("LOOKING_LEFT", "LOOKING_RIGHT"):
            state.held_shift = statistics.median(state.held_shifts)
        return Next("pose.held", f"pose held for {run} frames"
                    + (f", {shown_ms:.0f} ms" if cfg.hold_ms else ""))
    return Continue("pose.waiting_pose", f"waiting for {expected['eyes']} / "
                                         f"{expected['mouth']} ({run} of {cfg.frames_required})")


@POSE.state()
def return_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Multi-frame mode: wait for the neutral face again, then the session checks."""
    cfg: PoseConfig = context.config
    if cfg.require_transition:
        run, fatal = _neutral_run(frame, context, "neutral_after")
        if fatal is not None:
            return fatal
        if run < (cfg.return_frames or cfg.neutral_frames):
            return Continue("pose.waiting_return", "waiting for the neutral face again")
    final = before_success(context)
    if final is not None:
        return final
    expected = params["pose"]
    return Success("pose.ok", f"pose {expected['eyes']} / {expected['mouth']} shown"
                   + (" between neutral faces" if cfg.require_transition else ""))
