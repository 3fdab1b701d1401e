"""The default frame store: one file per frame under a local directory.

``KEY = CHALLENGE_ID/FILE_NAME`` maps to ``ROOT/CHALLENGE_ID/FILE_NAME``. A
frame is written to a hidden temporary file in the same folder, flushed (and
by default fsynced), then renamed over its final name, so a reader sees either
no file or the complete image, even when the process is killed mid-write.
Temporary files left by a killed process start with ``.`` and end in
``.tmp``; :meth:`FilesystemFrameStore.remove_stale_temp_files` deletes them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Iterator

from ..errors import NotFound
from .base import FrameStore, check_challenge_id, check_frame_key

__all__ = ["FilesystemFrameStore"]


class FilesystemFrameStore(FrameStore):
    """Frames as files under ``root``.

    Parameters
    ----------
    root:
        The frames directory (created on first write).
    fsync:
        Flush each file (and its folder) to the disk before it becomes visible,
        so a power cut cannot leave a listed frame without its bytes.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"FilesystemFrameStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_frame_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if not self.root.is_dir():
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if self.fsync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"frame {key} not found") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, challenge_id: str) -> int:
        folder = self.root / check_challenge_id(challenge_id)
        if not folder.is_dir():
            return 0
        n = sum(1 for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        shutil.rmtree(folder, ignore_errors=True)
        return n

    def challenge_ids(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for p in self.root.iterdir():
            if p.is_dir() and not p.name.startswith("."):
                yield p.name

    def remove_stale_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files older than ``older_than_s`` (left by a killed writer)."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        n = 0
        for tmp in self.root.glob("*/.*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n

    def ping(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
