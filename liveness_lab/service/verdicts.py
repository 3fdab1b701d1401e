"""A stored challenge's verdict: its frames analyzed, identity evidence added, replayed.

:class:`VerdictReplay` is the verify step of :class:`~liveness_lab.service.core.ChallengeService`
without the bookkeeping (claims, budgets): which frames the verdict depends on and their
analysis (:meth:`~VerdictReplay.frames_for`), the identity stage's evidence
(:mod:`.identity`), the challenge run and the server-time check (:mod:`.timing`)
(:meth:`~VerdictReplay.replay`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Sequence

from ..challenges.checks import checks_identity
from ..challenges.registry import ChallengeRegistry
from ..config import Configs
from ..errors import AnalyzerError, UnknownChallengeType
from ..faces import FaceDetail
from ..verify import Verdict, decided_for_good, run_challenge
from .analysis import AnalysisPool
from .errors import NotFound, ServiceUnavailable
from .identity import CompareFacesStage, DescriptorStage, annotate_session
from .settings import Settings
from .stores.base import ChallengeRecord, FrameRecord, FrameStore, check_frame_key, jsonable
from .timing import TimingRules, check_timing

__all__ = ["VerdictReplay", "reference_key"]

log = logging.getLogger("liveness_lab.service")

_KEEP: Any = object()


def reference_key(challenge_id: str) -> str:
    """The frame-store key of the reference image enrolled with a challenge."""
    return check_frame_key(f"{challenge_id}/reference.jpg")


def _with_faces(frame: FrameRecord, faces: Sequence[FaceDetail], error: Any = _KEEP
                ) -> FrameRecord:
    """``frame`` with other faces (and, when given, another analysis error)."""
    if error is _KEEP:
        return dataclasses.replace(frame, faces=tuple(faces))
    return dataclasses.replace(frame, faces=tuple(faces), analysis_error=error)


class VerdictReplay:
    """Turns a stored challenge and its frames into a verdict and a trace."""

    def __init__(self, settings: Settings, registry: ChallengeRegistry, configs: Configs,
                 frames: FrameStore, pool: AnalysisPool | None,
                 identity: CompareFacesStage | DescriptorStage | None) -> None:
        self.settings = settings
        self.registry = registry
        self.configs = configs
        self.frames = frames
        self.pool = pool
        self.identity = identity

    def frames_for(self, record: ChallengeRecord, deadline: float
                            ) -> list[FrameRecord]:
        """The frames in replay order, every one the verdict depends on analyzed.

        Frames after the frame that decides the analyzed prefix for good are not
        analyzed (they cannot change the verdict); they replay with no face. After a pass
        held to one face to the end (``one_face_to_the_end``) they are analyzed: a second
        face in them fails the session.
        """
        ordered = sorted(record.frames, key=lambda f: (f.timestamp, f.index))
        missing = [f for f in ordered if f.faces is None]
        if not missing:
            return ordered
        prefix = ordered[:ordered.index(missing[0])]
        result = self.run(record, prefix)
        if self.decided_for_good(record, result):
            return prefix + [_with_faces(f, ()) for f in ordered[len(prefix):]]
        if self.pool is None:
            raise ServiceUnavailable(f"{len(missing)} frame(s) have no faces and the recorded "
                                     "analyzer cannot analyze images")
        jobs = {f.index: self.pool.submit(record.id, f.index, f.key, urgent=True,
                                          timestamp=f.timestamp) for f in missing}
        for job in jobs.values():
            if not job.done.wait(max(0.0, deadline - time.monotonic())):
                raise ServiceUnavailable("the frames are still being analyzed; retry the "
                                         "verification shortly", retry_after=5)
        out = []
        for f in ordered:
            job = jobs.get(f.index)
            if job is None:
                out.append(f)
                continue
            if job.faces is None:
                raise ServiceUnavailable(f"face analysis failed: {job.error}", retry_after=5)
            out.append(_with_faces(f, job.faces, job.error))
        return out

    def run(self, record: ChallengeRecord, frames: Sequence[FrameRecord]) -> Verdict | None:
        try:
            ctype = self.registry.get(record.type)
        except UnknownChallengeType:
            return None
        return run_challenge(ctype, record.params,
                             [(f.timestamp, f.faces or ()) for f in frames],
                             self.configs.for_type(ctype))

    def decided_for_good(self, record: ChallengeRecord, verdict: Verdict | None) -> bool:
        """Whether the frames after ``verdict``'s deciding frame cannot change it (they need
        no analysis): see :func:`liveness_lab.verify.decided_for_good`."""
        if verdict is None:
            return False
        return decided_for_good(verdict, self.configs.for_type(self.registry.get(record.type)))

    def _with_identity(self, record: ChallengeRecord, ordered: list[FrameRecord]
                       ) -> list[FrameRecord]:
        """Frames with identity evidence (CompareFaces similarities or descriptors) from the
        identity stage, when the challenge's type checks identity."""
        if self.identity is None:
            return ordered
        ctype = self.registry.get(record.type)
        if not checks_identity(self.configs.for_type(ctype)):
            return ordered
        try:
            enrolled: bytes | None = self.frames.get(reference_key(record.id))
        except NotFound:
            enrolled = None
        loaders = [(lambda key=f.key: self.frames.get(key)) for f in ordered]

        def replay(faces: Sequence[Sequence[FaceDetail]]) -> Verdict | None:
            return self.run(record, [_with_faces(f, fs) for f, fs in zip(ordered, faces)])
        try:
            faces, calls = annotate_session(self.identity, replay, loaders,
                                            [f.faces or () for f in ordered], enrolled=enrolled)
        except AnalyzerError as e:
            raise ServiceUnavailable(f"face comparison failed: {e}", retry_after=5) from None
        log.debug("challenge %s: %d %s calls", record.id, calls, type(self.identity).__name__)
        return [_with_faces(f, fs) for f, fs in zip(ordered, faces)]

    def replay(self, record: ChallengeRecord, frames: Sequence[FrameRecord]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ordered = sorted(frames, key=lambda f: (f.timestamp, f.index))
        try:
            self.registry.get(record.type)
        except UnknownChallengeType as e:
            verdict = {"challenge_type": record.type, "success": False, "decided": True,
                       "code": "unknown_challenge_type", "reason": str(e), "final_state": None,
                       "score": None, "frames_total": len(ordered), "frames_used": 0}
            return verdict, []
        ordered = self._with_identity(record, ordered)
        result = self.run(record, ordered)
        if result is None:  # unregistered meanwhile
            raise ServiceUnavailable(f"the challenge type {record.type} is no longer registered")
        verdict = result.to_dict(with_trace=False)
        verdict["profile"] = self.configs.profile
        if self.settings.timing_check:
            self._check_timing(record, ordered, result, verdict)
        trace = result.trace.to_records()
        for row in trace:
            i = row.get("frame_index")
            if isinstance(i, int) and 0 <= i < len(ordered):
                row["frame_key"] = ordered[i].key
        return jsonable(verdict), jsonable(trace)

    def _check_timing(self, record: ChallengeRecord, ordered: Sequence[FrameRecord],
                      result: Verdict, verdict: dict[str, Any]) -> None:
        """Bind the verdict to the service's receipt times (:mod:`.timing`)."""
        rules = TimingRules(self.settings.max_frame_lag_ms, self.settings.min_reaction_ms)
        deciding = result.deciding_frame if result.success else None
        timing = check_timing(record.created_at, [(f.timestamp, f.received_at) for f in ordered],
                              deciding, rules)
        verdict["timing"] = timing.to_dict()
        if not timing.ok and verdict.get("success"):
            verdict.update(success=False, decided=True, code=timing.code, reason=timing.reason)
