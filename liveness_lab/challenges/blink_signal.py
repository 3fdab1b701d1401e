"""The measurements behind the hardened BLINK rules: eye closure, cue timing, frame rate, turn.

Pure, per-run helpers of :mod:`liveness_lab.challenges.blink`, kept apart so that the
challenge module holds only the states. Everything here works on one session's frames, in
order, with explicit bounded state (:class:`BlinkRun`).

Closure (``adaptive_closure``)
    A blink lasts 100-400 ms with the lids closed for 30-150 ms, so a camera at 5-15 fps with
    8-66 ms exposures sees it in 0-2 frames, often half closed. A frame counts as *closed*
    when its eye aspect ratio (EAR) falls below ``partial_close_ratio`` of the session's
    running open-eye baseline **and** below the baseline by more than ``close_sigmas`` times
    the session's own frame-to-frame spread of open-eye EAR (so one partial frame of a
    steady detector counts, while a noisy detector's jitter does not) - or when DetectFaces'
    ``EyesOpen`` says closed with at least ``eyes_closed_confidence`` while the EAR has
    dipped at all (below ``open_ratio``). The baseline is the median of the last
    ``baseline_window`` open frames, so it follows slow changes of pose and light.

Cues (``cue_timing``)
    The params carry ``cuesMs`` (cue times, ms after the first frame the server receives)
    and ``reactionMs`` = ``[low, high]``: the closure of a blink that answers cue *k* must be
    seen between ``low`` and ``high`` ms after it. A blink outside every window answers
    nothing and counts as *uncued*; more than ``max_uncued_blinks`` of them fail the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..faces import FaceDetail

__all__ = ["BlinkRun", "ClosureDetector", "cue_schedule", "measured_fps", "match_cue",
           "eyes_closed_probability", "TURNS", "turn_sign"]

#: the turn directions a BLINK challenge asks for (the subject's own left / right)
TURNS = ("LEFT", "RIGHT")


def turn_sign(direction: str) -> float:
    """+1 for ``LEFT`` (positive yaw: the nose toward the image's right), -1 for ``RIGHT``.

    The convention of :class:`~liveness_lab.faces.Pose` and of HEAD_TURN.
    """
    if direction not in TURNS:
        raise ValueError(f"turn must be one of {', '.join(TURNS)}, got {direction!r}")
    return 1.0 if direction == "LEFT" else -1.0


def eyes_closed_probability(face: FaceDetail) -> float | None:
    """DetectFaces' belief that the eyes are closed (0..1) from ``EyesOpen``, or ``None``."""
    eo = face.eyes_open
    if eo is None or eo.confidence is None:
        return None
    c = min(max(float(eo.confidence) / 100.0, 0.0), 1.0)
    return 1.0 - c if eo.value else c


def cue_schedule(first_s: float, first_jitter_s: float, gap_min_s: float, gap_max_s: float,
                 count: int, uniforms: Sequence[float]) -> list[int]:
    """Cue times in ms: the first in ``first_s + [0, first_jitter_s)``, then random gaps.

    ``uniforms`` are ``count`` numbers in ``[0, 1)`` (the challenge's random draws), so the
    schedule is a pure function of them.

    >>> cue_schedule(3.0, 1.0, 2.0, 3.0, 3, [0.0, 0.5, 1.0 - 1e-9])
    [3000, 5500, 8500]
    """
    if len(uniforms) != count:
        raise ValueError(f"need {count} uniform draws, got {len(uniforms)}")
    t = first_s + first_jitter_s * float(uniforms[0])
    out = [int(round(1000 * t))]
    for u in uniforms[1:]:
        t += gap_min_s + (gap_max_s - gap_min_s) * float(u)
        out.append(int(round(1000 * t)))
    return out


def match_cue(onset_ms: float, cues: Sequence[int], answered: Sequence[bool],
              low_ms: float, high_ms: float) -> int | None:
    """Index of the first unanswered cue whose reaction window holds ``onset_ms``, or ``None``.

    >>> match_cue(3400, [3000, 6000], [False, False], 150, 1000)
    0
    >>> match_cue(3100, [3000, 6000], [False, False], 150, 1000) is None
    True
    """
    for k, cue in enumerate(cues):
        if not answered[k] and low_ms <= onset_ms - cue <= high_ms:
            return k
    return None


def measured_fps(timestamps: Sequence[int]) -> float | None:
    """Frames per second from the median interval between ``timestamps`` (ms), or ``None``.

    The median ignores the odd dropped frame or late packet.

    >>> measured_fps([0, 100, 200, 400, 500])
    10.0
    """
    if len(timestamps) < 2:
        return None
    gaps = np.diff(np.asarray(timestamps, dtype=float))
    gaps = gaps[gaps > 0]
    if not len(gaps):
        return None
    return float(1000.0 / np.median(gaps))


@dataclass
class ClosureDetector:
    """Frame-by-frame eye closure against the session's own open-eye EAR (see the module doc).

    ``update(ear, closed_p, timestamp)`` returns ``"closed"``, ``"open"`` or ``"between"``
    (neither: the lids are partly down but not enough to call it a closure, or not yet back
    up). The spread is measured on every frame not called closed (open *and* between), so
    the lower tail of the detector's jitter is not cut off at ``open_ratio``. With
    ``open_veto_confidence`` <= 100, ``EyesOpen`` true with at least that confidence vetoes
    an EAR-only closure unless the EAR is below ``deep_ratio`` of the baseline (a frame whose
    lids are really half down is rarely called open with such confidence, while landmark
    jitter on a still print is). A run of frames below ``open_ratio`` longer than
    ``max_low_ms`` is no blink: the lids have a new resting level (a squint, a pose or light
    change), and the baseline restarts from those frames (``update`` then returns
    ``"rebaselined"``) instead of waiting forever for an opening that never comes.
    """

    partial_close_ratio: float
    open_ratio: float
    close_sigmas: float
    min_spread_ratio: float
    eyes_closed_confidence: float
    window: int
    open_veto_confidence: float = 101.0
    deep_ratio: float = 0.5
    max_low_ms: float = float("inf")
    open_samples: list[float] = field(default_factory=list)
    spread_samples: list[float] = field(default_factory=list)
    low_run: list[tuple[float, float]] = field(default_factory=list)

    def seed(self, samples: Sequence[float]) -> None:
        """Start the running baseline from the baseline state's open-eye samples."""
        self.open_samples = [float(s) for s in samples][-self.window:]
        self.spread_samples = list(self.open_samples)

    @property
    def baseline(self) -> float:
        return float(np.median(self.open_samples))

    @property
    def spread(self) -> float:
        """Robust frame-to-frame spread of the EAR of frames not closed (1.4826 MAD), floored."""
        s = np.asarray(self.spread_samples, dtype=float)
        mad = 1.4826 * float(np.median(np.abs(s - np.median(s)))) if len(s) >= 5 else 0.0
        return max(mad, self.min_spread_ratio * self.baseline)

    def _keep(self, ear: float, *, is_open: bool) -> None:
        self.spread_samples.append(float(ear))
        del self.spread_samples[:-2 * self.window]
        if is_open:
            self.open_samples.append(float(ear))
            del self.open_samples[:-self.window]

    def update(self, ear: float, closed_p: float | None, timestamp: float | None = None,
               *, learn: bool = True) -> tuple[str, float]:
        """Classify one frame; returns the class and the EAR relative to the baseline.

        ``learn=False`` (a frame in another pose than the baseline's): classify it, but let it
        move neither the baseline, the spread nor the too-long-low clock.
        """
        base = self.baseline
        rel = ear / base if base > 0 else 1.0
        by_ear = rel < self.partial_close_ratio and base - ear > self.close_sigmas * self.spread
        if by_ear and closed_p is not None and rel >= self.deep_ratio \
                and (1.0 - closed_p) * 100.0 >= self.open_veto_confidence:
            by_ear = False  # EyesOpen is sure the eyes are open and the dip is shallow
        by_attr = (closed_p is not None and closed_p * 100.0 >= self.eyes_closed_confidence
                   and rel < self.open_ratio)
        if rel >= self.open_ratio:
            if learn:
                self.low_run.clear()
                self._keep(ear, is_open=True)
            return "open", rel
        if timestamp is not None and learn:
            self.low_run.append((float(timestamp), float(ear)))
            if self.low_run[-1][0] - self.low_run[0][0] > self.max_low_ms:
                self.seed([e for _, e in self.low_run])
                self.low_run.clear()
                return "rebaselined", rel
        if by_ear or by_attr:
            return "closed", rel
        if learn:
            self._keep(ear, is_open=False)
        return "between", rel


@dataclass
class BlinkRun:
    """Per-run state of a BLINK session, kept in the context under one key.

    One object for both rule sets: the type's own (a count of closures within a window) uses
    the baseline, ``window_start``, ``closed_since`` and ``blinks``; the hardened rules use the
    rest as well. Timestamps are ms since epoch (the frames'), ``cues`` ms after ``t0``.
    """

    #: timestamp of the first frame of the run (ms)
    t0: int
    #: EARs of the last ``baseline_frames`` usable frames of the baseline state
    baseline_samples: list[float] = field(default_factory=list)
    #: (yaw, pitch) of the same frames, ``None`` where the face carries no pose
    baseline_poses: list[tuple[float | None, float | None]] = field(default_factory=list)
    #: the open-eye EAR (median of ``baseline_samples``) once the baseline state is done
    baseline: float | None = None
    #: timestamp of the first frame of the blink state (the window of the count rule)
    window_start: int | None = None
    cues: list[int] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    closure: ClosureDetector | None = None
    closed_since: int | None = None
    last_closed: int | None = None
    #: timestamps of the first closed frame of each piece of the current blink
    pieces: list[int] = field(default_factory=list)
    #: the first open frame after the current blink's last closed frame
    reopened_at: int | None = None
    blinks: int = 0
    uncued: int = 0
    reference: FaceDetail | None = None
    reference_yaw: float | None = None
    reference_pitch: float | None = None
    #: (yaw, pitch) where the open-eye baseline was measured (closure_max_turn)
    eye_pose: tuple[float, float] | None = None
    #: (timestamp, EAR, yaw, pitch) of the frames turned away from ``eye_pose``, while steady
    away: list[tuple[int, float, float, float]] = field(default_factory=list)
    #: (turn in degrees from the baseline's yaw, nose parallax) of each turned frame
    turn_parallax: list[tuple[float, float]] = field(default_factory=list)
    turn_seen: bool = False
    #: latencies (ms after the cue) of the blinks seen in each cue's window
    candidates: list[list[int]] = field(default_factory=list)

    def note_baseline(self, ear: float, yaw: float | None, pitch: float | None,
                      keep: int) -> None:
        """Add a baseline frame; keep the last ``keep`` (a sliding window)."""
        self.baseline_samples.append(float(ear))
        del self.baseline_samples[:-keep]
        self.baseline_poses.append((yaw, pitch))
        del self.baseline_poses[:-keep]

    def baseline_pose(self) -> tuple[float | None, float | None]:
        """Median yaw and pitch of the baseline frames (each ``None`` when no frame had it)."""
        out: list[float | None] = []
        for i in (0, 1):
            known = [p[i] for p in self.baseline_poses if p[i] is not None]
            out.append(float(np.median(known)) if known else None)
        return out[0], out[1]

    def note_frame(self, timestamp: int, keep: int = 30) -> None:
        """Remember a frame's timestamp (the last ``keep``); a frame that two states see (a
        state hands it on to the next) is one frame, not two."""
        if self.timestamps and self.timestamps[-1] == int(timestamp):
            return
        self.timestamps.append(int(timestamp))
        del self.timestamps[:-keep]

    def elapsed(self, timestamp: int) -> int:
        """Milliseconds since the first frame of the session."""
        return int(timestamp) - self.t0

    @classmethod
    def from_params(cls, t0: int, params: Mapping[str, Any]) -> "BlinkRun":
        cues = [int(c) for c in params.get("cuesMs") or ()]
        return cls(t0=int(t0), cues=cues, answered=[False] * len(cues),
                   candidates=[[] for _ in cues])
