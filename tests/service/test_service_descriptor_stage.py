"""Descriptors at verify for the offline analyzers: a bounded identity stage.

Frames are analyzed without descriptors (a dlib descriptor costs about seven mesh
analyses); verify computes them for the first one-face frame and at most
``descriptor_max_calls - 1`` later ones up to the deciding frame.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
from matplotlib.cbook import get_sample_data
from svc_helpers import (DigestAnalyzer, analysed, b64, first_params, jpeg, now_ms,
                         rekognition_session, test_settings)

from liveness_lab.analyzers import create_analyzer
from liveness_lab.challenges import default_registry
from liveness_lab.faces import BoundingBox, FaceDetail
from liveness_lab.service.core import ChallengeService
from liveness_lab.service.errors import BadRequest
from liveness_lab.service.identity import AnalyzerDescriber, DescriptorStage
from liveness_lab.service.settings import Settings
from liveness_lab.service.startup import prepare

SEED = 5


def face(left: float = 0.3) -> FaceDetail:
    return FaceDetail(bounding_box=BoundingBox(left, 0.2, 0.3, 0.4), confidence=99.0)


# -- which frames are described ---------------------------------------------------------------

def test_the_sample_is_bounded_and_keeps_the_first_and_the_deciding_frame():
    stage = DescriptorStage(lambda image, f: [0.0] * 128, max_calls=5)
    frames = [[face()] for _ in range(40)]
    frames[0] = []                       # no face: not described
    frames[3] = [face(), face(0.6)]      # two faces: the challenge decides about it
    chosen = stage.sample(frames, decided_at=30)
    assert len(chosen) == 5 and chosen[0] == 1 and chosen[-1] == 30
    assert 3 not in chosen and chosen == sorted(set(chosen))
    assert stage.sample(frames, decided_at=None)[-1] == 39      # undecided: every frame counts
    assert stage.sample(frames[:4], decided_at=None) == [1, 2]  # fewer frames than calls


def test_annotate_writes_descriptors_only_into_the_sampled_faces():
    seen = []

    def describe(image, f):
        seen.append(image)
        return None if image == b"lost" else [0.5] * 128
    stage = DescriptorStage(describe, max_calls=3)
    images = [b"a", b"b", b"c", b"lost", b"e", b"f"]
    frames = [[face()] for _ in images]
    out, calls = stage.annotate([lambda i=i: i for i in images], frames, decided_at=3)
    described = [i for i, fs in enumerate(out) if "LivenessLab" in fs[0].extra]
    assert calls == 3 and seen == [b"a", b"b", b"lost"]  # first, evenly spaced, the deciding one
    assert described == [0, 1]                           # the face not found again stays bare
    assert list(out[0][0].extra["LivenessLab"]["Descriptor"]) == [0.5] * 128
    with pytest.raises(ValueError, match="cannot use an enrolled reference"):
        stage.annotate([lambda: b"a"], [[face()]], decided_at=None, enrolled=b"ref")
    with pytest.raises(ValueError, match="max_calls must be an integer >= 2"):
        DescriptorStage(describe, max_calls=1)


# -- the real analyzer finds the same face again ------------------------------------------------

def _photo_jpeg(name: str) -> bytes:
    if name == "grace_hopper":
        bgr = cv2.imread(str(get_sample_data("grace_hopper.jpg", asfileobj=False)))
    else:
        from skimage import data
        bgr = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return cv2.imencode(".jpg", bgr)[1].tobytes()


def test_the_describer_gives_the_followed_face_its_descriptor_and_tells_people_apart():
    hopper, astronaut = _photo_jpeg("grace_hopper"), _photo_jpeg("astronaut")
    with create_analyzer("mesh") as plain:
        h_face, a_face = plain.analyze(hopper)[0], plain.analyze(astronaut)[0]
    assert "Descriptor" not in h_face.extra["LivenessLab"]  # as the service analyzes frames
    describer = AnalyzerDescriber(create_analyzer("mesh", descriptors=True))
    try:
        h1 = np.array(describer(hopper, h_face))
        h2 = np.array(describer(cv2.imencode(".jpg", cv2.imdecode(
            np.frombuffer(hopper, np.uint8), cv2.IMREAD_COLOR), [cv2.IMWRITE_JPEG_QUALITY, 60]
        )[1].tobytes(), h_face))
        a = np.array(describer(astronaut, a_face))
        assert h1.shape == (128,)
        assert np.linalg.norm(h1 - h2) < 0.3 < 0.6 < np.linalg.norm(h1 - a)
        elsewhere = FaceDetail(bounding_box=BoundingBox(0.0, 0.0, 0.05, 0.05), confidence=99)
        assert describer(hopper, elsewhere) is None  # no analyzed face where the challenge saw one
    finally:
        describer.close()


# -- the service builds and uses it ------------------------------------------------------------

def test_offline_analyzers_analyze_frames_without_descriptors_and_describe_at_verify(tmp_path):
    registry = default_registry()
    setup = prepare(Settings(data_dir=tmp_path, analyzer="local"), registry)
    try:
        assert setup.analyzer_factory.options == {}  # every frame: no descriptor
        assert setup.engine == "process" and not setup.first_analyzer._config.descriptors
        assert isinstance(setup.identity, DescriptorStage)
        assert setup.identity.max_calls == 8
        assert setup.identity.describe.analyzer._config.descriptors
    finally:
        setup.first_analyzer.close()
        setup.identity.close()
    explicit = prepare(Settings(data_dir=tmp_path, analyzer="local",
                                analyzer_options={"descriptors": True},
                                descriptor_max_calls=3), registry)
    try:  # descriptors asked for on every frame: no stage
        assert explicit.analyzer_factory.options == {"descriptors": True}
        assert explicit.identity is None
    finally:
        explicit.first_analyzer.close()
    seed = prepare(Settings(data_dir=tmp_path, analyzer="local", profile="seed"), registry)
    assert seed.analyzer_factory.options == {} and seed.identity is None  # no identity check


def _service(tmp_path, frames, describe, max_calls=8):
    """The secure default with a table analyzer (faces without descriptors) and the stage."""
    images = [jpeg(seed=i) for i in range(len(frames))]
    table = {hashlib.sha256(img).hexdigest(): fs for img, (_, fs) in zip(images, frames)}
    settings = test_settings(tmp_path, analyzer="local", profile=None, analysis_workers=1,
                             test_seed=SEED)
    svc = ChallengeService(settings, analyzer_factory=lambda: DigestAnalyzer(table),
                           identity=DescriptorStage(describe, max_calls=max_calls))
    return svc, images


def _run(svc, images, frames):
    ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
    for img, (ts, _) in zip(images, frames):
        svc.put_frame(ch.id, ch.token, ts, b64(img))
    analysed(svc)
    return ch, svc.verify(ch.id, ch.token)


def test_verify_describes_a_bounded_sample_and_passes_the_same_person(tmp_path):
    frames = rekognition_session(first_params(tmp_path, SEED), now_ms())
    calls = []

    def describe(image, f):
        calls.append(image)
        return [0.1] * 128
    svc, images = _service(tmp_path, frames, describe)
    with svc:
        ch, verdict = _run(svc, images, frames)
        assert verdict["success"] is True, verdict
        one_face = sum(1 for _, fs in frames if len(fs) == 1)
        assert one_face > 20 and len(calls) == 8  # far fewer descriptors than frames
        trace = svc.get_challenge(ch.id, ch.token).record.trace
        distances = [r["identity_distance"] for r in trace
                     if r.get("identity_distance") is not None]
        assert distances == [0.0] * 8


def test_a_face_swap_between_sampled_frames_fails_verify(tmp_path):
    frames = rekognition_session(first_params(tmp_path, SEED), now_ms())
    images = [jpeg(seed=i) for i in range(len(frames))]
    swapped = set(images[len(images) // 2:])  # another person from half-way on

    def describe(image, f):
        return [0.9] * 128 if image in swapped else [0.1] * 128
    svc, images = _service(tmp_path, frames, describe)
    with svc:
        _, verdict = _run(svc, images, frames)
        assert verdict["success"] is False and verdict["code"] == "identity.changed", verdict


def test_a_reference_image_is_refused_by_the_descriptor_stage(tmp_path):
    frames = rekognition_session(first_params(tmp_path, SEED), now_ms())
    svc, _ = _service(tmp_path, frames, lambda image, f: [0.1] * 128)
    with svc, pytest.raises(BadRequest, match="referenceImage is used only"):
        svc.create_challenge({"imageWidth": 640, "imageHeight": 480,
                              "referenceImage": b64(jpeg())})
