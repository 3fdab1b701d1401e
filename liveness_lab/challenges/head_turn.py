"""HEAD_TURN: turn the head in a random sequence of directions (a plugin, public API only).

The challenge asks for 2..4 directions among ``LEFT, RIGHT, UP, DOWN`` (no
direction twice in a row), in order. The user starts facing the camera, then
for each direction turns the head that way, holds it for ``hold_frames``
frames and comes back to the centre. A turn in another direction than the one
asked fails the run, so a recording made for another sequence fails at its
first differing turn.

Directions are the **subject's**: ``LEFT`` is the person's own left, which
(in the unmirrored camera image) moves the nose toward the image's right and
gives a positive yaw (the convention of :class:`~liveness_lab.faces.Pose`);
``UP`` is a positive pitch.

With ``parallax_check`` (on by default) each held turn must also show the
nose moving against the face plane, compared with the centred face it
started from, as a turning head does and a tilted photo cannot
(:func:`~liveness_lab.challenges.checks.nose_parallax`).

Params: ``imageWidth, imageHeight, sequence`` (a list of direction names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import ConfigError
from ..faces import FaceDetail
from .checks import SessionChecksConfig, before_success, nose_parallax, observe_face, \
    skip_missing_face
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult, Success)
from .framework import IMAGE_SIZE_SCHEMA, Param

__all__ = ["HEAD_TURN", "HeadTurnConfig", "head_turn_params", "DIRECTIONS", "MAX_TURNS",
           "head_direction"]

#: the directions a sequence draws from
DIRECTIONS = ("LEFT", "RIGHT", "UP", "DOWN")
#: the longest sequence the type's states support
MAX_TURNS = 4


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class HeadTurnConfig(SessionChecksConfig):
    """Thresholds of the HEAD_TURN challenge."""

    min_turns: int = _f(2, "fewest directions in a sequence")
    max_turns: int = _f(4, f"most directions in a sequence (at most {MAX_TURNS})")
    centre_max_yaw: float = _f(10.0, "the face is centred when |yaw| is at most this (degrees)")
    centre_max_pitch: float = _f(12.0, "...and |pitch| at most this (degrees)")
    centre_frames: int = _f(2, "consecutive centred frames needed before the first turn")
    turn_min_yaw: float = _f(20.0, "LEFT / RIGHT: |yaw| at least this (degrees)")
    turn_min_pitch: float = _f(15.0, "UP / DOWN: |pitch| at least this (degrees)")
    wrong_margin: float = _f(0.0, "degrees beyond the turn thresholds before a turn in another "
                                  "direction fails the run")
    hold_frames: int = _f(2, "consecutive frames a turn must be held")
    parallax_check: bool = _f(True, "each held turn must show the nose moving against the face "
                                    "plane (3D consistency with the centred face)")
    min_parallax: float = _f(0.035, "smallest nose parallax of a held turn, in face widths, "
                                    "along the nose's motion")
    max_missing_faces: int = _f(3, "frames without a face skipped before the run fails")

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.min_turns <= self.max_turns <= MAX_TURNS:
            raise ConfigError(f"need 1 <= min_turns <= max_turns <= {MAX_TURNS}, got "
                              f"{self.min_turns!r} and {self.max_turns!r}")
        for name in ("centre_max_yaw", "centre_max_pitch", "turn_min_yaw", "turn_min_pitch"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.turn_min_yaw <= self.centre_max_yaw or self.turn_min_pitch <= self.centre_max_pitch:
            raise ConfigError("turn thresholds must exceed the centre thresholds")
        if self.centre_frames < 1 or self.hold_frames < 1:
            raise ConfigError("centre_frames and hold_frames must be >= 1")
        if self.wrong_margin < 0 or self.min_parallax < 0 or self.max_missing_faces < 0:
            raise ConfigError("wrong_margin, min_parallax and max_missing_faces must be >= 0")


HEAD_TURN = ChallengeType("HEAD_TURN", config_class=HeadTurnConfig, random_selection=False,
                          description="turn the head left/right/up/down in the requested order",
                          params_schema={**IMAGE_SIZE_SCHEMA, "sequence": Param(
                              list, minimum=1, maximum=MAX_TURNS,
                              items=Param(str, choices=DIRECTIONS))})


@HEAD_TURN.params
def head_turn_params(client_metadata: Mapping[str, Any], config: HeadTurnConfig,
                     rng: ChallengeRandom) -> dict[str, Any]:
    """Params: the image size and a random sequence of directions (no immediate repeat)."""
    w, h = image_size(client_metadata)
    n = config.min_turns + rng.randbelow(config.max_turns - config.min_turns + 1)
    sequence: list[str] = []
    for _ in range(n):
        sequence.append(rng.choice([d for d in DIRECTIONS if not sequence or d != sequence[-1]]))
    return {"imageWidth": w, "imageHeight": h, "sequence": sequence}


def head_direction(yaw: float, pitch: float, min_yaw: float, min_pitch: float) -> str | None:
    """The direction a pose shows beyond the thresholds (the larger relative excess wins)."""
    candidates = []
    if yaw >= min_yaw:
        candidates.append((yaw / min_yaw, "LEFT"))
    if yaw <= -min_yaw:
        candidates.append((-yaw / min_yaw, "RIGHT"))
    if pitch >= min_pitch:
        candidates.append((pitch / min_pitch, "UP"))
    if pitch <= -min_pitch:
        candidates.append((-pitch / min_pitch, "DOWN"))
    return max(candidates)[1] if candidates else None


def _one_face(frame: FrameInput, context: Context) -> tuple[FaceDetail | None, StepResult | None]:
    cfg: HeadTurnConfig = context.config
    n = len(frame.faces)
    if n == 0:
        return None, skip_missing_face(context, cfg.max_missing_faces, "head_turn")
    if n > 1:
        return None, Fail("head_turn.several_faces",
                          f"{n} faces in the frame; exactly one is allowed")
    face = frame.faces[0]
    result = observe_face(face, frame, context)
    if result is not None:
        return None, result
    if face.pose is None or face.pose.yaw is None or face.pose.pitch is None:
        return None, Fail("head_turn.missing_pose", "the face has no yaw or pitch estimate")
    context.record(yaw=face.pose.yaw, pitch=face.pose.pitch)
    return face, None


def _centred(face: FaceDetail, cfg: HeadTurnConfig) -> bool:
    return (abs(face.pose.yaw) <= cfg.centre_max_yaw  # type: ignore[union-attr,arg-type]
            and abs(face.pose.pitch) <= cfg.centre_max_pitch)  # type: ignore[union-attr,arg-type]


def _sequence(params: Mapping[str, Any]) -> list[str]:
    seq = params.get("sequence")
    if not isinstance(seq, (list, tuple)) or not 1 <= len(seq) <= MAX_TURNS or \
            any(d not in DIRECTIONS for d in seq):
        raise ValueError(f"HEAD_TURN params need a 'sequence' of 1..{MAX_TURNS} of "
                         f"{', '.join(DIRECTIONS)}, got {seq!r}")
    return list(seq)


@HEAD_TURN.state(first=True, next_state="turn_1")
def centre_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Wait for the face centred for ``centre_frames`` frames; it is the parallax reference."""
    cfg: HeadTurnConfig = context.config
    _sequence(params)
    if not frame.faces:
        return Continue("head_turn.no_face", "no face in the frame")
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    if not _centred(face, cfg):
        context["head_turn.centre_run"] = 0
        return Continue("head_turn.not_centred", "face the camera")
    run = context.get("head_turn.centre_run", 0) + 1
    context["head_turn.centre_run"] = run
    context["head_turn.reference"] = face
    if run < cfg.centre_frames:
        return Continue("head_turn.centring", f"centred {run} of {cfg.centre_frames} frames")
    return Next("head_turn.centred", "face centred")


def _turn_state(step: int) -> Callable[..., StepResult]:
    def turn(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
        cfg: HeadTurnConfig = context.config
        wanted = _sequence(params)[step - 1]
        face, result = _one_face(frame, context)
        if result is not None or face is None:
            return result or Continue()
        pose = face.pose
        seen = head_direction(pose.yaw, pose.pitch,  # type: ignore[union-attr,arg-type]
                              cfg.turn_min_yaw, cfg.turn_min_pitch)
        key = f"head_turn.hold_{step}"
        context.record(direction=seen, wanted=wanted, step=step)
        if seen is not None and seen != wanted:
            strong = head_direction(pose.yaw, pose.pitch,  # type: ignore[union-attr,arg-type]
                                    cfg.turn_min_yaw + cfg.wrong_margin,
                                    cfg.turn_min_pitch + cfg.wrong_margin)
            if strong is not None and strong != wanted:
                return Fail("head_turn.wrong_direction",
                            f"turn {step}: the head turned {strong}, expected {wanted}")
        if seen != wanted:
            context[key] = 0
            return Continue("head_turn.turning", f"turn {step}: turn {wanted.lower()}")
        run = context.get(key, 0) + 1
        context[key] = run
        if run < cfg.hold_frames:
            return Continue("head_turn.holding", f"turn {step}: held {run} of {cfg.hold_frames}")
        if cfg.parallax_check:
            ref = context["head_turn.reference"]
            parallax = nose_parallax(ref, face, params["imageWidth"], params["imageHeight"])
            context.record(parallax=parallax)
            if parallax is None:
                return Fail("head_turn.parallax_unavailable",
                            "the faces lack the landmarks needed to measure the nose parallax")
            smallest = min(context.get("head_turn.min_parallax", parallax), parallax)
            context["head_turn.min_parallax"] = smallest
            context.score = smallest - cfg.min_parallax
            if parallax < cfg.min_parallax:
                return Fail("head_turn.parallax",
                            f"turn {step}: nose parallax {parallax:.3f} < {cfg.min_parallax:g} "
                            "face widths: the face turned like a flat picture")
        return Next("head_turn.turned", f"turn {step} ({wanted}) held")

    turn.__name__ = f"turn_{step}"
    turn.__doc__ = f"Turn {step}: the requested direction held ``hold_frames`` frames."
    return turn


def _return_state(step: int) -> Callable[..., StepResult]:
    def back(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
        cfg: HeadTurnConfig = context.config
        sequence = _sequence(params)
        face, result = _one_face(frame, context)
        if result is not None or face is None:
            return result or Continue()
        pose = face.pose
        seen = head_direction(pose.yaw, pose.pitch,  # type: ignore[union-attr,arg-type]
                              cfg.turn_min_yaw + cfg.wrong_margin,
                              cfg.turn_min_pitch + cfg.wrong_margin)
        if seen is not None and seen != sequence[step - 1]:
            return Fail("head_turn.wrong_direction",
                        f"after turn {step}: the head turned {seen} before coming back")
        if not _centred(face, cfg):
            return Continue("head_turn.returning", "back to the centre")
        if step < len(sequence):
            return Next("head_turn.back", f"back to the centre after turn {step}")
        final = before_success(context)
        if final is not None:
            return final
        return Success("head_turn.ok", f"all {len(sequence)} turns in order")

    back.__name__ = f"return_{step}"
    back.__doc__ = f"After turn {step}: back to the centre (success after the last turn)."
    return back


for _k in range(1, MAX_TURNS + 1):
    HEAD_TURN.state(name=f"turn_{_k}", next_state=f"return_{_k}")(_turn_state(_k))
    HEAD_TURN.state(name=f"return_{_k}",
                    next_state=f"turn_{_k + 1}" if _k < MAX_TURNS else None)(_return_state(_k))
del _k
