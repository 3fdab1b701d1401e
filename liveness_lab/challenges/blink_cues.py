"""BLINK cues: which blinks answer which cue, and the chance a replay answers someone else's.

The hardened BLINK params carry random cue times ``cuesMs`` (ms after the first frame the
server receives) and a reaction window ``reactionMs`` = ``[low, high]``. The server sees a
blink as the first frame whose eyes are closed; at ``f`` frames per second that frame comes
up to one frame interval after the lids really closed, so a blink answers cue *k* when its
first closed frame lies in ``[cue + low, cue + high + interval]`` (:func:`answer_window`,
``interval`` the session's own median frame interval, at most that of ``minFps``).

Blinks that answer no cue are *uncued*. Those seen before the first cue's window opens are
not held against anyone (the user is still settling and turning the head, and they cannot
help a replay hit a window); from then on more than ``max_uncued`` of them fail the run,
which stops a video that blinks all the time.

:func:`replay_pass_probability` computes how often a **bona fide recording made for another
BLINK challenge** (its blinks follow the other challenge's cues after a human reaction time,
plus spontaneous blinks) passes this rule for a new challenge - played from its start, or
started at the best moment by an attacker who reads ``cuesMs`` from the params.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TYPE_CHECKING

import numpy as np


if TYPE_CHECKING:  # pragma: no cover
    from .blink import BlinkConfig

__all__ = ["answer_window", "cues_answered", "uncued_allowed", "window_of", "consistent_choice",
           "CueReplayEstimate", "replay_pass_probability"]


def answer_window(cue_ms: float, low_ms: float, high_ms: float,
                  interval_ms: float) -> tuple[float, float]:
    """The times (ms since the first frame) a blink's first closed frame may have to answer
    the cue at ``cue_ms``: ``[cue + low, cue + high + interval]``.

    >>> answer_window(3000, 150, 1100, 200)
    (3150, 4300)
    """
    if interval_ms < 0 or low_ms < 0 or high_ms <= low_ms:
        raise ValueError(f"need 0 <= low < high and interval >= 0, got {low_ms!r}, {high_ms!r}"
                         f" and {interval_ms!r}")
    return cue_ms + low_ms, cue_ms + high_ms + interval_ms


def cues_answered(closures_ms: Sequence[float], cues_ms: Sequence[int], low_ms: float,
                  high_ms: float, max_uncued: int, interval_ms: float = 0.0,
                  max_spread_ms: float | None = None, uncued_per_s: float = 0.0,
                  max_missed: int = 0, lapses: int = 0) -> bool:
    """Whether blinks first seen closed at ``closures_ms`` (sorted, ms since the first frame)
    pass the server's cue rule, decided as the server decides it, in time order: success once
    all cues but ``max_missed`` are answered; failure once more than ``max_missed`` windows have
    passed unanswered or more than the allowed uncued blinks were seen
    (:func:`uncued_allowed`; a second blink in a window counts as uncued too). With
    ``max_spread_ms``, success also needs one blink per cue whose latencies lie within
    ``max_spread_ms`` + ``interval_ms`` (:func:`consistent_choice`: any blink of a window may
    be the one that answers it), all but ``lapses`` of them.

    >>> cues_answered([3400, 6500], [3000, 6000], 150, 1000, 0)
    True
    >>> cues_answered([1000, 3400, 5000, 6500], [3000, 6000], 150, 1000, 0)  # 5000 uncued
    False
    >>> cues_answered([6500], [3000, 6000], 150, 1000, 0, max_missed=1)
    True
    """
    candidates: list[list[float]] = [[] for _ in cues_ms]
    need = len(cues_ms) - max_missed
    uncued = 0
    opens = cues_ms[0] + low_ms if len(cues_ms) else 0.0
    spread = None if max_spread_ms is None else max_spread_ms + interval_ms
    for t in closures_ms:
        expired = sum(1 for k, c in enumerate(cues_ms)
                      if not candidates[k] and t > c + high_ms + interval_ms)
        if expired > max_missed:
            return False
        k = window_of(t, cues_ms, low_ms, high_ms + interval_ms)
        if (k is None and t >= opens) or (k is not None and candidates[k]):
            uncued += 1       # outside every window, or a second blink in one
            if uncued > uncued_allowed(max_uncued, uncued_per_s, t - opens):
                return False
        if k is not None:
            candidates[k].append(t - cues_ms[k])
            if consistent_choice(candidates, spread, need, lapses) is not None:
                return True
    return False


def window_of(t_ms: float, cues_ms: Sequence[int], low_ms: float, high_ms: float) -> int | None:
    """Index of the cue whose window ``[cue + low, cue + high]`` holds ``t_ms``, or ``None``
    (windows do not overlap: cue gaps are longer than the window).

    >>> window_of(3400, [3000, 6000], 150, 1000), window_of(5000, [3000, 6000], 150, 1000)
    (0, None)
    """
    for k, cue in enumerate(cues_ms):
        if low_ms <= t_ms - cue <= high_ms:
            return k
    return None


def consistent_choice(candidates: Sequence[Sequence[float]], max_spread_ms: float | None,
                      need: int, lapses: int = 0) -> list[float] | None:
    """One latency (ms after its cue) per answered cue, all within ``max_spread_ms`` of each
    other, for at least ``need`` answered cues of which all but ``lapses`` are consistent;
    ``None`` when no such choice exists. ``candidates[k]`` are the latencies of the blinks
    seen in cue *k*'s window: a spontaneous blink right after a cue must not stand in for the
    person's own, later, response. A lapse is an answer inside its window but slower than
    the person's others allow: reaction times have a long slow tail (an attention lapse), so
    one person's latencies are consistent but for the odd slow one (never a fast one).

    >>> consistent_choice([[160, 870], [650], [700]], 500, 3)
    [870, 650, 700]
    >>> consistent_choice([[160], [650], [700]], 500, 3) is None
    True
    >>> consistent_choice([[1400], [650], [700]], 500, 3, lapses=1)
    [650, 700]
    >>> consistent_choice([[160], [1100], [1200]], 500, 3, lapses=1) is None  # a fast one
    True
    """
    answered = [list(c) for c in candidates if c]
    if len(answered) < need:
        return None
    if max_spread_ms is None:
        return [c[0] for c in answered]
    for lo in sorted({v for c in answered for v in c}):
        hi = lo + max_spread_ms
        picks = [min((v for v in c if lo <= v <= hi), default=None, key=lambda v: v - lo)
                 for c in answered]
        slow = sum(p is None and max(c) > hi for p, c in zip(picks, answered))
        if sum(p is not None for p in picks) + min(slow, lapses) >= need:
            return [p for p in picks if p is not None]
    return None


def uncued_allowed(max_uncued: int, per_s: float, elapsed_ms: float) -> int:
    """Uncued blinks tolerated ``elapsed_ms`` after the first cue's window opened: spontaneous
    blinks go on while people wait for cues (about 5-10 a minute at a screen), so the
    allowance grows by ``per_s`` a second on top of ``max_uncued``.

    >>> uncued_allowed(3, 0.15, 14000)
    5
    """
    return int(max_uncued + per_s * max(elapsed_ms, 0.0) / 1000.0)


@dataclass(frozen=True)
class CueReplayEstimate:
    """P(a recording made for one BLINK challenge passes another), Monte Carlo.

    ``from_start``: the recording played from its first frame; ``best_start``: started at the
    moment that makes it pass, when one exists (an attacker who reads ``cuesMs``).
    ``std_error`` is the larger of the two standard errors.
    """

    from_start: float
    best_start: float
    std_error: float
    samples: int
    cues: tuple[int, int]


def _recording(rng: np.random.Generator, cues: Sequence[int], length_ms: float,
               spontaneous_per_s: float, interval_ms: float) -> np.ndarray:
    """First-closed-frame times (ms) of a person answering ``cues``: a median reaction of
    150-600 ms (lognormal around 330 ms), each blink varying by 20 %, the lids closed 40-120 ms
    after the blink starts, plus spontaneous blinks; seen up to one frame interval later."""
    median = float(np.clip(np.exp(rng.normal(np.log(330.0), 0.3)), 150.0, 900.0))
    out = [c + median * float(np.exp(rng.normal(0.0, 0.2))) + float(rng.uniform(40.0, 120.0))
           for c in cues]
    out += list(rng.uniform(0.0, length_ms, rng.poisson(spontaneous_per_s * length_ms / 1000)))
    seen = np.asarray(out, float) + rng.uniform(0.0, interval_ms, len(out))
    return np.sort(seen)


def replay_pass_probability(config: "BlinkConfig", *, samples: int = 4000, seed: int = 0,
                            spontaneous_per_s: float = 0.15, fps: float | None = None,
                            image_size: tuple[int, int] = (640, 480)) -> CueReplayEstimate:
    """How often a bona fide recording made for another challenge of ``config`` passes.

    Each sample draws two challenges with :func:`~liveness_lab.challenges.blink.blink_params`
    (the victim's, whose genuine response was recorded, and the attacked one), a recording of
    the first (:func:`_recording`; ``spontaneous_per_s`` blinks per second besides the cued
    ones) and applies :func:`cues_answered` to the second. With ``parallax_check`` the
    recording's head turn must be in the new challenge's direction. ``fps`` is the attacker's
    frame rate (default: the slowest accepted, ``min_fps * (1 - fps_tolerance)``, which widens
    the windows most).

    Raises
    ------
    ValueError
        ``config`` does not use cue timing, or ``samples`` < 1.
    """
    from .blink import blink_params
    from .framework import SeededRandom

    if not config.cue_timing:
        raise ValueError("replay_pass_probability needs a config with cue_timing on")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples!r}")
    slowest = config.min_fps * (1.0 - config.fps_tolerance) if config.min_fps > 0 else 5.0
    interval = 1000.0 / (fps if fps else slowest)
    rng = np.random.default_rng(seed)
    meta: Mapping[str, Any] = {"imageWidth": image_size[0], "imageHeight": image_size[1]}
    hits_start = hits_best = 0
    for i in range(samples):
        victim = blink_params(meta, config, SeededRandom(f"blink-replay-{seed}-{i}-a"))
        target = blink_params(meta, config, SeededRandom(f"blink-replay-{seed}-{i}-b"))
        seen = _recording(rng, victim["cuesMs"], float(victim["windowMs"]), spontaneous_per_s,
                          interval)
        if config.parallax_check and victim.get("turn") != target.get("turn"):
            continue
        cues, (low, high) = target["cuesMs"], target["reactionMs"]
        limit = config.max_uncued_blinks
        spread = config.max_reaction_spread_ms or None
        per_s = config.uncued_per_s
        missed = config.max_missed_cues
        lapses = config.reaction_lapses
        if cues_answered(list(seen), cues, low, high, limit, interval, spread, per_s,
                         missed, lapses):
            hits_start += 1
            hits_best += 1
            continue
        # the start times at which some blink opens some window are the only ones where the
        # set of answered cues changes: try each (and just inside each window's end)
        for shift in {c + e - b for c in cues for b in seen for e in (low, high + interval)}:
            moved = seen + shift
            if cues_answered(list(moved[moved >= 0]), cues, low, high, limit, interval, spread,
                             per_s, missed, lapses):
                hits_best += 1
                break
    p0, p1 = hits_start / samples, hits_best / samples
    se = max(np.sqrt(p * (1 - p) / samples) for p in (p0, p1))
    return CueReplayEstimate(p0, p1, float(se), samples, (config.min_blinks, config.max_blinks))
