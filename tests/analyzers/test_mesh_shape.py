"""Every offline analyzer's output has the shape of Rekognition's DetectFaces answer.

botocore's ``Stubber.add_response`` validates a queued response against the
service model of ``DetectFaces`` (member names and types, no unknown members),
so each analyzer's faces are queued as a DetectFaces response, without the
``LivenessLab`` extension (ours, and the only key Rekognition does not define),
then read back through the client. What botocore's validator leaves out, the
model's enum values (the landmark ``Type``) and ranges (``Confidence`` 0..100,
angles -180..180), is checked against the same service model by :func:`constraint_errors`.
"""

from __future__ import annotations

import boto3
import cv2
import numpy as np
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from liveness_lab.analyzers import create_analyzer
from liveness_lab.faces import faces_to_rekognition

ANALYZERS = {"mesh": {}, "local 68": {"landmarks": "68"}, "local 5": {"landmarks": "5"}}
EXTENSION = "LivenessLab"


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def client():
    return boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


def constraint_errors(value, shape, path: str = "FaceDetail") -> list[str]:
    """Enum and min/max violations of ``value`` against a botocore ``shape``."""
    errors = []
    if shape.type_name == "structure":
        for key, member in shape.members.items():
            if key in value:
                errors += constraint_errors(value[key], member, f"{path}.{key}")
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            errors += constraint_errors(item, shape.member, f"{path}[{i}]")
    else:
        if getattr(shape, "enum", None) and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of the model's values")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if shape.type_name in ("float", "integer") and (
                (low is not None and value < low) or (high is not None and value > high)):
            errors.append(f"{path}: {value!r} is outside [{low}, {high}]")
    return errors


def _face_shape(client):
    return client.meta.service_model.shape_for("FaceDetail")


def _without_extension(details: list[dict]) -> list[dict]:
    return [{k: v for k, v in d.items() if k != EXTENSION} for d in details]


def _through_the_stubber(client, details: list[dict]) -> dict:
    with Stubber(client) as stub:
        stub.add_response("detect_faces", {"FaceDetails": details},
                          {"Image": {"Bytes": b"x"}, "Attributes": ["ALL"]})
        return client.detect_faces(Image={"Bytes": b"x"}, Attributes=["ALL"])


@pytest.mark.parametrize("name", list(ANALYZERS))
def test_analyzer_output_validates_against_the_detect_faces_model(client, photo, name):
    name_, _, _ = name.partition(" ")
    analyzer = create_analyzer(name_, **ANALYZERS[name])
    details = faces_to_rekognition(analyzer.analyze(photo))
    assert len(details) == 1
    assert set(details[0]) - set(_without_extension(details)[0]) <= {EXTENSION}
    response = _through_the_stubber(client, _without_extension(details))
    assert response["FaceDetails"] == _without_extension(details)
    assert constraint_errors(response["FaceDetails"][0], _face_shape(client)) == []
    if name == "mesh":
        assert set(response["FaceDetails"][0]["EyeDirection"]) == {"Yaw", "Pitch", "Confidence"}
        assert len(response["FaceDetails"][0]["Landmarks"]) == 30


def test_the_checks_do_refuse_a_malformed_face(client, photo):
    details = _without_extension(faces_to_rekognition(create_analyzer("mesh").analyze(photo)))
    with pytest.raises(ParamValidationError, match="LivenessLab"):
        _through_the_stubber(client, [dict(details[0], LivenessLab={"Mesh": []})])
    with pytest.raises(ParamValidationError, match="Yaw"):
        _through_the_stubber(client, [dict(details[0], EyeDirection={"Yaw": "left"})])
    bad = dict(details[0], Landmarks=[{"Type": "noseTip", "X": 0.5, "Y": 0.5}], Confidence=101.0)
    assert constraint_errors(bad, _face_shape(client)) == [
        "FaceDetail.Landmarks[0].Type: 'noseTip' is not one of the model's values",
        "FaceDetail.Confidence: 101.0 is outside [0, 100]"]
