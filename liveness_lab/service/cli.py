"""``liveness-lab serve`` and ``liveness-lab purge``.

The main ``liveness-lab`` command adds these subcommands with
:func:`add_serve_command` and :func:`add_purge_command`; this module also runs
on its own: ``python -m liveness_lab.service.cli serve --port 8000``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["add_serve_command", "add_purge_command", "run_serve_command", "run_purge_command",
           "main"]


def _port(text: str) -> int:
    """An argparse type: a TCP port 1..65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {text!r}") \
            from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {port}")
    return port


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None,
                   help="data directory: SQLite file, frames, generated token secret "
                        "(default: LIVENESS_DATA_DIR or .liveness-lab)")
    p.add_argument("--env-file", default=None,
                   help="read LIVENESS_* settings from this .env file (environment wins)")


def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve``: run the REST API with uvicorn."""
    p = subparsers.add_parser(
        "serve", help="run the challenge REST API (AWS Liveness Detection Framework routes)",
        description="Run the challenge service. Every setting is a LIVENESS_* environment "
                    "variable (see docs/service.md); the options below override them.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port 1..65535 (default 8000)")
    _add_common(p)
    p.add_argument("--analyzer", default=None, help="face analyzer: local (default), "
                   "rekognition, or recorded (tests and benchmarks)")
    p.add_argument("--profile", default=None,
                   help="challenge configuration profile (default: the secure default, hardened "
                        "NOSE; 'seed' = the original's rules, insecure: a photo passes POSE)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="TYPE.KEY=VALUE",
                   help="override a challenge threshold (repeatable)")
    p.add_argument("--cors-origin", dest="cors_origins", action="append", default=[],
                   metavar="ORIGIN", help="allow this CORS origin (repeatable)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="server log level (default: %(default)s)")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.set_defaults(func=run_serve_command)
    return p


def add_purge_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``purge``: delete old challenges and their frames."""
    p = subparsers.add_parser(
        "purge", help="delete challenges (records and frames) older than a duration",
        description="Delete challenge records and their frames created more than DURATION "
                    "ago, and frame folders whose challenge no longer exists.")
    p.add_argument("--older-than", default=None, metavar="DURATION",
                   help="e.g. 30d, 12h, 45m (default: the LIVENESS_RETENTION setting)")
    _add_common(p)
    p.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    p.set_defaults(func=run_purge_command)
    return p


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from ..errors import ConfigError
    from .settings import get_settings

    overrides = {k: v for k, v in extra.items() if v not in (None, [], ())}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.env_file is not None and not Path(args.env_file).is_file():
        raise ConfigError(f"--env-file {args.env_file}: no such file")
    settings = get_settings(env_file=args.env_file, **overrides)
    data_dir = Path(settings.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir}: exists and is not a directory; give a "
                          "directory (it is created if missing)")
    return settings


def _check_port_free(host: str, port: int) -> None:
    import socket

    from ..errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"--host {host}: cannot resolve it ({e})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (best effort, glibc only).

    The server decodes large bodies in many threads; glibc gives threads their own arenas
    (up to 8 per core) and memory freed in one is rarely returned, so resident memory
    grows with concurrency. Two arenas keep it bounded at no measurable cost.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(ctypes.c_int(-8), ctypes.c_int(arenas))  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def run_serve_command(args: argparse.Namespace) -> int:
    """Serve the API until interrupted."""
    _limit_malloc_arenas()
    import uvicorn

    from .api import create_app

    settings = _settings(args, analyzer=args.analyzer, profile=args.profile,
                         config_sets=tuple(args.sets) or None,
                         cors_origins=tuple(args.cors_origins) or None)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _check_port_free(args.host, args.port)
    try:
        app = create_app(settings)
    except OSError as e:  # the data directory cannot be created or written
        from ..errors import ConfigError
        raise ConfigError(f"cannot use the data directory {settings.data_dir}: "
                          f"{e.strerror or e}") from None
    print(f"liveness-lab service on http://{args.host}:{args.port} (docs: /docs) - analyzer "
          f"{settings.analyzer}, stores {settings.challenge_store}/{settings.frame_store}, "
          f"data dir {settings.data_dir}", file=sys.stderr, flush=True)
    # h11 refuses a request line longer than its limit with a plain-text 400 and a reset;
    # a larger limit lets the API answer an over-long challenge id with its JSON 400
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=not args.no_access_log, timeout_graceful_shutdown=10,
                h11_max_incomplete_event_size=512 * 1024)
    return 0


def run_purge_command(args: argparse.Namespace) -> int:
    """Delete old challenges; print what was deleted as JSON."""
    from ..errors import ConfigError
    from .core import purge_stores
    from .settings import parse_duration
    from .stores import open_stores

    settings = _settings(args)
    if args.older_than is not None:
        try:
            older_than = parse_duration(args.older_than)
        except ValueError as e:
            raise ConfigError(f"--older-than: {e}") from None
    elif settings.retention is not None:
        older_than = settings.retention
    else:
        raise ConfigError("give --older-than DURATION (e.g. 30d) or set LIVENESS_RETENTION")
    challenges, frames = open_stores(settings)
    try:
        counts = purge_stores(challenges, frames, older_than, dry_run=args.dry_run)
    finally:
        challenges.close()
        frames.close()
    print(json.dumps({"olderThanSeconds": older_than, "dryRun": args.dry_run, **counts}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m liveness_lab.service.cli serve|purge ...``."""
    from ..errors import LivenessLabError

    parser = argparse.ArgumentParser(prog="liveness-lab")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_serve_command(sub)
    add_purge_command(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LivenessLabError as e:
        print(f"liveness-lab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
