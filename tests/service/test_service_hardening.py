"""Issue 15's hardening: secure default, strict input, failure budgets, limits, sessions that end."""

from __future__ import annotations

import hashlib
import logging
import time

import pytest
from builders import make_face
from svc_helpers import DigestAnalyzer, TestClient, b64, jpeg, now_ms, test_settings

from liveness_lab.config import resolve_configs
from liveness_lab.errors import ConfigError
from liveness_lab.evidence import Evidence
from liveness_lab.service.api import TokenRedactingFilter, create_app
from liveness_lab.service.core import ChallengeService
from liveness_lab.service.errors import BadRequest, Conflict, NotFound, Unauthorized
from liveness_lab.service.identity import CompareFacesStage
from liveness_lab.service.lockout import FailureBudget
from liveness_lab.service.settings import Settings
from liveness_lab.service.startup import CONTRACT_SAFE_TYPES, SEED_WARNING
from liveness_lab.service.validation import parse_int, parse_json_body

FRAME = jpeg()


class Clock:
    def __init__(self, t: float | None = None) -> None:
        self.t = time.time() if t is None else t

    def __call__(self) -> float:
        return self.t


def secure_settings(tmp_path, **kw):
    """test_settings with the service's own defaults for profile and failure budget."""
    values = {"profile": None, "max_failed_verifies": 5}
    values.update(kw)
    return test_settings(tmp_path, **values)


# -- 15.1 secure default --------------------------------------------------------------------

def test_the_default_profile_is_hardened_and_draws_only_nose(tmp_path):
    with ChallengeService(secure_settings(tmp_path)) as svc:
        assert CONTRACT_SAFE_TYPES == ("NOSE",) and svc.candidates == ["NOSE"]
        types = {svc.create_challenge({"imageWidth": 480, "imageHeight": 480}).type
                 for _ in range(20)}
        assert types == {"NOSE"}
        nose = svc.configs.by_type["NOSE"]
        assert svc.configs.profile == "recommended"
        assert nose.identity_check is True and nose.parallax_check is True
        assert nose.pad_check is False  # no PAD stage configured
        assert nose.multiple_faces == "fail"
        report = svc.health()
        assert report.profile == "recommended (secure default)" and report.warnings == ()


def test_seed_needs_an_explicit_choice_and_warns_at_start_and_in_health(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="liveness_lab.service"):
        svc = ChallengeService(test_settings(tmp_path, profile="seed"))
    try:
        assert SEED_WARNING in caplog.text
        app = create_app(service=svc)
        with TestClient(app) as client:
            body = client.get("/health").json()
        assert body["profile"] == "seed" and body["warnings"] == [SEED_WARNING]
        assert "still photo passes" in body["warnings"][0]
    finally:
        svc.close()


def test_seed_is_refused_in_production(tmp_path):
    settings = Settings(data_dir=tmp_path, env="production", profile="seed",
                        token_secret="p" * 40, analyzer="local")
    with pytest.raises(ConfigError, match="profile seed lets a still photo pass"):
        ChallengeService(settings, analyzer_factory=DigestAnalyzer)


# (how the offline analyzers get their descriptors: test_service_descriptor_stage.py)


# -- 15.2 strict input --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["²", "+-640", "--123", "٣٤٠", "6 40", "0x10", "1e3", "",
                                   True, None, 1.5, float("nan"), [1], "9" * 21])
def test_one_strict_integer_rule(value):
    with pytest.raises(BadRequest, match="Invalid x"):
        parse_int(value, "x")


@pytest.mark.parametrize("value, expected", [(640, 640), ("640", 640), ("+640", 640),
                                             (" 640 ", 640), ("-3", -3), (640.0, 640)])
def test_integers_the_original_accepted(value, expected):
    assert parse_int(value, "x") == expected


@pytest.mark.parametrize("raw", [b"9" * 5000, b'{"imageWidth": ' + b"1" * 4301 + b"}",
                                 b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe",
                                 b"[" * 100000, b'{"a": 1'])
def test_every_json_decode_error_is_a_bad_request(raw):
    with pytest.raises(BadRequest):
        parse_json_body(raw)


@pytest.fixture
def api(tmp_path):
    app = create_app(secure_settings(tmp_path, client_challenge_selection=True,
                                     max_failed_verifies=0))
    with TestClient(app) as client:
        yield client


def test_crafted_numbers_and_ids_are_400_with_a_message(api):
    for width in ["²", "+-640", "--123", "٦٤٠"]:
        r = api.post("/challenge", json={"imageWidth": width, "imageHeight": 480})
        assert r.status_code == 400 and "Invalid imageWidth" in r.json()["message"]
    r = api.post("/challenge", content=b'{"imageWidth": ' + b"7" * 5000 + b', "imageHeight": 1}',
                 headers={"content-type": "application/json"})
    assert r.status_code == 400 and "5000 digits" in r.json()["message"]
    ch = api.post("/challenge", json={"imageWidth": 640, "imageHeight": 480}).json()
    for ts in ["²", "+-640", "--123", "١٢٣"]:
        r = api.put(f"/challenge/{ch['id']}/frame",
                    json={"token": ch["token"], "timestamp": ts, "frameBase64": b64(FRAME),
                          "faces": []})
        assert r.status_code == 400 and "Invalid timestamp" in r.json()["message"]
    # (200 KB ids against a real server: test_service_default_server.py)
    r = api.put("/challenge/" + "a" * 60_000 + "/frame", json={"token": "x"})
    assert r.status_code == 400 and "Invalid challenge id" in r.json()["message"]


# -- 15.3 failure budgets -------------------------------------------------------------------

def budget(svc, clock):
    """The service's failed-verify budget with its defaults, on a test clock."""
    s = svc.settings
    svc.verify_budget = FailureBudget(s.max_failed_verifies, s.failure_window_s, s.lockout_s,
                                      what="failed verifications", clock=clock)


def test_five_failed_verifies_in_three_minutes_lock_the_client_out(tmp_path):
    clock = Clock()
    svc = ChallengeService(secure_settings(tmp_path, profile="seed"))
    budget(svc, clock)
    app = create_app(service=svc)
    try:
        with TestClient(app) as client:
            for i in range(5):
                ch = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480})
                assert ch.status_code == 200, ch.text
                ch = ch.json()
                r = client.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
                assert r.json() == {"success": False}  # no frame: fails
                clock.t += 10
            status = client.get(f"/challenge/{ch['id']}", params={"trace": "false"},
                                headers={"X-Challenge-Token": ch["token"]}).json()
            assert status["attempts"]["remaining"] == 0
            assert status["attempts"]["lockedUntil"] == int((clock.t - 10 + 1800) * 1000)
            r = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480})
            assert r.status_code == 429 and "locked out" in r.json()["message"]
            assert 1700 <= int(r.headers["Retry-After"]) <= 1800
            clock.t += 1800
            assert client.post("/challenge", json={"imageWidth": 640,
                                                   "imageHeight": 480}).status_code == 200
    finally:
        svc.close()


def test_failures_spread_beyond_the_window_do_not_lock_out(tmp_path):
    clock = Clock()
    with ChallengeService(secure_settings(tmp_path, profile="seed")) as svc:
        budget(svc, clock)
        for _ in range(8):
            ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480}, client="ip:a")
            assert svc.verify(ch.id, ch.token)["success"] is False
            clock.t += 50  # 4 failures per 180 s at most
        view = svc.get_challenge(ch.id, ch.token)
        assert view.attempts.locked_until is None and 0 < view.attempts.remaining < 5


def test_failed_creation_auth_is_throttled_per_address(tmp_path):
    settings = secure_settings(tmp_path, auth="api_key", api_keys=("k" * 20,),
                               max_failed_auth=3)
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            r = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480},
                            headers={"X-API-Key": "wrong-key-0123456789"})
            assert r.status_code == 401
        r = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480},
                        headers={"X-API-Key": "k" * 20})  # even the right key waits now
        assert r.status_code == 429 and "failed authentications" in r.json()["message"]
        assert int(r.headers["Retry-After"]) > 0


# -- 15.4 limits ----------------------------------------------------------------------------

def test_frame_pixel_size_must_fit_the_declared_size(tmp_path):
    with ChallengeService(test_settings(tmp_path)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        t = now_ms()
        for i, (w, h) in enumerate([(1, 1), (480, 480), (800, 600), (16, 12)]):
            with pytest.raises(BadRequest, match=rf"frame is {w}x{h} pixels .* 640x480"):
                svc.put_frame(ch.id, ch.token, t + i, b64(jpeg(w, h)), [])
        svc.put_frame(ch.id, ch.token, t + 10, b64(jpeg(640, 480)), [])
        svc.put_frame(ch.id, ch.token, t + 11, b64(jpeg(320, 240)), [])  # scaled down
        assert len(svc.challenges.get(ch.id).frames) == 2


def test_per_challenge_byte_quota(tmp_path):
    frames = [jpeg(seed=i) for i in range(3)]
    quota = len(frames[0]) + len(frames[1]) + 10
    with ChallengeService(test_settings(tmp_path, max_challenge_bytes=quota)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        t = now_ms()
        svc.put_frame(ch.id, ch.token, t, b64(frames[0]), [])
        svc.put_frame(ch.id, ch.token, t + 1, b64(frames[1]), [])
        with pytest.raises(Conflict, match=f"quota of {quota} bytes"):
            svc.put_frame(ch.id, ch.token, t + 2, b64(frames[2]), [])
        assert len(svc.challenges.get(ch.id).frames) == 2
        assert len(list(svc.frames.challenge_ids())) == 1  # the refused file was deleted


def test_retention_is_on_by_default_and_bounds_reading(tmp_path):
    assert Settings().retention == 24 * 3600
    clock = Clock()
    with ChallengeService(test_settings(tmp_path, retention="1h"), clock=clock) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        assert svc.get_challenge(ch.id, ch.token).status == "open"
        clock.t += 3601
        with pytest.raises(NotFound, match="retention"):
            svc.get_challenge(ch.id, ch.token)
        assert svc.purge(3600)["challenges"] == 1


def test_data_directory_and_files_are_private(tmp_path):
    with ChallengeService(test_settings(tmp_path)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        svc.put_frame(ch.id, ch.token, now_ms(), b64(FRAME), [])
    data = tmp_path / "data"
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / "frames").stat().st_mode & 0o777) == "0o700"
    assert oct((data / "challenges.sqlite3").stat().st_mode & 0o777) == "0o600"
    files = [p for p in (data / "frames").rglob("*.jpg")]
    assert files and all(oct(p.stat().st_mode & 0o777) == "0o600" for p in files)
    assert all(oct(p.stat().st_mode & 0o777) == "0o700" for p in (data / "frames").iterdir())


# -- 15.5 sessions that end -----------------------------------------------------------------

def test_a_retried_frame_is_idempotent(tmp_path):
    with ChallengeService(test_settings(tmp_path)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        t = now_ms()
        first = svc.put_frame(ch.id, ch.token, t, b64(FRAME), [])
        again = svc.put_frame(ch.id, ch.token, t, b64(FRAME), [])  # ack lost, client retries
        assert again == first and len(svc.challenges.get(ch.id).frames) == 1
        with pytest.raises(Conflict, match="already received"):  # same time, other content
            svc.put_frame(ch.id, ch.token, t, b64(jpeg(seed=3)), [])
        assert len(list((tmp_path / "data" / "frames" / ch.id).iterdir())) == 1


def test_a_verification_that_died_after_expiry_reports_expired(tmp_path):
    clock = Clock()
    settings = test_settings(tmp_path, token_ttl_s=180, verify_timeout_s=60,
                             verify_stale_after_s=90)
    with ChallengeService(settings, clock=clock) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        clock.t += 170
        svc.challenges.claim_verification(ch.id, "dead-process", clock(), 90)  # then it died
        assert svc.get_challenge(ch.id, ch.token).status == "verifying"
        clock.t += 20  # past the lifetime, claim not stale yet: someone may still finish
        assert svc.get_challenge(ch.id, ch.token).status == "verifying"
        clock.t += 80  # stale, past the lifetime, inside verify_grace_s: may be taken over
        assert svc.get_challenge(ch.id, ch.token).status == "verifying"
        clock.t += 31  # stale and past the verify grace (180 + 120 s): no one can finish it
        assert svc.get_challenge(ch.id, ch.token).status == "expired"


def test_a_challenge_performed_in_time_may_be_verified_after_its_lifetime(tmp_path):
    """A loaded server (or a client retrying a busy answer) must not cost a person the
    challenge they performed in time: frames stop at the lifetime, verify has a grace."""
    clock = Clock()
    settings = test_settings(tmp_path, token_ttl_s=180, verify_grace_s=120)
    with ChallengeService(settings, clock=clock) as svc:
        late, ch = (svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
                    for _ in range(2))
        svc.put_frame(ch.id, ch.token, int(clock() * 1000), b64(FRAME), [])
        clock.t += 200                       # the lifetime is over: no more evidence
        with pytest.raises(Unauthorized, match="expired"):
            svc.put_frame(ch.id, ch.token, int(clock() * 1000), b64(FRAME), [])
        assert svc.get_challenge(ch.id, ch.token).status == "open"
        verdict = svc.verify(ch.id, ch.token)  # 20 s past the lifetime: still verified
        assert verdict["decided"] is not None and len(svc.challenges.get(ch.id).frames) == 1
        assert svc.get_challenge(ch.id, ch.token).status == "verified"
        clock.t += 101                       # 301 s: past the grace too
        assert svc.get_challenge(late.id, late.token).status == "expired"
        with pytest.raises(Unauthorized, match="accepted up to 120 s after"):
            svc.verify(late.id, late.token)


def test_a_stale_claim_can_be_taken_over_inside_the_lifetime(tmp_path):
    clock = Clock()
    settings = test_settings(tmp_path, token_ttl_s=180, verify_timeout_s=60,
                             verify_stale_after_s=90)
    with ChallengeService(settings, clock=clock) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        svc.challenges.claim_verification(ch.id, "dead-process", clock(), 90)
        with pytest.raises(Conflict, match="being verified"):
            svc.verify(ch.id, ch.token)
        clock.t += 91  # stale, still inside the 180 s lifetime
        assert svc.verify(ch.id, ch.token)["decided"] is not None


def test_stale_takeover_must_outlast_the_verify_timeout():
    with pytest.raises(ValueError, match="must exceed verify_timeout_s"):
        Settings(verify_timeout_s=60, verify_stale_after_s=30)


# -- 15.6 ------------------------------------------------------------------------------------

def test_tokens_are_redacted_from_access_log_lines():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0,
                               '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET",
                               "/challenge/abc?trace=false&token=eyJ.secret.sig", "1.1", 200),
                               None)
    assert TokenRedactingFilter().filter(record)
    line = record.getMessage()
    assert "eyJ" not in line and "token=REDACTED" in line and "trace=false" in line


# -- 14.5 frames a decided challenge no longer needs ------------------------------------------

def test_frames_after_the_deciding_frame_are_not_analyzed(tmp_path):
    face = make_face()
    images = [jpeg(seed=i) for i in range(6)]
    table = {hashlib.sha256(images[0]).hexdigest(): [face]}
    DigestAnalyzer.calls = 0
    settings = test_settings(tmp_path, analyzer="digest", analysis_workers=1,
                             challenge_types=("POSE",))  # seed's POSE decides on one frame
    with ChallengeService(settings, analyzer_factory=lambda: DigestAnalyzer(table)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        t = now_ms()
        svc.put_frame(ch.id, ch.token, t, b64(images[0]))
        deadline = time.monotonic() + 10
        while svc.pool.analyzed < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        for i, img in enumerate(images[1:], start=1):
            svc.put_frame(ch.id, ch.token, t + 100 * i, b64(img))
        while svc.pool.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        assert svc.pool.skipped == 5 and DigestAnalyzer.calls == 1
        verdict = svc.verify(ch.id, ch.token)
        assert DigestAnalyzer.calls == 1 and verdict["frames_total"] == 6
        # the same verdict as analyzing every frame
        from liveness_lab.challenges import default_registry
        from liveness_lab.verify import run_challenge
        pose = default_registry().get("POSE")
        full = run_challenge(pose, ch.params, [(t, [face])] + [(t + 100 * i, [])
                                                               for i in range(1, 6)],
                             svc.configs.for_type(pose))
        assert (verdict["success"], verdict["code"]) == (full.success, full.code)


def test_frames_after_a_pass_held_to_one_face_are_analyzed_and_a_second_face_fails(tmp_path):
    """With one_face_to_the_end the frames after a pass can still change the verdict, so the
    service analyzes them instead of skipping them, and a second face there fails."""
    images = [jpeg(seed=i) for i in range(6)]
    settings = test_settings(tmp_path, analyzer="digest", analysis_workers=1, test_seed=7,
                             challenge_types=("POSE",),  # seed's POSE decides on one frame
                             config_sets=("pose.one_face_to_the_end=true",))
    with ChallengeService(settings.model_copy(update={"data_dir": tmp_path / "probe"}),
                          analyzer_factory=DigestAnalyzer) as probe:
        params = probe.create_challenge({"imageWidth": 640, "imageHeight": 480}).params
    eyes, mouth = params["pose"]["eyes"], params["pose"]["mouth"]
    pupil = {"LOOKING_LEFT": 0.15, "LOOKING_RIGHT": 0.85}.get(eyes, 0.5)
    shown = make_face(eyes_open=eyes != "CLOSED", smile=mouth == "SMILE",
                      mouth_open=mouth == "SMILE", pupils=(pupil, pupil))
    stranger = make_face(box=(0.02, 0.25, 0.2, 0.4))
    table = {hashlib.sha256(img).hexdigest(): [shown, stranger] if i == 3 else [shown]
             for i, img in enumerate(images)}
    DigestAnalyzer.calls = 0
    with ChallengeService(settings, analyzer_factory=lambda: DigestAnalyzer(table)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        assert ch.params == params
        replays = []
        run = svc.verdicts.run
        svc.verdicts.run = lambda record, frames: replays.append(len(frames)) or run(record,
                                                                                    frames)
        t = now_ms()
        for i, img in enumerate(images):
            svc.put_frame(ch.id, ch.token, t + 100 * i, b64(img))
        deadline = time.monotonic() + 10
        while svc.pool.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        # after the pass on frame 0 a later frame is judged by its face count alone: the
        # prefix is not replayed again for each of them
        assert replays[0] == 1 and all(n <= 1 for n in replays), replays
        verdict = svc.verify(ch.id, ch.token)
        # every frame up to the second face is analyzed (after the pass at frame 0 they
        # could still change the verdict); after it the failure is final
        assert DigestAnalyzer.calls >= 4 and DigestAnalyzer.calls + svc.pool.skipped == 6
        assert (verdict["success"], verdict["code"]) == (False, "session.several_faces"), verdict
        # the same frames without the second face pass: the veto is the second face alone
        from liveness_lab.challenges import default_registry
        from liveness_lab.verify import run_challenge
        pose = default_registry().get("POSE")
        alone = run_challenge(pose, ch.params, [(t + 100 * i, [shown]) for i in range(6)],
                              svc.configs.for_type(pose))
        assert alone.success, alone.reason


# -- 10: the profile is checked against the analyzer's evidence at start-up ------------------------

class _GeometryOnly(DigestAnalyzer):
    """Like DetectFaces without a PAD stage: landmarks, pose and attributes only."""

    name = "geometry-only"
    provides = frozenset({Evidence.GEOMETRY, Evidence.ATTRIBUTES})


def test_a_check_whose_evidence_never_arrives_refuses_to_start(tmp_path):
    settings = Settings(data_dir=tmp_path, analyzer="local", profile="recommended",
                        config_sets=["nose.identity_check=true"])
    with pytest.raises(ConfigError) as err:
        ChallengeService(settings, analyzer_factory=_GeometryOnly)
    text = str(err.value)
    assert text.startswith("the service cannot start: profile 'recommended' needs evidence")
    assert "nose.identity_check (identity continuity)" in text
    assert "analyzer 'local' cannot give" in text
    assert "--set nose.identity_check=false" in text
    assert "--profile rekognition" in text  # the profile that works on this evidence


def test_pad_needs_a_pad_stage_at_start_up(tmp_path):
    settings = Settings(data_dir=tmp_path, analyzer="local", profile="rekognition",
                        config_sets=["nose.pad_check=true"])
    with pytest.raises(ConfigError, match=r"nose.pad_check \(passive PAD\) needs"):
        ChallengeService(settings, analyzer_factory=_GeometryOnly)


def test_rekognition_with_recommended_starts_because_compare_faces_gives_similarity(tmp_path):
    from liveness_lab.challenges import default_registry
    from liveness_lab.service.startup import _startup_checks

    configs = resolve_configs("recommended")
    settings = Settings(data_dir=tmp_path, analyzer="rekognition", profile="recommended")
    stage = CompareFacesStage(lambda a, b: 99.0)
    _startup_checks(settings, _GeometryOnly(), configs, identity=stage, types=("NOSE",),
                    registry=default_registry())  # no error: similarity meets identity
    with pytest.raises(ConfigError, match="identity continuity"):
        _startup_checks(settings, _GeometryOnly(), configs, types=("NOSE",),
                        registry=default_registry())
