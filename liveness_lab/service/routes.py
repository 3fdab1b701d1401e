"""The REST routes (a FastAPI ``APIRouter``): the original three, results, live state, health.

Each route reads the service, the settings and the authenticator from
``request.app.state`` (set by :func:`~liveness_lab.service.api.create_app`), runs
the blocking service call in the thread pool and answers with a body from
:mod:`liveness_lab.service.views`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .core import ChallengeService
from .errors import Unauthorized
from .schemas import (ChallengeCreated, ChallengeStatus, ChallengeTypeInfo,
                      CreateChallengeRequest, ErrorMessage, FrameSaved, Health, LatestFrame,
                      PutFrameRequest, VerifyRequest, VerifyResult, request_body)
from .validation import check_path_id, parse_json_body, require_object
from .views import challenge_body, created_body, health_body, live_body, types_body

__all__ = ["router", "client_address"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorMessage, "description": text} for code, text in (
        (400, "invalid request"), (401, "missing, invalid or expired token"),
        (404, "unknown challenge"), (409, "the challenge's state forbids it"),
        (413, "body too large"), (429, "rate limited or locked out"))}

router = APIRouter()


def _service(request: Request) -> ChallengeService:
    return request.app.state.service


def client_address(request: Request) -> str:
    """``ip:ADDRESS`` of the caller (the first ``X-Forwarded-For`` hop when trusted)."""
    if request.app.state.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return "ip:" + forwarded.split(",")[0].strip()[:64]
    return "ip:" + (request.client.host if request.client else "unknown")


async def _body(request: Request) -> dict[str, Any]:
    return require_object(parse_json_body(await request.body()))


# -- the original routes -----------------------------------------------------------------------
@router.post("/challenge", response_model=ChallengeCreated, tags=["original"],
             summary="Create a challenge", responses=_ERRORS,
             openapi_extra=request_body(CreateChallengeRequest))
async def create_challenge(request: Request) -> Any:
    svc = _service(request)
    auth = request.app.state.authenticator
    address = client_address(request)
    svc.auth_budget.check(address)
    try:
        principal = await run_in_threadpool(auth.authenticate, request.headers)
    except Unauthorized:
        svc.auth_budget.record_failure(address)
        raise
    body = await _body(request)
    client = principal.id if principal.id != "anonymous" else address
    created = await run_in_threadpool(svc.create_challenge, body, client=client)
    return created_body(created)


@router.put("/challenge/{challenge_id}/frame", response_model=FrameSaved, tags=["original"],
            summary="Upload one frame", responses=_ERRORS,
            openapi_extra=request_body(PutFrameRequest))
async def put_frame(challenge_id: str, request: Request) -> Any:
    check_path_id(challenge_id)
    body = await _body(request)
    token = body.get("token")
    if token is None:
        raise Unauthorized("a challenge token is required")
    await run_in_threadpool(_service(request).put_frame, challenge_id, token,
                            body.get("timestamp"), body.get("frameBase64"), body.get("faces"))
    return {"message": "Frame saved successfully"}


@router.post("/challenge/{challenge_id}/verify", response_model=VerifyResult,
             tags=["original"], summary="Verify the challenge (once)", responses=_ERRORS,
             openapi_extra=request_body(VerifyRequest))
async def verify_challenge(challenge_id: str, request: Request) -> Any:
    check_path_id(challenge_id)
    body = await _body(request)
    verdict = await run_in_threadpool(_service(request).verify, challenge_id, body.get("token"))
    return {"success": bool(verdict["success"])}


# -- added routes --------------------------------------------------------------------------------
def _token(header: str | None, query: str | None) -> str:
    token = header or query
    if not token:
        raise Unauthorized("the challenge token is required (header X-Challenge-Token or "
                           "query parameter token)")
    return token


@router.get("/challenge/{challenge_id}", response_model=ChallengeStatus, tags=["results"],
            summary="Status, verdict, reason, trace and failure budget of a challenge",
            responses=_ERRORS)
async def get_challenge(request: Request, challenge_id: str,
                        x_challenge_token: str | None = Header(None, max_length=4096),
                        token: str | None = Query(None, max_length=4096),
                        trace: bool = Query(True, description="include the trace")) -> Any:
    check_path_id(challenge_id)
    view = await run_in_threadpool(_service(request).get_challenge, challenge_id,
                                   _token(x_challenge_token, token), with_trace=trace)
    return challenge_body(view)


@router.get("/challenge/{challenge_id}/frames/latest", response_model=LatestFrame,
            tags=["results"], summary="Latest analyzed frame and current state (live feedback)",
            responses=_ERRORS)
async def latest_frame(request: Request, challenge_id: str,
                       x_challenge_token: str | None = Header(None, max_length=4096),
                       token: str | None = Query(None, max_length=4096),
                       wait: float = Query(0.0, ge=0.0, le=5.0,
                                           description="seconds to wait for the newest "
                                                       "frame's analysis")) -> Any:
    check_path_id(challenge_id)
    view = await run_in_threadpool(_service(request).latest_frame, challenge_id,
                                   _token(x_challenge_token, token), wait_s=wait)
    return live_body(view)


@router.get("/challenge-types", response_model=list[ChallengeTypeInfo], tags=["service"],
            summary="Registered challenge types and their configuration")
async def challenge_types(request: Request) -> Any:
    return types_body(_service(request).challenge_types())


@router.get("/health", response_model=Health, tags=["service"],
            summary="Health of the API and its stores (503 when a store does not answer)",
            responses={503: {"model": Health, "description": "a store does not answer"}})
async def health(request: Request) -> Any:
    report = health_body(await run_in_threadpool(_service(request).health))
    if report["status"] != "ok":
        return JSONResponse(report, status_code=503)
    return report
