"""Done criterion: a script speaking only the original contract works against `serve` with
default settings and no configuration (local analyzer, SQLite, generated token secret)."""

from __future__ import annotations

import base64
import time

import cv2
import httpx
import pytest
from svc_helpers import Server

from liveness_lab.synth.render import render_nose_session

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def original_client(base: str, frames_for) -> list[tuple[str, bool]]:
    """What a client of the AWS framework does: create, PUT frames, verify."""
    outcomes: list[tuple[str, bool]] = []
    with httpx.Client(timeout=60) as http:
        for _ in range(24):
            r = http.post(f"{base}/challenge", json={"imageWidth": 480, "imageHeight": 480})
            assert r.status_code == 200, r.text
            ch = r.json()
            assert set(ch) == {"id", "token", "type", "params"}
            if not _wanted(ch["type"], outcomes):
                continue
            for ts, jpeg in frames_for(ch):
                r = http.put(f"{base}/challenge/{ch['id']}/frame",
                             json={"token": ch["token"], "timestamp": ts,
                                   "frameBase64": base64.b64encode(jpeg).decode("ascii")})
                assert r.status_code == 200 and r.json() == {"message": "Frame saved successfully"}
            r = http.post(f"{base}/challenge/{ch['id']}/verify", json={"token": ch["token"]})
            assert r.status_code == 200 and set(r.json()) == {"success"}
            outcomes.append((ch["type"], r.json()["success"]))
            if not _wanted("NOSE", outcomes):
                break
    return outcomes


def _wanted(ctype: str, outcomes: list[tuple[str, bool]]) -> bool:
    """One POSE run; NOSE runs until one passes, at most 3: the rendered head turn is a
    stand-in for a person and misses about 1 random target in 25 (see BENCHMARKS.md)."""
    runs = [ok for t, ok in outcomes if t == ctype]
    if ctype == "POSE":
        return not runs
    return not any(runs) and len(runs) < 3


def frames_for(ch):
    """A head turn toward the NOSE target, rendered from a real photo; for POSE, the same
    photo held still."""
    params = ch["params"]
    if ch["type"] != "NOSE":
        from liveness_lab.challenges.nose import NOSE
        from liveness_lab.challenges import SeededRandom
        params = NOSE.generate_params({"imageWidth": 480, "imageHeight": 480},
                                      rng=SeededRandom(0))
    rendered = render_nose_session(params, photo="astronaut",
                                   mode="head_turn" if ch["type"] == "NOSE" else "photo_static",
                                   seed=2)
    start = int(time.time() * 1000)
    t0 = rendered[0][0]
    return [(start + ts - t0, cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                           [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes())
            for ts, rgb in rendered]


def test_original_contract_against_serve_with_no_configuration(tmp_path):
    with Server(tmp_path) as server:  # no LIVENESS_* variable, default options
        outcomes = original_client(server.url, frames_for)
    assert ("NOSE", True) in outcomes  # a live-looking head turn passes with the local analyzer
    # the secure default draws only NOSE for clients of the original contract (issue 15.1)
    assert {t for t, _ in outcomes} == {"NOSE"}
    data = tmp_path / ".liveness-lab"
    assert (data / "challenges.sqlite3").is_file() and (data / "token-secret").is_file()
    assert oct((data / "token-secret").stat().st_mode & 0o777) == "0o600"
