"""The command line: verify, evaluate (per the spec), challenge-types, error handling."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders import NOSE_PARAMS, T0, make_face
from liveness_lab.sessions import Frame, Session, write_dataset, write_session
from challenges.test_nose_golden import nose_frames

SPEC_COLUMNS = ["session_id", "label", "pai_species", "challenge_type", "success", "reason"]


ROOT = Path(__file__).resolve().parents[1]
# this tree's copy of the test plugin first (the installed one may be another checkout's)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(ROOT / "tests" / "plugin_pkg"), str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")]
                                                       if p])}


def cli(*args, check=False):
    return subprocess.run([sys.executable, "-m", "liveness_lab.cli", *map(str, args)],
                          capture_output=True, text=True, check=check, env=ENV)


def _session(sid, frames, label="bona_fide", species=None, subject="subj-1", split="test"):
    return Session(sid, "NOSE", dict(NOSE_PARAMS),
                   tuple(Frame(ts, tuple(f)) for ts, f in frames), label, species, subject, split)


@pytest.fixture()
def dataset(tmp_path):
    live = nose_frames()
    photo = nose_frames(final_turn=0.0, final_yaw=0.0)
    pose_params = {"imageWidth": 640, "imageHeight": 480, "pose": {"eyes": "OPEN", "mouth": "CLOSED"}}
    sessions = [
        _session("bf-1", live), _session("bf-2", live[:3]),  # the second runs out of frames
        _session("at-1", photo, "attack", "print_moved", "subj-2"),
        _session("at-2", live, "attack", "replay_other_challenge", "subj-3"),
        Session("pose-1", "POSE", pose_params, (Frame(T0, (make_face(),)),), "attack",
                "print_static", "subj-4", "dev"),
    ]
    return write_dataset(tmp_path / "ds", sessions)


def test_evaluate_writes_the_spec_columns_and_prints_metrics(dataset, tmp_path):
    out = tmp_path / "results.csv"
    r = cli("evaluate", dataset, "--output", out, "--workers", "2", "--quiet", "--profile", "seed")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:6] == SPEC_COLUMNS
    by_id = {row["session_id"]: row for row in rows}
    assert by_id["bf-1"]["success"] == "true" and by_id["bf-2"]["success"] == "false"
    assert by_id["bf-2"]["decided"] == "false"
    assert by_id["at-1"]["reason"].startswith("landmark histogram distance")
    assert by_id["at-2"]["success"] == "true" and by_id["pose-1"]["success"] == "true"
    assert "BPCER" in r.stdout and "APCER replay_other_challenge" in r.stdout
    assert "ACER (OULU-NPU convention)" in r.stdout
    assert "(1/2 bona fide rejected)" in r.stdout and "== ALL: 2 bona fide, 3 attacks" in r.stdout


def test_evaluate_applies_set_overrides(dataset, tmp_path):
    out = tmp_path / "r.csv"
    cli("evaluate", dataset, "-o", out, "--set", "nose.min_dist=0.5", "--workers", "1", "-q",
        "--profile", "seed", check=True)
    by_id = {row["session_id"]: row for row in csv.DictReader(out.open())}
    assert by_id["bf-1"]["success"] == "false"


def test_evaluate_malformed_session_names_file_and_field(dataset):
    path = dataset / "sessions" / "at-1.json"
    d = json.loads(path.read_text())
    d["frames"][2]["timestamp"] = "later"
    path.write_text(json.dumps(d))
    r = cli("evaluate", dataset, "--quiet")
    assert r.returncode == 2
    assert "at-1.json" in r.stderr and "frames[2].timestamp" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("change,field,message", [
    ({"imageWidth": "wide"}, "challenge.params.imageWidth", "must be an integer, got 'wide'"),
    ({"noseTop": None}, "challenge.params.noseTop", "is missing"),
])
def test_malformed_params_exit_non_zero_naming_file_and_field(dataset, change, field, message):
    path = dataset / "sessions" / "bf-2.json"
    d = json.loads(path.read_text())
    for key, value in change.items():
        if value is None:
            d["challenge"]["params"].pop(key)
        else:
            d["challenge"]["params"][key] = value
    path.write_text(json.dumps(d))
    for args in (["verify", path], ["evaluate", dataset, "-q", "--workers", "1"]):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout)
        assert "bf-2.json" in r.stderr and field in r.stderr and message in r.stderr
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_evaluate_unknown_type_and_missing_dataset(dataset, tmp_path):
    path = dataset / "sessions" / "bf-1.json"
    d = json.loads(path.read_text())
    d["challenge"]["type"] = "WINK"
    path.write_text(json.dumps(d))
    (dataset / "manifest.csv").write_text((dataset / "manifest.csv").read_text().replace(
        "bf-1.json,bona_fide,,subj-1,test,NOSE", "bf-1.json,bona_fide,,subj-1,test,WINK"))
    r = cli("evaluate", dataset, "-q", "--workers", "1")
    assert r.returncode == 2 and "unknown challenge type 'WINK'" in r.stderr
    assert "challenge.type" in r.stderr
    r = cli("evaluate", tmp_path / "nowhere", "-q")
    assert r.returncode == 2 and "not a dataset directory" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--set", "nose.bogus=1"], "unknown key 'bogus'"),
    (["--set", "nose.min_dist=abc"], "min_dist must be a finite float"),
    (["--set", "min_dist=1"], "must name its challenge type"),
    (["--set", "wink.x=1"], "unknown challenge type 'WINK'"),
    (["--profile", "fastest"], "unknown profile 'fastest'; known: recommended, rekognition, seed"),
])
def test_bad_configuration_is_a_clear_error(dataset, args, message):
    r = cli("evaluate", dataset, "-q", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_verify_prints_verdict_and_trace(tmp_path):
    s = _session("bf-1", nose_frames())
    path = write_session(s, tmp_path / "s.json")
    r = cli("verify", path, "--profile", "seed", check=True)
    assert "verdict: PASS" in r.stdout and "[nose.ok]" in r.stdout
    assert "histogram_distance" in r.stdout and "nose_state" in r.stdout
    r = cli("verify", path, "--profile", "seed", "--set", "nose.min_dist=0.9", "--json",
            check=True)
    assert json.loads(r.stdout)["code"] == "nose.histogram_distance"


def test_verify_missing_file_is_a_clear_error(tmp_path):
    r = cli("verify", tmp_path / "nope.json")
    assert r.returncode == 2 and "cannot read the file" in r.stderr


def test_challenge_types_lists_keys_with_defaults():
    r = cli("challenge-types", check=True)
    assert "nose.trajectory_error_threshold = 0.02" in r.stdout
    assert "pose.min_face_confidence = 90.0" in r.stdout
    assert "STILL" not in r.stdout  # the test plugin is declared listed=False
    data = json.loads(cli("challenge-types", "--json", check=True).stdout)
    assert data["NOSE"]["config"]["min_dist"] == 0.1 and data["CUSTOM"]["random_selection"] is False


def test_the_test_plugin_is_hidden_from_error_lists_but_still_works(dataset, tmp_path):
    r = cli("evaluate", dataset, "-q", "--set", "wink.x=1")
    assert r.returncode == 2 and "unknown challenge type 'WINK'" in r.stderr
    assert "STILL" not in r.stderr and "NOSE" in r.stderr
    data = json.loads(cli("challenge-types", "--json", check=True).stdout)
    assert "STILL" not in data and "NOSE" in data
    r = cli("evaluate", dataset, "-q", "--workers", "1", "--profile", "seed",
            "--set", "still.frames_required=5")
    assert r.returncode == 0, r.stderr  # named, it works


def test_every_option_has_help_text():
    from liveness_lab.cli import build_parser
    import argparse
    parser = build_parser()
    missing = []
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            if not action.help:
                missing.append(f"{name} {action.option_strings[0]}")
    assert not missing, missing


@pytest.mark.parametrize("args,message", [
    (["--output", "/etc/hostname/r.csv"], "--output /etc/hostname/r.csv: the folder "
                                          "/etc/hostname is not a directory"),
    (["--output", "{tmp}"], "is a directory; give a file name"),
    (["--output", "{tmp}/missing/r.csv"], "does not exist; create it"),
    (["--analyzer", "nope"], "unknown analyzer 'nope'; known: local, mesh, recorded, rekognition"),
    (["--workers", "0"], "--workers must be a positive number"),
    (["--split", "train"], "has no session in split 'train'"),
])
def test_evaluate_checks_arguments_before_the_replay(dataset, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = cli("evaluate", dataset, "-q", "--workers", "1", *args)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stdout == "" and r.stderr.count("\n") == 1  # nothing was replayed


def test_header_only_manifest_is_an_error(dataset, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.csv").write_text((dataset / "manifest.csv").read_text().splitlines()[0]
                                        + "\n")
    for command in ("evaluate", "analyze"):
        r = cli(command, empty, "-q")
        assert r.returncode == 2 and "lists no session (only a header)" in r.stderr, r.stderr


def test_evaluate_prints_what_it_evaluated(dataset):
    r = cli("evaluate", dataset, "-q", "--workers", "1", "--profile", "seed", "--split", "test")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[0]
    assert head.startswith("profile seed; analyzer mesh")
    assert "5 sessions (dev 1, test 4)" in head
    assert "metrics on split test (4 sessions)" in head and "Wilson" in head
    assert "== NOSE: 2 bona fide, 2 attacks" in r.stdout and "POSE" not in r.stdout
    assert "BPCER" in r.stdout and "[" in r.stdout.split("BPCER", 1)[1].splitlines()[0]


@pytest.mark.parametrize("args,message", [
    (["--bootstrap", "-5"], "--bootstrap must be 0 (no bootstrap) or a positive number"),
    (["--out", "/etc/hostname/r"], "--out /etc/hostname/r cannot be created"),
])
def test_report_checks_arguments_first(tmp_path, args, message):
    results = tmp_path / "r.csv"
    results.write_text("session_id,label,pai_species,challenge_type,success,reason\n")
    r = cli("report", results, "--out", tmp_path / "rep", *args)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_mlflow_ui_refuses_a_bad_port():
    r = cli("mlflow-ui", "--port", "99999")
    assert r.returncode == 2 and "--port must be 1..65535, got 99999" in r.stderr
