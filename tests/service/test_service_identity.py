"""Identity through Rekognition in the service (issue 10.3): CompareFaces at verify.

A real boto3 Rekognition client behind botocore's Stubber (no network): DetectFaces answers
the frames as they are analyzed, CompareFaces answers at verify with realistic responses
(one match, several faces in the target, no face in the target, a swapped face).
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from svc_helpers import (TestClient, analysed, b64, first_params, jpeg, now_ms,
                         rekognition_session, test_settings)

from liveness_lab.analyzers.rekognition import RekognitionAnalyzer
from liveness_lab.faces import faces_from_rekognition
from liveness_lab.service.api import create_app
from liveness_lab.service.core import ChallengeService
from liveness_lab.service.errors import BadRequest, ServiceUnavailable
from liveness_lab.service.identity import CompareFacesStage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rekognition"
ONE_FACE = json.loads((FIXTURES / "detect_faces_one_face.json").read_text())["FaceDetails"][0]


def compared_face() -> dict:
    """A target face as CompareFaces describes it (a subset of DetectFaces' FaceDetail)."""
    return {k: ONE_FACE[k] for k in ("BoundingBox", "Confidence", "Landmarks", "Pose",
                                     "Quality")}


def compare_response(*similarities: float) -> dict:
    """CompareFaces with SimilarityThreshold=0: every target face is in FaceMatches."""
    source = {"BoundingBox": ONE_FACE["BoundingBox"], "Confidence": ONE_FACE["Confidence"]}
    return {"SourceImageFace": source,
            "FaceMatches": [{"Similarity": s, "Face": compared_face()} for s in similarities],
            "UnmatchedFaces": []}


NO_FACE_IN_TARGET = {"SourceImageFace": {"BoundingBox": ONE_FACE["BoundingBox"],
                                         "Confidence": ONE_FACE["Confidence"]},
                     "FaceMatches": [], "UnmatchedFaces": []}


@pytest.fixture
def client():
    return boto3.client("rekognition", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def count_calls(client, operation: str) -> list[int]:
    calls = [0]

    def hook(**kwargs):
        calls[0] += 1
    client.meta.events.register(f"before-parameter-build.rekognition.{operation}", hook)
    return calls


SEED = 5


def service_with_rekognition(tmp_path, client, **kw):
    """The service as `serve --analyzer rekognition` builds it (default profile), with the
    stubbed client and its first challenge's params known: returns (service, frames)."""
    frames = rekognition_session(first_params(tmp_path, SEED), now_ms())
    analyzer = RekognitionAnalyzer(client, sleep=lambda s: None, rng=random.Random(1),
                                   throttle_retries=2)
    settings = test_settings(tmp_path, analyzer="rekognition", profile=None,
                             analysis_workers=1, test_seed=SEED, **kw)
    return ChallengeService(settings, analyzer_factory=lambda: analyzer), frames


def run_session(svc, stub, frames, compare_responses, *, reference: bytes | None = None):
    """Create, upload (DetectFaces answered per frame), verify (CompareFaces answered)."""
    body = {"imageWidth": 640, "imageHeight": 480}
    if reference is not None:
        body["referenceImage"] = b64(reference)
    ch = svc.create_challenge(body)
    images = [jpeg(seed=i) for i in range(len(frames))]
    for img, (_, faces) in zip(images, frames):
        stub.add_response("detect_faces", {"FaceDetails": [f.to_rekognition() for f in faces]},
                          {"Image": {"Bytes": img}, "Attributes": ["ALL"]})
    for i, response in enumerate(compare_responses):
        source = reference if reference is not None else ANY
        stub.add_response("compare_faces", response,
                          {"SourceImage": {"Bytes": source}, "TargetImage": {"Bytes": ANY},
                           "SimilarityThreshold": 0.0})
    for img, (ts, _) in zip(images, frames):
        svc.put_frame(ch.id, ch.token, ts, b64(img))
    analysed(svc)
    return ch, svc.verify(ch.id, ch.token)


def test_the_service_compares_faces_and_passes_the_same_person(tmp_path, client):
    svc, frames = service_with_rekognition(tmp_path, client)
    with Stubber(client) as stub, svc:
        assert svc.identity is not None and svc.identity.max_calls == 8
        calls = count_calls(client, "CompareFaces")
        ch, verdict = run_session(svc, stub, frames, [compare_response(99.4)] * 8)
        assert verdict["success"] is True, verdict
        one_face = sum(1 for _, fs in frames if len(fs) == 1)
        assert one_face > 20 and 5 <= calls[0] <= 8  # bounded: far fewer calls than frames
        trace = svc.get_challenge(ch.id, ch.token).record.trace
        similarities = [r["identity_similarity"] for r in trace
                        if r.get("identity_similarity") is not None]
        assert similarities[0] == 100.0 and similarities.count(99.4) == calls[0]


def test_a_face_swap_mid_session_fails_verify(tmp_path, client):
    svc, frames = service_with_rekognition(tmp_path, client)
    with Stubber(client) as stub, svc:
        # another person from the third compared frame on (with threshold 0 a stranger is
        # still in FaceMatches, with a low similarity)
        responses = [compare_response(99.1), compare_response(98.7)] + \
            [compare_response(3.2)] * 6
        ch, verdict = run_session(svc, stub, frames, responses)
        assert verdict["success"] is False and verdict["code"] == "identity.changed"
        assert "3.2" in verdict["reason"]


def test_no_face_in_the_target_counts_as_another_person(tmp_path, client):
    svc, frames = service_with_rekognition(tmp_path, client)
    with Stubber(client) as stub, svc:
        responses = [NO_FACE_IN_TARGET] + [compare_response(99.0)] * 7
        _, verdict = run_session(svc, stub, frames, responses)
        assert verdict["success"] is False and verdict["code"] == "identity.changed"


def test_several_faces_in_the_target_take_the_best_match(client):
    with Stubber(client) as stub:
        analyzer = RekognitionAnalyzer(client)
        stub.add_response("compare_faces", compare_response(97.5, 4.1),
                          {"SourceImage": {"Bytes": ANY}, "TargetImage": {"Bytes": ANY},
                           "SimilarityThreshold": 0.0})
        stage = CompareFacesStage(functools.partial(analyzer.compare_faces,
                                                    similarity_threshold=0))
        face = faces_from_rekognition([ONE_FACE])[0]
        faces, calls = stage.annotate([lambda: jpeg(seed=0), lambda: jpeg(seed=1)],
                                      [[face], [face]], decided_at=None)
        assert calls == 1 and faces[1][0].extra["LivenessLab"]["Similarity"] == 97.5


def test_an_enrolled_reference_image_is_the_source_of_every_comparison(tmp_path, client):
    reference = jpeg(320, 240, seed=77)
    svc, frames = service_with_rekognition(tmp_path, client)
    with Stubber(client) as stub, svc:
        calls = count_calls(client, "CompareFaces")
        _, verdict = run_session(svc, stub, frames, [compare_response(99.0)] * 8,
                                 reference=reference)
        # the Stubber checked that every SourceImage was the enrolled image
        assert verdict["success"] is True and 5 <= calls[0] <= 8


def test_throttled_compare_faces_is_retried_then_a_retryable_503(tmp_path, client):
    svc, frames = service_with_rekognition(tmp_path, client)
    with Stubber(client) as stub, svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        images = [jpeg(seed=i) for i in range(len(frames))]
        for img, (_, faces) in zip(images, frames):
            stub.add_response("detect_faces", {"FaceDetails": [f.to_rekognition()
                                                               for f in faces]})
        for _ in range(3):  # 1 call + 2 retries, all throttled
            stub.add_client_error("compare_faces", "ThrottlingException", "Rate exceeded")
        for img, (ts, _) in zip(images, frames):
            svc.put_frame(ch.id, ch.token, ts, b64(img))
        analysed(svc)
        with pytest.raises(ServiceUnavailable, match="face comparison failed"):
            svc.verify(ch.id, ch.token)
        assert svc.challenges.get(ch.id).status == "open"  # not consumed: retry later
        stub.add_client_error("compare_faces", "ThrottlingException", "Rate exceeded")
        for _ in range(8):  # throttled once, then retried successfully
            stub.add_response("compare_faces", compare_response(99.0))
        assert svc.verify(ch.id, ch.token)["success"] is True


def test_a_reference_image_is_refused_without_face_comparison(tmp_path):
    with ChallengeService(test_settings(tmp_path)) as svc:
        with pytest.raises(BadRequest, match="referenceImage is used only"):
            svc.create_challenge({"imageWidth": 640, "imageHeight": 480,
                                  "referenceImage": b64(jpeg())})
    app = create_app(test_settings(tmp_path / "api"))
    with TestClient(app) as c:
        r = c.post("/challenge", json={"imageWidth": 640, "imageHeight": 480,
                                       "referenceImage": "not base64!"})
        assert r.status_code == 400
