"""Cameras: resolution, focal length, frame timing, exposure, landmark noise.

A webcam or phone camera is a pinhole with the principal point at the image centre and a
horizontal field of view of 55-78 degrees (``focal_px = (width / 2) / tan(hfov / 2)``).
Browsers deliver frames at 5-30 fps with jitter (timer and encoder delays, 5-15 % of the
interval) and drop frames when the CPU or network is busy. Each frame integrates light over
its exposure (8-66 ms, longer in dim rooms, never longer than the frame interval): a moving
landmark is seen at its mean position over the exposure, a half-closed lid at its mean opening
(motion blur). The frame's timestamp is taken at the end of the exposure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Camera", "sample_camera", "SUBSAMPLES"]

#: Instants per exposure used to integrate motion over it.
SUBSAMPLES = 5

_ASPECTS = ((4, 3), (16, 9))


@dataclass(frozen=True)
class Camera:
    """One capture device as the client uses it.

    ``width``/``height``: pixels of the frames sent; ``focal_px``: focal length in pixels;
    ``fps``: requested frame rate; ``jitter``: standard deviation of the frame interval as a
    fraction of it; ``drop_rate``: probability that a frame is lost; ``exposure_ms``: exposure
    time; ``landmark_noise``: standard deviation of landmark localisation as a fraction of the
    inter-ocular distance in the image; ``brightness``: scene brightness 0..100.
    """

    width: int
    height: int
    focal_px: float
    fps: float
    jitter: float
    drop_rate: float
    exposure_ms: float
    landmark_noise: float
    brightness: float

    def __post_init__(self) -> None:
        if not (64 <= self.width <= 4096 and 64 <= self.height <= 4096):
            raise ValueError(f"image size must be 64..4096 px, got {self.width} x {self.height}")
        if not 1.0 <= self.fps <= 60.0:
            raise ValueError(f"fps must be 1..60, got {self.fps}")
        if not 0 < self.exposure_ms <= 1000.0 / self.fps + 1e-9:
            raise ValueError(f"exposure_ms must be in (0, frame interval], got {self.exposure_ms}"
                             f" at {self.fps} fps")
        if not (0 <= self.drop_rate < 0.5 and 0 <= self.jitter < 0.5):
            raise ValueError("drop_rate and jitter must be fractions below 0.5")

    def scaled_to(self, max_width: int, max_height: int, max_fps: float) -> "Camera":
        """The camera as a client that caps its frames (size and rate) sees it."""
        k = min(1.0, max_width / self.width, max_height / self.height)
        fps = min(self.fps, max_fps)
        return Camera(int(round(self.width * k)), int(round(self.height * k)), self.focal_px * k,
                      fps, self.jitter, self.drop_rate, min(self.exposure_ms, 1000.0 / fps),
                      self.landmark_noise, self.brightness)

    def frame_times(self, rng: np.random.Generator, t_start: float, t_end: float, *,
                    first_at_start: bool = False) -> np.ndarray:
        """Capture times (ms, floats) of the frames delivered in ``[t_start, t_end)``.

        ``first_at_start``: the first delivered frame is at ``t_start`` (a client whose clock
        starts with its first frame, as BLINK's cues do)."""
        dt = 1000.0 / self.fps
        n = int((t_end - t_start) / dt * 1.3) + 4
        gaps = dt * np.clip(1.0 + self.jitter * rng.normal(size=n), 0.3, 2.0)
        first = 0.0 if first_at_start else rng.uniform(0, dt)
        t = t_start + first + np.concatenate([[0.0], np.cumsum(gaps[1:])])
        keep = (t < t_end) & (rng.random(n) >= self.drop_rate)
        if first_at_start:
            keep[0] = True
        return t[keep]

    def exposure_offsets(self) -> np.ndarray:
        """Instants (ms, relative to the timestamp) sampled over the exposure."""
        return -self.exposure_ms * (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates (..., 2) of camera-frame points (..., 3) in mm."""
        z = np.maximum(points[..., 2], 1.0)
        u = self.focal_px * points[..., 0] / z + self.width / 2.0
        v = self.focal_px * points[..., 1] / z + self.height / 2.0
        return np.stack([u, v], axis=-1)


def _range(conditions: dict, key: str, default: tuple[float, float],
           rng: np.random.Generator) -> float:
    lo, hi = conditions.get(key, default)
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def sample_camera(rng: np.random.Generator, conditions: dict | None = None) -> Camera:
    """A camera drawn from the ranges in ``conditions`` (``key: (lo, hi)``): ``fps`` (5..30),
    ``exposure_ms`` (8..66), ``width`` (480..1280), ``landmark_noise`` (0.005..0.03),
    ``drop_rate`` (0..0.05), ``hfov`` (55..78 degrees)."""
    c = conditions or {}
    fps = _range(c, "fps", (5.0, 30.0), rng)
    width = int(round(_range(c, "width", (480.0, 1280.0), rng)))
    aw, ah = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    height = int(round(width * ah / aw))
    hfov = np.radians(_range(c, "hfov", (55.0, 78.0), rng))
    brightness = float(rng.uniform(25.0, 90.0))
    exposure = _range(c, "exposure_ms", (8.0, 66.0), rng)
    if "exposure_ms" not in c:  # dim rooms expose longer
        exposure = float(np.clip(exposure * (1.4 - brightness / 100.0), 8.0, 66.0))
    exposure = min(exposure, 1000.0 / fps)
    return Camera(width, height, (width / 2.0) / float(np.tan(hfov / 2.0)), fps,
                  float(rng.uniform(0.03, 0.15)), _range(c, "drop_rate", (0.0, 0.05), rng),
                  exposure, _range(c, "landmark_noise", (0.005, 0.03), rng), brightness)
