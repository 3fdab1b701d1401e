"""A Python client of the liveness-lab REST API (and of the original framework's three routes).

::

    from liveness_lab.service.client import LivenessClient

    with LivenessClient("http://127.0.0.1:8000") as client:
        challenge = client.create_challenge(640, 480)
        for timestamp_ms, jpeg in frames:
            client.put_frame(challenge, timestamp_ms, jpeg)
        passed = client.verify(challenge)            # True / False, once
        result = client.get_challenge(challenge)     # status, verdict, reason, trace

Any non-2xx answer raises :class:`ApiError` with the status and the server's message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import httpx

__all__ = ["LivenessClient", "Challenge", "ApiError"]


class ApiError(Exception):
    """The API answered with an error status; ``status_code`` and ``message`` say which."""

    def __init__(self, status_code: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Challenge:
    """A created challenge: ``id``, ``token``, ``type`` and ``params`` as the server sent them."""

    id: str
    token: str
    type: str
    params: Mapping[str, Any]


def _faces_json(faces: Sequence[Any] | None) -> list[Any] | None:
    if faces is None:
        return None
    return [f.to_rekognition() if hasattr(f, "to_rekognition") else f for f in faces]


class LivenessClient:
    """Speak the liveness-lab REST API.

    Parameters
    ----------
    base_url:
        e.g. ``"http://127.0.0.1:8000"``.
    api_key:
        Sent as ``X-API-Key`` on challenge creation (servers with ``auth=api_key``).
    bearer_token:
        Sent as ``Authorization: Bearer ...`` on challenge creation (``auth=jwt``,
        e.g. a Cognito id token).
    timeout:
        Seconds per request.
    http_client:
        An existing :class:`httpx.Client` to use instead (e.g. FastAPI's
        ``TestClient`` for in-process tests); ``base_url`` is then ignored.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 bearer_token: str | None = None, timeout: float = 60.0,
                 http_client: httpx.Client | None = None) -> None:
        self._owns = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(
            base_url=base_url, timeout=timeout)
        self._auth_headers: dict[str, str] = {}
        if api_key is not None:
            self._auth_headers["X-API-Key"] = api_key
        if bearer_token is not None:
            self._auth_headers["Authorization"] = f"Bearer {bearer_token}"

    def close(self) -> None:
        """Close the underlying HTTP client (if this object created it)."""
        if self._owns:
            self._http.close()

    def __enter__(self) -> "LivenessClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            retry = response.headers.get("retry-after")
            raise ApiError(response.status_code, str(message),
                           float(retry) if retry and retry.isdigit() else None)
        return response.json()

    @staticmethod
    def _id_token(challenge: Challenge | str, token: str | None) -> tuple[str, str]:
        if isinstance(challenge, Challenge):
            return challenge.id, token or challenge.token
        if token is None:
            raise ValueError("pass a Challenge, or a challenge id together with its token")
        return challenge, token

    # -- the original routes ---------------------------------------------------------------------
    def create_challenge(self, image_width: int, image_height: int, *,
                         challenge_type: str | None = None, **metadata: Any) -> Challenge:
        """``POST /challenge``: a new challenge for frames of ``image_width`` x ``image_height``."""
        body: dict[str, Any] = {"imageWidth": image_width, "imageHeight": image_height, **metadata}
        if challenge_type is not None:
            body["challengeType"] = challenge_type
        data = self._request("POST", "/challenge", json=body, headers=self._auth_headers)
        return Challenge(data["id"], data["token"], data["type"], data["params"])

    def put_frame(self, challenge: Challenge | str, timestamp_ms: int, jpeg: bytes, *,
                  token: str | None = None, faces: Sequence[Any] | None = None) -> str:
        """``PUT /challenge/{id}/frame``: upload one JPEG frame taken at ``timestamp_ms``.

        ``faces`` (FaceDetail objects or Rekognition dicts) only for servers
        running the ``recorded`` analyzer. Returns the server's message.
        """
        challenge_id, tok = self._id_token(challenge, token)
        body: dict[str, Any] = {"token": tok, "timestamp": int(timestamp_ms),
                                "frameBase64": base64.b64encode(jpeg).decode("ascii")}
        if faces is not None:
            body["faces"] = _faces_json(faces)
        return self._request("PUT", f"/challenge/{challenge_id}/frame", json=body)["message"]

    def verify(self, challenge: Challenge | str, *, token: str | None = None) -> bool:
        """``POST /challenge/{id}/verify``: the verdict (single-use)."""
        challenge_id, tok = self._id_token(challenge, token)
        return bool(self._request("POST", f"/challenge/{challenge_id}/verify",
                                  json={"token": tok})["success"])

    # -- added routes ---------------------------------------------------------------------------
    def get_challenge(self, challenge: Challenge | str, *, token: str | None = None,
                      trace: bool = True) -> dict[str, Any]:
        """``GET /challenge/{id}``: status, verdict, reason and (optionally) the trace."""
        challenge_id, tok = self._id_token(challenge, token)
        return self._request("GET", f"/challenge/{challenge_id}",
                             params={"trace": "true" if trace else "false"},
                             headers={"X-Challenge-Token": tok})

    def latest_frame(self, challenge: Challenge | str, *, token: str | None = None,
                     wait: float = 0.0) -> dict[str, Any]:
        """``GET /challenge/{id}/frames/latest``: newest analyzed frame's faces, current state."""
        challenge_id, tok = self._id_token(challenge, token)
        return self._request("GET", f"/challenge/{challenge_id}/frames/latest",
                             params={"wait": wait}, headers={"X-Challenge-Token": tok})

    def challenge_types(self) -> list[dict[str, Any]]:
        """``GET /challenge-types``."""
        return self._request("GET", "/challenge-types")

    def health(self) -> dict[str, Any]:
        """``GET /health``."""
        return self._request("GET", "/health")
