"""Local analyzer extensions: dlib face descriptors and the PAD score, in ``LivenessLab``."""

from __future__ import annotations

import numpy as np
import pytest

from liveness_lab.analyzers.local import LocalAnalyzer, LocalAnalyzerConfig
from liveness_lab.challenges.checks import face_descriptor, pad_score
from liveness_lab.evidence import Evidence
from liveness_lab.pad import PadModel, PadStage
from liveness_lab.pad.training import train_baseline
from liveness_lab.synth.render import load_photo


@pytest.fixture(scope="module")
def pad_model_path(tmp_path_factory):
    return str(train_baseline(n_per_kind=2, seed=5).save(tmp_path_factory.mktemp("pad") / "m.json"))


@pytest.fixture(scope="module")
def analyzer(pad_model_path):
    return PadStage(LocalAnalyzer(descriptors=True), PadModel.load(pad_model_path))


def test_extensions_are_off_by_default_and_keep_old_cache_keys():
    plain = LocalAnalyzer()
    assert "descriptors" not in repr(plain.config)
    assert plain.config_fingerprint().endswith("max_pixels=25000000)")
    face = plain.analyze(load_photo("grace_hopper"))[0]
    assert "LivenessLab" not in face.extra


def test_descriptors_tell_people_apart(analyzer):
    hopper = analyzer.analyze(load_photo("grace_hopper"))[0]
    astro = analyzer.analyze(load_photo("astronaut"))[0]
    shifted = analyzer.analyze(np.ascontiguousarray(load_photo("grace_hopper")[8:, 6:]))[0]
    a, b, c = (face_descriptor(f) for f in (hopper, astro, shifted))
    assert a.shape == (128,)
    assert np.linalg.norm(a - c) < 0.3 < 0.6 < np.linalg.norm(a - b)
    assert 0.0 <= pad_score(hopper) <= 1.0


def test_the_fingerprint_names_the_extensions(analyzer, pad_model_path):
    fp = analyzer.config_fingerprint()
    assert "+descriptors(dlib_face_recognition_resnet_model_v1.dat)" in fp and fp.startswith("pad/")
    plain = LocalAnalyzer().config_fingerprint()
    assert LocalAnalyzer(descriptors=True).config_fingerprint() != plain


def test_tracking_adds_the_descriptor_too():
    frames = [load_photo("astronaut")] * 2
    for faces in LocalAnalyzer(descriptors=True).track(frames):
        assert face_descriptor(faces[0]) is not None


def test_the_evidence_follows_the_options(analyzer):
    plain = LocalAnalyzer()
    assert plain.provides == {Evidence.GEOMETRY, Evidence.ATTRIBUTES}
    assert Evidence.DESCRIPTOR in plain.can_provide
    assert LocalAnalyzer(descriptors=True).provides == plain.provides | {Evidence.DESCRIPTOR}
    assert analyzer.provides == plain.provides | {Evidence.DESCRIPTOR, Evidence.PAD_SCORE}


def test_the_fingerprint_trains_nothing(tmp_path, monkeypatch):
    # config_fingerprint() used to train the PAD baseline (a minute) and write a file here
    monkeypatch.chdir(tmp_path)
    LocalAnalyzer(descriptors=True).config_fingerprint()
    assert list(tmp_path.iterdir()) == []


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="descriptors must be true or false"):
        LocalAnalyzerConfig(descriptors="yes")
    with pytest.raises(ValueError, match="unknown local analyzer setting.*'pad'"):
        LocalAnalyzer(pad=True)
