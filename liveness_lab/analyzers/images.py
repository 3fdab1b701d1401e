"""Decode and validate the images that analyzers receive.

Analyzers accept JPEG/PNG bytes or ``uint8`` numpy arrays (see
:mod:`liveness_lab.analyzers.base`). This module turns either into one
C-contiguous ``uint8`` RGB array of shape ``(H, W, 3)``, or raises
:class:`~liveness_lab.errors.InvalidImageError` with a sentence saying what
was wrong.

Decompression bombs are refused before any pixel is allocated: the image
dimensions are read from the JPEG frame header (SOF marker) or the PNG
``IHDR`` chunk, and checked against ``max_pixels``, before OpenCV decodes.

OpenCV is imported on first decode, not when this module is imported.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..errors import InvalidImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "image_format",
    "image_size",
    "decode_image",
    "to_rgb_array",
]

#: Largest image (width x height) decoded by default: 25 megapixels, about
#: 75 MB as RGB. Webcam frames are far below; a 15 MiB JPEG can claim far more.
DEFAULT_MAX_PIXELS = 25_000_000

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, extended, progressive, lossless...);
# C4 (DHT), C8 (JPG) and CC (DAC) are not frame headers.
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7,
                          0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise InvalidImageError(
        f"image data must be JPEG or PNG bytes, got {type(data).__name__}")


def image_format(data: bytes | bytearray | memoryview) -> str:
    """``"jpeg"`` or ``"png"`` from the file signature.

    Raises :class:`~liveness_lab.errors.InvalidImageError` for empty data or
    any other signature.
    """
    data = _as_bytes(data)
    if not data:
        raise InvalidImageError("the image is empty (0 bytes)")
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    raise InvalidImageError(
        f"not a JPEG or PNG image: the {len(data)} bytes start with {data[:8]!r}")


def _png_size(data: bytes) -> tuple[int, int]:
    # signature (8) + chunk length (4) + b"IHDR" (4) + width (4) + height (4)
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise InvalidImageError("truncated or malformed PNG: no IHDR header chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_segments(data: bytes, start: int = 2):
    """Yield ``(marker, offset_of_length_field)`` for each JPEG header segment from ``start``.

    Stops after yielding the start-of-scan (0xDA) segment; raises
    :class:`InvalidImageError` when the data ends first or is malformed.
    """
    i = start
    n = len(data)
    while True:
        if i >= n:
            raise InvalidImageError("truncated JPEG: the data ends inside the headers")
        if data[i] != 0xFF:
            raise InvalidImageError(f"malformed JPEG: expected a marker at byte {i}")
        while i < n and data[i] == 0xFF:  # fill bytes may precede a marker
            i += 1
        if i >= n:
            raise InvalidImageError("truncated JPEG: the data ends inside the headers")
        marker = data[i]
        i += 1
        if marker in _STANDALONE_MARKERS:
            continue
        if marker == 0xD9:
            raise InvalidImageError("malformed JPEG: end-of-image marker before any image data")
        if i + 2 > n:
            raise InvalidImageError("truncated JPEG: the data ends inside a header segment")
        (length,) = struct.unpack(">H", data[i:i + 2])
        if length < 2:
            raise InvalidImageError(f"malformed JPEG: segment length {length} at byte {i}")
        yield marker, i
        if marker == 0xDA:
            return
        i += length


def _jpeg_size(data: bytes) -> tuple[int, int]:
    for marker, i in _jpeg_segments(data):
        if marker in _SOF_MARKERS:
            if i + 7 > len(data):
                raise InvalidImageError("truncated JPEG: the data ends inside the frame header")
            height, width = struct.unpack(">HH", data[i + 3:i + 7])
            return width, height
        if marker == 0xDA:
            break
    raise InvalidImageError("malformed JPEG: no frame header (SOF) before the image data")


def image_size(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``(width, height)`` read from the JPEG/PNG header, without decoding pixels.

    Raises
    ------
    InvalidImageError
        For data that is neither JPEG nor PNG, or whose header is truncated or
        malformed.

    Examples
    --------
    >>> png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + (640).to_bytes(4, "big") \\
    ...     + (480).to_bytes(4, "big")
    >>> image_size(png)
    (640, 480)
    """
    data = _as_bytes(data)
    kind = image_format(data)
    return _png_size(data) if kind == "png" else _jpeg_size(data)


def _check_complete(data: bytes, kind: str) -> None:
    """Refuse data cut short: a JPEG needs its end-of-image marker, a PNG its IEND chunk."""
    if kind == "png":
        if data.rfind(b"IEND") == -1:
            raise InvalidImageError("truncated PNG: no IEND chunk (the file was cut short)")
        return
    # The main image's first scan starts after the header segments (an EXIF
    # thumbnail, with its own markers, sits inside an APP1 segment and is
    # skipped). In entropy-coded data a 0xFF byte is followed by 0x00 or a
    # restart marker, so the end-of-image marker (FF D9) cannot appear early.
    sos = None
    for marker, i in _jpeg_segments(data):
        if marker == 0xDA:
            sos = i
    if sos is None or data.find(b"\xff\xd9", sos) == -1:
        raise InvalidImageError("truncated JPEG: no end-of-image marker (the file was cut short)")


def decode_image(data: bytes | bytearray | memoryview, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode JPEG or PNG bytes into an RGB ``uint8`` array of shape ``(H, W, 3)``.

    The dimensions are read from the header and checked before decoding, so a
    small file that claims a huge image is refused without allocating it.
    Grayscale images come back with three equal channels, an alpha channel is
    dropped, 16-bit PNG samples are scaled to 8 bits, and a JPEG EXIF
    orientation is applied (as OpenCV does by default).

    Parameters
    ----------
    data:
        The encoded image.
    max_pixels:
        Largest accepted ``width * height``.

    Raises
    ------
    InvalidImageError
        For empty data, another format, a malformed or truncated file, an
        image larger than ``max_pixels`` or data that OpenCV cannot decode.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    data = _as_bytes(data)
    kind = image_format(data)
    width, height = _png_size(data) if kind == "png" else _jpeg_size(data)
    if width == 0 or height == 0:
        raise InvalidImageError(f"the {kind.upper()} header declares an empty image "
                                f"({width} x {height} pixels)")
    if width * height > max_pixels:
        raise InvalidImageError(
            f"the {kind.upper()} image is {width} x {height} pixels "
            f"({width * height:,}); at most {max_pixels:,} pixels are accepted")
    _check_complete(data, kind)

    import cv2  # heavy import, only when something is decoded

    buf = np.frombuffer(data, dtype=np.uint8)
    flag = getattr(cv2, "IMREAD_COLOR_RGB", None)
    try:
        decoded = cv2.imdecode(buf, flag if flag is not None else cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise InvalidImageError(f"OpenCV could not decode the {kind.upper()} image: "
                                f"{str(e).strip().splitlines()[-1]}") from None
    if decoded is None or decoded.size == 0:
        raise InvalidImageError(f"the {kind.upper()} image could not be decoded "
                                "(corrupt or unsupported data)")
    if flag is None:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(decoded)


def to_rgb_array(image: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Any accepted analyzer input as a C-contiguous RGB ``uint8`` array ``(H, W, 3)``.

    Parameters
    ----------
    image:
        JPEG/PNG bytes (``bytes``, ``bytearray`` or ``memoryview``), or a
        ``uint8`` array of shape ``(H, W, 3)`` in RGB order, ``(H, W)`` or
        ``(H, W, 1)`` grayscale. Arrays are not copied when they already
        qualify (a C-contiguous RGB array is returned as is).
    max_pixels:
        Largest accepted ``H * W`` for encoded images and arrays.

    Raises
    ------
    InvalidImageError
        For bytes that :func:`decode_image` refuses, arrays of another dtype or
        shape, empty arrays, or any other type.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(image, max_pixels=max_pixels)
    if not isinstance(image, np.ndarray):
        hint = " (to analyze a file, pass its bytes: Path(p).read_bytes())" \
            if isinstance(image, str) or hasattr(image, "__fspath__") else ""
        raise InvalidImageError(
            f"an image must be JPEG/PNG bytes or a uint8 numpy array, "
            f"got {type(image).__name__}{hint}")
    if image.dtype != np.uint8:
        raise InvalidImageError(
            f"an image array must have dtype uint8 (0..255), got {image.dtype}; "
            "scale it to 0..255 and convert it with .astype(np.uint8)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim != 3 or image.shape[2] != 3:
        extra = "; drop the alpha channel with image[..., :3]" \
            if image.ndim == 3 and image.shape[2] == 4 else ""
        raise InvalidImageError(
            f"an image array must have shape (H, W, 3) RGB or (H, W) grayscale, "
            f"got {image.shape}{extra}")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise InvalidImageError(f"an image array must not be empty, got shape {image.shape}")
    if height * width > max_pixels:
        raise InvalidImageError(f"the image array is {width} x {height} pixels; "
                                f"at most {max_pixels:,} pixels are accepted")
    return np.ascontiguousarray(image)
