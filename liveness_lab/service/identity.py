"""Identity continuity through a face-comparison service at verify (Amazon Rekognition ``CompareFaces``).

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
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

from ..analyzers.identity import annotate_similarity
from ..errors import InvalidImageError
from ..evidence import Evidence
from ..faces import FaceDetail

__all__ = ["CompareFacesStage", "Compare"]

#: ``compare(source_jpeg, target_jpeg)`` -> similarity 0..100 or ``None`` (no match).
Compare = Callable[[bytes, bytes], "float | None"]


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

    def __post_init__(self) -> None:
        if isinstance(self.max_calls, bool) or not isinstance(self.max_calls, int) \
                or self.max_calls < 2:
            raise ValueError(f"max_calls must be an integer >= 2, got {self.max_calls!r}")

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
        last = len(faces) - 1 if decided_at is None else min(decided_at, len(faces) - 1)
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
