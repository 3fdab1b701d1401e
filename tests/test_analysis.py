"""Image-level sessions end to end: render -> analyze (through the cache) -> evaluate."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from liveness_lab.analyzers import DEFAULT_ANALYZER
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.errors import SessionFormatError
from liveness_lab.sessions import read_session, write_dataset
from liveness_lab.synth.render import render_nose_session, write_session_images


@pytest.fixture(scope="module")
def image_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("img-ds")
    params = default_registry().get("NOSE").generate_params(
        {"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(11))
    challenge = {"type": "NOSE", "params": params}
    sessions = []
    for sid, mode, label, species in (("live-1", "head_turn", "bona_fide", None),
                                      ("photo-1", "photo_moved", "attack", "print_moved")):
        frames = render_nose_session(params, photo="astronaut", mode=mode, seed=3, fps=8,
                                     duration_s=2.5)
        sessions.append(write_session_images(root, sid, challenge, frames, label, species,
                                             subject_id="subj-1", split="test"))
    write_dataset(root, sessions)
    return root


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "liveness_lab.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_analyze_fills_faces_through_the_cache_then_evaluate(image_dataset, tmp_path):
    cache = tmp_path / "cache.sqlite"
    r = cli("analyze", image_dataset, "--cache", cache, "--workers", "2", "-q")
    assert r.returncode == 0, r.stderr
    assert "analyzed" in r.stdout and "in 2 of 2 sessions" in r.stdout
    s = read_session(image_dataset / "live-1" / "session.json")
    assert all(f.faces is not None and len(f.faces) == 1 for f in s.frames)
    assert s.frames[0].faces[0].landmark("nose") is not None
    # second run: nothing left to analyze
    r = cli("analyze", image_dataset, "--cache", cache, "-q")
    assert "analyzed 0 frames in 0 of 2 sessions" in r.stdout
    # --overwrite re-analyzes, served from the cache this time
    r = cli("analyze", image_dataset, "--cache", cache, "-q", "--overwrite", "--workers", "1")
    assert r.returncode == 0 and "in 2 of 2 sessions" in r.stdout
    r = cli("cache", "--path", cache, "stats")
    n_frames = sum(len(read_session(image_dataset / sid / "session.json").frames)
                   for sid in ("live-1", "photo-1"))
    assert r.returncode == 0 and f"{DEFAULT_ANALYZER}: {n_frames}" in r.stdout  # one entry per image
    out = tmp_path / "r.csv"
    r = cli("evaluate", image_dataset, "-o", out, "-q", "--analyzer", "recorded")
    assert r.returncode == 0, r.stderr
    rows = {row["session_id"]: row for row in csv.DictReader(out.open())}
    assert rows["photo-1"]["success"] == "false"  # a rigidly moved photo never passes here
    assert rows["live-1"]["decided"] == "true"


def test_evaluate_analyzes_image_only_frames_in_memory(tmp_path):
    params = default_registry().get("NOSE").generate_params(
        {"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(5))
    frames = render_nose_session(params, photo="astronaut", mode="photo_static", seed=1, fps=4,
                                 duration_s=1.5)
    s = write_session_images(tmp_path / "ds", "static-1", {"type": "NOSE", "params": params},
                             frames, "attack", "print_static")
    write_dataset(tmp_path / "ds", [s])
    before = (tmp_path / "ds" / "static-1" / "session.json").read_text()
    out = tmp_path / "r.csv"
    r = cli("evaluate", tmp_path / "ds", "-o", out, "-q", "--no-cache", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert next(csv.DictReader(out.open()))["success"] == "false"
    assert (tmp_path / "ds" / "static-1" / "session.json").read_text() == before  # untouched
    r = cli("evaluate", tmp_path / "ds", "-q", "--analyzer", "recorded")
    assert r.returncode == 2 and "recorded faces" in r.stderr


def test_missing_image_names_the_frame(tmp_path):
    params = default_registry().get("NOSE").generate_params(
        {"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(5))
    frames = render_nose_session(params, photo="astronaut", mode="photo_static", seed=1, fps=4,
                                 duration_s=1.5)
    s = write_session_images(tmp_path / "ds", "s-1", {"type": "NOSE", "params": params}, frames,
                             "attack", "print_static")
    write_dataset(tmp_path / "ds", [s])
    (tmp_path / "ds" / "s-1" / "frames" / "000002.jpg").unlink()
    r = cli("analyze", tmp_path / "ds", "-q", "--no-cache", "--workers", "1")
    assert r.returncode == 2
    assert "frames[1].image" in r.stderr and "000002.jpg" in r.stderr
    from liveness_lab.analysis import analyze_session
    from liveness_lab.analyzers import create_analyzer
    with pytest.raises(SessionFormatError, match=r"frames\[1\]\.image"):
        analyze_session(read_session(tmp_path / "ds" / "s-1" / "session.json"),
                        create_analyzer("local"))


def test_nothing_to_analyze_loads_no_model(tmp_path, monkeypatch):
    """`analyze` on a dataset whose frames all carry faces creates no analyzer at all."""
    from builders import NOSE_PARAMS, T0, make_face
    from liveness_lab import analysis
    from liveness_lab.engines import ProcessEngine
    from liveness_lab.errors import UnknownAnalyzer
    from liveness_lab.sessions import Frame, Session

    sessions = [Session(f"s{i}", "NOSE", dict(NOSE_PARAMS), (Frame(T0, (make_face(),)),),
                        "bona_fide") for i in range(3)]
    ds = write_dataset(tmp_path / "ds", sessions)
    created = []
    monkeypatch.setattr(analysis, "make_analyzer",
                        lambda *a, **k: created.append(a) or pytest.fail("a model was loaded"))
    stats = analysis.analyze_dataset(ds, engine=ProcessEngine(1), cache_path=None)
    assert (stats.sessions, stats.frames_analyzed, created) == (3, 0, [])
    with pytest.raises(UnknownAnalyzer, match="unknown analyzer 'nope'; known: local"):
        analysis.analyze_dataset(ds, analyzer="nope", engine=ProcessEngine(1), cache_path=None)
