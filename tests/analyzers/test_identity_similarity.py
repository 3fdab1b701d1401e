"""Identity continuity with CompareFaces: similarities written for the identity check."""

from __future__ import annotations

import pytest

from builders import T0, make_face, make_session
from liveness_lab.analyzers.identity import annotate_similarity
from liveness_lab.challenges.checks import face_similarity
from liveness_lab.config import resolve_configs
from liveness_lab.verify import verify_session


def fake_compare(calls):
    def compare(source, target):
        calls.append((source, target))
        return 99.0 if source[0] == target[0] else None   # "a1" vs "b5": another person
    return compare


def test_every_nth_one_face_frame_and_the_last_are_compared():
    images = ["a0", "a1", "a2", "b3", "a4", "b5"]
    faces = [[make_face()], [], [make_face()], [make_face()], [make_face()] * 2, [make_face()]]
    calls = []
    out, n = annotate_similarity(images, faces, fake_compare(calls), every=2)
    # one-face frames: 0 (reference), 2, 3, 5 -> every 2nd after the reference: 2 and 5
    assert n == len(calls) == 2 and [t for _, t in calls] == ["a2", "b5"]
    assert face_similarity(out[0][0]) == 100.0 and face_similarity(out[2][0]) == 99.0
    assert face_similarity(out[3][0]) is None and face_similarity(out[5][0]) == 0.0
    assert out[1] == [] and len(out[4]) == 2


def test_the_identity_check_reads_the_similarities():
    params = {"imageWidth": 640, "imageHeight": 480, "sequence": ["LEFT", "UP"]}
    frames_faces = [[make_face()]] * 3 + [[make_face(yaw=28, turn=0.25)]] * 3 + \
        [[make_face()]] * 2 + [[make_face(pitch=20, turn=0.125)]] * 3 + [[make_face()]] * 2
    images = ["a"] * 7 + ["b"] * 6
    faces, _ = annotate_similarity(images, frames_faces, fake_compare([]), every=1)
    session = make_session("HEAD_TURN", params, [(T0 + 100 * i, f) for i, f in enumerate(faces)])
    v = verify_session(session, configs=resolve_configs(
        "seed", sets=["head_turn.identity_check=true"]))
    assert not v.success and v.code == "identity.changed"
    same, _ = annotate_similarity(["a"] * 13, frames_faces, fake_compare([]))
    session = make_session("HEAD_TURN", params, [(T0 + 100 * i, f) for i, f in enumerate(same)])
    assert verify_session(session, configs=resolve_configs(
        "seed", sets=["head_turn.identity_check=true"])).success


def test_bad_arguments():
    with pytest.raises(ValueError, match="one entry per frame"):
        annotate_similarity(["a"], [], fake_compare([]))
    with pytest.raises(ValueError, match="every"):
        annotate_similarity(["a"], [[make_face()]], fake_compare([]), every=0)
    assert annotate_similarity(["a"], [[]], fake_compare([])) == ([[]], 0)
