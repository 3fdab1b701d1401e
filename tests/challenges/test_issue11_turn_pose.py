"""Issue 11 rules for HEAD_TURN and POSE: resting-pose baseline, early turns, low frame rates,
face-track continuity, gaze from the user's own neutral gaze, blinks during a hold."""

from __future__ import annotations

import pytest

from builders import T0, make_face, make_session
from liveness_lab.challenges import default_registry
from liveness_lab.challenges.face_track import TrackLimits, track_jump
from liveness_lab.challenges.head_turn import HeadTurnConfig
from liveness_lab.challenges.pose import NEUTRAL, PoseConfig
from liveness_lab.config import resolve_configs
from liveness_lab.errors import ConfigError
from liveness_lab.verify import verify_session

# -- HEAD_TURN ---------------------------------------------------------------------------------

TURNS = {"LEFT": (28.0, 0.0), "RIGHT": (-28.0, 0.0), "UP": (0.0, 22.0), "DOWN": (0.0, -22.0)}
REST = ["head_turn.rest_baseline=true"]


def head(direction=None, *, rest=(0.0, 0.0)):
    """A head at ``rest`` (yaw, pitch), turned ``direction`` relative to it (a 3D head)."""
    yaw, pitch = TURNS[direction] if direction else (0.0, 0.0)
    return make_face(yaw=rest[0] + yaw, pitch=rest[1] + pitch,
                     turn=0.25 * (yaw / 28.0 + pitch / 40.0))


def turn_frames(sequence, *, rest=(0.0, 0.0), centre=3, hold=3, back=2, step_ms=100):
    faces = [head(rest=rest)] * centre
    for d in sequence:
        faces += [head(d, rest=rest)] * hold + [head(rest=rest)] * back
    return [(T0 + step_ms * i, [f]) for i, f in enumerate(faces)]


def run_turn(frames, sequence, sets=()):
    params = {"imageWidth": 640, "imageHeight": 480, "sequence": list(sequence)}
    return verify_session(make_session("HEAD_TURN", params, frames),
                          configs=resolve_configs("seed", sets=list(sets)))


@pytest.mark.parametrize("rest", [(0.0, 16.0), (15.0, 0.0), (-14.0, -12.0)])
def test_a_user_with_an_off_axis_resting_pose_passes_with_the_rest_baseline(rest):
    seq = ["LEFT", "UP", "RIGHT"]
    assert not run_turn(turn_frames(seq, rest=rest), seq).success          # fixed centre
    v = run_turn(turn_frames(seq, rest=rest), seq, REST)
    assert v.success and v.code == "head_turn.ok", v.reason


def test_a_turn_that_begins_before_centring_completes_is_recognised():
    seq = ["DOWN", "LEFT", "UP"]
    frames = turn_frames(seq, centre=1)
    v = run_turn(frames, seq, REST + ["head_turn.centre_frames=3"])
    assert v.success, v.reason
    assert any(r["code"] == "head_turn.centred_early" for r in v.trace.rows)
    fixed = run_turn(frames, seq, ["head_turn.centre_frames=3"])
    assert not fixed.success


def test_a_5_fps_bona_fide_passes():
    seq = ["RIGHT", "DOWN", "LEFT", "UP"]
    frames = turn_frames(seq, rest=(6.0, 10.0), centre=1, hold=2, back=1, step_ms=200)
    v = run_turn(frames, seq, REST)
    assert v.success, v.reason


def test_a_user_already_turned_is_not_taken_as_centred():
    seq = ["LEFT", "UP"]
    frames = [(T0 + 100 * i, [head(rest=(30.0, 0.0))]) for i in range(20)]
    v = run_turn(frames, seq, REST)
    assert not v.success and v.final_state == "centre_state"


def test_a_wrong_turn_still_fails_relative_to_the_rest():
    frames = turn_frames(["LEFT", "DOWN"], rest=(0.0, 15.0))
    v = run_turn(frames, ["LEFT", "UP"], REST)
    assert not v.success and v.code == "head_turn.wrong_direction" and v.final_state == "turn_2"


def test_a_flat_picture_still_fails_the_parallax_check_with_the_rest_baseline():
    rest = (0.0, 14.0)
    faces = [make_face(yaw=rest[0], pitch=rest[1])] * 3
    for d in ("LEFT", "UP"):
        y, p = TURNS[d]
        faces += [make_face(yaw=rest[0] + y, pitch=rest[1] + p)] * 3 + [faces[0]] * 2
    v = run_turn([(T0 + 100 * i, [f]) for i, f in enumerate(faces)], ["LEFT", "UP"], REST)
    assert not v.success and v.code == "head_turn.parallax"


def test_head_turn_rest_limits_are_validated():
    with pytest.raises(ConfigError, match="rest_max_yaw"):
        HeadTurnConfig(rest_max_yaw=0).validate()


# -- POSE --------------------------------------------------------------------------------------

HARD = ["pose.frames_required=3", "pose.require_transition=true", "pose.neutral_frames=2",
        "pose.gaze_must_match=true", "pose.max_missing_faces=3"]
TRACK = HARD + ["pose.continuity_check=true"]
GAZE = HARD + ["pose.gaze_baseline=true", "pose.min_gaze_shift=0.07",
               "pose.open_max_shift=0.09"]
PUPILS = {"OPEN": 0.5, "CLOSED": 0.5, "LOOKING_LEFT": 0.15, "LOOKING_RIGHT": 0.85}
BOX = (0.3125, 0.1667, 0.375, 0.6667)


def pose_face(eyes, mouth, *, pupil=None, box=BOX, roll=0.0):
    smile = mouth == "SMILE"
    p = PUPILS[eyes] if pupil is None else pupil
    return make_face(eyes_open=eyes != "CLOSED", smile=smile, mouth_open=smile, pupils=(p, p),
                     box=box, roll=roll)


def run_pose(face_lists, eyes="LOOKING_LEFT", mouth="SMILE", sets=HARD, step_ms=100):
    params = {"imageWidth": 640, "imageHeight": 480, "pose": {"eyes": eyes, "mouth": mouth}}
    frames = [(T0 + step_ms * i, faces) for i, faces in enumerate(face_lists)]
    return verify_session(make_session("POSE", params, frames),
                          configs=resolve_configs("seed", sets=sets))


def pose_video(before=3, hold=4, after=3, **kw):
    n, p = pose_face(*NEUTRAL), pose_face("LOOKING_LEFT", "SMILE", **kw)
    return [[n]] * before + [[p]] * hold + [[n]] * after


def test_a_continuous_face_passes_the_continuity_check():
    assert run_pose(pose_video(), sets=TRACK).success


def test_a_hand_swapped_photo_that_lands_elsewhere_fails():
    moved = (BOX[0] + 0.06, BOX[1] + 0.03, BOX[2], BOX[3])   # 0.16 face widths in 100 ms
    frames = pose_video(box=moved)
    assert run_pose(frames).success                           # without the check
    v = run_pose(frames, sets=TRACK)
    assert not v.success and v.code == "pose.track_jump", v.reason


def test_a_rolled_photo_swap_fails():
    v = run_pose(pose_video(roll=12.0), sets=TRACK)        # 12 degrees in 100 ms
    assert not v.success and v.code == "pose.track_jump"


def test_a_face_less_gap_counts_time_not_frames():
    n, p = pose_face(*NEUTRAL), pose_face("LOOKING_LEFT", "SMILE")
    frames = [[n]] * 2 + [[]] * 2 + [[p]] * 3 + [[n]] * 2            # 2 frames at 5 fps: 400 ms
    assert run_pose(frames, step_ms=200).success                     # 3 frames allowed
    v = run_pose(frames, sets=TRACK, step_ms=200)
    assert not v.success and v.code == "pose.track_gap", v.reason
    one = [[n]] * 2 + [[]] + [[p]] * 3 + [[n]] * 2                   # one dropped frame
    assert run_pose(one, sets=TRACK, step_ms=200).success


def test_a_5_fps_bona_fide_passes_every_hardened_rule():
    frames = pose_video(before=2, hold=3, after=2)
    v = run_pose(frames, sets=TRACK + GAZE[len(HARD):] + ["pose.glitch_ms=250"], step_ms=200)
    assert v.success, v.reason


def test_gaze_is_read_against_the_users_own_neutral_gaze():
    # this user's pupils sit at 0.56 when looking ahead; a glance left reaches 0.45
    n = pose_face(*NEUTRAL, pupil=0.56)
    p = pose_face("LOOKING_LEFT", "SMILE", pupil=0.45)
    frames = [[n]] * 3 + [[p]] * 4 + [[n]] * 3
    assert not run_pose(frames).success                     # fixed thirds: still "ahead"
    assert run_pose(frames, sets=GAZE).success
    tiny = [[n]] * 3 + [[pose_face("LOOKING_LEFT", "SMILE", pupil=0.53)]] * 4 + [[n]] * 3
    assert not run_pose(tiny, sets=GAZE).success            # 0.03: noise, not a glance


def test_a_blink_during_the_hold_is_tolerated_only_when_configured():
    n, p = pose_face(*NEUTRAL), pose_face("LOOKING_LEFT", "SMILE")
    blink = make_face(eyes_open=False, smile=True, mouth_open=True, pupils=(0.15, 0.15))
    frames = [[n]] * 3 + [[p]] * 2 + [[blink]] + [[p]] + [[n]] * 3
    assert not run_pose(frames).success
    assert run_pose(frames, sets=HARD + ["pose.glitch_ms=250"]).success
    other = [[n]] * 3 + [[p]] * 2 + [[n]] + [[p]] + [[n]] * 3       # not a blink: breaks
    assert not run_pose(other, sets=HARD + ["pose.glitch_ms=250"]).success


def test_pose_options_are_validated():
    with pytest.raises(ConfigError, match="max_face_gap_ms"):
        PoseConfig(max_face_gap_ms=0).validate()
    with pytest.raises(ConfigError, match="open_max_shift"):
        PoseConfig(min_gaze_shift=0.1, open_max_shift=0.05).validate()
    with pytest.raises(ConfigError, match="TrackLimits.shift"):
        TrackLimits(shift=0)


def test_track_jump_scales_with_time():
    a = make_face()
    b = make_face(box=(BOX[0] + 0.05, BOX[1], BOX[2], BOX[3]))
    assert track_jump(a, b, 0.1) > track_jump(a, b, 1.0)
    assert track_jump(a, a, 0.1) == 0.0
    assert track_jump(a, make_face(with_box=False), 0.1) is None


@pytest.mark.parametrize("profile", ["rekognition", "recommended"])
def test_the_hardened_profiles_turn_the_new_rules_on(profile):
    reg = default_registry()
    configs = resolve_configs(profile)
    turn = configs.for_type(reg.get("HEAD_TURN"))
    pose = configs.for_type(reg.get("POSE"))
    assert turn.rest_baseline and pose.continuity_check and pose.gaze_baseline
    seed = resolve_configs("seed")
    assert not seed.for_type(reg.get("HEAD_TURN")).rest_baseline
    assert not seed.for_type(reg.get("POSE")).continuity_check


def test_head_turn_face_less_time_counts_ms_not_frames():
    seq = ["LEFT", "UP"]
    frames = turn_frames(seq, hold=6, step_ms=33)              # 30 fps
    for i in (4, 5, 6, 7):                                     # 4 frames: 165 ms without a face
        frames[i] = (frames[i][0], [])
    assert run_turn(frames, seq, REST).code == "head_turn.no_face"          # > 3 frames
    assert run_turn(frames, seq, REST + ["head_turn.max_missing_ms=300"]).success
    slow = turn_frames(seq, step_ms=200)                       # 5 fps: 2 frames = 400 ms
    for i in (4, 5):
        slow[i] = (slow[i][0], [])
    v = run_turn(slow, seq, REST + ["head_turn.max_missing_ms=300"])
    assert not v.success and v.code == "head_turn.no_face"


def test_a_user_who_corrects_after_centring_is_measured_from_where_he_settles():
    seq = ["DOWN", "LEFT", "UP"]
    first = [(T0 + 100 * i, [head(rest=(0.0, -9.0))]) for i in range(2)]
    rest = turn_frames(seq, centre=5)                       # settles at the axis for 500 ms
    frames = first + [(T0 + 200 + ts - T0, faces) for ts, faces in rest]
    assert run_turn(frames, seq, REST).success
    v = run_turn(frames, seq, REST + ["head_turn.settle_ms=100000"])   # never re-settles
    assert not v.success and v.code == "head_turn.wrong_direction"     # one step behind


def test_a_head_turned_toward_a_side_webcam_starts_from_its_own_neutral_gaze():
    # the head faces the screen, 15 degrees off the camera axis: looking ahead, the pupils sit
    # at 0.64 of the eye in the image (outside the middle third); a glance left reaches 0.5
    n = pose_face(*NEUTRAL, pupil=0.64)
    p = pose_face("LOOKING_LEFT", "SMILE", pupil=0.52)
    frames = [[n]] * 3 + [[p]] * 4 + [[n]] * 3
    assert not run_pose(frames, sets=GAZE).success           # "ahead" = the middle third
    v = run_pose(frames, sets=GAZE + ["pose.neutral_gaze_window=0.25"])
    assert v.success, v.reason
    # an unmistakable glance is still no neutral face
    aside = [[pose_face(*NEUTRAL, pupil=0.8)]] * 3 + [[p]] * 4 + [[n]] * 3
    assert not run_pose(aside, sets=GAZE + ["pose.neutral_gaze_window=0.25"]).success
    with pytest.raises(ConfigError, match="neutral_gaze_window"):
        PoseConfig(neutral_gaze_window=0.5).validate()
