"""Identity evidence computed at verify, for a bounded number of frames.

Two stages share one interface (``annotate(images, faces, decided_at=..., enrolled=...)``
-> ``(faces, calls)``) and one budget (``max_calls`` per session, frames after the
deciding frame never count):

* :class:`CompareFacesStage` (Amazon Rekognition ``CompareFaces``, below);
* :class:`DescriptorStage` (the offline analyzers): dlib's 128-d descriptor costs about
  seven times a mesh analysis (0.10 s against 0.014 s a frame here), so the service
  analyzes every frame without it and computes descriptors at verify for the first
  one-face frame and up to ``max_calls - 1`` later ones, evenly spaced, always including
  the deciding frame. A swap between sampled frames is the face-track continuity
  check's to catch (:mod:`liveness_lab.challenges.face_track`), as with CompareFaces.

CompareFaces
------------

Rekognition's ``DetectFaces`` returns no descriptor, so with the ``rekognition``
analyzer the identity check of :mod:`liveness_lab.challenges.checks` has nothing
to compare. :class:`CompareFacesStage` fills that in at verify: it compares the
session's **reference** (the first frame with exactly one face, or the reference
image enrolled at ``POST /challenge``) with later one-face frames and writes the
answer into those faces as ``"LivenessLab": {"Similarity": 0..100}``.

Calls are bounded: the stage first replays the session to find the frame that
decides it, then compares at most ``max_calls`` one-face frames up to that frame
(evenly spaced, always including the deciding frame); frames after the decision
cannot change the verdict. Each comparison is one billed ``CompareFaces`` call;
with the defaults a session costs at most 8 calls (9 with an enrolled reference).
Throttling is retried with backoff by :class:`~liveness_lab.analyzers.rekognition.RekognitionAnalyzer`;
what still fails raises :class:`~liveness_lab.errors.AnalyzerError` (the service
answers 503 and the verification is not consumed).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

from ..analyzers._tracking import iou
from ..analyzers.identity import annotate_similarity
from ..challenges.checks import face_descriptor
from ..errors import InvalidImageError
from ..evidence import Evidence
from ..faces import FaceDetail, with_extension

__all__ = ["CompareFacesStage", "DescriptorStage", "AnalyzerDescriber", "Compare", "Describe",
           "annotate_session"]

#: ``compare(source_jpeg, target_jpeg)`` -> similarity 0..100 or ``None`` (no match).
Compare = Callable[[bytes, bytes], "float | None"]
#: ``describe(jpeg, face)`` -> the descriptor of ``face`` in the image, ``None`` if not found.
Describe = Callable[[bytes, FaceDetail], "Sequence[float] | None"]


def _check_max_calls(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"max_calls must be an integer >= 2, got {value!r}")


def _last_frame(faces: Sequence[Sequence[FaceDetail]], decided_at: int | None) -> int:
    """The last frame the verdict can depend on."""
    return len(faces) - 1 if decided_at is None else min(decided_at, len(faces) - 1)


@dataclass(frozen=True)
class CompareFacesStage:
    """Writes ``LivenessLab.Similarity`` into the faces of a session before its verdict.

    Parameters
    ----------
    compare:
        ``compare(source, target)``, e.g. ``functools.partial(analyzer.compare_faces,
        similarity_threshold=0)``.
    max_calls:
        Most comparisons per session (>= 2).
    """

    compare: Compare
    max_calls: int = 8
    #: evidence this stage adds to the faces (see :mod:`liveness_lab.evidence`)
    provides: ClassVar[frozenset[Evidence]] = frozenset({Evidence.SIMILARITY})
    #: a reference image enrolled at ``POST /challenge`` is compared with the frames
    enrols: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_max_calls(self.max_calls)

    def annotate(self, images: Sequence[Callable[[], bytes]],
                 faces: Sequence[Sequence[FaceDetail]], *, decided_at: int | None,
                 enrolled: bytes | None = None) -> tuple[list[list[FaceDetail]], int]:
        """The faces with similarities, and the number of ``compare`` calls made.

        ``images[i]()`` loads frame ``i`` (frames in replay order; only the
        compared ones are loaded). ``decided_at`` is the index of the frame that
        decided the replay without similarities (``None``: not decided, every
        frame may matter). With ``enrolled``, every compared frame (the first
        one-face frame included) is compared with that image instead.
        """
        last = _last_frame(faces, decided_at)
        head = [list(f) for f in faces[:last + 1]]
        single = [i for i, f in enumerate(head) if len(f) == 1]
        if not single:
            return [list(f) for f in faces], 0
        # annotate_similarity compares every n-th later frame and always the last one
        slots = max(1, self.max_calls - 1)
        if enrolled is not None:
            # the enrolled image is a pseudo-frame 0 of the session: its "face" is never
            # compared, every real one-face frame is compared with it
            pseudo = [head[single[0]][0]]
            every = max(1, math.ceil(len(single) / slots))
            loaders: list[Callable[[], bytes]] = [lambda: enrolled] + \
                [images[i] for i in range(len(head))]
            out, calls = self._run(loaders, [pseudo] + head, every)
            out = out[1:]
        else:
            every = max(1, math.ceil((len(single) - 1) / slots))
            out, calls = self._run([images[i] for i in range(len(head))], head, every)
        return out + [list(f) for f in faces[last + 1:]], calls

    def _run(self, loaders: Sequence[Callable[[], bytes]], faces: list[list[FaceDetail]],
             every: int) -> tuple[list[list[FaceDetail]], int]:
        cache: dict[int, bytes] = {}

        class _Lazy:
            def __init__(self, i: int) -> None:
                self.i = i

        def compare(source: Any, target: Any) -> float | None:
            for item in (source, target):
                if item.i not in cache:
                    cache[item.i] = loaders[item.i]()
            try:
                return self.compare(cache[source.i], cache[target.i])
            except InvalidImageError:
                return None  # no face Rekognition can compare: counted as another person
        return annotate_similarity([_Lazy(i) for i in range(len(faces))], faces, compare,
                                   every=every)


@dataclass(frozen=True)
class DescriptorStage:
    """Writes ``LivenessLab.Descriptor`` into a bounded sample of a session's faces.

    Parameters
    ----------
    describe:
        ``describe(image, face)``: the descriptor of ``face`` (as analyzed without
        descriptors) in the frame's image, e.g. an :class:`AnalyzerDescriber`;
        ``None`` when that face is not found again.
    max_calls:
        Most descriptors computed per session (>= 2).
    """

    describe: Describe
    max_calls: int = 8
    provides: ClassVar[frozenset[Evidence]] = frozenset({Evidence.DESCRIPTOR})
    #: the identity check's reference is the session's first descriptor: no enrolment
    enrols: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_max_calls(self.max_calls)

    def sample(self, faces: Sequence[Sequence[FaceDetail]], decided_at: int | None
               ) -> list[int]:
        """The frames to describe: the first one-face frame, then up to ``max_calls - 1``
        later one-face frames up to ``decided_at``, evenly spaced, the last one included."""
        last = _last_frame(faces, decided_at)
        single = [i for i in range(last + 1) if len(faces[i]) == 1]
        if len(single) <= self.max_calls:
            return single
        later = single[1:]
        k = self.max_calls - 1
        picks = {later[round(j * (len(later) - 1) / (k - 1))] for j in range(k)} if k > 1 \
            else {later[-1]}
        return [single[0]] + sorted(picks)

    def annotate(self, images: Sequence[Callable[[], bytes]],
                 faces: Sequence[Sequence[FaceDetail]], *, decided_at: int | None,
                 enrolled: bytes | None = None) -> tuple[list[list[FaceDetail]], int]:
        """The faces with descriptors on the sampled frames, and the number computed.

        Same call as :meth:`CompareFacesStage.annotate`; ``enrolled`` must be
        ``None`` (see :attr:`enrols`).
        """
        if enrolled is not None:
            raise ValueError("the descriptor stage cannot use an enrolled reference image")
        out = [list(f) for f in faces]
        calls = 0
        for i in self.sample(faces, decided_at):
            calls += 1
            try:
                vector = self.describe(images[i](), out[i][0])
            except InvalidImageError:
                vector = None
            if vector is not None:
                out[i] = [with_extension(out[i][0],
                                         Descriptor=[round(float(v), 4) for v in vector])]
        return out, calls

    def close(self) -> None:
        """Close ``describe`` when it holds resources (an :class:`AnalyzerDescriber`)."""
        close = getattr(self.describe, "close", None)
        if callable(close):
            close()


class AnalyzerDescriber:
    """A :data:`Describe` from an analyzer built with ``descriptors=True``.

    It analyzes the image again and returns the descriptor of the face whose box
    overlaps ``face``'s most (intersection over union at least ``min_iou``), so the
    descriptor belongs to the face the challenge followed even when a second face is
    in the image. Calls are serialized (one analyzer, called from request threads).
    """

    def __init__(self, analyzer: Any, *, min_iou: float = 0.3) -> None:
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], got {min_iou!r}")
        self.analyzer = analyzer
        self.min_iou = min_iou
        self._lock = threading.Lock()

    def __call__(self, image: bytes, face: FaceDetail) -> Sequence[float] | None:
        if face.bounding_box is None:
            return None
        with self._lock:
            found = self.analyzer.analyze(image)
        target = _rect(face)
        scored = [(iou(target, _rect(f)), f) for f in found if f.bounding_box is not None]
        overlap, best = max(scored, key=lambda t: t[0], default=(0.0, None))
        if best is None or overlap < self.min_iou:
            return None
        vector = face_descriptor(best)
        return None if vector is None else vector.tolist()

    def close(self) -> None:
        """Release the analyzer's models."""
        close = getattr(self.analyzer, "close", None)
        if callable(close):
            close()


def annotate_session(stage: "CompareFacesStage | DescriptorStage",
                     replay: Callable[[Sequence[Sequence[FaceDetail]]], Any],
                     images: Sequence[Callable[[], bytes]],
                     faces: Sequence[Sequence[FaceDetail]], *, enrolled: bytes | None = None
                     ) -> tuple[list[list[FaceDetail]], int]:
    """A session's faces with the stage's identity evidence, as verify computes them.

    ``replay(faces)`` returns the session's :class:`~liveness_lab.verify.Verdict` (or
    ``None``); its deciding frame bounds the frames the stage looks at (frames after
    it cannot change the verdict).
    """
    first = replay(faces)
    decided_at = first.deciding_frame if first is not None else None
    return stage.annotate(images, faces, decided_at=decided_at, enrolled=enrolled)


def _rect(face: FaceDetail) -> tuple[float, float, float, float]:
    box = face.bounding_box
    if box is None:  # filtered out by the callers
        raise ValueError("a face without a bounding box has no rectangle")
    return (box.left, box.top, box.left + box.width, box.top + box.height)
