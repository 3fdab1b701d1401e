"""Output paths checked before long work, so that a bad path fails in a second, not after."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["check_output_dir", "check_output_file"]


def _probe(directory: Path) -> None:
    fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test-")
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path: str | os.PathLike, what: str, *, create: bool = True) -> Path:
    """Check that the directory ``path`` can be written; create it now unless ``create`` is
    false (then its nearest existing parent must be a writable directory).

    Raises ``ValueError`` naming ``what`` (e.g. ``"--out"``) when it is a file or cannot be
    created or written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a directory; choose a directory")
    if not create and not path.exists():
        base = path.absolute().parent
        while not base.exists():
            base = base.parent
        if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
            raise ValueError(f"{what} {path} cannot be created: {base} is not a writable "
                             "directory; choose another directory")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        _probe(path)
    except OSError as e:
        raise ValueError(f"{what} {path} cannot be written ({e.strerror or e}); choose "
                         "another directory") from None
    return path


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """Check that the file ``path`` can be written later (its directory exists and is
    writable; it is not a directory). Nothing is created.

    Raises ``ValueError`` naming ``what`` (e.g. ``"--output"``).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory; give a file name, e.g. "
                         f"{path / 'results.csv'}")
    parent = path.parent
    if not parent.is_dir():
        kind = "is not a directory" if parent.exists() else "does not exist"
        raise ValueError(f"{what} {path}: the folder {parent} {kind}; create it or choose "
                         "another path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path} exists and cannot be written")
    try:
        _probe(parent)
    except OSError as e:
        raise ValueError(f"{what} {path} cannot be written in {parent} "
                         f"({e.strerror or e})") from None
    return path
