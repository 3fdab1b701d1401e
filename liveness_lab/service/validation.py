"""Input validation of the challenge service: numbers, JSON bodies, frames, faces.

Every function here turns untrusted request data into a checked value or raises
:class:`~liveness_lab.service.errors.BadRequest` with a sentence naming the field
and what was expected. Nothing here knows about HTTP routes or storage.

Numbers follow **one strict rule**: a JSON integer, an integral JSON float, or a
string of ASCII digits with at most one leading sign (``"640"``, ``"-3"``), at
most :data:`MAX_INT_DIGITS` digits. ``"²"``, ``"+-640"``, ``"--123"``, Arabic-Indic
digits, booleans and fractions are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import FaceFormatError, InvalidImageError
from ..faces import FaceDetail, faces_from_rekognition
from .errors import BadRequest

__all__ = ["parse_int", "parse_json_body", "require_object", "decode_frame", "DecodedFrame",
           "parse_faces", "check_path_id", "check_frame_size", "MAX_INT_DIGITS", "MAX_FACES_PER_FRAME",
           "MAX_ID_LENGTH"]

#: Longest decimal integer accepted anywhere (a timestamp in ms has 13 digits).
MAX_INT_DIGITS = 20
#: Most faces a frame may carry in a request (recorded analyzer).
MAX_FACES_PER_FRAME = 100
#: Longest challenge id in a path (a UUID has 36 characters).
MAX_ID_LENGTH = 128

_INT = re.compile(r"[+-]?[0-9]{1,%d}" % MAX_INT_DIGITS, re.ASCII)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,%d}" % (MAX_ID_LENGTH - 1), re.ASCII)


def _refuse(name: str, value: Any) -> BadRequest:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return BadRequest(f"Invalid {name}: expected an integer, got {shown}")


def parse_int(value: Any, name: str, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as an int under the service's one strict rule, or :class:`BadRequest`.

    >>> parse_int("640", "imageWidth")
    640
    >>> parse_int(640.0, "imageWidth")
    640
    """
    if isinstance(value, bool) or value is None:
        raise _refuse(name, value)
    if isinstance(value, int):
        if abs(value) >= 10 ** MAX_INT_DIGITS:
            raise BadRequest(f"Invalid {name}: more than {MAX_INT_DIGITS} digits")
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer() and abs(value) < 10 ** MAX_INT_DIGITS):
            raise _refuse(name, value)
        number = int(value)
    elif isinstance(value, str):
        text = value.strip(" ")
        if not _INT.fullmatch(text):
            raise _refuse(name, value)
        number = int(text)
    else:
        raise _refuse(name, value)
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise BadRequest(f"Invalid {name}: must be between {minimum} and {maximum}, got {number}")
    return number


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def parse_json_body(raw: bytes) -> Any:
    """The JSON document in ``raw``; every decoding problem is a :class:`BadRequest`.

    Integers longer than :data:`MAX_INT_DIGITS` digits, ``NaN``/``Infinity``,
    invalid UTF-8 and nesting too deep are refused like malformed JSON.
    """
    if not raw:
        raise BadRequest("the request needs a JSON body")
    try:
        return json.loads(raw, parse_int=_strict_json_int, parse_constant=_no_constant)
    except BadRequest:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError):
        # json.JSONDecodeError is a ValueError; so is Python's int-digits limit
        raise BadRequest("the request body is not valid JSON") from None


def _strict_json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequest(f"the request body holds an integer of {len(text)} digits; at most "
                         f"{MAX_INT_DIGITS} are accepted")
    return int(text)


def require_object(body: Any) -> dict[str, Any]:
    """``body`` if it is a JSON object, else :class:`BadRequest`."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def check_path_id(challenge_id: Any) -> str:
    """A challenge id from a URL path, or :class:`BadRequest` (too long or odd characters)."""
    if not isinstance(challenge_id, str) or len(challenge_id) > MAX_ID_LENGTH \
            or not _ID.fullmatch(challenge_id):
        raise BadRequest(f"Invalid challenge id: expected at most {MAX_ID_LENGTH} letters, "
                         "digits, '-' or '_'")
    return challenge_id


@dataclass(frozen=True)
class DecodedFrame:
    """A validated JPEG frame: its bytes and pixel size."""

    data: bytes
    width: int
    height: int


def decode_frame(frame_base64: Any, *, max_bytes: int, max_pixels: int) -> DecodedFrame:
    """Validate a base64 JPEG frame: size, format, header, complete decode.

    The pixel count is checked from the header first (decompression bombs are
    refused before anything is allocated); then the whole entropy-coded stream
    is decoded, at 1/8 scale (libjpeg's DCT scaling still reads every
    coefficient, so a corrupt or truncated file is refused, while the memory is
    1/64 of a full decode). Raises :class:`BadRequest` with the original
    framework's messages ("Image size too large", "Image must be JPEG") or a
    more precise one.
    """
    from ..analyzers.images import image_format, image_size

    if not isinstance(frame_base64, str) or not frame_base64:
        raise BadRequest("Invalid Image: frameBase64 must be a non-empty base64 string")
    if len(frame_base64) > 4 * math.ceil(max_bytes / 3) + 4:
        raise BadRequest("Image size too large")
    try:
        data = base64.b64decode(frame_base64, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Invalid Image: frameBase64 is not valid base64") from None
    if len(data) > max_bytes:
        raise BadRequest("Image size too large")
    try:
        if image_format(data) != "jpeg":
            raise BadRequest("Image must be JPEG")
        width, height = image_size(data)
    except InvalidImageError as e:
        if not data.startswith(b"\xff\xd8\xff"):
            raise BadRequest("Image must be JPEG") from None
        raise BadRequest(f"Invalid Image: {e}") from None
    if width == 0 or height == 0:
        raise BadRequest(f"Invalid Image: the JPEG header declares an empty image ({width} x "
                         f"{height} pixels)")
    if width * height > max_pixels:
        raise BadRequest(f"Invalid Image: the JPEG image is {width} x {height} pixels "
                         f"({width * height:,}); at most {max_pixels:,} pixels are accepted")
    width, height = _decode_reduced(data, width, height)
    return DecodedFrame(data, width, height)


def _decode_reduced(data: bytes, width: int, height: int) -> tuple[int, int]:
    """Decode ``data`` completely at 1/8 scale; the frame's size after EXIF orientation."""
    import cv2
    import numpy as np

    if data.rfind(b"\xff\xd9") == -1:
        raise BadRequest("Invalid Image: truncated JPEG: no end-of-image marker (the file was "
                         "cut short)")
    try:
        small = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except cv2.error:
        small = None
    if small is None or small.size == 0:
        raise BadRequest("Invalid Image: the JPEG image could not be decoded (corrupt or "
                         "unsupported data)")
    rows, cols = small.shape[:2]
    upright = (math.ceil(height / 8), math.ceil(width / 8))
    if (rows, cols) != upright and (rows, cols) == upright[::-1]:
        return height, width  # EXIF orientation turned it by 90 degrees, as the analyzer will
    return width, height


#: Smallest frame side accepted, pixels.
MIN_FRAME_SIDE = 32
#: Largest relative difference between a frame's aspect ratio and the declared one.
ASPECT_TOLERANCE = 0.02


def check_frame_size(frame: DecodedFrame, params: Any) -> None:
    """Refuse a frame whose pixel size does not fit the challenge's ``imageWidth`` x ``imageHeight``.

    The challenge's areas and targets are placed in those pixels. A frame must
    have that size, or be that frame scaled down uniformly (the same aspect
    ratio within 2 %, no side under :data:`MIN_FRAME_SIDE` pixels): the face
    geometry is measured in ratios of the image, so a uniform scale changes
    nothing, while a 1x1 image, a crop or another camera's frame is refused.
    """
    try:
        width, height = int(params["imageWidth"]), int(params["imageHeight"])
    except (KeyError, TypeError, ValueError):
        return  # a custom type without image size: nothing to compare with
    if width <= 0 or height <= 0:
        return
    w, h = frame.width, frame.height
    fits = (w <= width and h <= height and min(w, h) >= min(MIN_FRAME_SIDE, width, height)
            and abs((w / h) / (width / height) - 1.0) <= ASPECT_TOLERANCE)
    if not fits:
        raise BadRequest(f"Invalid Image: the frame is {w}x{h} pixels but the challenge was "
                         f"created for imageWidth x imageHeight = {width}x{height} (send "
                         "frames of that size, or scaled down uniformly)")


def parse_faces(faces: Any) -> tuple[FaceDetail, ...]:
    """A request's ``faces`` (a Rekognition ``FaceDetails`` list), or :class:`BadRequest`."""
    if not isinstance(faces, list) or len(faces) > MAX_FACES_PER_FRAME:
        raise BadRequest(f"faces must be a list of at most {MAX_FACES_PER_FRAME} "
                         "Rekognition FaceDetail objects")
    try:
        return faces_from_rekognition(faces)
    except (FaceFormatError, TypeError, ValueError) as e:
        raise BadRequest(f"Invalid faces: {e}"[:500]) from None
