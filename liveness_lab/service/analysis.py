"""Background face analysis of the challenge service: :class:`AnalysisPool` and its engines.

Frames are analyzed as they arrive by a fixed number of workers. Each worker is
a thread that takes jobs by priority (a verification waiting for a frame moves it
to the front) and hands the image to its own analyzer. Where that analyzer runs
is the **analysis engine**, chosen by name through :data:`analysis_engines` (a
:class:`liveness_lab.plugins.Registry`):

* ``thread``: in the worker thread. Right for analyzers that wait on the network
  (Rekognition) and for analyzers injected by tests;
* ``process``: in a child process owned by the worker (one analyzer instance in
  each), so CPU-bound analysis (the local dlib analyzer) uses every core instead
  of queueing on the GIL. The child is started with ``spawn`` and rebuilt after
  a crash.

A job can be **skipped**: before running it the worker asks ``needed(job)``;
the service answers ``False`` for frames that come after the frame on which
their challenge was already decided.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import AnalyzerError, AnalyzerUnavailableError, ConfigError, InvalidImageError
from ..faces import FaceDetail, faces_from_rekognition, faces_to_rekognition
from ..plugins import Registry
from .errors import ServiceError, ServiceUnavailable

__all__ = ["AnalysisPool", "AnalyzerSpec", "AnalysisJob", "analysis_engines", "ThreadEngine",
           "ProcessEngine", "SKIPPED"]

log = logging.getLogger("liveness_lab.service")

_QUEUED, _RUNNING, _DONE = "queued", "running", "done"
#: Frames up to this size are kept in memory for their analysis; larger ones are read back.
_BUFFER_FRAMES_UP_TO = 1024 * 1024
#: ``AnalysisJob.error`` of a frame that was not analyzed because its challenge was decided.
SKIPPED = "skipped: the challenge was decided on an earlier frame"


@dataclass(frozen=True)
class AnalyzerSpec:
    """A picklable recipe for an analyzer: registry ``name``, ``options``, optional cache file.

    Calling it builds the analyzer (in a child process too: it holds no live object).
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    cache_path: str | None = None

    def __call__(self) -> Any:
        from ..analyzers import create_analyzer
        from ..errors import UnknownAnalyzer

        try:
            analyzer = create_analyzer(self.name, **dict(self.options))
        except UnknownAnalyzer as e:
            raise ConfigError(f"analyzer: {e}") from None
        except (TypeError, ValueError) as e:
            raise ConfigError(f"analyzer_options for {self.name!r}: {e}") from None
        if self.cache_path is not None:
            from ..analyzers.cache import AnalysisCache, CachedAnalyzer
            analyzer = CachedAnalyzer(analyzer, AnalysisCache(self.cache_path))
        return analyzer


class AnalysisJob:
    """One frame to analyze; ``done`` is set when ``faces`` (or ``error``) is known."""

    __slots__ = ("challenge_id", "index", "frame_key", "data", "state", "done", "faces",
                 "error", "timestamp", "urgent")

    def __init__(self, challenge_id: str, index: int, frame_key: str, data: bytes | None,
                 timestamp: int | None = None) -> None:
        self.timestamp = timestamp
        self.urgent = False
        self.challenge_id = challenge_id
        self.index = index
        self.frame_key = frame_key
        self.data = data
        self.state = _QUEUED
        self.done = threading.Event()
        self.faces: tuple[FaceDetail, ...] | None = None
        self.error: str | None = None


# -- engines -----------------------------------------------------------------------------------

def prepare_image(data: bytes, max_side: int | None) -> Any:
    """``data``, or for a JPEG whose long side exceeds ``max_side``, an RGB array of it decoded
    at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling: the smallest reduction that fits).

    Face geometry is measured in ratios of the image, so the analysis means the same; a
    4K frame costs a quarter of the memory and time. Other images pass unchanged.
    """
    if max_side is None:
        return data
    from ..analyzers.images import image_format, image_size

    try:
        if image_format(data) != "jpeg":
            return data
        width, height = image_size(data)
    except InvalidImageError:
        return data  # the analyzer reports it
    long_side = max(width, height)
    if long_side <= max_side:
        return data
    import cv2
    import numpy as np

    for factor, flag in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                         (8, cv2.IMREAD_REDUCED_COLOR_8)):
        if -(-long_side // factor) <= max_side or factor == 8:
            bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
            if bgr is None:
                return data  # the analyzer reports it
            return np.ascontiguousarray(bgr[:, :, ::-1])
    return data

class ThreadEngine:
    """Runs the analyzer in the worker thread."""

    name = "thread"

    def __init__(self, factory: Callable[[], Any], first: Any = None, *,
                 max_side: int | None = None) -> None:
        self._max_side = max_side
        self._analyzer = first if first is not None else factory()
        load = getattr(self._analyzer, "load", None)
        if callable(load):  # warm up (load models) before the first frame arrives
            try:
                load()
            except Exception as e:  # analyze() reports it on each frame
                log.error("cannot load the face analyzer: %s", e)

    def analyze(self, data: bytes) -> tuple[FaceDetail, ...]:
        return tuple(self._analyzer.analyze(prepare_image(data, self._max_side)))

    def close(self) -> None:
        close = getattr(self._analyzer, "close", None)
        if callable(close):
            close()


def _trim_heap() -> None:  # pragma: no cover - runs in a child
    """Give freed heap memory back to the system after a large frame (glibc only)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        if name:
            ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _child_main(conn: Any, spec: AnalyzerSpec,
                max_side: int | None) -> None:  # pragma: no cover - runs in a child
    try:
        analyzer = spec()
        load = getattr(analyzer, "load", None)
        if callable(load):
            load()
        conn.send(("ready", None))
    except BaseException as e:
        conn.send(("error", f"the face analyzer cannot be created: {type(e).__name__}: {e}"))
        return
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        try:
            large = len(data) > _BUFFER_FRAMES_UP_TO
            image = prepare_image(data, max_side)
            del data
            conn.send(("ok", faces_to_rekognition(analyzer.analyze(image))))
            del image
            if large:
                _trim_heap()
        except InvalidImageError as e:
            conn.send(("invalid", str(e)))
        except AnalyzerError as e:
            conn.send(("analyzer", str(e)))
        except Exception as e:
            conn.send(("error", f"{type(e).__name__}: {e}"))


class ProcessEngine:
    """Runs the analyzer in a child process of its own (CPU-bound analyzers use every core).

    ``factory`` must be an :class:`AnalyzerSpec` (it is sent to the child).
    """

    name = "process"

    def __init__(self, factory: Callable[[], Any], first: Any = None, *,
                 max_side: int | None = None) -> None:
        if not isinstance(factory, AnalyzerSpec):
            raise ConfigError("analysis_engine=process needs an analyzer built from its "
                              "registry name (an AnalyzerSpec); use analysis_engine=thread for "
                              "an injected analyzer factory")
        if first is not None:
            close = getattr(first, "close", None)
            if callable(close):
                close()
        self._spec = factory
        self._max_side = max_side
        self._proc: Any = None
        self._conn: Any = None
        self._start()

    def _start(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child_main, args=(child, self._spec, self._max_side),
                           name="liveness-analyzer", daemon=True)
        proc.start()
        child.close()
        status, message = parent.recv()
        if status != "ready":
            proc.join(5)
            raise AnalyzerUnavailableError(message)
        self._proc, self._conn = proc, parent

    def analyze(self, data: bytes) -> tuple[FaceDetail, ...]:
        if self._conn is None:
            self._start()
        try:
            self._conn.send_bytes(data)
            status, value = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError) as e:
            self._stop_child()
            raise AnalyzerUnavailableError(f"the analyzer process died ({e}); it is restarted "
                                           "for the next frame") from None
        if status == "ok":
            return faces_from_rekognition(value)
        if status == "invalid":
            raise InvalidImageError(value)
        if status == "analyzer":
            raise AnalyzerError(value)
        raise AnalyzerError(value)

    def _stop_child(self) -> None:
        conn, proc, self._conn, self._proc = self._conn, self._proc, None, None
        if conn is not None:
            try:
                conn.send_bytes(b"")
            except (OSError, BrokenPipeError):
                pass
            conn.close()
        if proc is not None:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)

    def close(self) -> None:
        self._stop_child()


#: The analysis engines by name (``Settings.analysis_engine``).
analysis_engines: Registry[type] = Registry("analysis engine", entry_point_group=None,
                                            not_found=ConfigError, name_of=lambda c: c.name,
                                            normalize=str.lower)
analysis_engines.register(ThreadEngine)
analysis_engines.register(ProcessEngine)


class _BrokenEngine:
    def __init__(self, message: str) -> None:
        self.message = message

    def analyze(self, data: bytes) -> tuple[FaceDetail, ...]:
        raise AnalyzerUnavailableError(self.message)

    def close(self) -> None:
        pass


# -- the pool ----------------------------------------------------------------------------------

class AnalysisPool:
    """A fixed number of workers analyzing frames, each with its own analyzer instance.

    Jobs are served by priority (a verification waiting for a frame moves it
    to the front) then in arrival order. A job holds the frame's bytes while
    the buffered total stays under ``max_buffered_bytes``; beyond it the
    worker reads the frame back from the frame store.

    Parameters
    ----------
    analyzer_factory:
        Builds one analyzer per worker (analyzers such as dlib's are not safe to
        share between threads); an :class:`AnalyzerSpec` for the process engine.
    workers:
        Number of workers.
    load:
        ``load(frame_key) -> bytes`` reads a frame back from the frame store.
    save:
        ``save(challenge_id, index, faces, error)`` stores an analysis.
    engine:
        Where the analyzer runs: a name of :data:`analysis_engines`.
    needed:
        ``needed(job) -> bool``; ``False`` skips the job (``faces`` stays
        ``None``, ``error`` is :data:`SKIPPED`, nothing is saved).
    first_analyzer:
        An already built analyzer given to the first worker (thread engine).
    max_side:
        JPEGs with a longer side are analyzed at a reduced scale (:func:`prepare_image`).
    """

    def __init__(self, analyzer_factory: Callable[[], Any], workers: int,
                 load: Callable[[str], bytes],
                 save: Callable[[str, int, tuple[FaceDetail, ...] | None, str | None], None], *,
                 engine: str = "thread", needed: Callable[[AnalysisJob], bool] | None = None,
                 max_buffered_bytes: int = 32 * 1024 * 1024, first_analyzer: Any = None,
                 max_side: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._engine_class = analysis_engines.get(engine)
        self.engine = self._engine_class.name
        self._factory = analyzer_factory
        self._load = load
        self._save = save
        self._needed = needed
        self._max_side = max_side
        self._max_buffered = max_buffered_bytes
        self._buffered = 0
        self._heap: list[tuple[int, int, AnalysisJob]] = []
        self._jobs: dict[tuple[str, int], AnalysisJob] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._engines: list[Any] = []
        self._threads: list[threading.Thread] = []
        self.analyzed = 0
        self.skipped = 0
        for i in range(workers):
            t = threading.Thread(target=self._run, args=(first_analyzer if i == 0 else None,),
                                 name=f"liveness-analysis-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        with self._cond:
            return len(self._jobs)

    def submit(self, challenge_id: str, index: int, frame_key: str, data: bytes | None = None,
               *, urgent: bool = False, timestamp: int | None = None) -> AnalysisJob:
        """Queue the analysis of a frame (or return the job already queued for it).

        An ``urgent`` job (a verification or a live view waits for it) goes to
        the front and is never skipped.
        """
        key = (challenge_id, index)
        with self._cond:
            if self._closed:
                raise ServiceUnavailable("the service is shutting down", retry_after=5)
            job = self._jobs.get(key)
            if job is None:
                if data is not None and len(data) <= _BUFFER_FRAMES_UP_TO \
                        and self._buffered + len(data) <= self._max_buffered:
                    self._buffered += len(data)
                else:
                    data = None
                job = AnalysisJob(challenge_id, index, frame_key, data, timestamp)
                job.urgent = urgent
                self._jobs[key] = job
                heapq.heappush(self._heap, (0 if urgent else 1, next(self._seq), job))
            elif urgent and job.state == _QUEUED:
                job.urgent = True
                heapq.heappush(self._heap, (0, next(self._seq), job))  # the stale entry is skipped
            self._cond.notify()
            return job

    def _make_engine(self, first: Any) -> Any:
        try:
            return self._engine_class(self._factory, first, max_side=self._max_side)
        except Exception as e:  # reported on every job this worker would run
            log.error("cannot create the face analyzer: %s", e)
            return _BrokenEngine(f"the face analyzer cannot be created: {e}")

    def _run(self, first: Any) -> None:
        engine = self._make_engine(first)
        with self._cond:
            self._engines.append(engine)
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                _, _, job = heapq.heappop(self._heap)
                if job.state != _QUEUED:
                    continue
                job.state = _RUNNING
            self._analyze(engine, job)

    def _analyze(self, engine: Any, job: AnalysisJob) -> None:
        faces: tuple[FaceDetail, ...] | None = None
        error: str | None = None
        skipped = False
        try:
            skipped = self._needed is not None and not self._needed(job)
        except Exception:
            log.exception("deciding whether frame %s is needed failed", job.frame_key)
        if skipped:
            error = SKIPPED
        else:
            data = job.data
            try:
                if data is None:
                    data = self._load(job.frame_key)
                faces = engine.analyze(data)
            except InvalidImageError as e:  # analyzed: no usable face in it
                faces, error = (), f"invalid image: {e}"
            except (AnalyzerError, ServiceError) as e:
                error = str(e)
            except Exception as e:  # an analyzer bug must not kill the worker
                log.exception("analysis of frame %s failed", job.frame_key)
                error = f"{type(e).__name__}: {e}"
            try:
                self._save(job.challenge_id, job.index, faces, error)
            except Exception:
                log.exception("cannot store the analysis of frame %s", job.frame_key)
        with self._cond:
            if job.data is not None:
                self._buffered -= len(job.data)
                job.data = None
            job.faces, job.error = faces, error
            job.state = _DONE
            self._jobs.pop((job.challenge_id, job.index), None)
            if skipped:
                self.skipped += 1
            else:
                self.analyzed += 1
        job.done.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (queued jobs are dropped: their frames stay unanalyzed)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        with self._cond:
            engines, self._engines = self._engines, []
        for e in engines:
            try:
                e.close()
            except Exception:
                log.exception("closing an analyzer failed")
