"""Sessions and datasets in the interchange format (``docs/session-format.md``).

A **session** is one challenge (type + params) and the frames a client sent
for it, each with its timestamp and optionally an image path and the
recorded face detections. A **dataset** is a directory with ``manifest.csv``
listing session documents. Reading validates everything and raises
:class:`~liveness_lab.errors.SessionFormatError` naming the file, the session
and the field; writing is atomic (temporary file + rename).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from operator import attrgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping, Sequence

import orjson

from .errors import FaceFormatError, SessionFormatError
from .faces import FaceDetail, faces_from_rekognition

__all__ = ["FORMAT", "LABELS", "SPLITS", "MANIFEST_COLUMNS", "Frame", "Session", "ManifestEntry",
           "read_session", "write_session", "session_from_dict", "read_manifest",
           "load_dataset_session", "iter_dataset", "write_dataset", "atomic_write_text",
           "check_subject_splits"]

FORMAT = "liveness-lab/session@1"
LABELS = ("bona_fide", "attack")
SPLITS = ("train", "dev", "test")
MANIFEST_COLUMNS = ("session_id", "path", "label", "pai_species", "subject_id", "split",
                    "challenge_type")
_SESSION_KEYS = {"format", "id", "challenge", "label", "pai_species", "subject_id", "split",
                 "frames", "metadata"}
_FRAME_KEYS = frozenset({"timestamp", "image", "faces"})
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})
_timestamp_of = attrgetter("timestamp")


@dataclass(frozen=True)
class Frame:
    """One frame: timestamp (ms since the Unix epoch), optional image path, optional faces.

    ``faces is None`` means "not analyzed yet"; an empty tuple means
    "analyzed, no face". ``image`` is relative to the session file.
    """

    timestamp: int
    faces: tuple[FaceDetail, ...] | None = None
    image: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"timestamp": self.timestamp}
        if self.image is not None:
            out["image"] = self.image
        if self.faces is not None:
            out["faces"] = [f.to_rekognition() for f in self.faces]
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Session:
    """A recorded challenge session (see the module docstring)."""

    id: str
    challenge_type: str
    params: Mapping[str, Any]
    frames: tuple[Frame, ...] = ()
    label: str | None = None
    pai_species: str | None = None
    subject_id: str | None = None
    split: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the file the session was read from (not serialized)
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.frames, tuple):
            object.__setattr__(self, "frames", tuple(self.frames))
        if self.label is not None and self.label not in LABELS:
            raise SessionFormatError(f"label must be one of {', '.join(LABELS)}, got {self.label!r}",
                                     session_id=self.id, field="label")

    def sorted_frames(self) -> list[Frame]:
        """Frames in replay order: by timestamp, ties in file order."""
        return sorted(self.frames, key=_timestamp_of)

    def image_path(self, frame: Frame) -> Path | None:
        """Absolute path of a frame's image, resolved against the session file's folder."""
        if frame.image is None:
            return None
        base = Path(self.source).parent if self.source else Path.cwd()
        return (base / frame.image).resolve()

    def with_frames(self, frames: Iterable[Frame]) -> "Session":
        return replace(self, frames=tuple(frames))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the session format."""
        out: dict[str, Any] = {
            "format": FORMAT, "id": self.id,
            "challenge": {"type": self.challenge_type, "params": _plain(self.params)},
            "label": self.label, "pai_species": self.pai_species,
        }
        if self.subject_id is not None:
            out["subject_id"] = self.subject_id
        if self.split is not None:
            out["split"] = self.split
        out["frames"] = [fr.to_dict() for fr in self.frames]
        out["metadata"] = _plain(self.metadata)
        out.update(_plain(self.extra))
        return out


def _new_frame(timestamp: int, faces: tuple[FaceDetail, ...] | None, image: str | None,
               extra: Mapping[str, Any] = _NO_EXTRA) -> Frame:
    """A :class:`Frame` from values a reader has validated (no ``__init__`` round trip)."""
    fr = object.__new__(Frame)
    fr.__dict__.update(timestamp=timestamp, faces=faces, image=image, extra=extra)
    return fr


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- reading ---------------------------------------------------------------------------------

def _err(msg: str, path: str | None, sid: str | None, fld: str) -> SessionFormatError:
    return SessionFormatError(msg, path=path, session_id=sid, field=fld)


def _opt_str(d: Mapping[str, Any], key: str, path: str | None, sid: str | None) -> str | None:
    v = d.get(key)
    if v is not None and not isinstance(v, str):
        raise _err(f"must be a string or null, got {type(v).__name__} {v!r}", path, sid, key)
    return v


def _check_params(ctype: str, params: Mapping[str, Any], p: str | None, sid: str) -> None:
    """Params against their type's params schema (a type no registry knows is left to verify)."""
    from .challenges.registry import default_registry
    from .errors import ParamsError, UnknownChallengeType
    try:
        default_registry().get(ctype).check_params(params)
    except UnknownChallengeType:
        return
    except ParamsError as e:
        raise _err(e.detail, p, sid, f"challenge.params.{e.field}") from None


def session_from_dict(d: Any, *, path: str | os.PathLike | None = None) -> Session:
    """Validate a session document and build a :class:`Session`."""
    p = str(path) if path is not None else None
    if not isinstance(d, Mapping):
        raise _err(f"a session document must be a JSON object, got {type(d).__name__}", p, None,
                   "(document)")
    sid = d.get("id")
    if not isinstance(sid, str) or not sid:
        raise _err(f"must be a non-empty string, got {sid!r}", p, None, "id")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise _err(f"must be {FORMAT!r}, got {fmt!r}", p, sid, "format")
    ch = d.get("challenge")
    if not isinstance(ch, Mapping):
        raise _err("must be an object with 'type' and 'params'", p, sid, "challenge")
    ctype = ch.get("type")
    if not isinstance(ctype, str) or not ctype:
        raise _err(f"must be a non-empty string, got {ctype!r}", p, sid, "challenge.type")
    params = ch.get("params")
    if not isinstance(params, Mapping):
        raise _err(f"must be an object, got {type(params).__name__}", p, sid, "challenge.params")
    _check_params(ctype, params, p, sid)
    label = d.get("label")
    if label not in LABELS:
        raise _err(f"must be one of {', '.join(map(repr, LABELS))}, got {label!r}", p, sid, "label")
    species = _opt_str(d, "pai_species", p, sid)
    if label == "bona_fide" and species not in (None, ""):
        raise _err(f"must be null for a bona fide session, got {species!r}", p, sid, "pai_species")
    subject = _opt_str(d, "subject_id", p, sid)
    split = _opt_str(d, "split", p, sid)
    if split not in (None, "") and split not in SPLITS:
        raise _err(f"must be one of {', '.join(SPLITS)} or empty, got {split!r}", p, sid, "split")
    metadata = d.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise _err(f"must be an object, got {type(metadata).__name__}", p, sid, "metadata")
    raw_frames = d.get("frames")
    if not isinstance(raw_frames, list):
        raise _err(f"must be a list, got {type(raw_frames).__name__}", p, sid, "frames")
    frames = []
    for i, fr in enumerate(raw_frames):
        where = f"frames[{i}]"
        if not isinstance(fr, Mapping):
            raise _err(f"must be an object, got {type(fr).__name__}", p, sid, where)
        ts = fr.get("timestamp")
        if isinstance(ts, float) and ts.is_integer():
            ts = int(ts)
        if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
            raise _err(f"must be a non-negative integer (ms since the Unix epoch), got {ts!r}",
                       p, sid, f"{where}.timestamp")
        image = fr.get("image")
        if image is not None and (not isinstance(image, str) or not image):
            raise _err(f"must be a relative path string, got {image!r}", p, sid, f"{where}.image")
        faces = fr.get("faces")
        if faces is not None:
            if not isinstance(faces, list):
                raise _err(f"must be a list of FaceDetail objects, got {type(faces).__name__}",
                           p, sid, f"{where}.faces")
            try:
                faces = faces_from_rekognition(faces)
            except FaceFormatError as e:
                raise _err(str(e), p, sid, f"{where}.faces") from None
        elif image is None:
            raise _err("a frame needs 'faces' or an 'image' to analyze", p, sid, where)
        if _FRAME_KEYS.issuperset(fr):
            frames.append(_new_frame(ts, faces, image))
        else:
            extra = {k: v for k, v in fr.items() if k not in _FRAME_KEYS}
            frames.append(_new_frame(ts, faces, image, MappingProxyType(extra)))
    extra = {k: v for k, v in d.items() if k not in _SESSION_KEYS}
    return Session(sid, ctype, dict(params), tuple(frames), label, species or None, subject,
                   split or None, dict(metadata), extra, p)


def read_session(path: str | os.PathLike) -> Session:
    """Read and validate one session JSON file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SessionFormatError(f"cannot read the file: {e.strerror or e}", path=str(p)) from None
    return session_from_dict(_decode_json(data, p), path=p)


def _decode_json(data: bytes, p: Path) -> Any:
    """The JSON document in ``data``: orjson, with the standard library's reading of what
    orjson refuses (``NaN``, integers beyond 64 bits) and its error messages."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SessionFormatError("the file is not UTF-8 text", path=str(p)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SessionFormatError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}",
                                 path=str(p)) from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file in the same folder, then rename).

    A path that exists and is not a regular file (``/dev/stdout``, a FIFO) is written
    directly: renaming over it would replace the device with a file.
    """
    p = Path(path)
    if p.exists() and not p.is_file():
        if p.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(p))
        with open(p, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        return
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_session(session: Session, path: str | os.PathLike, *, indent: int | None = None) -> Path:
    """Write ``session`` as JSON to ``path`` (atomically). Returns the path."""
    p = Path(path)
    atomic_write_text(p, json.dumps(session.to_dict(), indent=indent, separators=None if indent
                                    else (",", ":")))
    return p


# -- datasets --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ManifestEntry:
    """One row of a dataset's ``manifest.csv``."""

    session_id: str
    path: str
    label: str
    pai_species: str | None
    subject_id: str | None
    split: str | None
    challenge_type: str
    line: int = 0

    def as_row(self) -> dict[str, str]:
        return {"session_id": self.session_id, "path": self.path, "label": self.label,
                "pai_species": self.pai_species or "", "subject_id": self.subject_id or "",
                "split": self.split or "", "challenge_type": self.challenge_type}


def read_manifest(dataset_dir: str | os.PathLike) -> list[ManifestEntry]:
    """Read and validate ``DATASET_DIR/manifest.csv``.

    Checks the required columns, labels, splits, unique session ids and that
    every listed session file exists.
    """
    root = Path(dataset_dir)
    mpath = root / "manifest.csv"
    if not root.is_dir():
        raise SessionFormatError("not a dataset directory", path=str(root))
    if not mpath.is_file():
        raise SessionFormatError("the dataset has no manifest.csv", path=str(mpath))
    entries: list[ManifestEntry] = []
    seen: dict[str, int] = {}
    try:
        with mpath.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise SessionFormatError(f"missing column(s) {', '.join(missing)}; the header must "
                                         f"include {', '.join(MANIFEST_COLUMNS)}", path=str(mpath),
                                         field="header")
            for row in reader:
                line = reader.line_num
                where = f"line {line}"
                sid = (row.get("session_id") or "").strip()
                if not sid:
                    raise SessionFormatError(f"{where}: empty session_id", path=str(mpath),
                                             field="session_id")
                if sid in seen:
                    raise SessionFormatError(f"{where}: session_id repeats line {seen[sid]}",
                                             path=str(mpath), session_id=sid, field="session_id")
                seen[sid] = line
                label = (row.get("label") or "").strip()
                if label not in LABELS:
                    raise SessionFormatError(f"{where}: label must be bona_fide or attack, got "
                                             f"{label!r}", path=str(mpath), session_id=sid,
                                             field="label")
                split = (row.get("split") or "").strip() or None
                if split is not None and split not in SPLITS:
                    raise SessionFormatError(f"{where}: split must be train, dev, test or empty, "
                                             f"got {split!r}", path=str(mpath), session_id=sid,
                                             field="split")
                rel = (row.get("path") or "").strip()
                if not rel:
                    raise SessionFormatError(f"{where}: empty path", path=str(mpath),
                                             session_id=sid, field="path")
                if not os.path.isfile(os.path.join(root, rel)):
                    raise SessionFormatError(f"{where}: session file {rel!r} does not exist",
                                             path=str(mpath), session_id=sid, field="path")
                ctype = (row.get("challenge_type") or "").strip()
                if not ctype:
                    raise SessionFormatError(f"{where}: empty challenge_type", path=str(mpath),
                                             session_id=sid, field="challenge_type")
                species = (row.get("pai_species") or "").strip() or None
                if label == "bona_fide" and species:
                    raise SessionFormatError(f"{where}: pai_species must be empty for bona fide",
                                             path=str(mpath), session_id=sid, field="pai_species")
                entries.append(ManifestEntry(sid, rel, label, species,
                                             (row.get("subject_id") or "").strip() or None,
                                             split, ctype, line))
    except UnicodeDecodeError:
        raise SessionFormatError("manifest.csv is not UTF-8 text", path=str(mpath)) from None
    except csv.Error as e:
        raise SessionFormatError(f"malformed CSV: {e}", path=str(mpath)) from None
    return entries


def load_dataset_session(dataset_dir: str | os.PathLike, entry: ManifestEntry) -> Session:
    """Read the session an entry lists and check that it agrees with the manifest."""
    path = Path(dataset_dir) / entry.path
    s = read_session(path)
    for fld, manifest_value, doc_value in (
            ("id", entry.session_id, s.id), ("label", entry.label, s.label),
            ("challenge.type", entry.challenge_type.upper(), s.challenge_type.upper()),
            ("pai_species", entry.pai_species, s.pai_species)):
        if manifest_value != doc_value:
            raise SessionFormatError(f"the session says {doc_value!r} but manifest.csv line "
                                     f"{entry.line} says {manifest_value!r}", path=str(path),
                                     session_id=s.id, field=fld)
    return s


def iter_dataset(dataset_dir: str | os.PathLike) -> Iterator[Session]:
    """Every session of a dataset, validated, in manifest order."""
    for entry in read_manifest(dataset_dir):
        yield load_dataset_session(dataset_dir, entry)


def write_dataset(out_dir: str | os.PathLike, sessions: Iterable[Session], *,
                  subdir: str = "sessions") -> Path:
    """Write sessions as ``OUT/SUBDIR/<id>.json`` plus ``OUT/manifest.csv``. Returns ``OUT``.

    Sessions whose ``source`` lies inside ``OUT`` (e.g. with images next to
    them) keep that location instead. A subject with sessions in two splits is
    refused before anything is written (:func:`check_subject_splits`).
    """
    root = Path(out_dir)
    sessions = list(sessions)
    check_subject_splits(ManifestEntry(s.id, "", s.label or "", s.pai_species, s.subject_id,
                                       s.split, s.challenge_type) for s in sessions)
    root.mkdir(parents=True, exist_ok=True)
    entries: list[ManifestEntry] = []
    for s in sessions:
        if s.source and Path(s.source).resolve().is_relative_to(root.resolve()):
            path = Path(s.source)
        else:
            path = root / subdir / f"{s.id}.json"
        write_session(s, path)
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        entries.append(ManifestEntry(s.id, rel, s.label or "", s.pai_species, s.subject_id,
                                     s.split, s.challenge_type))
    write_manifest(root, entries)
    return root


def check_subject_splits(entries: Iterable[ManifestEntry]) -> None:
    """Raise ``ValueError`` when a subject has sessions in two splits (train / dev / test).

    Splits are by subject (docs/evaluation.md): a person seen in ``dev`` must not be
    judged again in ``test``. Sessions without a subject or without a split are not
    constrained.
    """
    first: dict[str, tuple[str, str]] = {}
    for e in entries:
        if not e.subject_id or not e.split:
            continue
        seen = first.setdefault(e.subject_id, (e.split, e.session_id))
        if seen[0] != e.split:
            raise ValueError(f"subject {e.subject_id!r} is in split {seen[0]!r} (session "
                             f"{seen[1]!r}) and in split {e.split!r} (session "
                             f"{e.session_id!r}); splits must be by subject - give each "
                             "subject's sessions one split")


def write_manifest(dataset_dir: str | os.PathLike, entries: Sequence[ManifestEntry]) -> Path:
    """Write ``manifest.csv`` (atomically) for ``entries``.

    Refuses (``ValueError``, nothing written) a subject with sessions in two
    splits: see :func:`check_subject_splits`.
    """
    import io
    check_subject_splits(entries)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    w.writeheader()
    for e in entries:
        w.writerow(e.as_row())
    path = Path(dataset_dir) / "manifest.csv"
    atomic_write_text(path, buf.getvalue())
    return path
