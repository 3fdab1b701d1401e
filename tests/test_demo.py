"""The main job: runs end to end, is re-runnable, and never deletes a directory it did not make."""

from __future__ import annotations

import csv

import pytest

from liveness_lab.demo import ensure_dataset, run_demo


def test_demo_runs_and_reuses_its_dataset(tmp_path, capsys):
    out = tmp_path / "ds"
    assert run_demo(out_dir=out, sessions_per_class=4, seed=1, workers=1,
                    results_dir=tmp_path / "reports") == 0
    text = capsys.readouterr().out
    assert "APCER print_static" in text and "BPCER" in text
    rows = list(csv.DictReader((tmp_path / "reports" / "results-seed.csv").open()))
    assert len(rows) == 2 * 4 + 9 * 4  # bona fide per type + 6 NOSE and 3 POSE species
    assert ensure_dataset(out, sessions_per_class=4, seed=1) is False   # reused
    assert ensure_dataset(out, sessions_per_class=5, seed=1) is True    # new recipe: regenerated


def test_demo_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not made by the demo"):
        ensure_dataset(tmp_path, sessions_per_class=2, seed=1)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
