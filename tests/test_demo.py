"""The main job: each profile on its own protocol, re-runnable, never deletes a foreign directory."""

from __future__ import annotations

import csv
import json

import pytest

from liveness_lab.demo import DEMO_PROFILES, ensure_dataset, protocol_of, run_demo
from liveness_lab.evaluation.intervals import wilson_interval
from liveness_lab.sessions import iter_dataset, read_manifest


def test_demo_runs_end_to_end_and_reuses_its_datasets(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the analysis cache and mlflow.db land here
    out = tmp_path / "ds"
    assert run_demo(out_dir=out, sessions_per_class=4, seed=1, image_sessions=2, workers=1,
                    results_dir=tmp_path / "reports", tracking=True) == 0
    text = capsys.readouterr().out
    assert "APCER print_static" in text and "report:" in text and "mlflow-ui" in text
    # the console says what each summary is about
    for prof in DEMO_PROFILES:
        assert f"--- profile {prof} on its own sessions ({out / prof})" in text
    assert "metrics below on the test split" in text and "train is not used" in text
    assert "sessions by split: train" in text and "bona fide rejected)" in text
    md = (tmp_path / "reports" / "report.md").read_text()
    assert (tmp_path / "reports" / "report.html").is_file()
    assert "evaluated on sessions of its own protocol" in md and protocol_of("seed") in md
    assert (tmp_path / "mlflow.db").is_file()
    seed_entries, rec_entries = read_manifest(out / "seed"), read_manifest(out / "recommended")
    # seed: the original bench (NOSE, POSE; POSE decided on one photo); recommended: every type
    assert {e.challenge_type for e in seed_entries} == {"NOSE", "POSE"}
    assert {e.challenge_type for e in rec_entries} == {"NOSE", "POSE", "BLINK", "HEAD_TURN"}
    pose = [s for s in iter_dataset(out / "seed") if s.challenge_type == "POSE"]
    assert pose and all(len(s.frames) == 1 and "holdFrames" not in s.params for s in pose)
    assert any(s.params.get("holdFrames", 1) > 1 for s in iter_dataset(out / "recommended")
               if s.challenge_type == "POSE")
    assert sum(e.label == "bona_fide" for e in rec_entries) == 4 * 4 + 1  # per type, + 1 image
    images = [e for e in seed_entries if e.session_id.startswith("img-")]
    assert [e.label for e in images] == ["bona_fide", "attack"]
    for prof, entries in (("seed", seed_entries), ("recommended", rec_entries)):
        rows = list(csv.DictReader((tmp_path / "reports" / f"results-{prof}.csv").open()))
        assert len(rows) == len(entries)
    assert ensure_dataset(out / "seed", sessions_per_class=4, seed=1, image_sessions=2,
                          profile="seed") is False  # reused
    assert ensure_dataset(out / "seed", sessions_per_class=5, seed=1,
                          profile="seed") is True  # new recipe: regenerated


def test_the_demos_seed_pose_bpcer_agrees_with_the_original_protocol_bench(tmp_path, capsys,
                                                                           monkeypatch):
    """The issue: under recommended's protocol the original rules rejected 22/26 genuine POSE
    sessions. On its own protocol the demo's seed POSE BPCER must agree with the bench the
    README quotes (bench/bench_hardening_traces.py: seed 0, 100 sessions per class)."""
    from liveness_lab.evaluation.replay import evaluate_dataset
    from liveness_lab.synth.traces import generate_dataset

    monkeypatch.chdir(tmp_path)
    run_demo(out_dir=tmp_path / "demo", sessions_per_class=100, image_sessions=0, workers=1,
             results_dir=tmp_path / "reports", profiles=("seed",), tracking=False)
    capsys.readouterr()
    with (tmp_path / "reports" / "results-seed.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["challenge_type"] == "POSE"
                and r["label"] == "bona_fide" and r["split"] == "test"]
    demo_rejected, demo_n = sum(r["success"] == "false" for r in rows), len(rows)

    bench = generate_dataset(tmp_path / "bench", sessions_per_class=100, seed=0, profile="seed",
                             challenge_types=("POSE",))
    df = evaluate_dataset(bench, profile="seed", workers=1, analyzer="recorded", cache_path=None)
    bona = df[df["label"] == "bona_fide"]
    bench_rejected, bench_n = int((~bona["success"]).sum()), len(bona)

    demo_ci, bench_ci = wilson_interval(demo_rejected, demo_n), wilson_interval(bench_rejected,
                                                                                bench_n)
    assert demo_n >= 20 and bench_n == 100
    assert demo_ci[0] <= bench_ci[1] and bench_ci[0] <= demo_ci[1], (demo_rejected, demo_n,
                                                                     bench_rejected, bench_n)
    assert demo_ci[1] < 22 / 26  # far from the confounded comparison


def test_demo_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not made by the demo"):
        ensure_dataset(tmp_path, sessions_per_class=2, seed=1)
    with pytest.raises(ValueError, match="not made by the demo"):
        run_demo(out_dir=tmp_path, sessions_per_class=2, image_sessions=0, workers=1,
                 results_dir=tmp_path / "r", tracking=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_demo_replaces_its_own_older_single_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ds"
    ensure_dataset(out, sessions_per_class=1, seed=1, profile="seed")  # the old layout
    assert json.loads((out / ".liveness-lab-demo.json").read_text())["profile"] == "seed"
    run_demo(out_dir=out, sessions_per_class=1, image_sessions=0, workers=1,
             results_dir=tmp_path / "r", profiles=("seed",), tracking=False)
    assert not (out / "manifest.csv").exists() and (out / "seed" / "manifest.csv").is_file()


@pytest.mark.parametrize("kwargs, message", [
    ({"results_dir": "FILE"}, "--reports .* is a file"),
    ({"sessions_per_class": 0}, "--sessions-per-class must be a positive integer"),
    ({"image_sessions": -1}, "--image-sessions must be a non-negative integer"),
    ({"profiles": ("fastest",)}, "unknown profile 'fastest'"),
])
def test_demo_checks_its_arguments_before_any_work(tmp_path, kwargs, message):
    (tmp_path / "FILE").write_text("x")
    args = {"out_dir": tmp_path / "ds", "sessions_per_class": 2, "image_sessions": 0,
            "workers": 1, "results_dir": tmp_path / "r", "tracking": False, **kwargs}
    if args["results_dir"] == "FILE":
        args["results_dir"] = tmp_path / "FILE"
    with pytest.raises(ValueError, match=message):
        run_demo(**args)
    assert not (tmp_path / "ds").exists()
