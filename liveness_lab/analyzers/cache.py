"""A content-addressed cache of face analyses, kept in one SQLite file.

Analysis is the expensive step (a Rekognition call or a CPU detector), so its
result is stored under a key made of what determines it:

- the SHA-256 of the image (the encoded bytes as given; for a numpy array,
  its dtype, shape and pixel bytes),
- the analyzer's :attr:`~liveness_lab.analyzers.base.FaceAnalyzer.name`,
- the analyzer's :meth:`~liveness_lab.analyzers.base.FaceAnalyzer.config_fingerprint`.

The value is the compact JSON ``FaceDetails`` list of the faces found (``[]``
is a cached "no face"). :class:`CachedAnalyzer` wraps any analyzer with an
:class:`AnalysisCache`::

    cache = AnalysisCache(".liveness-lab/analysis-cache.sqlite")
    analyzer = CachedAnalyzer(RekognitionAnalyzer(), cache)
    faces = analyzer.analyze(jpeg_bytes)   # second time: no AWS call

Several threads and processes may use one cache file at once: each thread of
each process opens its own connection on first use, the database runs in
WAL mode (readers never block the writer) with a busy timeout, and entries
are only ever inserted with ``INSERT OR IGNORE`` (the same key always maps
to the same analysis, so the first writer wins and later writes are no-ops).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import AnalysisCacheError, AnalyzerError, FaceFormatError, InvalidImageError
from ..faces import FaceDetail, faces_from_rekognition, faces_to_rekognition
from .base import FaceAnalyzer, ImageInput

__all__ = [
    "DEFAULT_CACHE_PATH",
    "CacheKey",
    "CacheStats",
    "AnalysisCache",
    "CachedAnalyzer",
    "image_digest",
    "add_cache_command",
]

#: Where the command line keeps the cache, relative to the working directory.
DEFAULT_CACHE_PATH = Path(".liveness-lab") / "analysis-cache.sqlite"

#: Version of the table layout, stored in ``PRAGMA user_version``.
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    key          TEXT PRIMARY KEY,  -- CacheKey.digest
    image_sha256 TEXT NOT NULL,
    analyzer     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    faces        TEXT NOT NULL,     -- compact JSON list of Rekognition FaceDetail objects
    created_at   REAL NOT NULL      -- seconds since the Unix epoch
) WITHOUT ROWID
"""
_CHUNK = 500  # keys per "IN (...)" query, well under SQLite's variable limit


def image_digest(image: ImageInput) -> str:
    """The SHA-256 (hex) identifying an image's content.

    For bytes it is ``sha256(bytes)`` exactly (what ``sha256sum`` prints for
    the file). For a numpy array it hashes a header with the dtype and shape,
    then the pixels in C order, so two arrays with the same bytes but a
    different shape get different digests.
    """
    if isinstance(image, np.ndarray):
        if image.dtype.hasobject:
            raise InvalidImageError("an image array must hold numbers, not Python objects")
        h = hashlib.sha256()
        h.update(f"ndarray:{image.dtype.str}:{','.join(map(str, image.shape))}\n".encode())
        h.update(np.ascontiguousarray(image).tobytes())
        return h.hexdigest()
    if isinstance(image, (bytes, bytearray, memoryview)):
        return hashlib.sha256(image).hexdigest()
    raise InvalidImageError(
        f"an image must be JPEG/PNG bytes or a numpy array, got {type(image).__name__}")


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What a cached analysis depends on: image content, analyzer name and its settings."""

    image_sha256: str
    analyzer: str
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if (not isinstance(self.image_sha256, str) or len(self.image_sha256) != 64
                or any(c not in "0123456789abcdef" for c in self.image_sha256)):
            raise ValueError(f"image_sha256 must be 64 lowercase hex digits, "
                             f"got {self.image_sha256!r}")
        if not isinstance(self.analyzer, str) or not self.analyzer:
            raise ValueError(f"analyzer must be a non-empty name, got {self.analyzer!r}")
        if not isinstance(self.fingerprint, str):
            raise ValueError(f"fingerprint must be a string, got {type(self.fingerprint).__name__}")

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the three parts; the primary key in the cache file."""
        parts = json.dumps([self.image_sha256, self.analyzer, self.fingerprint],
                           separators=(",", ":"))
        return hashlib.sha256(parts.encode()).hexdigest()

    @classmethod
    def for_image(cls, image: ImageInput, analyzer: Any) -> "CacheKey":
        """The key of ``image`` analyzed by ``analyzer`` (its name and current fingerprint)."""
        return cls(image_digest(image), analyzer.name, analyzer.config_fingerprint())


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Size of a cache and how often this process found what it looked for."""

    path: str
    entries: int
    hits: int
    misses: int
    size_bytes: int
    by_analyzer: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def hit_rate(self) -> float:
        """Hits / lookups since this :class:`AnalysisCache` was created; ``nan`` before any."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else float("nan")


def _encode_faces(faces: Iterable[FaceDetail]) -> str:
    faces = list(faces)
    for i, face in enumerate(faces):
        if not isinstance(face, FaceDetail):
            raise TypeError(f"faces must be FaceDetail objects; item {i} is {type(face).__name__}")
    return json.dumps(faces_to_rekognition(faces), separators=(",", ":"), allow_nan=False)


class AnalysisCache:
    """A SQLite file mapping :class:`CacheKey` to a list of :class:`~liveness_lab.faces.FaceDetail`.

    Parameters
    ----------
    path:
        The cache file; it and its parent directories are created on first
        use. SQLite also keeps ``<path>-wal`` and ``<path>-shm`` next to it.
        Use a local disk: WAL mode does not work over network filesystems.
    timeout:
        Seconds a connection waits for another writer before giving up.

    Notes
    -----
    Connections are opened lazily, one per thread and per process; an
    instance may be shared by threads and pickled to worker processes (a
    pickled copy opens its own connections). Hit and miss counts are kept
    per instance, in memory. Every SQLite failure is raised as
    :class:`~liveness_lab.errors.AnalysisCacheError` naming the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"path must be a file path, got {type(path).__name__}")
        if str(path) in ("", ":memory:"):
            raise ValueError("path must name a file: an in-memory database cannot be shared "
                             "between threads and processes")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._path = Path(path)
        self._timeout = float(timeout)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        # (process id, owning thread, connection) of every connection opened
        self._connections: list[tuple[int, weakref.ref, sqlite3.Connection]] = []
        self._hits = 0
        self._misses = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self._path, "timeout": self._timeout}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self._path = state["path"]
        self._timeout = state["timeout"]
        self._init_runtime()

    def __repr__(self) -> str:
        return f"AnalysisCache({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The cache file."""
        return self._path

    # -- connections -----------------------------------------------------------------------
    def _fail(self, action: str, error: BaseException) -> AnalysisCacheError:
        hint = ""
        text = str(error).lower()
        if "not a database" in text or "malformed" in text:
            hint = " The file is not a usable analysis cache; delete it to start a new one."
        elif "unable to open" in text:
            hint = " Check that the path is a file in a writable directory."
        elif "locked" in text or "busy" in text:
            hint = " Another process held the cache too long; retry or raise the timeout."
        return AnalysisCacheError(
            f"analysis cache {self._path}: cannot {action}: {error}.{hint}")

    def _connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == pid:
            return conn
        # First use in this thread, or an instance inherited through fork(): a connection
        # must never be used across fork, so open a new one (the inherited one is left alone
        # in self._connections, never closed here, as closing it could disturb the parent).
        conn = self._open()
        self._local.conn, self._local.pid = conn, pid
        with self._lock:
            self._close_dead_threads(pid)
            self._connections.append((pid, weakref.ref(threading.current_thread()), conn))
        return conn

    def _close_dead_threads(self, pid: int) -> None:
        """Close this process's connections whose thread has ended (pools come and go)."""
        kept = []
        for owner_pid, thread_ref, conn in self._connections:
            thread = thread_ref()
            if owner_pid == pid and (thread is None or not thread.is_alive()):
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            else:
                kept.append((owner_pid, thread_ref, conn))
        self._connections = kept

    def _open(self) -> sqlite3.Connection:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self._fail("create its directory", e) from e
        try:
            conn = sqlite3.connect(str(self._path), timeout=self._timeout,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise self._fail("open the file", e) from e
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            mode = self._retry_locked(
                lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise AnalysisCacheError(
                    f"analysis cache {self._path}: SQLite refused WAL mode (journal mode is "
                    f"{mode!r}); keep the cache on a local disk")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_schema(conn)
        except sqlite3.Error as e:
            conn.close()
            raise self._fail("open the file", e) from e
        except AnalysisCacheError:
            conn.close()
            raise
        return conn

    def _retry_locked(self, fn: Any) -> Any:
        """Run ``fn``, retrying while SQLite reports the database locked (up to the timeout).

        Switching to WAL needs a brief exclusive lock, and SQLite does not always
        call the busy handler for it when several processes open a new file at once.
        """
        deadline = time.monotonic() + self._timeout
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                text = str(e).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise AnalysisCacheError(
                f"analysis cache {self._path} has layout version {version}, newer than this "
                f"liveness-lab understands ({SCHEMA_VERSION}); upgrade or use another file")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                others = [row[0] for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE name != 'analyses' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 5")]
                if others:
                    raise AnalysisCacheError(
                        f"analysis cache {self._path} is a SQLite database of something else "
                        f"(it holds {', '.join(others)}); choose another cache path")
                conn.execute(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _run(self, action: str, fn: Any) -> Any:
        """Run ``fn(connection)``, turning any SQLite error into :class:`AnalysisCacheError`."""
        conn = self._connection()
        try:
            return fn(conn)
        except sqlite3.Error as e:
            raise self._fail(action, e) from e

    # -- public API ------------------------------------------------------------------------
    def key_for(self, image: ImageInput, analyzer: Any) -> CacheKey:
        """The key of ``image`` analyzed by ``analyzer`` (see :meth:`CacheKey.for_image`)."""
        return CacheKey.for_image(image, analyzer)

    def _decode(self, key_digest: str, text: str) -> list[FaceDetail]:
        try:
            return list(faces_from_rekognition(json.loads(text)))
        except (ValueError, FaceFormatError) as e:
            raise AnalysisCacheError(
                f"analysis cache {self._path}: entry {key_digest} is corrupt ({e}); "
                "clear the cache") from e

    def get(self, key: CacheKey) -> list[FaceDetail] | None:
        """The cached faces of ``key`` (possibly ``[]``: no face), or ``None`` on a miss."""
        if not isinstance(key, CacheKey):
            raise TypeError(f"key must be a CacheKey, got {type(key).__name__}")
        digest = key.digest
        row = self._run("read an entry", lambda c: c.execute(
            "SELECT faces FROM analyses WHERE key = ?", (digest,)).fetchone())
        with self._lock:
            if row is None:
                self._misses += 1
            else:
                self._hits += 1
        return None if row is None else self._decode(digest, row[0])

    def get_many(self, keys: Iterable[CacheKey]) -> dict[CacheKey, list[FaceDetail]]:
        """The cached faces of those ``keys`` that are present (misses are left out).

        Each distinct key counts once as a hit or a miss.
        """
        wanted: dict[str, CacheKey] = {}
        for key in keys:
            if not isinstance(key, CacheKey):
                raise TypeError(f"keys must be CacheKey objects, got {type(key).__name__}")
            wanted.setdefault(key.digest, key)
        digests = list(wanted)

        def query(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            rows: list[tuple[str, str]] = []
            for start in range(0, len(digests), _CHUNK):
                chunk = digests[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows.extend(conn.execute(
                    f"SELECT key, faces FROM analyses WHERE key IN ({marks})", chunk))
            return rows

        rows = self._run("read entries", query) if digests else []
        found = {wanted[d]: self._decode(d, text) for d, text in rows}
        with self._lock:
            self._hits += len(found)
            self._misses += len(wanted) - len(found)
        return found

    def put(self, key: CacheKey, faces: Iterable[FaceDetail]) -> bool:
        """Store the analysis of ``key``; ``False`` when it was already there (kept as is)."""
        return self.put_many([(key, faces)]) == 1

    def put_many(self, items: Iterable[tuple[CacheKey, Iterable[FaceDetail]]]) -> int:
        """Store several analyses in one transaction; returns how many were new."""
        now = time.time()
        rows = []
        for key, faces in items:
            if not isinstance(key, CacheKey):
                raise TypeError(f"keys must be CacheKey objects, got {type(key).__name__}")
            rows.append((key.digest, key.image_sha256, key.analyzer, key.fingerprint,
                         _encode_faces(faces), now))
        if not rows:
            return 0

        def write(conn: sqlite3.Connection) -> int:
            # BEGIN IMMEDIATE takes the write lock up front, so waiting for another
            # writer goes through the busy timeout instead of failing at the first INSERT.
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.executemany(
                    "INSERT OR IGNORE INTO analyses "
                    "(key, image_sha256, analyzer, fingerprint, faces, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", rows)
                added = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return added

        return self._run("write entries", write)

    def __len__(self) -> int:
        return self._run("count entries", lambda c: c.execute(
            "SELECT COUNT(*) FROM analyses").fetchone()[0])

    def stats(self) -> CacheStats:
        """Entries (in total and per analyzer), file size, and this instance's hits and misses."""
        rows = self._run("count entries", lambda c: c.execute(
            "SELECT analyzer, COUNT(*) FROM analyses GROUP BY analyzer ORDER BY analyzer"
        ).fetchall())
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.path.getsize(f"{self._path}{suffix}")
            except OSError:
                pass
        with self._lock:
            hits, misses = self._hits, self._misses
        by_analyzer = {name: count for name, count in rows}
        return CacheStats(path=str(self._path), entries=sum(by_analyzer.values()), hits=hits,
                          misses=misses, size_bytes=size,
                          by_analyzer=MappingProxyType(by_analyzer))

    def clear(self, analyzer: str | None = None) -> int:
        """Delete every entry, or only those of ``analyzer``; returns how many were deleted.

        Other processes may keep using the cache meanwhile. Disk space is
        reused by later entries; delete the file (when no process uses it)
        to give it back to the system.
        """
        if analyzer is not None and (not isinstance(analyzer, str) or not analyzer):
            raise ValueError(f"analyzer must be a non-empty name or None, got {analyzer!r}")

        def delete(conn: sqlite3.Connection) -> int:
            if analyzer is None:
                cur = conn.execute("DELETE FROM analyses")
            else:
                cur = conn.execute("DELETE FROM analyses WHERE analyzer = ?", (analyzer,))
            deleted = cur.rowcount
            try:  # shrink the WAL file if no reader is in the way; harmless otherwise
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.OperationalError:
                pass
            return deleted

        return self._run("clear entries", delete)

    def close(self) -> None:
        """Close the connections this process opened. The cache reopens on next use."""
        pid = os.getpid()
        with self._lock:
            mine = [c for p, _, c in self._connections if p == pid]
            self._connections = [item for item in self._connections if item[0] != pid]
        for conn in mine:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def __enter__(self) -> "AnalysisCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedAnalyzer(FaceAnalyzer):
    """Any analyzer, with its results kept in an :class:`AnalysisCache`.

    ``name`` and :meth:`config_fingerprint` are the inner analyzer's, so a
    cached analyzer can stand wherever the inner one would. :meth:`close`
    closes the inner analyzer, not the cache (which may be shared).
    """

    def __init__(self, inner: FaceAnalyzer, cache: AnalysisCache) -> None:
        if not all(callable(getattr(inner, m, None)) for m in ("analyze", "config_fingerprint")):
            raise TypeError(f"inner must be a face analyzer (with analyze and "
                            f"config_fingerprint), got {type(inner).__name__}")
        if not isinstance(cache, AnalysisCache):
            raise TypeError(f"cache must be an AnalysisCache, got {type(cache).__name__}")
        self.inner = inner
        self.cache = cache

    @property  # type: ignore[override]
    def name(self) -> str:
        """The inner analyzer's name."""
        return self.inner.name

    @property  # type: ignore[override]
    def provides(self) -> frozenset:
        """The inner analyzer's evidence."""
        return frozenset(getattr(self.inner, "provides", frozenset()))

    @property  # type: ignore[override]
    def can_provide(self) -> Mapping:
        return dict(getattr(self.inner, "can_provide", {}) or {})

    def config_fingerprint(self) -> str:
        """The inner analyzer's fingerprint."""
        return self.inner.config_fingerprint()

    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """Cached faces of ``image``, or the inner analyzer's (then stored) on a miss."""
        key = self.cache.key_for(image, self.inner)
        faces = self.cache.get(key)
        if faces is None:
            faces = list(self.inner.analyze(image))
            self.cache.put(key, faces)
        return faces

    def analyze_batch(self, images: Sequence[ImageInput] | Iterable[ImageInput]
                      ) -> list[list[FaceDetail]]:
        """Look every image up first; send only the distinct misses to ``inner.analyze_batch``.

        Results are in input order; new analyses are stored in one transaction.
        """
        items = list(images)
        if not items:
            return []
        name, fingerprint = self.inner.name, self.inner.config_fingerprint()
        keys = [CacheKey(image_digest(item), name, fingerprint) for item in items]
        found = self.cache.get_many(keys)
        first_index: dict[CacheKey, int] = {}
        for i, key in enumerate(keys):
            if key not in found:
                first_index.setdefault(key, i)
        if first_index:
            todo = list(first_index.items())
            analyze_batch = getattr(self.inner, "analyze_batch", None)
            batch = [items[i] for _, i in todo]
            results = (analyze_batch(batch) if callable(analyze_batch)
                       else [self.inner.analyze(img) for img in batch])
            results = [list(faces) for faces in results]
            if len(results) != len(todo):
                raise AnalyzerError(f"analyzer {name!r} returned {len(results)} results for "
                                    f"{len(todo)} images")
            self.cache.put_many((key, faces) for (key, _), faces in zip(todo, results))
            found.update((key, faces) for (key, _), faces in zip(todo, results))
        return [list(found[key]) for key in keys]

    def close(self) -> None:
        """Close the inner analyzer (the cache stays open: it may be shared)."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"CachedAnalyzer({self.inner!r}, {self.cache!r})"


# -- command line ---------------------------------------------------------------------------

def add_cache_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``liveness-lab cache {stats,clear}`` to an argparse ``subparsers`` object.

    The handler is stored as ``func`` (``args.func(args)`` returns the exit code).
    """
    parser = subparsers.add_parser(
        "cache", help="inspect or clear the face analysis cache",
        description="Inspect or clear the content-addressed face analysis cache.")
    parser.add_argument("--path", default=str(DEFAULT_CACHE_PATH),
                        help=f"cache file (default: {DEFAULT_CACHE_PATH})")
    actions = parser.add_subparsers(dest="cache_action", required=True)
    actions.add_parser("stats", help="print the number of entries per analyzer and the file size")
    clear = actions.add_parser("clear", help="delete cached analyses")
    clear.add_argument("--analyzer", default=None,
                       help="delete only the entries of this analyzer (e.g. rekognition)")
    parser.set_defaults(func=run_cache_command)
    return parser


def run_cache_command(args: argparse.Namespace) -> int:
    """Handler of ``liveness-lab cache``; prints to stdout and returns the exit code."""
    path = Path(args.path)
    if not path.exists():
        print(f"no analysis cache at {path}")
        return 0
    with AnalysisCache(path) as cache:
        if args.cache_action == "clear":
            deleted = cache.clear(args.analyzer)
            which = f" of analyzer {args.analyzer!r}" if args.analyzer else ""
            print(f"deleted {deleted} cached analyses{which} from {path}")
            return 0
        stats = cache.stats()
    print(f"{path}: {stats.entries} cached analyses, {stats.size_bytes / 1e6:.1f} MB")
    for analyzer, count in stats.by_analyzer.items():
        print(f"  {analyzer}: {count}")
    return 0
