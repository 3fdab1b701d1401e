"""Load: 50 concurrent clients against a real server on 127.0.0.1, each a full NOSE challenge.

Zero 5xx, zero lost frames, every verdict stored; once with the ``recorded``
analyzer (frames carry their faces: service overhead only) and once with the
real ``local`` analyzer. The figures for BENCHMARKS.md come from
``bench/bench_service.py``, which runs the same driver.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
from svc_helpers import REPO

sys.path.insert(0, str(REPO / "bench"))
import bench_service  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CLIENTS, FRAMES = 50, 30
SIZE = 320  # smaller than the benchmark's 480 x 480, to keep the local run short


@pytest.fixture(scope="module")
def frames():
    return bench_service.render_frames(FRAMES, size=SIZE)


def run(tmp_path, analyzer, frames, faces=None):
    server = bench_service.ServerProcess(tmp_path / analyzer,
                                         bench_service.server_env(analyzer)).start()
    try:
        # a correctness test (no lost frame, no 5xx), not a timing one: the client waits as
        # long as a loaded 2-core machine needs (the latencies are bench_service.py's job)
        result = bench_service.run_load(server.url, frames, clients=CLIENTS, faces=faces,
                                        analyzer=analyzer, size=SIZE, timeout=600.0)
        problems = bench_service.check_stored(server.url, result)
        idle_verify = bench_service.verify_latency_after_analysis(server.url, frames, 8,
                                                                  size=SIZE) \
            if analyzer == "local" else []
    finally:
        server.stop()
    frame_files = list((tmp_path / analyzer / ".liveness-lab" / "frames").rglob("*.jpg"))
    print(f"\n{analyzer}: {result.row()}")
    shutil.rmtree(tmp_path / analyzer, ignore_errors=True)
    return result, problems, frame_files, idle_verify


def check(result, problems, frame_files, extra_frames=0):
    assert result.server_errors == 0, result.statuses
    assert not result.errors, result.errors[:5]
    assert set(result.statuses) == {200}
    assert len(result.challenges) == CLIENTS  # every verdict returned...
    assert not problems, problems[:5]  # ...and stored, with every frame listed and analyzed
    assert len(result.upload_ms) == CLIENTS * FRAMES
    assert len(frame_files) == CLIENTS * FRAMES + extra_frames  # no frame lost on disk


def test_fifty_clients_recorded_analyzer(tmp_path, frames):
    faces = bench_service.analyze_frames(frames)
    check(*run(tmp_path, "recorded", frames, faces)[:3])


def test_fifty_clients_local_analyzer(tmp_path, frames):
    result, problems, files, idle_verify = run(tmp_path, "local", frames)
    check(result, problems, files, extra_frames=8 * FRAMES)
    # verify after analysis answered for every probe (its p95 latency, the issue's < 50 ms
    # target, is measured by bench/bench_service.py into BENCHMARKS.md, not asserted here)
    assert len(idle_verify) == 8 and all(np.isfinite(idle_verify)), idle_verify
