"""What the challenge service returns: small frozen dataclasses, no HTTP.

:mod:`liveness_lab.service.views` turns them into the REST API's JSON bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .lockout import BudgetState
from .stores.base import ChallengeRecord, FrameRecord

__all__ = ["CreatedChallenge", "ChallengeView", "LiveView", "TypeInfo", "HealthReport"]


@dataclass(frozen=True)
class CreatedChallenge:
    """What creation returns to the client (the original's response fields)."""

    id: str
    token: str
    type: str
    params: Mapping[str, Any]
    expires_at: float


@dataclass(frozen=True)
class ChallengeView:
    """A challenge as its client may see it: the record, its status, the client's budget."""

    record: ChallengeRecord
    status: str
    attempts: BudgetState
    with_trace: bool

    @property
    def frame_count(self) -> int:
        return len(self.record.frames)

    @property
    def analyzed_count(self) -> int:
        return sum(1 for f in self.record.frames if f.faces is not None)


@dataclass(frozen=True)
class LiveView:
    """The newest analyzed frame and the state machine's current state (live feedback)."""

    record: ChallengeRecord
    status: str
    frame_count: int
    analyzed_count: int
    pending_count: int
    latest: FrameRecord | None
    state: Mapping[str, Any] | None
    decided: bool | None
    success: bool | None


@dataclass(frozen=True)
class TypeInfo:
    """A registered challenge type as the service uses it."""

    name: str
    description: str
    random_selection: bool
    states: tuple[str, ...]
    config: Mapping[str, Any]


@dataclass(frozen=True)
class HealthReport:
    """``status`` ``ok`` or ``degraded`` (``problems``), with non-secret facts and warnings."""

    status: str
    version: str
    analyzer: str
    engine: str | None
    profile: str
    pending_analyses: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
