"""The challenge service, independent of HTTP: create, put frames, verify, read results.

:class:`ChallengeService` keeps the original framework's flow (create a
challenge with random params and a signed token; receive frames; verify) and
adds what it lacked:

* frames are **analyzed as they arrive** by an
  :class:`~liveness_lab.service.analysis.AnalysisPool` (processes for the local
  analyzer), and frames after the one that decided their challenge are not
  analyzed; :meth:`ChallengeService.verify` waits only for the analyses still
  needed, replays them through the challenge's state machine
  (:class:`~liveness_lab.service.verdicts.VerdictReplay`, with the identity stage's
  evidence, :mod:`liveness_lab.service.identity`) and stores verdict, reason and trace;
* a secure default profile (:mod:`liveness_lab.service.startup`);
* tokens expire with the challenge and are bound to it; verification is
  single-use; frames after it are refused; frame uploads are idempotent;
* limits on frames, bytes per frame and per challenge, image pixels, and the
  frame's pixel size must be the challenge's ``imageWidth`` x ``imageHeight``
  (:mod:`liveness_lab.service.validation`);
* a per-client rate limit on creation and a failure budget: too many failed
  verifications lock the client out (:mod:`liveness_lab.service.lockout`);
* retention (:mod:`liveness_lab.service.retention`).

Every refusal raises a :class:`~liveness_lab.service.errors.ServiceError`
carrying its HTTP status. Results are domain objects (:class:`ChallengeView`,
:class:`LiveView`, ...); the REST layer (:mod:`liveness_lab.service.views`)
turns them into the API's JSON.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, Mapping

from ..challenges.framework import ChallengeRandom, SecretsRandom, SeededRandom
from ..challenges.registry import ChallengeRegistry, default_registry, select_challenge_type
from ..errors import UnknownChallengeType
from ..faces import FaceDetail
from .analysis import AnalysisJob, AnalysisPool
from .errors import (BadRequest, Conflict, NotFound, ServiceError, ServiceUnavailable,
                     Unauthorized)
from .identity import CompareFacesStage, DescriptorStage
from .lockout import FailureBudget
from .models import ChallengeView, CreatedChallenge, HealthReport, LiveView, TypeInfo
from .ratelimit import RateLimiter
from .retention import Purger, purge_stores
from .settings import Settings
from .startup import prepare
from .stores import open_stores
from .stores.base import (LISTS_UNANALYZED, OPEN, VERIFYING, ChallengeRecord, ChallengeStore,
                          FrameRecord, FrameStore, check_challenge_id, check_frame_key, jsonable)
from .tokens import TokenSigner, load_token_secret
from .verdicts import VerdictReplay, reference_key
from .validation import (DecodedFrame, check_frame_size, decode_frame, parse_faces, parse_int)

__all__ = ["ChallengeService", "CreatedChallenge", "ChallengeView", "LiveView", "TypeInfo",
           "HealthReport", "parse_int", "purge_stores", "AnalysisPool"]

log = logging.getLogger("liveness_lab.service")

#: Challenges whose deciding frame is remembered (to skip analysing later frames).
_DECIDED_CACHE = 10_000


class _AlreadyStored(Conflict):
    """The same frame (timestamp and content) was stored before: the upload is a retry."""

    def __init__(self, frame: FrameRecord) -> None:
        super().__init__("frame already stored")
        self.frame = frame


class ChallengeService:
    """Create challenges, receive frames, verify, and report results.

    Parameters
    ----------
    settings:
        The service settings (:class:`~liveness_lab.service.settings.Settings`).
    challenge_store, frame_store:
        Storage; default: the pair ``settings`` names (SQLite + local folder).
    analyzer_factory:
        Builds one face analyzer per analysis worker; default: the registered
        analyzer ``settings.analyzer`` (see :func:`~liveness_lab.service.startup.prepare`).
        Ignored with the ``recorded`` analyzer, whose frames carry their faces.
    token_signer:
        Default: HS256 with the secret from :func:`~liveness_lab.service.tokens.load_token_secret`.
    registry:
        Challenge types; default: the process-wide registry.
    clock:
        Seconds since the Unix epoch (tests inject one).
    identity:
        The verify-time identity stage; default: CompareFaces for the
        ``rekognition`` analyzer, descriptors on a sample of frames for the
        offline ones, when a drawn type checks identity.
    """

    def __init__(self, settings: Settings, *, challenge_store: ChallengeStore | None = None,
                 frame_store: FrameStore | None = None,
                 analyzer_factory: Callable[[], Any] | None = None,
                 token_signer: TokenSigner | None = None,
                 registry: ChallengeRegistry | None = None,
                 clock: Callable[[], float] = time.time, secrets_client: Any = None,
                 identity: CompareFacesStage | DescriptorStage | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.registry = registry or default_registry()
        setup = prepare(settings, self.registry, analyzer_factory=analyzer_factory,
                        identity=identity)
        self.setup = setup
        self.configs = setup.configs
        self.candidates = list(setup.candidates) if setup.candidates is not None else None
        self.analyzer_name = setup.analyzer_name
        self.recorded = setup.analyzer_factory is None
        self.identity = setup.identity
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
        self.verify_budget = FailureBudget(settings.max_failed_verifies,
                                           settings.failure_window_s, settings.lockout_s,
                                           what="failed verifications", clock=clock)
        self.auth_budget = FailureBudget(settings.max_failed_auth,
                                         settings.auth_failure_window_s,
                                         settings.auth_lockout_s,
                                         what="failed authentications", clock=clock)
        #: per open challenge: the timestamp of the frame that decided its analyzed prefix
        #: for good (later frames need no analysis), and of the frame that passed it while
        #: later frames still count (``one_face_to_the_end``: only a second face can change it)
        self._decided: OrderedDict[str, int] = OrderedDict()
        self._passed: OrderedDict[str, int] = OrderedDict()
        self._decided_lock = threading.Lock()
        self.pool: AnalysisPool | None = None
        if setup.analyzer_factory is not None:
            self.pool = AnalysisPool(setup.analyzer_factory, settings.analysis_workers,
                                     self.frames.get, self._save_analysis, engine=setup.engine,
                                     needed=self._frame_needed,
                                     first_analyzer=setup.first_analyzer,
                                     max_side=settings.analysis_max_side)
        self.verdicts = VerdictReplay(settings, self.registry, self.configs, self.frames,
                                      self.pool, self.identity)
        self._purger: Purger | None = None
        self._resume_pending_analyses()
        on_aws = settings.challenge_store == "dynamodb" and settings.frame_store == "s3"
        if settings.retention is not None and not on_aws:  # on AWS: DynamoDB TTL, S3 lifecycle
            self._purger = Purger(lambda: self.purge(self.settings.retention),  # type: ignore
                                  settings.purge_interval_s)

    # -- construction helpers ---------------------------------------------------------------
    def _resume_pending_analyses(self) -> None:
        """Queue frames left unanalyzed by a previous run (stores that can list them)."""
        if self.pool is None or LISTS_UNANALYZED not in self.challenges.capabilities:
            return
        try:
            pending = self.challenges.unanalyzed()
        except ServiceError:
            return
        records: dict[str, ChallengeRecord | None] = {}
        for challenge_id, index in pending:
            if challenge_id not in records:
                records[challenge_id] = self.challenges.get(challenge_id)
            record = records[challenge_id]
            if record is not None and index < len(record.frames):
                frame = record.frames[index]
                self.pool.submit(challenge_id, index, frame.key, timestamp=frame.timestamp)

    def _save_analysis(self, challenge_id: str, index: int,
                       faces: tuple[FaceDetail, ...] | None, error: str | None) -> None:
        self.challenges.set_analysis(challenge_id, index, faces, error)
        if faces is not None:
            self._note_decision(challenge_id, index, len(faces))

    def _remember(self, cache: OrderedDict[str, int], challenge_id: str, timestamp: int) -> None:
        with self._decided_lock:
            cache[challenge_id] = timestamp
            cache.move_to_end(challenge_id)
            while len(cache) > _DECIDED_CACHE:
                cache.popitem(last=False)

    def _note_decision(self, challenge_id: str, index: int, n_faces: int) -> None:
        """Remember the timestamp of the frame that decides the analyzed prefix for good, if
        any (the frames after it then need no analysis), or that passes it while later
        frames still count; frame ``index`` has just been analyzed with ``n_faces`` faces.

        After such a pass only a later frame's face count can change the verdict (the
        verifier's ``one_face_to_the_end``), so a later frame is judged by it alone instead
        of replaying the whole prefix again: a second face fails the session for good.
        """
        record = self.challenges.get(challenge_id)
        if record is None or record.status != OPEN:
            return
        with self._decided_lock:
            passed_ts = self._passed.get(challenge_id)
        frame = record.frames[index] if 0 <= index < len(record.frames) else None
        if passed_ts is not None and frame is not None and frame.timestamp > passed_ts:
            if n_faces > 1:
                self._remember(self._decided, challenge_id, frame.timestamp)
            return
        ordered = sorted(record.frames, key=lambda f: (f.timestamp, f.index))
        prefix = []
        for f in ordered:
            if f.faces is None:
                break
            prefix.append(f)
        result = self.verdicts.run(record, prefix)
        if result is None or not result.decided:
            return
        at = result.deciding_frame
        if at is not None and at < len(prefix):
            if self.verdicts.decided_for_good(record, result):
                self._remember(self._decided, challenge_id, prefix[at].timestamp)
                with self._decided_lock:
                    self._passed.pop(challenge_id, None)
            else:
                self._remember(self._passed, challenge_id, prefix[at].timestamp)

    def _frame_needed(self, job: AnalysisJob) -> bool:
        if job.urgent or job.timestamp is None:
            return True
        with self._decided_lock:
            decided_ts = self._decided.get(job.challenge_id)
        return decided_ts is None or job.timestamp <= decided_ts

    def close(self) -> None:
        """Stop the analysis workers and the purge thread; close the stores."""
        if self._purger is not None:
            self._purger.stop()
        if self.pool is not None:
            self.pool.close()
        close_identity = getattr(self.identity, "close", None)
        if callable(close_identity):
            close_identity()
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

        ``client`` identifies the caller for the rate limit and the failure
        budget. The type is drawn at random (or taken from ``challengeType``
        when client selection is enabled), its params generated, a token
        signed, and the record stored. An optional ``referenceImage`` (base64
        JPEG) is enrolled as the identity reference of the challenge.
        """
        self.verify_budget.check(client)
        self.limiter.acquire(client)
        if not isinstance(client_metadata, Mapping):
            raise BadRequest("the body must be a JSON object with imageWidth and imageHeight")
        if "imageWidth" not in client_metadata or "imageHeight" not in client_metadata:
            raise BadRequest("Missing imageWidth and imageHeight")
        metadata = dict(client_metadata)
        reference = self._reference_image(metadata.pop("referenceImage", None))
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
        if reference is not None:
            self.frames.put(reference_key(challenge_id), reference)
        self.challenges.create(record)
        return CreatedChallenge(challenge_id, issued.token, ctype.name, params, issued.expires_at)

    def _reference_image(self, value: Any) -> bytes | None:
        if value is None:
            return None
        if self.identity is None or not self.identity.enrols:
            raise BadRequest("referenceImage is used only by a service that compares faces "
                             "(the rekognition analyzer with an identity check); this one "
                             "does not")
        frame = decode_frame(value, max_bytes=self.settings.max_reference_image_bytes,
                             max_pixels=self.settings.max_image_pixels)
        return frame.data

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
            The JPEG, base64-encoded (standard alphabet), of exactly the
            challenge's ``imageWidth`` x ``imageHeight`` pixels.
        faces:
            Only with the ``recorded`` analyzer: the frame's faces as a
            Rekognition ``FaceDetails`` list (then nothing is analyzed).

        Uploading the same frame (timestamp and content) again returns the
        stored frame: a retry after a lost acknowledgement is harmless.
        """
        claims = self.signer.verify(token, challenge_id)
        ts = parse_int(timestamp, "timestamp", minimum=0, maximum=2**53)
        skew_ms = self.settings.timestamp_skew_s * 1000
        start_ms, end_ms = claims["iat"] * 1000, claims["exp"] * 1000
        if ts < start_ms - skew_ms or ts > end_ms + skew_ms:
            raise BadRequest(f"Invalid timestamp: {ts} ms is outside the challenge's lifetime "
                             f"({start_ms} .. {end_ms} ms since the Unix epoch)")
        frame_data = decode_frame(frame_base64, max_bytes=self.settings.max_frame_bytes,
                                  max_pixels=self.settings.max_image_pixels)
        frame_faces = self._request_faces(faces)
        try:
            key = check_frame_key(f"{check_challenge_id(challenge_id)}/{ts}-"
                                  f"{secrets.token_hex(4)}.jpg")
        except ValueError:
            raise NotFound("challenge not found") from None
        data = frame_data.data
        frame = FrameRecord(0, ts, key, len(data), hashlib.sha256(data).hexdigest(), self.clock(),
                            frame_faces)
        self.frames.put(key, data)
        try:
            stored = self.challenges.append_frame(challenge_id, frame,
                                                  self._admit(frame, frame_data))
        except _AlreadyStored as again:
            self._delete_frame_file(key)
            return again.frame
        except BaseException:
            self._delete_frame_file(key)
            raise
        if self.pool is not None and stored.faces is None:
            try:
                self.pool.submit(challenge_id, stored.index, key, data, timestamp=ts)
            except ServiceUnavailable:  # shutting down: the frame is stored, verify analyzes it
                pass
        return stored

    def _delete_frame_file(self, key: str) -> None:
        try:
            self.frames.delete(key)
        except Exception:
            log.warning("could not delete refused frame %s (the purge will)", key)

    def _request_faces(self, faces: Any) -> tuple[FaceDetail, ...] | None:
        if not self.recorded:
            if faces is not None:
                raise BadRequest("faces may be sent only when the service runs the recorded "
                                 "analyzer; this service analyzes the frames itself")
            return None
        if faces is None:
            raise BadRequest("this service runs the recorded analyzer: each frame must carry "
                             "its faces (a Rekognition FaceDetails list) in 'faces'")
        return parse_faces(faces)

    def _admit(self, frame: FrameRecord, decoded: DecodedFrame
               ) -> Callable[[ChallengeRecord], None]:
        max_frames = self.settings.max_frames_per_challenge
        max_bytes = self.settings.max_challenge_bytes
        window = self.settings.frame_reorder_window_ms
        ts = frame.timestamp

        def admit(record: ChallengeRecord) -> None:
            for f in record.frames:
                if f.timestamp == ts and f.sha256 == frame.sha256:
                    raise _AlreadyStored(f)
            if record.status != OPEN:
                raise Conflict("the challenge has already been verified; no more frames are "
                               "accepted" if record.status != VERIFYING else
                               "the challenge is being verified; no more frames are accepted")
            check_frame_size(decoded, record.params)
            if len(record.frames) >= max_frames:
                raise Conflict(f"the challenge already has the maximum of {max_frames} frames")
            stored = sum(f.size for f in record.frames)
            if stored + frame.size > max_bytes:
                raise Conflict(f"the challenge's frames would exceed its quota of {max_bytes} "
                               f"bytes ({stored} stored)")
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
        :class:`~liveness_lab.service.errors.Conflict`. A failed verdict counts
        against the client's failure budget.

        The token may have expired up to ``verify_grace_s`` ago: no frame is accepted after
        the lifetime, so the evidence is closed, but a loaded server (or a client retrying a
        busy answer) must not cost a person the challenge they performed in time.
        """
        claims = self.signer.verify(token, challenge_id, allow_expired=True)
        if self.clock() > float(claims["exp"]) + self.settings.verify_grace_s:
            raise Unauthorized(f"the challenge token has expired (verification is accepted up "
                               f"to {self.settings.verify_grace_s:g} s after the challenge's "
                               "lifetime)")
        claim_id = uuid.uuid4().hex
        record = self.challenges.claim_verification(challenge_id, claim_id, self.clock(),
                                                    self.settings.verify_stale_after_s)
        try:
            deadline = time.monotonic() + self.settings.verify_timeout_s
            frames = self.verdicts.frames_for(record, deadline)
            verdict, trace = self.verdicts.replay(record, frames)
            self.challenges.finish_verification(challenge_id, claim_id, verdict, trace,
                                                self.clock())
        except BaseException:
            try:
                self.challenges.release_verification(challenge_id, claim_id)
            except Exception:
                log.exception("could not release the verification claim of %s", challenge_id)
            raise
        with self._decided_lock:
            self._decided.pop(challenge_id, None)
            self._passed.pop(challenge_id, None)
        if not verdict.get("success"):
            self.verify_budget.record_failure(record.client)
        return verdict

    # -- reading ----------------------------------------------------------------------------
    def _record(self, challenge_id: str, token: Any, *, with_trace: bool = False
                ) -> ChallengeRecord:
        self.signer.verify(token, challenge_id, allow_expired=True)  # results stay readable
        record = self.challenges.get(challenge_id, with_trace=with_trace)
        retention = self.settings.retention
        if record is None or retention is not None and self.clock() - record.created_at \
                > retention:
            raise NotFound("challenge not found (results are kept for the retention period)")
        return record

    def verify_deadline(self, record: ChallengeRecord) -> float:
        """The last time (s since the epoch) ``record`` may be verified: its lifetime, then
        ``verify_grace_s`` (frames stop at the lifetime)."""
        return record.expires_at + self.settings.verify_grace_s

    def status_of(self, record: ChallengeRecord) -> str:
        """``open``, ``verifying``, ``verified`` or ``expired``.

        ``expired``: open past the time it may be verified (:meth:`verify_deadline`), or
        claimed by a verification that died (its claim is stale) after that time, so no
        one can finish it. An ``open`` challenge past its lifetime takes no more frames.
        """
        now = self.clock()
        deadline = self.verify_deadline(record)
        if record.status == OPEN and now > deadline:
            return "expired"
        if record.status == VERIFYING and now > deadline and (
                record.claimed_at is None
                or now - record.claimed_at > self.settings.verify_stale_after_s):
            return "expired"
        return record.status

    def get_challenge(self, challenge_id: str, token: Any, *, with_trace: bool = True
                      ) -> ChallengeView:
        """Status, frames, verdict, reason, trace (optional) and the client's failure budget."""
        record = self._record(challenge_id, token, with_trace=with_trace)
        return ChallengeView(record, self.status_of(record),
                             self.verify_budget.state(record.client), with_trace)

    def latest_frame(self, challenge_id: str, token: Any, *, wait_s: float = 0.0) -> LiveView:
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
            self.pool.submit(record.id, newest.index, newest.key, urgent=True,
                             timestamp=newest.timestamp).done.wait(wait_s)
            record = self._record(challenge_id, token)
            ordered = sorted(record.frames, key=lambda f: (f.timestamp, f.index))
        prefix: list[FrameRecord] = []
        for f in ordered:
            if f.faces is None:
                break
            prefix.append(f)
        state = None
        decided = success = None
        result = self.verdicts.run(record, prefix) if prefix else None
        if result is not None:
            if result.trace.rows:
                last = result.trace.rows[-1]
                state = {"name": last.get("state"), "result": last.get("result"),
                         "code": last.get("code"), "message": last.get("message")}
            decided = result.decided
            success = result.success if result.decided else None
        return LiveView(record, self.status_of(record), len(ordered), len(prefix),
                        sum(1 for f in ordered if f.faces is None),
                        prefix[-1] if prefix else None, state, decided, success)

    def challenge_types(self) -> list[TypeInfo]:
        """The registered challenge types with their states and configuration."""
        candidates = set(self.candidates if self.candidates is not None
                         else self.registry.random_candidates())
        return [TypeInfo(ct.name, ct.description, ct.name in candidates, tuple(ct.states),
                         jsonable(self.configs.for_type(ct).to_dict()))
                for ct in self.registry]

    def health(self) -> HealthReport:
        """``ok`` when both stores answer, with the profile and its warnings."""
        from .. import __version__

        problems = []
        for name, store in (("challenge store", self.challenges), ("frame store", self.frames)):
            try:
                store.ping()
            except Exception as e:
                problems.append(f"{name}: {e}")
        return HealthReport("ok" if not problems else "degraded", __version__,
                            self.analyzer_name, self.pool.engine if self.pool else None,
                            self.setup.profile_label,
                            self.pool.pending if self.pool is not None else 0,
                            tuple(problems), self.setup.warnings)

    # -- retention ----------------------------------------------------------------------------
    def purge(self, older_than_s: float, *, dry_run: bool = False) -> dict[str, int]:
        """Delete challenges created more than ``older_than_s`` ago, with their frames.

        See :func:`~liveness_lab.service.retention.purge_stores`; returns the
        counts of what was (or, with ``dry_run``, would be) deleted.
        """
        return purge_stores(self.challenges, self.frames, older_than_s, now=self.clock(),
                            dry_run=dry_run)

