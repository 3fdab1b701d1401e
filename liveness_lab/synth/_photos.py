"""Real face photos shipped inside installed packages, and their 68 dlib landmarks.

Two photos are available offline: ``"grace_hopper"`` (matplotlib sample data)
and ``"astronaut"`` (scikit-image sample data); any other name is the path of
the user's own image file. The landmarks are computed once
per photo and per process with dlib's HOG face detector and the 68-point shape
predictor of ``face_recognition_models`` (located with
:func:`importlib.util.find_spec`, never imported: its ``__init__`` needs
``pkg_resources``).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AnalyzerUnavailableError

__all__ = ["PHOTO_NAMES", "load_photo", "photo_landmarks", "face_landmarks",
           "shape_predictor_path"]

#: names accepted by :func:`load_photo`
PHOTO_NAMES: tuple[str, ...] = ("grace_hopper", "astronaut")

_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def _check_name(name: str) -> None:
    if name not in PHOTO_NAMES and not Path(str(name)).is_file():
        raise ValueError(f"unknown photo {name!r}: give one of {', '.join(PHOTO_NAMES)} or the "
                         "path of an image file (JPEG, PNG) showing one face")


def _read_image_file(path: str) -> np.ndarray:
    import cv2

    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"photo {path}: not a readable image (JPEG, PNG, ...)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@functools.lru_cache(maxsize=8)
def load_photo(name: str) -> np.ndarray:
    """A face photo as a read-only RGB ``uint8`` array of shape ``(H, W, 3)``.

    Parameters
    ----------
    name:
        A shipped photo, ``"grace_hopper"`` (512 x 600) or ``"astronaut"``
        (512 x 512), or the path of your own image file.
    """
    _check_name(name)
    if name not in PHOTO_NAMES:
        rgb = _read_image_file(str(name))
    elif name == "grace_hopper":
        import cv2
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise AnalyzerUnavailableError(f"could not read matplotlib sample image {path}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        try:
            from skimage import data
        except ImportError as e:  # pragma: no cover - scikit-image is a dev dependency
            raise AnalyzerUnavailableError(
                "the 'astronaut' photo needs scikit-image (pip install scikit-image)") from e
        rgb = data.astronaut()
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    rgb.setflags(write=False)
    return rgb


def shape_predictor_path() -> Path:
    """Path of dlib's 68-point shape predictor shipped by ``face_recognition_models``."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise AnalyzerUnavailableError(
            "face_recognition_models is not installed (pip install face-recognition-models)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "models" / _PREDICTOR_FILE
        if path.is_file():
            return path
    raise AnalyzerUnavailableError(
        f"{_PREDICTOR_FILE} not found in face_recognition_models at "
        f"{list(spec.submodule_search_locations)}")


def face_landmarks(image: np.ndarray, predictor: Any = None) -> np.ndarray:
    """The 68 dlib landmarks of the most confident face in an RGB ``uint8`` image.

    ``predictor`` is a ``dlib.shape_predictor`` of the 68-point model; when
    ``None`` it is loaded for this call (about 0.4 s). For many images, load it
    once (``dlib.shape_predictor(str(shape_predictor_path()))``) and pass it.
    :func:`photo_landmarks` caches the result for the shipped photos.

    Returns
    -------
    numpy.ndarray
        ``(68, 2)`` float64 pixel coordinates ``(x, y)`` in dlib's iBUG order
        (0-16 jaw from the image's left, 27-35 nose, 30 the nose tip).

    Raises
    ------
    ValueError
        When no face is found.
    """
    import dlib

    img = np.ascontiguousarray(image, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {img.shape}")
    detector = dlib.get_frontal_face_detector()
    rects, scores, _ = detector.run(img, 1, 0.0)
    if len(rects) == 0:
        raise ValueError("no face found in the image")
    best = rects[int(np.argmax(scores))]
    if predictor is None:
        predictor = dlib.shape_predictor(str(shape_predictor_path()))
    shape = predictor(img, best)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


@functools.lru_cache(maxsize=8)
def photo_landmarks(name: str) -> np.ndarray:
    """The 68 landmarks of the face in photo ``name`` (a shipped name or an image path;
    read-only, cached per process). Raises ``ValueError`` naming the photo without a face."""
    _check_name(name)
    try:
        pts = face_landmarks(load_photo(name))
    except ValueError as e:
        raise ValueError(f"photo {name}: {e}") from None
    pts.setflags(write=False)
    return pts
