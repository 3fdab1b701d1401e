"""Child servers stop with us: SIGTERM to `liveness-lab mlflow-ui` / `app` stops their whole tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_and_check(proc: subprocess.Popen, tree: set[int]) -> int:
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    _wait_for(lambda: not any(_alive(p) for p in tree), 30, f"the child tree {tree} to stop")
    return rc


def test_sigterm_stops_a_server_and_its_workers(tmp_path):
    """A stand-in server that forks a worker, run through run_child_server."""
    server = tmp_path / "server.py"
    server.write_text(textwrap.dedent("""
        import subprocess, sys, time
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open(sys.argv[1], "w").write(str(worker.pid))
        time.sleep(600)
    """))
    ready = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, "-c",
                               "import sys; from liveness_lab._process import run_child_server; "
                               f"sys.exit(run_child_server([sys.executable, {str(server)!r}, "
                               f"{str(ready)!r}]))"])
    _wait_for(ready.exists, 60, "the worker to start")
    tree = _descendants(parent.pid)
    assert int(ready.read_text()) in tree and len(tree) == 2
    assert _stop_and_check(parent, tree) == 128 + signal.SIGTERM


def _cli_env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[1]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _server_tree(args: list[str], marker: str, cwd: Path) -> None:
    """Start ``liveness-lab ARGS``; once a descendant running ``marker`` exists, SIGTERM us
    and check that the whole tree stopped (the port is never waited for: startup is slow on
    a loaded machine, and the point is what happens to the children)."""
    proc = subprocess.Popen([sys.executable, "-m", "liveness_lab.cli", *args], cwd=cwd,
                            env=_cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: set[int] = set()
    try:
        def started() -> bool:
            tree.update(_descendants(proc.pid))
            return proc.poll() is not None or any(marker in _cmdline(p) for p in tree)
        _wait_for(started, 120, f"{marker} to start")
        assert proc.poll() is None, f"liveness-lab {args[0]} exited early"
        _stop_and_check(proc, tree)
    finally:
        for pid in [proc.pid, *tree]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_sigterm_to_mlflow_ui_stops_the_mlflow_server(tmp_path):
    _server_tree(["mlflow-ui", "--port", str(_free_port()), "--tracking-uri",
                  f"sqlite:///{tmp_path / 'mlflow.db'}"], "uvicorn", tmp_path)


def test_sigterm_to_app_stops_streamlit(tmp_path):
    _server_tree(["app", "--port", str(_free_port()), "--project-dir", str(tmp_path)],
                 "streamlit", tmp_path)
