"""Sweeps from experiments/*.yaml and studies, logged to a temporary SQLite MLflow store."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from liveness_lab.errors import ConfigError
from liveness_lab.evaluation.runs import ReplayOptions, ReportOptions, run_study, run_sweep
from liveness_lab.evaluation.sweep import expand_trials, load_sweep, parse_sweep
from liveness_lab.evaluation.tracking import Tracker

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def minimal(**over):
    d = {"study": "s", "dataset": {"path": "ds"},
         "search": {"method": "grid", "space": {"nose.min_dist": [0.1, 0.2]}}}
    d.update(over)
    return d


@pytest.mark.parametrize("data, message", [
    (minimal(datset={}), "unknown key(s) 'datset' in the sweep file"),
    (minimal(study=""), "study must name"),
    (minimal(search={"method": "grid", "space": {"nose.min_dist": {"low": 0, "high": 1}}}),
     "grid search needs a list"),
    (minimal(search={"method": "random", "space": {"nose.min_dist": [0.1]}}),
     "n_trials must be a positive integer"),
    (minimal(search={"method": "bayes"}), "grid or random"),
    (minimal(search={"space": {"min_dist": [1]}}), "written type.key"),
    (minimal(select={"metric": "accuracy"}), "unknown metric 'accuracy'"),
    (minimal(select={"constraints": {"max_apcer": "low"}}), "must be a number"),
    (minimal(base={"set": {"min_dist": 0.1}}), "base.set must map type.key"),
    (minimal(report={"split": "eval"}), "report.split must be"),
    ({"study": "s"}, "dataset.path must name"),
    (None, "empty"),
])
def test_parse_errors_name_the_problem(data, message):
    with pytest.raises(ConfigError) as e:
        parse_sweep(data, source="x.yaml")
    assert message in str(e.value) and str(e.value).startswith("x.yaml: ")


def test_bad_yaml_is_one_clear_error(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("study: x\n  - : [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML at line 2"):
        load_sweep(p)


def test_experiment_files_parse_and_expand():
    grid = load_sweep(EXPERIMENTS / "nose_tolerances.yaml")
    trials = expand_trials(grid)
    assert grid.method == "grid" and len(trials) == 15
    assert trials[1].varied == {"nose.trajectory_error_threshold": 0.01, "nose.min_dist": 0.14}
    assert grid.constraints == {"max_apcer": 0.2} and grid.select_metric == "bpcer"
    rnd = load_sweep(EXPERIMENTS / "nose_random.yaml")
    a, b = expand_trials(rnd), expand_trials(rnd)
    assert len(a) == rnd.n_trials == 24 and [t.sets for t in a] == [t.sets for t in b]
    for t in a:
        assert 0.04 <= t.sets["nose.min_dist"] <= 0.25
        assert 2.0 <= t.sets["nose.rotation_threshold"] <= 10.0
        assert t.sets["nose.min_dist_factor_not_rotated"] in (1.0, 1.25, 1.5, 2.0)
        t.replay_spec().resolve()  # every drawn configuration is valid
    for path in EXPERIMENTS.glob("*.yaml"):
        load_sweep(path)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return tmp_path_factory.mktemp("mlproject")


@pytest.fixture(scope="module")
def sweep_result(project, small_dataset):
    return run_sweep(EXPERIMENTS / "nose_tolerances.yaml", out_dir=project / "sweep",
                     dataset=small_dataset, tracker=Tracker(project_dir=project),
                     replay=ReplayOptions(workers=1, progress=False), log=None)


def client(project):
    from mlflow import MlflowClient
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def test_sweep_logs_parent_and_nested_runs(project, sweep_result):
    c = client(project)
    exp = c.get_experiment_by_name("nose-tolerances")
    assert exp is not None
    assert exp.artifact_location.startswith((project / "mlartifacts").as_uri())
    runs = c.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("liveness_lab.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 15
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["select.metric"] == "bpcer"
    assert parent.data.params["dataset_fingerprint"] and parent.data.params["code_version"]
    assert "test.NOSE.acer" in parent.data.metrics
    names = {a.path for a in c.list_artifacts(parent.info.run_id)}
    assert {"trials.csv", "results.csv", "report"} <= names
    report_files = {a.path for a in c.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/det-NOSE.png"} <= report_files
    grid = set()
    for ch in children:
        p = ch.data.params
        grid.add((float(p["nose.trajectory_error_threshold"]), float(p["nose.min_dist"])))
        assert p["profile"] == "seed" and p["dataset_fingerprint"]
        assert "pose.max_rotation" in p           # every threshold is a param
        assert "dev.acer" in ch.data.metrics and not any(k.startswith("test.")
                                                        for k in ch.data.metrics)
        assert [a.path for a in c.list_artifacts(ch.info.run_id)] == ["results.csv"]
    assert len(grid) == 15
    selected = [ch for ch in children if ch.data.tags.get("liveness_lab.selected") == "true"]
    assert len(selected) == 1
    assert parent.data.params["best.run_id"] == selected[0].info.run_id


def test_sweep_selects_on_dev_by_the_stated_rule(sweep_result):
    t = sweep_result.trials
    limit = sweep_result.spec.constraints["max_apcer"]
    feasible = t[t["max_apcer"] <= limit]
    pool = feasible if len(feasible) else t
    best = pool.sort_values(["bpcer", "acer", "trial"]).iloc[0]
    assert sweep_result.best.index == best["trial"]
    assert t.loc[t["selected"], "trial"].tolist() == [best["trial"]]
    # trials only ever saw the dev split; the report is on test, calibrated on dev
    dev = pd.read_csv(sweep_result.out_dir / "trials" / "000" / "results.csv")
    assert set(dev["split"]) == {"dev"} and set(dev["challenge_type"]) == {"NOSE"}
    m = sweep_result.test_metrics["by_type"]["NOSE"]
    assert m["operating_points"] and m["operating_points"][0]["calibrated_on"] == "calibration"
    html = sweep_result.report.html.read_text()
    assert "Sweep trials" in html and "selected the lowest bpcer" in html


def test_study_compares_profiles(project, small_dataset):
    from liveness_lab.config import Profile, register_profile
    from liveness_lab.evaluation.tracking import load_run

    register_profile(Profile("eval-test-strict", "stricter NOSE distance (test only)",
                             {"NOSE": {"min_dist": 0.2}}), replace=True)
    res = run_study(small_dataset, profiles=["seed", "eval-test-strict"], out_dir=project / "demo",
                    tracker=Tracker(project_dir=project),
                    replay=ReplayOptions(workers=1, progress=False),
                    report=ReportOptions(n_bootstrap=200), log=None)
    html = (project / "demo" / "report.html").read_text()
    md = (project / "demo" / "report.md").read_text()
    for text in (html, md):
        assert "seed" in text and "eval-test-strict" in text and "iBeta-style summary" in text
    seed, strict = (res.metrics[p]["by_type"]["NOSE"] for p in ("seed", "eval-test-strict"))
    assert strict["bpcer"] >= seed["bpcer"] and strict["max_apcer"] <= seed["max_apcer"]
    c = client(project)
    parent = c.get_run(res.parent_run_id)
    assert parent.data.params["profiles"] == "seed,eval-test-strict"
    for prof, rid in res.child_run_ids.items():
        run = c.get_run(rid)
        assert run.data.tags["mlflow.parentRunId"] == res.parent_run_id
        assert run.data.params["profile"] == prof
        assert not math.isnan(run.data.metrics["test.NOSE.acer"])
    strict_params = c.get_run(res.child_run_ids["eval-test-strict"]).data.params
    assert float(strict_params["nose.min_dist"]) == 0.2
    loaded = load_run(res.child_run_ids["seed"], tracking_uri=f"sqlite:///{project / 'mlflow.db'}",
                      dst=project / "dl")
    assert Path(loaded["results_path"]).read_text().startswith("session_id,")


def test_parent_run_carries_thresholds_yaml_lock_and_search_space(project, sweep_result):
    """What a researcher needs to reuse the sweep, read back with MlflowClient."""
    import yaml

    from liveness_lab.evaluation.tracking import lock_file

    c = client(project)
    parent = c.get_run(sweep_result.parent_run_id)
    m, p, tags = parent.data.metrics, parent.data.params, parent.data.tags
    # the chosen score thresholds (chosen on dev, applied on test) and per-species counts
    nose = sweep_result.test_metrics.by_type["NOSE"]
    bp20 = nose.point("apcer", 0.05)
    assert m["test.NOSE.threshold.bpcer20"] == pytest.approx(bp20.threshold)
    assert m["test.NOSE.bpcer20"] == pytest.approx(bp20.bpcer)
    for sp, v in nose.species.items():
        assert m[f"test.NOSE.apcer.{sp}.accepted"] == v.accepted
        assert m[f"test.NOSE.apcer.{sp}.total"] == v.total
        assert m[f"test.NOSE.apcer.{sp}.ci_high"] == pytest.approx(v.ci[1])
    # base profile, search space, bootstrap count and seed
    spec = sweep_result.spec
    assert p["base.profile"] == "seed"
    assert p["search.space.nose.min_dist"] == str(spec.space["nose.min_dist"])
    assert p["report.n_bootstrap"] == str(spec.n_bootstrap)
    assert p["report.bootstrap_seed"] == str(spec.seed)
    # the YAML as run, and the lock file
    with tempfile.TemporaryDirectory() as tmp:
        got = Path(c.download_artifacts(parent.info.run_id, "sweep.yaml", tmp))
        assert yaml.safe_load(got.read_text()) == yaml.safe_load(
            (EXPERIMENTS / "nose_tolerances.yaml").read_text())
        lock = lock_file()
        if lock is not None:
            got = Path(c.download_artifacts(parent.info.run_id,
                                            "environment/requirements-dev.lock", tmp))
            assert got.read_bytes() == lock.read_bytes()
            assert tags["liveness_lab.lock_file"] == "environment/requirements-dev.lock"
        else:
            assert tags["liveness_lab.lock_file"].startswith("not found")
    # MLflow's standard source tags
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"].startswith("liveness-lab sweep ")
    assert "liveness_lab.test_violations" in tags


def test_trials_csv_has_counts_and_intervals(sweep_result):
    t = pd.read_csv(sweep_result.out_dir / "trials.csv")
    for col in ("n_bona_fide", "n_attack", "bpcer_rejected", "bpcer_ci_low", "bpcer_ci_high",
                "max_apcer_ci_low", "max_apcer_ci_high", "meets_constraints", "selected"):
        assert col in t, col
    from liveness_lab.evaluation.intervals import wilson_interval
    for r in t.itertuples():
        low, high = wilson_interval(int(r.bpcer_rejected), int(r.n_bona_fide))
        assert (r.bpcer_ci_low, r.bpcer_ci_high) == pytest.approx((low, high))
        assert r.meets_constraints == (r.max_apcer <= sweep_result.spec.constraints["max_apcer"])


def test_a_constraint_broken_on_test_is_flagged():
    from liveness_lab.evaluation.runs import _test_violations
    spec = parse_sweep(minimal(select={"metric": "bpcer", "constraints": {"max_apcer": 0.2,
                                                                          "NOSE.bpcer": 0.1}}))
    dev = {"dev.max_apcer": 0.15, "dev.NOSE.bpcer": 0.05}
    test = {"test.max_apcer": 0.30, "test.NOSE.bpcer": 0.08}
    flags = _test_violations(spec, test, dev, "dev.", "test.")
    assert flags == ["max_apcer <= 0.2 held on dev (0.15) but not on test (0.3)"]
    assert _test_violations(spec, dev | {"test.max_apcer": 0.2, "test.NOSE.bpcer": 0.1}, dev,
                            "dev.", "test.") == []


def test_mlflow_ui_uses_one_worker_by_default(tmp_path):
    from evaluation_cli_helpers import run_cli
    code, out, _ = run_cli("mlflow-ui", "--print-command", "--tracking-uri",
                           f"sqlite:///{tmp_path}/mlflow.db")
    assert code == 0 and "--workers 1" in out
    code, out, _ = run_cli("mlflow-ui", "--print-command", "--workers", "3")
    assert "--workers 3" in out
