"""The challenge service, independent of HTTP: create, put frames, verify, read results.

:class:`ChallengeService` keeps the original framework's flow (create a
challenge with random params and a signed token; receive frames; verify) and
adds what it lacked:

* frames are **analyzed as they arrive** by a bounded pool of background
  threads (:class:`AnalysisPool`, one analyzer instance per thread), so
  :meth:`ChallengeService.verify` only waits for the few analyses still
  running, then replays the stored analyses through the challenge's state
  machine (:func:`liveness_lab.verify.run_challenge`) and stores the verdict,
  its reason and its per-frame trace with the challenge;
* tokens expire with the challenge and are bound to it; verification is
  single-use, and frames after it are refused;
* limits on frames per challenge, bytes per frame and image pixels (the JPEG
  is decoded to validate it, decompression bombs are refused from the header);
  frame timestamps must increase and fall inside the challenge's lifetime;
* a per-client rate limit on creation.

Every refusal raises a :class:`~liveness_lab.service.errors.ServiceError`
carrying its HTTP status; the REST API (:mod:`liveness_lab.service.api`) is a
thin layer over this class.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import logging
import math
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..challenges.framework import ChallengeRandom, SecretsRandom, SeededRandom
from ..challenges.registry import ChallengeRegistry, default_registry, select_challenge_type
from ..config import resolve_configs
from ..errors import (AnalyzerError, ConfigError, FaceFormatError, InvalidImageError,
                      UnknownAnalyzer, UnknownChallengeType)
from ..faces import FaceDetail, faces_from_rekognition, faces_to_rekognition
from ..verify import run_challenge
from .errors import BadRequest, Conflict, NotFound, ServiceError, ServiceUnavailable
from .ratelimit import RateLimiter
from .settings import Settings
from .stores import open_stores
from .stores.base import (OPEN, VERIFIED, VERIFYING, ChallengeRecord, ChallengeStore, FrameRecord,
                          FrameStore, check_challenge_id, check_frame_key, jsonable)
from .tokens import TokenSigner, load_token_secret

__all__ = ["ChallengeService", "AnalysisPool", "CreatedChallenge", "parse_int", "purge_stores"]

log = logging.getLogger("liveness_lab.service")

#: Most faces a frame may carry in a request (recorded analyzer).
MAX_FACES_PER_FRAME = 100


def parse_int(value: Any, name: str, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as an int the way the original accepted it (``int(value)``), or BadRequest.

    Integers, integral floats (``640.0``) and decimal strings (``"640"``) are
    accepted; booleans, fractions and anything else are refused.
    """
    if isinstance(value, bool) or value is None:
        ok = False
    elif isinstance(value, int):
        ok, number = True, value
    elif isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer()
        number = int(value) if ok else 0
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit() \
            and len(value.strip()) <= 20:
        ok, number = True, int(value.strip())
    else:
        ok = False
    if not ok:
        raise BadRequest(f"Invalid {name}: expected an integer, got {value!r}"[:300])
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise BadRequest(f"Invalid {name}: must be between {minimum} and {maximum}, got {number}")
    return number


@dataclass(frozen=True)
class CreatedChallenge:
    """What creation returns to the client (the original's response fields)."""

    id: str
    token: str
    type: str
    params: Mapping[str, Any]
    expires_at: float

    def to_response(self) -> dict[str, Any]:
        return {"id": self.id, "token": self.token, "type": self.type,
                "params": jsonable(self.params)}


# --------------------------------------------------------------------------------------------
# background analysis

_QUEUED, _RUNNING, _DONE = "queued", "running", "done"


class _Job:
    __slots__ = ("challenge_id", "index", "frame_key", "data", "state", "done", "faces", "error")

    def __init__(self, challenge_id: str, index: int, frame_key: str, data: bytes | None) -> None:
        self.challenge_id = challenge_id
        self.index = index
        self.frame_key = frame_key
        self.data = data
        self.state = _QUEUED
        self.done = threading.Event()
        self.faces: tuple[FaceDetail, ...] | None = None
        self.error: str | None = None


class AnalysisPool:
    """A fixed number of threads analyzing frames, each with its own analyzer instance.

    Jobs are served by priority (a verification waiting for a frame moves it
    to the front) then in arrival order. A job holds the frame's bytes while
    the buffered total stays under ``max_buffered_bytes``; beyond it the
    worker reads the frame back from the frame store.

    Parameters
    ----------
    analyzer_factory:
        Builds one analyzer per worker thread (analyzers such as dlib's are not
        safe to share between threads).
    workers:
        Number of threads.
    load:
        ``load(frame_key) -> bytes`` reads a frame back from the frame store.
    save:
        ``save(challenge_id, index, faces, error)`` stores an analysis.
    first_analyzer:
        An already built analyzer given to the first worker.
    """

    def __init__(self, analyzer_factory: Callable[[], Any], workers: int,
                 load: Callable[[str], bytes],
                 save: Callable[[str, int, tuple[FaceDetail, ...] | None, str | None], None], *,
                 max_buffered_bytes: int = 64 * 1024 * 1024, first_analyzer: Any = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self._factory = analyzer_factory
        self._load = load
        self._save = save
        self._max_buffered = max_buffered_bytes
        self._buffered = 0
        self._heap: list[tuple[int, int, _Job]] = []
        self._jobs: dict[tuple[str, int], _Job] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._analyzers: list[Any] = []
        self._threads = []
        self.analyzed = 0
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
               *, urgent: bool = False) -> _Job:
        """Queue the analysis of a frame (or return the job already queued for it)."""
        key = (challenge_id, index)
        with self._cond:
            if self._closed:
                raise ServiceUnavailable("the service is shutting down", retry_after=5)
            job = self._jobs.get(key)
            if job is None:
                if data is not None and self._buffered + len(data) <= self._max_buffered:
                    self._buffered += len(data)
                else:
                    data = None
                job = _Job(challenge_id, index, frame_key, data)
                self._jobs[key] = job
                heapq.heappush(self._heap, (0 if urgent else 1, next(self._seq), job))
            elif urgent and job.state == _QUEUED:
                heapq.heappush(self._heap, (0, next(self._seq), job))  # the stale entry is skipped
            self._cond.notify()
            return job

    def _run(self, analyzer: Any) -> None:
        if analyzer is None:
            try:
                analyzer = self._factory()
            except Exception as e:  # reported on every job this worker would run
                log.error("cannot create the face analyzer: %s", e)
                analyzer = _BrokenAnalyzer(f"the face analyzer cannot be created: {e}")
        with self._cond:
            self._analyzers.append(analyzer)
        load = getattr(analyzer, "load", None)
        if callable(load):  # warm up (load models) before the first frame arrives
            try:
                load()
            except Exception as e:
                log.error("cannot load the face analyzer: %s", e)
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
            self._analyze(analyzer, job)

    def _analyze(self, analyzer: Any, job: _Job) -> None:
        faces: tuple[FaceDetail, ...] | None = None
        error: str | None = None
        data = job.data
        try:
            if data is None:
                data = self._load(job.frame_key)
            faces = tuple(analyzer.analyze(data))
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
            analyzers, self._analyzers = self._analyzers, []
        for a in analyzers:
            close = getattr(a, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing an analyzer failed")


class _BrokenAnalyzer:
    def __init__(self, message: str) -> None:
        self.message = message

    def analyze(self, image: Any) -> list[FaceDetail]:
        from ..errors import AnalyzerUnavailableError
        raise AnalyzerUnavailableError(self.message)


# --------------------------------------------------------------------------------------------
# the service

class ChallengeService:
    """Create challenges, receive frames, verify, and report results.

    Parameters
    ----------
    settings:
        The service settings (:class:`~liveness_lab.service.settings.Settings`).
    challenge_store, frame_store:
        Storage; default: the pair ``settings`` names (SQLite + local folder).
    analyzer_factory:
        Builds one face analyzer per analysis thread; default: the registered
        analyzer ``settings.analyzer`` with ``settings.analyzer_options``
        (wrapped in the analysis cache when ``settings.analysis_cache`` is set).
        Ignored with the ``recorded`` analyzer, whose frames carry their faces.
    token_signer:
        Default: HS256 with the secret from :func:`~liveness_lab.service.tokens.load_token_secret`.
    registry:
        Challenge types; default: the process-wide registry.
    clock:
        Seconds since the Unix epoch (tests inject one).
    """

    def __init__(self, settings: Settings, *, challenge_store: ChallengeStore | None = None,
                 frame_store: FrameStore | None = None,
                 analyzer_factory: Callable[[], Any] | None = None,
                 token_signer: TokenSigner | None = None,
                 registry: ChallengeRegistry | None = None,
                 clock: Callable[[], float] = time.time, secrets_client: Any = None) -> None:
        self.settings = settings
        self.clock = clock
        self.registry = registry or default_registry()
        self.configs = resolve_configs(settings.profile, sets=settings.config_sets,
                                       registry=self.registry)
        self.candidates: list[str] | None = None
        if settings.challenge_types:
            try:
                self.candidates = [self.registry.get(n).name for n in settings.challenge_types]
            except UnknownChallengeType as e:
                raise ConfigError(f"challenge_types: {e}") from None
        self._rng: ChallengeRandom
        if settings.test_seed is not None:
            log.warning("TEST SEED %s: challenge params are predictable; never use this in "
                        "production", settings.test_seed)
            self._rng = SeededRandom(settings.test_seed)
        else:
            self._rng = SecretsRandom()
        self._rng_lock = threading.Lock()
        if challenge_store is None or frame_store is None:
            default_challenges, default_frames = open_stores(settings)
            challenge_store = challenge_store or default_challenges
            frame_store = frame_store or default_frames
        self.challenges = challenge_store
        self.frames = frame_store
        self.signer = token_signer or TokenSigner(
            load_token_secret(settings, secrets_client=secrets_client), settings.token_ttl_s,
            clock=clock)
        self.limiter = RateLimiter(settings.create_rate_per_minute, settings.create_burst)
        self.analyzer_name = settings.analyzer.strip().lower()
        self.recorded = self.analyzer_name == "recorded"
        self.pool: AnalysisPool | None = None
        if not self.recorded:
            factory = analyzer_factory or self._default_analyzer_factory()
            first = factory()  # fail now, loudly, on an unknown analyzer or a bad option
            self.pool = AnalysisPool(factory, settings.analysis_workers, self.frames.get,
                                     self._save_analysis, first_analyzer=first)
        self._stop = threading.Event()
        self._purger: threading.Thread | None = None
        self._resume_pending_analyses()
        on_aws = settings.challenge_store == "dynamodb" and settings.frame_store == "s3"
        if settings.retention is not None and not on_aws:  # on AWS: DynamoDB TTL, S3 lifecycle
            self._purger = threading.Thread(target=self._purge_loop, name="liveness-purge",
                                            daemon=True)
            self._purger.start()

    # -- construction helpers ---------------------------------------------------------------
    def _default_analyzer_factory(self) -> Callable[[], Any]:
        from ..analyzers import create_analyzer

        name = self.analyzer_name
        options = dict(self.settings.analyzer_options)
        cache_path = self.settings.analysis_cache

        def factory() -> Any:
            try:
                analyzer = create_analyzer(name, **options)
            except UnknownAnalyzer as e:
                raise ConfigError(f"analyzer: {e}") from None
            except (TypeError, ValueError) as e:
                raise ConfigError(f"analyzer_options for {name!r}: {e}") from None
            if cache_path is not None:
                from ..analyzers.cache import AnalysisCache, CachedAnalyzer
                analyzer = CachedAnalyzer(analyzer, AnalysisCache(cache_path))
            return analyzer
        return factory

    def _resume_pending_analyses(self) -> None:
        """Queue frames left unanalyzed by a previous run (SQLite store only)."""
        unanalyzed = getattr(self.challenges, "unanalyzed", None)
        if self.pool is None or not callable(unanalyzed):
            return
        try:
            pending = unanalyzed()
        except ServiceError:
            return
        records: dict[str, ChallengeRecord | None] = {}
        for challenge_id, index in pending:
            if challenge_id not in records:
                records[challenge_id] = self.challenges.get(challenge_id)
            record = records[challenge_id]
            if record is not None and index < len(record.frames):
                self.pool.submit(challenge_id, index, record.frames[index].key)

    def _save_analysis(self, challenge_id: str, index: int,
                       faces: tuple[FaceDetail, ...] | None, error: str | None) -> None:
        self.challenges.set_analysis(challenge_id, index, faces, error)

    def close(self) -> None:
        """Stop the analysis threads and the purge thread; close the stores."""
        self._stop.set()
        if self.pool is not None:
            self.pool.close()
        if self._purger is not None:
            self._purger.join(5)
        self.challenges.close()
        self.frames.close()

    def __enter__(self) -> "ChallengeService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- create -------------------------------------------------------------------------------
    def create_challenge(self, client_metadata: Any, *, client: str = "anonymous"
                         ) -> CreatedChallenge:
        """A new challenge for ``client_metadata`` (``imageWidth``, ``imageHeight``, ...).

        ``client`` identifies the caller for the rate limit. The type is drawn
        at random (or taken from ``challengeType`` when client selection is
        enabled), its params generated, a token signed, and the record stored.
        """
        self.limiter.acquire(client)
        if not isinstance(client_metadata, Mapping):
            raise BadRequest("the body must be a JSON object with imageWidth and imageHeight")
        if "imageWidth" not in client_metadata or "imageHeight" not in client_metadata:
            raise BadRequest("Missing imageWidth and imageHeight")
        metadata = dict(client_metadata)
        side = self.settings.max_image_side
        metadata["imageWidth"] = parse_int(metadata["imageWidth"], "imageWidth", minimum=1,
                                           maximum=side)
        metadata["imageHeight"] = parse_int(metadata["imageHeight"], "imageHeight", minimum=1,
                                            maximum=side)
        requested = metadata.get("challengeType")
        if self.settings.client_challenge_selection and requested is not None \
                and not isinstance(requested, str):
            raise BadRequest(f"challengeType must be a string, got {requested!r}"[:300])
        with self._rng_lock:
            try:
                type_name = select_challenge_type(
                    metadata, registry=self.registry,
                    client_selection=self.settings.client_challenge_selection,
                    candidates=self.candidates, rng=self._rng)
            except UnknownChallengeType as e:
                raise BadRequest(str(e)) from None
            ctype = self.registry.get(type_name)
            try:
                params = ctype.generate_params(metadata, self.configs.for_type(ctype), self._rng)
            except (ValueError, TypeError, KeyError) as e:
                raise BadRequest(f"cannot create a {ctype.name} challenge from this request: "
                                 f"{e}"[:500]) from None
        params = jsonable(params)
        challenge_id = str(uuid.uuid4())
        issued = self.signer.issue(challenge_id, now=self.clock())
        record = ChallengeRecord(id=challenge_id, type=ctype.name, params=params,
                                 created_at=issued.issued_at, expires_at=issued.expires_at,
                                 client=client)
        self.challenges.create(record)
        return CreatedChallenge(challenge_id, issued.token, ctype.name, params, issued.expires_at)

    # -- frames -------------------------------------------------------------------------------
    def put_frame(self, challenge_id: str, token: Any, timestamp: Any, frame_base64: Any,
                  faces: Any = None) -> FrameRecord:
        """Validate and store one frame, then queue its analysis.

        Parameters
        ----------
        token:
            The challenge token.
        timestamp:
            Client time of the frame, integer ms since the Unix epoch.
        frame_base64:
            The JPEG, base64-encoded (standard alphabet).
        faces:
            Only with the ``recorded`` analyzer: the frame's faces as a
            Rekognition ``FaceDetails`` list (then nothing is analyzed).
        """
        claims = self.signer.verify(token, challenge_id)
        ts = parse_int(timestamp, "timestamp", minimum=0, maximum=2**53)
        skew_ms = self.settings.timestamp_skew_s * 1000
        start_ms, end_ms = claims["iat"] * 1000, claims["exp"] * 1000
        if ts < start_ms - skew_ms or ts > end_ms + skew_ms:
            raise BadRequest(f"Invalid timestamp: {ts} ms is outside the challenge's lifetime "
                             f"({start_ms} .. {end_ms} ms since the Unix epoch)")
        data = self._decode_frame(frame_base64)
        frame_faces = self._request_faces(faces)
        try:
            key = check_frame_key(f"{check_challenge_id(challenge_id)}/{ts}-"
                                  f"{secrets.token_hex(4)}.jpg")
        except ValueError:
            raise NotFound("challenge not found") from None
        frame = FrameRecord(0, ts, key, len(data), hashlib.sha256(data).hexdigest(), self.clock(),
                            frame_faces)
        self.frames.put(key, data)
        try:
            stored = self.challenges.append_frame(challenge_id, frame, self._admit(ts))
        except BaseException:
            self._delete_frame_file(key)
            raise
        if self.pool is not None and stored.faces is None:
            try:
                self.pool.submit(challenge_id, stored.index, key, data)
            except ServiceUnavailable:  # shutting down: the frame is stored, verify analyzes it
                pass
        return stored

    def _delete_frame_file(self, key: str) -> None:
        try:
            self.frames.delete(key)
        except Exception:
            log.warning("could not delete refused frame %s (the purge will)", key)

    def _decode_frame(self, frame_base64: Any) -> bytes:
        from ..analyzers.images import decode_image, image_format

        if not isinstance(frame_base64, str) or not frame_base64:
            raise BadRequest("Invalid Image: frameBase64 must be a non-empty base64 string")
        max_bytes = self.settings.max_frame_bytes
        if len(frame_base64) > 4 * math.ceil(max_bytes / 3) + 4:
            raise BadRequest("Image size too large")
        try:
            data = base64.b64decode(frame_base64, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("Invalid Image: frameBase64 is not valid base64") from None
        if len(data) > max_bytes:
            raise BadRequest("Image size too large")
        try:
            if image_format(data) != "jpeg":
                raise BadRequest("Image must be JPEG")
            decode_image(data, max_pixels=self.settings.max_image_pixels)
        except InvalidImageError as e:
            if not data.startswith(b"\xff\xd8\xff"):
                raise BadRequest("Image must be JPEG") from None
            raise BadRequest(f"Invalid Image: {e}") from None
        return data

    def _request_faces(self, faces: Any) -> tuple[FaceDetail, ...] | None:
        if not self.recorded:
            if faces is not None:
                raise BadRequest("faces may be sent only when the service runs the recorded "
                                 "analyzer; this service analyzes the frames itself")
            return None
        if faces is None:
            raise BadRequest("this service runs the recorded analyzer: each frame must carry "
                             "its faces (a Rekognition FaceDetails list) in 'faces'")
        if not isinstance(faces, list) or len(faces) > MAX_FACES_PER_FRAME:
            raise BadRequest(f"faces must be a list of at most {MAX_FACES_PER_FRAME} "
                             "Rekognition FaceDetail objects")
        try:
            return faces_from_rekognition(faces)
        except (FaceFormatError, TypeError, ValueError) as e:
            raise BadRequest(f"Invalid faces: {e}"[:500]) from None

    def _admit(self, ts: int) -> Callable[[ChallengeRecord], None]:
        max_frames = self.settings.max_frames_per_challenge
        window = self.settings.frame_reorder_window_ms

        def admit(record: ChallengeRecord) -> None:
            if record.status == VERIFIED:
                raise Conflict("the challenge has already been verified; no more frames are "
                               "accepted")
            if record.status == VERIFYING:
                raise Conflict("the challenge is being verified; no more frames are accepted")
            if len(record.frames) >= max_frames:
                raise Conflict(f"the challenge already has the maximum of {max_frames} frames")
            latest = None
            for f in record.frames:
                if f.timestamp == ts:
                    raise Conflict(f"a frame with timestamp {ts} was already received")
                latest = f.timestamp if latest is None else max(latest, f.timestamp)
            if latest is not None and ts < latest - window:
                raise BadRequest(f"Invalid timestamp: timestamps must increase; {ts} is more "
                                 f"than {window} ms before the latest frame ({latest})")
        return admit

    # -- verify -------------------------------------------------------------------------------
    def verify(self, challenge_id: str, token: Any) -> dict[str, Any]:
        """Verify a challenge once: replay its analyzed frames and store the verdict.

        Returns the verdict as a dict (``success``, ``decided``, ``code``,
        ``reason``, ...). A second call raises
        :class:`~liveness_lab.service.errors.Conflict`.
        """
        self.signer.verify(token, challenge_id)
        claim_id = uuid.uuid4().hex
        record = self.challenges.claim_verification(challenge_id, claim_id, self.clock(),
                                                    self.settings.verify_stale_after_s)
        try:
            deadline = time.monotonic() + self.settings.verify_timeout_s
            frames = self._analyzed_frames(record, deadline)
            verdict, trace = self._replay(record, frames)
            self.challenges.finish_verification(challenge_id, claim_id, verdict, trace,
                                                self.clock())
        except BaseException:
            try:
                self.challenges.release_verification(challenge_id, claim_id)
            except Exception:
                log.exception("could not release the verification claim of %s", challenge_id)
            raise
        return verdict

    def _analyzed_frames(self, record: ChallengeRecord, deadline: float) -> list[FrameRecord]:
        missing = [f for f in record.frames if f.faces is None]
        if not missing:
            return list(record.frames)
        if self.pool is None:
            raise ServiceUnavailable(f"{len(missing)} frame(s) have no faces and the recorded "
                                     "analyzer cannot analyze images")
        jobs = {f.index: self.pool.submit(record.id, f.index, f.key, urgent=True)
                for f in missing}
        for job in jobs.values():
            if not job.done.wait(max(0.0, deadline - time.monotonic())):
                raise ServiceUnavailable("the frames are still being analyzed; retry the "
                                         "verification shortly", retry_after=5)
        out = []
        for f in record.frames:
            job = jobs.get(f.index)
            if job is None:
                out.append(f)
                continue
            if job.faces is None:
                raise ServiceUnavailable(f"face analysis failed: {job.error}", retry_after=5)
            out.append(FrameRecord(f.index, f.timestamp, f.key, f.size, f.sha256,
                                   f.received_at, job.faces, job.error))
        return out

    def _replay(self, record: ChallengeRecord, frames: Sequence[FrameRecord]
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        ordered = sorted(frames, key=lambda f: (f.timestamp, f.index))
        try:
            ctype = self.registry.get(record.type)
        except UnknownChallengeType as e:
            verdict = {"challenge_type": record.type, "success": False, "decided": True,
                       "code": "unknown_challenge_type", "reason": str(e), "final_state": None,
                       "score": None, "frames_total": len(ordered), "frames_used": 0}
            return verdict, []
        result = run_challenge(ctype, record.params,
                               [(f.timestamp, f.faces or ()) for f in ordered],
                               self.configs.for_type(ctype))
        verdict = result.to_dict(with_trace=False)
        verdict["profile"] = self.configs.profile
        trace = result.trace.to_records()
        for row in trace:
            i = row.get("frame_index")
            if isinstance(i, int) and 0 <= i < len(ordered):
                row["frame_key"] = ordered[i].key
        return jsonable(verdict), jsonable(trace)

    # -- reading ----------------------------------------------------------------------------
    def _record(self, challenge_id: str, token: Any, *, with_trace: bool = False
                ) -> ChallengeRecord:
        self.signer.verify(token, challenge_id, allow_expired=True)  # results stay readable
        record = self.challenges.get(challenge_id, with_trace=with_trace)
        if record is None:
            raise NotFound("challenge not found")
        return record

    def status_of(self, record: ChallengeRecord) -> str:
        """``open``, ``verifying``, ``verified`` or ``expired`` (open past its lifetime)."""
        if record.status == OPEN and self.clock() > record.expires_at:
            return "expired"
        return record.status

    def get_challenge(self, challenge_id: str, token: Any, *, with_trace: bool = True
                      ) -> dict[str, Any]:
        """Status, frames counts, verdict, reason and (optionally) trace of a challenge."""
        record = self._record(challenge_id, token, with_trace=with_trace)
        verdict = record.verdict
        return {
            "id": record.id, "type": record.type, "params": jsonable(record.params),
            "status": self.status_of(record),
            "createdAt": int(record.created_at * 1000), "expiresAt": int(record.expires_at * 1000),
            "verifiedAt": None if record.verified_at is None else int(record.verified_at * 1000),
            "frameCount": len(record.frames),
            "analyzedCount": sum(1 for f in record.frames if f.faces is not None),
            "success": None if verdict is None else bool(verdict.get("success")),
            "reason": None if verdict is None else verdict.get("reason"),
            "code": None if verdict is None else verdict.get("code"),
            "verdict": None if verdict is None else dict(verdict),
            "trace": list(record.trace) if with_trace and record.trace is not None else None,
        }

    def latest_frame(self, challenge_id: str, token: Any, *, wait_s: float = 0.0
                     ) -> dict[str, Any]:
        """The latest analyzed frame's faces and the challenge's current state.

        Frames are taken in timestamp order up to the first one not analyzed
        yet; that prefix is replayed with :func:`~liveness_lab.verify.run_challenge`
        and the last trace row gives the current state, its result, code and
        message (the live hint). ``wait_s`` (at most 5 s) waits for the newest
        frame's analysis first.
        """
        record = self._record(challenge_id, token)
        ordered = sorted(record.frames, key=lambda f: (f.timestamp, f.index))
        wait_s = min(max(float(wait_s), 0.0), 5.0)
        if wait_s > 0 and ordered and ordered[-1].faces is None and self.pool is not None:
            newest = ordered[-1]
            self.pool.submit(record.id, newest.index, newest.key, urgent=True).done.wait(wait_s)
            record = self._record(challenge_id, token)
            ordered = sorted(record.frames, key=lambda f: (f.timestamp, f.index))
        prefix: list[FrameRecord] = []
        for f in ordered:
            if f.faces is None:
                break
            prefix.append(f)
        state = None
        decided = success = None
        try:
            ctype = self.registry.get(record.type)
        except UnknownChallengeType:
            ctype = None
        if ctype is not None and prefix:
            result = run_challenge(ctype, record.params, [(f.timestamp, f.faces) for f in prefix],
                                   self.configs.for_type(ctype))
            if result.trace.rows:
                last = result.trace.rows[-1]
                state = {"name": last.get("state"), "result": last.get("result"),
                         "code": last.get("code"), "message": last.get("message")}
            decided = result.decided
            success = result.success if result.decided else None
        latest = prefix[-1] if prefix else None
        return jsonable({
            "challengeId": record.id, "type": record.type, "status": self.status_of(record),
            "frameCount": len(ordered), "analyzedCount": len(prefix),
            "pendingCount": sum(1 for f in ordered if f.faces is None),
            "frame": None if latest is None else {
                "index": latest.index, "timestamp": latest.timestamp,
                "faces": faces_to_rekognition(latest.faces or ())},
            "state": state, "decided": decided, "success": success})

    def challenge_types(self) -> list[dict[str, Any]]:
        """The registered challenge types with their states and configuration."""
        out = []
        candidates = set(self.candidates if self.candidates is not None
                         else self.registry.random_candidates())
        for ct in self.registry:
            out.append({"name": ct.name, "description": ct.description,
                        "randomSelection": ct.name in candidates, "states": list(ct.states),
                        "config": jsonable(self.configs.for_type(ct).to_dict())})
        return out

    def health(self) -> dict[str, Any]:
        """``status`` ``ok`` when both stores answer, with a few non-secret facts."""
        from .. import __version__

        problems = []
        for name, store in (("challenge store", self.challenges), ("frame store", self.frames)):
            try:
                store.ping()
            except Exception as e:
                problems.append(f"{name}: {e}")
        return {"status": "ok" if not problems else "degraded", "version": __version__,
                "analyzer": self.analyzer_name,
                "pendingAnalyses": self.pool.pending if self.pool is not None else 0,
                "problems": problems}

    # -- retention ----------------------------------------------------------------------------
    def purge(self, older_than_s: float, *, dry_run: bool = False) -> dict[str, int]:
        """Delete challenges created more than ``older_than_s`` ago, with their frames.

        See :func:`purge_stores`; returns the counts of what was (or, with
        ``dry_run``, would be) deleted.
        """
        return purge_stores(self.challenges, self.frames, older_than_s, now=self.clock(),
                            dry_run=dry_run)

    def _purge_loop(self) -> None:
        while not self._stop.wait(self.settings.purge_interval_s):
            try:
                counts = self.purge(self.settings.retention)  # type: ignore[arg-type]
                if counts["challenges"] or counts["orphanFrameFolders"]:
                    log.info("retention purge: %s", counts)
            except Exception:
                log.exception("retention purge failed")


def purge_stores(challenges: ChallengeStore, frames: FrameStore, older_than_s: float, *,
                 now: float | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete the challenges created more than ``older_than_s`` seconds before ``now``.

    Each record is deleted before its frames, so a crash in between leaves
    unlisted files, never a listed frame without its file; such leftovers
    (frame folders whose challenge no longer exists) are deleted as orphans,
    here and by every later purge. Returns ``{"challenges", "frames",
    "orphanFrameFolders"}`` counts.
    """
    if not older_than_s > 0:
        raise ValueError(f"older_than_s must be > 0, got {older_than_s!r}")
    cutoff = (time.time() if now is None else now) - older_than_s
    counts = {"challenges": 0, "frames": 0, "orphanFrameFolders": 0}
    seen: set[str] = set()
    while True:
        ids = [i for i in challenges.ids_created_before(cutoff, limit=500) if i not in seen]
        if not ids:
            break
        for challenge_id in ids:
            seen.add(challenge_id)
            counts["challenges"] += 1
            if dry_run:
                continue
            challenges.delete(challenge_id)
            counts["frames"] += frames.delete_prefix(challenge_id)
    for challenge_id in list(frames.challenge_ids()):
        if challenge_id in seen:
            continue
        try:
            check_challenge_id(challenge_id)
        except ValueError:
            continue  # not a folder the service created: leave it alone
        if challenges.get(challenge_id) is None:
            counts["orphanFrameFolders"] += 1
            if not dry_run:
                counts["frames"] += frames.delete_prefix(challenge_id)
    cleanup = getattr(frames, "remove_stale_temp_files", None)
    if callable(cleanup) and not dry_run:
        cleanup()
    return counts
