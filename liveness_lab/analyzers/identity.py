"""Identity continuity with a face-comparison service (Amazon Rekognition ``CompareFaces``).

The local analyzer writes a face descriptor into every face (``descriptors=True``) and the
challenge side compares them. Rekognition has no descriptor to return; it compares two
images. :func:`annotate_similarity` therefore compares the session's reference frame (its
first frame with exactly one face) with later frames and writes the answer into the faces
as ``"LivenessLab": {"Similarity": 0..100}``, which the identity check of
:mod:`liveness_lab.challenges.checks` reads when a face has no descriptor.

Use it where a whole session is at hand, after ``DetectFaces`` and before the verdict - in
the service's verify step or in ``liveness-lab analyze``::

    import functools
    compare = functools.partial(rekognition.compare_faces, similarity_threshold=0)
    faces, calls = annotate_similarity(images, faces, compare, every=4)

Each comparison is one billed ``CompareFaces`` call; ``every`` compares every n-th
one-face frame (and always the last one), which is what the challenge decides on.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..faces import FaceDetail

__all__ = ["annotate_similarity"]

Compare = Callable[[Any, Any], "float | None"]


def _with_similarity(face: FaceDetail, value: float) -> FaceDetail:
    extra = dict(face.extra)
    current = extra.get("LivenessLab")
    ext = dict(current) if hasattr(current, "items") else {}
    ext["Similarity"] = round(float(value), 3)
    extra["LivenessLab"] = ext
    return face.replace(extra=extra)


def annotate_similarity(images: Sequence[Any], faces: Sequence[Sequence[FaceDetail]],
                        compare: Compare, *, every: int = 1
                        ) -> tuple[list[list[FaceDetail]], int]:
    """Faces with ``LivenessLab.Similarity`` against the session's reference frame.

    Parameters
    ----------
    images, faces:
        The session's frames in replay order: each frame's image (anything
        ``compare`` accepts, e.g. JPEG bytes) and its analyzed faces.
    compare:
        ``compare(source_image, target_image)`` -> similarity 0..100 of the
        source's face in the target, or ``None`` when nothing matched (counted
        as 0), e.g. ``RekognitionAnalyzer.compare_faces`` with
        ``similarity_threshold=0``.
    every:
        Compare every ``every``-th frame with exactly one face after the
        reference (and always the last such frame).

    Returns
    -------
    (faces, calls)
        The new per-frame face lists (frames without a comparison keep their
        faces) and the number of ``compare`` calls made. The reference frame's
        face gets similarity 100. Frames with no face or several faces are
        not compared (the challenge decides about them).
    """
    if len(images) != len(faces):
        raise ValueError(f"images and faces must have one entry per frame, got {len(images)} "
                         f"and {len(faces)}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    out = [list(f) for f in faces]
    single = [i for i, f in enumerate(faces) if len(f) == 1]
    if not single:
        return out, 0
    ref = single[0]
    out[ref] = [_with_similarity(out[ref][0], 100.0)]
    chosen = single[1::every]
    if len(single) > 1 and single[-1] not in chosen:
        chosen.append(single[-1])
    calls = 0
    for i in chosen:
        value = compare(images[ref], images[i])
        calls += 1
        out[i] = [_with_similarity(out[i][0], 0.0 if value is None else value)]
    return out, calls
