"""Run a child server (``mlflow ui``, Streamlit) so that stopping us stops it and its children.

``subprocess.call`` leaves the child running when the parent gets SIGTERM (the default
action kills the parent at once) and the servers spawn workers of their own. So the child
runs in a new process group, and SIGTERM, SIGHUP or Ctrl-C to us is passed to the whole
group; a group that does not stop within ``grace_s`` seconds is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Mapping, Sequence

__all__ = ["run_child_server"]

_FORWARDED = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                   if s is not None)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - no process groups
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: subprocess.Popen, grace_s: float) -> None:
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
        proc.wait()
    if os.name == "posix":  # workers the child left behind in its group
        _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def run_child_server(cmd: Sequence[str], *, env: Mapping[str, str] | None = None,
                     grace_s: float = 10.0) -> int:
    """Run ``cmd`` until it exits or we are told to stop; return the exit code.

    SIGTERM / SIGHUP return ``128 + signal number`` and Ctrl-C returns 130, after the
    child's whole process group has been stopped.
    """
    proc = subprocess.Popen(list(cmd), env=None if env is None else dict(env),
                            start_new_session=(os.name == "posix"))

    def handler(signum: int, _frame: object) -> None:
        raise _Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in _FORWARDED}
    try:
        return proc.wait()
    except _Stopped as e:
        _stop(proc, grace_s)
        return 128 + int(e.signum)
    except KeyboardInterrupt:
        _stop(proc, grace_s)
        return 130
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
