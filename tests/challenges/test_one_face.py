"""The shared face step (challenges/one_face.py): one face per frame, track continuity for
every type, and jump limits that follow head physics (a turning head is not a jump)."""

from __future__ import annotations

import math

import pytest

from builders import T0, make_face, make_session
from liveness_lab.challenges.face_track import track_jump
from liveness_lab.config import resolve_configs
from liveness_lab.verify import verify_session

BOX = (0.3125, 0.1667, 0.375, 0.6667)
TURN_SEQ = ["LEFT", "UP"]
TURN_ANGLES = {"LEFT": (28.0, 0.0), "UP": (0.0, 22.0)}


def turn_face(direction=None, *, box=BOX):
    yaw, pitch = TURN_ANGLES[direction] if direction else (0.0, 0.0)
    return make_face(yaw=yaw, pitch=pitch, box=box, turn=0.25 * (yaw / 28.0 + pitch / 40.0))


def turn_faces(first_faces=(), gap=0):
    """A HEAD_TURN answer, with ``first_faces`` centred faces before it and ``gap`` frames
    without a face after them (a photo pulled away, the attacker's face behind it)."""
    faces = [[f] for f in first_faces] + [[]] * gap + [[turn_face()]] * 3
    for d in TURN_SEQ:
        faces += [[turn_face(d)]] * 3 + [[turn_face()]] * 2
    return faces


def run(ctype, params, faces, sets=(), step_ms=100, stamps=None):
    stamps = stamps or [T0 + step_ms * i for i in range(len(faces))]
    return verify_session(make_session(ctype, params, list(zip(stamps, faces))),
                          configs=resolve_configs("seed", sets=list(sets)))


TURN_PARAMS = {"imageWidth": 640, "imageHeight": 480, "sequence": TURN_SEQ}
TRACK = ["head_turn.continuity_check=true"]


def test_head_turn_passes_with_the_continuity_check():
    v = run("HEAD_TURN", TURN_PARAMS, turn_faces(), TRACK)
    assert v.success, v.reason


def test_a_photo_swapped_for_a_live_face_breaks_the_track_in_any_type():
    photo = make_face(box=(0.2, 0.2, 0.45, 0.6))          # held closer, elsewhere
    faces = turn_faces(first_faces=[photo] * 3, gap=3)   # 3 face-less frames: 450 ms
    assert run("HEAD_TURN", TURN_PARAMS, faces, step_ms=150).success   # without the check
    v = run("HEAD_TURN", TURN_PARAMS, faces, TRACK, step_ms=150)
    assert not v.success and v.code == "head_turn.track_gap", v.reason
    quick = turn_faces(first_faces=[photo] * 3, gap=1)    # swapped within one frame: a jump
    v = run("HEAD_TURN", TURN_PARAMS, quick, TRACK)
    assert not v.success and v.code == "head_turn.track_jump", v.reason


def test_a_client_stall_is_not_the_face_leaving():
    faces = turn_faces()
    stamps = [T0 + 100 * i + (700 if i >= 2 else 0) for i in range(len(faces))]  # 700 ms stall
    v = run("HEAD_TURN", TURN_PARAMS, faces, TRACK, stamps=stamps)
    assert v.success, v.reason
    missing = faces[:2] + [[]] * 6 + faces[2:]            # the same time, filmed without a face
    v = run("HEAD_TURN", TURN_PARAMS, missing, TRACK + ["head_turn.max_missing_faces=10"])
    assert not v.success and v.code == "head_turn.track_gap", v.reason


def test_blink_has_the_same_continuity_check():
    params = {"imageWidth": 640, "imageHeight": 480, "blinks": 1, "windowMs": 5000}
    photo = make_face(box=(0.2, 0.2, 0.45, 0.6))
    live = make_face()
    faces = [[photo]] * 3 + [[]] * 4 + [[live]] * 6
    v = run("BLINK", params, faces, ["blink.continuity_check=true", "blink.max_missing_faces=6"])
    assert not v.success and v.code == "blink.track_gap", v.reason


def test_a_head_turn_moves_the_box_without_being_a_jump():
    a = make_face(yaw=0.0, pitch=0.0)
    # 20 degrees of yaw in 100 ms (a brisk turn): the box centre moves ~0.24 face widths and
    # narrows to cos(20) = 0.94 of its width
    w = BOX[2] * math.cos(math.radians(20))
    shifted = (BOX[0] + 0.24 * BOX[2], BOX[1], w, BOX[3])
    turned = make_face(yaw=20.0, pitch=0.0, box=shifted)
    assert track_jump(a, turned, 0.1) <= 1.0
    # the same box change with no turn reported: a photo put down elsewhere
    flat = make_face(yaw=0.0, pitch=0.0, box=shifted)
    assert track_jump(a, flat, 0.1) > 1.0


def test_a_fast_turn_that_rolls_the_head_is_not_a_jump():
    # a blurred frame of a fast turn (15 fps, 66 ms exposure): yaw 18 and pitch 12 degrees in
    # 80 ms, and the roll moves 10 degrees with them
    a = make_face(yaw=17.5, pitch=9.5, roll=-0.3)
    turned = make_face(yaw=35.5, pitch=21.5, roll=9.6)
    assert track_jump(a, turned, 0.08) <= 1.0
    # the same roll change with only the detector's pose jitter (a print rolled in the hand)
    jitter = make_face(yaw=20.5, pitch=12.5, roll=9.6)
    assert track_jump(a, jitter, 0.08) > 1.0


@pytest.mark.parametrize("ctype", ["NOSE", "BLINK", "HEAD_TURN", "POSE"])
def test_every_hardened_type_can_turn_continuity_on(ctype):
    cfg = resolve_configs("rekognition", sets=[f"{ctype}.continuity_check=true"])
    from liveness_lab.challenges import default_registry
    assert cfg.for_type(default_registry().get(ctype)).continuity_check is True


# -- one person to the end: frames sent after the deciding one ---------------------------------

TO_THE_END = ["head_turn.one_face_to_the_end=true"]


def test_a_second_face_after_the_pass_fails_the_session_traced_or_not():
    """The client keeps sending frames after the states decided (it cannot know when they
    did): a second face in one of them is still a second person in view."""
    stranger = make_face(box=(0.02, 0.25, 0.2, 0.4))
    faces = turn_faces() + [[turn_face()]] * 2 + [[turn_face(), stranger]] + [[turn_face()]]
    assert run("HEAD_TURN", TURN_PARAMS, faces).success           # the states pass it
    v = run("HEAD_TURN", TURN_PARAMS, faces, TO_THE_END)
    assert not v.success and v.decided and v.code == "session.several_faces", v.reason
    last = v.trace.rows[-1]
    assert last["state"] == "after_decision" and last["n_faces"] == 2
    assert v.deciding_frame == len(faces) - 2 and v.frames_used == len(faces) - 1
    session = make_session("HEAD_TURN", TURN_PARAMS,
                           [(T0 + 100 * i, f) for i, f in enumerate(faces)])
    quick = verify_session(session, configs=resolve_configs("seed", sets=TO_THE_END),
                           trace=False)
    assert (quick.success, quick.code, quick.frames_used) == (False, v.code, v.frames_used)


def test_frames_after_the_pass_may_lose_the_face_and_a_failure_stays_as_it_was():
    faces = turn_faces() + [[]] * 3 + [[turn_face()]]              # the user walks away
    assert run("HEAD_TURN", TURN_PARAMS, faces, TO_THE_END).success
    photo = make_face(box=(0.2, 0.2, 0.45, 0.6))
    broken = turn_faces(first_faces=[photo] * 3, gap=1) + [[turn_face(), photo]]
    v = run("HEAD_TURN", TURN_PARAMS, broken, TRACK + TO_THE_END)
    assert v.code == "head_turn.track_jump"                       # the first reason is kept


def test_the_hardened_profiles_hold_every_type_to_one_face_to_the_end():
    for profile in ("recommended", "rekognition"):
        configs = resolve_configs(profile)
        for name in ("NOSE", "POSE", "BLINK", "HEAD_TURN"):
            assert configs.by_type[name].one_face_to_the_end, (profile, name)
    assert not resolve_configs("seed").by_type["NOSE"].one_face_to_the_end
