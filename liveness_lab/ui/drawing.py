"""Pictures for the studio: landmarks drawn on frames, and the requested POSE as a drawing.

* :func:`draw_frame` draws a frame's faces (box, the 30 landmarks, the nose,
  the pupils) and the challenge's boxes (NOSE area box and nose target) on the
  frame's image, or on a blank canvas for trace-only sessions;
* :func:`pose_svg` draws the eyes / mouth pose a POSE challenge asks for, as an
  SVG, with :func:`pose_instructions` in words.

No Streamlit here; images are RGB ``uint8`` arrays.
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np

from ..faces import FaceDetail

__all__ = ["decode_jpeg", "cover_resize", "blank_canvas", "draw_frame", "pose_svg", "pose_instructions",
           "encode_jpeg"]

_WHITE = (255, 255, 255)
_YELLOW = (255, 214, 0)
_CYAN = (0, 220, 255)
_RED = (255, 64, 64)
_MAGENTA = (255, 0, 200)


def decode_jpeg(data: bytes) -> np.ndarray:
    """An RGB ``uint8`` array from JPEG / PNG bytes; ``ValueError`` if they do not decode."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise ValueError("the image bytes do not decode as JPEG or PNG")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB ``uint8`` array."""
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 image
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def blank_canvas(width: int, height: int) -> np.ndarray:
    """A dark canvas with a faint 40-pixel grid, for sessions without images."""
    if width <= 0 or height <= 0:
        raise ValueError(f"canvas size must be positive, got {width} x {height}")
    img = np.full((int(height), int(width), 3), 28, np.uint8)
    img[::40, :, :] = 48
    img[:, ::40, :] = 48
    return img


def _box(img: np.ndarray, left: float, top: float, right: float, bottom: float,
         color: tuple[int, int, int], thickness: int = 2, fill_alpha: float = 0.0) -> None:
    import cv2

    p1, p2 = (int(round(left)), int(round(top))), (int(round(right)), int(round(bottom)))
    if fill_alpha > 0:
        overlay = img.copy()
        cv2.rectangle(overlay, p1, p2, color, -1)
        cv2.addWeighted(overlay, fill_alpha, img, 1 - fill_alpha, 0, dst=img)
    cv2.rectangle(img, p1, p2, color, thickness, cv2.LINE_AA)


def cover_resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``rgb`` to cover ``width`` x ``height`` and centre-crop it (what the capture does).

    >>> cover_resize(np.zeros((240, 320, 3), np.uint8), 480, 480).shape
    (480, 480, 3)
    """
    import cv2

    if width < 1 or height < 1:
        raise ValueError(f"width and height must be positive, got {width} x {height}")
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, int(round(w * scale))), max(height, int(round(h * scale)))
    resized = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1
                         else cv2.INTER_LINEAR)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def draw_frame(image: np.ndarray | bytes | None, faces: Sequence[FaceDetail] | None,
               params: Mapping[str, Any], *, landmarks: bool = True) -> np.ndarray:
    """The frame with the challenge's boxes and the faces drawn on it.

    Parameters
    ----------
    image:
        RGB array, JPEG bytes, or ``None`` for a blank canvas of the params' size.
    faces:
        The frame's faces (``None``: not analyzed, nothing drawn).
    params:
        Challenge params; ``imageWidth`` / ``imageHeight`` give the canvas size,
        the NOSE keys the white area box and the yellow nose target.
    landmarks:
        Draw the landmarks (the face box is always drawn).

    Returns
    -------
    numpy.ndarray
        A new RGB ``uint8`` image.
    """
    import cv2

    if image is None:
        img = blank_canvas(int(params.get("imageWidth") or 640),
                           int(params.get("imageHeight") or 480))
    elif isinstance(image, (bytes, bytearray, memoryview)):
        img = decode_jpeg(bytes(image))
    else:
        img = np.array(image, dtype=np.uint8, copy=True)
    h, w = img.shape[:2]
    # the params' coordinates are pixels of imageWidth x imageHeight; scale if the image differs
    sx = w / float(params.get("imageWidth") or w)
    sy = h / float(params.get("imageHeight") or h)
    if all(k in params for k in ("areaLeft", "areaTop", "areaWidth", "areaHeight")):
        _box(img, params["areaLeft"] * sx, params["areaTop"] * sy,
             (params["areaLeft"] + params["areaWidth"]) * sx,
             (params["areaTop"] + params["areaHeight"]) * sy, _WHITE, 2)
    if all(k in params for k in ("noseLeft", "noseTop", "noseWidth", "noseHeight")):
        _box(img, params["noseLeft"] * sx, params["noseTop"] * sy,
             (params["noseLeft"] + params["noseWidth"]) * sx,
             (params["noseTop"] + params["noseHeight"]) * sy, _YELLOW, 2, fill_alpha=0.45)
    r = max(2, int(round(min(w, h) / 240)))
    for face in faces or ():
        if face.bounding_box is not None:
            left, top, bw, bh = face.bounding_box.to_pixels(w, h)
            _box(img, left, top, left + bw, top + bh, _CYAN, 1)
        if not landmarks:
            continue
        for lm in face.landmarks:
            x, y = int(round(lm.x * w)), int(round(lm.y * h))
            if lm.type == "nose":
                cv2.circle(img, (x, y), r + 3, _RED, -1, cv2.LINE_AA)
            elif lm.type in ("leftPupil", "rightPupil"):
                cv2.circle(img, (x, y), r + 1, _MAGENTA, -1, cv2.LINE_AA)
            else:
                cv2.circle(img, (x, y), r, _CYAN, -1, cv2.LINE_AA)
    return img


_EYES_TEXT = {"OPEN": "eyes open, looking at the camera",
              "CLOSED": "eyes closed",
              # LOOKING_LEFT: the pupils sit near the eye corners on the image's left side,
              # i.e. the person looks toward their own right - the right side of the screen.
              "LOOKING_LEFT": "eyes open, looking toward the right edge of your screen",
              "LOOKING_RIGHT": "eyes open, looking toward the left edge of your screen"}
_MOUTH_TEXT = {"CLOSED": "mouth closed, no smile", "SMILE": "a big smile, mouth open"}


def pose_instructions(eyes: str, mouth: str) -> str:
    """The requested POSE in words, e.g. ``"Eyes closed; mouth closed, no smile."``.

    >>> pose_instructions("CLOSED", "SMILE")
    'Eyes closed; a big smile, mouth open.'
    """
    try:
        e, m = _EYES_TEXT[eyes], _MOUTH_TEXT[mouth]
    except KeyError:
        raise ValueError(f"unknown pose eyes={eyes!r} mouth={mouth!r}; eyes: "
                         f"{', '.join(_EYES_TEXT)}; mouth: {', '.join(_MOUTH_TEXT)}") from None
    return f"{e[0].upper()}{e[1:]}; {m}."


def pose_svg(eyes: str, mouth: str, *, mirror: bool = True, size: int = 220) -> str:
    """An SVG drawing of the requested POSE (a face with those eyes and mouth).

    ``mirror`` draws it as the mirrored camera preview shows the person, so
    looking "left" in image terms puts the pupils on the drawing's right.
    """
    pose_instructions(eyes, mouth)  # validates the names
    shift = {"LOOKING_LEFT": -9, "LOOKING_RIGHT": 9}.get(eyes, 0)
    if mirror:
        shift = -shift
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="{size}" '
             f'height="{size}" role="img" aria-label="{html.escape(pose_instructions(eyes, mouth))}">',
             '<circle cx="100" cy="100" r="88" fill="#ffd58a" stroke="#6b4a1f" stroke-width="4"/>']
    for cx in (68, 132):
        if eyes == "CLOSED":
            parts.append(f'<path d="M{cx - 18} 82 Q{cx} 96 {cx + 18} 82" fill="none" '
                         'stroke="#3b2a14" stroke-width="5" stroke-linecap="round"/>')
        else:
            parts.append(f'<ellipse cx="{cx}" cy="82" rx="20" ry="14" fill="#fff" '
                         'stroke="#3b2a14" stroke-width="3"/>')
            parts.append(f'<circle cx="{cx + shift}" cy="82" r="7" fill="#1d3557"/>')
    if mouth == "SMILE":
        parts.append('<path d="M56 128 Q100 178 144 128 Z" fill="#8b1e2d" stroke="#3b2a14" '
                     'stroke-width="4" stroke-linejoin="round"/>')
        parts.append('<path d="M64 131 L136 131 L130 140 L70 140 Z" fill="#fff"/>')
    else:
        parts.append('<path d="M70 140 L130 140" stroke="#3b2a14" stroke-width="5" '
                     'stroke-linecap="round"/>')
    parts.append("</svg>")
    return "".join(parts)
