"""Errors of the challenge service, each with the HTTP status the REST API answers with.

The service core raises them without knowing about HTTP; the API turns any
:class:`ServiceError` into ``{"message": str(error)}`` with :attr:`ServiceError.status`.
Every refusal is a 4xx; :class:`ServiceUnavailable` (503) is kept for a
temporary failure of a dependency (the face analyzer, the signing-key
endpoint) that the client may retry.
"""

from __future__ import annotations

from ..errors import LivenessLabError

__all__ = ["ServiceError", "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict",
           "PayloadTooLarge", "RateLimited", "ServiceUnavailable"]


class ServiceError(LivenessLabError):
    """A request the service refuses; ``status`` is the HTTP status code to answer with."""

    status: int = 400

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: seconds after which a retry may succeed (``Retry-After``), when known
        self.retry_after = retry_after


class BadRequest(ServiceError, ValueError):
    """Malformed or invalid input (400)."""

    status = 400


class Unauthorized(ServiceError):
    """Missing, invalid, expired or foreign credentials or challenge token (401)."""

    status = 401


class Forbidden(ServiceError):
    """Valid credentials that do not allow the action (403)."""

    status = 403


class NotFound(ServiceError):
    """No such challenge (404)."""

    status = 404


class Conflict(ServiceError):
    """The challenge's state forbids the action: already verified, frame limit reached... (409)."""

    status = 409


class PayloadTooLarge(ServiceError):
    """The request body exceeds the configured limit (413)."""

    status = 413


class RateLimited(ServiceError):
    """Too many requests from this client; retry after ``retry_after`` seconds (429)."""

    status = 429


class ServiceUnavailable(ServiceError):
    """A dependency is temporarily unavailable; the request may be retried (503)."""

    status = 503
