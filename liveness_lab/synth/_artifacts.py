"""Presentation-attack artifacts: moire, glare, border, blur, contrast, gamma."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ._camera import _finite, _positive, _unit_interval

__all__ = ["Moire", "Glare", "Border", "Artifacts", "apply_glare"]


@dataclass(frozen=True)
class Moire:
    """A screen moire: coloured interference bands on the sheet.

    ``period_px`` is the band period in sheet (photo) pixels, ``angle_deg`` the
    band direction, ``strength`` the relative modulation 0..1.
    """

    period_px: float = 9.0
    angle_deg: float = 17.0
    strength: float = 0.12

    def __post_init__(self) -> None:
        _positive(self.period_px, "Moire.period_px")
        _finite(self.angle_deg, "Moire.angle_deg")
        _unit_interval(self.strength, "Moire.strength")


@dataclass(frozen=True)
class Glare:
    """A soft specular blob fixed to the light, visible only on the sheet.

    ``x``, ``y`` are its centre as ratios of the frame width / height,
    ``radius`` its Gaussian sigma as a ratio of the frame width, ``strength``
    the fraction (0..1) by which the centre is pulled to white.
    """

    x: float = 0.62
    y: float = 0.32
    radius: float = 0.07
    strength: float = 0.55

    def __post_init__(self) -> None:
        _finite(self.x, "Glare.x")
        _finite(self.y, "Glare.y")
        _positive(self.radius, "Glare.radius")
        _unit_interval(self.strength, "Glare.strength")


@dataclass(frozen=True)
class Border:
    """A frame around the photo: a white ``"print"`` margin or a dark ``"screen"`` bezel.

    ``width`` is the border width as a ratio of the photo's longer side.
    """

    kind: Literal["print", "screen"] = "print"
    width: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in ("print", "screen"):
            raise ValueError(f"Border.kind must be 'print' or 'screen', got {self.kind!r}")
        _finite(self.width, "Border.width")
        if not 0 < self.width <= 0.5:
            raise ValueError(f"Border.width must be in (0, 0.5], got {self.width!r}")


@dataclass(frozen=True)
class Artifacts:
    """Presentation-attack artifacts of a printed or displayed photo.

    ``blur_sigma`` is a Gaussian blur in sheet pixels (0: none); ``contrast``
    scales deviations from mid-grey (1: unchanged, < 1: washed out); ``gamma``
    is applied to 0..1 intensities (1: unchanged). ``moire``, ``glare`` and
    ``border`` are optional.
    """

    moire: Moire | None = None
    glare: Glare | None = None
    blur_sigma: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    border: Border | None = None

    def __post_init__(self) -> None:
        _finite(self.blur_sigma, "Artifacts.blur_sigma")
        if self.blur_sigma < 0:
            raise ValueError(f"Artifacts.blur_sigma must be >= 0, got {self.blur_sigma!r}")
        _positive(self.contrast, "Artifacts.contrast")
        _positive(self.gamma, "Artifacts.gamma")
        for name, kind in (("moire", Moire), ("glare", Glare), ("border", Border)):
            v = getattr(self, name)
            if v is not None and not isinstance(v, kind):
                raise ValueError(f"Artifacts.{name} must be a {kind.__name__} or None, "
                                 f"got {type(v).__name__}")

    @classmethod
    def printed(cls) -> "Artifacts":
        """Typical print attack: white margin, slightly soft, washed-out colours."""
        return cls(border=Border("print", 0.05), blur_sigma=0.6, contrast=0.85, gamma=1.1)

    @classmethod
    def screen(cls) -> "Artifacts":
        """Typical screen replay: bezel, moire, glare, lifted blacks."""
        return cls(border=Border("screen", 0.04), moire=Moire(), glare=Glare(), contrast=0.8,
                   gamma=0.9)


def _moire_pattern(h: int, w: int, moire: Moire) -> np.ndarray:
    """Multiplicative (h, w, 3) float32 gain around 1: a grating beating with a slower one."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = math.radians(moire.angle_deg)
    b = a + math.radians(63.0)
    u = (xx * math.cos(a) + yy * math.sin(a)) * (2 * math.pi / moire.period_px)
    v = (xx * math.cos(b) + yy * math.sin(b)) * (2 * math.pi / (moire.period_px * 6.7))
    envelope = 0.55 + 0.45 * np.sin(v)
    gain = np.empty((h, w, 3), np.float32)
    for c, phase in enumerate((0.0, 2.1, 4.2)):  # colour fringes, as a sub-pixel grid gives
        gain[..., c] = 1 + moire.strength * envelope * np.sin(u + phase)
    return gain


def apply_glare(frame: np.ndarray, glare: Glare, quad: np.ndarray) -> None:
    """Pull ``frame`` toward white in a Gaussian blob, inside polygon ``quad`` only (in place)."""
    import cv2

    h, w = frame.shape[:2]
    sigma = glare.radius * w
    gx, gy = glare.x * w, glare.y * h
    x0, x1 = max(0, int(gx - 3 * sigma)), min(w, int(gx + 3 * sigma) + 1)
    y0, y1 = max(0, int(gy - 3 * sigma)), min(h, int(gy + 3 * sigma) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((quad - [x0, y0]) * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, pts, 1, lineType=cv2.LINE_AA, shift=4)
    yy = (np.arange(y0, y1, dtype=np.float32) - gy)[:, None]
    xx = (np.arange(x0, x1, dtype=np.float32) - gx)[None, :]
    blob = glare.strength * np.exp(-(xx * xx + yy * yy) / (2 * sigma * sigma))
    alpha = (blob * (mask > 0))[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi + alpha * (255.0 - roi) + 0.5, 0, 255).astype(np.uint8)
