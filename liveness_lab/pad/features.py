"""Texture, frequency and colour features of a face crop, for the PAD baseline.

:func:`face_crop` cuts a square around a face box and resizes it to
:data:`CROP_SIZE`; :func:`texture_features` turns it into the fixed-length
vector :data:`FEATURE_NAMES` describes:

* local binary patterns (uniform, 8 neighbours at radius 1 and 2): the
  micro-texture that printing and re-imaging flatten;
* the share of spectral energy in 6 radial frequency bands and the
  peakiness of the highest bands (moire and screen pixel grids are periodic);
* sharpness (Laplacian variance), contrast and dynamic range, colour
  saturation (prints and screens wash colours out and lift the blacks).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["CROP_SIZE", "FEATURE_NAMES", "face_crop", "texture_features",
           "local_binary_pattern_uniform"]

CROP_SIZE = 96
_BANDS = (0.0, 0.05, 0.1, 0.18, 0.28, 0.4, 0.5)
FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"lbp1_{i}" for i in range(10)) + tuple(f"lbp2_{i}" for i in range(10))
    + tuple(f"band_{i}" for i in range(len(_BANDS) - 1))
    + ("peak_high", "peak_mid", "log_laplacian_var", "log_gray_std", "range_p1_p99",
       "dark_p1", "saturation_mean", "saturation_std", "log_channel_std_ratio"))


def face_crop(rgb: np.ndarray, box: Sequence[float], *, margin: float = 0.1) -> np.ndarray | None:
    """A ``CROP_SIZE`` square RGB crop around ``box`` = (left, top, right, bottom) pixels.

    The square has the box's larger side plus ``margin`` of it on each side,
    centred on the box; parts outside the image are filled by replicating the
    border. ``None`` for a degenerate box.
    """
    import cv2

    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top) * (1 + 2 * margin)
    if not math.isfinite(side) or side < 8:
        return None
    cx, cy = (left + right) / 2, (top + bottom) / 2
    scale = CROP_SIZE / side
    m = np.array([[scale, 0, CROP_SIZE / 2 - scale * cx],
                  [0, scale, CROP_SIZE / 2 - scale * cy]], dtype=np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(np.ascontiguousarray(rgb), m, (CROP_SIZE, CROP_SIZE), flags=interp,
                          borderMode=cv2.BORDER_REPLICATE)


def local_binary_pattern_uniform(gray: np.ndarray, radius: float, points: int = 8) -> np.ndarray:
    """Uniform local binary pattern codes (0..points + 1) of a grayscale image.

    The same definition as ``skimage.feature.local_binary_pattern(gray, points, radius,
    method="uniform")`` (neighbours bilinearly interpolated on a circle, zero outside the
    image; a pattern with at most two 0/1 changes along the circle's points - not wrapping
    around - is coded by its number of ones, any other by ``points + 1``), in numpy, so the
    PAD stage needs no scikit-image.
    """
    img = np.asarray(gray, dtype=np.float64)
    h, w = img.shape
    angles = 2 * np.pi * np.arange(points) / points
    rr = np.round(-radius * np.sin(angles), 5)
    cc = np.round(radius * np.cos(angles), 5)
    pad = int(math.ceil(radius)) + 1
    padded = np.pad(img, pad, mode="constant", constant_values=0.0)
    ys, xs = np.mgrid[0:h, 0:w]
    bits = []
    for dr, dc in zip(rr, cc):
        r, c = ys + dr + pad, xs + dc + pad
        r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
        fr, fc = r - r0, c - c0
        value = (padded[r0, c0] * (1 - fr) * (1 - fc) + padded[r0, c0 + 1] * (1 - fr) * fc
                 + padded[r0 + 1, c0] * fr * (1 - fc) + padded[r0 + 1, c0 + 1] * fr * fc)
        bits.append(value - img >= 0)
    stack = np.stack(bits)
    changes = (stack[:-1] != stack[1:]).sum(axis=0)
    return np.where(changes <= 2, stack.sum(axis=0), points + 1)


def _lbp_hist(gray: np.ndarray, radius: int) -> np.ndarray:
    codes = local_binary_pattern_uniform(gray, radius)
    hist = np.bincount(codes.astype(np.int64).ravel(), minlength=10)[:10].astype(float)
    return hist / max(hist.sum(), 1.0)


def _spectrum_features(gray: np.ndarray) -> list[float]:
    g = gray - gray.mean()
    win = np.outer(np.hanning(gray.shape[0]), np.hanning(gray.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(g * win))) ** 2
    h, w = power.shape
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    r = np.hypot(*np.meshgrid(fx, fy))
    total = power[r > 0].sum() or 1.0
    bands = [power[(r > a) & (r <= b)].sum() / total for a, b in zip(_BANDS, _BANDS[1:])]
    high = power[(r > 0.28) & (r <= 0.5)]
    mid = power[(r > 0.1) & (r <= 0.28)]
    peak_high = float(np.log1p(high.max() / (np.median(high) + 1e-9))) if high.size else 0.0
    peak_mid = float(np.log1p(mid.max() / (np.median(mid) + 1e-9))) if mid.size else 0.0
    return bands + [peak_high, peak_mid]


def texture_features(crop: np.ndarray) -> np.ndarray:
    """The feature vector (:data:`FEATURE_NAMES`) of an RGB ``uint8`` face crop."""
    import cv2

    if crop.ndim != 3 or crop.shape[2] != 3:
        raise ValueError(f"expected an RGB crop (H, W, 3), got shape {crop.shape}")
    rgb = np.ascontiguousarray(crop, dtype=np.uint8)
    gray8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gray = gray8.astype(np.float64)
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    p1, p99 = np.percentile(gray, [1, 99])
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float64)
    sat = hsv[..., 1] / 255.0
    chan_std = rgb.reshape(-1, 3).astype(np.float64).std(axis=0)
    feats = [*_lbp_hist(gray8, 1), *_lbp_hist(gray8, 2), *_spectrum_features(gray),
             math.log(lap.var() + 1.0), math.log(gray.std() + 1.0), (p99 - p1) / 255.0,
             p1 / 255.0, float(sat.mean()), float(sat.std()),
             math.log((chan_std.max() + 1.0) / (chan_std.min() + 1.0))]
    return np.asarray(feats, dtype=np.float64)
