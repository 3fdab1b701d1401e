"""`serve` and `purge` subcommands (hooks for the main `liveness-lab` command)."""

from __future__ import annotations

import argparse
import json
import time

from svc_helpers import jpeg, test_settings

from liveness_lab.service.cli import add_purge_command, add_serve_command, main
from liveness_lab.service.core import ChallengeService


def test_hooks_add_subcommands():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_serve_command(sub)
    add_purge_command(sub)
    args = parser.parse_args(["serve", "--host", "127.0.0.1", "--port", "9000"])
    assert args.port == 9000 and callable(args.func)
    args = parser.parse_args(["purge", "--older-than", "30d", "--dry-run"])
    assert args.older_than == "30d" and args.dry_run


def test_purge_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = test_settings(tmp_path, data_dir=tmp_path / ".liveness-lab")
    with ChallengeService(settings, clock=lambda: time.time() - 40 * 86400) as old:
        a = old.create_challenge({"imageWidth": 64, "imageHeight": 48})
        old.frames.put(f"{a.id}/1-aa.jpg", jpeg())
    with ChallengeService(settings) as svc:
        b = svc.create_challenge({"imageWidth": 64, "imageHeight": 48})
    assert main(["purge", "--older-than", "30d", "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["challenges"] == 1 and out["dryRun"] is True
    assert main(["purge", "--older-than", "30d"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"olderThanSeconds": 30 * 86400, "dryRun": False, "challenges": 1,
                   "frames": 1, "orphanFrameFolders": 0}
    with ChallengeService(settings) as svc:
        assert svc.challenges.get(a.id) is None and svc.challenges.get(b.id) is not None


def test_purge_needs_a_duration(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in list(__import__("os").environ) if k.startswith("LIVENESS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LIVENESS_RETENTION", "none")  # retention is on (24h) by default
    assert main(["purge"]) == 2
    assert "--older-than" in capsys.readouterr().err
    assert main(["purge", "--older-than", "soon"]) == 2
    monkeypatch.setenv("LIVENESS_RETENTION", "7d")
    assert main(["purge"]) == 0
    assert json.loads(capsys.readouterr().out)["olderThanSeconds"] == 7 * 86400


def test_serve_refuses_bad_settings_with_a_message(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIVENESS_TEST_SEED", "3")
    monkeypatch.delenv("LIVENESS_ENV", raising=False)
    assert main(["serve", "--port", "1"]) == 2
    assert "LIVENESS_ENV=test" in capsys.readouterr().err


def test_serve_refuses_a_profile_whose_evidence_never_arrives(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIVENESS_ENV", "test")
    monkeypatch.setenv("LIVENESS_TEST_SEED", "3")
    code = main(["serve", "--port", "1", "--analyzer", "local", "--profile", "rekognition",
                 "--set", "nose.pad_check=true"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "the service cannot start" in err and "nose.pad_check (passive PAD)" in err
    assert "--set nose.pad_check=false" in err and "Traceback" not in err
