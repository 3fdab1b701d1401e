"""The pinhole camera of the synthetic frames, rotations, sensor noise, argument checks.

Coordinates: frame pixels, x to the right, y down; the camera looks along +z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Camera", "rotation_matrix", "add_sensor_noise"]


def _positive(value: float, what: str) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                       and value > 0):
        raise ValueError(f"{what} must be a positive number, got {value!r}")


def _finite(value: float, what: str) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


def _unit_interval(value: float, what: str) -> None:
    _finite(value, what)
    if not 0 <= value <= 1:
        raise ValueError(f"{what} must be between 0 and 1, got {value!r}")


@dataclass(frozen=True)
class Camera:
    """A distortion-free pinhole camera with the principal point at the image centre.

    ``width`` and ``height`` are the frame size in pixels; ``hfov_deg`` the
    horizontal field of view in degrees (60 is a typical laptop webcam).
    """

    width: int = 640
    height: int = 480
    hfov_deg: float = 60.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 16 <= v <= 8192:
                raise ValueError(f"Camera.{name} must be an integer in 16..8192 pixels, got {v!r}")
        _finite(self.hfov_deg, "Camera.hfov_deg")
        if not 10 <= self.hfov_deg <= 150:
            raise ValueError(f"Camera.hfov_deg must be in 10..150 degrees, got {self.hfov_deg!r}")

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def cx(self) -> float:
        """Principal point x in pixels."""
        return self.width / 2

    @property
    def cy(self) -> float:
        """Principal point y in pixels."""
        return self.height / 2

    @property
    def matrix(self) -> np.ndarray:
        """The 3 x 3 intrinsic matrix K."""
        f = self.focal_px
        return np.array([[f, 0, self.cx], [0, f, self.cy], [0, 0, 1]], dtype=np.float64)


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` in camera axes (x right, y down, z forward).

    Positive yaw turns a point in front of the origin (smaller z) toward +x,
    positive pitch turns it up (toward -y), positive roll is clockwise on screen.
    """
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    cy, sy = math.cos(y), math.sin(y)
    cp, sp = math.cos(p), math.sin(p)
    cr, sr = math.cos(r), math.sin(r)
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def add_sensor_noise(frame: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``frame`` plus Gaussian noise of ``sigma`` grey levels (new array; none when 0)."""
    if sigma <= 0:
        return frame
    noise = rng.standard_normal(frame.shape, dtype=np.float32)
    noise *= sigma
    out = frame.astype(np.float32)
    out += noise
    out += 0.5                                 # round, do not truncate
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
