"""BLINK's client protocol as documented (docs/challenges.md, "Hardened BLINK"), and how people
follow it.

The params carry ``cuesMs`` (cue times in ms after the **first frame the server receives**, the
client's capture start), ``reactionMs``, ``turn`` (``LEFT``/``RIGHT``, the subject's own side)
and ``minFps``. The client (the studio's capture page) starts its clock with its first frame;
from then it shows "Turn your head a little to your left/right, then back" until 0.8 s before
the first cue, and at each cue a "Blink now" flash (the instructions ask for a slow blink,
"close your eyes for a moment", 0.3-0.6 s). A client told ``minFps`` still films at whatever
rate its camera gives. Time 0 here is the first frame's timestamp.

What a person does (each fact from the literature, none from the decision rule):

* **Latency of the screen and camera** (:data:`LAG_MS`): a frame's timestamp is taken when the
  browser grabs it, 30-150 ms after the sensor exposed it (webcam pipeline), and a flash
  appears 10-50 ms after its timer fires (compositor, display refresh): the person sees cue
  *k* at ``cuesMs[k] + lag`` on the frames' clock.
* **Simple visual reaction times** (:class:`Responder`): ex-Gaussian per person (Luce 1986;
  Kosinski's review: ~200-250 ms for young adults, 150-600 ms across people, longer with age
  and fatigue): the person's mean is :attr:`Person.reaction_ms`, ``tau`` 20-35 % of it (the
  slow tail), ``sigma`` 6-12 % of ``mu``. **Lapses** (psychomotor-vigilance studies: rested
  adults 1-3 % of trials): per person 0-3 % of cues get a late response, 250-900 ms later;
  0.3 % of cues are not answered at all (not seen). Never faster than 100 ms.
* **The blink asked for**: a slow blink, lids more than half closed for the person's own
  preferred time (about N(450, 100) ms, within 250-900 ms; +/-15 % from blink to blink), with
  real lid dynamics (:class:`~bench.sim2.motion.HeldBlink`); one person in five makes an
  ordinary voluntary blink instead (160-400 ms).
* **Spontaneous blinks go on**: 10-20 a minute at rest, a third to two thirds of that while
  attending a screen (Patel et al. 1991; Tsubota & Nakamori 1993): 3.5-13 a minute; none in
  the 250 ms around a cued blink.
* **The turn**: after reading the instruction (0.3-1.5 s, the instructions were also shown
  before capture) and a reaction time, a minimum-jerk head turn the asked way by the person's
  own idea of "a little" (20 degrees x lognormal(0, 0.3), within 8-40 degrees: some turn 10,
  some 30), with a little pitch (sd 2 degrees), lasting ``(250 + 9 A) ms`` scaled by the
  person's speed; a hold of 0.1-0.7 s; back to within ~1.5 degrees of the resting pose. The
  eyes stay on the screen (the head's usual counter-rotation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .motion import Blink, HeldBlink, sample_blink, sample_slow_blink, spontaneous_blinks
from .people import LiveHead, Person

__all__ = ["LAG_MS", "TURN_SIGN", "Responder", "TurnPlan", "plan_turn", "blink_span",
           "perform_cued_blinks", "TAIL_MS"]

#: Latency between a cue's time on the frames' clock and the person seeing it (ms): capture
#: pipeline (30-150) + display (10-50).
LAG_MS = (40.0, 200.0)
#: Yaw sign of a turn to the subject's own side (Rekognition sign: nose toward the image's
#: right = positive yaw; a non-mirrored camera sees the subject's left on the image's right).
TURN_SIGN = {"LEFT": 1.0, "RIGHT": -1.0}
#: The client films on after the last window until the server decides (ms).
TAIL_MS = (200.0, 800.0)
_MISS_P = 0.003


@dataclass(frozen=True)
class Responder:
    """One person's reaction-time distribution for a session (ms): ex-Gaussian ``mu``,
    ``sigma``, ``tau``; ``lapse_p`` the chance that a cue gets a late (lapsed) response."""

    mu: float
    sigma: float
    tau: float
    lapse_p: float
    slow_blinker: bool
    closed_ish_ms: float

    def __post_init__(self) -> None:
        if not (self.mu > 0 and self.sigma >= 0 and self.tau > 0 and 0 <= self.lapse_p < 1):
            raise ValueError("a responder needs mu, tau > 0, sigma >= 0 and lapse_p in [0, 1)")

    @classmethod
    def sample(cls, person: Person, rng: np.random.Generator) -> "Responder":
        mean = person.reaction_ms
        tau = mean * float(rng.uniform(0.2, 0.35))
        mu = mean - tau
        return cls(mu, mu * float(rng.uniform(0.06, 0.12)), tau, float(rng.uniform(0.0, 0.03)),
                   bool(rng.random() >= 0.2),
                   float(np.clip(rng.normal(450.0, 100.0), 250.0, 900.0)))

    def reaction(self, rng: np.random.Generator) -> float | None:
        """One cue's latency to the lids starting to close (ms), or ``None``: not answered."""
        if rng.random() < _MISS_P:
            return None
        rt = self.mu + self.sigma * rng.normal() + rng.exponential(self.tau)
        if rng.random() < self.lapse_p:
            rt += rng.uniform(250.0, 900.0)
        return float(max(rt, 100.0))

    def blink(self, rng: np.random.Generator, t0: float) -> Blink:
        """The blink this person makes when asked to close the eyes for a moment."""
        if not self.slow_blinker:
            return sample_blink(rng, t0, voluntary=True)
        return sample_slow_blink(rng, t0, self.closed_ish_ms * float(rng.uniform(0.85, 1.15)))


@dataclass(frozen=True)
class TurnPlan:
    """The slight turn: start (ms), duration there and back (ms), hold (ms), yaw (signed,
    degrees), pitch wobble (degrees) and the error of the return (degrees)."""

    start: float
    duration: float
    hold: float
    back_duration: float
    yaw: float
    pitch: float
    return_error: float

    @property
    def end(self) -> float:
        return self.start + self.duration + self.hold + self.back_duration


def plan_turn(person: Person, direction: str, rng: np.random.Generator, shown_at: float
              ) -> TurnPlan:
    """How ``person`` turns ``direction`` when the instruction appears at ``shown_at`` (ms)."""
    if direction not in TURN_SIGN:
        raise ValueError(f"turn must be LEFT or RIGHT, got {direction!r}")
    amp = float(np.clip(20.0 * rng.lognormal(0.0, 0.3), 8.0, 40.0))
    speed = person.turn_ms / 575.0
    dur = (250.0 + 9.0 * amp) * speed * float(rng.uniform(0.8, 1.25))
    start = shown_at + float(rng.uniform(300.0, 1500.0)) + person.reaction(rng)
    return TurnPlan(start, dur, float(rng.uniform(100.0, 700.0)),
                    dur * float(rng.uniform(0.9, 1.2)), TURN_SIGN[direction] * amp,
                    float(rng.normal(0.0, 2.0)), float(rng.normal(0.0, 1.5)))


def blink_span(params: dict, rng: np.random.Generator) -> tuple[float, float]:
    """The client's filming window: from its first frame (t = 0) until the server decides."""
    return 0.0, float(params["windowMs"]) + float(rng.uniform(*TAIL_MS))


def perform_cued_blinks(head: LiveHead, params: dict, rng: np.random.Generator, *,
                        extra_lag_ms: float = 0.0, turn: bool = True,
                        attending_rate: bool = True) -> tuple[float, float]:
    """Script ``head`` to follow BLINK's cues (and turn, if ``turn`` and the params ask) and
    add its spontaneous blinks; returns the filming window. ``extra_lag_ms``: the cues reach
    the person this much later (a relay). The script is recorded in ``head.script``."""
    p = head.person
    lag = float(rng.uniform(*LAG_MS)) + extra_lag_ms
    t_end = blink_span(params, rng)[1]
    rate = p.blink_rate_per_min * (float(rng.uniform(0.35, 0.65)) if attending_rate else 1.0)
    spont = spontaneous_blinks(rng, rate, -1000.0, t_end + 1000.0)
    script: dict = {"lag_ms": round(lag), "spontaneous_per_min": round(rate, 1)}
    direction = params.get("turn")
    if turn and direction is not None:
        plan = plan_turn(p, direction, rng, lag)
        head.yaw.step(plan.start, plan.duration, plan.yaw)
        head.pitch.step(plan.start, plan.duration, plan.pitch)
        back = plan.start + plan.duration + plan.hold
        head.yaw.step(back, plan.back_duration, -plan.yaw + plan.return_error)
        head.pitch.step(back, plan.back_duration, -plan.pitch)
        script.update(turn_deg=round(plan.yaw, 1), turn_start_ms=round(plan.start),
                      turn_end_ms=round(plan.end))
    responder = Responder.sample(p, rng)
    cued: list[Blink] = []
    onsets: list[float | None] = []
    for cue in params.get("cuesMs") or []:
        rt = responder.reaction(rng)
        if rt is None:
            onsets.append(None)
            continue
        b = responder.blink(rng, float(cue) + lag + rt)
        cued.append(b)
        onsets.append(b.t0)
    keep = [s for s in spont if not any(b.t0 - 250.0 < s.t0 + s.duration and s.t0 < b.t0
                                        + b.duration + 250.0 for b in cued)]
    for b in cued:
        head.eyes.add(b)  # a late blink running into the next cue's blink is one blink
    onsets = [t if t is None or any(b.t0 == t for b in head.eyes.blinks) else None
              for t in onsets]
    for s in keep:
        head.eyes.add(s)
    script.update(slow_blinks=responder.slow_blinker,
                  cued_onsets_ms=[None if t is None else round(t) for t in onsets],
                  closed_ish_ms=[round(b.closed_ish_ms) if isinstance(b, HeldBlink)
                                 else None for b in cued])
    head.script.update(script)
    return 0.0, t_end
