"""Timing bound to the server (issue 11 item 5): the rules, then a real server on 127.0.0.1."""

from __future__ import annotations

import time

import httpx
import pytest

from svc_helpers import Server, b64, jpeg, simulated_frames
from liveness_lab.service.timing import TimingRules, check_timing

RULES = TimingRules(max_lag_ms=2000, min_reaction_ms=150)
SERVED = 1_700_000_000.0  # s


def paced(n=20, dt=100, delay_ms=40, clock_offset_ms=0, start_ms=1000):
    """Frames sent as captured: receipt = capture + delay, client clock off by an offset."""
    return [(int(SERVED * 1000 + start_ms + i * dt + clock_offset_ms),
             SERVED + (start_ms + i * dt + delay_ms + (i % 3) * 30) / 1000) for i in range(n)]


def test_frames_sent_as_captured_pass_whatever_the_client_clock():
    for offset in (0, -45_000, 90_000):
        r = check_timing(SERVED, paced(clock_offset_ms=offset), 19, RULES)
        assert r.ok, r.reason
        assert r.offset_ms == pytest.approx(40 - offset) and r.max_lag_ms == pytest.approx(60)


def test_a_recording_uploaded_in_a_burst_fails_on_lag():
    frames = [(ts, SERVED + 1.0 + 0.01 * i) for i, (ts, _) in enumerate(paced(n=40))]
    r = check_timing(SERVED, frames, 39, RULES)
    assert not r.ok and r.code == "timing.lag" and "were not sent as they were captured" in r.reason


def test_a_stream_injected_slower_than_it_claims_fails_on_lag():
    # timestamps 100 ms apart, received 200 ms apart: the lag grows by 100 ms a frame
    frames = [(ts, SERVED + 1.0 + 0.2 * i) for i, (ts, _) in enumerate(paced(n=30))]
    assert check_timing(SERVED, frames, 29, RULES).code == "timing.lag"
    assert check_timing(SERVED, frames[:15], 14, RULES).ok   # 1.4 s of lag: within the bound


def test_a_response_complete_before_a_human_could_react_fails():
    frames = paced(n=3, start_ms=0, dt=40, delay_ms=5)
    r = check_timing(SERVED, frames, 2, RULES)
    assert not r.ok and r.code == "timing.too_soon" and r.response_after_ms < 150
    assert check_timing(SERVED, paced(n=3, start_ms=200, dt=40), 2, RULES).ok
    assert check_timing(SERVED, frames, None, RULES).ok      # nothing was completed


def test_rules_are_validated():
    with pytest.raises(ValueError, match="max_lag_ms"):
        TimingRules(max_lag_ms=-1)


# -- a real server ---------------------------------------------------------------------------

ENV = {"LIVENESS_ENV": "test", "LIVENESS_CREATE_RATE_PER_MINUTE": "0",
       "LIVENESS_CHALLENGE_TYPES": "NOSE", "LIVENESS_ANALYZER": "recorded",
       "LIVENESS_PROFILE": "seed", "LIVENESS_MAX_FAILED_VERIFIES": "0",
       "LIVENESS_TIMING_CHECK": "true", "LIVENESS_MAX_FRAME_LAG_MS": "800"}
FRAME = jpeg(480, 480, seed=3)


def upload(http, ch, frames, *, paced_upload):
    """Upload ``frames`` (timestamp, faces); paced: each at its own time after the first."""
    start = time.monotonic()
    t0 = frames[0][0]
    for ts, faces in frames:
        if paced_upload:
            wait = (ts - t0) / 1000 - (time.monotonic() - start)
            if wait > 0:
                time.sleep(wait)
        r = http.put(f"/challenge/{ch['id']}/frame",
                     json={"token": ch["token"], "timestamp": ts, "frameBase64": b64(FRAME),
                           "faces": [f.to_rekognition() for f in faces]})
        assert r.status_code == 200, r.text
    verdict = http.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]}).json()
    stored = http.get(f"/challenge/{ch['id']}", headers={"X-Challenge-Token": ch["token"]}).json()
    return {**verdict, "code": stored["code"], "reason": stored["reason"],
            "timing": stored["verdict"]["timing"]}


@pytest.mark.timeout(180)
def test_server_accepts_a_paced_stream_and_refuses_the_same_stream_in_a_burst(tmp_path):
    with Server(tmp_path, env=ENV) as server, httpx.Client(base_url=server.url,
                                                           timeout=30) as http:
        results = {}
        for paced_upload in (True, False):
            ch = http.post("/challenge", json={"imageWidth": 480, "imageHeight": 480}).json()
            start = int(time.time() * 1000) + 300       # the person reacts, then starts
            time.sleep(0.3)
            frames = simulated_frames("NOSE", ch["params"], start_ms=start)
            results[paced_upload] = upload(http, ch, frames, paced_upload=paced_upload)
        assert results[True]["success"] is True, results[True]
        assert results[True]["timing"]["ok"] is True
        burst = results[False]
        assert burst["success"] is False and burst["code"] == "timing.lag", burst


# -- the NOSE capability through the service (issue 11 item 3) -------------------------------

def test_the_secure_default_gives_old_clients_one_box_and_capable_clients_a_sequence(tmp_path):
    from svc_helpers import TestClient, test_settings
    from liveness_lab.service.api import create_app
    app = create_app(test_settings(tmp_path, profile=None, max_failed_verifies=0))
    with TestClient(app) as client:
        old = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480}).json()
        assert old["type"] == "NOSE" and "noseTargets" not in old["params"]
        new = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480,
                                              "noseTargets": 3}).json()
        seq = new["params"]["noseTargets"]
        assert len(seq) == 3 and seq[0]["noseLeft"] == new["params"]["noseLeft"]
        r = client.post("/challenge", json={"imageWidth": 640, "imageHeight": 480,
                                            "noseTargets": "many"})
        assert r.status_code == 400 and "noseTargets" in r.json()["message"]
