"""The face analyzer interface: an image in, Rekognition-shaped faces out.

An analyzer is anything with ``name``, ``config_fingerprint()`` and
``analyze(image)``; :class:`FaceAnalyzer` adds a default ``analyze_batch``.
Analyzers know nothing of challenges, sessions or storage.

Images are JPEG/PNG bytes or a ``uint8`` numpy array of shape ``(H, W, 3)``
in **RGB** order (or ``(H, W)`` grayscale).
"""

from __future__ import annotations

import abc
from typing import ClassVar, Iterable, Mapping, Sequence, Union

import numpy as np

from ..evidence import Evidence
from ..faces import FaceDetail

ImageInput = Union[bytes, bytearray, memoryview, np.ndarray]

__all__ = ["FaceAnalyzer", "ImageInput"]


class FaceAnalyzer(abc.ABC):
    """Base class of face analyzers.

    Subclasses set :attr:`name` and implement :meth:`analyze`. They may
    override :meth:`analyze_batch` to run in parallel, and must override
    :meth:`config_fingerprint` when their output depends on settings (the
    analysis cache keys on it).
    """

    #: registry name, e.g. ``"local"`` or ``"rekognition"``
    name: str = "analyzer"
    #: the evidence every face it returns carries (:mod:`liveness_lab.evidence`); an instance
    #: may widen it by its options (the local analyzer's ``descriptors=True``)
    provides: frozenset[Evidence] = frozenset()
    #: evidence it can give when options are turned on -> those options
    #: (``{Evidence.DESCRIPTOR: {"descriptors": True}}``)
    can_provide: Mapping[Evidence, Mapping[str, object]] = {}
    #: ``False`` for analyzers that analyze no image (``recorded``: the faces come from the
    #: session); such an analyzer needs no cache and cannot fill in image-only frames
    analyzes_images: ClassVar[bool] = True

    @abc.abstractmethod
    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """Detect the faces in one image; an empty list when there is none.

        Raises :class:`~liveness_lab.errors.InvalidImageError` for bytes that do
        not decode as an image, :class:`~liveness_lab.errors.AnalyzerError` for
        other failures.
        """

    def analyze_batch(self, images: Sequence[ImageInput] | Iterable[ImageInput]
                      ) -> list[list[FaceDetail]]:
        """Analyze several images; results in input order."""
        return [self.analyze(img) for img in images]

    def config_fingerprint(self) -> str:
        """A string that changes whenever settings that change the output change."""
        return ""

    def close(self) -> None:
        """Release resources (thread pools, clients). Safe to call twice."""

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
