"""Following faces through the frames of one video, for :class:`~.local.LocalAnalyzer`.

Kept apart from the analyzer because it is the only stateful part: an
analyzer's ``analyze()`` stays stateless, and each video gets its own
:class:`LocalFaceTracker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..faces import FaceDetail

if TYPE_CHECKING:  # pragma: no cover
    from .base import ImageInput
    from .local import LocalAnalyzer

__all__ = ["LocalFaceTracker", "iou"]

Rect = tuple[float, float, float, float]  # left, top, right, bottom in pixels

# A face found on a downscaled image is searched again in a window around it
# (WINDOW_MARGIN of its size on each side) scaled so that the face is about
# REFINE_FACE pixels wide: a tighter box and a truer score than the coarse
# detection, for a fraction of the cost of a full-resolution detection.
WINDOW_MARGIN = 0.4
REFINE_FACE = 140


def iou(a: Rect, b: Rect) -> float:
    """Intersection over union of two ``(left, top, right, bottom)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class LocalFaceTracker:
    """Follows the faces of one video through a :class:`~.local.LocalAnalyzer`, frame by frame.

    A full detection (on the downscaled frame, as in ``analyze()``) runs on
    the first frame, every ``redetect_interval`` frames and whenever a face is
    lost. In between, each face is searched only in a window around its box
    in the previous frame (the window scaled so the face is about 140 pixels
    wide, the same refinement ``analyze()`` applies to its coarse boxes), then
    the shape predictor fits its landmarks at full resolution. This skips the
    downscaled full-frame search, and the box follows the face instead of
    being re-estimated from scratch, so landmarks jitter less between frames.

    Each frame's ``Confidence`` is that frame's own detector score, so a face
    that leaves is dropped at once; a face that *enters* is found at the next
    full detection, at most ``redetect_interval - 1`` frames late.

    Not thread-safe: use one tracker per video stream, e.g. through
    :meth:`~.local.LocalAnalyzer.track`.
    """

    def __init__(self, analyzer: "LocalAnalyzer") -> None:
        from .local import LocalAnalyzer

        if not isinstance(analyzer, LocalAnalyzer):
            raise ValueError(f"analyzer must be a LocalAnalyzer, got {type(analyzer).__name__}")
        self._analyzer = analyzer
        self._rects: list[Rect] = []
        self._since_detection = 0
        #: full detections run so far (for diagnostics and benchmarks)
        self.detections = 0
        #: frames analyzed so far
        self.frames = 0

    def reset(self) -> None:
        """Forget the faces followed so far: the next frame runs a full detection."""
        self._rects = []
        self._since_detection = 0

    def update(self, image: "ImageInput") -> list[FaceDetail]:
        """Analyze the next frame of the video; returns its faces like ``analyze()`` does."""
        analyzer = self._analyzer
        rgb, gray = analyzer._prepare(image)
        self.frames += 1
        found = None
        if self._rects and self._since_detection + 1 < analyzer.config.redetect_interval:
            found = self._follow(rgb)
        if found is None:
            found = analyzer._detect(rgb)
            self.detections += 1
            self._since_detection = 0
        else:
            self._since_detection += 1
        self._rects = [rect for rect, _ in found]
        return [analyzer._face(rgb, gray, rect, score) for rect, score in found]

    def _follow(self, rgb: np.ndarray) -> list[tuple[Rect, float]] | None:
        """Every followed face found again near its last box; ``None`` when one is lost."""
        found: list[tuple[Rect, float]] = []
        for rect in self._rects:
            hit = self._analyzer._detect_near(rgb, rect, REFINE_FACE)
            if hit is None:
                return None
            if all(iou(hit[0], other) <= 0.5 for other, _ in found):
                found.append(hit)
        return found
