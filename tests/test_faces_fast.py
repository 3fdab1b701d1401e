"""The fast JSON path of FaceDetail.from_rekognition agrees with the validating path.

The validating path runs for any Mapping that is not a plain dict, so
``from_rekognition(MappingProxyType(d))`` is the reference for ``from_rekognition(d)``.
"""

from __future__ import annotations

import pickle
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveness_lab.errors import FaceFormatError
from liveness_lab._face_build import _face_from_json
from liveness_lab.faces import LANDMARK_TYPES, FaceDetail

from test_faces import FULL


def reference(d):
    return FaceDetail.from_rekognition(MappingProxyType(d))


def same_face(a: FaceDetail, b: FaceDetail) -> None:
    assert a == b
    assert a.to_rekognition() == b.to_rekognition()
    for t in ("nose", "eyeLeft", "chinBottom", "nope"):
        assert a.landmark(t) == b.landmark(t)
        lm = b.landmark(t)
        assert a.landmark_point(t) == b.landmark_point(t) == (None if lm is None
                                                              else (lm.x, lm.y))
    assert a.landmark_px("nose", 640, 480) == b.landmark_px("nose", 640, 480)
    assert a.landmark_xy() == b.landmark_xy() == ([lm.x for lm in b.landmarks],
                                                  [lm.y for lm in b.landmarks])
    assert dict(a.extra) == dict(b.extra)


CASES = {
    "full": FULL,
    "no landmarks key": {k: v for k, v in FULL.items() if k != "Landmarks"},
    "empty landmarks": {"Landmarks": [], "Confidence": 50.0},
    "ints in pose and box": {"BoundingBox": {"Width": 1, "Height": 1, "Left": 0, "Top": 0},
                             "Pose": {"Roll": 0, "Yaw": 3, "Pitch": -1}},
    "extra keys in a landmark": {"Landmarks": [{"Type": "nose", "X": 0.5, "Y": 0.5, "Z": 1}]},
    "repeated and unknown types": {"Landmarks": [{"Type": "nose", "X": 0.1, "Y": 0.2},
                                                 {"Type": "nose", "X": 0.3, "Y": 0.4},
                                                 {"Type": "myPoint", "X": 0.5, "Y": 0.6}]},
    "huge finite values": {"Landmarks": [{"Type": "a", "X": 1e308, "Y": 1e308},
                                         {"Type": "b", "X": 1e308, "Y": 0.5}]},
    "only extra fields": {"AgeRange": {"Low": 1, "High": 2},
                          "LivenessLab": {"Descriptor": [0.25] * 128, "PadScore": 0.5}},
    "nothing": {},
}


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_builds_the_same_face(name):
    d = CASES[name]
    fast = FaceDetail.from_rekognition(d)
    same_face(fast, reference(d))
    assert pickle.loads(pickle.dumps(fast)) == fast


def test_plain_float_faces_take_the_fast_path_with_packed_landmarks():
    face = _face_from_json(FULL)
    assert face is not None and face._packed is not None
    assert face.landmark("nose").x == pytest.approx(0.44)
    assert [lm.type for lm in face.landmarks] == list(LANDMARK_TYPES)  # built on first read
    assert face.landmarks is face.landmarks  # ... and kept
    assert face.extra["EyeDirection"]["Yaw"] == 1.5


_number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                    st.booleans(), st.none(), st.text(max_size=2))
_attr = st.one_of(st.none(), st.fixed_dictionaries(
    {}, optional={"Value": st.one_of(st.booleans(), st.none(), st.integers(0, 1)),
                  "Confidence": _number}))
_landmark = st.fixed_dictionaries({}, optional={"Type": st.one_of(st.sampled_from(
    ["nose", "eyeLeft", ""]), st.integers(0, 1)), "X": _number, "Y": _number})
_face = st.fixed_dictionaries({}, optional={
    "BoundingBox": st.one_of(st.none(), st.integers(0, 1), st.fixed_dictionaries(
        {}, optional={k: _number for k in ("Left", "Top", "Width", "Height")})),
    "Pose": st.one_of(st.none(), st.fixed_dictionaries(
        {}, optional={k: _number for k in ("Roll", "Yaw", "Pitch")})),
    "Quality": st.one_of(st.none(), st.fixed_dictionaries(
        {}, optional={k: _number for k in ("Brightness", "Sharpness")})),
    "EyesOpen": _attr, "MouthOpen": _attr, "Smile": _attr, "Confidence": _number,
    "Landmarks": st.one_of(st.none(), st.text(max_size=1), st.lists(
        st.one_of(_landmark, st.integers(0, 1)), max_size=4)),
    "Emotions": st.lists(st.fixed_dictionaries({"Type": st.text(max_size=3)}), max_size=2),
})


@settings(max_examples=300, deadline=None)
@given(_face)
def test_fast_path_accepts_and_rejects_exactly_what_the_validating_path_does(d):
    try:
        expected = reference(d)
    except FaceFormatError as e:
        with pytest.raises(FaceFormatError) as got:
            FaceDetail.from_rekognition(d)
        assert str(got.value) == str(e)  # the fast path declined; the same message
        assert _face_from_json(d) is None
        return
    same_face(FaceDetail.from_rekognition(d), expected)
