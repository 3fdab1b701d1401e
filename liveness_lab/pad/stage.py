"""The PAD stage: add ``LivenessLab.PadScore`` to the faces any analyzer returns.

::

    from liveness_lab.analyzers import create_analyzer
    from liveness_lab.pad import PadStage, load_default_model
    analyzer = PadStage(create_analyzer("rekognition"), load_default_model())
    faces = analyzer.analyze(jpeg_bytes)   # each face: extra["LivenessLab"]["PadScore"]

The crop is taken around the face's ``BoundingBox`` (or its landmarks when
there is no box). The stage keeps the inner analyzer's other fields and any
``LivenessLab`` entries it wrote (a descriptor, say).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..analyzers.base import FaceAnalyzer, ImageInput
from ..evidence import Evidence
from ..faces import FaceDetail, with_extension
from .features import face_crop
from .model import PadModel

__all__ = ["PadStage", "score_faces", "face_box_px", "with_extension"]


def face_box_px(face: FaceDetail, width: int, height: int
                ) -> tuple[float, float, float, float] | None:
    """``(left, top, right, bottom)`` pixels of the face's box, else of its landmarks."""
    if face.bounding_box is not None:
        b = face.bounding_box
        return (b.left * width, b.top * height, b.right * width, b.bottom * height)
    if face.landmarks:
        xs = [lm.x * width for lm in face.landmarks]
        ys = [lm.y * height for lm in face.landmarks]
        return (min(xs), min(ys), max(xs), max(ys))
    return None


def score_faces(rgb: np.ndarray, faces: Sequence[FaceDetail], model: PadModel
                ) -> list[FaceDetail]:
    """``faces`` with ``LivenessLab.PadScore`` (rounded to 4 decimals) where a crop exists."""
    h, w = rgb.shape[:2]
    out = []
    for face in faces:
        box = face_box_px(face, w, h)
        crop = face_crop(rgb, box) if box is not None else None
        if crop is None:
            out.append(face)
            continue
        out.append(with_extension(face, PadScore=round(model.score_crop(crop), 4)))
    return out


class PadStage(FaceAnalyzer):
    """Any analyzer plus the PAD baseline's score on each face it finds.

    Parameters
    ----------
    inner:
        The analyzer that finds the faces (local, rekognition...).
    model:
        The PAD model (:func:`~liveness_lab.pad.load_default_model`).
    """

    name = "pad"

    def __init__(self, inner: FaceAnalyzer, model: PadModel) -> None:
        if not callable(getattr(inner, "analyze", None)):
            raise ValueError(f"inner must be a face analyzer, got {type(inner).__name__}")
        if not isinstance(model, PadModel):
            raise ValueError(f"model must be a PadModel, got {type(model).__name__}")
        self.inner = inner
        self.model = model
        #: the inner analyzer's evidence plus the PAD score
        self.provides = frozenset(getattr(inner, "provides", frozenset())) | {Evidence.PAD_SCORE}
        self.can_provide = dict(getattr(inner, "can_provide", {}) or {})

    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """The inner analyzer's faces, each with ``LivenessLab.PadScore``."""
        from ..analyzers.images import to_rgb_array
        faces = self.inner.analyze(image)
        if not faces:
            return list(faces)
        return score_faces(to_rgb_array(image), faces, self.model)

    def config_fingerprint(self) -> str:
        """The inner analyzer's fingerprint plus the model's coefficients (hash)."""
        inner = getattr(self.inner, "config_fingerprint", lambda: type(self.inner).__name__)()
        return f"pad/{self.model.digest()}+{inner}"

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
