"""``liveness-lab app``: run the Streamlit studio.

The main ``liveness-lab`` command adds it with :func:`add_app_command`; this
module also runs on its own: ``python -m liveness_lab.ui.cli app --port 8501``.
Importing it does not import Streamlit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["add_app_command", "run_app_command", "app_script", "app_command_line", "app_env",
           "main"]


def add_app_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``app``: the Streamlit studio (live challenge, explorer, evaluation, recording)."""
    p = subparsers.add_parser(
        "app", help="run the Streamlit studio (live challenge, session explorer, evaluation "
                    "dashboard, dataset recording)",
        description="Run the studio with Streamlit. By default it starts the challenge service "
                    "in-process on a free port of 127.0.0.1 (configured by the LIVENESS_* "
                    "variables); --service-url uses a running `liveness-lab serve` instead. "
                    "See docs/app.md.")
    p.add_argument("--port", type=int, default=8501, help="port of the app (default 8501)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address the app listens on (default 127.0.0.1)")
    p.add_argument("--service-url", default=None, metavar="URL",
                   help="a running `liveness-lab serve`, e.g. http://127.0.0.1:8000; it must "
                        "allow the app's origin (serve --cors-origin http://localhost:PORT) and "
                        "be reachable from the browser")
    p.add_argument("--project-dir", default=None,
                   help="where mlflow.db, reports/ and datasets/ are (default: the working "
                        "directory)")
    p.add_argument("--open-browser", action="store_true",
                   help="open the app in the default web browser")
    p.set_defaults(func=run_app_command)
    return p


def app_script() -> Path:
    """The entry script: the repository's ``app.py`` in a checkout, else the packaged one."""
    package = Path(__file__).resolve().parents[1]
    top = package.parent / "app.py"
    if top.is_file() and (package.parent / "pyproject.toml").is_file():
        return top
    return Path(__file__).resolve().parent / "studio.py"


def app_env(args: argparse.Namespace, environ: Mapping[str, str] | None = None
            ) -> dict[str, str]:
    """The environment of the Streamlit process: ``environ`` plus ``LIVENESS_APP_*`` from ``args``.

    Raises :class:`~liveness_lab.errors.ConfigError` for an invalid service URL.
    """
    from .settings import get_app_settings

    env = dict(os.environ if environ is None else environ)
    if args.service_url:
        env["LIVENESS_APP_SERVICE_URL"] = args.service_url
    if args.project_dir:
        env["LIVENESS_APP_PROJECT_DIR"] = str(Path(args.project_dir).resolve())
    get_app_settings(env)  # validate now: a clear message instead of a broken page
    return env


def app_command_line(args: argparse.Namespace, script: Path | None = None) -> list[str]:
    """``python -m streamlit run SCRIPT`` with the options of ``args``."""
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    return [sys.executable, "-m", "streamlit", "run", str(script or app_script()),
            "--server.port", str(args.port), "--server.address", args.host,
            "--server.headless", "false" if args.open_browser else "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]


def run_app_command(args: argparse.Namespace) -> int:
    """Run Streamlit until interrupted; returns its exit code."""
    env = app_env(args)
    cmd = app_command_line(args)
    where = args.service_url or "in-process (started by the app)"
    print(f"liveness-lab studio on http://{args.host}:{args.port} - challenge service: {where}",
          file=sys.stderr, flush=True)
    from .._process import run_child_server
    return run_child_server(cmd, env=env)  # SIGTERM / Ctrl-C stop Streamlit and its children


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m liveness_lab.ui.cli app ...``."""
    from ..errors import LivenessLabError

    parser = argparse.ArgumentParser(prog="liveness-lab")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_app_command(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (LivenessLabError, ValueError) as e:
        print(f"liveness-lab {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
