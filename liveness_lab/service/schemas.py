"""Request and response bodies of the REST API (transport schemas, separate from domain types).

The three original routes keep the original field names (``imageWidth``,
``frameBase64``, ...). Request models document the bodies in the OpenAPI
document; the service itself validates them (the way the original did, with
its 400 messages). Response models describe what the routes return.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CreateChallengeRequest", "PutFrameRequest", "VerifyRequest", "ChallengeCreated",
           "FrameSaved", "VerifyResult", "ChallengeStatus", "LatestFrame", "ChallengeTypeInfo",
           "Health", "ErrorMessage", "Attempts", "request_body"]


class CreateChallengeRequest(BaseModel):
    """Client metadata for a new challenge (extra fields are passed to the params generator)."""

    model_config = ConfigDict(extra="allow")

    imageWidth: int = Field(..., ge=1, description="camera frame width, pixels")
    imageHeight: int = Field(..., ge=1, description="camera frame height, pixels")
    challengeType: str | None = Field(None, description="honoured only when the server enables "
                                      "client challenge selection")
    referenceImage: str | None = Field(None, description="optional enrolled reference face "
                                       "(base64 JPEG): the identity check compares the frames "
                                       "with it (services comparing faces with CompareFaces)")


class PutFrameRequest(BaseModel):
    """One camera frame."""

    token: str = Field(..., description="the challenge token returned at creation")
    timestamp: int = Field(..., ge=0, description="client capture time, ms since the Unix epoch")
    frameBase64: str = Field(..., description="the JPEG image, base64 (standard alphabet)")
    faces: list[dict[str, Any]] | None = Field(
        None, description="only when the server runs the 'recorded' analyzer (tests, "
                          "benchmarks, replays): the frame's faces as a Rekognition FaceDetails "
                          "list")


class VerifyRequest(BaseModel):
    """The challenge token."""

    token: str


class ChallengeCreated(BaseModel):
    """A new challenge: what the client needs to run it."""

    id: str
    token: str
    type: str
    params: dict[str, Any]


class FrameSaved(BaseModel):
    message: str = Field(..., examples=["Frame saved successfully"])


class VerifyResult(BaseModel):
    success: bool


class ChallengeStatus(BaseModel):
    """A challenge's state and, once verified, its verdict, reason and per-frame trace."""

    id: str
    type: str
    params: dict[str, Any]
    status: str = Field(..., description="open, verifying, verified or expired")
    createdAt: int = Field(..., description="ms since the Unix epoch")
    expiresAt: int
    verifiedAt: int | None = None
    frameCount: int
    analyzedCount: int
    success: bool | None = None
    code: str | None = Field(None, description="stable identifier of the deciding check")
    reason: str | None = None
    verdict: dict[str, Any] | None = None
    trace: list[dict[str, Any]] | None = Field(None, description="one row per frame and state")
    attempts: "Attempts"


class Attempts(BaseModel):
    """The client's failure budget: failed verifications counted, the limit, any lockout."""

    failures: int = Field(..., description="failed verifications in the window")
    limit: int = Field(..., description="failures allowed in the window (0: no limit)")
    windowSeconds: float
    remaining: int
    lockedUntil: int | None = Field(None, description="ms since the Unix epoch; none: not "
                                    "locked out")


ChallengeStatus.model_rebuild()


class LiveState(BaseModel):
    name: str | None = None
    result: str | None = None
    code: str | None = None
    message: str | None = None


class LatestFrameInfo(BaseModel):
    index: int
    timestamp: int
    faces: list[dict[str, Any]]


class LatestFrame(BaseModel):
    """The newest analyzed frame and the state machine's current state (live feedback)."""

    challengeId: str
    type: str
    status: str
    frameCount: int
    analyzedCount: int
    pendingCount: int
    frame: LatestFrameInfo | None = None
    state: LiveState | None = None
    decided: bool | None = None
    success: bool | None = None


class ChallengeTypeInfo(BaseModel):
    name: str
    description: str
    randomSelection: bool
    states: list[str]
    config: dict[str, Any]


class Health(BaseModel):
    status: str
    version: str
    analyzer: str
    engine: str | None = None
    profile: str
    pendingAnalyses: int
    problems: list[str] = []
    warnings: list[str] = Field([], description="e.g. the insecure seed profile")


class ErrorMessage(BaseModel):
    """Every refusal: a 4xx status with a message."""

    message: str


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body (inline schema)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}
