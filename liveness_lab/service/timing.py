"""Timing bound to the server (issue 11 item 5): client timestamps against receipt times.

The service stores its own receipt time of every frame (``FrameRecord.received_at``).
At verification the client's timestamps must agree with them:

* **clock offset**, estimated per challenge: ``offset = min(received - sent)`` over
  the frames (the client's clock error plus the fastest upload's delay);
* **network jitter and drift, bounded**: every frame's ``received - sent - offset``
  (its delay beyond the fastest one) is at most ``max_lag_ms``; a stream whose
  timestamps were written for another pace (a recording uploaded in a burst, or
  injected faster or slower than it claims) shows a growing lag;
* **a human reaction time**: the frame that completes the response, placed on the
  server's clock (``sent + offset``, never earlier than its capture), is at least
  ``min_reaction_ms`` after the challenge was served - no person can answer a
  challenge they have not seen yet.

A stream that ignores this fails with ``timing.lag`` or ``timing.too_soon``.
What it cannot stop: a recording (or live relay) played to the camera in real
time after the challenge was served - that is the challenge's own job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["TimingRules", "TimingResult", "check_timing"]


@dataclass(frozen=True)
class TimingRules:
    """Tolerances of :func:`check_timing` (milliseconds)."""

    max_lag_ms: float = 2000.0
    min_reaction_ms: float = 150.0

    def __post_init__(self) -> None:
        if self.max_lag_ms < 0 or self.min_reaction_ms < 0:
            raise ValueError("max_lag_ms and min_reaction_ms must be >= 0")


@dataclass(frozen=True)
class TimingResult:
    """The outcome: ``ok``, a ``code``/``reason`` when not, and what was measured."""

    ok: bool
    code: str
    reason: str
    offset_ms: float | None = None
    max_lag_ms: float | None = None
    response_after_ms: float | None = None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "code": self.code, "offset_ms": self.offset_ms,
                "max_lag_ms": self.max_lag_ms, "response_after_ms": self.response_after_ms}


def check_timing(served_s: float, frames: Sequence[tuple[int, float]], deciding: int | None,
                 rules: TimingRules) -> TimingResult:
    """Check ``frames`` (client timestamp ms, receipt time s, in replay order) of a
    challenge served at ``served_s`` (server time, s); ``deciding`` is the index of the
    frame that completed the response (``None``: none did)."""
    if not frames:
        return TimingResult(True, "timing.ok", "no frames")
    delays = [received * 1000.0 - sent for sent, received in frames]
    offset = min(delays)
    lags = [d - offset for d in delays]
    worst = max(lags)
    at = lags.index(worst)
    if worst > rules.max_lag_ms:
        return TimingResult(False, "timing.lag",
                            f"frame {at} arrived {worst:.0f} ms later than its timestamp says "
                            f"it could (at most {rules.max_lag_ms:.0f} ms of network delay is "
                            "tolerated): the frames were not sent as they were captured",
                            offset, worst)
    after = None
    if deciding is not None and 0 <= deciding < len(frames):
        after = frames[deciding][0] + offset - served_s * 1000.0
        if after < rules.min_reaction_ms:
            return TimingResult(False, "timing.too_soon",
                                f"the response was complete {after:.0f} ms after the challenge "
                                f"was served; a person needs at least "
                                f"{rules.min_reaction_ms:.0f} ms to react",
                                offset, worst, after)
    return TimingResult(True, "timing.ok", "client timestamps agree with the receipt times",
                        offset, worst, after)
