"""Challenge tokens: HS256 JWTs bound to one challenge, with an expiry.

A token's payload is ``{"challengeId": id, "iat": ..., "exp": ...}``: the
original framework's payload (``{"challengeId": id}``) plus the issue and
expiry times it lacked. :class:`TokenSigner` issues and checks them; the
challenge id is compared with :func:`hmac.compare_digest`.

The signing secret comes from one of (first configured wins, see
:func:`load_token_secret`): the ``token_secret`` setting, a file, AWS Secrets
Manager, or - for zero-configuration local use - a random secret generated
once and kept in ``DATA_DIR/token-secret`` with permissions ``0600``.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from .errors import ServiceUnavailable, Unauthorized

__all__ = ["TokenSigner", "IssuedToken", "load_token_secret", "MIN_SECRET_BYTES"]

#: Shortest accepted signing secret (HS256 keys should have at least 256 bits).
MIN_SECRET_BYTES = 32
ALGORITHM = "HS256"


@dataclass(frozen=True)
class IssuedToken:
    """A signed token with its issue and expiry times (seconds since the Unix epoch)."""

    token: str
    issued_at: float
    expires_at: float


class TokenSigner:
    """Issue and check challenge tokens.

    Parameters
    ----------
    secret:
        The HS256 key, at least :data:`MIN_SECRET_BYTES` bytes.
    ttl_s:
        Token lifetime in seconds (also the challenge's lifetime).
    clock:
        Returns the current time in seconds since the Unix epoch (tests inject one).
    """

    def __init__(self, secret: bytes | str, ttl_s: float, *,
                 clock: Callable[[], float] = time.time) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes, "
                              f"got {len(key)}")
        if not ttl_s > 0:
            raise ConfigError(f"the token lifetime must be > 0 seconds, got {ttl_s!r}")
        self._key = key
        self.ttl_s = float(ttl_s)
        self._clock = clock

    def __repr__(self) -> str:  # never show the key
        return f"TokenSigner(ttl_s={self.ttl_s:g})"

    def issue(self, challenge_id: str, *, now: float | None = None) -> IssuedToken:
        """A token for ``challenge_id`` valid from ``now`` for ``ttl_s`` seconds."""
        import jwt

        issued = self._clock() if now is None else now
        expires = issued + self.ttl_s
        payload = {"challengeId": challenge_id, "iat": int(issued), "exp": int(expires)}
        return IssuedToken(jwt.encode(payload, self._key, algorithm=ALGORITHM), issued,
                           int(expires))

    def verify(self, token: Any, challenge_id: str, *, allow_expired: bool = False
               ) -> dict[str, Any]:
        """The token's claims if it is valid, unexpired and names ``challenge_id``.

        Raises :class:`~liveness_lab.service.errors.Unauthorized` otherwise (a
        token that does not decode, has a bad signature, has expired, lacks
        ``exp`` or names another challenge). With ``allow_expired`` an expired
        but otherwise valid token is accepted (to read a result after the
        challenge's lifetime).
        """
        import jwt

        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthorized("a challenge token is required")
        try:
            # expiry is judged on this signer's clock (the service's), not PyJWT's own
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM],
                                options={"require": ["exp", "iat", "challengeId"],
                                         "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            raise Unauthorized("invalid challenge token") from None
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise Unauthorized("invalid challenge token")
        if not allow_expired and self._clock() >= exp:
            raise Unauthorized("the challenge token has expired")
        named = claims.get("challengeId")
        if not isinstance(named, str) or not hmac.compare_digest(
                named.encode("utf-8"), str(challenge_id).encode("utf-8")):
            raise Unauthorized("the challenge token was issued for another challenge")
        return claims


# -- secret sources ------------------------------------------------------------------------

def _secret_from_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read the token secret file {path}: {e.strerror or e}") from None
    data = data.strip()
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(f"the token secret in {path} must be at least {MIN_SECRET_BYTES} "
                          f"bytes, got {len(data)}")
    return data


def _secret_from_secrets_manager(secret_id: str, client: Any) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFoundException", "AccessDeniedException",
                    "InvalidParameterException", "InvalidRequestException",
                    "DecryptionFailure"):
            raise ConfigError(f"cannot read the token secret {secret_id!r} from AWS Secrets "
                              f"Manager: {code}") from None
        raise ServiceUnavailable(f"AWS Secrets Manager failed: {code or e}") from None
    except BotoCoreError as e:
        raise ServiceUnavailable(f"AWS Secrets Manager is unreachable: {e}") from None
    if response.get("SecretString") is not None:
        data = response["SecretString"].encode("utf-8")
    else:
        data = bytes(response.get("SecretBinary") or b"")
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(f"the token secret {secret_id!r} must be at least "
                          f"{MIN_SECRET_BYTES} bytes, got {len(data)}")
    return data


def _generated_secret(path: Path) -> bytes:
    """Read the generated secret, creating it (0600, atomically, exactly once) if missing."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_urlsafe(48).encode("ascii"))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails if another process created it first: theirs wins
            except FileExistsError:
                pass
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"the generated token secret {path} is readable by other users "
                          f"(mode {mode:o}); run chmod 600 {path}")
    return _secret_from_file(path)


def load_token_secret(settings: Any, *, secrets_client: Any = None) -> bytes:
    """The token signing secret named by ``settings``.

    Order: ``token_secret``; ``token_secret_file``; ``token_secret_id`` read
    from AWS Secrets Manager (``secrets_client`` injected, else a boto3 client
    for ``aws_region``); otherwise a random secret generated on first use and
    kept in ``settings.generated_secret_file`` with permissions ``0600``, so
    that restarts and several processes on one machine share it.
    """
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode("utf-8")
    if settings.token_secret_file is not None:
        return _secret_from_file(Path(settings.token_secret_file))
    if settings.token_secret_id is not None:
        if secrets_client is None:
            import boto3

            secrets_client = boto3.client("secretsmanager", region_name=settings.aws_region,
                                          endpoint_url=settings.aws_endpoint_url)
        return _secret_from_secrets_manager(settings.token_secret_id, secrets_client)
    return _generated_secret(Path(settings.generated_secret_file))
