"""The hardened BLINK rules, frame by frame: frame rate, the requested turn, cue windows.

Helpers of the states in :mod:`liveness_lab.challenges.blink` (which holds the config, the
params and the states); the per-run state of both rule sets is one
:class:`~.blink_signal.BlinkRun` under ``RUN_KEY``, the pure measurements are in
:mod:`.blink_signal` and :mod:`.blink_cues`. A blink's life:

* a *closed* frame starts a blink (its first closed frame is the blink's onset);
* an *open* frame ends it once the eyes have looked open for ``blink_merge_ms`` after the
  last closed frame - a closed frame before that is another *piece* of the same blink (a glare
  or jitter frame looked open inside it); any piece's onset may answer a cue;
* the finished blink answers the first unanswered cue whose window
  (:func:`~.blink_cues.answer_window`) holds its onset, or is uncued.
"""

from __future__ import annotations

from typing import Any, Mapping, TYPE_CHECKING

import numpy as np

from ..faces import FaceDetail
from .blink_cues import consistent_choice, uncued_allowed, window_of
from .blink_signal import BlinkRun, measured_fps, turn_sign
from .checks import before_success, nose_parallax
from .framework import Context, Continue, Fail, FrameInput, Step, StepResult, Success

if TYPE_CHECKING:  # pragma: no cover
    from .blink import BlinkConfig

__all__: list[str] = []  # helpers of blink.py, not a public API

#: the context key of the run's :class:`BlinkRun` (the only key BLINK keeps in the context)
RUN_KEY = "blink.run"


def frame_rate(params: Mapping[str, Any], frame: FrameInput, context: Context
                ) -> StepResult | None:
    """``blink.frame_rate`` when the stream is slower than the ``minFps`` the client was told."""
    cfg: "BlinkConfig" = context.config
    if not cfg.hardened:
        return None
    run: BlinkRun = context[RUN_KEY]
    run.note_frame(frame.timestamp)
    wanted = float(params.get("minFps", cfg.min_fps) or 0.0)
    if wanted <= 0 or len(run.timestamps) < cfg.fps_frames:
        return None
    fps = measured_fps(run.timestamps)
    if fps is not None and fps < wanted * (1.0 - cfg.fps_tolerance):
        return Fail("blink.frame_rate", f"the camera sends {fps:.1f} frames per second; this "
                                        f"challenge needs at least {wanted:g} (params minFps)")
    return None


def track_turn(params: Mapping[str, Any], face: FaceDetail, context: Context,
                run: BlinkRun) -> None:
    """Collect the nose parallax of frames turned toward ``params['turn']``."""
    cfg: "BlinkConfig" = context.config
    if not cfg.parallax_check or run.reference is None or run.reference_yaw is None:
        return
    pose = face.pose
    if pose is None or pose.yaw is None:
        return
    turned = (pose.yaw - run.reference_yaw) * turn_sign(params["turn"])
    if turned < cfg.turn_min_yaw:
        return
    run.turn_seen = True
    p = nose_parallax(run.reference, face, params["imageWidth"], params["imageHeight"])
    if p is not None:
        run.turn_parallax.append((turned, p))
        context.record(turn_yaw=turned, parallax=p)


def turn_result(context: Context, run: BlinkRun) -> StepResult | None:
    """``None`` when the turn showed a head's parallax (or is not asked), else the failure."""
    cfg: "BlinkConfig" = context.config
    if not cfg.parallax_check:
        return None
    if len(run.turn_parallax) >= cfg.parallax_frames:
        median = float(np.median(_turn_frames(run.turn_parallax, cfg)))
        if median >= cfg.min_parallax:
            return None
        return Fail("blink.parallax", f"the turned face moved like a flat picture (nose "
                                      f"parallax {median:.3f} < {cfg.min_parallax:g} face widths)")
    if not run.turn_seen:
        return Fail("blink.no_turn", f"the head was not turned {cfg.turn_min_yaw:g} degrees "
                                     f"toward the {context.params['turn'].lower()} before the cues")
    return Fail("blink.parallax_unavailable", f"fewer than {cfg.parallax_frames} turned frames "
                                              "carried the landmarks needed for the parallax")


def _turn_frames(turned: list[tuple[float, float]], cfg: "BlinkConfig") -> list[float]:
    """The parallax of the frames of the turn itself: those turned at least
    ``parallax_turn_share`` of the largest turn (if ``parallax_frames`` of them), else every
    turned frame. A head's parallax grows with the sine of its turn, so frames barely past
    ``turn_min_yaw`` - a head left slightly rotated while it waits for the cues - show a
    fraction of it and would drown the turn; a flat picture shows none at any angle, so
    choosing frames by their yaw does not lift its parallax."""
    every = [p for _, p in turned]
    if not cfg.parallax_turn_share or not turned:
        return every
    least = cfg.parallax_turn_share * max(a for a, _ in turned)
    chosen = [p for a, p in turned if a >= least]
    return chosen if len(chosen) >= cfg.parallax_frames else every


def missed_cue(params: Mapping[str, Any], context: Context, run: BlinkRun,
                now: int) -> StepResult | None:
    """``blink.missed_cue`` once a cue's window has passed with no blink answering it."""
    low, high = (int(v) for v in params["reactionMs"])
    slack = frame_slack(params, context, run)
    cfg: "BlinkConfig" = context.config
    pending = [] if run.closed_since is None else [run.elapsed(p) for p in run.pieces]
    missed = []
    for k, cue in enumerate(run.cues):
        if run.answered[k] or now <= cue + high + slack:
            continue
        if any(low <= p - cue <= high + slack for p in pending):
            continue  # its closure started in the window; it is confirmed when the eyes open
        missed.append(k)
    if len(missed) > cfg.max_missed_cues:
        k = missed[-1]
        allowed = (f"; {cfg.max_missed_cues} may be missed" if cfg.max_missed_cues else "")
        return Fail("blink.missed_cue", f"no blink {low}-{high} ms after cue {k + 1} of "
                                        f"{len(run.cues)} (shown at {run.cues[k] / 1000:.1f} s;"
                                        f" one frame interval, {slack:.0f} ms, allowed on top"
                                        f"{allowed})")
    return None


def _spread_allowed(params: Mapping[str, Any], context: Context, run: BlinkRun) -> float | None:
    cfg: "BlinkConfig" = context.config
    if cfg.max_reaction_spread_ms <= 0:
        return None
    return cfg.max_reaction_spread_ms + frame_slack(params, context, run)


def reaction_spread(params: Mapping[str, Any], context: Context, run: BlinkRun,
                    now: int) -> StepResult | None:
    """``blink.reaction_spread`` once every window is over and the answering blinks cannot be
    chosen within ``max_reaction_spread_ms`` (+ one frame interval) of each other."""
    cfg: "BlinkConfig" = context.config
    low, high = (int(v) for v in params["reactionMs"])
    spread = _spread_allowed(params, context, run)
    need = max(1, len(run.cues) - cfg.max_missed_cues)
    if spread is None or not run.cues or run.closed_since is not None \
            or sum(run.answered) < need \
            or now <= run.cues[-1] + high + frame_slack(params, context, run):
        return None   # not over yet, a blink still pending, or a cue missed (missed_cue's)
    if consistent_choice(run.candidates, spread, need, cfg.reaction_lapses):
        return None
    lat = [v for c in run.candidates for v in c]
    return Fail("blink.reaction_spread", f"the blinks followed their cues after "
                                         f"{min(lat, default=0)}-{max(lat, default=0)} ms: one "
                                         f"person's reactions differ by less than "
                                         f"{spread:.0f} ms" + (
                                             f" (but for {cfg.reaction_lapses} lapse(s))"
                                             if cfg.reaction_lapses else ""))


def frame_slack(params: Mapping[str, Any], context: Context, run: BlinkRun) -> float:
    """One frame interval (ms): the first closed frame comes up to that long after the lids
    closed. The session's own median interval, at most that of the slowest accepted rate."""
    cfg: "BlinkConfig" = context.config
    wanted = float(params.get("minFps", cfg.min_fps) or 0.0)
    slowest = 1000.0 / (wanted * (1.0 - cfg.fps_tolerance)) if wanted > 0 else 250.0
    fps = measured_fps(run.timestamps)
    return slowest if fps is None else min(1000.0 / fps, slowest)


def turned_away(face: FaceDetail, ear: float, timestamp: int, context: Context,
                run: BlinkRun) -> bool:
    """Whether the face is turned more than ``closure_max_turn`` from the pose where the
    open-eye baseline was measured (the EAR changes with the pose, so such frames are not
    measured). A person who settles in a new pose - steady within half that angle for longer
    than ``max_closed_s`` - gets the baseline measured anew there."""
    cfg: "BlinkConfig" = context.config
    pose = face.pose
    if cfg.closure_max_turn <= 0 or pose is None or pose.yaw is None or pose.pitch is None:
        return False
    if run.eye_pose is None:
        if run.reference_yaw is None or run.reference_pitch is None:
            return False
        run.eye_pose = (run.reference_yaw, run.reference_pitch)
    if max(abs(pose.yaw - run.eye_pose[0]), abs(pose.pitch - run.eye_pose[1])) \
            <= cfg.closure_max_turn:
        run.away.clear()
        return False
    run.away.append((int(timestamp), float(ear), float(pose.yaw), float(pose.pitch)))
    yaws = [a[2] for a in run.away]
    pitches = [a[3] for a in run.away]
    half = cfg.closure_max_turn / 2.0
    while run.away and (max(yaws) - min(yaws) > half or max(pitches) - min(pitches) > half):
        run.away.pop(0)           # not steady yet: keep the frames since the pose settled
        yaws.pop(0)
        pitches.pop(0)
    if run.away and run.away[-1][0] - run.away[0][0] > 1000.0 * cfg.max_closed_s \
            and run.closure is not None:
        run.eye_pose = (float(np.median(yaws)), float(np.median(pitches)))
        run.closure.seed([a[1] for a in run.away])
        run.away.clear()
        context.record(eye_pose_yaw=run.eye_pose[0], eye_pose_pitch=run.eye_pose[1])
    return True


def succeed(context: Context, run: BlinkRun, message: str) -> StepResult:
    """``blink.ok`` unless the turn (:func:`turn_result`) or a session check says otherwise."""
    result = turn_result(context, run)
    if result is not None:
        return result
    final = before_success(context)
    if final is not None:
        return final
    return Success("blink.ok", message)


def eye_event(state: str, params: Mapping[str, Any], frame: FrameInput, context: Context,
              run: BlinkRun, wanted: int) -> StepResult:
    """Advance the current blink with one frame's eye ``state`` (see the module docstring)."""
    cfg: "BlinkConfig" = context.config
    merge = cfg.blink_merge_ms
    if state == "closed":
        if run.closed_since is not None and run.reopened_at is not None \
                and frame.timestamp - (run.last_closed or 0) > merge:
            result = _finish_blink(params, context, run, wanted)   # the last one was over
            if result.step is not Step.CONTINUE:
                return result
        if run.closed_since is None:
            run.closed_since = frame.timestamp
            run.pieces = [int(frame.timestamp)]
        elif run.reopened_at is not None:   # closed again before the blink was over
            run.pieces.append(int(frame.timestamp))
            context.record(blink_pieces=len(run.pieces))
        run.reopened_at = None
        run.last_closed = int(frame.timestamp)
        return Continue("blink.closed", "eyes closed")
    if state != "open" or run.closed_since is None:
        return Continue("blink.open", f"{run.blinks} of {wanted} blinks")
    if run.reopened_at is None:
        run.reopened_at = int(frame.timestamp)
    if merge > 0 and frame.timestamp - (run.last_closed or 0) <= merge:
        return Continue("blink.reopening", "eyes open again; the blink is over once they stay "
                                           f"open {merge:g} ms (a glare or jitter frame can "
                                           "look open inside a blink)")
    return _finish_blink(params, context, run, wanted)


def _finish_blink(params: Mapping[str, Any], context: Context, run: BlinkRun,
                  wanted: int) -> StepResult:
    """The current blink is over: count it (on cue or not) and decide."""
    cfg: "BlinkConfig" = context.config
    onset_ts, run.closed_since = run.closed_since, None
    pieces, run.pieces = run.pieces or [int(onset_ts)], []
    # the closure lasted at least from its first to its last closed frame; the time until the
    # first open frame is no evidence (a camera stall after a closed frame would make any
    # blink "too long")
    if (run.last_closed or onset_ts) - onset_ts > cfg.max_closed_s * 1000:
        run.reopened_at = None
        return Continue("blink.long_closure", "eyes were closed too long for a blink")
    run.reopened_at = None
    if cfg.cue_timing:
        low, high = (int(v) for v in params["reactionMs"])
        slack = frame_slack(params, context, run)
        onset, k = run.elapsed(onset_ts), None
        for piece in pieces:       # the closure of any piece of the blink may answer a cue
            k = window_of(run.elapsed(piece), run.cues, low, high + slack)
            if k is not None:
                onset = run.elapsed(piece)
                break
        if k is None and onset < run.cues[0] + low:
            return Continue("blink.before_cues", "a blink before the first cue; it does not "
                                                 "count")
        if k is None or run.candidates[k]:   # a second blink in a window counts as uncued
            run.uncued += 1
            context.record(uncued_blinks=run.uncued)
            allowed = uncued_allowed(cfg.max_uncued_blinks, cfg.uncued_per_s,
                                     onset - run.cues[0] - low)
            if run.uncued > allowed:
                return Fail("blink.uncued_blinks", f"{run.uncued} blinks outside the "
                                                   f"{low}-{high} ms after the cues (at most "
                                                   f"{allowed} allowed by then)")
            if k is None:
                return Continue("blink.uncued", "a blink that follows no cue; it does not "
                                                "count")
        run.candidates[k].append(onset - run.cues[k])
        run.answered[k] = True
        run.blinks = sum(run.answered)
        context.record(reaction_ms=onset - run.cues[k])
        if run.blinks >= wanted and consistent_choice(
                run.candidates, _spread_allowed(params, context, run), wanted,
                cfg.reaction_lapses) is None:
            return Continue("blink.inconsistent", "the blinks so far followed their cues after "
                                                  "too different times; a later blink may "
                                                  "still answer")
    else:
        run.blinks += 1
    context.record(blinks=run.blinks)
    context.score = run.blinks / wanted
    if run.blinks >= wanted:
        return succeed(context, run, f"{run.blinks} blinks" + (
            " on cue" if cfg.cue_timing else ""))
    return Continue("blink.counted", f"blink {run.blinks} of {wanted}")
