"""The main job: runs end to end, is re-runnable, and never deletes a directory it did not make."""

from __future__ import annotations

import csv

import pytest

from liveness_lab.demo import DEMO_PROFILES, ensure_dataset, run_demo
from liveness_lab.sessions import read_manifest


def test_demo_runs_end_to_end_and_reuses_its_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the analysis cache and mlflow.db land here
    out = tmp_path / "ds"
    assert run_demo(out_dir=out, sessions_per_class=4, seed=1, image_sessions=2, workers=1,
                    results_dir=tmp_path / "reports", tracking=True) == 0
    text = capsys.readouterr().out
    assert "APCER print_static" in text and "report:" in text and "mlflow-ui" in text
    assert (tmp_path / "reports" / "report.html").is_file()
    assert (tmp_path / "reports" / "report.md").is_file()
    assert (tmp_path / "mlflow.db").is_file()
    entries = read_manifest(out)
    assert {e.challenge_type for e in entries} == {"NOSE", "POSE", "BLINK", "HEAD_TURN"}
    assert sum(e.label == "bona_fide" for e in entries) == 4 * 4 + 1  # per type, + 1 image
    images = [e for e in entries if e.session_id.startswith("img-")]
    assert [e.label for e in images] == ["bona_fide", "attack"]
    for prof in DEMO_PROFILES:
        rows = list(csv.DictReader((tmp_path / "reports" / f"results-{prof}.csv").open()))
        assert len(rows) == len(entries)
    assert ensure_dataset(out, sessions_per_class=4, seed=1, image_sessions=2) is False  # reused
    assert ensure_dataset(out, sessions_per_class=5, seed=1) is True  # new recipe: regenerated


def test_demo_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not made by the demo"):
        ensure_dataset(tmp_path, sessions_per_class=2, seed=1)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
