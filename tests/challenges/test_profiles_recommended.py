"""Profiles: recommended is the default, seed stays the original; the shared session checks."""

from __future__ import annotations

import numpy as np
import pytest

from builders import make_face
from liveness_lab.challenges import (Context, FrameInput, SeededRandom, builtin_registry,
                                     select_challenge_type)
from liveness_lab.challenges.checks import (SessionChecksConfig, before_success,
                                            face_descriptor, nose_parallax, observe_face,
                                            pad_score, skip_missing_face)
from liveness_lab.config import DEFAULT_PROFILE, Profile, get_profile, resolve_configs
from liveness_lab.errors import ConfigError
from liveness_lab.faces import Landmark


def test_recommended_is_the_default_and_seed_is_kept():
    assert DEFAULT_PROFILE == "recommended"
    assert resolve_configs().profile == "recommended"
    seed = resolve_configs("seed")
    reg = builtin_registry()
    for ct in reg:                       # seed = every type's defaults
        assert seed.for_type(ct) == ct.default_config()
    assert seed.challenge_types == ("NOSE", "POSE")
    assert resolve_configs("recommended").challenge_types == ("NOSE", "POSE", "BLINK",
                                                              "HEAD_TURN")


def test_each_profile_draws_its_own_types():
    reg = builtin_registry()
    for name, expected in (("seed", {"NOSE", "POSE"}),
                           ("recommended", {"NOSE", "POSE", "BLINK", "HEAD_TURN"})):
        cands = resolve_configs(name, registry=reg).challenge_types
        drawn = {select_challenge_type({}, registry=reg, candidates=cands, rng=SeededRandom(i))
                 for i in range(80)}
        assert drawn == expected
    # without a profile, the registry's random candidates: the original's NOSE and POSE
    assert {select_challenge_type({}, registry=reg, rng=SeededRandom(i))
            for i in range(40)} == {"NOSE", "POSE"}


def test_recommended_turns_the_hardening_on():
    flat = resolve_configs("recommended").flat()
    for key, value in (("nose.multiple_faces", "fail"), ("nose.parallax_check", True),
                       ("pose.require_transition", True), ("pose.gaze_must_match", True),
                       ("blink.identity_check", True), ("head_turn.pad_check", False)):
        # no built-in profile requires a PAD score: PAD comes only from a PAD stage (issue 10)
        assert flat[key] == value
    seed = resolve_configs("seed").flat()
    assert seed["nose.multiple_faces"] == "first" and seed["pose.frames_required"] == 1
    assert seed["nose.identity_check"] is False and seed["nose.max_missing_faces"] == 0


def test_profile_challenge_types_are_checked():
    with pytest.raises(ValueError, match="at least one"):
        Profile("empty", "no types", challenge_types=())
    assert get_profile("seed").challenge_types == ("NOSE", "POSE")
    with pytest.raises(ConfigError, match="known: recommended, rekognition, seed"):
        resolve_configs("nope")


# -- the shared checks -------------------------------------------------------------------------

def ctx(**cfg):
    return Context(SessionChecksConfig(**cfg), {})


def with_ext(face, **ext):
    return face.replace(extra={"LivenessLab": ext})


def test_extension_readers_refuse_malformed_values():
    assert face_descriptor(with_ext(make_face(), Descriptor=[0.1, 0.2])).tolist() == [0.1, 0.2]
    for bad in ([], [0.1], "x", [0.1, "a"], [0.1, float("nan")]):
        assert face_descriptor(with_ext(make_face(), Descriptor=bad)) is None
    assert pad_score(with_ext(make_face(), PadScore=0.4)) == 0.4
    for bad in (1.5, -0.1, True, "0.4", None):
        assert pad_score(with_ext(make_face(), PadScore=bad)) is None
    assert face_descriptor(make_face().replace(extra={"LivenessLab": 3})) is None


def test_identity_distance_is_measured_from_the_first_face():
    c = ctx(identity_check=True, identity_max_distance=0.6)
    faces = [with_ext(make_face(), Descriptor=[0.0, v]) for v in (0.0, 0.5, 0.55, 0.7)]
    results = [observe_face(f, FrameInput(i, i, [f]), c) for i, f in enumerate(faces)]
    assert results[:3] == [None, None, None] and results[3].code == "identity.changed"
    assert before_success(ctx(identity_check=True)).code == "identity.missing"


def test_similarity_is_used_when_there_is_no_descriptor():
    c = ctx(identity_check=True, identity_min_similarity=90)
    ok = with_ext(make_face(), Similarity=99.0)
    assert observe_face(ok, FrameInput(0, 0, [ok]), c) is None
    low = with_ext(make_face(), Similarity=40.0)
    assert observe_face(low, FrameInput(1, 1, [low]), c).code == "identity.changed"


def test_same_frame_is_observed_once():
    c = ctx(pad_check=True)
    f = with_ext(make_face(), PadScore=0.2)
    frame = FrameInput(0, 0, [f])
    observe_face(f, frame, c)
    observe_face(f, frame, c)
    g = with_ext(make_face(), PadScore=0.9)
    observe_face(g, FrameInput(1, 1, [g]), c)
    assert before_success(c) is None                 # mean (0.2 + 0.9) / 2 = 0.55


def test_skip_missing_face_counts_over_the_run():
    c = ctx()
    assert [skip_missing_face(c, 2, "x").step.value for _ in range(3)] == ["continue",
                                                                          "continue", "fail"]
    assert skip_missing_face(ctx(), 0, "x").code == "x.no_face"


def _shifted(face, dx, dy, nose_extra=0.0):
    lms = tuple(Landmark(lm.type, lm.x + dx + (nose_extra if lm.type == "nose" else 0.0),
                         lm.y + dy) for lm in face.landmarks)
    return face.replace(landmarks=lms)


def test_nose_parallax_is_zero_for_any_homography_and_large_for_a_turn():
    ref = make_face()
    # a perspective warp of every landmark: exactly a homography
    H = np.array([[1.1, 0.08, 0.02], [-0.05, 0.95, 0.03], [0.15, -0.1, 1.0]])
    lms = []
    for lm in ref.landmarks:
        q = H @ np.array([lm.x, lm.y, 1.0])
        lms.append(Landmark(lm.type, q[0] / q[2], q[1] / q[2]))
    assert nose_parallax(ref, ref.replace(landmarks=tuple(lms))) < 1e-9
    assert nose_parallax(ref, _shifted(ref, 0.05, 0.02)) < 1e-9
    assert nose_parallax(ref, make_face(turn=0.2), 640, 480) > 0.1
    assert nose_parallax(ref, make_face(omit=["nose"])) is None
