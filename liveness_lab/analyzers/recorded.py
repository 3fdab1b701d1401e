"""The ``recorded`` analyzer: faces come from the session, not from a model.

Sessions may carry the analysis of each frame (``frames[].faces``, see the
session format). Replaying such sessions needs no analyzer at all; naming
``recorded`` says so explicitly. It has no model, so asking it to analyze an
image is an error that explains where the faces must come from.
"""

from __future__ import annotations

from ..errors import AnalyzerUnavailableError
from ..faces import FaceDetail
from .base import FaceAnalyzer, ImageInput

__all__ = ["RecordedAnalyzer"]


class RecordedAnalyzer(FaceAnalyzer):
    """Stands for "use the faces recorded in the session"; it cannot analyze images.

    :meth:`analyze` always raises
    :class:`~liveness_lab.errors.AnalyzerUnavailableError`: a frame without
    recorded ``faces`` needs a real analyzer (``mesh``, ``local`` or ``rekognition``).
    """

    name = "recorded"
    analyzes_images = False

    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """Always raises :class:`~liveness_lab.errors.AnalyzerUnavailableError`."""
        raise AnalyzerUnavailableError(
            "the 'recorded' analyzer has no face model: it only replays the faces stored in "
            "session documents (frames[].faces); analyze frames that have no recorded faces "
            "with the 'mesh', 'local' or 'rekognition' analyzer")

    def config_fingerprint(self) -> str:
        """Constant: the recorded faces do not depend on any setting."""
        return "recorded"

    def __repr__(self) -> str:
        return "RecordedAnalyzer()"
