"""The PAD baseline: features, the JSON model, deterministic training, the analyzer stage."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from builders import make_face
from liveness_lab.analyzers.base import FaceAnalyzer
from liveness_lab.pad import PadModel, PadStage, load_default_model, score_faces
from liveness_lab.pad.cli import add_pad_command
from liveness_lab.pad.features import CROP_SIZE, FEATURE_NAMES, face_crop, texture_features
from liveness_lab.pad.training import evaluate_model, render_training_set, train_baseline


@pytest.fixture(scope="module")
def tiny_model() -> PadModel:
    return train_baseline(n_per_kind=8, seed=3)


def test_features_of_a_crop():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    crop = face_crop(img, (100, 50, 180, 150))
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    f = texture_features(crop)
    assert f.shape == (len(FEATURE_NAMES),) and np.all(np.isfinite(f))
    assert face_crop(img, (10, 10, 12, 12)) is None
    with pytest.raises(ValueError, match="RGB crop"):
        texture_features(crop[..., 0])


def test_training_is_deterministic_and_the_model_round_trips(tiny_model, tmp_path):
    again = train_baseline(n_per_kind=8, seed=3)
    assert np.array_equal(again.coef, tiny_model.coef) and again.digest() == tiny_model.digest()
    path = tiny_model.save(tmp_path / "m.json")
    loaded = PadModel.load(path)
    assert loaded.digest() == tiny_model.digest()
    x = np.zeros((2, len(FEATURE_NAMES)))
    assert np.allclose(loaded.predict(x), tiny_model.predict(x))


def test_bad_model_files_are_refused(tiny_model, tmp_path):
    d = tiny_model.to_dict()
    (tmp_path / "a.json").write_text(json.dumps({**d, "format": "other"}))
    with pytest.raises(ValueError, match="not a liveness-lab/pad-baseline@1 model"):
        PadModel.load(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({**d, "feature_names": ["x"]}))
    with pytest.raises(ValueError, match="retrain"):
        PadModel.load(tmp_path / "b.json")
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        PadModel.load(tmp_path / "c.json")


def test_held_out_frames_of_the_training_photos_are_separated(tiny_model):
    held_out = render_training_set(n_per_kind=4, seed=11)
    report = evaluate_model(tiny_model, held_out)
    assert report["live"]["mean_score"] > 0.7
    assert report["print"]["mean_score"] < 0.3 and report["screen"]["mean_score"] < 0.3


def test_default_model_is_trained_once_then_loaded(tmp_path):
    path = tmp_path / "pad.json"
    with pytest.raises(FileNotFoundError, match="pad-train"):
        load_default_model(path, train_if_missing=False)
    model = load_default_model(path, n_per_kind=2, seed=1)
    assert path.is_file() and load_default_model(path).digest() == model.digest()


class _OneFace(FaceAnalyzer):
    name = "one-face"

    def analyze(self, image):
        return [make_face(box=(0.3, 0.2, 0.4, 0.6)).replace(
            extra={"LivenessLab": {"Descriptor": [0.5, 0.5]}})]


def test_stage_adds_the_score_and_keeps_other_extensions(tiny_model):
    img = np.full((240, 320, 3), 128, np.uint8)
    stage = PadStage(_OneFace(), tiny_model)
    (face,) = stage.analyze(img)
    ext = face.extra["LivenessLab"]
    assert 0.0 <= ext["PadScore"] <= 1.0 and list(ext["Descriptor"]) == [0.5, 0.5]
    assert stage.config_fingerprint().startswith(f"pad/{tiny_model.digest()}+")
    assert score_faces(img, [make_face(with_box=False, landmarks=())], tiny_model)[0].extra == {}
    with pytest.raises(ValueError, match="PadModel"):
        PadStage(_OneFace(), "model")


def test_pad_train_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_pad_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "m.json"
    args = parser.parse_args(["pad-train", "--out", str(out), "--n-per-kind", "2"])
    assert args.func(args) == 0 and PadModel.load(out)
    assert "wrote the PAD baseline" in capsys.readouterr().out
    bad = parser.parse_args(["pad-train", "--out", str(out), "--n-per-kind", "1"])
    assert bad.func(bad) == 2


def test_local_binary_patterns_match_scikit_image():
    skimage_feature = pytest.importorskip("skimage.feature")
    from liveness_lab.pad.features import local_binary_pattern_uniform
    img = np.random.default_rng(1).integers(0, 256, (40, 50)).astype(np.uint8)
    for radius in (1, 2):
        expected = skimage_feature.local_binary_pattern(img, 8, radius, method="uniform")
        assert np.array_equal(local_binary_pattern_uniform(img, radius), expected)
