"""Video files that Chromium plays as a fake webcam.

Chromium and Chrome accept ``--use-fake-device-for-media-stream
--use-file-for-fake-video-capture=PATH`` with two kinds of file:

* ``.y4m`` (YUV4MPEG2): a one-line header such as
  ``YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg`` and then, per frame,
  ``FRAME`` + newline + the Y, U and V planes of an I420 (4:2:0) image. The
  frame rate comes from the header (Chromium keeps its integer part). Written
  by :func:`write_y4m`, read back by :func:`read_y4m`.
* ``.mjpeg``: JPEG images one after the other. Chromium plays these at a
  fixed 30 frames per second, so :func:`write_mjpeg` repeats each frame to
  keep the session's timing.

Both loop at the end of the file. Colours are BT.601 limited range (what
Chromium assumes for I420). Files are written atomically: a failed write
leaves no file behind.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np

__all__ = ["write_y4m", "read_y4m", "write_mjpeg", "Y4MHeader", "CHROMIUM_MJPEG_FPS",
           "rgb_to_i420", "i420_to_rgb"]

#: the frame rate at which Chromium plays a ``.mjpeg`` fake capture file
CHROMIUM_MJPEG_FPS = 30


class Y4MHeader(NamedTuple):
    """The parsed stream header of a Y4M file."""

    width: int
    height: int
    fps: Fraction
    colorspace: str


def _rational(fps: float | Fraction) -> Fraction:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)):
        raise ValueError(f"fps must be a number, got {fps!r}")
    r = Fraction(fps).limit_denominator(1001)
    if r <= 0 or r > 1000:
        raise ValueError(f"fps must be in (0, 1000], got {fps!r}")
    return r


def _check_frame(frame: np.ndarray, i: int, size: tuple[int, int] | None) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] != 3:
        raise ValueError(f"frame {i}: expected an RGB uint8 array (H, W, 3), got "
                         f"{getattr(frame, 'dtype', type(frame).__name__)} "
                         f"{getattr(frame, 'shape', '')}")
    h, w = frame.shape[:2]
    if size is not None and (w, h) != size:
        raise ValueError(f"frame {i}: size {w}x{h} differs from the first frame's "
                         f"{size[0]}x{size[1]}")


class _AtomicFile:
    """Write to a temporary file next to ``path``; rename on success, delete on error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():  # a FIFO or device: write in place
            self.tmp = None
            self.fh = self.path.open("wb")
            return self.fh
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        self.fh = self.tmp.open("wb")
        return self.fh

    def __exit__(self, exc_type, exc, tb) -> None:
        self.fh.close()
        if self.tmp is None:
            return
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` (H, W, 3), H and W even, to planar I420 bytes: ``(H * 3 // 2, W)`` uint8.

    BT.601 limited range; the chroma of each 2 x 2 block is its average
    (centred siting, as ``C420jpeg`` says).
    """
    import cv2

    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"4:2:0 video needs an even width and height, got {w}x{h}")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


def i420_to_rgb(planes: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rgb_to_i420`: ``(H * 3 // 2, W)`` uint8 to RGB ``(H, W, 3)``."""
    import cv2

    return cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420)


def write_y4m(path: str | os.PathLike, frames_rgb: Iterable[np.ndarray],
              fps: float | Fraction) -> Path:
    """Write RGB frames as a YUV4MPEG2 (``.y4m``) 4:2:0 video.

    Parameters
    ----------
    path:
        Output file; Chromium needs the ``.y4m`` suffix to recognise it.
    frames_rgb:
        RGB ``uint8`` frames ``(H, W, 3)``, all the same size, even width and
        height.
    fps:
        Frames per second (a rational such as ``Fraction(30000, 1001)`` is kept
        exactly in the header).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    rate = _rational(fps)
    p = Path(path)
    size = None
    count = 0
    with _AtomicFile(p) as fh:
        for i, frame in enumerate(frames_rgb):
            _check_frame(frame, i, size)
            if size is None:
                size = (frame.shape[1], frame.shape[0])
                header = (f"YUV4MPEG2 W{size[0]} H{size[1]} F{rate.numerator}:{rate.denominator}"
                          f" Ip A1:1 C420jpeg\n")
                fh.write(header.encode("ascii"))
            fh.write(b"FRAME\n")
            fh.write(rgb_to_i420(frame).tobytes())
            count += 1
        if count == 0:
            raise ValueError("no frames to write")
    return p


def read_y4m(path: str | os.PathLike) -> tuple[Y4MHeader, list[np.ndarray]]:
    """Read a 4:2:0 Y4M file: its header and its frames as RGB ``uint8`` arrays.

    Accepts the ``C420``, ``C420jpeg``, ``C420mpeg2`` and ``C420paldv`` chroma
    tags (and none, meaning 4:2:0) and frame headers with parameters.
    """
    data = Path(path).read_bytes()
    end = data.find(b"\n")
    if not data.startswith(b"YUV4MPEG2 ") or end < 0:
        raise ValueError(f"{path}: not a YUV4MPEG2 file (no 'YUV4MPEG2 ' header line)")
    width = height = None
    fps = Fraction(25)
    colour = "420jpeg"
    for token in data[:end].decode("ascii").split()[1:]:
        tag, value = token[0], token[1:]
        if tag == "W":
            width = int(value)
        elif tag == "H":
            height = int(value)
        elif tag == "F":
            num, _, den = value.partition(":")
            fps = Fraction(int(num), int(den or 1))
        elif tag == "C":
            colour = value
    if width is None or height is None:
        raise ValueError(f"{path}: the header has no W or H tag")
    if not colour.startswith("420"):
        raise ValueError(f"{path}: only 4:2:0 chroma is supported, the header says C{colour}")
    frame_bytes = width * height * 3 // 2
    frames = []
    pos = end + 1
    while pos < len(data):
        if data[pos:pos + 5] != b"FRAME":
            raise ValueError(f"{path}: expected 'FRAME' at byte {pos}")
        nl = data.find(b"\n", pos)
        if nl < 0 or nl + 1 + frame_bytes > len(data):
            raise ValueError(f"{path}: frame {len(frames)} is truncated")
        planes = np.frombuffer(data, np.uint8, frame_bytes, nl + 1)
        frames.append(i420_to_rgb(planes.reshape(height * 3 // 2, width)))
        pos = nl + 1 + frame_bytes
    return Y4MHeader(width, height, fps, colour), frames


def write_mjpeg(path: str | os.PathLike, frames_rgb: Iterable[np.ndarray], fps: float, *,
                playback_fps: int = CHROMIUM_MJPEG_FPS, quality: int = 90) -> Path:
    """Write RGB frames as concatenated JPEGs (``.mjpeg``).

    Chromium plays such a file at ``playback_fps`` (30); each frame is written
    ``round(playback_fps / fps)`` times (at least once) so that a session at
    ``fps`` keeps its pace. Pass ``playback_fps=fps`` to write each frame once.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import cv2

    rate = _rational(fps)
    if isinstance(playback_fps, bool) or not isinstance(playback_fps, (int, float, Fraction)) \
            or playback_fps <= 0:
        raise ValueError(f"playback_fps must be a positive number, got {playback_fps!r}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer 1..100, got {quality!r}")
    repeat = max(1, round(float(Fraction(playback_fps) / rate)))
    p = Path(path)
    size = None
    count = 0
    with _AtomicFile(p) as fh:
        for i, frame in enumerate(frames_rgb):
            _check_frame(frame, i, size)
            size = (frame.shape[1], frame.shape[0])
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:  # pragma: no cover - cv2 encodes any uint8 image
                raise ValueError(f"frame {i}: JPEG encoding failed")
            fh.write(buf.tobytes() * repeat)
            count += 1
        if count == 0:
            raise ValueError("no frames to write")
    return p
