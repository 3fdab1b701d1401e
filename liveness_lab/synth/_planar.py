"""A flat photo (printed sheet or screen) placed in front of a pinhole camera.

The sheet is the photo plus an optional border, with its presentation
artifacts (moire, reduced contrast, gamma, blur) baked in once
(:func:`make_sheet`). Each frame then places the sheet with a
:class:`SheetPose` through a homography, over a background, adds glare where
the sheet is, and sensor noise.

Coordinates: frame pixels, x to the right, y down; the camera looks along +z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ._artifacts import Artifacts, Glare, _moire_pattern, apply_glare
from ._camera import Camera, _finite, _positive, add_sensor_noise, rotation_matrix

__all__ = ["Background", "SheetPose", "Sheet", "make_sheet", "render_background",
           "sheet_homography", "render_planar"]


@dataclass(frozen=True)
class Background:
    """The scene behind the presented photo.

    ``kind`` is ``"plain"`` (one colour) or ``"room"`` (a wall gradient, a floor,
    a window and a door placed from the seed); ``color`` the base RGB colour;
    ``texture_sigma`` the grey levels of static texture noise.
    """

    kind: Literal["plain", "room"] = "room"
    color: tuple[int, int, int] = (168, 160, 148)
    texture_sigma: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in ("plain", "room"):
            raise ValueError(f"Background.kind must be 'plain' or 'room', got {self.kind!r}")
        if len(self.color) != 3 or not all(isinstance(c, int) and 0 <= c <= 255
                                           for c in self.color):
            raise ValueError(f"Background.color must be three integers 0..255, got {self.color!r}")
        _finite(self.texture_sigma, "Background.texture_sigma")
        if self.texture_sigma < 0:
            raise ValueError(f"Background.texture_sigma must be >= 0, got {self.texture_sigma!r}")


@dataclass(frozen=True)
class SheetPose:
    """Where the sheet is: its anchor point lands at frame pixel (``x``, ``y``).

    ``scale`` is frame pixels per sheet pixel at zero tilt. ``roll_deg`` is an
    in-plane rotation, clockwise on screen when positive. ``tilt_y_deg`` turns
    the sheet about its vertical axis, the right edge going away from the
    camera when positive (the face seems turned toward the image's right);
    ``tilt_x_deg`` turns it about its horizontal axis, the top edge going away
    when positive (the face seems to look up).
    """

    x: float
    y: float
    scale: float = 1.0
    roll_deg: float = 0.0
    tilt_x_deg: float = 0.0
    tilt_y_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in ("x", "y", "roll_deg"):
            _finite(getattr(self, name), f"SheetPose.{name}")
        _positive(self.scale, "SheetPose.scale")
        for name in ("tilt_x_deg", "tilt_y_deg"):
            v = getattr(self, name)
            _finite(v, f"SheetPose.{name}")
            if abs(v) >= 80:
                raise ValueError(f"SheetPose.{name} must be within +/-80 degrees, got {v!r}")


@dataclass(frozen=True, eq=False)
class Sheet:
    """A prepared sheet: RGB ``image`` with artifacts baked in, and the ``anchor``.

    ``anchor`` is the (x, y) sheet pixel that :class:`SheetPose` places, ``offset``
    the (x, y) of the photo's top-left corner inside the sheet (non-zero with a
    border), ``glare`` the glare to add per frame.
    """

    image: np.ndarray
    anchor: tuple[float, float]
    offset: tuple[int, int] = (0, 0)
    glare: Glare | None = None
    corners: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        h, w = self.image.shape[:2]
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64) - 0.5
        object.__setattr__(self, "corners", corners)


def make_sheet(photo: np.ndarray, anchor: tuple[float, float],
               artifacts: Artifacts | None = None) -> Sheet:
    """Prepare a photo for planar presentation: border, contrast, gamma, moire, blur.

    Parameters
    ----------
    photo:
        RGB ``uint8`` image ``(H, W, 3)``.
    anchor:
        The (x, y) photo pixel that :class:`SheetPose` places (typically the
        face centre); shifted by the border.
    artifacts:
        Presentation artifacts, or ``None`` for an ideal copy of the photo.
    """
    import cv2

    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"photo must be an RGB uint8 array (H, W, 3), got {photo.dtype} "
                         f"{photo.shape}")
    art = artifacts or Artifacts()
    img = photo
    if art.contrast != 1 or art.gamma != 1 or art.moire is not None:
        f = img.astype(np.float32) / 255.0
        if art.gamma != 1:
            f = np.power(f, art.gamma, dtype=np.float32)
        if art.contrast != 1:
            f = 0.5 + (f - 0.5) * art.contrast
        if art.moire is not None:
            f = f * _moire_pattern(f.shape[0], f.shape[1], art.moire)
        img = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
    offset = (0, 0)
    if art.border is not None:
        h, w = img.shape[:2]
        bw = max(1, int(round(art.border.width * max(h, w))))
        if art.border.kind == "print":
            colour = (246, 246, 242)
        else:
            colour = (24, 24, 27)
        framed = np.empty((h + 2 * bw, w + 2 * bw, 3), np.uint8)
        framed[:] = colour
        if art.border.kind == "screen":  # a slight sheen on the bezel
            ramp = np.linspace(0, 18, framed.shape[0], dtype=np.float32)[:, None, None]
            framed = np.clip(framed + ramp, 0, 255).astype(np.uint8)
        framed[bw:bw + h, bw:bw + w] = img
        img = framed
        offset = (bw, bw)
    if art.blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), art.blur_sigma)
    img = np.ascontiguousarray(img)
    img.setflags(write=False)
    return Sheet(image=img, anchor=(anchor[0] + offset[0], anchor[1] + offset[1]),
                 offset=offset, glare=art.glare)


def render_background(camera: Camera, background: Background | None = None,
                      seed: int = 0) -> np.ndarray:
    """The static scene behind the photo, deterministic for ``seed`` (RGB ``uint8``)."""
    bg = background or Background()
    h, w = camera.height, camera.width
    rng = np.random.default_rng([seed, 0x6B67])
    base = np.array(bg.color, np.float32)
    if bg.kind == "plain":
        img = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    else:
        yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        xx = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
        lamp_x = rng.uniform(0.2, 0.8)
        light = 1.08 - 0.22 * yy - 0.18 * np.abs(xx - lamp_x)
        img = base * light
        floor_y = int(h * rng.uniform(0.78, 0.9))
        img[floor_y:] = np.array([120, 96, 72], np.float32) * (0.8 + 0.3 * yy[floor_y:])
        wx, ww = int(w * rng.uniform(0.02, 0.25)), int(w * rng.uniform(0.12, 0.2))
        wy, wh = int(h * rng.uniform(0.08, 0.2)), int(h * rng.uniform(0.25, 0.35))
        img[wy:wy + wh, wx:wx + ww] = np.array([214, 226, 236], np.float32)
        dx, dw = int(w * rng.uniform(0.75, 0.86)), int(w * rng.uniform(0.1, 0.14))
        dy = int(h * rng.uniform(0.25, 0.35))
        img[dy:floor_y, dx:dx + dw] = np.array([110, 84, 62], np.float32)
    if bg.texture_sigma > 0:
        img = img + rng.normal(0.0, bg.texture_sigma, (h, w, 1)).astype(np.float32)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def sheet_homography(sheet: Sheet, pose: SheetPose, camera: Camera) -> np.ndarray:
    """The 3 x 3 homography from sheet pixels to frame pixels for ``pose``.

    The anchor sits at depth ``camera.focal_px`` (where one world unit is one
    frame pixel) on the ray through frame pixel (``pose.x``, ``pose.y``); the
    sheet is scaled by ``pose.scale`` and rotated about the anchor.
    """
    f = camera.focal_px
    r = rotation_matrix(pose.tilt_y_deg, pose.tilt_x_deg, pose.roll_deg)
    t = np.array([pose.x - camera.cx, pose.y - camera.cy, f])
    a = np.array(sheet.anchor, dtype=np.float64)
    m = np.column_stack([r[:, 0] * pose.scale, r[:, 1] * pose.scale,
                         t - pose.scale * (r[:, :2] @ a)])
    h = camera.matrix @ m
    return h / h[2, 2]


def render_planar(sheet: Sheet, pose: SheetPose, camera: Camera, background: np.ndarray, *,
                  noise_sigma: float = 0.0, rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """One frame of a flat photo presented to the camera.

    Parameters
    ----------
    sheet:
        From :func:`make_sheet`.
    pose:
        Placement of the sheet.
    camera:
        Frame size and focal length.
    background:
        RGB ``uint8`` frame-sized scene (:func:`render_background`).
    noise_sigma:
        Sensor noise in grey levels; needs ``rng`` when > 0.
    """
    import cv2

    if background.shape != (camera.height, camera.width, 3):
        raise ValueError(f"background must have shape {(camera.height, camera.width, 3)}, "
                         f"got {background.shape}")
    hom = sheet_homography(sheet, pose, camera)
    frame = background.copy()
    cv2.warpPerspective(sheet.image, hom, (camera.width, camera.height), dst=frame,
                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    if sheet.glare is not None:
        quad = cv2.perspectiveTransform(sheet.corners[None], hom)[0]
        apply_glare(frame, sheet.glare, quad)
    if noise_sigma > 0:
        if rng is None:
            raise ValueError("noise_sigma > 0 needs an rng (numpy.random.Generator)")
        frame = add_sensor_noise(frame, noise_sigma, rng)
    return frame
