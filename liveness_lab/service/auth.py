"""Authentication of challenge creation: none, a static API key, or a JWT checked against a JWKS.

An :class:`Authenticator` takes the request headers and returns the
:class:`Principal` (who is asking) or raises
:class:`~liveness_lab.service.errors.Unauthorized`. The JWT flavour checks
tokens the way Amazon Cognito user pools issue them: RS256 signature against
the pool's JWKS (``https://cognito-idp.REGION.amazonaws.com/POOL_ID/.well-known/jwks.json``),
``exp``, ``iss``, optionally ``token_use`` (``id`` or ``access``) and the app
client id (``aud`` for id tokens, ``client_id`` for access tokens).
"""

from __future__ import annotations

import abc

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import ServiceUnavailable, Unauthorized

__all__ = ["Principal", "Authenticator", "NoAuth", "ApiKeyAuth", "JwtAuth", "make_authenticator"]


@dataclass(frozen=True)
class Principal:
    """Who made a request: ``kind`` (``anonymous``, ``api_key``, ``jwt``) and a stable id."""

    kind: str
    id: str


class Authenticator(abc.ABC):
    """Checks the credentials of a request; subclasses implement :meth:`authenticate`."""

    kind = "none"

    @abc.abstractmethod
    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The principal of a request with ``headers`` (lower-case names), or raise."""

    def close(self) -> None:
        """Release resources."""


class NoAuth(Authenticator):
    """Everyone is anonymous (the local default)."""

    kind = "none"

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        return Principal("anonymous", "anonymous")


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


class ApiKeyAuth(Authenticator):
    """A static API key in ``X-API-Key`` (or ``Authorization: Bearer KEY``).

    Keys are compared in constant time; the principal id is a short hash of the
    key (the key itself is never logged or stored).
    """

    kind = "api_key"

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("ApiKeyAuth needs at least one key")
        self._keys = [k.encode("utf-8") for k in keys]

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        given = headers.get("x-api-key") or _bearer(headers)
        if not given:
            raise Unauthorized("an API key is required (header X-API-Key)")
        raw = given.encode("utf-8")
        ok = False
        for key in self._keys:  # no early exit: time does not depend on which key matched
            ok |= hmac.compare_digest(raw, key)
        if not ok:
            raise Unauthorized("invalid API key")
        return Principal("api_key", "key-" + hashlib.sha256(raw).hexdigest()[:12])


class JwtAuth(Authenticator):
    """A JWT in ``Authorization: Bearer TOKEN`` verified against the keys of a JWKS URL.

    Parameters
    ----------
    jwks_url:
        Where the signing keys are published (fetched on first use, cached,
        refetched for an unknown ``kid``).
    issuer:
        Required ``iss`` (for Cognito: ``https://cognito-idp.REGION.amazonaws.com/POOL_ID``).
    audience:
        App client id: required ``aud`` of id tokens, ``client_id`` of access tokens.
    token_use:
        Required ``token_use`` claim (``"id"`` or ``"access"``), if given.
    algorithms:
        Accepted signature algorithms (Cognito signs with RS256).
    jwks_client:
        An object with ``get_signing_key_from_jwt(token)`` (tests may inject one);
        default: :class:`jwt.PyJWKClient`.
    """

    kind = "jwt"

    def __init__(self, jwks_url: str, issuer: str, *, audience: str | None = None,
                 token_use: str | None = None, algorithms: Sequence[str] = ("RS256",),
                 leeway_s: float = 30.0, jwks_client: Any = None) -> None:
        import jwt

        self.issuer = issuer
        self.audience = audience
        self.token_use = token_use
        self.algorithms = list(algorithms)
        self.leeway_s = leeway_s
        self._jwks = jwks_client or jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600,
                                                    timeout=5)

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        import jwt

        token = _bearer(headers)
        if token is None:
            raise Unauthorized("a bearer token is required (header Authorization: Bearer ...)")
        if len(token) > 16384:
            raise Unauthorized("invalid bearer token")
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as e:
            raise ServiceUnavailable(f"cannot fetch the token signing keys: {e}",
                                     retry_after=5) from None
        except jwt.PyJWKSetError as e:  # the endpoint answered without usable keys
            raise ServiceUnavailable(f"the token signing-key endpoint gave no usable keys: {e}",
                                     retry_after=5) from None
        except jwt.PyJWKClientError as e:
            if "matches" in str(e):  # a key id the (reachable) key set does not hold
                raise Unauthorized("invalid bearer token: unknown signing key") from None
            raise ServiceUnavailable(f"the token signing-key endpoint answered badly: {e}",
                                     retry_after=5) from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid bearer token: malformed token") from None
        except ValueError:  # the endpoint's body is not JSON (an error page)
            raise ServiceUnavailable("the token signing-key endpoint did not answer with JSON",
                                     retry_after=5) from None
        try:
            claims = jwt.decode(token, signing_key.key, algorithms=self.algorithms,
                                issuer=self.issuer, leeway=self.leeway_s,
                                options={"require": ["exp", "iss", "sub"], "verify_aud": False})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the bearer token has expired") from None
        except jwt.PyJWTError as e:
            raise Unauthorized(f"invalid bearer token: {e}") from None
        use = claims.get("token_use")
        if self.token_use is not None and use != self.token_use:
            raise Unauthorized(f"the bearer token must be an {self.token_use} token")
        if self.audience is not None:
            audience = claims.get("client_id") if use == "access" else claims.get("aud")
            values = audience if isinstance(audience, list) else [audience]
            if not any(isinstance(v, str) and hmac.compare_digest(v, self.audience)
                       for v in values):
                raise Unauthorized("the bearer token was issued for another app client")
        return Principal("jwt", str(claims["sub"]))


def make_authenticator(settings: Any) -> Authenticator:
    """The authenticator selected by ``settings.auth``."""
    if settings.auth == "api_key":
        return ApiKeyAuth([k.get_secret_value() for k in settings.api_keys])
    if settings.auth == "jwt":
        return JwtAuth(settings.jwt_jwks_url, settings.jwt_issuer, audience=settings.jwt_audience,
                       token_use=settings.jwt_token_use, algorithms=settings.jwt_algorithms)
    return NoAuth()
