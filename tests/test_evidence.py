"""The evidence model: what checks need, what analyzers give, and the refusals before running."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
from builders import NOSE_PARAMS, T0, make_face, make_session

from liveness_lab.analyzers import create_analyzer, image_analyzer_names
from liveness_lab.challenges.checks import SessionChecksConfig
from liveness_lab.cli import main
from liveness_lab.config import resolve_configs
from liveness_lab.evidence import (Evidence, EvidenceSource, MissingEvidenceError,
                                   analyzer_evidence, check_evidence, dataset_evidence,
                                   face_evidence, is_missing_evidence_code, needs_for,
                                   satisfiable_profiles)
from liveness_lab.evaluation.replay import MissingEvidenceWarning, evaluate_dataset
from liveness_lab.faces import with_extension
from liveness_lab.sessions import write_dataset, write_session

DETECT_FACES = EvidenceSource("DetectFaces", {Evidence.GEOMETRY, Evidence.ATTRIBUTES,
                                              Evidence.EYE_DIRECTION})


def test_checks_declare_what_they_need():
    assert SessionChecksConfig().evidence_needs()[0].any_of == {Evidence.GEOMETRY}
    needs = {n.check: n.any_of for n in SessionChecksConfig(identity_check=True,
                                                            pad_check=True).evidence_needs()}
    assert needs["identity_check"] == {Evidence.DESCRIPTOR, Evidence.SIMILARITY}
    assert needs["pad_check"] == {Evidence.PAD_SCORE}
    pose = needs_for(resolve_configs("seed"), ["POSE"])["POSE"]
    assert any(n.any_of == {Evidence.ATTRIBUTES} for n in pose)


@pytest.mark.parametrize("profile, ok", [("seed", True), ("rekognition", True),
                                          ("recommended", False)])
def test_detect_faces_evidence_meets_the_rekognition_profile_not_recommended(profile, ok):
    configs = resolve_configs(profile)
    if ok:
        check_evidence(configs, DETECT_FACES)
    else:
        with pytest.raises(MissingEvidenceError) as e:
            check_evidence(configs, DETECT_FACES)
        text = str(e.value)
        assert "nose.identity_check (identity continuity) needs a face descriptor" in text
        assert "which DetectFaces cannot give" in text
        assert "--set nose.identity_check=false" in text
        assert "profiles that work with this evidence: --profile rekognition" in text


def test_the_error_names_the_analyzer_option_that_gives_the_evidence():
    local = create_analyzer("local")
    with pytest.raises(MissingEvidenceError, match="fix: --analyzer-option descriptors=true or "
                                                   "--set nose.identity_check=false"):
        check_evidence(resolve_configs("recommended"), analyzer_evidence(local))
    check_evidence(resolve_configs("recommended"),
                   analyzer_evidence(create_analyzer("local", descriptors=True)))


def test_analyzers_declare_their_evidence_and_recorded_analyzes_no_image():
    assert Evidence.EYE_DIRECTION in create_analyzer("rekognition", client=object()).provides
    recorded = create_analyzer("recorded")
    assert recorded.provides == frozenset() and not recorded.analyzes_images
    assert "recorded" not in image_analyzer_names() and "local" in image_analyzer_names()


def test_face_evidence_reads_the_extension():
    face = make_face()
    assert face_evidence(face) == {Evidence.GEOMETRY, Evidence.ATTRIBUTES}
    rich = with_extension(face, Descriptor=[0.1] * 128, Similarity=99.0, PadScore=0.9)
    assert {Evidence.DESCRIPTOR, Evidence.SIMILARITY, Evidence.PAD_SCORE} <= face_evidence(rich)
    assert Evidence.GEOMETRY not in face_evidence(make_face(yaw=None, pitch=None, roll=None))


def test_dataset_evidence_is_per_type_and_counts_the_analyzer_for_image_only_frames():
    a = make_session("NOSE", NOSE_PARAMS, [(T0, [make_face()])])
    sources = dataset_evidence([a])
    assert sources["NOSE"].provides == {Evidence.GEOMETRY, Evidence.ATTRIBUTES}
    assert satisfiable_profiles(sources, ["NOSE"]) == ["rekognition", "seed"]


def test_missing_evidence_codes():
    for code in ("identity.missing", "pad.missing_score", "nose.missing_pose",
                 "pose.missing_eyes_open", "nose.parallax_unavailable"):
        assert is_missing_evidence_code(code)
    for code in ("nose.ok", "identity.changed", "face.no_face", None, "state_error"):
        assert not is_missing_evidence_code(code)


def _detect_faces_dataset(tmp_path, n=4):
    sessions = []
    for i in range(n):
        s = make_session("NOSE", NOSE_PARAMS, [(T0 + 100 * k, [make_face()]) for k in range(3)],
                         sid=f"s-{i}")
        sessions.append(dataclasses.replace(s, split=("dev", "test")[i % 2]))
    return write_dataset(tmp_path / "ds", sessions)


def test_evaluate_refuses_before_replaying_and_names_the_profile_to_use(tmp_path, capsys):
    ds = _detect_faces_dataset(tmp_path)
    assert main(["evaluate", str(ds), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "profile 'recommended' needs evidence that can never arrive" in err
    assert "the recorded faces of dataset 'ds' cannot give" in err
    assert "--profile rekognition" in err and "Traceback" not in err
    assert main(["evaluate", str(ds), "--quiet", "--profile", "rekognition"]) == 0


def test_evaluate_warns_when_many_sessions_fail_for_missing_evidence(tmp_path, capsys):
    ds = _detect_faces_dataset(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = evaluate_dataset(ds, profile="seed", workers=1)
    assert len(df) == 4
    # these sessions fail for other reasons (the nose never reaches the target): no warning
    assert not [w for w in caught if issubclass(w.category, MissingEvidenceWarning)]
    target = (NOSE_PARAMS["noseLeft"] + 10) / 640, (NOSE_PARAMS["noseTop"] + 10) / 480
    path = [(0.5 + (target[0] - 0.5) * k / 5, 0.55 + (target[1] - 0.55) * k / 5)
            for k in range(6)]
    posefree = [make_session("NOSE", NOSE_PARAMS, [(T0, [make_face(yaw=None)])] + [
        (T0 + 100 * (k + 1), [make_face(yaw=None, nose=p)]) for k, p in enumerate(path)],
        sid=f"p-{i}") for i in range(3)]
    # faces without a yaw: every session fails nose.missing_pose at the target
    ds2 = write_dataset(tmp_path / "ds2", posefree)
    assert main(["evaluate", str(ds2), "--quiet", "--profile", "seed", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: profile 'seed': 100% of the sessions failed for evidence" in err
    assert "nose.missing_pose x3" in err


def test_verify_refuses_a_session_without_the_evidence(tmp_path, capsys):
    s = make_session("NOSE", NOSE_PARAMS, [(T0, [make_face()])])
    path = write_session(s, tmp_path / "s.json")
    assert main(["verify", str(path)]) == 2
    assert "session 's-1' cannot give" in capsys.readouterr().err
    assert main(["verify", str(path), "--profile", "rekognition"]) == 0


def test_sweep_refuses_before_the_first_trial(tmp_path, capsys):
    ds = _detect_faces_dataset(tmp_path)
    study = tmp_path / "s.yaml"
    study.write_text(f"study: x\ndataset: {{path: {ds}}}\nbase: {{profile: recommended}}\n"
                     "search: {space: {nose.min_parallax: [0.03, 0.04]}}\n")
    assert main(["sweep", str(study), "--no-tracking", "--quiet", "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "profile 'recommended' needs evidence that can never arrive" in err
    assert "--profile rekognition" in err and not (tmp_path / "o" / "trials.csv").exists()
