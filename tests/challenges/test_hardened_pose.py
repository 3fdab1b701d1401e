"""POSE in multi-frame mode: neutral -> pose held k frames -> neutral; positive gaze; params."""

from __future__ import annotations

import pytest

from builders import T0, make_face, make_session
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.challenges.pose import EYES, MOUTH, NEUTRAL, PoseConfig, pose_params
from liveness_lab.config import resolve_configs
from liveness_lab.verify import verify_session

HARD = ["pose.frames_required=3", "pose.require_transition=true", "pose.neutral_frames=2",
        "pose.gaze_must_match=true", "pose.max_missing_faces=2"]
PUPILS = {"OPEN": (0.5, 0.5), "CLOSED": (0.5, 0.5), "LOOKING_LEFT": (0.15, 0.15),
          "LOOKING_RIGHT": (0.85, 0.85)}


def face_for(eyes: str, mouth: str, **kw):
    smile = mouth == "SMILE"
    return make_face(eyes_open=eyes != "CLOSED", smile=smile, mouth_open=smile,
                     pupils=PUPILS[eyes], **kw)


def run(face_lists, eyes="LOOKING_LEFT", mouth="SMILE", sets=HARD, profile="seed"):
    params = {"imageWidth": 640, "imageHeight": 480, "pose": {"eyes": eyes, "mouth": mouth}}
    frames = [(T0 + 100 * i, faces) for i, faces in enumerate(face_lists)]
    return verify_session(make_session("POSE", params, frames),
                          configs=resolve_configs(profile, sets=sets))


def video(eyes="LOOKING_LEFT", mouth="SMILE", before=3, hold=4, after=3):
    n, p = face_for(*NEUTRAL), face_for(eyes, mouth)
    return [[n]] * before + [[p]] * hold + [[n]] * after


def test_neutral_pose_neutral_passes():
    v = run(video())
    assert v.success and v.code == "pose.ok"
    states = [r["state"] for r in v.trace.rows]
    assert states[:2] == ["first_state", "neutral_state"]
    assert {"pose_state", "return_state"} <= set(states)


@pytest.mark.parametrize("eyes,mouth", [(e, m) for e in EYES for m in MOUTH
                                        if (e, m) != NEUTRAL])
def test_a_still_photo_of_the_pose_never_passes(eyes, mouth):
    v = run([[face_for(eyes, mouth)]] * 30, eyes, mouth)
    assert not v.success and not v.decided and v.final_state == "neutral_state"


def test_a_still_neutral_photo_never_passes():
    v = run([[face_for(*NEUTRAL)]] * 30)
    assert not v.success and v.final_state == "pose_state"


@pytest.mark.parametrize("hold,ok", [(2, False), (3, True)])
def test_the_pose_must_be_held_for_consecutive_frames(hold, ok):
    assert run(video(hold=hold)).success is ok
    broken = video(hold=4)
    broken[4] = [face_for(*NEUTRAL)]                 # 1 + 2 frames: never 3 in a row
    assert not run(broken).success


def test_the_return_to_neutral_is_required():
    v = run(video(after=0) + [[face_for("LOOKING_LEFT", "SMILE")]] * 5)
    assert not v.success and v.final_state == "return_state"


def test_gaze_must_be_shown_not_just_not_opposite():
    neutral = [[face_for(*NEUTRAL)]] * 3
    ahead = neutral + [[face_for("OPEN", "SMILE")]] * 4 + neutral
    assert not run(ahead).success                                 # eyes ahead: not LOOKING_LEFT
    loose = [s for s in HARD if "gaze" not in s]
    assert run(ahead, sets=loose).success                         # the original's rule


def test_gaze_is_read_from_both_eyes_together():
    odd = make_face(pupils=(0.5, 0.68))                  # one eye a little off at rest
    frames = [[odd]] * 3 + [[face_for("LOOKING_LEFT", "SMILE")]] * 4 + [[odd]] * 3
    assert run(frames).success


def test_the_neutral_pose_cannot_be_requested_in_transition_mode():
    v = run(video("OPEN", "CLOSED"), "OPEN", "CLOSED")
    assert not v.success and v.code == "pose.neutral_requested"


def test_second_face_and_missing_faces():
    frames = video()
    frames[5] = frames[5] + [make_face(box=(0.0, 0.0, 0.1, 0.1))]
    assert run(frames).code == "pose.face_count"
    frames = video(hold=5)
    frames[4] = []
    assert run(frames).success                                     # one skipped frame
    assert run(frames, sets=[s for s in HARD if "missing" not in s]).code == "pose.no_face"


def test_a_closed_mouth_smile_counts_when_configured():
    smile = make_face(pupils=PUPILS["LOOKING_LEFT"], smile=True, mouth_open=False)
    frames = [[face_for(*NEUTRAL)]] * 3 + [[smile]] * 4 + [[face_for(*NEUTRAL)]] * 3
    assert not run(frames).success
    assert run(frames, sets=HARD + ["pose.smile_needs_open_mouth=false"]).success


def test_recommended_needs_identity_and_pad_evidence():
    ext = {"LivenessLab": {"Descriptor": [0.0] * 128, "PadScore": 0.9}}
    # the hardened profiles ask for the pose shown 400 ms (hold_ms): 6 frames at 10 fps
    frames = [[f.replace(extra=ext) for f in faces] for faces in video(hold=6)]
    assert run(frames, sets=(), profile="recommended").success
    assert run(video(hold=6), sets=(), profile="recommended").code == "identity.missing"


# -- params -----------------------------------------------------------------------------------

def test_seed_params_are_unchanged_and_multi_frame_params_tell_the_client():
    seed_p = pose_params({"imageWidth": 640, "imageHeight": 480}, PoseConfig(), SeededRandom(4))
    assert set(seed_p) == {"imageWidth", "imageHeight", "pose"}
    cfg = resolve_configs("recommended").for_type(default_registry().get("POSE"))
    p = pose_params({"imageWidth": 640, "imageHeight": 480}, cfg, SeededRandom(4))
    assert p["holdFrames"] == 2 and p["transition"] is True and p["holdMs"] == 400


def test_recommended_never_draws_the_neutral_pose():
    cfg = resolve_configs("recommended").for_type(default_registry().get("POSE"))
    drawn = {tuple(pose_params({"imageWidth": 640, "imageHeight": 480}, cfg,
                               SeededRandom(i))["pose"].values()) for i in range(200)}
    assert NEUTRAL not in drawn and len(drawn) == 7


def test_single_frame_mode_still_decides_on_the_first_frame():
    v = run([[face_for("OPEN", "CLOSED")]], "OPEN", "CLOSED", sets=())
    assert v.success and v.frames_used == 1 and len(v.trace) == 1
