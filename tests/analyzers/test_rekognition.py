"""Tests of the Rekognition analyzer: a real boto3 client with botocore's Stubber (no network).

moto has no DetectFaces, so responses come from saved JSON fixtures in the exact
shape AWS returns (tests/fixtures/rekognition/). The Stubber validates them
against botocore's service model when they are queued.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (ClientError, EndpointConnectionError, NoCredentialsError,
                                 NoRegionError)
from botocore.stub import Stubber

from liveness_lab.analyzers.base import FaceAnalyzer
from liveness_lab.analyzers.rekognition import (RekognitionAnalyzer, image_to_bytes,
                                                make_rekognition_client,
                                                parse_compare_faces_response,
                                                parse_detect_faces_response)
from liveness_lab.errors import (AnalyzerError, AnalyzerUnavailableError, FaceFormatError,
                                 InvalidImageError, InvalidS3ObjectError, ThrottlingError)
from liveness_lab.faces import LANDMARK_TYPES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rekognition"
FACE_DETAIL_KEYS = ["BoundingBox", "AgeRange", "Smile", "Eyeglasses", "Sunglasses", "Gender",
                    "Beard", "Mustache", "EyesOpen", "MouthOpen", "Emotions", "Landmarks", "Pose",
                    "Quality", "Confidence", "FaceOccluded", "EyeDirection"]
N_FACES = {"detect_faces_one_face": 1, "detect_faces_no_face": 0,
           "detect_faces_several_faces": 3}


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def make_jpeg(seed: int = 0, size: int = 32) -> bytes:
    """A small real JPEG, different for each seed."""
    rng = np.random.default_rng(seed)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    assert ok
    return buf.tobytes()


def make_png(seed: int = 0) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((8, 8, 3), seed % 256, dtype=np.uint8))
    assert ok
    return buf.tobytes()


def detect_params(image: dict) -> dict:
    return {"Image": image, "Attributes": ["ALL"]}


@pytest.fixture
def client():
    return boto3.client("rekognition", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stubber(client):
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def analyzer(client, sleeps):
    return RekognitionAnalyzer(client, sleep=sleeps, rng=random.Random(7))


# -- fixtures and the pure parser ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(N_FACES))
def test_fixtures_have_the_full_detect_faces_all_shape(name):
    doc = load(name)
    assert set(doc) == {"FaceDetails", "ResponseMetadata"}
    assert doc["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(doc["FaceDetails"]) == N_FACES[name]
    for face in doc["FaceDetails"]:
        assert list(face) == FACE_DETAIL_KEYS
        assert [lm["Type"] for lm in face["Landmarks"]] == list(LANDMARK_TYPES)
        assert len(face["Emotions"]) == 8
        box = face["BoundingBox"]
        for lm in face["Landmarks"]:  # landmarks lie in (or right around) their face box
            assert box["Left"] - 0.02 <= lm["X"] <= box["Left"] + box["Width"] + 0.02
            assert box["Top"] - 0.02 <= lm["Y"] <= box["Top"] + box["Height"] + 0.02


@pytest.mark.parametrize("name", sorted(N_FACES))
def test_parser_round_trips_every_fixture_exactly(name):
    doc = load(name)
    faces = parse_detect_faces_response(doc)
    assert len(faces) == N_FACES[name]
    assert [f.to_rekognition() for f in faces] == doc["FaceDetails"]


def test_parser_reads_the_modelled_fields():
    face, = parse_detect_faces_response(load("detect_faces_one_face"))
    raw = load("detect_faces_one_face")["FaceDetails"][0]
    assert face.pose.yaw == raw["Pose"]["Yaw"]
    assert face.eyes_open.value is True and face.smile.value is False
    assert face.landmark("nose").x == next(lm["X"] for lm in raw["Landmarks"]
                                           if lm["Type"] == "nose")
    assert face.extra["Gender"]["Value"] == "Female"


@pytest.mark.parametrize("response, match", [
    ({}, "no 'FaceDetails'"),
    ({"FaceDetails": {"a": 1}}, "must be a list"),
    ({"FaceDetails": [{"BoundingBox": {"Left": 0.1}}]}, "face 0: BoundingBox is missing"),
    ([], "must be a JSON object"),
])
def test_parser_names_what_is_wrong(response, match):
    with pytest.raises(FaceFormatError, match=match):
        parse_detect_faces_response(response)


def test_compare_faces_parser_takes_the_best_match():
    assert parse_compare_faces_response({"FaceMatches": []}) is None
    assert parse_compare_faces_response({"UnmatchedFaces": []}) is None
    matches = [{"Similarity": 91.5, "Face": {}}, {"Similarity": 99.25, "Face": {}}]
    assert parse_compare_faces_response({"FaceMatches": matches}) == 99.25
    with pytest.raises(FaceFormatError, match=r"FaceMatches\[0\]"):
        parse_compare_faces_response({"FaceMatches": [{"Face": {}}]})


# -- DetectFaces through the Stubber --------------------------------------------------------

@pytest.mark.parametrize("name", sorted(N_FACES))
def test_analyze_bytes_round_trip(analyzer, stubber, name):
    jpeg = make_jpeg()
    doc = load(name)
    stubber.add_response("detect_faces", doc, detect_params({"Bytes": jpeg}))
    faces = analyzer.analyze(jpeg)
    assert [f.to_rekognition() for f in faces] == load(name)["FaceDetails"]


def test_analyze_png_and_bytearray(analyzer, stubber):
    png = make_png()
    stubber.add_response("detect_faces", load("detect_faces_no_face"),
                         detect_params({"Bytes": png}))
    assert analyzer.analyze(bytearray(png)) == []


def test_analyze_array_sends_the_jpeg_of_the_rgb_array(analyzer, stubber):
    rgb = np.zeros((24, 32, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red in RGB
    sent = image_to_bytes(rgb, jpeg_quality=analyzer.jpeg_quality)
    stubber.add_response("detect_faces", load("detect_faces_one_face"),
                         detect_params({"Bytes": sent}))
    assert len(analyzer.analyze(rgb)) == 1
    decoded_bgr = cv2.imdecode(np.frombuffer(sent, np.uint8), cv2.IMREAD_COLOR)
    assert decoded_bgr.shape == (24, 32, 3)
    b, g, r = decoded_bgr[12, 16].astype(int)
    assert r > 240 and g < 15 and b < 15  # the red channel stayed red


def test_grayscale_array_is_encoded():
    gray = np.full((10, 12), 128, dtype=np.uint8)
    decoded = cv2.imdecode(np.frombuffer(image_to_bytes(gray), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (10, 12)


@pytest.mark.parametrize("image, match", [
    (b"", "empty"),
    (b"GIF89a\x01\x00", "only JPEG or PNG"),
    (np.zeros((4, 4, 3), dtype=np.float32), "uint8"),
    (np.zeros((4, 4, 4), dtype=np.uint8), "shape"),
    ("frame.jpg", "got str"),
])
def test_bad_images_are_refused_before_any_call(analyzer, stubber, image, match):
    with pytest.raises(InvalidImageError, match=match):
        analyzer.analyze(image)  # the stubber has no response queued: no call was made


def test_throttling_then_success(analyzer, stubber, sleeps):
    jpeg = make_jpeg()
    stubber.add_client_error("detect_faces", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_client_error("detect_faces", "ProvisionedThroughputExceededException",
                             "Provisioned rate exceeded", 400)
    stubber.add_response("detect_faces", load("detect_faces_one_face"),
                         detect_params({"Bytes": jpeg}))
    faces = analyzer.analyze(jpeg)
    assert len(faces) == 1
    assert len(sleeps.delays) == 2
    # equal jitter: retry n sleeps in [d/2, d] with d = 0.25 * 2**n
    assert 0.125 <= sleeps.delays[0] <= 0.25
    assert 0.25 <= sleeps.delays[1] <= 0.5


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException",
                                  "LimitExceededException"])
def test_throttling_exhausted_raises_throttling_error(client, stubber, sleeps, code):
    analyzer = RekognitionAnalyzer(client, throttle_retries=2, sleep=sleeps)
    for _ in range(3):
        stubber.add_client_error("detect_faces", code, "Rate exceeded", 400)
    with pytest.raises(ThrottlingError, match=f"after 3 attempts.*{code}") as excinfo:
        analyzer.analyze(make_jpeg())
    assert not isinstance(excinfo.value, ClientError)
    assert len(sleeps.delays) == 2


def test_backoff_is_capped(client, stubber, sleeps):
    analyzer = RekognitionAnalyzer(client, throttle_retries=6, backoff_base=0.5, backoff_cap=1.0,
                                   sleep=sleeps, rng=random.Random(1))
    for _ in range(7):
        stubber.add_client_error("detect_faces", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(ThrottlingError):
        analyzer.analyze(make_jpeg())
    assert len(sleeps.delays) == 6
    assert 0.25 <= sleeps.delays[0] <= 0.5
    assert all(0.5 <= d <= 1.0 for d in sleeps.delays[1:])


@pytest.mark.parametrize("code", ["InvalidImageFormatException", "ImageTooLargeException",
                                  "InvalidParameterException"])
def test_rejected_image_raises_invalid_image_error(analyzer, stubber, code):
    stubber.add_client_error("detect_faces", code, "Request has invalid image format", 400)
    with pytest.raises(InvalidImageError, match=f"{code}: Request has invalid image format"
                       ) as excinfo:
        analyzer.analyze(make_jpeg())
    assert not isinstance(excinfo.value, ClientError)
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("code", ["AccessDeniedException", "UnrecognizedClientException"])
def test_access_denied_raises_unavailable(analyzer, stubber, code):
    stubber.add_client_error("detect_faces", code, "User is not authorized", 400)
    with pytest.raises(AnalyzerUnavailableError, match=f"{code}.*rekognition:DetectFaces"):
        analyzer.analyze(make_jpeg())


def test_other_service_errors_raise_analyzer_error(analyzer, stubber):
    stubber.add_client_error("detect_faces", "InternalServerError", "Internal error", 500)
    with pytest.raises(AnalyzerError, match="InternalServerError: Internal error") as excinfo:
        analyzer.analyze(make_jpeg())
    assert type(excinfo.value) is AnalyzerError


class RaisingClient:
    """A client whose every call raises ``error`` (credential and network failures)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def detect_faces(self, **params):
        raise self.error


@pytest.mark.parametrize("error, match", [
    (NoCredentialsError(), "Unable to locate credentials.*AWS_PROFILE"),
    (NoRegionError(), "region"),
    (EndpointConnectionError(endpoint_url="https://rekognition.us-east-1.amazonaws.com"),
     "cannot reach"),
])
def test_credential_and_endpoint_errors_raise_unavailable(error, match):
    analyzer = RekognitionAnalyzer(RaisingClient(error), region_name="us-east-1")
    with pytest.raises(AnalyzerUnavailableError, match=match):
        analyzer.analyze(make_jpeg())


def test_missing_region_for_the_default_client_raises_unavailable(monkeypatch, tmp_path):
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    analyzer = RekognitionAnalyzer()
    with pytest.raises(AnalyzerUnavailableError, match="region"):
        analyzer.analyze(make_jpeg())


def test_default_client_uses_adaptive_retries():
    client = make_rekognition_client("eu-west-1", max_attempts=7, max_pool_connections=16)
    assert client.meta.region_name == "eu-west-1"
    # botocore stores max_attempts (retries) as total_max_attempts (first call included)
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 8}
    assert client.meta.config.max_pool_connections == 16
    analyzer = RekognitionAnalyzer(region_name="eu-west-1", max_attempts=3, max_workers=20)
    assert analyzer.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    assert analyzer.client.meta.config.max_pool_connections == 20
    analyzer.close()
    analyzer.close()


def test_importing_the_module_loads_no_sdk_and_no_opencv():
    code = ("import sys, liveness_lab.analyzers.rekognition; "
            "print(sorted(m for m in ('boto3', 'botocore', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- S3 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("version, s3_object", [
    (None, {"Bucket": "ll-frames", "Name": "c0ffee/1700000000123.jpg"}),
    ("3HL4kqtJlcpXroDTDmJ", {"Bucket": "ll-frames", "Name": "c0ffee/1700000000123.jpg",
                             "Version": "3HL4kqtJlcpXroDTDmJ"}),
])
def test_analyze_s3_sends_the_s3_object(analyzer, stubber, version, s3_object):
    stubber.add_response("detect_faces", load("detect_faces_one_face"),
                         detect_params({"S3Object": s3_object}))
    faces = analyzer.analyze_s3("ll-frames", "c0ffee/1700000000123.jpg", version=version)
    assert [f.to_rekognition() for f in faces] == load("detect_faces_one_face")["FaceDetails"]


def test_unreadable_s3_object_is_a_clear_error(analyzer, stubber):
    stubber.add_client_error("detect_faces", "InvalidS3ObjectException",
                             "Unable to get object metadata from S3. Check object key, region "
                             "and/or access permissions.", 400)
    with pytest.raises(InvalidS3ObjectError,
                       match=r"s3://ll-frames/missing\.jpg .*InvalidS3ObjectException.*region"):
        analyzer.analyze_s3("ll-frames", "missing.jpg")


@pytest.mark.parametrize("bucket, key", [("", "a.jpg"), ("b", ""), (None, "a.jpg")])
def test_analyze_s3_checks_its_arguments(analyzer, bucket, key):
    with pytest.raises(ValueError, match="non-empty string"):
        analyzer.analyze_s3(bucket, key)


# -- batches: a pool sharing one real client ----------------------------------------------------

class ContentStub:
    """Answers DetectFaces on a real client by image content, so a thread pool may call in any
    order (the Stubber's queue needs a fixed call order). Uses the same botocore hook as the
    Stubber and records how many calls ran at once."""

    def __init__(self, client, answers: dict[bytes, object], delays: dict[bytes, float]):
        self.answers, self.delays = answers, delays
        self.calls: list[bytes] = []
        self.running = self.max_running = 0
        self.lock = threading.Lock()
        client.meta.events.register_first("before-call.rekognition.DetectFaces", self.handle)

    def handle(self, params, **kwargs):
        body = json.loads(params["body"])
        assert body["Attributes"] == ["ALL"]
        image = base64.b64decode(body["Image"]["Bytes"])
        with self.lock:
            self.calls.append(image)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(self.delays.get(image, 0.0))
        with self.lock:
            self.running -= 1
        answer = self.answers[image]
        if isinstance(answer, str):  # an error code
            return (AWSResponse(None, 400, {}, None),
                    {"Error": {"Code": answer, "Message": "stubbed"},
                     "ResponseMetadata": {"HTTPStatusCode": 400}})
        return AWSResponse(None, 200, {}, None), copy.deepcopy(answer)


def test_batch_keeps_input_order_with_a_bounded_pool(client):
    one, several, none = (load(n) for n in ("detect_faces_one_face",
                                            "detect_faces_several_faces", "detect_faces_no_face"))
    images = [make_jpeg(i) for i in range(12)]
    docs = [(one, several, none)[i % 3] for i in range(12)]
    # later images answer faster, so completion order is roughly the reverse of input order
    stub = ContentStub(client, dict(zip(images, docs)),
                       {img: 0.004 * (12 - i) for i, img in enumerate(images)})
    analyzer = RekognitionAnalyzer(client, max_workers=4)
    results = analyzer.analyze_batch(iter(images))
    assert [[f.to_rekognition() for f in faces] for faces in results] == [
        d["FaceDetails"] for d in docs]
    assert sorted(stub.calls) == sorted(images)
    assert 1 < stub.max_running <= 4
    assert analyzer.analyze_batch([]) == []


def test_batch_error_cancels_the_images_not_started(client):
    images = [make_jpeg(i) for i in range(40)]
    answers = {img: load("detect_faces_one_face") for img in images}
    answers[images[1]] = "InvalidImageFormatException"
    stub = ContentStub(client, answers, {img: 0.05 for img in images[2:]})
    analyzer = RekognitionAnalyzer(client, max_workers=2)
    with pytest.raises(InvalidImageError, match="batch image 1: .*InvalidImageFormatException"):
        analyzer.analyze_batch(images)
    assert len(stub.calls) < 10  # the rest were cancelled before they started


# -- CompareFaces ---------------------------------------------------------------------------------

def compare_response(similarities: list[float]) -> dict:
    """A CompareFaces response built from the one-face fixture (as AWS shapes it)."""
    face = load("detect_faces_one_face")["FaceDetails"][0]
    compared = {"BoundingBox": face["BoundingBox"], "Confidence": face["Confidence"],
                "Landmarks": [lm for lm in face["Landmarks"]
                              if lm["Type"] in ("eyeLeft", "eyeRight", "mouthLeft",
                                                "mouthRight", "nose")],
                "Pose": face["Pose"], "Quality": face["Quality"]}
    return {"SourceImageFace": {"BoundingBox": face["BoundingBox"],
                                "Confidence": face["Confidence"]},
            "FaceMatches": [{"Similarity": s, "Face": compared} for s in similarities],
            "UnmatchedFaces": [] if similarities else [compared],
            "ResponseMetadata": {"RequestId": "4c9e1c6a-0f3e-4a39-9d26-6f1a8c4f4b1e",
                                 "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}


def test_compare_faces_returns_the_similarity(analyzer, stubber):
    source, target = make_jpeg(1), make_jpeg(2)
    expected = {"SourceImage": {"Bytes": source}, "TargetImage": {"Bytes": target},
                "SimilarityThreshold": 90.0}
    stubber.add_response("compare_faces", compare_response([99.61, 93.5]), expected)
    assert analyzer.compare_faces(source, target, similarity_threshold=90) == 99.61
    stubber.add_response("compare_faces", compare_response([]), expected)
    assert analyzer.compare_faces(source, target, similarity_threshold=90) is None


def test_compare_faces_errors_are_translated(analyzer, stubber):
    stubber.add_client_error("compare_faces", "InvalidParameterException",
                             "Request has invalid parameters", 400)
    with pytest.raises(InvalidImageError, match="CompareFaces rejected the image"):
        analyzer.compare_faces(make_jpeg(1), make_jpeg(2))
    with pytest.raises(ValueError, match="similarity_threshold"):
        analyzer.compare_faces(make_jpeg(1), make_jpeg(2), similarity_threshold=101)


# -- settings -------------------------------------------------------------------------------------

def test_fingerprint_has_attributes_and_region_but_no_credentials(client):
    fp = RekognitionAnalyzer(client).config_fingerprint()
    assert json.loads(fp) == {"api": "DetectFaces", "attributes": ["ALL"],
                              "region": "us-east-1", "jpeg_quality": 95}
    assert "testing" not in fp
    assert RekognitionAnalyzer(client, attributes=("DEFAULT",)).config_fingerprint() != fp
    other = boto3.client("rekognition", region_name="eu-west-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing")
    assert RekognitionAnalyzer(other).config_fingerprint() != fp


def test_is_a_face_analyzer_named_rekognition(client):
    analyzer = RekognitionAnalyzer(client)
    assert isinstance(analyzer, FaceAnalyzer) and analyzer.name == "rekognition"
    with analyzer:
        pass
    assert analyzer.client is client  # an injected client is not closed nor replaced


@pytest.mark.parametrize("kwargs, match", [
    ({"max_workers": 0}, "max_workers"),
    ({"max_attempts": -1}, "max_attempts"),
    ({"throttle_retries": -1}, "throttle_retries"),
    ({"attributes": "ALL"}, "sequence"),
    ({"attributes": ()}, "non-empty"),
    ({"backoff_cap": -1}, "backoff_cap"),
    ({"jpeg_quality": 0}, "jpeg_quality"),
    ({"region_name": ""}, "region_name"),
])
def test_constructor_checks_its_arguments(client, kwargs, match):
    with pytest.raises(ValueError, match=match):
        RekognitionAnalyzer(client, **kwargs)
