"""The sweep / report / mlflow-ui hooks: success paths and one-line errors with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation_cli_helpers import build_parser, run_cli

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("argv, message", [
    (["report", "missing.csv", "--out", "o"], "no such results file, and not an MLflow run id"),
    (["sweep", "missing.yaml"], "cannot read the sweep file"),
])
def test_missing_files(tmp_path, argv, message):
    code, out, err = run_cli(*argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_sweep_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    for text, message in [("study: x\n  - : [\n", "invalid YAML at line 2"),
                          ("study: x\ndataset: {path: d}\nsearch: {space: {nose.min_dist: [1]}, "
                           "n_trial: 3}\n", "unknown key(s) 'n_trial' in search"),
                          ("- a\n- b\n", "the sweep file must be a mapping")]:
        bad.write_text(text)
        code, _, err = run_cli("sweep", bad, "--no-tracking")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
        assert err.startswith("liveness-lab sweep: error: ")


def test_sweep_unknown_threshold_is_reported_before_running(tmp_path, small_dataset):
    bad = tmp_path / "unknown.yaml"
    bad.write_text(f"study: x\ndataset: {{path: {small_dataset}}}\n"
                   "search: {space: {nose.not_a_key: [1, 2]}}\n")
    code, _, err = run_cli("sweep", bad, "--no-tracking", "--out", tmp_path / "o")
    assert code == 2 and "unknown key 'not_a_key'" in err
    assert not (tmp_path / "o").exists()


def test_report_bad_options(tmp_path, small_results):
    from liveness_lab.evaluation.replay import write_results
    csv = write_results(small_results, tmp_path / "r.csv")
    code, _, err = run_cli("report", csv, "--out", tmp_path / "o", "--profile", "nope")
    assert code == 2 and "unknown profile 'nope'" in err
    code, _, err = run_cli("report", csv, "--out", tmp_path / "o", "--split", "train2")
    assert code == 2 and "no 'train2' split" in err
    (tmp_path / "bad.csv").write_text("session_id,label\ns1,live\n")
    code, _, err = run_cli("report", tmp_path / "bad.csv", "--out", tmp_path / "o")
    assert code == 2 and "missing" in err


def test_sweep_end_to_end_without_tracking(tmp_path, small_dataset):
    code, out, err = run_cli("sweep", EXPERIMENTS / "nose_random.yaml", "--dataset",
                             small_dataset, "--no-tracking", "--quiet", "--workers", "1",
                             "--out", tmp_path / "sw")
    assert code == 0, err
    assert "selected: trial-" in out and "APCER max" in out
    assert (tmp_path / "sw" / "report" / "report.html").is_file()
    assert len((tmp_path / "sw" / "trials.csv").read_text().splitlines()) == 25


def test_mlflow_ui_prints_the_command(tmp_path):
    code, out, _ = run_cli("mlflow-ui", "--print-command", "--tracking-uri",
                           f"sqlite:///{tmp_path}/mlflow.db", "--port", "5055")
    assert code == 0
    assert "-m mlflow ui --backend-store-uri sqlite:///" in out and "--port 5055" in out


def test_engine_option():
    args = build_parser().parse_args(["engine-probe", "--engine", "dask"])
    assert args.engine == "dask"
    assert build_parser().parse_args(["engine-probe"]).engine == "process"
