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

import asyncio
import logging
import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .auth import Authenticator, make_authenticator
from .core import ChallengeService
from .errors import ServiceError
from .routes import router
from .settings import Settings, get_settings

__all__ = ["create_app", "BodySizeLimit", "lambda_handler", "TokenRedactingFilter",
           "install_token_redaction"]

log = logging.getLogger("liveness_lab.service")


def _error(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))} \
        if retry_after is not None else None
    return JSONResponse({"message": message}, status_code=status, headers=headers)


class BodySizeLimit:
    """ASGI middleware refusing request bodies over a limit with 413, before the app reads them.

    ``limit_for(method, path)`` gives the limit of a request. The body is read
    here (up to the limit) and replayed to the application. Large frame
    uploads (``PUT .../frame`` with a body over ``small_body`` bytes, or of
    unknown length) are handled at most ``frame_slots`` at a time: the others
    wait before their body is read, so memory stays bounded however many
    clients upload large frames at once. Small frames (the original client's
    are about 50 KB) never wait.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int],
                 frame_slots: int = 2, small_body: int = 1024 * 1024) -> None:
        self.app = app
        self.limit_for = limit_for
        self.frame_slots = frame_slots
        self.small_body = small_body
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "PUT" and scope["path"].endswith("/frame") \
                and not self._small(scope):
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.frame_slots)
            async with self._slots:
                await self._limited(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    def _small(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value) <= self.small_body
                except ValueError:
                    return False
        return False

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        body = bytearray()
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            if len(body) > limit:
                await _error(413, message)(scope, receive, send)
                return
            if not msg.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed, body
            if not replayed:
                replayed = True
                data, body = bytes(body), bytearray()
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class TokenRedactingFilter(logging.Filter):
    """Replaces challenge tokens in access-log lines (``?token=...``) with ``REDACTED``."""

    _TOKEN = re.compile(r"((?:^|[?&])token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1REDACTED", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1REDACTED", record.msg)
        return True


def install_token_redaction(logger_name: str = "uvicorn.access") -> None:
    """Add :class:`TokenRedactingFilter` to a logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
        logger.addFilter(TokenRedactingFilter())


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
    install_token_redaction()

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
    app.state.authenticator = auth

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

    app.include_router(router)

    frame_limit = settings.max_frame_request_bytes
    json_limit = settings.max_json_body_bytes

    def limit_for(method: str, path: str) -> int:
        if method == "PUT" and path.endswith("/frame"):
            return frame_limit
        return json_limit

    app.add_middleware(BodySizeLimit, limit_for=limit_for,
                       frame_slots=settings.max_concurrent_frames)
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
