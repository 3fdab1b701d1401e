"""The default challenge store: one SQLite file in WAL mode.

Each thread of each process uses its own connection (opened on first use).
Every change that depends on the current state runs in a ``BEGIN IMMEDIATE``
transaction, which takes SQLite's single write lock before reading, so the
frame append (read the record, check it admits the frame, insert) is atomic
across threads and processes and no concurrent upload is lost. ``WAL`` with
``synchronous=NORMAL`` survives a killed process without losing a committed
transaction; ``busy_timeout`` makes writers queue instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ...faces import FaceDetail
from ..errors import Conflict, NotFound, ServiceUnavailable
from .base import (LISTS_UNANALYZED, OPEN, VERIFIED, VERIFYING, Admit, ChallengeRecord, ChallengeStore, FrameRecord,
                   claim_decision, faces_from_json, faces_to_json, jsonable)

__all__ = ["SQLiteChallengeStore"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    params      TEXT NOT NULL,      -- JSON object
    client      TEXT NOT NULL,
    status      TEXT NOT NULL,      -- open | verifying | verified
    created_at  REAL NOT NULL,      -- seconds since the Unix epoch
    expires_at  REAL NOT NULL,
    claim_id    TEXT,
    claimed_at  REAL,
    verified_at REAL,
    verdict     TEXT,               -- JSON object
    trace       TEXT                -- JSON list of rows
);
CREATE INDEX IF NOT EXISTS challenges_created_at ON challenges (created_at);
CREATE TABLE IF NOT EXISTS frames (
    challenge_id   TEXT NOT NULL,
    idx            INTEGER NOT NULL,
    timestamp      INTEGER NOT NULL, -- client ms since the Unix epoch
    key            TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    received_at    REAL NOT NULL,
    faces          TEXT,             -- JSON FaceDetails; NULL: not analyzed
    analysis_error TEXT,
    PRIMARY KEY (challenge_id, idx),
    UNIQUE (challenge_id, timestamp)
) WITHOUT ROWID;
"""
_COLUMNS = ("id, type, params, client, status, created_at, expires_at, claim_id, claimed_at, "
            "verified_at, verdict")


class SQLiteChallengeStore(ChallengeStore):
    """Challenge records in one SQLite file (created with its folder on first use).

    Parameters
    ----------
    path:
        The database file.
    timeout:
        Seconds a writer waits for the write lock held by another writer.
    """

    capabilities = frozenset({LISTS_UNANALYZED})

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pid = os.getpid()
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"SQLiteChallengeStore({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: never reuse the parent's connections
            self._local = threading.local()
            self._all = []
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():  # private from the start: client IPs, verdicts, traces
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                if not self._schema_ready:
                    self._ensure_schema(conn)
            except sqlite3.DatabaseError as e:
                raise ServiceUnavailable(f"cannot open the challenge database {self.path}: {e}") \
                    from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise ServiceUnavailable(f"{self.path} has schema version {version}; this "
                                     f"liveness-lab reads version {SCHEMA_VERSION}")
        if version == 0:  # every statement is idempotent: concurrent first opens are safe
            conn.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")
        self._schema_ready = True

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. Threads of this process queue on a lock (fair and without
        SQLite's busy polling); other processes are kept out by ``BEGIN IMMEDIATE``."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """One autocommit write statement, serialized with the transactions of this process."""
        conn = self._conn()
        with self._write_lock:
            return conn.execute(sql, params)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def ping(self) -> None:
        self._conn().execute("SELECT 1").fetchone()

    # -- reading ----------------------------------------------------------------------------
    def _load(self, conn: sqlite3.Connection, challenge_id: str, *, faces: bool,
              trace: bool) -> ChallengeRecord | None:
        row = conn.execute(f"SELECT {_COLUMNS}{', trace' if trace else ''} FROM challenges "
                           "WHERE id = ?", (challenge_id,)).fetchone()
        if row is None:
            return None
        frames = []
        for (idx, ts, key, size, sha, received, faces_json, error) in conn.execute(
                "SELECT idx, timestamp, key, size, sha256, received_at, "
                f"{'faces' if faces else 'faces IS NOT NULL'}, analysis_error FROM frames "
                "WHERE challenge_id = ? ORDER BY idx", (challenge_id,)):
            if faces:
                parsed = None if faces_json is None else faces_from_json(faces_json)
            else:
                parsed = () if faces_json else None
            frames.append(FrameRecord(idx, ts, key, size, sha, received, parsed, error))
        return ChallengeRecord(
            id=row[0], type=row[1], params=json.loads(row[2]), client=row[3], status=row[4],
            created_at=row[5], expires_at=row[6], claim_id=row[7], claimed_at=row[8],
            verified_at=row[9], verdict=None if row[10] is None else json.loads(row[10]),
            trace=(tuple(json.loads(row[11])) if trace and row[11] is not None else None),
            frames=tuple(frames))

    def get(self, challenge_id: str, *, with_trace: bool = False) -> ChallengeRecord | None:
        conn = self._conn()
        conn.execute("BEGIN")  # one consistent snapshot of the record and its frames
        try:
            return self._load(conn, challenge_id, faces=True, trace=with_trace)
        finally:
            conn.execute("COMMIT")

    def ids_created_before(self, cutoff: float, limit: int = 1000) -> list[str]:
        rows = self._conn().execute("SELECT id FROM challenges WHERE created_at < ? "
                                    "ORDER BY created_at LIMIT ?", (cutoff, int(limit)))
        return [r[0] for r in rows]

    # -- writing ----------------------------------------------------------------------------
    def create(self, record: ChallengeRecord) -> None:
        try:
            self._write(
                "INSERT INTO challenges (id, type, params, client, status, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.type, json.dumps(jsonable(record.params)), record.client,
                 OPEN, record.created_at, record.expires_at))
        except sqlite3.IntegrityError:
            raise Conflict(f"challenge {record.id} already exists") from None

    def append_frame(self, challenge_id: str, frame: FrameRecord, admit: Admit) -> FrameRecord:
        with self._tx() as conn:
            record = self._load(conn, challenge_id, faces=False, trace=False)
            if record is None:
                raise NotFound("challenge not found")
            admit(record)
            stored = FrameRecord(len(record.frames), frame.timestamp, frame.key, frame.size,
                                 frame.sha256, frame.received_at, frame.faces,
                                 frame.analysis_error)
            conn.execute(
                "INSERT INTO frames (challenge_id, idx, timestamp, key, size, sha256, "
                "received_at, faces, analysis_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (challenge_id, stored.index, stored.timestamp, stored.key, stored.size,
                 stored.sha256, stored.received_at,
                 None if stored.faces is None else faces_to_json(stored.faces),
                 stored.analysis_error))
        return stored

    def set_analysis(self, challenge_id: str, index: int, faces: Sequence[FaceDetail] | None,
                     error: str | None = None) -> None:
        self._write(
            "UPDATE frames SET faces = ?, analysis_error = ? WHERE challenge_id = ? AND idx = ?",
            (None if faces is None else faces_to_json(faces), error, challenge_id, int(index)))

    def claim_verification(self, challenge_id: str, claim_id: str, now: float,
                           stale_after_s: float) -> ChallengeRecord:
        with self._tx() as conn:
            record = self._load(conn, challenge_id, faces=True, trace=False)
            if record is None:
                raise NotFound("challenge not found")
            claim_decision(record, now, stale_after_s)
            conn.execute("UPDATE challenges SET status = ?, claim_id = ?, claimed_at = ? "
                         "WHERE id = ?", (VERIFYING, claim_id, now, challenge_id))
        return replace(record, status=VERIFYING, claim_id=claim_id, claimed_at=now)

    def release_verification(self, challenge_id: str, claim_id: str) -> None:
        self._write("UPDATE challenges SET status = ?, claim_id = NULL, "
                             "claimed_at = NULL WHERE id = ? AND status = ? AND claim_id = ?",
                             (OPEN, challenge_id, VERIFYING, claim_id))

    def finish_verification(self, challenge_id: str, claim_id: str, verdict: Mapping[str, Any],
                            trace: Sequence[Mapping[str, Any]], now: float) -> None:
        cur = self._write(
            "UPDATE challenges SET status = ?, verdict = ?, trace = ?, verified_at = ? "
            "WHERE id = ? AND status = ? AND claim_id = ?",
            (VERIFIED, json.dumps(jsonable(verdict)), json.dumps(jsonable(list(trace))), now,
             challenge_id, VERIFYING, claim_id))
        if cur.rowcount != 1:
            raise Conflict("the verification was taken over by another request")

    def delete(self, challenge_id: str) -> bool:
        with self._tx() as conn:
            conn.execute("DELETE FROM frames WHERE challenge_id = ?", (challenge_id,))
            cur = conn.execute("DELETE FROM challenges WHERE id = ?", (challenge_id,))
            return cur.rowcount == 1

    # -- maintenance ------------------------------------------------------------------------
    def integrity_check(self) -> str:
        """``"ok"`` when SQLite finds the file sound, else its report."""
        rows = self._conn().execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def unanalyzed(self, limit: int = 10000) -> list[tuple[str, int]]:
        """``(challenge_id, index)`` of frames of open challenges awaiting analysis."""
        rows = self._conn().execute(
            "SELECT f.challenge_id, f.idx FROM frames f JOIN challenges c ON c.id = f.challenge_id "
            "WHERE f.faces IS NULL AND c.status = ? AND c.expires_at > ? LIMIT ?",
            (OPEN, time.time(), int(limit)))
        return [(r[0], r[1]) for r in rows]
