"""Fill in the faces of image-only frames: one session, or a whole dataset in parallel.

Analysis is the expensive step, so it goes through the content-addressed
:class:`~liveness_lab.analyzers.cache.AnalysisCache` by default: a dataset is
analyzed once and replayed many times.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .analyzers.base import FaceAnalyzer
from .analyzers.cache import DEFAULT_CACHE_PATH
from .errors import AnalyzerError, SessionFormatError
from .sessions import ManifestEntry, Session, load_dataset_session, read_manifest, write_session

__all__ = ["DEFAULT_CACHE_PATH", "AnalysisStats", "make_analyzer", "analyze_session",
           "analyze_dataset"]



@dataclass(frozen=True)
class AnalysisStats:
    """What :func:`analyze_dataset` did."""

    sessions: int
    sessions_changed: int
    frames_analyzed: int


def make_analyzer(name: str, *, options: Mapping[str, Any] | None = None,
                  cache_path: str | os.PathLike | None = DEFAULT_CACHE_PATH) -> FaceAnalyzer:
    """Create the analyzer ``name``, wrapped in the analysis cache unless ``cache_path`` is None."""
    from .analyzers import create_analyzer

    analyzer = create_analyzer(name, **dict(options or {}))
    if cache_path is None or name == "recorded":
        return analyzer
    from .analyzers.cache import AnalysisCache, CachedAnalyzer
    Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
    return CachedAnalyzer(analyzer, AnalysisCache(cache_path))


def analyze_session(session: Session, analyzer: FaceAnalyzer, *,
                    overwrite: bool = False) -> tuple[Session, int]:
    """A copy of ``session`` whose image-only frames carry the analyzer's faces.

    Frames that already have ``faces`` are kept unless ``overwrite``. Returns the
    new session and the number of frames analyzed. A missing or undecodable
    image raises :class:`~liveness_lab.errors.SessionFormatError` naming the frame.
    """
    todo = [i for i, fr in enumerate(session.frames)
            if fr.image is not None and (overwrite or fr.faces is None)]
    if not todo:
        return session, 0
    images = []
    for i in todo:
        path = session.image_path(session.frames[i])
        try:
            images.append(path.read_bytes())  # type: ignore[union-attr]
        except OSError as e:
            raise SessionFormatError(f"cannot read image {session.frames[i].image!r}: "
                                     f"{e.strerror or e}", path=session.source,
                                     session_id=session.id, field=f"frames[{i}].image") from None
    try:
        results = analyzer.analyze_batch(images)
    except AnalyzerError:
        # find the frame to blame, so the message names it
        for i, img in zip(todo, images):
            try:
                analyzer.analyze(img)
            except AnalyzerError as e:
                raise SessionFormatError(f"frame image {session.frames[i].image!r}: {e}",
                                         path=session.source, session_id=session.id,
                                         field=f"frames[{i}].image") from None
        raise
    frames = list(session.frames)
    for i, faces in zip(todo, results):
        frames[i] = replace(frames[i], faces=tuple(faces))
    return session.with_frames(frames), len(todo)


_WORKER: dict[str, Any] = {}


def _init_worker(name: str, options: Mapping[str, Any] | None, cache_path: str | None) -> None:
    _WORKER["analyzer"] = make_analyzer(name, options=options, cache_path=cache_path)


def _analyze_entries(dataset_dir: str, entries: Sequence[ManifestEntry],
                     overwrite: bool) -> list[tuple[str, int]]:
    out = []
    for entry in entries:
        session = load_dataset_session(dataset_dir, entry)
        new, n = analyze_session(session, _WORKER["analyzer"], overwrite=overwrite)
        if n:
            write_session(new, Path(dataset_dir) / entry.path)
        out.append((entry.session_id, n))
    return out


def analyze_dataset(dataset_dir: str | os.PathLike, *, analyzer: str = "local",
                    options: Mapping[str, Any] | None = None,
                    cache_path: str | os.PathLike | None = DEFAULT_CACHE_PATH,
                    workers: int | None = None, overwrite: bool = False,
                    progress: bool | Callable[[int, int], None] = False) -> AnalysisStats:
    """Analyze the image-only frames of every session of a dataset and write the faces back.

    Session files are rewritten atomically, one at a time, so an interrupted run
    leaves every file either as it was or fully analyzed; re-running continues
    where it stopped (and the cache makes already-seen images free).
    """
    root = str(Path(dataset_dir))
    entries = read_manifest(root)
    workers = max(1, workers or os.cpu_count() or 1)
    cache = str(cache_path) if cache_path is not None else None
    bar = None
    if progress is True:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(entries), unit="session", desc=f"analyze ({analyzer})", leave=False)
    done: list[tuple[str, int]] = []

    def tick(rows: list[tuple[str, int]]) -> None:
        done.extend(rows)
        if bar is not None:
            bar.update(len(rows))
        elif callable(progress):
            progress(len(done), len(entries))

    try:
        if workers == 1 or len(entries) <= 1:
            _init_worker(analyzer, options, cache)
            for e in entries:
                tick(_analyze_entries(root, [e], overwrite))
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(analyzer, dict(options or {}), cache)) as pool:
                pending = {pool.submit(_analyze_entries, root, [e], overwrite) for e in entries}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for f in finished:
                        if f.exception() is not None:
                            for p in pending:
                                p.cancel()
                            raise f.exception()  # type: ignore[misc]
                        tick(f.result())
    finally:
        if bar is not None:
            bar.close()
        _WORKER.clear()
    return AnalysisStats(len(entries), sum(1 for _, n in done if n), sum(n for _, n in done))
