"""The REST API's JSON bodies, built from the service's domain objects.

:mod:`liveness_lab.service.core` returns dataclasses with snake_case fields and
times in seconds; the API speaks the original framework's camelCase with times in
ms since the Unix epoch. Each function here is one response body.
"""

from __future__ import annotations

from typing import Any

from ..faces import faces_to_rekognition
from .models import ChallengeView, CreatedChallenge, HealthReport, LiveView, TypeInfo
from .lockout import BudgetState
from .stores.base import jsonable

__all__ = ["created_body", "challenge_body", "live_body", "types_body", "health_body",
           "attempts_body"]


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def created_body(created: CreatedChallenge) -> dict[str, Any]:
    """``{id, token, type, params}``: the original's creation response, nothing more."""
    return {"id": created.id, "token": created.token, "type": created.type,
            "params": jsonable(created.params)}


def attempts_body(state: BudgetState) -> dict[str, Any]:
    """The failure budget (the service's budgets run on the epoch clock)."""
    return {"failures": state.failures, "limit": state.limit, "windowSeconds": state.window_s,
            "remaining": state.remaining, "lockedUntil": _ms(state.locked_until)}


def challenge_body(view: ChallengeView) -> dict[str, Any]:
    """``GET /challenge/{id}``: status, counts, verdict, reason, trace and the client's budget."""
    record = view.record
    verdict = record.verdict
    return {
        "id": record.id, "type": record.type, "params": jsonable(record.params),
        "status": view.status,
        "createdAt": _ms(record.created_at), "expiresAt": _ms(record.expires_at),
        "verifiedAt": _ms(record.verified_at),
        "frameCount": view.frame_count, "analyzedCount": view.analyzed_count,
        "success": None if verdict is None else bool(verdict.get("success")),
        "reason": None if verdict is None else verdict.get("reason"),
        "code": None if verdict is None else verdict.get("code"),
        "verdict": None if verdict is None else dict(verdict),
        "trace": list(record.trace) if view.with_trace and record.trace is not None else None,
        "attempts": attempts_body(view.attempts),
    }


def live_body(view: LiveView) -> dict[str, Any]:
    """``GET /challenge/{id}/frames/latest``: the newest analyzed frame and the current state."""
    latest = view.latest
    return jsonable({
        "challengeId": view.record.id, "type": view.record.type, "status": view.status,
        "frameCount": view.frame_count, "analyzedCount": view.analyzed_count,
        "pendingCount": view.pending_count,
        "frame": None if latest is None else {
            "index": latest.index, "timestamp": latest.timestamp,
            "faces": faces_to_rekognition(latest.faces or ())},
        "state": None if view.state is None else dict(view.state),
        "decided": view.decided, "success": view.success})


def types_body(types: list[TypeInfo]) -> list[dict[str, Any]]:
    """``GET /challenge-types``."""
    return [{"name": t.name, "description": t.description, "randomSelection": t.random_selection,
             "states": list(t.states), "config": dict(t.config)} for t in types]


def health_body(report: HealthReport) -> dict[str, Any]:
    """``GET /health``."""
    return {"status": report.status, "version": report.version, "analyzer": report.analyzer,
            "engine": report.engine, "profile": report.profile,
            "pendingAnalyses": report.pending_analyses, "problems": list(report.problems),
            "warnings": list(report.warnings)}
