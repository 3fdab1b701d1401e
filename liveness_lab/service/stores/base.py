"""The storage interfaces of the challenge service and the records they hold.

Two small interfaces:

* :class:`ChallengeStore` keeps one :class:`ChallengeRecord` per challenge:
  type, params, lifetime, status, the list of frames with their analyses, and
  once verified the verdict and its trace. Every state change is atomic and
  conditional (a frame is appended only if the record, as it is at that
  instant, admits it; a verification is claimed once).
* :class:`FrameStore` keeps the frame images (JPEG bytes) by key, written
  atomically: a key is either absent or holds the complete image.

A frame is written to the frame store first and appended to the record
second, so a crash in between leaves an unlisted file (deleted with its
challenge by the purge), never a listed frame without its image.
"""

from __future__ import annotations

import abc
import json
import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

from ...faces import FaceDetail, faces_from_rekognition, faces_to_rekognition
from ..errors import Conflict

__all__ = ["OPEN", "VERIFYING", "VERIFIED", "FrameRecord", "ChallengeRecord", "ChallengeStore",
           "FrameStore", "Admit", "claim_decision", "faces_to_json", "faces_from_json",
           "jsonable", "check_frame_key", "check_challenge_id", "LISTS_UNANALYZED"]

#: Store capability: :meth:`ChallengeStore.unanalyzed` lists the frames awaiting analysis,
#: so a restarted service can resume them.
LISTS_UNANALYZED = "lists_unanalyzed"

OPEN = "open"
VERIFYING = "verifying"
VERIFIED = "verified"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_challenge_id(challenge_id: str) -> str:
    """``challenge_id`` if it is a safe identifier (letters, digits, ``-``, ``_``), else raise."""
    if not isinstance(challenge_id, str) or not _ID.match(challenge_id):
        raise ValueError(f"invalid challenge id {challenge_id!r}")
    return challenge_id


def check_frame_key(key: str) -> str:
    """``key`` if it is ``CHALLENGE_ID/FILE_NAME`` with safe characters, else raise."""
    if not isinstance(key, str) or not _KEY.match(key) or ".." in key:
        raise ValueError(f"invalid frame key {key!r}")
    return key


@dataclass(frozen=True)
class FrameRecord:
    """One received frame.

    Attributes
    ----------
    index:
        Position in arrival order (0-based), assigned by the store.
    timestamp:
        Client timestamp, ms since the Unix epoch.
    key:
        Frame store key of the JPEG (``CHALLENGE_ID/TIMESTAMP-NONCE.jpg``).
    size, sha256:
        Size in bytes and SHA-256 (hex) of the JPEG.
    received_at:
        Server time of arrival, seconds since the Unix epoch.
    faces:
        The analysis (``None``: not analyzed yet; ``()``: no face).
    analysis_error:
        Why the last analysis attempt failed, if it did.
    """

    index: int
    timestamp: int
    key: str
    size: int
    sha256: str
    received_at: float
    faces: tuple[FaceDetail, ...] | None = None
    analysis_error: str | None = None

    @property
    def analyzed(self) -> bool:
        return self.faces is not None


@dataclass(frozen=True)
class ChallengeRecord:
    """A challenge and everything the service knows about it.

    Times are seconds since the Unix epoch. ``status`` is ``open`` (accepting
    frames), ``verifying`` (claimed by a verification, ``claim_id`` set) or
    ``verified`` (``verdict`` and, when loaded, ``trace`` set).
    """

    id: str
    type: str
    params: Mapping[str, Any]
    created_at: float
    expires_at: float
    client: str = "anonymous"
    status: str = OPEN
    frames: tuple[FrameRecord, ...] = ()
    claim_id: str | None = None
    claimed_at: float | None = None
    verified_at: float | None = None
    verdict: Mapping[str, Any] | None = None
    trace: tuple[Mapping[str, Any], ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def with_frames(self, frames: Sequence[FrameRecord]) -> "ChallengeRecord":
        return replace(self, frames=tuple(frames))

    @property
    def max_timestamp(self) -> int | None:
        return max((f.timestamp for f in self.frames), default=None)


#: ``admit(record)`` raises when the record, as it is at that instant, refuses a new frame.
Admit = Callable[[ChallengeRecord], None]


def claim_decision(record: ChallengeRecord, now: float, stale_after_s: float) -> None:
    """Raise :class:`~liveness_lab.service.errors.Conflict` unless ``record`` may be claimed now.

    An ``open`` challenge may be claimed; a ``verifying`` one only when its
    claim is older than ``stale_after_s`` (the process that claimed it died);
    a ``verified`` one never (verification is single-use).
    """
    if record.status == VERIFIED:
        raise Conflict("the challenge has already been verified; verification is single-use")
    if record.status == VERIFYING:
        if record.claimed_at is not None and now - record.claimed_at > stale_after_s:
            return
        raise Conflict("the challenge is being verified by another request")
    if record.status != OPEN:
        raise Conflict(f"the challenge is {record.status}")


def faces_to_json(faces: Sequence[FaceDetail]) -> str:
    """Compact Rekognition ``FaceDetails`` JSON of ``faces``."""
    return json.dumps(faces_to_rekognition(faces), separators=(",", ":"))


def faces_from_json(text: str) -> tuple[FaceDetail, ...]:
    return faces_from_rekognition(json.loads(text))


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars unwrapped, non-finite floats as ``None``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


class ChallengeStore(abc.ABC):
    """Where challenge records live (SQLite by default, DynamoDB at scale).

    ``capabilities`` names the optional operations a store class supports
    (e.g. :data:`LISTS_UNANALYZED`); callers test it instead of probing methods.
    """

    #: optional operations this store class supports
    capabilities: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def create(self, record: ChallengeRecord) -> None:
        """Store a new record; :class:`~liveness_lab.service.errors.Conflict` if the id exists."""

    @abc.abstractmethod
    def get(self, challenge_id: str, *, with_trace: bool = False) -> ChallengeRecord | None:
        """The record with its frames and their analyses (and the trace if asked), or ``None``."""

    @abc.abstractmethod
    def append_frame(self, challenge_id: str, frame: FrameRecord, admit: Admit) -> FrameRecord:
        """Append ``frame`` atomically if ``admit(current_record)`` does not raise.

        The store gives the frame its ``index`` (the number of frames before
        it) and returns the stored frame. ``admit`` sees the record exactly as
        it is when the append is applied (no frame can be appended in between).
        Raises :class:`~liveness_lab.service.errors.NotFound` for an unknown id.
        """

    @abc.abstractmethod
    def set_analysis(self, challenge_id: str, index: int, faces: Sequence[FaceDetail] | None,
                     error: str | None = None) -> None:
        """Record the analysis of frame ``index`` (or why it failed)."""

    @abc.abstractmethod
    def claim_verification(self, challenge_id: str, claim_id: str, now: float,
                           stale_after_s: float) -> ChallengeRecord:
        """Move the challenge to ``verifying`` under ``claim_id`` and return it with its frames.

        Atomic; refusals follow :func:`claim_decision`. After a successful
        claim no frame can be appended.
        """

    @abc.abstractmethod
    def release_verification(self, challenge_id: str, claim_id: str) -> None:
        """Give a claim up (back to ``open``), if ``claim_id`` still holds it."""

    @abc.abstractmethod
    def finish_verification(self, challenge_id: str, claim_id: str, verdict: Mapping[str, Any],
                            trace: Sequence[Mapping[str, Any]], now: float) -> None:
        """Store the verdict and trace and mark the challenge ``verified``.

        Raises :class:`~liveness_lab.service.errors.Conflict` if ``claim_id``
        no longer holds the claim.
        """

    @abc.abstractmethod
    def ids_created_before(self, cutoff: float, limit: int = 1000) -> list[str]:
        """Ids of challenges created before ``cutoff`` (oldest first, at most ``limit``)."""

    @abc.abstractmethod
    def delete(self, challenge_id: str) -> bool:
        """Delete a record and its frame list; ``False`` if it did not exist."""

    def unanalyzed(self, limit: int = 10000) -> list[tuple[str, int]]:
        """``(challenge_id, index)`` of frames of open challenges awaiting analysis.

        Only stores whose ``capabilities`` hold :data:`LISTS_UNANALYZED`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list unanalyzed frames")

    def ping(self) -> None:
        """Raise if the store is unreachable."""

    def close(self) -> None:
        """Release connections."""


class FrameStore(abc.ABC):
    """Where frame images live (a local directory by default, S3 at scale)."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (never visible half-written)."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`~liveness_lab.service.errors.NotFound` if absent."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the frame under ``key`` (no error if it is absent)."""

    @abc.abstractmethod
    def delete_prefix(self, challenge_id: str) -> int:
        """Delete every frame of ``challenge_id``; returns how many were deleted."""

    @abc.abstractmethod
    def challenge_ids(self) -> Iterator[str]:
        """Ids of the challenges that have frames stored (for finding orphans)."""

    def remove_stale_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Delete half-written leftovers of a crash, if the store can have any; their count."""
        return 0

    def ping(self) -> None:
        """Raise if the store is unreachable."""

    def close(self) -> None:
        """Release resources."""
