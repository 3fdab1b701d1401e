"""BLINK: blink on cue (hardened) or N times within a time window (a plugin, public API only).

Eye closure is measured with the **eye aspect ratio** (EAR) of the
Rekognition eye landmarks, ``|eyeUp - eyeDown| / |eyeLeft - eyeRight|``
averaged over both eyes, relative to a **per-session baseline** (the median
EAR of the first frames, eyes open).

By default (the type's own defaults) a blink is a run of frames whose relative
EAR falls below ``close_ratio`` followed by a frame back above ``open_ratio``,
and the run succeeds when ``blinks`` blinks (random, in
``min_blinks..max_blinks``) have been seen within ``windowMs`` of the first
counting frame. The count is not secret: a video of the person blinking
replays well.

The hardened profiles (``rekognition``, ``recommended``) switch on four rules
(``docs/hardening.md`` has the measurements):

* ``adaptive_closure``: closure detection for real cameras - one partial frame
  counts when it is far enough below the session's own open-eye EAR given the
  session's own jitter, and DetectFaces' ``EyesOpen`` confidence is combined
  with the landmarks (:mod:`~liveness_lab.challenges.blink_signal`);
* ``min_fps``: the params tell the client the slowest frame rate accepted
  (``minFps``); a slower stream fails with ``blink.frame_rate``;
* ``cue_timing``: the server draws random cue times (``cuesMs``, ms after the
  first frame it receives); the client shows each cue and every blink must
  follow its cue within ``reactionMs`` = ``[low, high]`` ms. Blinks outside
  the windows answer nothing; more than ``max_uncued_blinks`` of them fail. A
  recording cannot know the cues;
* ``parallax_check``: before the first cue the user turns the head slightly
  toward ``turn`` (``LEFT``/``RIGHT``, the subject's own side) and back; the
  turned frames must show the nose moving against the plane of the rest of
  the face (:func:`~liveness_lab.challenges.checks.nose_parallax`), as a head
  does and a flat print with eye holes (real eyelids behind a flat face)
  cannot. Natural head sway alone (about a degree) moves the nose by less
  than DetectFaces' landmark jitter, hence the requested turn.

Issue 11c tuned these to the physics of blinks and cameras: the open-eye baseline is
measured only in its own pose, a confident ``EyesOpen`` vetoes shallow EAR dips, a blink ends
once the eyes stay open ``blink_merge_ms``, the reaction window gets one frame interval of
slack, blinks before the first cue are free, one person's latencies must be consistent
(``max_reaction_spread_ms``), and the chance that a recording made for other cues passes is
computed by :func:`~liveness_lab.challenges.blink_cues.replay_pass_probability`
(``docs/hardening.md``). Issue 11 (blink12) fitted them to 5-8 fps cameras and noisy
landmarks: one cue of seven may go unanswered (a stall or a glare frame can hide a slow blink's
1-3 frames at 5 fps), a closure lasts from its first to its last *closed* frame, the frame rate
is judged on distinct frames, the turn's parallax must reach what a head shows, and roll
jitter is no track jump (``docs/challenges.md`` has the numbers).

What it does not stop: a live video of the victim doing this very response
(a screen shows a real head's projection, blinks on cue and parallax included).

Params: ``imageWidth, imageHeight, blinks, windowMs``; hardened also ``cuesMs,
reactionMs, minFps, turn``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..evidence import Evidence, Need
from ..faces import FaceDetail
from .blink_rules import (RUN_KEY, eye_event, frame_rate, missed_cue, reaction_spread, succeed,
                          track_turn, turned_away)
from .blink_signal import (TURNS, BlinkRun, ClosureDetector, cue_schedule,
                           eyes_closed_probability)
from .checks import SessionChecksConfig
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult)
from .framework import IMAGE_SIZE_SCHEMA, Param
from .one_face import one_face

__all__ = ["BLINK", "BlinkConfig", "blink_params", "eye_aspect_ratio"]



def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class BlinkConfig(SessionChecksConfig):
    """Thresholds of the BLINK challenge."""

    min_blinks: int = _f(2, "fewest blinks a challenge asks for (cues, with cue_timing)")
    max_blinks: int = _f(4, "most blinks a challenge asks for (cues, with cue_timing)")
    window_base_s: float = _f(2.0, "time window, seconds: this plus window_per_blink_s per "
                                   "requested blink")
    window_per_blink_s: float = _f(1.5, "seconds of window per requested blink")
    baseline_frames: int = _f(3, "frames with one face whose median EAR is the open-eye "
                                 "baseline")
    min_baseline_ear: float = _f(0.12, "smallest baseline EAR (eyes seen open); the baseline "
                                       "state waits (up to its timeout) for eyes seen open")
    close_ratio: float = _f(0.6, "an eye counts as closed below this fraction of the baseline")
    open_ratio: float = _f(0.8, "and as open again above this fraction")
    max_closed_s: float = _f(1.0, "closures longer than this (seconds) are not blinks")
    max_rotation: float = _f(30.0, "frames with |yaw| or |pitch| beyond this (degrees) are "
                                   "skipped: the EAR is unreliable there")
    max_missing_faces: int = _f(3, "frames without a face skipped before the run fails")
    # -- closure detection for real cameras
    adaptive_closure: bool = _f(False, "closure = one partial frame far enough below the "
                                       "session's running open-eye EAR for its jitter, or "
                                       "EyesOpen false with confidence (replaces close_ratio)")
    partial_close_ratio: float = _f(0.8, "adaptive: a closed frame's EAR is below this fraction "
                                         "of the running baseline ...")
    close_sigmas: float = _f(3.0, "adaptive: ... and below it by more than this many times the "
                                  "session's open-eye EAR spread")
    min_spread_ratio: float = _f(0.04, "adaptive: floor of that spread, as a fraction of the "
                                       "baseline")
    eyes_closed_confidence: float = _f(70.0, "adaptive: EyesOpen false with at least this "
                                             "confidence (0..100) is a closed frame when the EAR "
                                             "is below open_ratio")
    baseline_window: int = _f(15, "adaptive: open frames in the running baseline")
    open_veto_confidence: float = _f(101.0, "adaptive: EyesOpen true with at least this "
                                            "confidence (0..100) vetoes a closure seen in the "
                                            "EAR alone unless it is below deep_ratio; above "
                                            "100 = off")
    deep_ratio: float = _f(0.5, "adaptive: an EAR below this fraction of the baseline is a "
                                "closure whatever EyesOpen says")
    closure_max_turn: float = _f(0.0, "adaptive: frames whose yaw or pitch differ from the "
                                      "pose of the open-eye baseline by more than this "
                                      "(degrees) do not move the running baseline (the EAR "
                                      "changes with the pose); a new steady pose gets a new "
                                      "baseline; 0 = off")
    max_missing_ms: float = _f(0.0, "if > 0, instead of max_missing_faces: the longest "
                                    "face-less time (ms) skipped; 0 = count frames")
    track_roll_deg: float = _f(0.0, "continuity_check: roll change allowed at once between "
                                    "two frames (degrees, detector jitter); 0 = the shared "
                                    "default (5)")
    # -- frame rate
    min_fps: float = _f(0.0, "slowest frame rate accepted (told to the client as minFps); "
                             "0 = no check")
    fps_tolerance: float = _f(0.15, "a stream is too slow below min_fps * (1 - this)")
    fps_frames: int = _f(6, "distinct frames before the frame rate is judged (the median "
                            "interval of n frames at 12 % jitter is known to about "
                            "15 % / sqrt(n - 1))")
    # -- cue timing
    cue_timing: bool = _f(False, "random cue times in the params; each blink must follow its "
                                 "cue within the reaction window")
    first_cue_s: float = _f(3.5, "the first cue, seconds after the first frame (time to "
                                 "measure open eyes and to turn the head) ...")
    first_cue_jitter_s: float = _f(1.0, "... plus a random 0..this")
    cue_gap_min_s: float = _f(1.6, "shortest time between cues, seconds (longer than the "
                                   "reaction window plus a blink)")
    cue_gap_max_s: float = _f(3.2, "longest time between cues, seconds")
    reaction_min_ms: int = _f(150, "a blink's closure must be seen at least this long after "
                                   "its cue (faster is anticipation, not a reaction) ...")
    reaction_max_ms: int = _f(1000, "... and at most this long after it")
    max_reaction_spread_ms: float = _f(0.0, "the reaction times of the answering blinks may "
                                            "differ by at most this (ms) plus one frame "
                                            "interval: one person's reactions vary by tens of "
                                            "percent, not by the whole window; 0 = off")
    reaction_lapses: int = _f(0, "max_reaction_spread_ms: answering blinks that may lie "
                                 "outside the spread (an attention lapse: reaction times "
                                 "have a long slow tail)")
    blink_merge_ms: float = _f(0.0, "adaptive: a blink is over once the eyes have looked open "
                                    "for this long (ms) after its last closed frame; a closure "
                                    "before that is the same blink (glare or jitter frames "
                                    "look open inside a blink); 0 = at the first open frame")
    max_missed_cues: int = _f(0, "cues that may go unanswered (a blink between two frames of a "
                                 "slow camera, a glare frame); the run succeeds once all the "
                                 "others are answered")
    max_uncued_blinks: int = _f(3, "blinks outside every reaction window tolerated "
                                   "(spontaneous blinks); one more fails the run ...")
    uncued_per_s: float = _f(0.0, "... plus this many per second since the first cue's window "
                                  "opened (spontaneous blinks go on while people wait)")
    # -- 3D consistency around the eyes
    parallax_check: bool = _f(False, "ask for a slight head turn before the first cue; the "
                                     "turned frames must show nose parallax (a flat face with "
                                     "real eyelids fails)")
    turn_min_yaw: float = _f(10.0, "a frame is turned when its yaw differs from the baseline's "
                                   "by this much (degrees) in the requested direction")
    min_parallax: float = _f(0.02, "smallest median nose parallax of the turned frames, in "
                                   "face widths along the nose's motion")
    parallax_frames: int = _f(2, "turned frames needed")
    parallax_turn_share: float = _f(0.0, "the parallax is the median over the turned frames "
                                         "turned at least this share of the largest turn (the "
                                         "turn itself, not a head left slightly rotated); 0: "
                                         "every turned frame")

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.min_blinks <= self.max_blinks:
            raise ConfigError(f"need 1 <= min_blinks <= max_blinks, got {self.min_blinks!r} and "
                              f"{self.max_blinks!r}")
        if self.window_base_s < 0 or self.window_per_blink_s <= 0:
            raise ConfigError("window_base_s must be >= 0 and window_per_blink_s > 0")
        if self.baseline_frames < 1:
            raise ConfigError(f"baseline_frames must be >= 1, got {self.baseline_frames!r}")
        if not 0 < self.close_ratio < self.open_ratio <= 1.5:
            raise ConfigError(f"need 0 < close_ratio < open_ratio <= 1.5, got "
                              f"{self.close_ratio!r} and {self.open_ratio!r}")
        if self.max_closed_s <= 0 or self.max_rotation <= 0 or self.min_baseline_ear < 0:
            raise ConfigError("max_closed_s and max_rotation must be > 0, min_baseline_ear >= 0")
        self._require_non_negative("max_missing_faces", "track_roll_deg")
        if self.max_missing_ms < 0 or self.closure_max_turn < 0:
            raise ConfigError(f"max_missing_ms and closure_max_turn must be >= 0, got "
                              f"{self.max_missing_ms!r} and {self.closure_max_turn!r}")
        if not 0 < self.deep_ratio <= self.partial_close_ratio:
            raise ConfigError(f"need 0 < deep_ratio <= partial_close_ratio, got "
                              f"{self.deep_ratio!r} and {self.partial_close_ratio!r}")
        if not 0 < self.partial_close_ratio <= self.open_ratio:
            raise ConfigError(f"need 0 < partial_close_ratio <= open_ratio, got "
                              f"{self.partial_close_ratio!r} and {self.open_ratio!r}")
        if self.close_sigmas < 0 or self.min_spread_ratio < 0 or self.baseline_window < 1:
            raise ConfigError("close_sigmas and min_spread_ratio must be >= 0, "
                              "baseline_window >= 1")
        if not 0 <= self.eyes_closed_confidence <= 100:
            raise ConfigError(f"eyes_closed_confidence must be in 0..100, got "
                              f"{self.eyes_closed_confidence!r}")
        if self.min_fps < 0 or not 0 <= self.fps_tolerance < 1 or self.fps_frames < 2:
            raise ConfigError("need min_fps >= 0, 0 <= fps_tolerance < 1 and fps_frames >= 2")
        if self.first_cue_s < 0 or self.first_cue_jitter_s < 0:
            raise ConfigError("first_cue_s and first_cue_jitter_s must be >= 0")
        if not 0 <= self.reaction_min_ms < self.reaction_max_ms:
            raise ConfigError(f"need 0 <= reaction_min_ms < reaction_max_ms, got "
                              f"{self.reaction_min_ms!r} and {self.reaction_max_ms!r}")
        if not self.reaction_max_ms / 1000 <= self.cue_gap_min_s <= self.cue_gap_max_s:
            raise ConfigError(f"need reaction_max_ms / 1000 <= cue_gap_min_s <= "
                              f"cue_gap_max_s (reaction windows must not overlap), got "
                              f"{self.cue_gap_min_s!r} and {self.cue_gap_max_s!r}")
        self._require_non_negative("max_reaction_spread_ms", "blink_merge_ms", "uncued_per_s")
        if not 0 <= self.max_missed_cues < self.min_blinks:
            raise ConfigError(f"need 0 <= max_missed_cues < min_blinks, got "
                              f"{self.max_missed_cues!r} and {self.min_blinks!r}")
        self._require_non_negative("max_uncued_blinks")
        if isinstance(self.reaction_lapses, bool) or not isinstance(self.reaction_lapses, int) \
                or self.reaction_lapses < 0:
            raise ConfigError(f"reaction_lapses must be an integer >= 0, got "
                              f"{self.reaction_lapses!r}")
        if not 0 <= self.parallax_turn_share < 1:
            raise ConfigError(f"parallax_turn_share must be in [0, 1), got "
                              f"{self.parallax_turn_share!r}")
        if self.turn_min_yaw <= 0 or self.min_parallax < 0 or self.parallax_frames < 1:
            raise ConfigError("need turn_min_yaw > 0, min_parallax >= 0, parallax_frames >= 1")

    def evidence_needs(self) -> tuple[Need, ...]:
        needs = super().evidence_needs()
        if self.parallax_check:
            needs += (Need(frozenset({Evidence.GEOMETRY}), "3D consistency around the eyes "
                           "(nose parallax over the requested turn)", "parallax_check"),)
        return needs

    @property
    def hardened(self) -> bool:
        """Whether any rule of the hardened BLINK is on (they share :class:`BlinkRun`)."""
        return self.adaptive_closure or self.cue_timing or self.parallax_check or self.min_fps > 0


BLINK = ChallengeType("BLINK", config_class=BlinkConfig, random_selection=False,
                      description="blink the requested number of times within a time window",
                      score_threshold=1.0,  # score: blinks counted / blinks asked
                      params_schema={**IMAGE_SIZE_SCHEMA, "blinks": Param(int, minimum=1),
                                     "windowMs": Param(int, minimum=1),
                                     "cuesMs": Param(list, required=False, minimum=1,
                                                     items=Param(int, minimum=0)),
                                     "reactionMs": Param(list, required=False, minimum=2,
                                                         maximum=2,
                                                         items=Param(int, minimum=0)),
                                     "minFps": Param(float, required=False, minimum=0),
                                     "turn": Param(str, required=False, choices=TURNS)})


@BLINK.params
def blink_params(client_metadata: Mapping[str, Any], config: BlinkConfig,
                 rng: ChallengeRandom) -> dict[str, Any]:
    """Params: the image size, a random number of blinks and the window for them (ms).

    With ``cue_timing`` also the random cue times ``cuesMs`` (ms after the first frame) and
    the reaction window ``reactionMs``; with ``min_fps`` the slowest frame rate ``minFps``;
    with ``parallax_check`` the direction of the head turn asked before the first cue.
    """
    w, h = image_size(client_metadata)
    blinks = config.min_blinks + rng.randbelow(config.max_blinks - config.min_blinks + 1)
    window = int(round(1000 * (config.window_base_s + config.window_per_blink_s * blinks)))
    out: dict[str, Any] = {"imageWidth": w, "imageHeight": h, "blinks": blinks,
                           "windowMs": window}
    if config.cue_timing:
        uniforms = [rng.randbelow(1_000_000) / 1_000_000 for _ in range(blinks)]
        cues = cue_schedule(config.first_cue_s, config.first_cue_jitter_s, config.cue_gap_min_s,
                            config.cue_gap_max_s, blinks, uniforms)
        out["cuesMs"] = cues
        out["reactionMs"] = [int(config.reaction_min_ms), int(config.reaction_max_ms)]
        out["windowMs"] = cues[-1] + int(config.reaction_max_ms) + int(
            round(1000 * config.max_closed_s))
    if config.min_fps > 0:
        out["minFps"] = float(config.min_fps)
    if config.parallax_check:
        out["turn"] = TURNS[rng.randbelow(len(TURNS))]
    return out


_EYES = (("leftEyeUp", "leftEyeDown", "leftEyeLeft", "leftEyeRight"),
         ("rightEyeUp", "rightEyeDown", "rightEyeLeft", "rightEyeRight"))


def eye_aspect_ratio(face: FaceDetail, image_width: float = 1.0,
                     image_height: float = 1.0) -> float | None:
    """Mean over both eyes of ``|up - down| / |left - right|`` (pixels), or ``None``."""
    values = []
    for names in _EYES:
        pts = [face.landmark(n) for n in names]
        if any(p is None for p in pts):
            return None
        (ux, uy), (dx, dy), (lx, ly), (rx, ry) = ((p.x * image_width, p.y * image_height)
                                                  for p in pts)  # type: ignore[union-attr]
        width = math.hypot(rx - lx, ry - ly)
        if width <= 0:
            return None
        values.append(math.hypot(ux - dx, uy - dy) / width)
    return float(np.mean(values))


def _one_face(frame: FrameInput, context: Context) -> tuple[FaceDetail | None, StepResult | None]:
    cfg: BlinkConfig = context.config
    # max_missing_ms > 0: the face-less time is bounded in ms (a count of frames would allow
    # 200 ms at 30 fps and 1.2 s at 5 fps)
    return one_face(frame, context, "blink", max_missing_faces=cfg.max_missing_faces,
                    max_missing_ms=cfg.max_missing_ms)


def _ear(face: FaceDetail, params: Mapping[str, Any], context: Context
         ) -> tuple[float | None, StepResult | None]:
    """The frame's EAR; ``(None, None)`` for a frame to skip (head turned too far)."""
    cfg: BlinkConfig = context.config
    pose = face.pose
    if pose is not None and pose.yaw is not None and pose.pitch is not None and (
            abs(pose.yaw) > cfg.max_rotation or abs(pose.pitch) > cfg.max_rotation):
        context.record(yaw=pose.yaw, pitch=pose.pitch)
        return None, None
    ear = eye_aspect_ratio(face, params["imageWidth"], params["imageHeight"])
    if ear is None:
        return None, Fail("blink.missing_landmark", "the face lacks the eye landmarks needed "
                                                    "for the eye aspect ratio")
    context.record(ear=ear)
    return ear, None


# -- the run state ---------------------------------------------------------------------------

def _run(context: Context) -> BlinkRun:
    """The run's :class:`BlinkRun` (created by the first state on the first frame)."""
    return context[RUN_KEY]


def _start_run(params: Mapping[str, Any], frame: FrameInput, context: Context
               ) -> StepResult | None:
    """Create the run state on the first frame; check the params the hardened rules need."""
    cfg: BlinkConfig = context.config
    if RUN_KEY in context:
        return None
    if not cfg.hardened:
        context[RUN_KEY] = BlinkRun.from_params(frame.timestamp, params)
        return None
    if cfg.cue_timing and not params.get("cuesMs"):
        return Fail("blink.no_cues", "cue_timing is on but the challenge params carry no cue "
                                     "times (cuesMs): the challenge was not issued for cue-timed "
                                     "blinks")
    if cfg.parallax_check and params.get("turn") not in TURNS:
        return Fail("blink.no_turn_param", "parallax_check is on but the challenge params carry "
                                           "no head turn (turn: LEFT or RIGHT)")
    context[RUN_KEY] = BlinkRun.from_params(frame.timestamp, params)
    return None


# -- states ----------------------------------------------------------------------------------

@BLINK.state(first=True, next_state="baseline_state")
def face_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Wait for a frame with exactly one face (several faces fail the run)."""
    result = _start_run(params, frame, context) or frame_rate(params, frame, context)
    if result is not None:
        return result
    n = len(frame.faces)
    if n == 0:
        return Continue("blink.no_face", "no face in the frame")
    if n > 1:
        return Fail("blink.several_faces", f"{n} faces in the frame; exactly one is allowed")
    return Next("blink.one_face", "exactly one face")


@BLINK.state(next_state="blink_state")
def baseline_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Measure the open-eye EAR over the first ``baseline_frames`` usable frames."""
    cfg: BlinkConfig = context.config
    result = frame_rate(params, frame, context)
    if result is not None:
        return result
    run = _run(context)
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    ear, result = _ear(face, params, context)
    if result is not None:
        return result
    if ear is None:
        return Continue("blink.rotated", "head turned too far to measure the eyes")
    pose = face.pose
    run.note_baseline(ear, pose.yaw if pose is not None else None,
                      pose.pitch if pose is not None else None, cfg.baseline_frames)
    samples = run.baseline_samples
    if len(samples) < cfg.baseline_frames:
        return Continue("blink.baseline", f"measuring open eyes ({len(samples)} of "
                                          f"{cfg.baseline_frames})")
    baseline = float(np.median(samples))
    context.record(baseline_ear=baseline)
    if baseline < cfg.min_baseline_ear:
        return Continue("blink.eyes_not_open", f"baseline eye aspect ratio {baseline:.3f} < "
                                               f"{cfg.min_baseline_ear:g}: eyes not seen open")
    run.baseline = baseline
    if cfg.hardened:
        run.reference = face
        run.reference_yaw, run.reference_pitch = run.baseline_pose()
        if cfg.adaptive_closure:
            run.closure = ClosureDetector(cfg.partial_close_ratio, cfg.open_ratio,
                                          cfg.close_sigmas, cfg.min_spread_ratio,
                                          cfg.eyes_closed_confidence, cfg.baseline_window,
                                          open_veto_confidence=cfg.open_veto_confidence,
                                          deep_ratio=cfg.deep_ratio,
                                          max_low_ms=1000.0 * cfg.max_closed_s)
            run.closure.seed([s for s in samples if s >= cfg.open_ratio * baseline])
    return Next("blink.baseline_done", f"open-eye baseline {baseline:.3f}")


@BLINK.state()
def blink_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Count blinks (closed then open again, relative to the baseline) within the window."""
    cfg: BlinkConfig = context.config
    run = _run(context)
    if cfg.hardened:
        return _hardened_blink(params, frame, context, run)
    if run.window_start is None:
        run.window_start = frame.timestamp
    elapsed = frame.timestamp - run.window_start
    wanted, window = int(params["blinks"]), int(params["windowMs"])
    if elapsed > window:
        return Fail("blink.window", f"{run.blinks} of {wanted} blinks in "
                                    f"{window / 1000:g} s")
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    ear, result = _ear(face, params, context)
    if result is not None:
        return result
    if ear is None:
        return Continue("blink.rotated", "head turned too far to measure the eyes")
    rel = ear / run.baseline  # type: ignore[operator]  # set by the baseline state
    closed_since = run.closed_since
    context.record(ear_ratio=rel, blinks=run.blinks)
    if rel < cfg.close_ratio:
        if closed_since is None:
            run.closed_since = frame.timestamp
        return Continue("blink.closed", "eyes closed")
    if rel > cfg.open_ratio and closed_since is not None:
        run.closed_since = None
        if frame.timestamp - closed_since > cfg.max_closed_s * 1000:
            return Continue("blink.long_closure", "eyes were closed too long for a blink")
        run.blinks += 1
        count = run.blinks
        context.record(blinks=count)
        context.score = count / wanted
        if count >= wanted:
            return succeed(context, run, f"{count} blinks in {elapsed / 1000:.1f} s")
        return Continue("blink.counted", f"blink {count} of {wanted}")
    return Continue("blink.open", f"{run.blinks} of {wanted} blinks")


def _hardened_blink(params: Mapping[str, Any], frame: FrameInput, context: Context,
                    run: BlinkRun) -> StepResult:
    """The blink state of the hardened rules (see the module docstring)."""
    cfg: BlinkConfig = context.config
    result = frame_rate(params, frame, context)
    if result is not None:
        return result
    now = run.elapsed(frame.timestamp)
    wanted = (max(1, len(run.cues) - cfg.max_missed_cues) if cfg.cue_timing
              else int(params["blinks"]))
    if cfg.cue_timing:
        result = missed_cue(params, context, run, now) or reaction_spread(params, context,
                                                                          run, now)
        if result is not None:
            return result
    else:
        if run.window_start is None:
            run.window_start = frame.timestamp
        if frame.timestamp - run.window_start > int(params["windowMs"]):
            return Fail("blink.window", f"{run.blinks} of {wanted} blinks in "
                                        f"{int(params['windowMs']) / 1000:g} s")
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    track_turn(params, face, context, run)
    ear, result = _ear(face, params, context)
    if result is not None:
        return result
    if ear is None:
        return Continue("blink.rotated", "head turned too far to measure the eyes")
    if run.closure is not None:
        away = turned_away(face, ear, frame.timestamp, context, run)
        if away:
            context.record(turned_away=True)
        state, rel = run.closure.update(ear, eyes_closed_probability(face), frame.timestamp,
                                        learn=not away)
        if state == "rebaselined":
            run.closed_since, run.reopened_at, run.pieces = None, None, []
            context.record(ear_ratio=rel, eye_state=state)
            return Continue("blink.rebaselined", "the eyes stayed narrower than the open-eye "
                                                 "baseline for longer than a blink: new baseline")
    else:
        rel = ear / run.baseline  # type: ignore[operator]  # set by the baseline state
        state = ("closed" if rel < cfg.close_ratio else "open" if rel > cfg.open_ratio
                 else "between")
    context.record(ear_ratio=rel, blinks=run.blinks, eye_state=state)
    return eye_event(state, params, frame, context, run, wanted)
