"""Settings of the studio app, read from ``LIVENESS_APP_*`` environment variables.

The app is an entry point, so it may read the environment - here and nowhere
else in ``liveness_lab.ui``. The challenge service started inside the app reads
its own ``LIVENESS_*`` variables through
:func:`liveness_lab.service.settings.get_settings` (``LIVENESS_APP_*`` are not
passed to it).

=============================  =================================================
variable                       meaning
=============================  =================================================
``LIVENESS_APP_SERVICE_URL``   a running ``liveness-lab serve`` to use instead of
                               the in-process service (``liveness-lab app
                               --service-url``)
``LIVENESS_APP_API_KEY``       API key sent when creating challenges on it
``LIVENESS_APP_PROJECT_DIR``   where ``mlflow.db``, ``reports/`` and ``datasets/``
                               live (default: the working directory)
``LIVENESS_APP_TRACKING_URI``  MLflow tracking URI (default:
                               ``sqlite:///<project dir>/mlflow.db``)
``LIVENESS_APP_RECORDINGS``    default dataset folder of the Record page
                               (default: ``<project dir>/datasets/recorded``)
``LIVENESS_APP_PROFILE``       challenge profile of the in-process service
                               (default: ``LIVENESS_PROFILE``, else the
                               service's default profile)
``LIVENESS_APP_CHALLENGE_TYPES`` extra plugin types to offer (comma-separated;
                               see :mod:`liveness_lab.ui.offered`)
=============================  =================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from ..errors import ConfigError

__all__ = ["AppSettings", "get_app_settings", "APP_ENV_PREFIX"]

APP_ENV_PREFIX = "LIVENESS_APP_"
_FIELDS = ("service_url", "api_key", "project_dir", "tracking_uri", "recordings", "profile",
           "challenge_types")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"service_url must be an http(s) URL such as http://127.0.0.1:8000, "
                          f"got {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class AppSettings:
    """Where the studio finds the challenge service, the MLflow store, reports and datasets.

    Attributes
    ----------
    service_url:
        Base URL of a remote ``liveness-lab serve``; ``None`` (default): the app
        starts the service itself, in-process, on a free port of 127.0.0.1.
    api_key:
        Sent as ``X-API-Key`` when creating challenges on the remote service.
    project_dir:
        Directory holding ``mlflow.db``, ``reports/`` and ``datasets/``.
    tracking_uri:
        MLflow tracking URI; ``None``: ``sqlite:///<project_dir>/mlflow.db``.
    recordings:
        Default dataset folder of the Record page; ``None``:
        ``<project_dir>/datasets/recorded``.
    profile:
        Challenge profile of the in-process service; ``None``: the service's
        ``LIVENESS_PROFILE``, else its default profile
        (:func:`liveness_lab.ui.offered.default_live_profile`).
    challenge_types:
        Plugin types to offer besides the built-in ones a person can take.
    """

    service_url: str | None = None
    api_key: str | None = None
    project_dir: Path = Path(".")
    tracking_uri: str | None = None
    recordings: Path | None = None
    profile: str | None = None
    challenge_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.service_url is not None:
            if not isinstance(self.service_url, str):
                raise ConfigError(f"service_url must be a string, got {self.service_url!r}")
            object.__setattr__(self, "service_url", _check_url(self.service_url))
        object.__setattr__(self, "project_dir", Path(self.project_dir))
        if self.recordings is not None:
            object.__setattr__(self, "recordings", Path(self.recordings))
        if self.profile is not None:
            from ..config import get_profile

            if not isinstance(self.profile, str) or not self.profile.strip():
                raise ConfigError(f"profile must be a profile name, got {self.profile!r}")
            get_profile(self.profile.strip())  # an unknown name raises, listing the known ones
            object.__setattr__(self, "profile", self.profile.strip())
        types = self.challenge_types
        if isinstance(types, str):
            types = [t for t in types.split(",")]
        object.__setattr__(self, "challenge_types",
                           tuple(str(t).strip().upper() for t in types if str(t).strip()))

    @property
    def reports_dir(self) -> Path:
        """``<project_dir>/reports``: where ``liveness-lab report`` and sweeps write."""
        return self.project_dir / "reports"

    @property
    def datasets_dir(self) -> Path:
        """``<project_dir>/datasets``."""
        return self.project_dir / "datasets"

    @property
    def recordings_dir(self) -> Path:
        """The default dataset folder of the Record page."""
        return self.recordings if self.recordings is not None \
            else self.datasets_dir / "recorded"

    @property
    def mlflow_uri(self) -> str:
        """The MLflow tracking URI in use."""
        if self.tracking_uri:
            return self.tracking_uri
        return "sqlite:///" + str((self.project_dir / "mlflow.db").resolve())


def get_app_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> AppSettings:
    """Build :class:`AppSettings` from ``LIVENESS_APP_*`` variables, then ``overrides``.

    Empty variables count as unset; ``overrides`` whose value is ``None`` are ignored.

    Raises
    ------
    ConfigError
        An unknown ``LIVENESS_APP_*`` variable or override, or an invalid value.
    """
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, raw in source.items():
        if not key.startswith(APP_ENV_PREFIX) or not raw.strip():
            continue
        name = key[len(APP_ENV_PREFIX):].lower()
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {key}; known: "
                              + ", ".join(APP_ENV_PREFIX + f.upper() for f in _FIELDS))
        values[name] = raw.strip()
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise ConfigError(f"unknown app setting {name!r}; known: {', '.join(_FIELDS)}")
        if value is not None:
            values[name] = value
    return AppSettings(**values)
