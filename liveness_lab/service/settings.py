"""Settings of the challenge service, read from ``LIVENESS_*`` environment variables.

:class:`Settings` holds every knob of the service with a default that works on
one machine with no configuration at all (SQLite + a local frames directory
under ``.liveness-lab/``, the ``mesh`` analyzer, the secure default profile
(see :mod:`liveness_lab.service.startup`), no authentication, CORS off). :func:`get_settings` is the only place that reads
the environment: ``LIVENESS_<FIELD NAME IN UPPER CASE>``, e.g.
``LIVENESS_TOKEN_TTL_S=300`` or ``LIVENESS_CORS_ORIGINS=https://a.example,https://b.example``.
List values are comma-separated or JSON; mapping values are JSON.

Library code never reads the environment: build a ``Settings(...)`` and pass
it (tests do exactly that).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError,
                      model_validator)

from ..analyzers import DEFAULT_ANALYZER
from ..errors import ConfigError

__all__ = ["Settings", "get_settings", "parse_duration", "ENV_PREFIX"]

ENV_PREFIX = "LIVENESS_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """Seconds from ``30d``, ``12h``, ``45m``, ``90s``, ``2w`` or a plain number of seconds.

    >>> parse_duration("30d")
    2592000.0
    >>> parse_duration(90)
    90.0
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30d, 12h, 45m or 90s, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"expected a duration such as 30d, 12h, 45m or 90s, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    else:
        raise ValueError(f"expected a duration such as 30d, 12h, 45m or 90s, got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def _optional_duration(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
        return None
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
OptionalDuration = Annotated[float | None, BeforeValidator(_optional_duration)]


class Settings(BaseModel):
    """Every setting of the challenge service (see ``docs/service.md`` for each one).

    Build it directly in code and tests (``Settings(data_dir=tmp_path)``), or
    from the environment with :func:`get_settings`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- deployment ------------------------------------------------------------------------
    env: Literal["local", "test", "production"] = Field(
        "local", description="local (default), test, or production (stricter checks)")
    data_dir: Path = Field(Path(".liveness-lab"), description="SQLite file, frames directory "
                           "and generated token secret live here (relative to the working "
                           "directory)")

    # -- challenges -------------------------------------------------------------------------
    profile: str | None = Field(None, description="challenge configuration profile; none: the "
                                "secure default (hardened rules, NOSE only for clients of the "
                                "original contract); seed: the original's rules (insecure)")
    config_sets: tuple[str, ...] = Field((), description="TYPE.key=value threshold overrides")
    challenge_types: tuple[str, ...] = Field(
        (), description="types drawn at random (empty: every type registered for random "
                        "selection, NOSE and POSE by default)")
    client_challenge_selection: bool = Field(
        False, description="honour the client's challengeType (the original's "
                           "CLIENT_CHALLENGE_SELECTION)")
    max_image_side: int = Field(8192, ge=16, description="largest imageWidth / imageHeight "
                                "accepted at creation, pixels")
    test_seed: int | None = Field(None, description="TEST ONLY: draw challenge params from a "
                                  "seeded generator; refused unless env=test or "
                                  "allow_insecure_test_seed, always refused in production")
    allow_insecure_test_seed: bool = False

    # -- challenge tokens -----------------------------------------------------------------
    token_ttl_s: Duration = Field(180.0, description="challenge lifetime and token expiry, "
                                  "seconds (or 3m, 1h...); 180 s as Rekognition Face Liveness")
    token_secret: SecretStr | None = Field(None, description="HS256 signing secret (>= 32 bytes)")
    token_secret_file: Path | None = Field(None, description="file holding the signing secret")
    token_secret_id: str | None = Field(None, description="AWS Secrets Manager secret id or ARN "
                                        "holding the signing secret")
    aws_region: str | None = Field(None, description="AWS region of the AWS clients")
    aws_endpoint_url: str | None = Field(None, description="endpoint override for the AWS "
                                         "clients (a local emulator)")

    # -- frames -------------------------------------------------------------------------
    max_frames_per_challenge: int = Field(600, ge=1, description="frames accepted per "
                                          "challenge: the hardened BLINK's longest window "
                                          "(40 s) at 15 fps")
    max_frame_bytes: int = Field(15_728_640, ge=1024, description="largest decoded frame, "
                                 "bytes (the original's 15 MiB)")
    max_image_pixels: int = Field(8_294_400, ge=1, description="largest frame width x height; "
                                  "checked from the JPEG header before decoding")
    timestamp_skew_s: float = Field(120.0, ge=0, description="tolerated difference between "
                                    "client and server clocks when checking that frame "
                                    "timestamps fall inside the challenge's lifetime")
    max_challenge_bytes: int = Field(100 * 1024 * 1024, ge=1024, description="most JPEG bytes "
                                     "stored per challenge (all its frames together)")
    max_concurrent_frames: int = Field(2, ge=1, le=256, description="large frame uploads "
                                       "(body over 1 MiB) read and decoded at once; the others "
                                       "wait (smaller frames never do)")
    frame_reorder_window_ms: int = Field(1000, ge=0, description="a frame may be at most this "
                                         "much older than the newest frame received (clients "
                                         "such as the original web client upload concurrently); "
                                         "0: timestamps must strictly increase")

    # issue 11: timing bound to the server (liveness_lab/service/timing.py)
    timing_check: bool = Field(False, description="at verification, client timestamps must "
                               "agree with the service's receipt times and the response must "
                               "come a human reaction time after the challenge was served")
    max_frame_lag_ms: float = Field(2000.0, ge=0, description="timing check: most delay of a "
                                    "frame beyond the fastest upload of its challenge, ms")
    min_reaction_ms: float = Field(150.0, ge=0, description="timing check: least time from "
                                   "serving the challenge to the frame completing it, ms")

    # -- analysis ---------------------------------------------------------------------------
    analyzer: str = Field(DEFAULT_ANALYZER, description="face analyzer: mesh (default, "
                          "MediaPipe face mesh on LiteRT), local (dlib), rekognition, or "
                          "recorded (frames carry their faces; tests and benchmarks only)")
    analyzer_options: dict[str, Any] = Field(default_factory=dict)
    analysis_workers: int = Field(2, ge=1, le=64, description="background analysis workers")
    analysis_engine: Literal["auto", "thread", "process"] = Field(
        "auto", description="where analyzers run: process (one child process per worker, "
                            "CPU-bound analyzers use every core), thread, or auto (process for "
                            "the offline analyzers, mesh and local; thread otherwise)")
    analysis_max_side: int | None = Field(1280, ge=64, description="JPEG frames with a longer "
                                          "side are analyzed on a copy decoded at 1/2, 1/4 or "
                                          "1/8 scale (ratios are unchanged); none: full size")
    compare_faces_max_calls: int = Field(8, ge=2, le=100, description="most CompareFaces calls "
                                         "per verification (rekognition analyzer with an "
                                         "identity check)")
    descriptor_max_calls: int = Field(8, ge=2, le=100, description="most face descriptors "
                                      "computed per verification (local and mesh analyzers "
                                      "with an identity check; frames are analyzed without)")
    max_reference_image_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="largest "
                                           "enrolled reference image at creation, bytes")
    analysis_cache: Path | None = Field(None, description="SQLite analysis cache file "
                                        "(content-addressed); none by default")
    verify_grace_s: float = Field(120.0, ge=0, description="once a challenge's lifetime has "
                                  "ended no frame is accepted, but verify still is for this "
                                  "long: the frames that came in time may still be under "
                                  "analysis on a loaded server, or the client retries after a "
                                  "busy answer")
    verify_timeout_s: float = Field(60.0, gt=0, description="how long verify waits for the "
                                    "challenge's pending analyses")
    verify_stale_after_s: float = Field(90.0, gt=0, description="a verification claimed this "
                                        "long ago by a process that died may be taken over "
                                        "(must exceed verify_timeout_s)")

    # -- authentication of challenge creation ----------------------------------------------------
    auth: Literal["none", "api_key", "jwt"] = "none"
    api_keys: tuple[SecretStr, ...] = Field((), description="accepted API keys (X-API-Key)")
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = Field(None, description="app client id: the aud claim of id "
                                     "tokens, the client_id claim of access tokens")
    jwt_token_use: Literal["id", "access"] | None = None
    jwt_algorithms: tuple[str, ...] = ("RS256",)

    # -- rate limit of challenge creation ----------------------------------------------------
    create_rate_per_minute: float = Field(60.0, ge=0, description="sustained creations per "
                                          "minute and client; 0 disables the limit")
    create_burst: int = Field(20, ge=1, description="creations a client may make at once")
    max_failed_verifies: int = Field(5, ge=0, description="failed verifications a client may "
                                     "have in failure_window_s before it is locked out; 0: off")
    failure_window_s: Duration = Field(180.0, description="window of max_failed_verifies")
    lockout_s: Duration = Field(1800.0, description="how long a client is refused new "
                                "challenges after too many failed verifications")
    max_failed_auth: int = Field(10, ge=0, description="failed creation authentications an "
                                 "address may have in auth_failure_window_s; 0: off")
    auth_failure_window_s: Duration = Field(60.0)
    auth_lockout_s: Duration = Field(300.0, description="how long an address is refused after "
                                     "too many failed authentications")
    trust_forwarded_for: bool = Field(False, description="identify clients by the first "
                                      "X-Forwarded-For address (only behind a trusted proxy)")

    # -- HTTP ---------------------------------------------------------------------------------
    cors_origins: tuple[str, ...] = Field((), description="allowed CORS origins; empty: CORS off")
    http_threads: int = Field(64, ge=4, le=1024, description="threads serving blocking requests")
    max_json_body_bytes: int = Field(65536, ge=1024, description="largest body of the routes "
                                     "other than the frame upload")

    # -- storage ----------------------------------------------------------------------------
    challenge_store: Literal["sqlite", "dynamodb"] = "sqlite"
    frame_store: Literal["filesystem", "s3"] = "filesystem"
    sqlite_path: Path | None = Field(None, description="default: DATA_DIR/challenges.sqlite3")
    frames_dir: Path | None = Field(None, description="default: DATA_DIR/frames")
    frame_fsync: bool = Field(True, description="fsync each frame file before it is listed")
    dynamodb_table: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_expected_bucket_owner: str | None = Field(None, description="account id the bucket "
                                                 "must belong to (bucket sniping protection)")
    retention: OptionalDuration = Field(86400.0, description="delete challenges, results and "
                                        "frames older than this (default 24h); none: keep")
    purge_interval_s: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.test_seed is not None:
            if self.env == "production":
                raise ValueError("test_seed (LIVENESS_TEST_SEED) makes challenges predictable "
                                 "and is refused when env=production")
            if self.env != "test" and not self.allow_insecure_test_seed:
                raise ValueError("test_seed (LIVENESS_TEST_SEED) makes challenges predictable; "
                                 "it is honoured only with env=test (LIVENESS_ENV=test) or "
                                 "allow_insecure_test_seed=true")
        sources = [n for n in ("token_secret", "token_secret_file", "token_secret_id")
                   if getattr(self, n) is not None]
        if len(sources) > 1:
            raise ValueError(f"give one token secret source, got {', '.join(sources)}")
        if self.env == "production":
            if not sources:
                raise ValueError("env=production needs an explicit token secret: token_secret, "
                                 "token_secret_file or token_secret_id (Secrets Manager)")
            if self.analyzer.strip().lower() == "recorded":
                raise ValueError("the recorded analyzer trusts the faces sent by the client; "
                                 "it is refused when env=production")
        if self.token_secret is not None and len(self.token_secret.get_secret_value()) < 32:
            raise ValueError("token_secret must be at least 32 characters long")
        if self.auth == "api_key":
            if not self.api_keys:
                raise ValueError("auth=api_key needs at least one key in api_keys")
            if any(len(k.get_secret_value()) < 16 for k in self.api_keys):
                raise ValueError("API keys must be at least 16 characters long")
        if self.auth == "jwt" and not (self.jwt_jwks_url and self.jwt_issuer):
            raise ValueError("auth=jwt needs jwt_jwks_url and jwt_issuer")
        if self.challenge_store == "dynamodb" and not self.dynamodb_table:
            raise ValueError("challenge_store=dynamodb needs dynamodb_table")
        if self.frame_store == "s3" and not self.s3_bucket:
            raise ValueError("frame_store=s3 needs s3_bucket")
        if self.verify_stale_after_s <= self.verify_timeout_s:
            raise ValueError(f"verify_stale_after_s ({self.verify_stale_after_s:g}) must exceed "
                             f"verify_timeout_s ({self.verify_timeout_s:g}): a live "
                             "verification must not be taken over")
        for s in self.config_sets:
            if "=" not in s or "." not in s.split("=", 1)[0]:
                raise ValueError(f"config_sets item {s!r}: expected TYPE.key=value")
        return self

    # -- derived ----------------------------------------------------------------------------
    @property
    def sqlite_file(self) -> Path:
        """The SQLite database of the challenge records."""
        return self.sqlite_path if self.sqlite_path is not None \
            else self.data_dir / "challenges.sqlite3"

    @property
    def frames_path(self) -> Path:
        """The directory of the frame files."""
        return self.frames_dir if self.frames_dir is not None else self.data_dir / "frames"

    @property
    def generated_secret_file(self) -> Path:
        """Where a random token secret is kept when no source is configured."""
        return self.data_dir / "token-secret"

    @property
    def max_frame_request_bytes(self) -> int:
        """Largest frame upload body: the base64 frame plus room for the other fields."""
        b64 = 4 * math.ceil(self.max_frame_bytes / 3)
        faces_room = 2 * 1024 * 1024 if self.analyzer.strip().lower() == "recorded" else 0
        return b64 + faces_room + 64 * 1024

    def public_summary(self) -> dict[str, Any]:
        """Non-secret settings, for logs and the health route."""
        return {"env": self.env, "analyzer": self.analyzer, "auth": self.auth,
                "challenge_store": self.challenge_store, "frame_store": self.frame_store,
                "profile": self.profile or "default", "token_ttl_s": self.token_ttl_s,
                "client_challenge_selection": self.client_challenge_selection,
                "test_seed": self.test_seed is not None}


def _env_value(field_name: str, raw: str, annotation: Any) -> Any:
    text = raw.strip()
    kind = str(annotation)
    if "tuple" in kind:
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if "dict" in kind:
        value = json.loads(text) if text else {}
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {text!r}")
        return value
    return text


def _read_env_file(path: str | os.PathLike) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def get_settings(environ: Mapping[str, str] | None = None, *,
                 env_file: str | os.PathLike | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from ``LIVENESS_*`` variables, then ``overrides``.

    Parameters
    ----------
    environ:
        The variables to read (default: :data:`os.environ`).
    env_file:
        Optional ``.env`` file (``KEY=VALUE`` lines) read first; real environment
        variables win over it.
    **overrides:
        Field values that win over the environment (the CLI's options).

    Raises
    ------
    ConfigError
        A variable or override that does not validate, naming it.
    """
    source: dict[str, str] = {}
    if env_file is not None:
        source.update(_read_env_file(env_file))
    source.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    fields = Settings.model_fields
    for key, raw in source.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in fields:
            warnings.warn(f"ignoring unknown setting {key}", stacklevel=2)
            continue
        if raw.strip() == "":
            continue
        try:
            values[name] = _env_value(name, raw, fields[name].annotation)
        except ValueError as e:
            raise ConfigError(f"{key}: {e}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            where = f"{ENV_PREFIX}{loc.upper()}" if loc else "settings"
            problems.append(f"{where}: {err['msg']}")
        raise ConfigError("invalid service settings: " + "; ".join(problems)) from None
