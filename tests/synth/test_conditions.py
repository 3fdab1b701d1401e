"""Fixed capture conditions: each changes what it names and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.synth.conditions import Conditions
from liveness_lab.synth.traces import simulate_session


def _params(ctype: str) -> dict:
    return dict(default_registry().get(ctype).generate_params(
        {"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(1)))


NOSE = _params("NOSE")
TURN = _params("HEAD_TURN")


def _rate(session) -> float:
    ts = np.array([f.timestamp for f in session.frames], float)
    return 1000.0 / float(np.median(np.diff(ts)))


def _poses(session) -> np.ndarray:
    return np.array([[f.faces[0].pose.yaw, f.faces[0].pose.pitch]
                     for f in session.frames if len(f.faces) == 1])


def test_default_conditions_leave_the_session_unchanged():
    a = simulate_session("NOSE", NOSE, seed=11)
    b = simulate_session("NOSE", NOSE, seed=11, conditions=Conditions())
    assert a.to_dict() == b.to_dict()
    assert "conditions" not in a.metadata


@pytest.mark.parametrize("fps", [5.0, 30.0])
def test_a_fixed_frame_rate_films_at_that_rate(fps):
    s = simulate_session("HEAD_TURN", TURN, seed=4, conditions=Conditions(fps=fps))
    assert _rate(s) == pytest.approx(fps, rel=0.15)
    assert s.metadata["fps"] == pytest.approx(fps)
    assert s.metadata["conditions"] == {"fps": fps}


def test_a_camera_below_the_eyes_shows_a_resting_pitch():
    base = _poses(simulate_session("HEAD_TURN", TURN, seed=4))
    low = _poses(simulate_session("HEAD_TURN", TURN, seed=4,
                                  conditions=Conditions(mount_pitch=15.0)))
    # the same person and motions, every reported pitch 15 degrees higher (noise aside)
    assert len(low) == pytest.approx(len(base), abs=2)
    assert np.median(low[:, 1]) - np.median(base[:, 1]) == pytest.approx(15.0, abs=1.5)
    assert np.median(low[:, 0]) - np.median(base[:, 0]) == pytest.approx(0.0, abs=1.5)


def test_more_detector_noise_spreads_the_pose():
    def spread(noise: float) -> float:
        s = simulate_session("NOSE", NOSE, seed=5, conditions=Conditions(noise=noise))
        yaw = _poses(s)[:, 0]
        return float(np.median(np.abs(np.diff(yaw))))
    assert spread(3.0) > 2.0 * spread(1.0)


def test_slow_reactions_start_later():
    fast = simulate_session("HEAD_TURN", TURN, seed=8)
    slow = simulate_session("HEAD_TURN", TURN, seed=8, conditions=Conditions(reaction_scale=3.0))
    assert slow.frames[-1].timestamp - slow.frames[0].timestamp > (
        fast.frames[-1].timestamp - fast.frames[0].timestamp)


@pytest.mark.parametrize("bad, word", [({"fps": 0.5}, "fps"), ({"mount_pitch": 80}, "mount_pitch"),
                                       ({"noise": -1}, "noise"), ({"reaction_scale": 0}, "reaction"),
                                       ({"fps": "fast"}, "fps"),
                                       ({"fps": 30, "exposure_ms": 66}, "frame interval")])
def test_bad_conditions_name_what_is_wrong(bad, word):
    with pytest.raises(ValueError, match=word):
        Conditions(**bad)


def test_unknown_condition_names_are_refused():
    with pytest.raises(ValueError, match="unknown condition.*gamma"):
        Conditions.from_mapping({"gamma": 2})
    assert Conditions.from_mapping({"fps": "7"}) == Conditions(fps=7.0)


def test_synth_command_fixes_conditions(tmp_path, capsys):
    import argparse
    import json

    from liveness_lab.synth.traces import add_synth_command
    parser = argparse.ArgumentParser()
    add_synth_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "slow"
    args = parser.parse_args(["synth", "--out", str(out), "--sessions-per-class", "1",
                              "--types", "HEAD_TURN", "--profile", "rekognition",
                              "--condition", "fps=6", "--condition", "mount_pitch=12"])
    assert args.func(args) == 0
    docs = [json.loads(p.read_text()) for p in (out / "sessions").glob("*.json")]
    assert docs and all(d["metadata"]["conditions"] == {"fps": 6.0, "mount_pitch": 12.0}
                        for d in docs)
    bad = parser.parse_args(["synth", "--out", str(tmp_path / "bad"), "--condition", "fps"])
    assert bad.func(bad) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    unknown = parser.parse_args(["synth", "--out", str(tmp_path / "u"), "--condition", "iso=800"])
    assert unknown.func(unknown) == 2
    assert "unknown condition(s) iso" in capsys.readouterr().err
