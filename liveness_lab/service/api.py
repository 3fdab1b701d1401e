"""The REST API (FastAPI): the original framework's three routes, and more.

Original routes, same bodies, status codes and responses, so clients written
for the AWS Liveness Detection Framework work unchanged:

* ``POST /challenge`` ``{imageWidth, imageHeight[, challengeType]}`` ->
  ``{id, token, type, params}``
* ``PUT /challenge/{id}/frame`` ``{token, timestamp, frameBase64}`` ->
  ``{"message": "Frame saved successfully"}``
* ``POST /challenge/{id}/verify`` ``{token}`` -> ``{"success": bool}``

Added: ``GET /challenge/{id}`` (status, verdict, reason, trace),
``GET /challenge/{id}/frames/latest`` (live feedback), ``GET /challenge-types``,
``GET /health``, the OpenAPI document (``/openapi.json``, ``/docs``).

Every refusal is a 4xx JSON ``{"message": ...}``: bodies are limited in size
before they are read, parsed by the service (malformed JSON and invalid
fields give 400 as in the original), and service errors carry their status.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .auth import Authenticator, make_authenticator
from .core import ChallengeService
from .errors import BadRequest, ServiceError, Unauthorized
from .schemas import (ChallengeCreated, ChallengeStatus, ChallengeTypeInfo,
                      CreateChallengeRequest, ErrorMessage, FrameSaved, Health, LatestFrame,
                      PutFrameRequest, VerifyRequest, VerifyResult, request_body)
from .settings import Settings, get_settings

__all__ = ["create_app", "BodySizeLimit", "lambda_handler"]

log = logging.getLogger("liveness_lab.service")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorMessage, "description": text} for code, text in (
        (400, "invalid request"), (401, "missing, invalid or expired token"),
        (404, "unknown challenge"), (409, "the challenge's state forbids it"),
        (413, "body too large"), (429, "rate limited"))}


def _error(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))} \
        if retry_after is not None else None
    return JSONResponse({"message": message}, status_code=status, headers=headers)


class BodySizeLimit:
    """ASGI middleware refusing request bodies over a limit with 413, before the app reads them.

    ``limit_for(method, path)`` gives the limit of a request. The body is read
    here (up to the limit) and replayed to the application.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        message = f"the request body exceeds the limit of {limit} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _error(400, "invalid Content-Length header")(scope, receive, send)
                    return
                if declared > limit:
                    await _error(413, message)(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body = msg.get("body", b"")
            size += len(body)
            if size > limit:
                await _error(413, message)(scope, receive, send)
                return
            chunks.append(body)
            if not msg.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("the request needs a JSON body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def create_app(settings: Settings | None = None, *, service: ChallengeService | None = None,
               authenticator: Authenticator | None = None) -> FastAPI:
    """The FastAPI application.

    Parameters
    ----------
    settings:
        Default: :func:`~liveness_lab.service.settings.get_settings` (the environment).
    service:
        An existing service (tests inject one); default: built from ``settings``
        now, and closed when the application shuts down.
    authenticator:
        Checks the credentials of challenge creation; default: per ``settings.auth``.
    """
    if service is not None:
        settings = service.settings
    settings = settings or get_settings()
    owns_service = service is None
    svc = service if service is not None else ChallengeService(settings)
    auth = authenticator or make_authenticator(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.http_threads
        try:
            yield
        finally:
            if owns_service:
                await run_in_threadpool(svc.close)
            auth.close()

    app = FastAPI(
        title="liveness-lab", version=__version__, lifespan=lifespan,
        description="Challenge-response face liveness detection. The three original routes of "
                    "the AWS Liveness Detection Framework (create, frames, verify) plus results, "
                    "live feedback, challenge types and health.")
    app.state.service = svc
    app.state.settings = settings

    # -- errors: every refusal is a 4xx with {"message": ...} ------------------------------
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _error(400, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"message": "internal error"}, status_code=500)

    def client_key(request: Request, principal_id: str) -> str:
        if principal_id != "anonymous":
            return principal_id
        if settings.trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for")
            if forwarded:
                return "ip:" + forwarded.split(",")[0].strip()
        return "ip:" + (request.client.host if request.client else "unknown")

    # -- the original routes ---------------------------------------------------------------
    @app.post("/challenge", response_model=ChallengeCreated, tags=["original"],
              summary="Create a challenge", responses=_ERRORS,
              openapi_extra=request_body(CreateChallengeRequest))
    async def create_challenge(request: Request) -> Any:
        principal = await run_in_threadpool(auth.authenticate, request.headers)
        body = _object(await _json_body(request))
        created = await run_in_threadpool(svc.create_challenge, body,
                                          client=client_key(request, principal.id))
        return created.to_response()

    @app.put("/challenge/{challenge_id}/frame", response_model=FrameSaved, tags=["original"],
             summary="Upload one frame", responses=_ERRORS,
             openapi_extra=request_body(PutFrameRequest))
    async def put_frame(challenge_id: str, request: Request) -> Any:
        body = _object(await _json_body(request))
        token = body.get("token")
        if token is None:
            raise Unauthorized("a challenge token is required")
        await run_in_threadpool(svc.put_frame, challenge_id, token, body.get("timestamp"),
                                body.get("frameBase64"), body.get("faces"))
        return {"message": "Frame saved successfully"}

    @app.post("/challenge/{challenge_id}/verify", response_model=VerifyResult,
              tags=["original"], summary="Verify the challenge (once)", responses=_ERRORS,
              openapi_extra=request_body(VerifyRequest))
    async def verify_challenge(challenge_id: str, request: Request) -> Any:
        body = _object(await _json_body(request))
        verdict = await run_in_threadpool(svc.verify, challenge_id, body.get("token"))
        return {"success": bool(verdict["success"])}

    # -- added routes ------------------------------------------------------------------------
    def read_token(header: str | None, query: str | None) -> str:
        token = header or query
        if not token:
            raise Unauthorized("the challenge token is required (header X-Challenge-Token or "
                               "query parameter token)")
        return token

    @app.get("/challenge/{challenge_id}", response_model=ChallengeStatus, tags=["results"],
             summary="Status, verdict, reason and trace of a challenge", responses=_ERRORS)
    async def get_challenge(challenge_id: str,
                            x_challenge_token: str | None = Header(None, max_length=4096),
                            token: str | None = Query(None, max_length=4096),
                            trace: bool = Query(True, description="include the trace")) -> Any:
        return await run_in_threadpool(svc.get_challenge, challenge_id,
                                       read_token(x_challenge_token, token), with_trace=trace)

    @app.get("/challenge/{challenge_id}/frames/latest", response_model=LatestFrame,
             tags=["results"], summary="Latest analyzed frame and current state (live feedback)",
             responses=_ERRORS)
    async def latest_frame(challenge_id: str,
                           x_challenge_token: str | None = Header(None, max_length=4096),
                           token: str | None = Query(None, max_length=4096),
                           wait: float = Query(0.0, ge=0.0, le=5.0,
                                               description="seconds to wait for the newest "
                                                           "frame's analysis")) -> Any:
        return await run_in_threadpool(svc.latest_frame, challenge_id,
                                       read_token(x_challenge_token, token), wait_s=wait)

    @app.get("/challenge-types", response_model=list[ChallengeTypeInfo], tags=["service"],
             summary="Registered challenge types and their configuration")
    async def challenge_types() -> Any:
        return svc.challenge_types()

    @app.get("/health", response_model=Health, tags=["service"],
             summary="Health of the API and its stores (503 when a store does not answer)",
             responses={503: {"model": Health, "description": "a store does not answer"}})
    async def health() -> Any:
        report = await run_in_threadpool(svc.health)
        if report["status"] != "ok":
            return JSONResponse(report, status_code=503)
        return report

    frame_limit = settings.max_frame_request_bytes
    json_limit = settings.max_json_body_bytes

    def limit_for(method: str, path: str) -> int:
        if method == "PUT" and path.endswith("/frame"):
            return frame_limit
        return json_limit

    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "PUT", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key",
                                          "X-Challenge-Token"],
                           max_age=600)
    return app


_LAMBDA_HANDLER: Any = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (API Gateway events) through the Mangum ASGI adapter.

    The application is built on the first invocation from the environment
    (``LIVENESS_*`` variables set by ``deploy/template.yaml``).
    """
    global _LAMBDA_HANDLER
    if _LAMBDA_HANDLER is None:
        from mangum import Mangum

        _LAMBDA_HANDLER = Mangum(create_app(), lifespan="off")
    return _LAMBDA_HANDLER(event, context)
