"""The Rekognition FaceDetail model: validation, lossless round-trip, helpers."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest

from builders import make_face
from liveness_lab.errors import FaceFormatError
from liveness_lab.faces import (LANDMARK_TYPES, FaceDetail, LandmarkType, faces_from_rekognition,
                                faces_to_rekognition)

FULL = {
    "BoundingBox": {"Width": 0.3, "Height": 0.45, "Left": 0.35, "Top": 0.2},
    "AgeRange": {"Low": 25, "High": 35},
    "Smile": {"Value": False, "Confidence": 97.5},
    "EyesOpen": {"Value": True, "Confidence": 99.1},
    "MouthOpen": {"Value": False, "Confidence": 96.0},
    "Emotions": [{"Type": "CALM", "Confidence": 91.2}],
    "Landmarks": [{"Type": t, "X": 0.4 + i / 100, "Y": 0.3 + i / 200}
                  for i, t in enumerate(LANDMARK_TYPES)],
    "Pose": {"Roll": -2.5, "Yaw": 12, "Pitch": 3.25},
    "Quality": {"Brightness": 80.1, "Sharpness": 92.3},
    "Confidence": 99.99,
    "FaceOccluded": {"Value": False, "Confidence": 99.0},
    "EyeDirection": {"Yaw": 1.5, "Pitch": -3.0, "Confidence": 98.0},
}


def test_round_trip_is_lossless_including_unknown_fields_and_int_values():
    face = FaceDetail.from_rekognition(FULL)
    assert face.to_rekognition() == FULL
    assert json.dumps(face.to_rekognition(), sort_keys=True) == json.dumps(FULL, sort_keys=True)
    assert face.extra["EyeDirection"]["Yaw"] == 1.5


@pytest.mark.parametrize("drop", ["BoundingBox", "Landmarks", "Pose", "Quality", "Smile",
                                  "EyesOpen", "MouthOpen", "Confidence"])
def test_missing_optional_fields_are_representable(drop):
    d = {k: v for k, v in FULL.items() if k != drop}
    face = FaceDetail.from_rekognition(d)
    assert face.to_rekognition() == d


def test_partial_pose_round_trips():
    d = {"Pose": {"Yaw": 3.0}, "Landmarks": []}
    face = FaceDetail.from_rekognition(d)
    assert face.pose.yaw == 3.0 and face.pose.roll is None and face.to_rekognition() == d


def test_landmark_helpers():
    face = FaceDetail.from_rekognition(FULL)
    assert face.landmark(LandmarkType.nose) == face.landmark("nose")
    assert face.landmark("nose").x == pytest.approx(0.44)
    x, y = face.landmark_px("nose", 640, 480)
    assert (x, y) == pytest.approx((0.44 * 640, 0.32 * 480))
    assert face.bounding_box.to_pixels(640, 480) == pytest.approx((224, 96, 192, 216))
    assert make_face(omit=["nose"]).landmark("nose") is None


def test_immutable():
    face = FaceDetail.from_rekognition(FULL)
    with pytest.raises(FrozenInstanceError):
        face.confidence = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        face.extra["AgeRange"]["Low"] = 1  # type: ignore[index]
    assert face.to_rekognition()["AgeRange"] == {"Low": 25, "High": 35}


@pytest.mark.parametrize("bad,message", [
    ({"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.1}}, "missing 'Top'"),
    ({"BoundingBox": {"Width": "wide", "Height": 0.1, "Left": 0.1, "Top": 0.1}}, "Width must be a number"),
    ({"BoundingBox": {"Width": -0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1}}, ">= 0"),
    ({"Landmarks": [{"Type": "nose", "X": 0.5}]}, "missing 'Y'"),
    ({"Landmarks": {"nose": 1}}, "Landmarks must be a list"),
    ({"Pose": {"Yaw": float("nan")}}, "must be finite"),
    ({"Smile": {"Confidence": 90}}, "Smile is missing 'Value'"),
    ({"EyesOpen": {"Value": "yes"}}, "EyesOpen: attribute Value must be true or false"),
    ({"Confidence": True}, "Confidence must be a number"),
])
def test_validation_names_the_field(bad, message):
    with pytest.raises(FaceFormatError, match=message):
        FaceDetail.from_rekognition(bad)


def test_list_conversion_names_the_index():
    with pytest.raises(FaceFormatError, match="face 1:"):
        faces_from_rekognition([FULL, {"Pose": {"Yaw": "x"}}])
    assert faces_to_rekognition(faces_from_rekognition([FULL])) == [FULL]


def test_fast_and_validating_landmark_paths_agree():
    d = {"Landmarks": [{"Type": "nose", "X": 1, "Y": 0.5}, {"Type": "eyeLeft", "X": 0.25, "Y": 0.5}]}
    face = FaceDetail.from_rekognition(d)
    assert face.to_rekognition() == d and type(face.landmark("nose").x) is int
    with pytest.raises(FaceFormatError, match="Landmark nose X must be finite"):
        FaceDetail.from_rekognition({"Landmarks": [{"Type": "nose", "X": float("inf"), "Y": 0.5}]})
    with pytest.raises(FaceFormatError, match="Type must be a non-empty string"):
        FaceDetail.from_rekognition({"Landmarks": [{"Type": "", "X": 0.5, "Y": 0.5}]})


def test_pickle_round_trip_with_extra_fields():
    import pickle
    face = FaceDetail.from_rekognition(FULL)
    assert pickle.loads(pickle.dumps(face)) == face
