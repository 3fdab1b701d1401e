"""NOSE targets in sequence, and the chance that a replay made for one challenge passes another.

A NOSE challenge has one target box (``noseLeft, noseTop, noseWidth, noseHeight``,
the original framework's keys: every client written for it shows exactly that
box). Its target space is small - two sides, a 30 x 40 px region per quadrant,
a tolerance box of ``size * (1 + 2 * nose_box_tolerance)`` = 42 px - so a
recording made for one target often crosses another (:func:`replay_pass_probability`
computes how often). A profile that sets ``NoseConfig.nose_targets`` > 1 asks
clients that can show several boxes in turn for a **sequence**: the client
declares how many it can show with ``noseTargets`` (an integer) in the
create-challenge metadata; the params then carry the list ``noseTargets`` (each
item the four ``nose*`` keys), its first item equal to the one-target keys, so
a client that ignores the list still shows the first box. A client that does
not declare the capability gets the one-target params, exactly as before.

Each target of a sequence is drawn on its own - side a fair coin, distances in
the ``sequence_*`` ranges, within the reach of a head turn - and the nose must
stay in each box for ``hold_ms``, so the user pauses at each target. Drawing each
side independently halves a replay's chance per target (sides that alternate
would agree for the whole sequence once they agree for the first target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TYPE_CHECKING

import numpy as np

from .framework import ChallengeRandom

if TYPE_CHECKING:  # pragma: no cover
    from .nose import NoseConfig

__all__ = ["MAX_NOSE_TARGETS", "client_target_count", "side_box", "box_beside_centre",
           "targets_of", "sequence_params", "ReplayEstimate", "replay_pass_probability"]

#: Most targets a NOSE sequence may have.
MAX_NOSE_TARGETS = 3
_KEYS = ("noseLeft", "noseTop", "noseWidth", "noseHeight")


def client_target_count(client_metadata: Mapping[str, Any], config: "NoseConfig") -> int:
    """How many targets to draw: the profile's ``nose_targets``, capped by what the client
    declared it can show (``noseTargets`` in the create-challenge metadata; absent: 1)."""
    if config.nose_targets <= 1:
        return 1
    declared = client_metadata.get("noseTargets", 1)
    if isinstance(declared, bool) or not isinstance(declared, int) \
            or not 1 <= declared <= MAX_NOSE_TARGETS:
        raise ValueError(f"noseTargets (how many nose targets the client can show in turn) "
                         f"must be an integer from 1 to {MAX_NOSE_TARGETS}, got {declared!r}")
    return min(config.nose_targets, declared)


def side_box(image_width: int, image_height: int, config: "NoseConfig", rng: ChallengeRandom,
             side: int) -> tuple[float, float, float, float]:
    """A sequence target box on ``side`` (1: right, -1: left) of the centre: near edge
    ``sequence_min_h_dist + randbelow(sequence_max_h_dist - sequence_min_h_dist)`` px away
    horizontally, ``randbelow(sequence_max_v_dist)`` px up or down (fair coin)."""
    return box_beside_centre(image_width, image_height, config.nose_box_size, side,
                             (config.sequence_min_h_dist, config.sequence_max_h_dist,
                              config.sequence_max_v_dist), rng)


def box_beside_centre(image_width: int, image_height: int, size: float, side: int,
                      limits: tuple[int, int, int], rng: ChallengeRandom
                      ) -> tuple[float, float, float, float]:
    """A ``size`` box on ``side`` (1: right, -1: left) of the image centre, extending away
    from it. ``limits`` = ``(min_h, max_h, max_v)``: near edge ``min_h + randbelow(max_h -
    min_h)`` px away horizontally, then (fair coin) ``randbelow(max_v)`` px up or down; the
    draws happen in this order (the original's, after its left/right coin)."""
    min_h, max_h, max_v = limits
    left = image_width / 2 + side * (min_h + rng.randbelow(max_h - min_h))
    if side == -1:
        left -= size
    vside = rng.choice([1, -1])
    top = image_height / 2 + vside * rng.randbelow(max_v)
    if vside == -1:
        top -= size
    return (left, top, size, size)


def targets_of(params: Mapping[str, Any]) -> list[tuple[float, float, float, float]]:
    """The target boxes of NOSE ``params`` in order: the ``noseTargets`` list when present,
    else the one-target keys."""
    seq = params.get("noseTargets")
    if not seq:
        return [tuple(float(params[k]) for k in _KEYS)]  # type: ignore[misc]
    return [tuple(float(t[k]) for k in _KEYS) for t in seq]  # type: ignore[misc]


# -- replay probability ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplayEstimate:
    """P(a recording made for one challenge also satisfies another), with its Monte Carlo
    standard error, under the straight-path model of :func:`replay_pass_probability`."""

    probability: float
    std_error: float
    samples: int
    targets: int


def _ranges(config: "NoseConfig", count: int) -> tuple[int, int, int]:
    if count == 1:
        return (config.nose_box_center_min_h_dist, config.nose_box_center_max_h_dist,
                config.nose_box_center_max_v_dist)
    return config.sequence_min_h_dist, config.sequence_max_h_dist, config.sequence_max_v_dist


def _draw(rng: np.random.Generator, n: int, width: int, height: int, config: "NoseConfig",
          count: int) -> np.ndarray:
    """``(n, count, 2)`` target-box centres, drawn as ``nose_params`` draws them (one target:
    :func:`~liveness_lab.challenges.nose.nose_box`; a sequence: :func:`side_box`)."""
    size = config.nose_box_size
    min_h, max_h, max_v = _ranges(config, count)
    out = np.empty((n, count, 2))
    for k in range(count):
        s = rng.choice([1, -1], size=n)
        left = width / 2 + s * (min_h + rng.integers(0, max_h - min_h, n))
        left = np.where(s == -1, left - size, left)
        vs = rng.choice([1, -1], size=n)
        top = height / 2 + vs * rng.integers(0, max_v, n)
        top = np.where(vs == -1, top - size, top)
        out[:, k, 0] = left + size / 2
        out[:, k, 1] = top + size / 2
    return out


def _entry(p0: np.ndarray, p1: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           t_min: np.ndarray) -> np.ndarray:
    """First parameter t in [t_min, 1] where segment p0->p1 is inside the box [lo, hi]
    (Liang-Barsky), ``inf`` where it never is."""
    t0 = t_min.copy()
    t1 = np.ones_like(t_min)
    d = p1 - p0
    for axis in (0, 1):
        dd = d[:, axis]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = (lo[:, axis] - p0[:, axis]) / dd
            b = (hi[:, axis] - p0[:, axis]) / dd
        still = dd == 0
        inside = (p0[:, axis] >= lo[:, axis]) & (p0[:, axis] <= hi[:, axis])
        enter = np.where(still, np.where(inside, -np.inf, np.inf), np.minimum(a, b))
        leave = np.where(still, np.where(inside, np.inf, -np.inf), np.maximum(a, b))
        t0 = np.maximum(t0, enter)
        t1 = np.minimum(t1, leave)
    return np.where(t0 <= t1, t0, np.inf)


def replay_pass_probability(config: "NoseConfig", image_size: tuple[int, int] = (480, 480),
                            targets: int = 1, *, samples: int = 200_000, seed: int = 0,
                            slack_px: float = 4.0) -> ReplayEstimate:
    """P(a recording made for one NOSE challenge also satisfies an independently drawn one).

    Both challenges have ``targets`` targets, drawn as ``nose_params`` draws
    them. A target counts as met when the nose is inside its tolerance box
    (``size * (1 + 2 * nose_box_tolerance)`` wide, grown by ``slack_px`` on each
    side for sway and tracking noise). The recording's nose starts at the
    image centre and moves in a straight line to the centre of each of its
    own boxes in turn.

    * One target (no hold rule): the recording passes when its path enters B's
      box anywhere (an upper bound: a frame rate too low to catch the nose
      inside, or the rotation rule, only lowers it).
    * A sequence (``hold_ms`` in every box): the recording holds still only at
      its own targets, so it passes when each of its targets lies inside the
      matching target's box of B (a recording passing through a box at the
      speed of an aimed movement stays in it for less than ``hold_ms``).

    Integrated by Monte Carlo over the targets' distribution (``samples``
    pairs, seeded), returned with its standard error.
    """
    if not 1 <= targets <= MAX_NOSE_TARGETS or samples < 1:
        raise ValueError(f"targets must be from 1 to {MAX_NOSE_TARGETS} and samples >= 1")
    w, h = image_size
    rng = np.random.default_rng(seed)
    a = _draw(rng, samples, w, h, config, targets)
    b = _draw(rng, samples, w, h, config, targets)
    half = config.nose_box_size * (0.5 + config.nose_box_tolerance) + slack_px
    if targets > 1:
        ok = (np.abs(a - b) <= half).all(axis=(1, 2))
    else:
        start = np.tile([w / 2, h / 2], (samples, 1))
        ok = np.isfinite(_entry(start, a[:, 0], b[:, 0] - half, b[:, 0] + half,
                                np.zeros(samples)))
    p = float(ok.mean())
    return ReplayEstimate(p, float(np.sqrt(p * (1 - p) / samples)), samples, targets)


def sequence_params(boxes: Sequence[tuple[float, float, float, float]]) -> list[dict[str, int]]:
    """The ``noseTargets`` params list of ``boxes`` (pixels, truncated like the one-target keys)."""
    return [dict(zip(_KEYS, (int(v) for v in box))) for box in boxes]
