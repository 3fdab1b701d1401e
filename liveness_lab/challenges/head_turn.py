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

With ``rest_baseline`` (the hardened profiles) the centre is the user's own
resting pose rather than the camera axis: the median yaw / pitch of the
steady frames seen while centring (a pose is steady when it stays within
``steady_tolerance`` of that median), accepted only within ``rest_max_yaw`` /
``rest_max_pitch`` of the camera axis so a user already turned is not taken
as centred. Turns, the return to the centre and wrong directions are then
measured relative to it, and a first turn that begins before ``centre_frames``
steady frames were seen (a person who starts at once, at 5-7 fps) is
recognised as that turn instead of leaving the centre state one step behind.

Params: ``imageWidth, imageHeight, sequence`` (a list of direction names).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import ConfigError
from ..faces import FaceDetail
from .checks import SessionChecksConfig, before_success, nose_parallax
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult, Success)
from .framework import IMAGE_SIZE_SCHEMA, Param
from .one_face import one_face

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
    max_missing_ms: float = _f(0.0, "if > 0, instead of max_missing_faces: the longest face-less "
                                    "time (ms, from the last face) skipped before the run fails "
                                    "(the same limit at 5 and 30 fps)")
    rest_baseline: bool = _f(False, "measure turns from the user's own resting pose (the median "
                                    "pose of the steady frames while centring) instead of the "
                                    "camera axis; a first turn may begin before centring ends")
    rest_max_yaw: float = _f(20.0, "rest_baseline: largest |yaw| of a resting pose (degrees); "
                                   "beyond it the user is asked to face the camera")
    rest_max_pitch: float = _f(20.0, "rest_baseline: largest |pitch| of a resting pose (degrees)")
    steady_tolerance: float = _f(6.0, "rest_baseline: a frame is steady when its yaw and pitch "
                                      "are within this of the resting median (degrees)")
    settle_ms: float = _f(300.0, "rest_baseline: before the first turn, frames steady among "
                                 "themselves this long (ms) elsewhere become the resting pose "
                                 "(a user who corrects his pose after centring)")
    turn_aware_rest: bool = _f(False, "rest_baseline: the resting pose is re-measured before "
                                      "every turn (not only the first), never from a pose held "
                                      "more than steady_tolerance toward the wanted direction "
                                      "(an undershot turn, not a new rest)")
    late_return: bool = _f(False, "a turn state that sees the previous turn's direction again "
                                  "waits (the user is still coming back) instead of failing "
                                  "with wrong_direction")
    hold_ratio: float = _f(1.0, "a hold, once begun, continues on frames beyond this fraction "
                                "of the turn thresholds (hysteresis against pose jitter; 1: "
                                "every held frame beyond the thresholds)")

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
        if min(self.rest_max_yaw, self.rest_max_pitch, self.steady_tolerance,
               self.settle_ms) <= 0:
            raise ConfigError("rest_max_yaw, rest_max_pitch, steady_tolerance and settle_ms "
                              f"must be > 0, got {self.rest_max_yaw!r}, {self.rest_max_pitch!r}, "
                              f"{self.steady_tolerance!r} and {self.settle_ms!r}")
        self._require_non_negative("max_missing_ms")
        if not 0 < self.hold_ratio <= 1:
            raise ConfigError(f"hold_ratio must be in (0, 1], got {self.hold_ratio!r}")
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


@dataclass
class _TurnRun:
    """Per-run state of a HEAD_TURN run (kept in the context under one key)."""

    #: consecutive centred frames (fixed centre) or steady frames (rest baseline)
    centre_run: int = 0
    #: the centred face the parallax of each turn is measured against
    reference: FaceDetail | None = None
    #: (yaw, pitch) of the steady frames the resting pose is the median of
    rest_samples: list[tuple[float, float]] = field(default_factory=list)
    #: (timestamp ms, face) of the frames steady among themselves before the first turn
    settle: list[tuple[float, FaceDetail]] = field(default_factory=list)
    #: the resting pose (yaw, pitch); (0, 0) = the camera axis without rest_baseline
    rest: tuple[float, float] = (0.0, 0.0)
    #: consecutive frames each turn (1-based step) has been held
    holds: dict[int, int] = field(default_factory=dict)
    #: the smallest parallax of the held turns so far
    min_parallax: float | None = None


_RUN_KEY = "head_turn.run"
#: the most steady frames the resting pose is the median of
_REST_SAMPLES = 15


def _run_state(context: Context) -> _TurnRun:
    run = context.get(_RUN_KEY)
    if run is None:
        run = context[_RUN_KEY] = _TurnRun()
    return run


def _one_face(frame: FrameInput, context: Context) -> tuple[FaceDetail | None, StepResult | None]:
    cfg: HeadTurnConfig = context.config
    face, result = one_face(frame, context, "head_turn", max_missing_faces=cfg.max_missing_faces,
                            max_missing_ms=cfg.max_missing_ms)
    if face is None or result is not None:
        return None, result
    if face.pose is None or face.pose.yaw is None or face.pose.pitch is None:
        return None, Fail("head_turn.missing_pose", "the face has no yaw or pitch estimate")
    context.record(yaw=face.pose.yaw, pitch=face.pose.pitch)
    return face, None


def _yaw_pitch(face: FaceDetail) -> tuple[float, float]:
    """The face's (yaw, pitch); callers checked that both are present (:func:`_one_face`)."""
    return face.pose.yaw, face.pose.pitch  # type: ignore[union-attr,return-value]


def _relative(face: FaceDetail, run: _TurnRun) -> tuple[float, float]:
    """The face's (yaw, pitch) relative to the run's centre (degrees)."""
    return (face.pose.yaw - run.rest[0],  # type: ignore[union-attr,operator]
            face.pose.pitch - run.rest[1])  # type: ignore[union-attr,operator]


def _centred(face: FaceDetail, cfg: HeadTurnConfig, run: _TurnRun | None = None) -> bool:
    yaw, pitch = _relative(face, run) if run is not None else _yaw_pitch(face)
    return (abs(yaw) <= cfg.centre_max_yaw  # type: ignore[arg-type]
            and abs(pitch) <= cfg.centre_max_pitch)  # type: ignore[arg-type]


def _median_pose(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.median(y for y, _ in samples), statistics.median(p for _, p in samples))


def _within_rest_bounds(pose: tuple[float, float], cfg: HeadTurnConfig) -> bool:
    return abs(pose[0]) <= cfg.rest_max_yaw and abs(pose[1]) <= cfg.rest_max_pitch


def _steady(face: FaceDetail, rest: tuple[float, float], cfg: HeadTurnConfig) -> bool:
    yaw, pitch = _yaw_pitch(face)
    return abs(yaw - rest[0]) <= cfg.steady_tolerance and \
        abs(pitch - rest[1]) <= cfg.steady_tolerance


def _toward(wanted: str, d_yaw: float, d_pitch: float) -> float:
    """How far (degrees) a pose change ``(d_yaw, d_pitch)`` goes in direction ``wanted``."""
    return {"LEFT": d_yaw, "RIGHT": -d_yaw, "UP": d_pitch, "DOWN": -d_pitch}[wanted]


def _settle(run: _TurnRun, face: FaceDetail, timestamp: float, cfg: HeadTurnConfig,
            guarded: tuple[str, ...]) -> None:
    """Before the first turn (every turn with ``turn_aware_rest``): refine the resting pose,
    or move it where the user settled.

    A frame steady against the resting pose refines it (median of up to
    ``_REST_SAMPLES`` frames). Frames steady among themselves for at least
    ``settle_ms`` (and ``centre_frames`` frames) elsewhere - a user who
    corrected his pose after centring - become the new resting pose. Both stay
    within the rest limits. A turn moves far more than ``steady_tolerance`` in
    ``settle_ms``, so a slow start of the turn is not taken as a new rest; and a
    pose held more than ``steady_tolerance`` from the rest **toward the wanted
    direction** is the turn itself, short of the threshold (people undershoot a
    requested turn), not a new rest: taking it as one made the way back look
    like a turn the other way.
    """
    pose = _yaw_pitch(face)
    if run.settle and not _steady(face, _median_pose([_yaw_pitch(f) for _, f in run.settle]),
                                  cfg):
        run.settle.clear()
    run.settle.append((timestamp, face))
    del run.settle[:-_REST_SAMPLES]
    if _steady(face, run.rest, cfg):
        run.rest_samples.append(pose)  # type: ignore[arg-type]
        del run.rest_samples[:-_REST_SAMPLES]
        rest = _median_pose(run.rest_samples)
        if _within_rest_bounds(rest, cfg):
            run.rest = rest
        return
    span = run.settle[-1][0] - run.settle[0][0]
    if len(run.settle) >= cfg.centre_frames and span >= cfg.settle_ms:
        samples = [_yaw_pitch(f) for _, f in run.settle]
        rest = _median_pose(samples)
        ahead = max(_toward(d, rest[0] - run.rest[0], rest[1] - run.rest[1]) for d in guarded)
        if _within_rest_bounds(rest, cfg) and \
                (not cfg.turn_aware_rest or ahead <= cfg.steady_tolerance):
            run.rest_samples = samples
            run.rest = rest
            run.reference = face


def _sequence(params: Mapping[str, Any]) -> list[str]:
    seq = params.get("sequence")
    if not isinstance(seq, (list, tuple)) or not 1 <= len(seq) <= MAX_TURNS or \
            any(d not in DIRECTIONS for d in seq):
        raise ValueError(f"HEAD_TURN params need a 'sequence' of 1..{MAX_TURNS} of "
                         f"{', '.join(DIRECTIONS)}, got {seq!r}")
    return list(seq)


@HEAD_TURN.state(first=True, next_state="turn_1")
def centre_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Wait for the face centred for ``centre_frames`` frames; it is the parallax reference.

    With ``rest_baseline``: wait for ``centre_frames`` steady frames whose median
    pose (the resting pose) is within the rest limits, or for one steady frame
    followed by the first requested turn (the turn is then judged on this frame).
    """
    cfg: HeadTurnConfig = context.config
    sequence = _sequence(params)
    if not frame.faces:
        return Continue("head_turn.no_face", "no face in the frame")
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    run = _run_state(context)
    if cfg.rest_baseline:
        return _centre_on_rest(face, sequence[0], cfg, run, context)
    if not _centred(face, cfg):
        run.centre_run = 0
        return Continue("head_turn.not_centred", "face the camera")
    run.centre_run += 1
    run.reference = face
    if run.centre_run < cfg.centre_frames:
        return Continue("head_turn.centring",
                        f"centred {run.centre_run} of {cfg.centre_frames} frames")
    return Next("head_turn.centred", "face centred")


def _centre_on_rest(face: FaceDetail, first: str, cfg: HeadTurnConfig, run: _TurnRun,
                    context: Context) -> StepResult:
    pose = (face.pose.yaw, face.pose.pitch)  # type: ignore[union-attr]
    if run.rest_samples:
        rest = _median_pose(run.rest_samples)
        rel = (pose[0] - rest[0], pose[1] - rest[1])  # type: ignore[operator]
        seen = head_direction(rel[0], rel[1], cfg.turn_min_yaw, cfg.turn_min_pitch)
        if seen == first and _within_rest_bounds(rest, cfg):
            run.rest = rest
            context.record(rest_yaw=rest[0], rest_pitch=rest[1])
            return Next("head_turn.centred_early", "the first turn began as centring ended")
        if not _steady(face, rest, cfg):
            run.rest_samples.clear()
    run.rest_samples.append(pose)  # type: ignore[arg-type]
    del run.rest_samples[:-_REST_SAMPLES]
    rest = _median_pose(run.rest_samples)
    context.record(rest_yaw=rest[0], rest_pitch=rest[1])
    if not _within_rest_bounds(rest, cfg):
        run.rest_samples.clear()
        return Continue("head_turn.not_centred", "face the camera")
    run.rest = rest
    run.reference = face
    if len(run.rest_samples) < cfg.centre_frames:
        return Continue("head_turn.centring",
                        f"steady {len(run.rest_samples)} of {cfg.centre_frames} frames")
    return Next("head_turn.centred", "face at rest")


def _turn_state(step: int) -> Callable[..., StepResult]:
    def turn(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
        cfg: HeadTurnConfig = context.config
        wanted = _sequence(params)[step - 1]
        face, result = _one_face(frame, context)
        if result is not None or face is None:
            return result or Continue()
        run = _run_state(context)
        yaw, pitch = _relative(face, run)
        seen = head_direction(yaw, pitch, cfg.turn_min_yaw, cfg.turn_min_pitch)
        context.record(direction=seen, wanted=wanted, step=step)
        if seen is not None and seen != wanted:
            strong = head_direction(yaw, pitch, cfg.turn_min_yaw + cfg.wrong_margin,
                                    cfg.turn_min_pitch + cfg.wrong_margin)
            if strong is not None and strong != wanted and cfg.late_return and step > 1 \
                    and strong == _sequence(params)[step - 2]:
                # the way back ended on one frame near the centre while the head still
                # held the turn just done: the user is late, not turning the wrong way
                run.holds[step] = 0
                return Continue("head_turn.returning", f"back to the centre after turn "
                                                       f"{step - 1}")
            if strong is not None and strong != wanted:
                return Fail("head_turn.wrong_direction",
                            f"turn {step}: the head turned {strong}, expected {wanted}")
        if seen != wanted and run.holds.get(step, 0) and cfg.hold_ratio < 1:
            # a hold begun beyond the thresholds continues while the head stays well turned
            # (never on a frame the way back would take as centred)
            if head_direction(yaw, pitch, cfg.turn_min_yaw * cfg.hold_ratio,
                              cfg.turn_min_pitch * cfg.hold_ratio) == wanted \
                    and not _centred(face, cfg, run):
                seen = wanted
        if seen != wanted:
            run.holds[step] = 0
            if cfg.rest_baseline and seen is None and (step == 1 or cfg.turn_aware_rest):
                # never toward the wanted turn, nor toward the one just done (still coming back)
                guarded = (wanted,) if step == 1 else (wanted, _sequence(params)[step - 2])
                _settle(run, face, float(frame.timestamp), cfg, guarded)
                context.record(rest_yaw=run.rest[0], rest_pitch=run.rest[1])
            return Continue("head_turn.turning", f"turn {step}: turn {wanted.lower()}")
        held = run.holds.get(step, 0) + 1
        run.holds[step] = held
        if held < cfg.hold_frames:
            return Continue("head_turn.holding", f"turn {step}: held {held} of {cfg.hold_frames}")
        if cfg.parallax_check:
            parallax = nose_parallax(run.reference, face,  # type: ignore[arg-type]
                                     params["imageWidth"], params["imageHeight"])
            context.record(parallax=parallax)
            if parallax is None:
                return Fail("head_turn.parallax_unavailable",
                            "the faces lack the landmarks needed to measure the nose parallax")
            smallest = parallax if run.min_parallax is None else min(run.min_parallax, parallax)
            run.min_parallax = smallest
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
        run = _run_state(context)
        yaw, pitch = _relative(face, run)
        seen = head_direction(yaw, pitch, cfg.turn_min_yaw + cfg.wrong_margin,
                              cfg.turn_min_pitch + cfg.wrong_margin)
        if seen is not None and seen != sequence[step - 1]:
            return Fail("head_turn.wrong_direction",
                        f"after turn {step}: the head turned {seen} before coming back")
        if not _centred(face, cfg, run):
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
