"""NOSE hardening options: one face per frame, skipped face-less frames, 3D consistency,
identity continuity and the PAD score - each on its own on top of the seed profile, then
all together (the recommended profile)."""

from __future__ import annotations

import pytest

from builders import NOSE_PARAMS, T0, make_face, make_session
from challenges.test_nose_golden import BOX, START_NOSE, TARGET, nose_frames
from liveness_lab.config import resolve_configs
from liveness_lab.verify import verify_session


def run(frames, sets=(), profile="seed"):
    return verify_session(make_session("NOSE", dict(NOSE_PARAMS), frames),
                          configs=resolve_configs(profile, sets=sets))


def with_ext(frames, descriptor=None, pad=None):
    """Frames whose faces carry a LivenessLab descriptor / PAD score (same for every frame)."""
    ext = {}
    if descriptor is not None:
        ext["Descriptor"] = list(descriptor)
    if pad is not None:
        ext["PadScore"] = pad
    return [(ts, [f.replace(extra={"LivenessLab": ext}) for f in faces]) for ts, faces in frames]


def rigid_frames():
    """A flat picture moved rigidly so its nose reaches the target (yaw reported toward it)."""
    small = (190 / 640, 100 / 480, 150 / 640, 260 / 480)
    start = make_face(box=small).landmark("nose")
    frames = []
    for ts, faces in nose_frames(final_yaw=20.0):
        nose = faces[0].landmark("nose")
        f = (nose.x - START_NOSE[0]) / (TARGET[0] - START_NOSE[0])
        box = (small[0] + f * (TARGET[0] - start.x), small[1] + f * (TARGET[1] - start.y),
               small[2], small[3])
        frames.append((ts, [make_face(box=box, yaw=faces[0].pose.yaw)]))
    return frames


# -- one face per frame ---------------------------------------------------------------------

def test_second_face_fails_instead_of_being_ignored():
    frames = nose_frames()
    frames[4] = (frames[4][0], frames[4][1] + [make_face(box=(0.0, 0.0, 0.1, 0.1))])
    assert run(frames).success                                   # seed: ignored
    v = run(frames, ["nose.multiple_faces=fail"])
    assert not v.success and v.code == "nose.several_faces"


def test_second_face_at_the_start_fails_too():
    frames = [(T0 - 200, [make_face(box=BOX)] * 2)] + nose_frames()
    assert run(frames).success
    assert run(frames, ["nose.multiple_faces=fail"]).code == "face.several_faces"


# -- frames without a face ------------------------------------------------------------------

@pytest.mark.parametrize("missing,limit,ok", [(1, 0, False), (1, 1, True), (3, 3, True),
                                              (4, 3, False)])
def test_faceless_frames_are_skipped_up_to_the_limit(missing, limit, ok):
    frames = nose_frames()
    for k in range(missing):
        frames.insert(4 + k, (frames[3][0] + 10 + k, []))
    v = run(frames, [f"nose.max_missing_faces={limit}"])
    assert v.success is ok
    if not ok:
        assert v.code == "nose.no_face"
    else:
        assert "nose.no_face_skipped" in [r["code"] for r in v.trace.rows]


def test_faceless_frames_in_the_area_state_count_too():
    outside = (0.05, 0.1667, 0.375, 0.6667)
    frames = [(T0 - 300, [make_face(box=outside)]), (T0 - 200, [])] + nose_frames()
    assert run(frames).code == "area.no_face"
    v = run(frames, ["nose.max_missing_faces=1"])
    assert v.success and v.trace.rows[2]["code"] == "area.no_face_skipped"


# -- 3D consistency -------------------------------------------------------------------------

def test_rigidly_moved_picture_fails_the_parallax_check():
    v = run(rigid_frames(), ["nose.parallax_check=true", "nose.histogram_check=false"])
    assert not v.success and v.code == "nose.parallax"
    assert v.trace.rows[-1]["parallax"] < 1e-6


def test_turning_head_passes_the_parallax_check_without_the_histogram():
    v = run(nose_frames(), ["nose.parallax_check=true", "nose.histogram_check=false"])
    assert v.success and v.code == "nose.ok"
    assert v.trace.rows[-1]["parallax"] > 0.1
    assert "histogram_distance" not in v.trace.rows[-1]


def test_parallax_and_histogram_can_both_be_required():
    frames = nose_frames(final_turn=0.15, final_yaw=0.0)  # parallax yes, histogram too small
    assert run(frames, ["nose.parallax_check=true"]).code == "nose.histogram_distance"


@pytest.mark.parametrize("yaw,code", [(20.0, "nose.ok"), (0.0, "nose.ok"),
                                      (-20.0, "nose.wrong_rotation")])
def test_rotation_rule_still_applies_without_the_histogram(yaw, code):
    v = run(nose_frames(final_yaw=yaw), ["nose.parallax_check=true", "nose.histogram_check=false"])
    assert v.code == code


# -- identity continuity and PAD -------------------------------------------------------------

def test_identity_change_mid_session_fails():
    frames = with_ext(nose_frames(), descriptor=[0.0] * 128)
    other = with_ext(frames[5:], descriptor=[0.1] * 128)          # 1.13 away
    assert run(frames, ["nose.identity_check=true"]).success
    v = run(frames[:5] + other, ["nose.identity_check=true"])
    assert not v.success and v.code == "identity.changed"
    assert run(frames[:5] + other).success                       # seed: nobody looks


def test_identity_check_fails_when_no_face_carries_evidence():
    v = run(nose_frames(), ["nose.identity_check=true"])
    assert not v.success and v.code == "identity.missing"


@pytest.mark.parametrize("score,code", [(0.9, "nose.ok"), (0.2, "pad.attack"),
                                        (None, "pad.missing_score")])
def test_pad_score_is_required_and_averaged(score, code):
    frames = with_ext(nose_frames(), pad=score)
    assert run(frames, ["nose.pad_check=true"]).code == code


def test_recommended_profile_end_to_end():
    live = with_ext(nose_frames(), descriptor=[0.0] * 128, pad=0.95)
    v = run(live, profile="recommended")
    assert v.success, v.reason
    rigid = with_ext(rigid_frames(), descriptor=[0.0] * 128, pad=0.95)
    assert run(rigid, ["nose.continuity_check=false"], profile="recommended").code == \
        "nose.parallax"
    # with the face-track check (on in the hardened profiles) this picture, moved faster than
    # a head turns without any turn reported, fails first
    assert run(rigid, profile="recommended").code == "nose.track_jump"
    assert run(nose_frames(), profile="recommended").code == "identity.missing"


# -- a 3-point trajectory (a 0.4-0.6 s movement at 5 fps) ---------------------------------

def test_three_point_trajectory_counts_as_fitting_only_with_three_point_fit():
    frames = nose_frames(n_move=2)  # 3 nose-state frames: a degree-2 fit has no residual
    assert run(frames).code == "nose.trajectory_unfit"             # seed: as the original
    v = run(frames, ["nose.three_point_fit=true"])
    assert v.success, v.reason
    assert run(nose_frames(n_move=1), ["nose.three_point_fit=true"]).code == \
        "nose.trajectory_unfit"                                   # 2 points: still too few


def test_three_point_fit_leaves_a_moved_picture_to_the_parallax_check():
    frames = [fr for i, fr in enumerate(rigid_frames()) if i in (0, 4, 8)]
    v = run(frames, ["nose.three_point_fit=true", "nose.parallax_check=true",
                     "nose.histogram_check=false"])
    assert not v.success and v.code == "nose.parallax"
