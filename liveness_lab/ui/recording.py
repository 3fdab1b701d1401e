"""Record challenge sessions into a dataset folder, in the session / dataset format.

A recorded session is written as ``DATASET/sessions/<id>/session.json`` with its
JPEG frames in ``DATASET/sessions/<id>/frames/``, and listed in
``DATASET/manifest.csv`` (created, or extended keeping the existing rows). Frames
carry the faces the challenge service recorded for them when it is known
(in-process service), otherwise only the image (analyze the dataset later with
``liveness-lab analyze``).

No Streamlit here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..faces import FaceDetail
from ..sessions import (LABELS, SPLITS, Frame, ManifestEntry, Session, read_manifest,
                        write_manifest, write_session)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..service.core import ChallengeService
    from ..service.stores.base import ChallengeRecord

__all__ = ["CapturedFrame", "SUGGESTED_SPECIES", "suggested_species", "discard_session",
           "record_session", "frames_from_service",
           "frames_from_component", "session_from_service", "dataset_table", "new_session_id"]

#: PAI species offered by the Record page (free text is allowed too): the simulator's and
#: the benches' names (``liveness_lab.synth.traces.ALL_SPECIES``), NOSE's first.
SUGGESTED_SPECIES = ("print_static", "print_moved", "print_tilted", "print_rolled",
                     "replay_other_challenge", "multiple_faces", "face_swap",
                     "print_random_pose", "print_pose_set", "video_replay")


def suggested_species(challenge_type: str | None = None) -> tuple[str, ...]:
    """PAI species names to suggest for ``challenge_type``, as the benches name them.

    The names of that type in :data:`liveness_lab.synth.traces.ALL_SPECIES` first,
    then the other types' names (a recording may try any attack).

    >>> suggested_species("BLINK")[:2]
    ('print_static', 'video_replay')
    >>> set(suggested_species()) == set(SUGGESTED_SPECIES)
    True
    """
    from ..synth.traces import ALL_SPECIES

    first = tuple(ALL_SPECIES.get(str(challenge_type or "").upper(), ()))
    return tuple(dict.fromkeys(first + SUGGESTED_SPECIES))

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MANIFEST_LOCK = threading.Lock()


@dataclass(frozen=True)
class CapturedFrame:
    """One frame of a captured session: timestamp (ms since the Unix epoch), JPEG, faces.

    ``faces is None``: not analyzed; ``jpeg is None``: trace-only frame.
    """

    timestamp: int
    jpeg: bytes | None = None
    faces: tuple[FaceDetail, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int) \
                or self.timestamp < 0:
            raise ValueError(f"timestamp must be a non-negative integer (ms), got "
                             f"{self.timestamp!r}")
        if self.jpeg is None and self.faces is None:
            raise ValueError("a frame needs a JPEG image or its faces")


def new_session_id(challenge_id: str, now: _dt.datetime | None = None) -> str:
    """``rec-YYYYMMDD-HHMMSS-<first 8 characters of the challenge id>`` (UTC).

    >>> new_session_id("0f8e2a1c-aaaa", _dt.datetime(2024, 5, 1, 12, 0, 0))
    'rec-20240501-120000-0f8e2a1c'
    """
    now = now or _dt.datetime.now(_dt.timezone.utc)
    short = re.sub(r"[^A-Za-z0-9]", "", challenge_id)[:8] or "session"
    return f"rec-{now:%Y%m%d-%H%M%S}-{short}"


def _check_labels(label: str, pai_species: str | None, split: str | None) -> str | None:
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    species = (pai_species or "").strip() or None
    if label == "bona_fide" and species is not None:
        raise ValueError(f"a bona fide session has no PAI species, got {species!r}")
    if label == "attack":
        if species is None:
            raise ValueError("an attack session needs a PAI species, e.g. print_moved")
        if "," in species or "\n" in species:
            raise ValueError(f"the PAI species must be a short name without commas, got "
                             f"{species!r}")
    if split not in (None, "") and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or empty, got {split!r}")
    return species


def record_session(dataset_dir: str | Path, *, session_id: str, challenge_type: str,
                   params: Mapping[str, Any], frames: Sequence[CapturedFrame], label: str,
                   pai_species: str | None = None, subject_id: str | None = None,
                   split: str | None = None, metadata: Mapping[str, Any] | None = None
                   ) -> Session:
    """Write one session (JSON + JPEG frames) into ``dataset_dir`` and list it in the manifest.

    Parameters
    ----------
    dataset_dir:
        The dataset folder (created if needed). An existing ``manifest.csv`` must
        be valid; its rows are kept.
    session_id:
        Letters, digits, ``.``, ``_``, ``-`` (it names a folder); must not be listed yet.
    challenge_type, params:
        The challenge, params exactly as the service generated them.
    frames:
        The frames in capture order.
    label, pai_species:
        ``"bona_fide"`` (no species) or ``"attack"`` with a species name such as
        ``print_moved``.
    subject_id, split, metadata:
        Optional fields of the session format.

    Returns
    -------
    Session
        The session written (``source`` is its JSON path).

    Raises
    ------
    ValueError
        Invalid labels, id or frames; :class:`~liveness_lab.errors.SessionFormatError`
        for an invalid existing manifest.
    """
    species = _check_labels(label, pai_species, split)
    if not isinstance(session_id, str) or not _SAFE.match(session_id):
        raise ValueError(f"session_id must be letters, digits, '.', '_' or '-' (it names a "
                         f"folder), got {session_id!r}")
    if not frames:
        raise ValueError("a session needs at least one frame")
    subject = (subject_id or "").strip() or None
    if subject is not None and ("," in subject or "\n" in subject):
        raise ValueError(f"subject_id must not contain commas, got {subject!r}")
    root = Path(dataset_dir)
    with _MANIFEST_LOCK:
        entries = read_manifest(root) if (root / "manifest.csv").is_file() else []
        if any(e.session_id == session_id for e in entries):
            raise ValueError(f"session {session_id!r} is already in {root / 'manifest.csv'}")
        folder = root / "sessions" / session_id
        (folder / "frames").mkdir(parents=True, exist_ok=True)
        out_frames = []
        for i, fr in enumerate(frames, start=1):
            image = None
            if fr.jpeg is not None:
                image = f"frames/{i:06d}.jpg"
                (folder / image).write_bytes(fr.jpeg)
            out_frames.append(Frame(fr.timestamp, fr.faces, image))
        path = folder / "session.json"
        session = Session(session_id, challenge_type, dict(params), tuple(out_frames), label,
                          species, subject, split or None, dict(metadata or {}), {}, str(path))
        write_session(session, path, indent=1)
        rel = path.relative_to(root).as_posix()
        entries.append(ManifestEntry(session_id, rel, label, species, subject, split or None,
                                     challenge_type))
        write_manifest(root, entries)
    return session


def discard_session(dataset_dir: str | Path, session_id: str) -> bool:
    """Remove a recorded session: its manifest row (rewritten atomically), then its folder.

    Only ``DATASET/sessions/<session_id>/`` is deleted, and only when the manifest
    lists the session there; every other row is kept. Returns whether it was found.

    Raises
    ------
    ValueError
        A session id that cannot name a folder.
    """
    import shutil

    if not isinstance(session_id, str) or not _SAFE.match(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    root = Path(dataset_dir)
    with _MANIFEST_LOCK:
        if not (root / "manifest.csv").is_file():
            return False
        entries = read_manifest(root)
        keep = [e for e in entries if e.session_id != session_id]
        if len(keep) == len(entries):
            return False
        gone = next(e for e in entries if e.session_id == session_id)
        write_manifest(root, keep)
        folder = (root / "sessions" / session_id).resolve()
        if (root / gone.path).resolve().parent == folder and folder.is_dir():
            shutil.rmtree(folder)
    return True


def frames_from_service(service: "ChallengeService", challenge_id: str
                        ) -> tuple["ChallengeRecord", list[CapturedFrame]]:
    """A challenge's record and its frames (JPEG + faces) read from the service's stores.

    Frames are in timestamp order, as the verifier replays them.

    Raises
    ------
    KeyError
        No such challenge.
    """
    record = service.challenges.get(challenge_id, with_trace=True)
    if record is None:
        raise KeyError(f"no challenge {challenge_id!r} in the service's store")
    out = []
    for f in sorted(record.frames, key=lambda f: (f.timestamp, f.index)):
        try:
            data: bytes | None = service.frames.get(f.key)
        except Exception:  # a purged frame: keep what the record has
            data = None
        if data is None and f.faces is None:
            continue
        out.append(CapturedFrame(f.timestamp, data, f.faces))
    return record, out


def frames_from_component(items: Iterable[Mapping[str, Any]]) -> list[CapturedFrame]:
    """Frames kept by the capture component: ``{"timestamp": ms, "jpeg": base64}`` items.

    Items that do not decode are skipped.
    """
    out = []
    for item in items:
        try:
            ts = int(item["timestamp"])
            data = base64.b64decode(str(item["jpeg"]), validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error):
            continue
        if data[:3] == b"\xff\xd8\xff" and ts >= 0:
            out.append(CapturedFrame(ts, data, None))
    out.sort(key=lambda f: f.timestamp)
    return out


def session_from_service(service: "ChallengeService", challenge_id: str
                         ) -> tuple[Session, dict[int, bytes]]:
    """A live challenge of the in-process service as an in-memory :class:`Session`.

    Returns the session (frames with the recorded faces, ``image`` unset) and the
    JPEG of each frame by position in ``session.frames``, for the Session explorer. A
    frame the service has not analyzed yet keeps ``faces=None``.
    """
    record, frames = frames_from_service(service, challenge_id)
    images = {i: f.jpeg for i, f in enumerate(frames) if f.jpeg is not None}
    session = Session(record.id, record.type, dict(record.params),
                      tuple(Frame(f.timestamp, f.faces, None) for f in frames),
                      metadata={"source": "live challenge", "verdict": dict(record.verdict or {})})
    return session, images


def dataset_table(dataset_dir: str | Path) -> "pd.DataFrame":
    """The manifest of a dataset as a DataFrame (empty when there is no manifest yet)."""
    import pandas as pd

    root = Path(dataset_dir)
    cols = ["session_id", "path", "label", "pai_species", "subject_id", "split",
            "challenge_type"]
    if not (root / "manifest.csv").is_file():
        return pd.DataFrame(columns=cols)
    entries = read_manifest(root)
    return pd.DataFrame([e.as_row() for e in entries], columns=cols)
