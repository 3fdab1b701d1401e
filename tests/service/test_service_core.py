"""ChallengeService without HTTP: flows, hardening, background analysis, live state, purge."""

from __future__ import annotations

import hashlib
import struct
import threading
import time

import pytest
from svc_helpers import (DigestAnalyzer, b64, jpeg, now_ms, simulated_frames, test_settings)

from liveness_lab.errors import ConfigError
from liveness_lab.service.core import ChallengeService, parse_int
from liveness_lab.service.views import challenge_body, live_body
from liveness_lab.service.errors import (BadRequest, Conflict, NotFound, ServiceUnavailable,
                                         Unauthorized)

FRAME = jpeg()


def view(svc, challenge_id, token, **kw):
    """The status body of ``GET /challenge/{id}`` for a challenge."""
    return challenge_body(svc.get_challenge(challenge_id, token, **kw))


@pytest.fixture
def service(tmp_path):
    svc = ChallengeService(test_settings(tmp_path, client_challenge_selection=True))
    yield svc
    svc.close()


def create(svc, ctype="NOSE", w=640, h=480):
    return svc.create_challenge({"imageWidth": w, "imageHeight": h, "challengeType": ctype})


def upload(svc, ch, frames, data=FRAME):
    for ts, faces in frames:
        svc.put_frame(ch.id, ch.token, ts, b64(data), [f.to_rekognition() for f in faces])


# -- flows ------------------------------------------------------------------------------------

def test_bona_fide_nose_passes_and_verdict_reason_trace_are_stored(service):
    ch = create(service)
    assert ch.type == "NOSE" and set(ch.params) >= {"noseLeft", "areaWidth"}
    upload(service, ch, simulated_frames("NOSE", ch.params, start_ms=now_ms()))
    verdict = service.verify(ch.id, ch.token)
    assert verdict["success"] is True and verdict["code"] == "nose.ok"
    stored = view(service, ch.id, ch.token)
    assert stored["status"] == "verified" and stored["success"] is True
    assert stored["reason"] == verdict["reason"] and stored["code"] == "nose.ok"
    assert len(stored["trace"]) >= verdict["frames_used"] > 0
    assert {"frame_index", "state", "result", "code", "frame_key"} <= set(stored["trace"][0])


def test_attack_fails_with_its_reason(service):
    ch = create(service)
    upload(service, ch, simulated_frames("NOSE", ch.params, start_ms=now_ms(),
                                         species="print_static"))
    verdict = service.verify(ch.id, ch.token)
    assert verdict["success"] is False and verdict["code"] != "nose.ok"
    assert view(service, ch.id, ch.token)["reason"] == verdict["reason"]


def test_verify_without_frames_is_a_stored_failure(service):
    ch = create(service, "POSE")
    assert service.verify(ch.id, ch.token)["code"] == "no_frames"
    assert view(service, ch.id, ch.token)["success"] is False


# -- creation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("metadata, fragment", [
    ({}, "Missing imageWidth and imageHeight"),
    ({"imageWidth": 640}, "Missing imageWidth and imageHeight"),
    ({"imageWidth": "wide", "imageHeight": 480}, "Invalid imageWidth"),
    ({"imageWidth": 640, "imageHeight": 480.5}, "Invalid imageHeight"),
    ({"imageWidth": True, "imageHeight": 480}, "Invalid imageWidth"),
    ({"imageWidth": 0, "imageHeight": 480}, "Invalid imageWidth"),
    ({"imageWidth": 10**9, "imageHeight": 480}, "Invalid imageWidth"),
    ({"imageWidth": 640, "imageHeight": 480, "challengeType": "NOPE"}, "NOPE"),
    ({"imageWidth": 640, "imageHeight": 480, "challengeType": 3}, "challengeType"),
])
def test_creation_refuses_bad_metadata_with_400(service, metadata, fragment):
    with pytest.raises(BadRequest, match=fragment):
        service.create_challenge(metadata)


def test_integer_strings_are_accepted_like_the_original():
    assert parse_int("640", "w") == 640 and parse_int(480.0, "h") == 480
    with pytest.raises(BadRequest):
        parse_int("6.5", "w")


def test_client_selection_is_off_by_default(tmp_path):
    with ChallengeService(test_settings(tmp_path, challenge_types=("POSE",))) as svc:
        for _ in range(3):
            ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480,
                                       "challengeType": "NOSE"})
            assert ch.type == "POSE"  # the client's wish is ignored


def test_test_seed_makes_params_reproducible(tmp_path):
    def params(sub):
        settings = test_settings(tmp_path / sub, test_seed=42)
        with ChallengeService(settings) as svc:
            return [(c.type, c.params) for c in
                    (svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
                     for _ in range(4))]
    first, second = params("a"), params("b")
    assert first == second
    assert len({str(p) for p in first}) > 1  # a sequence, not one repeated challenge


def test_the_seeded_generator_is_refused_outside_tests(tmp_path):
    with pytest.raises(ValueError, match="LIVENESS_ENV=test"):
        test_settings(tmp_path, env="local", test_seed=1)
    with pytest.raises(ValueError, match="production"):
        test_settings(tmp_path, env="production", test_seed=1, allow_insecure_test_seed=True,
                      token_secret="x" * 40, analyzer="local")


# -- tokens -----------------------------------------------------------------------------------

def test_token_expires_with_the_challenge(tmp_path):
    settings = test_settings(tmp_path, token_ttl_s=60)
    with ChallengeService(settings, clock=lambda: time.time() - 3600) as old:
        ch = create(old)
    with ChallengeService(settings) as svc:
        with pytest.raises(Unauthorized, match="expired"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(FRAME), [])
        with pytest.raises(Unauthorized, match="expired"):
            svc.verify(ch.id, ch.token)
        assert view(svc, ch.id, ch.token)["status"] == "expired"  # still readable


def test_token_is_bound_to_its_challenge(service):
    a, b = create(service), create(service)
    with pytest.raises(Unauthorized, match="another challenge"):
        service.put_frame(b.id, a.token, now_ms(), b64(FRAME), [])
    with pytest.raises(Unauthorized):
        service.verify(b.id, a.token)
    with pytest.raises(Unauthorized):
        view(service, b.id, a.token)
    with pytest.raises(Unauthorized):
        service.put_frame(a.id, a.token[:-2] + "xx", now_ms(), b64(FRAME), [])


def test_a_valid_token_for_a_deleted_challenge_gives_404(service):
    ch = create(service)
    service.challenges.delete(ch.id)
    with pytest.raises(NotFound):
        service.put_frame(ch.id, ch.token, now_ms(), b64(FRAME), [])
    with pytest.raises(NotFound):
        service.verify(ch.id, ch.token)
    assert not list(service.frames.root.rglob("*.jpg"))  # the refused frame's file is gone


# -- single-use verify, frames after verify ----------------------------------------------------

def test_verify_is_single_use_and_frames_after_it_are_refused(service):
    ch = create(service)
    t = now_ms()
    upload(service, ch, [(t, ())])
    service.verify(ch.id, ch.token)
    with pytest.raises(Conflict, match="single-use"):
        service.verify(ch.id, ch.token)
    with pytest.raises(Conflict, match="already been verified"):
        service.put_frame(ch.id, ch.token, t + 100, b64(FRAME), [])
    assert view(service, ch.id, ch.token)["frameCount"] == 1


def test_concurrent_verifies_decide_once(service):
    ch = create(service)
    upload(service, ch, simulated_frames("NOSE", ch.params, start_ms=now_ms()))
    results, errors = [], []

    def go():
        try:
            results.append(service.verify(ch.id, ch.token))
        except Conflict as e:
            errors.append(e)
    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 7


# -- limits ------------------------------------------------------------------------------------

def test_frame_count_limit(tmp_path):
    with ChallengeService(test_settings(tmp_path, max_frames_per_challenge=3)) as svc:
        ch = create(svc)
        t = now_ms()
        upload(svc, ch, [(t + i, ()) for i in range(3)])
        with pytest.raises(Conflict, match="maximum of 3 frames"):
            svc.put_frame(ch.id, ch.token, t + 10, b64(FRAME), [])


def test_frame_byte_limit(tmp_path):
    with ChallengeService(test_settings(tmp_path, max_frame_bytes=2048)) as svc:
        ch = create(svc)
        big = jpeg(200, 200, quality=95)
        assert len(big) > 2048
        with pytest.raises(BadRequest, match="Image size too large"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(big), [])


def test_pixel_limit_and_decompression_bomb(tmp_path):
    with ChallengeService(test_settings(tmp_path, max_image_pixels=100 * 100)) as svc:
        ch = create(svc)
        with pytest.raises(BadRequest, match="pixels"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(jpeg(120, 100)), [])
        # a 300-byte JPEG header claiming 60000 x 60000 pixels: refused before decoding
        small = jpeg(8, 8)
        sof = small.index(b"\xff\xc0")
        bomb = small[:sof + 5] + struct.pack(">HH", 60000, 60000) + small[sof + 9:]
        with pytest.raises(BadRequest, match="60000 x 60000"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(bomb), [])


@pytest.mark.parametrize("payload, fragment", [
    ("not base64!", "not valid base64"),
    ("", "non-empty"),
    (None, "non-empty"),
    (b64(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "Image must be JPEG"),
    (b64(b"GIF89a" + b"\0" * 40), "Image must be JPEG"),
    (b64(FRAME[: len(FRAME) // 2]), "truncated"),
])
def test_invalid_frames_are_400(service, payload, fragment):
    ch = create(service)
    with pytest.raises(BadRequest, match=fragment):
        service.put_frame(ch.id, ch.token, now_ms(), payload, [])


# -- timestamps --------------------------------------------------------------------------------

def test_timestamps_must_fall_inside_the_lifetime(service):
    ch = create(service)
    for ts in (now_ms() - 3_600_000, now_ms() + 3_600_000, -5, "soon"):
        with pytest.raises(BadRequest, match="timestamp"):
            service.put_frame(ch.id, ch.token, ts, b64(FRAME), [])


def test_timestamps_must_increase(tmp_path):
    with ChallengeService(test_settings(tmp_path, frame_reorder_window_ms=0)) as svc:
        ch = create(svc)
        t = now_ms()
        upload(svc, ch, [(t, ())])
        with pytest.raises(Conflict, match="already received"):  # same time, other content
            svc.put_frame(ch.id, ch.token, t, b64(jpeg(seed=9)), [])
        with pytest.raises(BadRequest, match="must increase"):
            svc.put_frame(ch.id, ch.token, t - 1, b64(FRAME), [])
        upload(svc, ch, [(t + 1, ())])
        assert view(svc, ch.id, ch.token)["frameCount"] == 2


def test_the_reorder_window_tolerates_concurrent_uploads_and_replays_in_order(service):
    ch = create(service)
    frames = simulated_frames("NOSE", ch.params, start_ms=now_ms())
    swapped = list(frames)
    swapped[3], swapped[4] = swapped[4], swapped[3]  # arrive out of order, within 1 s
    upload(service, ch, swapped)
    with pytest.raises(BadRequest, match="must increase"):
        service.put_frame(ch.id, ch.token, frames[-1][0] - 5000, b64(FRAME), [])
    assert service.verify(ch.id, ch.token)["success"] is True
    trace = view(service, ch.id, ch.token)["trace"]
    stamps = [row["timestamp"] for row in trace]
    assert stamps == sorted(stamps)


# -- background analysis -------------------------------------------------------------------------

def test_frames_are_analyzed_as_they_arrive_and_verify_replays(tmp_path):
    probe = ChallengeService(test_settings(tmp_path / "p", test_seed=5, challenge_types=("NOSE",)))
    ch0 = probe.create_challenge({"imageWidth": 640, "imageHeight": 480})
    probe.close()
    frames = simulated_frames("NOSE", ch0.params, start_ms=now_ms())
    images = [jpeg(seed=i) for i in range(len(frames))]
    table = {hashlib.sha256(img).hexdigest(): faces for img, (_, faces) in zip(images, frames)}
    settings = test_settings(tmp_path / "s", test_seed=5, challenge_types=("NOSE",),
                             analyzer="digest", analysis_workers=2)
    DigestAnalyzer.calls = 0
    with ChallengeService(settings, analyzer_factory=lambda: DigestAnalyzer(table)) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        assert ch.params == ch0.params
        for img, (ts, _) in zip(images, frames):
            svc.put_frame(ch.id, ch.token, ts, b64(img))
        deadline = time.monotonic() + 10
        while svc.pool.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        # frames after the deciding one may be skipped (not analyzed): see the test below
        assert view(svc, ch.id, ch.token)["analyzedCount"] + svc.pool.skipped == len(frames)
        live = live_body(svc.latest_frame(ch.id, ch.token))
        assert live["state"]["result"] == "success" and live["frame"]["faces"]
        calls = DigestAnalyzer.calls
        assert svc.verify(ch.id, ch.token)["success"] is True
        assert DigestAnalyzer.calls == calls  # verify analyzed nothing: it replayed


def test_faces_are_refused_unless_the_analyzer_is_recorded(tmp_path):
    with ChallengeService(test_settings(tmp_path, analyzer="digest"),
                          analyzer_factory=DigestAnalyzer) as svc:
        ch = create(svc)
        with pytest.raises(BadRequest, match="recorded analyzer"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(FRAME), [])
    with ChallengeService(test_settings(tmp_path / "r")) as svc:
        ch = create(svc)
        with pytest.raises(BadRequest, match="must carry its faces"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(FRAME), None)
        with pytest.raises(BadRequest, match="Invalid faces"):
            svc.put_frame(ch.id, ch.token, now_ms(), b64(FRAME), [{"BoundingBox": "x"}])


def test_verify_waits_for_pending_analyses(tmp_path):
    settings = test_settings(tmp_path, analyzer="digest", analysis_workers=1,
                             challenge_types=("NOSE",))
    with ChallengeService(settings, analyzer_factory=lambda: DigestAnalyzer(delay=0.05)) as svc:
        ch = create(svc)
        t = now_ms()
        for i in range(6):
            svc.put_frame(ch.id, ch.token, t + i * 100, b64(jpeg(seed=i)))
        verdict = svc.verify(ch.id, ch.token)
        assert verdict["frames_total"] == 6 and verdict["success"] is False
        assert view(svc, ch.id, ch.token)["analyzedCount"] == 6


def test_frames_left_unanalyzed_by_a_crash_are_analyzed_later(tmp_path):
    # NOSE: undecided on faceless frames, so every frame is needed (POSE decides on one)
    settings = test_settings(tmp_path, analyzer="digest", analysis_workers=1,
                             challenge_types=("NOSE",))
    with ChallengeService(settings, analyzer_factory=DigestAnalyzer) as svc:
        ch = create(svc)
        t = now_ms()
        svc.pool.close()  # the workers are gone: nothing gets analyzed
        svc.pool = None
        for i in range(3):
            svc.put_frame(ch.id, ch.token, t + i, b64(jpeg(seed=i)))
    with ChallengeService(settings, analyzer_factory=DigestAnalyzer) as svc:  # restart
        assert svc.verify(ch.id, ch.token)["frames_total"] == 3
        assert view(svc, ch.id, ch.token)["analyzedCount"] == 3


def test_an_analyzer_failure_is_a_retryable_503_and_releases_the_claim(tmp_path):
    settings = test_settings(tmp_path, analyzer="digest")
    failing = {"on": True}
    with ChallengeService(settings, analyzer_factory=lambda: FlakyAnalyzer(failing)) as svc:
        ch = create(svc)
        svc.put_frame(ch.id, ch.token, now_ms(), b64(FRAME))
        with pytest.raises(ServiceUnavailable, match="face analysis failed"):
            svc.verify(ch.id, ch.token)
        assert view(svc, ch.id, ch.token)["status"] == "open"
        failing["on"] = False
        assert svc.verify(ch.id, ch.token)["frames_total"] == 1


class FlakyAnalyzer(DigestAnalyzer):
    def __init__(self, switch):
        super().__init__()
        self.switch = switch

    def analyze(self, image):
        self.fail = self.switch["on"]
        return super().analyze(image)


def test_an_unknown_analyzer_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="analyzer"):
        ChallengeService(test_settings(tmp_path, analyzer="no-such-analyzer"))


# -- purge ---------------------------------------------------------------------------------------

def test_purge_deletes_old_records_frames_and_orphans(tmp_path):
    settings = test_settings(tmp_path)
    with ChallengeService(settings, clock=lambda: time.time() - 40 * 86400) as old_svc:
        old = create(old_svc)
    with ChallengeService(settings) as svc:
        new = create(svc)
        upload(svc, new, [(now_ms(), ())])
        svc.frames.put(f"{'0' * 8}-orphan/1-abcd.jpg", FRAME)  # a frame whose record is gone
        assert svc.purge(30 * 86400, dry_run=True) == {"challenges": 1, "frames": 0,
                                                       "orphanFrameFolders": 1}
        counts = svc.purge(30 * 86400)
        assert counts["challenges"] == 1 and counts["orphanFrameFolders"] == 1
        assert svc.challenges.get(old.id) is None
        assert view(svc, new.id, new.token)["frameCount"] == 1
        assert list(svc.frames.challenge_ids()) == [new.id]


def test_purge_leaves_foreign_folders_alone(tmp_path):
    with ChallengeService(test_settings(tmp_path)) as svc:
        foreign = svc.frames.root / "not ours"
        foreign.mkdir(parents=True)
        (foreign / "keep.txt").write_text("x")
        assert svc.purge(86400)["orphanFrameFolders"] == 0
        assert (foreign / "keep.txt").exists()
