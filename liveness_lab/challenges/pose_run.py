"""Per-run state of a multi-frame POSE run and its frame-by-frame counting.

The neutral / pose / return runs of :mod:`.pose`: consecutive matching frames,
the time each run was seen (``hold_ms``), forgiven glitches (``glitch_ms``),
and the three checks made at a change of pose against photo swaps
(``change_gap_frames`` / ``max_gapped_changes``: face-less frames right
before the change; ``change_turn_per_s``: the head's direction jumping;
``change_shift``: the face box moving).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..faces import BoundingBox, FaceDetail
from .face_track import box_shift
from .framework import Context, Fail, FrameInput, StepResult
from .one_face import one_face

if TYPE_CHECKING:  # pragma: no cover
    from .pose import PoseConfig

__all__: list[str] = []


@dataclass
class _PoseRun:
    """Per-run state of a multi-frame POSE run (kept in the context under one key)."""

    #: consecutive matching frames of each phase
    neutral_before: int = 0
    pose_run: int = 0
    neutral_after: int = 0
    #: mean relative pupil positions of the neutral frames before the pose
    neutral_gaze: list[float] = field(default_factory=list)
    #: the last gaze position measured (set by the gaze check)
    last_gaze: float | None = None
    #: (timestamp ms, gaze position) of the recent faces, and the current frame's timestamp
    recent_gaze: list[tuple[float, float]] = field(default_factory=list)
    now_ms: float | None = None
    #: timestamp (ms) of the first mismatching frame since the last matching one, per phase
    mismatch_since: dict[str, float] = field(default_factory=dict)
    #: (roll, yaw, pitch) of the neutral frames before the pose (``rest_rotation``), and of
    #: the last face checked
    neutral_pose: list[tuple[float, float, float]] = field(default_factory=list)
    last_angles: tuple[float, float, float] | None = None
    #: per phase: the time its current run was seen (ms): each matching frame counts the
    #: interval since the frame before it, at most 200 ms (``hold_ms``)
    shown_ms: dict[str, float] = field(default_factory=dict)
    #: consecutive face-less frames up to now, and right before the current face
    faceless: int = 0
    faceless_before: int = 0
    #: changes (into the pose, back to the neutral face) that came right after a face-less frame
    gapped_changes: int = 0
    #: (timestamp ms, (roll, yaw, pitch)) of this frame's face and of the face before it
    current_face: tuple[float, tuple[float, float, float]] | None = None
    previous_face: tuple[float, tuple[float, float, float]] | None = None
    #: the face boxes of this frame's face and of the face before it (``change_shift``)
    current_box: BoundingBox | None = None
    previous_box: BoundingBox | None = None
    previous_frame_ms: float | None = None
    #: the last pupil shift measured (set by the gaze check), those of the frames of the
    #: current pose run, and once a glance is held their median (``return_gaze_shift``)
    last_shift: float | None = None
    held_shifts: list[float] = field(default_factory=list)
    held_shift: float | None = None


_RUN_KEY = "pose.run"
#: the longest frame interval counted before a run's first frame (a 5 fps camera's)
_MAX_INTERVAL_MS = 200.0
#: mismatches ``glitch_attributes`` forgives: a detector misreading EyesOpen, Smile or MouthOpen
_ATTRIBUTE_CODES = frozenset({"pose.eyes_open", "pose.mouth"})
_PHASE = {"pose_run": "requested pose", "neutral_after": "neutral face"}
#: the mismatch a spontaneous blink gives while open eyes are expected
_BLINK_CODE = "pose.eyes_blinked"


def _pose_run(context: Context) -> _PoseRun:
    run = context.get(_RUN_KEY)
    if run is None:
        run = context[_RUN_KEY] = _PoseRun()
    return run


def _frame_face(frame: FrameInput, context: Context, cfg: PoseConfig
                ) -> tuple[FaceDetail | None, StepResult | None]:
    run = _pose_run(context)
    if run.now_ms != float(frame.timestamp):
        run.previous_frame_ms = run.now_ms
        run.now_ms = float(frame.timestamp)
        if frame.faces:
            run.faceless_before, run.faceless = run.faceless, 0
            pose = frame.faces[0].pose
            run.previous_face, run.current_face = run.current_face, (
                (run.now_ms, (pose.roll, pose.yaw, pose.pitch))
                if pose is not None and None not in (pose.roll, pose.yaw, pose.pitch) else None)
            run.previous_box, run.current_box = run.current_box, frame.faces[0].bounding_box
        else:
            run.faceless += 1
    return one_face(frame, context, "pose", max_missing_faces=cfg.max_missing_faces,
                    several_code="pose.face_count",
                    several_text="{n} faces in the frame; exactly one is needed")


def _run(context: Context, key: str, shown: StepResult | None, timestamp: float
         ) -> tuple[int, StepResult | None]:
    """Update the run of consecutive matching frames; a missing attribute is fatal.

    ``key`` names the phase's counter in the run's :class:`_PoseRun`. With
    ``glitch_ms``, frames whose eyes are seen closed while they should be open
    (a spontaneous blink) within that time of the run's last matching frame
    keep the run without counting; any other mismatch breaks it.
    """
    if shown is not None and shown.code and shown.code.startswith("pose.missing"):
        return 0, shown
    cfg: PoseConfig = context.config
    state = _pose_run(context)
    if shown is None:
        state.mismatch_since.pop(key, None)
        run = getattr(state, key) + 1
        if run == 1:
            gapped = key != "neutral_before" and state.faceless_before > 0
            state.gapped_changes += gapped
            if gapped and cfg.change_gap_frames and (
                    state.faceless_before >= cfg.change_gap_frames
                    or state.gapped_changes > cfg.max_gapped_changes):
                return 0, Fail("pose.swap_gap", f"the face changed to the {_PHASE[key]} right "
                                                f"after {state.faceless_before} frame(s) without "
                                                "a face" + (" for the second time"
                                                            if state.faceless_before
                                                            < cfg.change_gap_frames else "")
                               + " (a photo swapped by hand?)")
            jumped = (_change_turn(state, cfg) or _change_shift(state, cfg)
                      if key != "neutral_before" else None)
            if jumped is not None:
                return 0, jumped
            state.shown_ms[key] = 0.0
        prev = state.previous_frame_ms
        state.shown_ms[key] += min(timestamp - prev, _MAX_INTERVAL_MS) if prev is not None else 0.0
    else:
        context.record(mismatch=shown.message)
        since = state.mismatch_since.setdefault(key, timestamp)
        forgiven = shown.code == _BLINK_CODE or (cfg.glitch_attributes
                                                 and shown.code in _ATTRIBUTE_CODES)
        glitch = cfg.glitch_ms if forgiven else 0.0
        run = getattr(state, key) if glitch and timestamp - since <= glitch else 0
    setattr(state, key, run)
    return run, None


def _change_turn(state: _PoseRun, cfg: PoseConfig) -> StepResult | None:
    """``change_turn_per_s``: the head's reported direction at a change of pose."""
    if not cfg.change_turn_per_s or state.previous_face is None or state.current_face is None:
        return None
    (t0, a), (t1, b) = state.previous_face, state.current_face
    dt = max(t1 - t0, 0.0) / 1000.0
    turned = max(abs(u - v) for u, v in zip(a, b))
    limit = cfg.change_turn_deg + cfg.change_turn_per_s * dt
    if turned <= limit:
        return None
    return Fail("pose.swap_turn", f"the head's direction jumped {turned:.1f} degrees in "
                                  f"{dt * 1000:.0f} ms as the pose changed (> {limit:.1f}: "
                                  "a photo swapped for another?)")


def _change_shift(state: _PoseRun, cfg: PoseConfig) -> StepResult | None:
    """``change_shift``: the face box's move at a change of pose, in face widths."""
    a, b = state.previous_box, state.current_box
    if not cfg.change_shift or a is None or b is None or a.width <= 0 or b.width <= 0:
        return None
    shift = box_shift(a, b)
    if shift <= cfg.change_shift:
        return None
    return Fail("pose.swap_shift", f"the face moved {shift:.2f} face widths as the pose changed "
                                   f"(> {cfg.change_shift:g}: a photo swapped for another?)")


def _shown_ms(context: Context, key: str) -> float:
    """How long the phase ``key``'s current run has been seen, ms (see ``hold_ms``)."""
    return _pose_run(context).shown_ms.get(key, 0.0)
