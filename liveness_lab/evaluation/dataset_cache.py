"""A columnar cache of a dataset's sessions: parse the JSON once, replay many times.

``evaluate`` and ``sweep`` replay the same sessions again and again (a sweep of 50
configurations, a second evaluation with other thresholds). Reading a session document
means decoding JSON and validating every face; this cache does it once, and stores the
validated sessions in one Apache Arrow IPC file that later runs memory-map::

    DATASET fingerprint  ->  CACHE_DIR/<dataset key>-<fingerprint>.arrow

**Format.** One Arrow table, one row per session in manifest order, nested columns
(``frames: list<struct<timestamp, image, extra, faces: list<struct<...>>>>``) with every
face field in its own float/int column, landmarks as lists of X and Y, and a landmark
*layout* code instead of 30 type names per face. Arrow IPC (not Parquet) because the cache
is read far more often than written, on the machine that wrote it: an uncompressed IPC
file is memory-mapped and read without decoding, and a worker touches only the sessions
of its chunk. Parquet's encodings and compression would be decoded on every read. Reading
the columns back into sessions is :mod:`._cache_decode` (faces built lazily from them).
The JSON session format stays the interchange format; the cache is disposable (delete the
folder).

**Exactness.** A cached session equals the one :func:`~liveness_lab.sessions.read_session`
returns (``==``, and the same ``to_dict()``): numbers that a float column would change (a
JSON integer such as ``"Yaw": 12``) make the face stored as its JSON instead, and unknown
fields (``extra``) are stored as JSON.

**Invalidation.** The fingerprint is a SHA-256 over ``manifest.csv``'s bytes and, for
every session file it lists, its path, size, modification time, *change* time and inode
(``os.stat``: ``st_size, st_mtime_ns, st_ctime_ns, st_ino``), plus the cache format and
the package version. The change time is set by the kernel on every write and cannot be
set back by tools that copy modification times (``touch -d``, ``cp -p``, ``rsync -t``),
so an edited file, a file replaced by another of the same size, or a restored backup all
change the fingerprint; stat-ing 10,000 files costs milliseconds where hashing their
content would cost a full read. A copied dataset gets a new cache.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..faces import LANDMARK_TYPES, _thaw
from ..sessions import _plain
# decoding lives in ._cache_decode; decode_sessions is part of this module's API
from ._cache_decode import (_BB, _LMS_KEY, _POSE, _QUALITY, _FaceRef, _json_value,
                            decode_sessions)

__all__ = ["DEFAULT_DATASET_CACHE_DIR", "CACHE_FORMAT", "dataset_cache_fingerprint",
           "cache_file_for", "encode_sessions", "decode_sessions", "DatasetCache",
           "ensure_dataset_cache"]

#: Where the command line keeps dataset caches, relative to the working directory.
DEFAULT_DATASET_CACHE_DIR = Path(".liveness-lab") / "dataset-cache"

#: Version of the cache layout; part of the fingerprint.
CACHE_FORMAT = "liveness-lab/dataset-cache@1"

_NAN = math.nan


def _schema() -> Any:
    import pyarrow as pa
    f64, i8 = pa.float64(), pa.int8()
    face = pa.struct([
        ("raw", pa.binary()),            # the face's JSON when the columns cannot hold it
        ("present", i8),                 # _BB | _POSE | _QUALITY | _LMS_KEY
        ("bb_left", f64), ("bb_top", f64), ("bb_width", f64), ("bb_height", f64),
        ("roll", f64), ("yaw", f64), ("pitch", f64),  # NaN: None
        ("brightness", f64), ("sharpness", f64),
        ("eyes_open", i8), ("mouth_open", i8), ("smile", i8),  # -1 absent, 0, 1
        ("eyes_open_conf", f64), ("mouth_open_conf", f64), ("smile_conf", f64),
        ("confidence", f64),
        ("lm_layout", i8),               # 0: LANDMARK_TYPES order; -1: lm_types
        ("lm_types", pa.list_(pa.string())),
        ("lm_x", pa.list_(f64)), ("lm_y", pa.list_(f64)),
        ("extra", pa.binary()),          # JSON of the unmodelled fields, null when none
    ])
    frame = pa.struct([("timestamp", pa.int64()), ("image", pa.string()),
                       ("extra", pa.binary()), ("faces", pa.list_(face))])
    return pa.schema([("id", pa.string()), ("challenge_type", pa.string()),
                      ("label", pa.string()), ("pai_species", pa.string()),
                      ("subject_id", pa.string()), ("split", pa.string()),
                      ("params", pa.binary()), ("metadata", pa.binary()),
                      ("extra", pa.binary()), ("frames", pa.list_(frame))])


# -- fingerprint ----------------------------------------------------------------------------

def dataset_cache_fingerprint(dataset_dir: str | os.PathLike, entries: Sequence[Any]) -> str:
    """The cache key of a dataset: manifest bytes and every session file's stat signature.

    ``entries`` are the dataset's :class:`~liveness_lab.sessions.ManifestEntry` rows. See
    the module docstring for why a stat signature (with the change time) is safe.
    """
    from .. import __version__
    root = Path(dataset_dir)
    h = hashlib.sha256()
    h.update(f"{CACHE_FORMAT}\0{__version__}\0".encode())
    h.update((root / "manifest.csv").read_bytes())
    join, base = os.path.join, str(root)
    for e in entries:
        st = os.stat(join(base, e.path))
        h.update(f"\0{e.path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0"
                 f"{st.st_ino}".encode())
    return h.hexdigest()


def cache_file_for(dataset_dir: str | os.PathLike, cache_dir: str | os.PathLike,
                   fingerprint: str) -> Path:
    """``CACHE_DIR/<hash of the dataset's absolute path>-<fingerprint>.arrow``."""
    key = hashlib.sha256(str(Path(dataset_dir).resolve()).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{key}-{fingerprint[:40]}.arrow"


# -- encoding -------------------------------------------------------------------------------

def _json_bytes(value: Any) -> bytes:
    # the standard library keeps NaN / huge integers that orjson would change or refuse
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode("ascii")


def _opt(v: Any) -> float:
    return _NAN if v is None else v


def _plain_floats(values: Iterable[Any]) -> bool:
    return all(v is None or type(v) is float for v in values)


def _landmark_columns(face: Any) -> tuple[Sequence[str], Sequence[float], Sequence[float]]:
    packed = face._packed  # a face's packed parts stay valid after they are built
    if type(packed) is _FaceRef:
        return packed.source.landmark_columns(packed.row)
    if packed is not None:
        a, b = packed.start, packed.start + len(packed.types)
        return packed.types, packed.xs[a:b], packed.ys[a:b]
    lms = face.landmarks
    return [lm.type for lm in lms], [lm.x for lm in lms], [lm.y for lm in lms]


def _raw_extra(face: Any) -> Any:
    packed = face._packed
    if type(packed) is _FaceRef:
        raw = packed.source.raw_extra(packed.row)
        return None if raw is None else _json_value(raw)
    if packed is not None:
        raw = packed.raw_extra
        return _json_value(raw) if isinstance(raw, (bytes, bytearray)) else raw
    return {k: _thaw(v) for k, v in face.extra.items()} or None


def _encode_face(face: Any) -> dict[str, Any]:
    bb, pose, q = face.bounding_box, face.pose, face.quality
    attrs = (face.eyes_open, face.mouth_open, face.smile)
    types, xs, ys = _landmark_columns(face)
    numbers = [face.confidence]
    if bb is not None:
        numbers += (bb.left, bb.top, bb.width, bb.height)
    if pose is not None:
        numbers += (pose.roll, pose.yaw, pose.pitch)
    if q is not None:
        numbers += (q.brightness, q.sharpness)
    numbers += [a.confidence for a in attrs if a is not None]
    if not (_plain_floats(numbers) and _plain_floats(xs) and _plain_floats(ys)):
        return {"raw": _json_bytes(face.to_rekognition()), "present": 0, "lm_layout": 0,
                "eyes_open": -1, "mouth_open": -1, "smile": -1}
    extra = _raw_extra(face)
    layout = 0 if tuple(types) == LANDMARK_TYPES or not types else -1
    present = ((_BB if bb is not None else 0) | (_POSE if pose is not None else 0)
               | (_QUALITY if q is not None else 0) | (_LMS_KEY if face._has_landmarks else 0))
    row = {"raw": None, "present": present,
           "confidence": _opt(face.confidence), "lm_layout": layout,
           "lm_types": list(types) if layout else None, "lm_x": list(xs), "lm_y": list(ys),
           "extra": _json_bytes(extra) if extra else None}
    if bb is not None:
        row.update(bb_left=bb.left, bb_top=bb.top, bb_width=bb.width, bb_height=bb.height)
    if pose is not None:
        row.update(roll=_opt(pose.roll), yaw=_opt(pose.yaw), pitch=_opt(pose.pitch))
    if q is not None:
        row.update(brightness=_opt(q.brightness), sharpness=_opt(q.sharpness))
    for name, a in zip(("eyes_open", "mouth_open", "smile"), attrs):
        row[name] = -1 if a is None else int(a.value)
        row[f"{name}_conf"] = _NAN if a is None else _opt(a.confidence)
    return row


def encode_sessions(sessions: Iterable[Any]) -> Any:
    """A :class:`pyarrow.RecordBatch` of validated sessions (the cache's row format)."""
    import pyarrow as pa
    rows = []
    for s in sessions:
        frames = []
        for fr in s.frames:
            frames.append({"timestamp": fr.timestamp, "image": fr.image,
                           "extra": _json_bytes(dict(fr.extra)) if fr.extra else None,
                           "faces": None if fr.faces is None else
                           [_encode_face(f) for f in fr.faces]})
        rows.append({"id": s.id, "challenge_type": s.challenge_type, "label": s.label,
                     "pai_species": s.pai_species, "subject_id": s.subject_id,
                     "split": s.split, "params": _json_bytes(_plain(s.params)),
                     "metadata": _json_bytes(_plain(s.metadata)),
                     "extra": _json_bytes(_plain(s.extra)) if s.extra else None,
                     "frames": frames})
    return pa.RecordBatch.from_pylist(rows, schema=_schema())


# -- the cache file -------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetCache:
    """Where the cache of one dataset state lives, and how to read and write it.

    Attributes
    ----------
    dataset_dir:
        The dataset directory.
    path:
        The cache file (may not exist yet).
    fingerprint:
        :func:`dataset_cache_fingerprint` of the dataset when this object was made.
    """

    dataset_dir: str
    path: str
    fingerprint: str

    @classmethod
    def for_dataset(cls, dataset_dir: str | os.PathLike, cache_dir: str | os.PathLike,
                    entries: Sequence[Any]) -> "DatasetCache":
        """The cache of the dataset as it is now (fingerprinted from ``entries``)."""
        fp = dataset_cache_fingerprint(dataset_dir, entries)
        return cls(str(dataset_dir), str(cache_file_for(dataset_dir, cache_dir, fp)), fp)

    def exists(self) -> bool:
        """Whether a readable cache file of this fingerprint is there."""
        if not os.path.isfile(self.path):
            return False
        try:
            table = _open_table(self.path)
        except Exception:  # a truncated or foreign file: rebuilt by the caller
            return False
        meta = table.schema.metadata or {}
        return meta.get(b"fingerprint") == self.fingerprint.encode()

    def write(self, batches: Sequence[Any]) -> Path:
        """Write record batches (manifest order) atomically; drop older caches of the dataset."""
        import pyarrow as pa
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        schema = _schema().with_metadata({"fingerprint": self.fingerprint,
                                          "format": CACHE_FORMAT})
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
                for b in batches:
                    if b.num_rows:
                        writer.write_batch(pa.RecordBatch.from_arrays(b.columns,
                                                                      schema=schema))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        prefix = path.name.split("-", 1)[0] + "-"
        for old in path.parent.glob(prefix + "*.arrow"):
            if old.name != path.name:
                try:
                    old.unlink()
                except OSError:
                    pass
        _TABLES.pop(str(path), None)
        return path

    def read(self, rows: Sequence[int], sources: Sequence[str | None]) -> list[Any]:
        """The sessions at manifest positions ``rows`` (``sources``: their file paths)."""
        rows = list(rows)
        if not rows:
            return []
        table = _open_table(self.path)
        if rows == list(range(rows[0], rows[0] + len(rows))):
            part = table.slice(rows[0], len(rows))
        else:
            part = table.take(rows)
        return decode_sessions(part, sources)


_TABLES: dict[str, Any] = {}


def _open_table(path: str) -> Any:
    """The memory-mapped table of a cache file (kept open, and mapped, per process)."""
    import pyarrow as pa
    table = _TABLES.get(path)
    if table is None:
        if len(_TABLES) >= 8:
            _TABLES.clear()
        table = pa.ipc.open_file(pa.memory_map(path, "r")).read_all()
        _TABLES[path] = table
    return table


# -- building -------------------------------------------------------------------------------

@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while a chunk builds many acyclic objects.

    Sessions, frames and faces hold no reference cycles (reference counting frees them);
    without the pause, every few hundred allocations start a collection that walks the
    objects already built, which costs up to half of a chunk's reading time.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _encode_task(task: tuple[str, Sequence[Any]]) -> Any:
    """Read and validate one chunk of sessions; their record batch for the cache."""
    from ..sessions import load_dataset_session
    dataset_dir, entries = task
    with _gc_paused():
        return encode_sessions([load_dataset_session(dataset_dir, e) for e in entries])


def ensure_dataset_cache(dataset_dir: str | os.PathLike, cache_dir: str | os.PathLike, *,
                         entries: Sequence[Any] | None = None, engine: Any = None,
                         chunk_size: int = 256, progress: Any = False,
                         cache: DatasetCache | None = None) -> DatasetCache | None:
    """The dataset's cache, built (sessions read and validated on ``engine``) if missing.

    Parameters
    ----------
    dataset_dir, cache_dir:
        The dataset, and the folder that holds caches.
    entries:
        The dataset's manifest rows (default: read ``manifest.csv``).
    engine:
        An :class:`~liveness_lab.engines.Engine` for the build (default: this process).
    progress:
        As in :func:`liveness_lab.evaluation.replay.replay_many`.
    cache:
        The dataset's :class:`DatasetCache` when the caller has fingerprinted it already
        (:meth:`DatasetCache.for_dataset` stats every session file).

    Returns
    -------
    DatasetCache or None
        ``None`` when the cache cannot be written (a warning says why); read the JSON
        files then. A malformed session raises
        :class:`~liveness_lab.errors.SessionFormatError` and leaves no cache.
    """
    from ..engines import ProcessEngine, progress_bar
    from ..sessions import read_manifest
    root = str(dataset_dir)
    entries = read_manifest(root) if entries is None else entries
    if cache is None:
        cache = DatasetCache.for_dataset(root, cache_dir, entries)
    if cache.exists():
        return cache
    eng = engine if engine is not None else ProcessEngine(1)
    tasks = [(root, entries[i:i + chunk_size]) for i in range(0, len(entries), chunk_size)]
    bar, tick = progress_bar(progress, len(entries), "read dataset (cache)")
    try:
        batches = eng.map(_encode_task, tasks, on_result=lambda b: tick(b.num_rows))
    finally:
        if bar is not None:
            bar.close()
    try:
        cache.write(batches)
    except OSError as e:
        warnings.warn(f"cannot write the dataset cache in {cache_dir}: {e}; reading the "
                      "session files instead", RuntimeWarning, stacklevel=2)
        return None
    return cache
