"""HEAD_TURN: a random sequence of directions, each held, in order; 3D consistency."""

from __future__ import annotations

import pytest

from builders import T0, make_face, make_session
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.challenges.head_turn import (DIRECTIONS, HeadTurnConfig, head_direction,
                                               head_turn_params)
from liveness_lab.config import resolve_configs
from liveness_lab.verify import verify_session

ANGLES = {"LEFT": (28.0, 0.0), "RIGHT": (-28.0, 0.0), "UP": (0.0, 20.0), "DOWN": (0.0, -20.0)}


def turned(direction: str | None, *, flat: bool = False):
    """A face turned that way: its landmarks shift with depth (a head), or not at all (flat)."""
    if direction is None:
        return make_face()
    yaw, pitch = ANGLES[direction]
    if flat:
        return make_face(yaw=yaw, pitch=pitch)
    return make_face(yaw=yaw, pitch=pitch, turn=0.25 * (yaw / 28.0 + pitch / 40.0))


def session_frames(sequence, *, flat=False, hold=3, centre=3):
    faces = [turned(None)] * centre
    for d in sequence:
        faces += [turned(d, flat=flat)] * hold + [turned(None)] * 2
    return [(T0 + 100 * i, [f]) for i, f in enumerate(faces)]


def run(frames, sequence, sets=(), profile="seed"):
    params = {"imageWidth": 640, "imageHeight": 480, "sequence": list(sequence)}
    return verify_session(make_session("HEAD_TURN", params, frames),
                          configs=resolve_configs(profile, sets=sets))


@pytest.mark.parametrize("sequence", [["LEFT", "UP"], ["DOWN", "RIGHT", "UP"],
                                      ["RIGHT", "LEFT", "DOWN", "UP"]])
def test_the_requested_sequence_passes(sequence):
    v = run(session_frames(sequence), sequence)
    assert v.success and v.code == "head_turn.ok", v.reason
    turns = [r["state"] for r in v.trace.rows if r["code"] == "head_turn.turned"]
    assert turns == [f"turn_{k + 1}" for k in range(len(sequence))]


def test_another_sequence_fails_at_its_first_different_turn():
    v = run(session_frames(["LEFT", "DOWN"]), ["LEFT", "UP"])
    assert not v.success and v.code == "head_turn.wrong_direction"
    assert v.final_state == "turn_2"


def test_a_prefix_is_not_enough():
    v = run(session_frames(["LEFT", "UP"]), ["LEFT", "UP", "RIGHT"])
    assert not v.success and not v.decided and v.final_state == "turn_3"


def test_a_turn_must_be_held():
    assert not run(session_frames(["LEFT", "UP"], hold=1), ["LEFT", "UP"]).success
    assert run(session_frames(["LEFT", "UP"], hold=1), ["LEFT", "UP"],
               ["head_turn.hold_frames=1"]).success


def test_a_flat_picture_turned_fails_the_parallax_check():
    v = run(session_frames(["LEFT", "UP"], flat=True), ["LEFT", "UP"])
    assert not v.success and v.code == "head_turn.parallax"
    assert run(session_frames(["LEFT", "UP"], flat=True), ["LEFT", "UP"],
               ["head_turn.parallax_check=false"]).success


def test_the_first_centred_face_is_required():
    frames = [(T0 + 100 * i, [turned("LEFT")]) for i in range(20)]
    v = run(frames, ["LEFT", "UP"])
    assert not v.success and v.final_state == "centre_state"


def test_second_face_fails():
    frames = session_frames(["LEFT", "UP"])
    frames[5] = (frames[5][0], frames[5][1] * 2)
    assert run(frames, ["LEFT", "UP"]).code == "head_turn.several_faces"


def test_identity_change_fails_under_recommended():
    ext = lambda d: {"LivenessLab": {"Descriptor": [d] * 128, "PadScore": 0.9}}  # noqa: E731
    frames = session_frames(["LEFT", "UP", "RIGHT"])
    same = [(ts, [f.replace(extra=ext(0.0)) for f in faces]) for ts, faces in frames]
    assert run(same, ["LEFT", "UP", "RIGHT"], profile="recommended").success
    swapped = same[:3] + [(ts, [f.replace(extra=ext(0.2)) for f in faces])
                          for ts, faces in frames[3:]]
    assert run(swapped, ["LEFT", "UP", "RIGHT"], profile="recommended").code == "identity.changed"


def test_head_direction_uses_the_larger_relative_excess():
    assert head_direction(25, 0, 20, 15) == "LEFT"
    assert head_direction(-25, 0, 20, 15) == "RIGHT"
    assert head_direction(21, 18, 20, 15) == "UP"          # 18/15 > 21/20
    assert head_direction(10, -5, 20, 15) is None


def test_params_are_random_sequences_without_immediate_repeats():
    lengths, firsts = set(), set()
    for i in range(200):
        p = head_turn_params({"imageWidth": 640, "imageHeight": 480}, HeadTurnConfig(),
                             SeededRandom(i))
        seq = p["sequence"]
        assert all(d in DIRECTIONS for d in seq)
        assert all(a != b for a, b in zip(seq, seq[1:]))
        lengths.add(len(seq))
        firsts.add(seq[0])
    assert lengths == {2, 3, 4} and firsts == set(DIRECTIONS)
    cfg = resolve_configs("recommended").for_type(default_registry().get("HEAD_TURN"))
    assert len(head_turn_params({"imageWidth": 640, "imageHeight": 480}, cfg,
                                SeededRandom(1))["sequence"]) >= 3


def test_bad_params_fail_with_a_reason():
    v = run(session_frames(["LEFT"]), ["SIDEWAYS"])
    assert not v.success and v.code == "state_error" and "sequence" in v.reason
