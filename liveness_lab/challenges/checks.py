"""Checks shared by challenge types: identity continuity, a passive PAD score, 3D consistency.

Challenge types stay free of analyzers: everything here reads fields of
:class:`~liveness_lab.faces.FaceDetail` only. Two of them live in the
``"LivenessLab"`` object that analyzers may add to a face's Rekognition JSON
(kept by :attr:`FaceDetail.extra`, so it travels in the session format)::

    {"BoundingBox": {...}, "Landmarks": [...], ...,
     "LivenessLab": {"Descriptor": [128 floats], "PadScore": 0.93, "Similarity": 99.1}}

* ``Descriptor``: a face descriptor (dlib's 128-d embedding from the local
  analyzer with ``descriptors=True``); two faces of the same person lie within
  about 0.6 (Euclidean) of each other.
* ``Similarity``: 0..100, how much this face resembles the session's reference
  frame (Amazon Rekognition ``CompareFaces``, see
  :func:`liveness_lab.analyzers.identity.annotate_similarity`).
* ``PadScore``: 0..1, the probability that the face is a live person rather
  than a presentation attack (printed photo, screen), from a passive
  presentation-attack-detection stage (:mod:`liveness_lab.pad`). Higher is more live.

A type opts in by deriving its config from :class:`SessionChecksConfig` and
calling :func:`observe_face` on the face it uses in each frame and
:func:`before_success` just before it returns success. Both checks are off
by default (the ``seed`` profile); the ``recommended`` profile turns them on.

:func:`nose_parallax` measures the 3D consistency of a movement: how far the
nose tip moved against the rest of the face, beyond what any planar motion
(a photo moved, rolled or tilted) explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..evidence import Evidence, Need
from ..faces import LIVENESS_LAB_KEY, FaceDetail
from .face_geometry import geometry_change, geometry_features, image_size_of, median_reference
from .framework import ChallengeConfig, Context, Continue, Fail, FrameInput, StepResult

__all__ = ["LIVENESS_LAB_KEY", "SessionChecksConfig", "face_descriptor", "face_similarity",
           "pad_score", "observe_face", "before_success", "skip_missing_face", "nose_parallax",
           "parallax_landmarks", "checks_identity"]


_REF = "_checks.identity_reference"
_EVIDENCE = "_checks.identity_evidence"
_PAD = "_checks.pad_scores"
_LAST = "_checks.last_frame"
_ENABLED = "_checks.enabled"
_MISSING = "_checks.missing_faces"
_GEO_SAMPLES = "_checks.geometry_samples"
_GEO_HISTORY = 40
_GEO_RUN = "_checks.geometry_run"


@dataclass(frozen=True)
class SessionChecksConfig(ChallengeConfig):
    """Configuration of the checks every frame of a session can be put through.

    Defaults switch every check off, so a type deriving from this class keeps
    its behaviour until a profile turns them on.
    """

    identity_check: bool = field(default=False, metadata={
        "help": "require the same person in every frame (LivenessLab.Descriptor or "
                "LivenessLab.Similarity of the faces); a face without either is skipped, a "
                "session with no evidence at all fails"})
    identity_max_distance: float = field(default=0.6, metadata={
        "help": "largest Euclidean distance between a face's descriptor and the session's "
                "first one (dlib's same-person cut is 0.6)"})
    identity_min_similarity: float = field(default=90.0, metadata={
        "help": "smallest CompareFaces similarity (0..100) with the session's reference frame"})
    identity_when_available: bool = field(default=False, metadata={
        "help": "check identity with the descriptors or similarities the faces carry, without "
                "requiring them (for analyzers that give them only sometimes, e.g. a service "
                "that runs CompareFaces)"})
    geometry_identity_check: bool = field(default=False, metadata={
        "help": "require the face to keep one person's proportions (pose-normalised landmark "
                "ratios; needs face geometry only)"})
    geometry_max_change: float = field(default=0.065, metadata={
        "help": "largest mean absolute log-ratio of a frame's face proportions to the "
                "session's reference before the frame counts as another face"})
    geometry_reference_frames: int = field(default=5, metadata={
        "help": "earlier frames of the nearest poses whose median proportions are a frame's "
                "reference"})
    geometry_pose_tolerance: float = field(default=6.0, metadata={
        "help": "degrees of yaw and pitch within which an earlier frame can be a reference "
                "(proportions change with pose)"})
    geometry_consecutive: int = field(default=2, metadata={
        "help": "frames in a row beyond geometry_max_change that fail the run"})
    pad_check: bool = field(default=False, metadata={
        "help": "require a passive presentation-attack score (LivenessLab.PadScore) on the "
                "faces; its mean over the frames seen must reach pad_min_score"})
    pad_min_score: float = field(default=0.5, metadata={
        "help": "smallest mean PadScore (0..1, probability of a live face) to pass"})
    continuity_check: bool = field(default=False, metadata={
        "help": "the face must move as one continuous track (no box or roll jump faster than "
                "a head, no face-less gap beyond max_face_gap_ms; POSE: multi-frame mode only)"})
    one_face_to_the_end: bool = field(default=False, metadata={
        "help": "a passed challenge still fails when a frame the client sent after the deciding "
                "one shows more than one face (exactly one person in view for the whole "
                "session, not only until the states decided)"})
    max_face_gap_ms: float = field(default=300.0, metadata={
        "help": "continuity_check: longest face-less time the camera films between two faces "
                "(ms: from the last face to the last frame without one; a client stall with "
                "no frames is not counted)"})

    def validate(self) -> None:
        super().validate()
        if self.identity_max_distance <= 0:
            raise ConfigError(f"identity_max_distance must be > 0, got "
                              f"{self.identity_max_distance!r}")
        if not 0 <= self.identity_min_similarity <= 100:
            raise ConfigError(f"identity_min_similarity must be in 0..100, got "
                              f"{self.identity_min_similarity!r}")
        if not 0 <= self.pad_min_score <= 1:
            raise ConfigError(f"pad_min_score must be in 0..1, got {self.pad_min_score!r}")
        if self.geometry_max_change <= 0:
            raise ConfigError(f"geometry_max_change must be > 0, got "
                              f"{self.geometry_max_change!r}")
        if self.geometry_pose_tolerance <= 0:
            raise ConfigError(f"geometry_pose_tolerance must be > 0, got "
                              f"{self.geometry_pose_tolerance!r}")
        if self.geometry_reference_frames < 1 or self.geometry_consecutive < 1:
            raise ConfigError("geometry_reference_frames and geometry_consecutive must be >= 1")
        if self.max_face_gap_ms <= 0:
            raise ConfigError(f"max_face_gap_ms must be > 0, got {self.max_face_gap_ms!r}")

    def evidence_needs(self) -> tuple[Need, ...]:
        needs = list(super().evidence_needs())
        if self.identity_check:
            needs.append(Need(frozenset({Evidence.DESCRIPTOR, Evidence.SIMILARITY}),
                              "identity continuity", "identity_check"))
        if self.pad_check:
            needs.append(Need(frozenset({Evidence.PAD_SCORE}), "passive PAD", "pad_check"))
        return tuple(needs)


# -- reading the extension -----------------------------------------------------------------

def _extension(face: FaceDetail) -> Mapping[str, Any]:
    ext = face.extra.get(LIVENESS_LAB_KEY)
    return ext if isinstance(ext, Mapping) else {}


def face_descriptor(face: FaceDetail) -> np.ndarray | None:
    """The face's ``LivenessLab.Descriptor`` as a float array; ``None`` if absent or invalid."""
    value = _extension(face).get("Descriptor")
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        return None
    return arr


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and low <= value <= high else None


def face_similarity(face: FaceDetail) -> float | None:
    """The face's ``LivenessLab.Similarity`` (0..100), or ``None``."""
    return _number(_extension(face).get("Similarity"), 0.0, 100.0)


def checks_identity(cfg: Any) -> bool:
    """Whether ``cfg`` checks identity continuity (required, or when the faces carry it)."""
    return bool(getattr(cfg, "identity_check", False)
                or getattr(cfg, "identity_when_available", False))


def pad_score(face: FaceDetail) -> float | None:
    """The face's ``LivenessLab.PadScore`` (0..1, higher = more live), or ``None``."""
    return _number(_extension(face).get("PadScore"), 0.0, 1.0)


# -- per-frame and final checks ------------------------------------------------------------

def observe_face(face: FaceDetail, frame: FrameInput, context: Context) -> StepResult | None:
    """Put the face a state uses in this frame through the session checks.

    Call it once per frame from any state (a second call on the same frame, as
    happens when a state moves on with ``Next``, does nothing). Returns a
    failure when the identity changed, else ``None``; records
    ``identity_distance`` / ``identity_similarity`` and ``pad_score`` in the trace.
    """
    cfg = context.config
    enabled = context.get(_ENABLED)
    if enabled is None:  # read once per run: the config does not change during a run
        enabled = context[_ENABLED] = (
            checks_identity(cfg) or bool(getattr(cfg, "geometry_identity_check", False))
            or bool(getattr(cfg, "pad_check", False)))
    if not enabled:  # the seed profile: no session checks, nothing to observe
        return None
    if context.get(_LAST) == frame.index:
        return None
    context[_LAST] = frame.index
    if checks_identity(cfg):
        result = _check_identity(face, context, cfg)
        if result is not None:
            return result
    if getattr(cfg, "geometry_identity_check", False):
        result = _check_geometry(face, context, cfg)
        if result is not None:
            return result
    if getattr(cfg, "pad_check", False):
        score = pad_score(face)
        context.record(pad_score=score)
        if score is not None:
            context.setdefault(_PAD, []).append(score)
    return None


def _check_identity(face: FaceDetail, context: Context, cfg: SessionChecksConfig
                    ) -> StepResult | None:
    descriptor = face_descriptor(face)
    if descriptor is not None:
        ref = context.get(_REF)
        if ref is None:
            context[_REF] = descriptor
            context.record(identity_distance=0.0)
            context[_EVIDENCE] = context.get(_EVIDENCE, 0) + 1
            return None
        if ref.shape != descriptor.shape:
            return Fail("identity.descriptor_mismatch",
                        f"face descriptors of different lengths ({len(ref)} and "
                        f"{len(descriptor)}) in one session")
        distance = float(np.linalg.norm(descriptor - ref))
        context.record(identity_distance=distance)
        context[_EVIDENCE] = context.get(_EVIDENCE, 0) + 1
        if distance > cfg.identity_max_distance:
            return Fail("identity.changed",
                        f"the face is {distance:.2f} from the session's first face "
                        f"(> {cfg.identity_max_distance:g}): another person")
        return None
    similarity = face_similarity(face)
    if similarity is not None:
        context.record(identity_similarity=similarity)
        context[_EVIDENCE] = context.get(_EVIDENCE, 0) + 1
        if similarity < cfg.identity_min_similarity:
            return Fail("identity.changed",
                        f"the face matches the session's reference frame at {similarity:.1f} "
                        f"(< {cfg.identity_min_similarity:g}): another person")
    return None


def _check_geometry(face: FaceDetail, context: Context, cfg: SessionChecksConfig
                    ) -> StepResult | None:
    """Face proportions against earlier frames of a similar pose (:mod:`.face_geometry`)."""
    width, height = image_size_of(context.params)
    features = geometry_features(face, width, height)
    if features is None:
        return None
    yaw, pitch = face.pose.yaw, face.pose.pitch  # type: ignore[union-attr]
    history: list = context.setdefault(_GEO_SAMPLES, [])
    near = sorted(((max(abs(y - yaw), abs(p - pitch)), f) for y, p, f in history
                   if abs(y - yaw) <= cfg.geometry_pose_tolerance
                   and abs(p - pitch) <= cfg.geometry_pose_tolerance), key=lambda t: t[0])
    if not near:
        history.append((yaw, pitch, features))
        return None
    ref = median_reference([f for _, f in near[:cfg.geometry_reference_frames]])
    change = geometry_change(ref, features)
    context.record(geometry_change=change)
    run = context.get(_GEO_RUN, 0) + 1 if change > cfg.geometry_max_change else 0
    context[_GEO_RUN] = run
    if run == 0:
        history.append((yaw, pitch, features))
        del history[:-_GEO_HISTORY]
    if run >= cfg.geometry_consecutive:
        return Fail("identity.geometry_changed",
                    f"the face's proportions changed by {change:.3f} (> "
                    f"{cfg.geometry_max_change:g}) for {run} frames in a row: another face")
    return None


def before_success(context: Context) -> StepResult | None:
    """The session-level checks, to run just before a state returns success.

    Fails when identity checking is on but no face carried identity evidence
    (``identity.missing``), when the PAD check is on but no face carried a
    score (``pad.missing_score``), or when the mean PAD score is below
    ``pad_min_score`` (``pad.attack``). ``None`` when everything passes.
    """
    cfg = context.config
    if getattr(cfg, "identity_check", False) and context.get(_EVIDENCE, 0) < 1:
        return Fail("identity.missing", "identity check: no face carried a descriptor or a "
                                        "similarity (run the analyzer with descriptors on)")
    if getattr(cfg, "pad_check", False):
        scores = context.get(_PAD) or []
        if not scores:
            return Fail("pad.missing_score", "PAD check: no face carried a PadScore (run the "
                                             "analyzer with its PAD stage on)")
        mean = float(np.mean(scores))
        context.record(pad_mean=mean, pad_frames=len(scores))
        if mean < cfg.pad_min_score:
            return Fail("pad.attack", f"mean presentation-attack score {mean:.2f} < "
                                      f"{cfg.pad_min_score:g}: looks like a photo or a screen")
    return None


def skip_missing_face(context: Context, limit: int, prefix: str) -> StepResult:
    """The answer to a frame without a face: skip it while fewer than ``limit`` were skipped.

    ``limit`` counts the frames without face skipped so far in the run; ``0``
    fails at once. Codes: ``{prefix}.no_face_skipped`` (continue) and
    ``{prefix}.no_face`` (fail).
    """
    missing = context.get(_MISSING, 0)
    if missing < limit:
        context[_MISSING] = missing + 1
        context.record(missing_faces=missing + 1)
        return Continue(f"{prefix}.no_face_skipped",
                        f"no face in the frame; skipped ({missing + 1} of at most {limit})")
    return Fail(f"{prefix}.no_face", "no face in the frame" + (
        f" after {limit} skipped frames" if limit else ""))


# -- 3D consistency --------------------------------------------------------------------------

#: landmarks that stand out of the face plane; the homography is fitted on the others
_PROTRUDING = frozenset({"nose", "noseLeft", "noseRight", "mouthUp", "mouthDown"})


def parallax_landmarks(face: FaceDetail) -> dict[str, tuple[float, float]]:
    """``{type: (x, y)}`` of the face's landmarks (image ratios)."""
    return {lm.type: (lm.x, lm.y) for lm in face.landmarks}


def _normalise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = points.mean(axis=0)
    spread = np.sqrt(((points - centre) ** 2).sum(axis=1).mean())
    s = math.sqrt(2) / spread if spread > 0 else 1.0
    T = np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1]])
    homog = np.column_stack([points, np.ones(len(points))]) @ T.T
    return homog, T


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """The DLT homography mapping ``src`` to ``dst`` (N x 2, N >= 4), Hartley-normalised."""
    a, Ta = _normalise(src)
    b, Tb = _normalise(dst)
    rows = []
    for (x, y, _), (u, v, _) in zip(a, b):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    try:
        _, _, vt = np.linalg.svd(np.asarray(rows))
        H = vt[-1].reshape(3, 3)
        return np.linalg.inv(Tb) @ H @ Ta
    except np.linalg.LinAlgError:
        return None


def nose_parallax(reference: FaceDetail, current: FaceDetail, image_width: float = 1.0,
                  image_height: float = 1.0, *, signed: bool = True,
                  exclude: Sequence[str] = tuple(_PROTRUDING)) -> float | None:
    """How far the nose tip moved beyond the face plane, in face widths.

    A homography is fitted on the landmarks of ``reference`` -> ``current``
    that lie close to the face plane (all but the nose, nostrils and lips). Any
    planar motion of a photo - moved, scaled, rolled, tilted, seen in
    perspective - maps the photo's nose exactly where this homography predicts;
    a turning head does not, because the nose tip stands out of the face and
    *leads* the turn. The residual (nose tip minus its predicted position) is
    divided by the horizontal extent of ``current``'s landmarks; with
    ``signed`` (the default) the result is its component along the nose's own
    displacement from ``reference`` to ``current`` (positive when the nose
    leads, as a turning head's does; a flat photo gives detector noise of
    either sign), else its length.

    ``image_width`` / ``image_height`` scale the ratio coordinates to pixels
    (use the frame size so that the geometry is not distorted). Returns
    ``None`` when either face lacks the nose or fewer than 6 shared landmarks
    remain for the fit.
    """
    a = parallax_landmarks(reference)
    b = parallax_landmarks(current)
    if "nose" not in a or "nose" not in b:
        return None
    excluded = set(exclude)
    names = [n for n in a if n in b and n not in excluded]
    if len(names) < 6:
        return None
    scale = np.array([image_width, image_height], dtype=float)
    src = np.array([a[n] for n in names], dtype=float) * scale
    dst = np.array([b[n] for n in names], dtype=float) * scale
    H = _homography(src, dst)
    if H is None:
        return None
    q = H @ np.array([a["nose"][0] * scale[0], a["nose"][1] * scale[1], 1.0])
    if abs(q[2]) < 1e-12:
        return None
    nose = np.array(b["nose"]) * scale
    width = float(np.ptp(np.array(list(b.values()))[:, 0] * scale[0]))
    if width <= 0:
        return None
    residual = nose - q[:2] / q[2]
    if not signed:
        return float(np.hypot(*residual) / width)
    moved = nose - np.array(a["nose"]) * scale
    length = float(np.hypot(*moved))
    if length < 1e-9:
        return 0.0
    return float(residual @ moved / length / width)
