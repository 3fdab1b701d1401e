"""HEAD_TURN for people who undershoot, come back late, or jitter around a threshold (issue 11).

Three hardened rules, each shown failing a bona fide user without it:

* ``turn_aware_rest``: a pose held short of the threshold toward the wanted direction is an
  undershot turn, not a new resting pose (re-basing there made the way back look like a turn
  the other way); the resting pose is re-measured before every turn;
* ``late_return``: a turn state that sees the turn just done again waits for the user;
* ``hold_ratio``: a hold, once begun beyond the thresholds, continues on frames beyond that
  fraction of them (pose estimates jitter by a few degrees), never on a centred frame.
"""

from __future__ import annotations

import pytest

from builders import T0, make_face, make_session
from liveness_lab.challenges import default_registry
from liveness_lab.config import resolve_configs
from liveness_lab.errors import ConfigError
from liveness_lab.verify import verify_session

BASE = ["head_turn.rest_baseline=true"]
AWARE = ["head_turn.turn_aware_rest=true"]
LATE = ["head_turn.late_return=true"]
HYST = ["head_turn.hold_ratio=0.75"]


def at(yaw: float, pitch: float):
    """A 3D head at (yaw, pitch): the nose leads the turn (parallax)."""
    return make_face(yaw=yaw, pitch=pitch, turn=0.25 * (yaw / 28.0 + pitch / 40.0))


def run(poses, sequence, sets, step_ms=100):
    params = {"imageWidth": 640, "imageHeight": 480, "sequence": list(sequence)}
    frames = [(T0 + step_ms * i, [at(*p)]) for i, p in enumerate(poses)]
    return verify_session(make_session("HEAD_TURN", params, frames),
                          configs=resolve_configs("seed", sets=BASE + list(sets)))


CENTRE, LEFT, UP, DOWN = (0.0, 0.0), (26.0, 0.0), (0.0, 21.0), (0.0, -21.0)


def test_an_undershot_turn_held_is_not_taken_as_a_new_rest():
    seq = ["DOWN", "UP", "LEFT"]
    poses = [CENTRE] * 3 + [(0.0, -12.0)] * 8 + [DOWN] * 3 + [CENTRE] * 2 \
        + [UP] * 3 + [CENTRE] * 2 + [LEFT] * 3 + [CENTRE] * 2
    v = run(poses, seq, [])
    assert not v.success and v.code == "head_turn.wrong_direction", v.reason
    assert run(poses, seq, AWARE).success


def test_a_correction_away_from_the_turn_still_moves_the_rest():
    # settled 9 degrees up from where centring saw him, before turning down: a new rest
    seq = ["DOWN", "LEFT", "UP"]
    poses = [(0.0, -9.0)] * 2 + [CENTRE] * 5 + [DOWN] * 3 + [CENTRE] * 2 + [LEFT] * 3 \
        + [CENTRE] * 2 + [UP] * 3 + [CENTRE] * 2
    assert run(poses, seq, AWARE).success


def test_a_user_still_holding_the_last_turn_is_waited_for():
    seq = ["LEFT", "UP", "DOWN"]
    poses = [CENTRE] * 3 + [LEFT] * 3 + [(8.0, 0.0)] + [LEFT] * 2 + [CENTRE] * 2 \
        + [UP] * 3 + [CENTRE] * 2 + [DOWN] * 3 + [CENTRE] * 2
    v = run(poses, seq, [])
    assert not v.success and v.code == "head_turn.wrong_direction" and v.final_state == "turn_2"
    assert run(poses, seq, LATE).success


def test_late_return_does_not_excuse_another_wrong_turn():
    seq = ["LEFT", "UP", "DOWN"]
    poses = [CENTRE] * 3 + [LEFT] * 3 + [CENTRE] * 2 + [DOWN] * 3 + [CENTRE] * 2
    v = run(poses, seq, LATE)
    assert not v.success and v.code == "head_turn.wrong_direction" and v.final_state == "turn_2"


def test_a_hold_jittering_around_the_threshold_continues_with_hysteresis():
    seq = ["DOWN", "LEFT"]
    jitter = [(0.0, -16.0), (0.0, -13.0)] * 3
    poses = [CENTRE] * 3 + jitter + [CENTRE] * 2 + [LEFT] * 3 + [CENTRE] * 2
    assert not run(poses, seq, []).success
    assert run(poses, seq, HYST).success


def test_hysteresis_never_holds_on_a_centred_frame():
    seq = ["DOWN", "LEFT"]
    # -11.5 is beyond 0.75 x 15 but within the 12-degree centre: it ends the hold
    poses = [CENTRE] * 3 + [(0.0, -16.0), (0.0, -11.5)] * 3 + [CENTRE] * 2 + [LEFT] * 3 \
        + [CENTRE] * 2
    assert not run(poses, seq, HYST).success


def test_hold_ratio_is_validated():
    with pytest.raises(ConfigError, match="hold_ratio must be in"):
        resolve_configs("seed", sets=["head_turn.hold_ratio=0"])


@pytest.mark.parametrize("profile", ["rekognition", "recommended"])
def test_the_hardened_profiles_turn_them_on(profile):
    cfg = resolve_configs(profile).for_type(default_registry().get("HEAD_TURN"))
    assert cfg.turn_aware_rest and cfg.late_return and cfg.hold_ratio == 0.75
    seed = resolve_configs("seed").for_type(default_registry().get("HEAD_TURN"))
    assert not seed.turn_aware_rest and not seed.late_return and seed.hold_ratio == 1.0
