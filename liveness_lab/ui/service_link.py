"""The studio's link to the challenge service: in-process (default) or remote.

By default the app starts the service itself: the service's ASGI application
(:func:`liveness_lab.service.api.create_app`) served by uvicorn in a daemon
thread, on a free port of 127.0.0.1, with its data under ``.liveness-lab/`` (the
service's default ``data_dir``). The browser's capture component posts frames
straight to it, so its CORS settings allow the app's origins. With a service
URL (``liveness-lab app --service-url``), the app talks to a running
``liveness-lab serve`` instead; the browser must be able to reach that URL and
the service must allow the app's origin (``--cors-origin``).

Nothing here imports Streamlit; :mod:`liveness_lab.ui.common` caches one
:class:`InProcessService` per Streamlit server process.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..service.client import LivenessClient
    from ..service.core import ChallengeService
    from ..service.settings import Settings

__all__ = ["InProcessService", "ServiceLink", "app_origins", "in_process_settings"]


def app_origins(port: int, addresses: Iterable[str] = ()) -> tuple[str, ...]:
    """The browser origins of an app served on ``port``: localhost, 127.0.0.1, [::1], ``addresses``.

    >>> app_origins(8501)
    ('http://localhost:8501', 'http://127.0.0.1:8501', 'http://[::1]:8501')
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer 1..65535, got {port!r}")
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    for a in addresses:
        a = (a or "").strip()
        if not a or a in ("0.0.0.0", "::"):
            continue
        host = f"[{a}]" if ":" in a and not a.startswith("[") else a
        if host not in hosts:
            hosts.append(host)
    return tuple(f"http://{h}:{port}" for h in hosts)


def in_process_settings(origins: Iterable[str], environ: Mapping[str, str] | None = None,
                        **overrides: Any) -> "Settings":
    """Service settings for the in-process service: the ``LIVENESS_*`` environment, plus

    * ``cors_origins``: the origins of the environment and ``origins`` (the app's);
    * ``client_challenge_selection=True``, so the app can ask for NOSE or POSE;
    * ``overrides`` (any :class:`~liveness_lab.service.settings.Settings` field).

    ``LIVENESS_APP_*`` variables (the app's own) are not passed to the service.
    """
    from ..service.settings import get_settings

    env = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in env.items() if not k.startswith("LIVENESS_APP_")}
    base = get_settings(env)
    cors = tuple(dict.fromkeys([*base.cors_origins, *origins]))
    values: dict[str, Any] = {"cors_origins": cors, "client_challenge_selection": True}
    values.update(overrides)
    return get_settings(env, **values)


class InProcessService:
    """The challenge service served by uvicorn in a background thread.

    Parameters
    ----------
    settings:
        The service settings (see :func:`in_process_settings`).
    host:
        Address to listen on (default 127.0.0.1); the port is a free one chosen
        by the system.

    Examples
    --------
    ::

        svc = InProcessService(settings).start()
        LivenessClient(svc.url).health()
        svc.stop()
    """

    def __init__(self, settings: "Settings", *, host: str = "127.0.0.1") -> None:
        self.settings = settings
        self.host = host
        self.app: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The port the service listens on (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the in-process service is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def service(self) -> "ChallengeService":
        """The :class:`~liveness_lab.service.core.ChallengeService` behind the API."""
        if self.app is None:
            raise RuntimeError("the in-process service is not started")
        return self.app.state.service

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout_s: float = 120.0) -> "InProcessService":
        """Build the application and serve it; returns once it accepts connections.

        Raises
        ------
        RuntimeError
            The server did not start within ``timeout_s`` seconds, or failed.
        """
        import uvicorn

        from ..service.api import create_app

        if self._thread is not None:
            raise RuntimeError("the in-process service is already started")
        self.app = create_app(self.settings)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._port = sock.getsockname()[1]
        # log_config / log_level None: leave the process's logging alone (Streamlit itself
        # serves on uvicorn and configures the shared "uvicorn.*" loggers)
        config = uvicorn.Config(self.app, log_config=None, log_level=None, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)

        def serve() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as e:  # reported by start() / running
                self._error = e
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="liveness-lab-service", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the in-process challenge service failed to start: "
                                   f"{self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the in-process challenge service did not start within "
                                   f"{timeout_s:g} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """Ask the server to exit and wait for its thread (the service closes its stores)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> "InProcessService":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class ServiceLink:
    """How the app reaches the challenge service.

    Attributes
    ----------
    url:
        Base URL of the REST API, used by the app *and* by the browser.
    in_process:
        The service started by the app, or ``None`` for a remote service.
    api_key:
        Sent as ``X-API-Key`` on challenge creation (remote services with ``auth=api_key``).
    """

    url: str
    in_process: InProcessService | None = None
    api_key: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"the service URL must start with http:// or https://, "
                              f"got {self.url!r}")
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @property
    def mode(self) -> str:
        """``"in-process"`` or ``"remote"``."""
        return "in-process" if self.in_process is not None else "remote"

    @property
    def challenge_service(self) -> "ChallengeService | None":
        """The in-process :class:`~liveness_lab.service.core.ChallengeService` (``None`` if remote)."""
        return self.in_process.service if self.in_process is not None else None

    def client(self, *, timeout: float = 90.0) -> "LivenessClient":
        """A new :class:`~liveness_lab.service.client.LivenessClient` (close it after use)."""
        from ..service.client import LivenessClient

        return LivenessClient(self.url, api_key=self.api_key, timeout=timeout)

    def health(self) -> dict[str, Any]:
        """``GET /health``; ``{"status": "unreachable", "problems": [...]}`` when it cannot answer."""
        import httpx

        from ..service.client import ApiError

        try:
            with self.client(timeout=5.0) as c:
                return c.health()
        except (ApiError, httpx.HTTPError, ValueError) as e:
            return {"status": "unreachable", "problems": [f"{type(e).__name__}: {e}"]}
