"""BLINK: blink N times within a time window (a plugin written with the public API only).

Eye closure is measured with the **eye aspect ratio** (EAR) of the
Rekognition eye landmarks, ``|eyeUp - eyeDown| / |eyeLeft - eyeRight|``
averaged over both eyes, relative to a **per-session baseline** (the median
EAR of the first frames, eyes open). A blink is a run of frames whose
relative EAR falls below ``close_ratio`` followed by a frame back above
``open_ratio``. The run succeeds when ``blinks`` blinks (random, in
``min_blinks..max_blinks``) have been seen within ``windowMs`` of the first
counting frame.

What it stops: a still photo (it cannot blink). What it does not stop on its
own: a replayed video of the person blinking (the count is not a secret the
video could not contain); see ``docs/hardening.md`` for the measurements and
the passive PAD check that the ``recommended`` profile adds.

Params: ``imageWidth, imageHeight, blinks, windowMs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..faces import FaceDetail
from .checks import SessionChecksConfig, before_success, observe_face, skip_missing_face
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult, Success)
from .framework import IMAGE_SIZE_SCHEMA, Param

__all__ = ["BLINK", "BlinkConfig", "blink_params", "eye_aspect_ratio"]


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class BlinkConfig(SessionChecksConfig):
    """Thresholds of the BLINK challenge."""

    min_blinks: int = _f(2, "fewest blinks a challenge asks for")
    max_blinks: int = _f(4, "most blinks a challenge asks for")
    window_base_s: float = _f(2.0, "time window, seconds: this plus window_per_blink_s per "
                                   "requested blink")
    window_per_blink_s: float = _f(1.5, "seconds of window per requested blink")
    baseline_frames: int = _f(3, "frames with one face whose median EAR is the open-eye "
                                 "baseline")
    min_baseline_ear: float = _f(0.12, "smallest baseline EAR (eyes seen open); the baseline "
                                       "state waits (up to its timeout) for eyes seen open")
    close_ratio: float = _f(0.6, "an eye counts as closed below this fraction of the baseline")
    open_ratio: float = _f(0.8, "and as open again above this fraction")
    max_closed_s: float = _f(1.0, "closures longer than this (seconds) are not blinks")
    max_rotation: float = _f(30.0, "frames with |yaw| or |pitch| beyond this (degrees) are "
                                   "skipped: the EAR is unreliable there")
    max_missing_faces: int = _f(3, "frames without a face skipped before the run fails")

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.min_blinks <= self.max_blinks:
            raise ConfigError(f"need 1 <= min_blinks <= max_blinks, got {self.min_blinks!r} and "
                              f"{self.max_blinks!r}")
        if self.window_base_s < 0 or self.window_per_blink_s <= 0:
            raise ConfigError("window_base_s must be >= 0 and window_per_blink_s > 0")
        if self.baseline_frames < 1:
            raise ConfigError(f"baseline_frames must be >= 1, got {self.baseline_frames!r}")
        if not 0 < self.close_ratio < self.open_ratio <= 1.5:
            raise ConfigError(f"need 0 < close_ratio < open_ratio <= 1.5, got "
                              f"{self.close_ratio!r} and {self.open_ratio!r}")
        if self.max_closed_s <= 0 or self.max_rotation <= 0 or self.min_baseline_ear < 0:
            raise ConfigError("max_closed_s and max_rotation must be > 0, min_baseline_ear >= 0")
        if self.max_missing_faces < 0:
            raise ConfigError(f"max_missing_faces must be >= 0, got {self.max_missing_faces!r}")


BLINK = ChallengeType("BLINK", config_class=BlinkConfig, random_selection=False,
                      description="blink the requested number of times within a time window",
                      score_threshold=1.0,  # score: blinks counted / blinks asked
                      params_schema={**IMAGE_SIZE_SCHEMA, "blinks": Param(int, minimum=1),
                                     "windowMs": Param(int, minimum=1)})


@BLINK.params
def blink_params(client_metadata: Mapping[str, Any], config: BlinkConfig,
                 rng: ChallengeRandom) -> dict[str, Any]:
    """Params: the image size, a random number of blinks and the window for them (ms)."""
    w, h = image_size(client_metadata)
    blinks = config.min_blinks + rng.randbelow(config.max_blinks - config.min_blinks + 1)
    window = int(round(1000 * (config.window_base_s + config.window_per_blink_s * blinks)))
    return {"imageWidth": w, "imageHeight": h, "blinks": blinks, "windowMs": window}


_EYES = (("leftEyeUp", "leftEyeDown", "leftEyeLeft", "leftEyeRight"),
         ("rightEyeUp", "rightEyeDown", "rightEyeLeft", "rightEyeRight"))


def eye_aspect_ratio(face: FaceDetail, image_width: float = 1.0,
                     image_height: float = 1.0) -> float | None:
    """Mean over both eyes of ``|up - down| / |left - right|`` (pixels), or ``None``."""
    values = []
    for names in _EYES:
        pts = [face.landmark(n) for n in names]
        if any(p is None for p in pts):
            return None
        (ux, uy), (dx, dy), (lx, ly), (rx, ry) = ((p.x * image_width, p.y * image_height)
                                                  for p in pts)  # type: ignore[union-attr]
        width = math.hypot(rx - lx, ry - ly)
        if width <= 0:
            return None
        values.append(math.hypot(ux - dx, uy - dy) / width)
    return float(np.mean(values))


def _one_face(frame: FrameInput, context: Context) -> tuple[FaceDetail | None, StepResult | None]:
    cfg: BlinkConfig = context.config
    n = len(frame.faces)
    if n == 0:
        return None, skip_missing_face(context, cfg.max_missing_faces, "blink")
    if n > 1:
        return None, Fail("blink.several_faces", f"{n} faces in the frame; exactly one is allowed")
    face = frame.faces[0]
    return face, observe_face(face, frame, context)


def _ear(face: FaceDetail, params: Mapping[str, Any], context: Context
         ) -> tuple[float | None, StepResult | None]:
    """The frame's EAR; ``(None, None)`` for a frame to skip (head turned too far)."""
    cfg: BlinkConfig = context.config
    pose = face.pose
    if pose is not None and pose.yaw is not None and pose.pitch is not None and (
            abs(pose.yaw) > cfg.max_rotation or abs(pose.pitch) > cfg.max_rotation):
        context.record(yaw=pose.yaw, pitch=pose.pitch)
        return None, None
    ear = eye_aspect_ratio(face, params["imageWidth"], params["imageHeight"])
    if ear is None:
        return None, Fail("blink.missing_landmark", "the face lacks the eye landmarks needed "
                                                    "for the eye aspect ratio")
    context.record(ear=ear)
    return ear, None


@BLINK.state(first=True, next_state="baseline_state")
def face_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Wait for a frame with exactly one face (several faces fail the run)."""
    n = len(frame.faces)
    if n == 0:
        return Continue("blink.no_face", "no face in the frame")
    if n > 1:
        return Fail("blink.several_faces", f"{n} faces in the frame; exactly one is allowed")
    return Next("blink.one_face", "exactly one face")


@BLINK.state(next_state="blink_state")
def baseline_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Measure the open-eye EAR over the first ``baseline_frames`` usable frames."""
    cfg: BlinkConfig = context.config
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    ear, result = _ear(face, params, context)
    if result is not None:
        return result
    if ear is None:
        return Continue("blink.rotated", "head turned too far to measure the eyes")
    samples = context.setdefault("blink.baseline_samples", [])
    samples.append(ear)
    del samples[:-cfg.baseline_frames]  # a sliding window of the last frames
    if len(samples) < cfg.baseline_frames:
        return Continue("blink.baseline", f"measuring open eyes ({len(samples)} of "
                                          f"{cfg.baseline_frames})")
    baseline = float(np.median(samples))
    context.record(baseline_ear=baseline)
    if baseline < cfg.min_baseline_ear:
        return Continue("blink.eyes_not_open", f"baseline eye aspect ratio {baseline:.3f} < "
                                               f"{cfg.min_baseline_ear:g}: eyes not seen open")
    context["blink.baseline"] = baseline
    return Next("blink.baseline_done", f"open-eye baseline {baseline:.3f}")


@BLINK.state()
def blink_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Count blinks (closed then open again, relative to the baseline) within the window."""
    cfg: BlinkConfig = context.config
    start = context.setdefault("blink.window_start", frame.timestamp)
    elapsed = frame.timestamp - start
    wanted, window = int(params["blinks"]), int(params["windowMs"])
    if elapsed > window:
        return Fail("blink.window", f"{context.get('blink.count', 0)} of {wanted} blinks in "
                                    f"{window / 1000:g} s")
    face, result = _one_face(frame, context)
    if result is not None or face is None:
        return result or Continue()
    ear, result = _ear(face, params, context)
    if result is not None:
        return result
    if ear is None:
        return Continue("blink.rotated", "head turned too far to measure the eyes")
    rel = ear / context["blink.baseline"]
    closed_since = context.get("blink.closed_since")
    count = context.get("blink.count", 0)
    context.record(ear_ratio=rel, blinks=count)
    if rel < cfg.close_ratio:
        if closed_since is None:
            context["blink.closed_since"] = frame.timestamp
        return Continue("blink.closed", "eyes closed")
    if rel > cfg.open_ratio and closed_since is not None:
        context["blink.closed_since"] = None
        if frame.timestamp - closed_since > cfg.max_closed_s * 1000:
            return Continue("blink.long_closure", "eyes were closed too long for a blink")
        count += 1
        context["blink.count"] = count
        context.record(blinks=count)
        context.score = count / wanted
        if count >= wanted:
            final = before_success(context)
            if final is not None:
                return final
            return Success("blink.ok", f"{count} blinks in {elapsed / 1000:.1f} s")
        return Continue("blink.counted", f"blink {count} of {wanted}")
    return Continue("blink.open", f"{count} of {wanted} blinks")
