"""Fill in the faces of image-only frames: one session, or a whole dataset in parallel.

Analysis is the expensive step, so it goes through the content-addressed
:class:`~liveness_lab.analyzers.cache.AnalysisCache` by default: a dataset is
analyzed once and replayed many times.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from .analyzers import DEFAULT_ANALYZER
from .analyzers.base import FaceAnalyzer
from .analyzers.cache import DEFAULT_CACHE_PATH
from .engines import Engine, make_engine, progress_bar
from .errors import AnalyzerError, SessionFormatError
from .sessions import ManifestEntry, Session, load_dataset_session, read_manifest, write_session

__all__ = ["DEFAULT_CACHE_PATH", "AnalysisStats", "make_analyzer", "analyze_session",
           "analyze_dataset", "needs_analysis", "check_analyzer_name"]



@dataclass(frozen=True)
class AnalysisStats:
    """What :func:`analyze_dataset` did."""

    sessions: int
    sessions_changed: int
    frames_analyzed: int


def make_analyzer(name: str, *, options: Mapping[str, Any] | None = None,
                  cache_path: str | os.PathLike | None = DEFAULT_CACHE_PATH,
                  pad_model: str | os.PathLike | None = None) -> FaceAnalyzer:
    """Create the analyzer ``name``, wrapped in the analysis cache unless ``cache_path`` is None.

    ``pad_model``: path of a PAD model (``liveness-lab pad-train``); the analyzer is then
    wrapped in :class:`~liveness_lab.pad.PadStage`, so its faces carry a ``PadScore``. A
    missing or malformed model file raises ``ValueError`` naming it; nothing is trained here.
    """
    from .analyzers import create_analyzer

    analyzer = create_analyzer(name, **dict(options or {}))
    if pad_model is not None and analyzer.analyzes_images:
        from .pad import PadModel, PadStage
        path = Path(pad_model)
        if not path.is_file():
            raise ValueError(f"PAD model {str(path)!r} does not exist; train one with "
                             "`liveness-lab pad-train --out PATH`")
        analyzer = PadStage(analyzer, PadModel.load(path))
    if cache_path is None or not analyzer.analyzes_images:
        return analyzer
    from .analyzers.cache import AnalysisCache, CachedAnalyzer
    Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
    return CachedAnalyzer(analyzer, AnalysisCache(cache_path))


def check_analyzer_name(name: str) -> str:
    """The registered analyzer name ``name`` refers to, without creating the analyzer.

    Raises :class:`~liveness_lab.errors.UnknownAnalyzer` listing the known names.
    """
    from .analyzers import analyzer_registry

    analyzer_registry.discover()
    return analyzer_registry.get(name).name


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


_ANALYZERS: dict[str, FaceAnalyzer] = {}  # per worker process, by analyzer spec


@dataclass(frozen=True)
class _AnalyzeTask:
    dataset_dir: str
    entries: tuple[ManifestEntry, ...]
    analyzer: str
    options: Mapping[str, Any] | None
    cache_path: str | None
    overwrite: bool = False
    pad_model: str | None = None


def needs_analysis(session: Session, *, overwrite: bool = False) -> bool:
    """Whether :func:`analyze_session` would analyze any frame of ``session``."""
    return any(fr.image is not None and (overwrite or fr.faces is None) for fr in session.frames)


def _analyze_task(task: _AnalyzeTask) -> list[tuple[str, int]]:
    key = json.dumps([task.analyzer, task.options, task.cache_path, task.pad_model],
                     sort_keys=True, default=str)
    out = []
    for entry in task.entries:
        session = load_dataset_session(task.dataset_dir, entry)
        if not needs_analysis(session, overwrite=task.overwrite):
            out.append((entry.session_id, 0))
            continue  # nothing to analyze: no model is loaded for it
        if key not in _ANALYZERS:
            _ANALYZERS[key] = make_analyzer(task.analyzer, options=task.options,
                                            cache_path=task.cache_path,
                                            pad_model=task.pad_model)
        new, n = analyze_session(session, _ANALYZERS[key], overwrite=task.overwrite)
        if n:
            write_session(new, Path(task.dataset_dir) / entry.path)
        out.append((entry.session_id, n))
    return out


def analyze_dataset(dataset_dir: str | os.PathLike, *, analyzer: str = DEFAULT_ANALYZER,
                    options: Mapping[str, Any] | None = None,
                    cache_path: str | os.PathLike | None = DEFAULT_CACHE_PATH,
                    workers: int | None = None, overwrite: bool = False,
                    engine: "str | Engine | None" = None,
                    progress: bool | Callable[[int, int], None] = False,
                    pad_model: str | os.PathLike | None = None) -> AnalysisStats:
    """Analyze the image-only frames of every session of a dataset and write the faces back.

    Session files are rewritten atomically, one at a time, so an interrupted run
    leaves every file either as it was or fully analyzed; re-running continues
    where it stopped (and the cache makes already-seen images free).

    ``engine`` is ``None``/``"process"`` (a local pool of ``workers`` processes), ``"dask"``,
    a Dask scheduler address or an :class:`~liveness_lab.engines.Engine`. With a remote Dask
    cluster the dataset and the cache file must be on a filesystem every worker shares.
    ``pad_model``: add a ``PadScore`` to every analyzed face (see :func:`make_analyzer`).
    """
    root = str(Path(dataset_dir))
    entries = read_manifest(root)
    check_analyzer_name(analyzer)  # an unknown name fails even when no frame needs analysis
    own = not isinstance(engine, Engine)
    eng = make_engine(engine, workers=workers)
    size = max(1, min(32, math.ceil(len(entries) / (eng.parallelism * 4)) if entries else 1))
    tasks = [_AnalyzeTask(root, tuple(entries[i:i + size]), analyzer,
                          dict(options or {}) or None,
                          None if cache_path is None else str(cache_path), overwrite,
                          None if pad_model is None else str(pad_model))
             for i in range(0, len(entries), size)]
    bar, tick = progress_bar(progress, len(entries), f"analyze ({analyzer})")
    try:
        chunks = eng.map(_analyze_task, tasks, on_result=lambda r: tick(len(r)))
    finally:
        if bar is not None:
            bar.close()
        if own:
            eng.close()
    done = [x for chunk in chunks for x in chunk]
    return AnalysisStats(len(entries), sum(1 for _, n in done if n), sum(n for _, n in done))
