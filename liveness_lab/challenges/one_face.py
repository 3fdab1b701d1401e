"""The one face a state checks in a frame: counting, missing faces, track continuity.

Every challenge type's states start a frame the same way: no face (skip a few
frames, or a face-less time, before failing), several faces (fail, or take
the first as the original NOSE did), the face-track continuity check, then
the session checks of :func:`~liveness_lab.challenges.checks.observe_face`
(identity, PAD). :func:`one_face` is that step, shared by NOSE, POSE, BLINK
and HEAD_TURN; only the code prefix and the limits differ.

**Track continuity** (``continuity_check`` of
:class:`~liveness_lab.challenges.checks.SessionChecksConfig`): a person in
front of a camera is one continuous face track. A photo swapped for another
photo or for the attacker's own face breaks it: the face disappears while the
hand changes it (a gap in time: ``{prefix}.track_gap``), and the next face
lands elsewhere, at another size or roll (a jump faster than a head moves:
``{prefix}.track_jump``, :func:`~liveness_lab.challenges.face_track.track_jump`).
Both limits are in time, so they hold at 5 fps and at 30 fps. The gap is
the face-less time the camera filmed: from the last face to the last frame
that came without one. A client stall (no frame at all for a while) is not a
gap: browsers stall, and a stall shows no face leaving; the jump check still
compares the faces on either side of it, with the limits of the time between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..faces import FaceDetail
from .checks import observe_face, skip_missing_face
from .face_track import TrackLimits, track_jump
from .framework import Context, Continue, Fail, FrameInput, StepResult

__all__ = ["one_face", "track_continuity", "FaceTrack"]

_LIMITS = TrackLimits()

_TRACK_KEY = "one_face.track"


@dataclass
class FaceTrack:
    """Per-run state of :func:`one_face`: the last face and the frame timing."""

    #: the last single face seen and its timestamp (ms)
    last_face: FaceDetail | None = None
    last_face_ms: float | None = None
    #: timestamp (ms) of the last frame with any face (``max_missing_ms``)
    last_seen_ms: float | None = None
    #: the last frame's timestamp and index
    last_frame_ms: float | None = None
    last_frame_index: int | None = None


def _track(context: Context) -> FaceTrack:
    track = context.get(_TRACK_KEY)
    if track is None:
        track = context[_TRACK_KEY] = FaceTrack()
    return track


def one_face(frame: FrameInput, context: Context, prefix: str, *, max_missing_faces: int = 0,
             max_missing_ms: float = 0.0, several: str = "fail",
             several_code: str | None = None,
             several_text: str = "{n} faces in the frame; exactly one is allowed",
             no_face_text: str | None = None) -> tuple[FaceDetail | None, StepResult | None]:
    """The frame's face to check, or the step to return instead.

    Parameters
    ----------
    prefix:
        Prefix of the result codes (``{prefix}.no_face``, ``{prefix}.track_gap``...).
    max_missing_faces:
        Frames without a face skipped before the run fails (``{prefix}.no_face_skipped``,
        then ``{prefix}.no_face``); ``0`` fails at once.
    max_missing_ms:
        If > 0, instead of ``max_missing_faces``: the longest face-less time (ms) since the
        last frame with a face.
    several:
        ``"fail"``: several faces fail (``several_code``, default ``{prefix}.several_faces``,
        with ``several_text``); ``"first"``: the first face is used (the original NOSE).
    no_face_text:
        Reason of the immediate ``{prefix}.no_face`` failure when nothing is skipped
        (default: :func:`~liveness_lab.challenges.checks.skip_missing_face`'s).

    Returns ``(face, None)`` to go on with ``face`` (it passed the continuity and session
    checks), or ``(None, step)``.
    """
    cfg = context.config
    n = len(frame.faces)
    if getattr(cfg, "continuity_check", False):
        result = track_continuity(frame, context, prefix)
        if result is not None:
            return None, result
    if max_missing_ms > 0:
        track = _track(context)
        if n == 0:
            t = float(frame.timestamp)
            gap = t - (track.last_seen_ms if track.last_seen_ms is not None else t)
            context.record(face_gap_ms=gap)
            if gap > max_missing_ms:
                return None, Fail(f"{prefix}.no_face",
                                  f"no face for {gap:.0f} ms (> {max_missing_ms:g} ms)")
            return None, Continue(f"{prefix}.no_face_skipped",
                                  f"no face in the frame; skipped ({gap:.0f} ms without a face)")
        track.last_seen_ms = float(frame.timestamp)
    if n == 0:
        if max_missing_faces or no_face_text is None:
            return None, skip_missing_face(context, max_missing_faces, prefix)
        return None, Fail(f"{prefix}.no_face", no_face_text)
    if n > 1 and several == "fail":
        return None, Fail(several_code or f"{prefix}.several_faces", several_text.format(n=n))
    face = frame.faces[0]
    return face, observe_face(face, frame, context)


def track_continuity(frame: FrameInput, context: Context, prefix: str) -> StepResult | None:
    """Face-track continuity of the frame's single face against the last face seen.

    Call once per frame, before the face is used (a second call on the same frame does
    nothing). Records ``face_gap_ms`` and ``track_jump``.
    """
    cfg = context.config
    track = _track(context)
    if track.last_frame_index == frame.index:
        return None
    t = float(frame.timestamp)
    previous_frame_ms = track.last_frame_ms
    track.last_frame_ms, track.last_frame_index = t, frame.index
    if len(frame.faces) != 1:
        return None
    face = frame.faces[0]
    previous, previous_ms = track.last_face, track.last_face_ms
    track.last_face, track.last_face_ms = face, t
    if previous is None or previous_ms is None:
        return None
    # the face-less time the camera filmed: from the last face to the last frame that came
    # without it (a client stall, with no frame at all, is not the face leaving)
    gap = previous_frame_ms - previous_ms if previous_frame_ms is not None else 0.0
    context.record(face_gap_ms=round(gap, 1))
    if gap > cfg.max_face_gap_ms:
        return Fail(f"{prefix}.track_gap",
                    f"no face for {gap:.0f} ms (> {cfg.max_face_gap_ms:g} ms): "
                    "the face left the camera (a photo swapped by hand?)")
    roll = getattr(cfg, "track_roll_deg", 0.0)  # a type may allow more roll jitter at once
    limits = TrackLimits(roll=roll) if roll else _LIMITS
    jump = track_jump(previous, face, (t - previous_ms) / 1000.0, limits)
    context.record(track_jump=jump)
    if jump is not None and jump > 1.0:
        return Fail(f"{prefix}.track_jump",
                    f"the face jumped {jump:.1f} times farther than a head moves between two "
                    "frames (a photo swapped by hand?)")
    return None
