"""Movements in time: minimum-jerk steps, blinks, postural sway.

A **slow blink** (:class:`HeldBlink`, "close your eyes for a moment") closes like a voluntary
blink (100-160 ms), holds the lids shut and reopens in two parts: a fast up-phase that covers
most of the way, then a slow drift over the last fifth (the upper lid's tail; Evinger, Manning
& Sibony 1991: the up-phase lasts two to three times the down-phase).

Voluntary movements of the head, eyes and face follow the **minimum-jerk** profile
(Flash & Hogan 1985): ``x(s) = 10 s^3 - 15 s^4 + 6 s^5`` for ``s = (t - t0) / T`` in 0..1, a
smooth bell-shaped velocity. A :class:`Channel` is a resting value plus a sum of such steps;
every time argument is in milliseconds (floats, any array shape).

A **blink** (:class:`Blink`) closes the lid in about a third of its duration, stays closed
30-150 ms and reopens more slowly; whole blinks last 100-400 ms. Spontaneous blinks come at
10-20 per minute with irregular intervals (a gamma process).

**Sway**: a person who holds still still moves - an Ornstein-Uhlenbeck drift of about 1 degree
and 2 mm with a time constant near one second, sampled on a 10 ms grid and interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["min_jerk", "Channel", "Blink", "HeldBlink", "BlinkTrack", "Sway",
           "spontaneous_blinks", "sample_blink", "sample_slow_blink"]


def min_jerk(s: np.ndarray) -> np.ndarray:
    """The minimum-jerk position profile on ``s`` (clipped to 0..1)."""
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10.0 - 15.0 * s + 6.0 * s * s)


@dataclass
class Channel:
    """A scalar signal: ``rest`` plus minimum-jerk steps ``(t0_ms, duration_ms, delta)``."""

    rest: float = 0.0
    steps: list[tuple[float, float, float]] = field(default_factory=list)

    def step(self, t0: float, duration: float, delta: float) -> None:
        if duration <= 0:
            raise ValueError(f"a movement needs a positive duration, got {duration} ms")
        self.steps.append((float(t0), float(duration), float(delta)))

    def move_to(self, t0: float, duration: float, target: float) -> None:
        """Add a step that ends at ``target`` (relative to the value at the end of all steps)."""
        self.step(t0, duration, target - self.final())

    def final(self) -> float:
        return self.rest + sum(d for _, _, d in self.steps)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        out = np.full(t.shape, self.rest)
        for t0, dur, delta in self.steps:
            out += delta * min_jerk((t - t0) / dur)
        return out


@dataclass(frozen=True)
class Blink:
    """One blink: start (ms), closing / closed / opening durations (ms), depth (1 = full)."""

    t0: float
    close_ms: float
    closed_ms: float
    open_ms: float
    depth: float = 1.0

    def __post_init__(self) -> None:
        if min(self.close_ms, self.open_ms) <= 0 or self.closed_ms < 0:
            raise ValueError("blink phases must be positive durations in ms")
        if not 0 < self.depth <= 1:
            raise ValueError(f"blink depth must be in (0, 1], got {self.depth}")

    @property
    def duration(self) -> float:
        return self.close_ms + self.closed_ms + self.open_ms

    def closure(self, t: np.ndarray) -> np.ndarray:
        """Fraction of closure 0..depth at times ``t`` (ms)."""
        t = np.asarray(t, float) - self.t0
        c = np.zeros(t.shape)
        down = (t >= 0) & (t < self.close_ms)
        c[down] = min_jerk(t[down] / self.close_ms)
        hold = (t >= self.close_ms) & (t < self.close_ms + self.closed_ms)
        c[hold] = 1.0
        t_up = t - self.close_ms - self.closed_ms
        up = (t_up >= 0) & (t_up < self.open_ms)
        c[up] = 1.0 - min_jerk(t_up[up] / self.open_ms)
        return c * self.depth


@dataclass(frozen=True)
class HeldBlink(Blink):
    """A voluntary slow blink: min-jerk closing, a hold, a fast reopening then a slow tail
    (the last ``tail`` fraction of the opening reopens over the whole opening time)."""

    tail: float = 0.2

    def closure(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float) - self.t0
        c = np.zeros(t.shape)
        down = (t >= 0) & (t < self.close_ms)
        c[down] = min_jerk(t[down] / self.close_ms)
        c[(t >= self.close_ms) & (t < self.close_ms + self.closed_ms)] = 1.0
        t_up = t - self.close_ms - self.closed_ms
        up = (t_up >= 0) & (t_up < self.open_ms)
        s = t_up[up] / self.open_ms
        c[up] = 1.0 - (1.0 - self.tail) * min_jerk(s / 0.45) - self.tail * min_jerk(s)
        return c * self.depth

    @property
    def closed_ish_ms(self) -> float:
        """Time with the lids more than half closed (ms)."""
        # half closed half-way down; on the way up, when the fast phase has covered 0.5
        up = 0.45 * float(_min_jerk_inverse(0.5 / (1.0 - self.tail))) * self.open_ms
        return self.close_ms / 2.0 + self.closed_ms + up


def _min_jerk_inverse(x: float) -> float:
    """The s in 0..1 where the min-jerk profile reaches ``x`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2.0
        if min_jerk(np.array(mid)) < x:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def sample_slow_blink(rng: np.random.Generator, t0: float, closed_ish_ms: float) -> HeldBlink:
    """A slow blink at ``t0`` whose lids are more than half closed for ``closed_ish_ms``."""
    close = float(rng.uniform(100.0, 160.0))
    opening = float(close * rng.uniform(2.0, 3.0))
    b = HeldBlink(t0, close, 0.0, opening)
    hold = max(20.0, closed_ish_ms - b.closed_ish_ms)
    return HeldBlink(t0, close, hold, opening)


def sample_blink(rng: np.random.Generator, t0: float, *, voluntary: bool = False) -> Blink:
    """A blink at ``t0`` with physiological phase durations (whole blink 100-400 ms).

    Voluntary blinks are a little longer and always complete; spontaneous ones are sometimes
    incomplete (depth 0.6-1).
    """
    closed = rng.uniform(30.0, 150.0)
    total = rng.uniform(160.0, 400.0) if voluntary else rng.uniform(100.0, 350.0)
    total = max(total, closed + 60.0)
    moving = total - closed
    close = moving * rng.uniform(0.3, 0.45)
    depth = 1.0 if voluntary or rng.random() < 0.8 else rng.uniform(0.6, 1.0)
    return Blink(t0, close, closed, moving - close, depth)


def spontaneous_blinks(rng: np.random.Generator, rate_per_min: float, t_start: float,
                       t_end: float) -> list[Blink]:
    """Spontaneous blinks between ``t_start`` and ``t_end`` (ms) at ``rate_per_min``."""
    if rate_per_min <= 0:
        return []
    mean_gap = 60000.0 / rate_per_min
    out: list[Blink] = []
    t = t_start - rng.uniform(0, mean_gap)
    while True:
        t += rng.gamma(2.0, mean_gap / 2.0)  # irregular, rarely very short intervals
        if t >= t_end:
            return out
        if t >= t_start:
            out.append(sample_blink(rng, t))


@dataclass
class BlinkTrack:
    """The eyelid opening of both eyes: a voluntary level times (1 - closure of blinks)."""

    level: Channel = field(default_factory=lambda: Channel(1.0))
    blinks: list[Blink] = field(default_factory=list)

    def add(self, blink: Blink) -> None:
        # blinks do not overlap: the later one starts after the earlier one ends
        for b in self.blinks:
            if b.t0 - 50.0 < blink.t0 < b.t0 + b.duration + 50.0 or \
                    blink.t0 - 50.0 < b.t0 < blink.t0 + blink.duration + 50.0:
                return
        self.blinks.append(blink)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        closure = np.zeros(t.shape)
        for b in self.blinks:
            closure = np.maximum(closure, b.closure(t))
        return np.clip(self.level(t), 0.0, 1.2) * (1.0 - closure)


class Sway:
    """Ornstein-Uhlenbeck drift in ``dims`` dimensions (std ``sigma``, time constant ``tau_ms``)."""

    GRID_MS = 10.0

    def __init__(self, rng: np.random.Generator, sigma: np.ndarray | float, tau_ms: float,
                 t_start: float, t_end: float, dims: int = 1) -> None:
        from scipy.signal import lfilter

        n = int((t_end - t_start) / self.GRID_MS) + 3
        a = float(np.exp(-self.GRID_MS / tau_ms))
        noise = rng.normal(size=(n, dims)) * np.sqrt(1.0 - a * a)
        noise[0] = rng.normal(size=dims)  # start in the stationary distribution
        x = lfilter([1.0], [1.0, -a], noise, axis=0)
        self._x = x * np.asarray(sigma, float)
        self._t0 = t_start

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Values (..., dims) at times ``t`` (ms)."""
        t = np.asarray(t, float)
        pos = np.clip((t - self._t0) / self.GRID_MS, 0, self._x.shape[0] - 1.001)
        i = pos.astype(int)
        w = (pos - i)[..., None]
        return self._x[i] * (1 - w) + self._x[i + 1] * w
