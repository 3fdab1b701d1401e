"""Fault: SIGKILL the server in the middle of concurrent uploads, restart it on the same data.

After the kill, on disk: the SQLite file passes ``integrity_check``; every
challenge record is consistent (frames indexed 0..n-1, unique timestamps);
every listed frame's file exists and decodes; every frame the server
acknowledged is listed; no partial file is visible (temporary files are
hidden and never listed). After the restart, every challenge verifies, the
frames the kill left unanalyzed get analyzed, and open challenges accept frames.
"""

from __future__ import annotations

import base64
import sqlite3
import sys
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from svc_helpers import REPO, Server

sys.path.insert(0, str(REPO / "bench"))
import bench_service  # noqa: E402

from liveness_lab.analyzers.images import decode_image  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CLIENTS, FRAMES = 8, 30
ENV = {"LIVENESS_ENV": "test", "LIVENESS_CREATE_RATE_PER_MINUTE": "0",
       "LIVENESS_CHALLENGE_TYPES": "NOSE", "LIVENESS_ANALYZER": "local",
       "LIVENESS_ANALYSIS_WORKERS": "1"}


def uploader(url, frames, acked, started, stop):
    try:
        with httpx.Client(base_url=url, timeout=5) as http:
            ch = http.post("/challenge", json={"imageWidth": 480, "imageHeight": 480}).json()
            started.append(ch)
            t0 = int(time.time() * 1000)
            for i, data in enumerate(frames):
                if stop.is_set():
                    return
                r = http.put(f"/challenge/{ch['id']}/frame",
                             json={"token": ch["token"], "timestamp": t0 + 100 * i,
                                   "frameBase64": base64.b64encode(data).decode()})
                if r.status_code == 200:
                    acked.append((ch["id"], t0 + 100 * i))
    except httpx.HTTPError:
        return  # the server died under us


def check_disk(data_dir: Path, acked):
    db = sqlite3.connect(data_dir / "challenges.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    listed = {}
    for (cid,) in db.execute("SELECT id FROM challenges"):
        rows = db.execute("SELECT idx, timestamp, key, size FROM frames WHERE challenge_id = ? "
                          "ORDER BY idx", (cid,)).fetchall()
        assert [r[0] for r in rows] == list(range(len(rows)))
        assert len({r[1] for r in rows}) == len(rows)
        for idx, ts, key, size in rows:
            data = (data_dir / "frames" / key).read_bytes()  # exists
            assert len(data) == size
            decode_image(data)  # complete and decodable
        listed[cid] = {r[1] for r in rows}
    unanalyzed = db.execute("SELECT COUNT(*) FROM frames WHERE faces IS NULL").fetchone()[0]
    db.close()
    for cid, ts in acked:  # an acknowledged frame is never lost
        assert ts in listed[cid]
    visible = [p for p in (data_dir / "frames").rglob("*") if p.is_file()
               and not p.name.startswith(".")]
    for p in visible:  # orphans (written, never listed) are complete files too
        assert cv2.imdecode(np.frombuffer(p.read_bytes(), np.uint8), cv2.IMREAD_COLOR) is not None
    return listed, unanalyzed


def test_kill_mid_upload_and_restart(tmp_path):
    frames = bench_service.render_frames(FRAMES)
    server = Server(tmp_path, ENV).start()
    acked, started, stop = [], [], threading.Event()
    threads = [threading.Thread(target=uploader, args=(server.url, frames, acked, started, stop))
               for _ in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < CLIENTS * FRAMES // 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # SIGKILL, mid-upload
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        server.kill()
    assert 0 < len(acked) < CLIENTS * FRAMES  # the kill happened mid-upload
    data_dir = tmp_path / ".liveness-lab"
    listed, unanalyzed = check_disk(data_dir, acked)
    assert len(listed) == len(started)
    assert unanalyzed > 0  # the kill left frames whose analysis had not run

    with Server(tmp_path, ENV) as again:  # restart on the same data directory
        with httpx.Client(base_url=again.url, timeout=120) as http:
            for ch in started:
                n = len(listed[ch["id"]])
                if n < FRAMES:  # an open challenge still accepts frames after the restart
                    ts = max(listed[ch["id"]], default=int(time.time() * 1000)) + 100
                    r = http.put(f"/challenge/{ch['id']}/frame",
                                 json={"token": ch["token"], "timestamp": ts,
                                       "frameBase64": base64.b64encode(frames[-1]).decode()})
                    assert r.status_code == 200, r.text
                    n += 1
                r = http.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
                assert r.status_code == 200, r.text
                d = http.get(f"/challenge/{ch['id']}", params={"trace": "false"},
                             headers={"X-Challenge-Token": ch["token"]}).json()
                assert d["status"] == "verified" and d["frameCount"] == n
                assert d["analyzedCount"] == n  # frames left unanalyzed by the kill included
    assert check_disk(data_dir, acked)[1] == 0
