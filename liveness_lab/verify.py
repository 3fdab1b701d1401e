"""Replay frames through a challenge type: a :class:`Verdict` with a per-frame trace.

The verifier is the one place that runs state machines; the service, the CLI,
the evaluation and the app all call :func:`verify_session` or
:func:`run_challenge`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .challenges.framework import (ChallengeConfig, ChallengeType, Context, FrameInput, Step,
                                   StepResult, _as_step_result)
from .errors import ChallengeDefinitionError, SessionFormatError
from .faces import FaceDetail

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .challenges.registry import ChallengeRegistry
    from .config import Configs
    from .sessions import Session

__all__ = ["Verdict", "Trace", "run_challenge", "verify_session", "consistent_score",
           "decided_for_good",
           "TRACE_BASE_COLUMNS"]

#: Columns every trace row has; measurement columns follow, depending on the challenge type.
TRACE_BASE_COLUMNS = ("frame_index", "timestamp", "state", "result", "code", "message", "n_faces")


@dataclass(frozen=True)
class Trace:
    """The per-frame trace: one row per (frame, state) evaluation, as a tidy table.

    A frame that moves a challenge through several states (``next``) has one
    row per state. Columns: :data:`TRACE_BASE_COLUMNS` then the measurements
    the checks recorded (face box vs area, nose position, trajectory error,
    histogram distance, yaw/pitch/roll, eye and mouth values...).
    """

    rows: tuple[Mapping[str, Any], ...] = ()

    @property
    def columns(self) -> list[str]:
        cols = list(TRACE_BASE_COLUMNS)
        seen = set(cols)
        for row in self.rows:
            for k in row:
                if k not in seen:
                    seen.add(k)
                    cols.append(k)
        return cols

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as plain dicts with every column present (missing values are ``None``)."""
        cols = self.columns
        return [{c: row.get(c) for c in cols} for row in self.rows]

    def to_dataframe(self) -> "pd.DataFrame":
        """The trace as a pandas DataFrame (one row per frame and state)."""
        import pandas as pd
        return pd.DataFrame(self.to_records(), columns=self.columns)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a challenge run.

    Attributes
    ----------
    success:
        ``True`` only when a state returned success.
    decided:
        ``False`` when the frames ran out before any state decided (counted as
        a failure by the original, and as a non-response by the evaluation).
    code, reason:
        Short stable identifier and sentence for the deciding check (or for the
        lack of a decision).
    final_state:
        The state the run ended in (``None`` when there were no frames).
    score:
        Optional continuous score set by the challenge (higher is more live).
    trace:
        The per-frame :class:`Trace`.
    """

    challenge_type: str
    success: bool
    decided: bool
    code: str
    reason: str
    final_state: str | None
    score: float | None = None
    frames_total: int = 0
    frames_used: int = 0
    trace: Trace = field(default_factory=Trace, repr=False)

    @property
    def deciding_frame(self) -> int | None:
        """Index of the frame that decided the run (``None``: undecided, or untraced)."""
        rows = self.trace.rows
        return rows[-1].get("frame_index") if self.decided and rows else None

    def to_dict(self, *, with_trace: bool = True) -> dict[str, Any]:
        out = {"challenge_type": self.challenge_type, "success": self.success,
               "decided": self.decided, "code": self.code, "reason": self.reason,
               "final_state": self.final_state, "score": self.score,
               "frames_total": self.frames_total, "frames_used": self.frames_used}
        if with_trace:
            out["trace"] = self.trace.to_records()
        return out


_NO_TRACE = Trace()  # the trace of every untraced verdict (immutable: one object serves all)


def _describe(result: StepResult, state: str) -> tuple[str, str]:
    code = result.code or f"{state}.{result.step.value}"
    return code, result.message or code


def consistent_score(score: float | None, success: bool, threshold: float) -> float | None:
    """The score made consistent with the decision at its operating point ``threshold``.

    States set ``context.score`` as they measure (the margin of a check), and a later
    check may still veto the session (a PAD or identity check in ``before_success``, a
    wrong head turn after an earlier turn's margin). The verdict's score must not
    contradict the decision: a **rejected** session scores strictly below ``threshold``
    (clamped to the largest float below it), an **accepted** one at least ``threshold``.
    Scores already on the right side, and missing scores (``None``), are unchanged.

    >>> consistent_score(0.3, False, 0.0) < 0.0
    True
    >>> consistent_score(-0.2, False, 0.0), consistent_score(0.5, True, 0.0)
    (-0.2, 0.5)
    >>> consistent_score(0.9, True, 1.0)
    1.0
    """
    if score is None:
        return None
    s = float(score)
    if math.isnan(s):
        return None
    if success:
        return s if s >= threshold else float(threshold)
    return s if s < threshold else math.nextafter(float(threshold), -math.inf)


def run_challenge(ctype: ChallengeType, params: Mapping[str, Any],
                  frames: Iterable[tuple[int, Sequence[FaceDetail]]],
                  config: ChallengeConfig | None = None, *, trace: bool = True) -> Verdict:
    """Run ``frames`` (``(timestamp_ms, faces)`` pairs, in replay order) through ``ctype``.

    Never raises for anything a frame contains: a state function that raises
    ends the run as a failure with code ``state_error`` and the exception in
    the reason (the original answered such cases with an HTTP 500).

    With ``trace=False`` the verdict's trace is empty and measurements are not kept
    (``context.record`` does nothing): the same decision at a lower cost, for replays
    that only need verdicts.

    The verdict's score is :func:`consistent_score` of the last score a state set, at
    the type's ``score_threshold``: a rejected session never scores at or above the
    decision's operating point.

    Frames after the deciding one are counted, not run through the states; with the session
    check ``one_face_to_the_end`` a pass is still turned into a failure
    (``session.several_faces``, trace state ``after_decision``) by a later frame that shows
    more than one face.
    """
    if not trace:
        return _run_untraced(ctype, params, frames, config)
    config = _checked_config(ctype, config)
    states = ctype.states
    current = states[ctype.first_state]
    context = Context(config, params)
    end_times: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    n_frames = 0
    final: tuple[bool, bool, str, str] | None = None  # success, decided, code, reason
    to_the_end = _one_face_to_the_end(config)
    for index, (timestamp, faces) in enumerate(frames):
        n_frames += 1
        if final is not None:
            # count the remaining frames; after a pass, look only at how many faces they show
            if to_the_end and final[0] and len(faces) > 1:
                final = _second_face_after(index, timestamp, len(faces))
                rows.append({"frame_index": index, "timestamp": timestamp,
                             "state": AFTER_DECISION, "n_faces": len(faces), "result": "fail",
                             "code": final[2], "message": final[3]})
            continue
        frame = FrameInput(index, timestamp, faces)
        while True:
            timeout_s = current.timeout_s if current.timeout_s is not None else config.state_timeout_s
            end = end_times.get(current.name)
            row: dict[str, Any] = {"frame_index": index, "timestamp": timestamp,
                                   "state": current.name, "n_faces": len(frame.faces)}
            if end is None:
                end_times[current.name] = timestamp + timeout_s * 1000
            elif timestamp > end:
                code = f"{current.name}.timeout"
                reason = (f"state {current.name!r} timed out: frame at {timestamp} ms is more than "
                          f"{timeout_s:g} s after the state's first frame")
                row.update(result="fail", code=code, message=reason)
                rows.append(row)
                final = (False, True, code, reason)
                break
            try:
                result = _as_step_result(current.func(params, frame, context), current.name)
            except ChallengeDefinitionError:
                raise
            except Exception as e:  # a plugin's bug must not become a crash of the verifier
                result = StepResult(Step.FAIL, "state_error",
                                    f"state {current.name!r} raised {type(e).__name__}: {e}")
            row.update(context._take_measurements())
            code, message = _describe(result, current.name)
            row.update(result=result.step.value, code=code, message=message)
            rows.append(row)
            if result.step is Step.CONTINUE:
                break
            if result.step is Step.NEXT:
                nxt = current.next_state
                if nxt is None:
                    code = f"{current.name}.no_next_state"
                    reason = f"state {current.name!r} returned next but declares no next state"
                    final = (False, True, code, reason)
                    break
                if nxt == current.name:  # the original treats this as continue
                    break
                current = states[nxt]
                continue
            final = (result.step is Step.SUCCESS, True, code, message)
            break
    success, decided, code, reason = final or _ran_out(current.name, n_frames)
    used = rows[-1]["frame_index"] + 1 if rows else 0
    score = consistent_score(context.score, success, ctype.score_threshold)
    return Verdict(ctype.name, success, decided, code, reason,
                   current.name if n_frames else None, score, n_frames, used,
                   Trace(tuple(rows)))


#: The ``state`` of the trace row of a frame judged after the states decided.
AFTER_DECISION = "after_decision"
#: A passing decision vetoed by a later frame that shows a second face.
SECOND_FACE_AFTER = "session.several_faces"
#: The codes the verifier decides itself, not a challenge state.
VERIFIER_CODES = ("state_error", "no_frames", SECOND_FACE_AFTER)


def _one_face_to_the_end(config: ChallengeConfig) -> bool:
    """Whether frames after a passing decision are still held to one face
    (``one_face_to_the_end`` of the session checks; types without it: no)."""
    return bool(getattr(config, "one_face_to_the_end", False))


def decided_for_good(verdict: Verdict, config: ChallengeConfig) -> bool:
    """Whether frames after ``verdict``'s deciding frame cannot change it: it decided, and it
    failed or ``config`` does not hold later frames to one face (``one_face_to_the_end``).
    A service may leave such frames unanalyzed; the frames after a pass it may not.
    """
    return verdict.decided and (not verdict.success or not _one_face_to_the_end(config))


def _second_face_after(index: int, timestamp: int, n_faces: int) -> tuple[bool, bool, str, str]:
    """The failing verdict of a pass vetoed by a frame sent after the deciding one."""
    return (False, True, SECOND_FACE_AFTER,
            f"frame {index} (at {timestamp} ms), sent after the challenge was passed, shows "
            f"{n_faces} faces: exactly one person may be in view for the whole session")


def _ran_out(state: str, n_frames: int) -> tuple[bool, bool, str, str]:
    """The verdict of a run whose frames ended before any state decided."""
    if n_frames == 0:
        return False, False, "no_frames", "the session has no frames"
    return (False, False, f"{state}.no_decision",
            f"frames ran out in state {state!r} before a decision")


def _checked_config(ctype: ChallengeType, config: ChallengeConfig | None) -> ChallengeConfig:
    ctype.validate()
    config = config if config is not None else ctype.default_config()
    if not isinstance(config, ctype.config_class):
        raise ChallengeDefinitionError(
            f"{ctype.name} needs a {ctype.config_class.__name__}, got {type(config).__name__}")
    return config


def _run_untraced(ctype: ChallengeType, params: Mapping[str, Any],
                  frames: Iterable[tuple[int, Sequence[FaceDetail]]],
                  config: ChallengeConfig | None) -> Verdict:
    """:func:`run_challenge` without trace rows: the same state walk, timeouts and codes.

    Kept next to :func:`run_challenge` on purpose: any change to the semantics there must
    be made here too (``tests/test_verify_trace.py`` replays datasets both ways).
    """
    config = _checked_config(ctype, config)
    states = ctype.states
    current = states[ctype.first_state]
    context = Context(config, params, tracing=False)
    default_timeout = config.state_timeout_s
    end_times: dict[str, float] = {}
    n_frames = 0
    used = 0
    final: tuple[bool, bool, str, str] | None = None  # success, decided, code, reason
    CONTINUE, NEXT, SUCCESS = Step.CONTINUE, Step.NEXT, Step.SUCCESS
    to_the_end = _one_face_to_the_end(config)
    for index, (timestamp, faces) in enumerate(frames):
        n_frames += 1
        if final is not None:
            if to_the_end and final[0] and len(faces) > 1:
                final = _second_face_after(index, timestamp, len(faces))
                used = index + 1
            continue
        frame = FrameInput(index, timestamp, faces)
        used = index + 1
        while True:
            name = current.name
            end = end_times.get(name)
            if end is None:
                timeout_s = current.timeout_s if current.timeout_s is not None else \
                    default_timeout
                end_times[name] = timestamp + timeout_s * 1000
            elif timestamp > end:
                timeout_s = current.timeout_s if current.timeout_s is not None else \
                    default_timeout
                final = (False, True, f"{name}.timeout",
                         f"state {name!r} timed out: frame at {timestamp} ms is more than "
                         f"{timeout_s:g} s after the state's first frame")
                break
            try:
                result = current.func(params, frame, context)
                if type(result) is not StepResult:
                    result = _as_step_result(result, name)
            except ChallengeDefinitionError:
                raise
            except Exception as e:  # a plugin's bug must not become a crash of the verifier
                result = StepResult(Step.FAIL, "state_error",
                                    f"state {name!r} raised {type(e).__name__}: {e}")
            step = result.step
            if step is CONTINUE:
                break
            if step is NEXT:
                nxt = current.next_state
                if nxt is None:
                    final = (False, True, f"{name}.no_next_state",
                             f"state {name!r} returned next but declares no next state")
                    break
                if nxt == name:  # the original treats this as continue
                    break
                current = states[nxt]
                continue
            code, message = _describe(result, name)
            final = (step is SUCCESS, True, code, message)
            break
    success, decided, code, reason = final or _ran_out(current.name, n_frames)
    return Verdict(ctype.name, success, decided, code, reason,
                   current.name if n_frames else None,
                   consistent_score(context.score, success, ctype.score_threshold), n_frames, used,
                   _NO_TRACE)


def verify_session(session: "Session", *, configs: "Configs | None" = None,
                   registry: "ChallengeRegistry | None" = None, trace: bool = True) -> Verdict:
    """Replay a recorded session through its challenge type, frames in timestamp order.

    Parameters
    ----------
    session:
        A session whose frames all carry ``faces`` (analyze image-only frames
        first, e.g. with ``liveness-lab analyze``).
    configs:
        Per-type configurations (see :func:`liveness_lab.config.resolve_configs`);
        default: the default profile.
    registry:
        Where to look the challenge type up; default: the default registry.
    trace:
        Record the per-frame trace (default). ``False`` gives the same verdict with an
        empty trace, at a lower cost (what dataset evaluation uses).

    Raises
    ------
    UnknownChallengeType
        The session's type is not registered.
    SessionFormatError
        A frame has no recorded faces.
    """
    if not registry:
        from .challenges.registry import default_registry
        registry = default_registry()
    ctype = registry.get(session.challenge_type)
    if configs is None:
        from .config import resolve_configs
        configs = resolve_configs(registry=registry)
    config = configs.for_type(ctype)
    for i, fr in enumerate(session.frames):
        if fr.faces is None:
            raise SessionFormatError(
                "frame has no recorded faces; analyze the session first "
                "(liveness-lab analyze)", path=session.source, session_id=session.id,
                field=f"frames[{i}].faces")
    frames = [(fr.timestamp, fr.faces) for fr in session.sorted_frames()]
    return run_challenge(ctype, session.params, frames, config, trace=trace)
