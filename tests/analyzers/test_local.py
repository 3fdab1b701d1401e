"""The offline local analyzer, its geometry and the image decoding it shares with the service.

Real photos: matplotlib's grace_hopper.jpg and scikit-image's astronaut. The
68-point model is loaded once per module. Grace Hopper's frontal face (with
glasses) gives noisy yaw, so pose signs are checked on the astronaut, on
synthetic turns and on exact projections of the head model.
"""

from __future__ import annotations

import json
import math
import struct

import cv2
import numpy as np
import pytest

from liveness_lab.analyzers import _geometry as geo
from liveness_lab.analyzers.images import (DEFAULT_MAX_PIXELS, decode_image, image_format,
                                           image_size, to_rgb_array)
from liveness_lab.analyzers.local import (ALGORITHM_VERSION, LocalAnalyzer, LocalAnalyzerConfig,
                                          LocalFaceTracker, find_model_file)
from liveness_lab.errors import AnalyzerUnavailableError, InvalidImageError
from liveness_lab.faces import LANDMARK_TYPES, FaceDetail

# -- inputs -----------------------------------------------------------------------------------


def _grace() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _astronaut() -> np.ndarray:
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut())


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {"grace_hopper": _grace(), "astronaut": _astronaut()}


@pytest.fixture(scope="module")
def analyzer():
    a = LocalAnalyzer().load()
    yield a
    a.close()


@pytest.fixture(scope="module")
def analyzer5():
    a = LocalAnalyzer(landmarks="5").load()
    yield a
    a.close()


@pytest.fixture(scope="module")
def faces(analyzer, photos) -> dict[str, list[FaceDetail]]:
    return {name: analyzer.analyze(img) for name, img in photos.items()}


def mirrored(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def rotated(image: np.ndarray, degrees_ccw: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees_ccw, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def bump_warp(image: np.ndarray, face: FaceDetail, dx: float = 0.0, dy: float = 0.0,
              ) -> np.ndarray:
    """Move the middle of the face by (dx, dy) face widths/heights, fading toward its contour.

    The nose moves most, the eyes and mouth less, the contour hardly: what a
    head turn (dx) or nod (dy) looks like in the image.
    """
    h, w = image.shape[:2]
    nx, ny = face.landmark_px("nose", w, h)
    fw, fh = face.bounding_box.width * w, face.bounding_box.height * h
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-((xs - nx) ** 2 / (2 * (0.3 * fw) ** 2)
                    + (ys - ny) ** 2 / (2 * (0.3 * fh) ** 2)))
    return cv2.remap(image, xs - np.float32(dx * fw) * bump, ys - np.float32(dy * fh) * bump,
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


# -- detection and fields ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_each_photo_has_exactly_one_face(faces, name):
    assert len(faces[name]) == 1
    face = faces[name][0]
    assert 90 <= face.confidence <= 100


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_68_point_mode_gives_all_30_landmark_types_inside_the_image(faces, name):
    face = faces[name][0]
    assert [lm.type for lm in face.landmarks] == list(LANDMARK_TYPES)  # Rekognition's order
    for lm in face.landmarks:
        assert 0 < lm.x < 1 and 0 < lm.y < 1, lm


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_landmarks_are_named_from_the_image(faces, photos, name):
    face = faces[name][0]
    h, w = photos[name].shape[:2]
    x = {t: face.landmark_px(t, w, h)[0] for t in LANDMARK_TYPES}
    y = {t: face.landmark_px(t, w, h)[1] for t in LANDMARK_TYPES}
    # "left" is the image's left for an upright face, as Rekognition names them
    assert x["leftEyeLeft"] < x["eyeLeft"] < x["leftEyeRight"] < x["rightEyeLeft"] \
        < x["eyeRight"] < x["rightEyeRight"]
    assert x["mouthLeft"] < x["mouthRight"] and x["noseLeft"] < x["noseRight"]
    assert x["upperJawlineLeft"] < x["midJawlineLeft"] < x["chinBottom"] \
        < x["midJawlineRight"] < x["upperJawlineRight"]
    assert y["leftEyeBrowUp"] < y["eyeLeft"] < y["nose"] < y["mouthUp"] < y["mouthDown"] \
        < y["chinBottom"]
    assert y["leftEyeUp"] < y["leftEyeDown"] and y["rightEyeUp"] < y["rightEyeDown"]


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_box_is_rekognition_like(faces, photos, name):
    face = faces[name][0]
    h, w = photos[name].shape[:2]
    left, top, bw, bh = face.bounding_box.to_pixels(w, h)
    assert bh > 1.05 * bw  # taller than wide: it reaches up to the forehead
    brow = min(face.landmark_px(t, w, h)[1] for t in ("leftEyeBrowUp", "rightEyeBrowUp"))
    chin = face.landmark_px("chinBottom", w, h)[1]
    assert top < brow - 0.2 * (chin - brow)
    for lm in face.landmarks:
        x, y = lm.to_pixels(w, h)
        assert left <= x <= left + bw and top <= y <= top + bh + 1, lm


def test_grace_hopper_eyes_open_mouth_closed_no_smile(faces):
    face = faces["grace_hopper"][0]
    assert face.eyes_open.value is True
    assert face.mouth_open.value is False
    assert face.smile.value is False
    for attr in (face.eyes_open, face.mouth_open, face.smile):
        assert 50 <= attr.confidence <= 100


def test_astronaut_eyes_open_and_smiling(faces):
    face = faces["astronaut"][0]
    assert face.eyes_open.value is True
    assert face.smile.value is True
    assert face.mouth_open.value is True  # her smile shows her teeth


@pytest.mark.parametrize("transform", [
    mirrored,
    lambda im: cv2.resize(im, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR),
    lambda im: rotated(im, 15),
    lambda im: cv2.GaussianBlur(im, (0, 0), 2),
], ids=["mirrored", "scaled x2", "rotated", "blurred"])
def test_attributes_survive_ordinary_transformations(analyzer, photos, transform):
    for name, (eyes, mouth, smile) in {"grace_hopper": (True, False, False),
                                       "astronaut": (True, True, True)}.items():
        found = analyzer.analyze(transform(photos[name]))
        assert len(found) == 1, name
        face = found[0]
        assert (face.eyes_open.value, face.mouth_open.value, face.smile.value) == \
            (eyes, mouth, smile), name


def test_painted_closed_eyes_read_closed_with_pupils_at_the_eye_centres(analyzer, photos):
    image = photos["astronaut"]
    rgb, gray = analyzer._prepare(image)
    points = analyzer._fit(gray, analyzer._detect(rgb)[0][0])
    mask = np.zeros(image.shape[:2], np.uint8)
    for eye in (points[36:42], points[42:48]):
        c = eye.mean(axis=0)
        cv2.fillPoly(mask, [np.round(c + (eye - c) * (1.15, 1.6)).astype(np.int32)], 255)
    closed = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    for eye in (points[36:42], points[42:48]):
        lid = np.array([eye[0], (eye[5] + eye[1]) / 2 + (0, 1), (eye[4] + eye[2]) / 2 + (0, 1),
                        eye[3]])
        cv2.polylines(closed, [np.round(lid).astype(np.int32)], False, (40, 30, 30), 1,
                      cv2.LINE_AA)
    face = analyzer.analyze(closed)[0]
    assert face.eyes_open.value is False
    # all 30 landmarks as Rekognition gives them; a closed eye's pupil sits at its centre
    assert [lm.type for lm in face.landmarks] == list(LANDMARK_TYPES)
    for side in ("left", "right"):
        pupil, centre = face.landmark(f"{side}Pupil"), face.landmark(f"eye{side.title()}")
        assert (pupil.x, pupil.y) == (centre.x, centre.y)


def test_quality_drops_with_blur_and_darkness(analyzer, faces, photos):
    sharp = faces["grace_hopper"][0].quality
    assert 0 <= sharp.brightness <= 100 and 0 <= sharp.sharpness <= 100
    blurred = analyzer.analyze(cv2.GaussianBlur(photos["grace_hopper"], (0, 0), 3))[0].quality
    dark = analyzer.analyze((photos["grace_hopper"] * 0.5).astype(np.uint8))[0].quality
    assert blurred.sharpness < sharp.sharpness - 30
    assert dark.brightness == pytest.approx(sharp.brightness / 2, rel=0.1)


def test_no_face_is_an_empty_list(analyzer):
    assert analyzer.analyze(np.full((240, 320, 3), 127, np.uint8)) == []
    rng = np.random.default_rng(0)
    assert analyzer.analyze(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)) == []


def test_analyze_is_deterministic_and_accepts_bytes_and_gray(analyzer, photos, faces):
    image = photos["astronaut"]
    again = analyzer.analyze(image.copy())
    assert [f.to_rekognition() for f in again] == [f.to_rekognition() for f in faces["astronaut"]]
    from_png = analyzer.analyze(png(image))
    assert [f.to_rekognition() for f in from_png] == [f.to_rekognition() for f in again]
    from_jpeg = analyzer.analyze(jpeg(image))
    assert len(from_jpeg) == 1
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert len(analyzer.analyze(gray)) == 1


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_faces_round_trip_through_rekognition_json(faces, name):
    face = faces[name][0]
    text = json.dumps({"FaceDetails": [face.to_rekognition()]})
    back = FaceDetail.from_rekognition(json.loads(text)["FaceDetails"][0])
    assert back == face
    assert back.to_rekognition() == face.to_rekognition()
    assert list(face.to_rekognition()) == ["BoundingBox", "Smile", "EyesOpen", "MouthOpen",
                                           "Landmarks", "Pose", "Quality", "Confidence"]


# -- 5-point mode -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_5_point_mode_omits_what_it_cannot_estimate(analyzer5, faces, photos, name):
    found = analyzer5.analyze(photos[name])
    assert len(found) == 1
    face = found[0]
    assert face.eyes_open is None and face.mouth_open is None and face.smile is None
    types = {lm.type for lm in face.landmarks}
    assert types == {"eyeLeft", "eyeRight", "leftEyeLeft", "leftEyeRight", "rightEyeLeft",
                     "rightEyeRight", "nose"}
    out = face.to_rekognition()
    assert not {"EyesOpen", "MouthOpen", "Smile"} & set(out)
    assert {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"} <= set(out)
    # where both modes give a landmark they agree (within 4% of the image)
    full = faces[name][0]
    for t in types:
        assert abs(face.landmark(t).x - full.landmark(t).x) < 0.04, t
        assert abs(face.landmark(t).y - full.landmark(t).y) < 0.04, t
    assert abs(face.pose.roll - full.pose.roll) < 5


def test_5_point_yaw_also_flips_on_the_mirror(analyzer5, photos):
    image = bump_warp(photos["astronaut"], LocalAnalyzer().analyze(photos["astronaut"])[0], dx=0.1)
    yaw = analyzer5.analyze(image)[0].pose.yaw
    assert yaw > 5
    assert analyzer5.analyze(mirrored(image))[0].pose.yaw < -5


# -- pose conventions ---------------------------------------------------------------------------

def _project(roll: float, yaw: float, pitch: float, width=640, height=480):
    """Project the head model posed by Rekognition-convention angles (degrees)."""
    r, y, p = np.radians([roll, yaw, pitch])
    rz = np.array([[math.cos(-r), -math.sin(-r), 0], [math.sin(-r), math.cos(-r), 0], [0, 0, 1]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(-p), -math.sin(-p)], [0, math.sin(-p), math.cos(-p)]])
    m = rz @ ry @ rx  # head rotation in the viewer frame (x right, y up, z toward the viewer)
    model = np.array(list(geo.MODEL_POINTS_68.values()))
    viewer = model @ m.T
    f = max(width, height)
    depth = 600.0 - viewer[:, 2]  # the camera looks at the face from 600 mm
    u = width / 2 + f * viewer[:, 0] / depth
    v = height / 2 - f * viewer[:, 1] / depth
    return np.stack([u, v], axis=1), model


def test_pose_of_a_frontal_projection_is_zero():
    img, model = _project(0, 0, 0)
    roll, yaw, pitch, _, _ = geo.solve_pose(img, model, 640, 480)
    assert (roll, yaw, pitch) == pytest.approx((0, 0, 0), abs=0.5)


@pytest.mark.parametrize("roll, yaw, pitch", [(0, 25, 0), (0, -25, 0), (0, 0, 15), (0, 0, -15),
                                              (20, 0, 0), (-20, 0, 0), (10, -20, 10)])
def test_pose_recovers_projected_angles(roll, yaw, pitch):
    img, model = _project(roll, yaw, pitch)
    got = geo.solve_pose(img, model, 640, 480)[:3]
    assert got == pytest.approx((roll, yaw, pitch), abs=1.0)


def test_the_conventions_in_image_terms():
    keys = list(geo.MODEL_POINTS_68)
    nose, left_eye, right_eye, chin = (keys.index(i) for i in (30, 36, 45, 8))
    frontal, _ = _project(0, 0, 0)
    # yaw > 0: the nose tip moves toward the image's RIGHT (the NOSE challenge's rule)
    turned, _ = _project(0, 20, 0)
    assert turned[nose, 0] - turned[[left_eye, right_eye], 0].mean() > \
        frontal[nose, 0] - frontal[[left_eye, right_eye], 0].mean() + 5
    # pitch > 0: looking up, the nose tip rises toward the eyes
    up, _ = _project(0, 0, 15)
    assert up[nose, 1] - up[left_eye, 1] < frontal[nose, 1] - frontal[left_eye, 1] - 5
    # roll > 0: clockwise in the image, the image-right eye drops below the left one
    cw, _ = _project(15, 0, 0)
    assert cw[right_eye, 1] > cw[left_eye, 1] + 10
    assert cw[chin, 0] < frontal[chin, 0]


def test_yaw_sign_flips_on_the_mirrored_photo(faces, analyzer, photos):
    yaw = faces["astronaut"][0].pose.yaw
    flipped = analyzer.analyze(mirrored(photos["astronaut"]))[0].pose.yaw
    assert abs(yaw) > 3 and np.sign(flipped) == -np.sign(yaw)
    assert abs(flipped + yaw) < 3


# Grace Hopper's landmarks (behind glasses) are noisier: only the signs are checked there.
@pytest.mark.parametrize("name, margin", [("astronaut", 5.0), ("grace_hopper", 0.0)])
def test_a_synthetic_turn_toward_the_image_right_gives_positive_yaw(analyzer, faces, photos,
                                                                    name, margin):
    face = faces[name][0]
    right = bump_warp(photos[name], face, dx=+0.15)
    left = bump_warp(photos[name], face, dx=-0.15)
    h, w = photos[name].shape[:2]
    right_face, left_face = analyzer.analyze(right)[0], analyzer.analyze(left)[0]
    assert right_face.landmark_px("nose", w, h)[0] > left_face.landmark_px("nose", w, h)[0] + 10
    assert right_face.pose.yaw > margin and left_face.pose.yaw < -margin
    # and each one mirrored turns the other way
    assert analyzer.analyze(mirrored(right))[0].pose.yaw < -margin
    assert analyzer.analyze(mirrored(left))[0].pose.yaw > margin


def test_yaw_grows_with_the_turn(analyzer, faces, photos):
    face = faces["astronaut"][0]
    yaws = [analyzer.analyze(bump_warp(photos["astronaut"], face, dx=dx))[0].pose.yaw
            for dx in (-0.1, 0.0, 0.1)]
    assert yaws[0] + 4 < yaws[1] < yaws[2] - 4


def test_raising_the_nose_gives_positive_pitch(analyzer, faces, photos):
    face = faces["astronaut"][0]
    up = analyzer.analyze(bump_warp(photos["astronaut"], face, dy=-0.08))[0].pose.pitch
    down = analyzer.analyze(bump_warp(photos["astronaut"], face, dy=+0.08))[0].pose.pitch
    assert up > face.pose.pitch + 5 and down < face.pose.pitch - 5


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_roll_follows_the_rotation_of_the_photo(analyzer, faces, photos, name):
    base = faces[name][0].pose.roll
    cw = analyzer.analyze(rotated(photos[name], -15))[0].pose.roll
    ccw = analyzer.analyze(rotated(photos[name], 15))[0].pose.roll
    assert 8 < cw - base < 22
    assert 8 < base - ccw < 22


# -- pupils -------------------------------------------------------------------------------------

def _synthetic_eye(iris_x: float) -> tuple[np.ndarray, np.ndarray]:
    """A skin patch with an almond eye 40 px wide and an iris at ``iris_x`` (0..1 of the width)."""
    img = np.full((60, 80), 170, np.uint8)
    eye = np.array([(20, 30), (30, 24), (50, 24), (60, 30), (50, 36), (30, 36)], dtype=float)
    cv2.fillPoly(img, [eye.astype(np.int32)], 235)
    cx = 20 + 40 * iris_x
    cv2.circle(img, (int(round(cx)), 30), 7, 60, -1)
    cv2.circle(img, (int(round(cx)), 30), 3, 15, -1)
    return img, eye


@pytest.mark.parametrize("iris_x", [0.3, 0.5, 0.7])
def test_pupil_is_measured_from_the_iris_not_the_outline(iris_x):
    img, eye = _synthetic_eye(iris_x)
    x, y = geo.estimate_pupil(img, eye)
    assert x == pytest.approx(20 + 40 * iris_x, abs=1.5)
    assert y == pytest.approx(30, abs=1.5)


def test_pupil_of_a_featureless_eye_is_unknown():
    img = np.full((60, 80), 170, np.uint8)
    eye = np.array([(20, 30), (30, 24), (50, 24), (60, 30), (50, 36), (30, 36)], dtype=float)
    assert geo.estimate_pupil(img, eye) is None


def test_gaze_moves_the_pupils_on_a_real_photo(analyzer, faces, photos):
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
        return analyzer.analyze(out.astype(np.uint8))[0]

    def position(f, side):  # pupil between the eye corners, 0..1
        left = f.landmark_px(f"{side}EyeLeft", w, h)[0]
        right = f.landmark_px(f"{side}EyeRight", w, h)[0]
        return (f.landmark_px(f"{side}Pupil", w, h)[0] - left) / (right - left)

    looking_left, looking_right = look(-3), look(+3)
    for side in ("left", "right"):
        assert position(looking_right, side) > position(face, side) + 0.04
        assert position(looking_left, side) < position(face, side) - 0.04


# -- geometry units ----------------------------------------------------------------------------

def test_eye_aspect_ratio_of_an_open_and_a_closed_eye():
    open_eye = np.array([(0, 0), (10, -5), (20, -5), (30, 0), (20, 5), (10, 5)], dtype=float)
    closed = np.array([(0, 0), (10, -1), (20, -1), (30, 0), (20, 1), (10, 1)], dtype=float)
    assert geo.eye_aspect_ratio(open_eye) == pytest.approx(10 / 30)
    assert geo.eye_aspect_ratio(closed) == pytest.approx(2 / 30)


@pytest.mark.parametrize("score, expected", [(0.0, 50.0), (0.5, 90.9), (1.0, 99.0)])
def test_detector_confidence_mapping(score, expected):
    assert geo.detector_confidence(score) == pytest.approx(expected, abs=0.05)


def test_threshold_confidence_is_50_at_the_threshold_and_grows():
    assert geo.threshold_confidence(0.2, 0.2, 0.05) == 50
    assert 50 < geo.threshold_confidence(0.25, 0.2, 0.05) < geo.threshold_confidence(0.4, 0.2, 0.05)
    assert geo.threshold_confidence(0.15, 0.2, 0.05) == geo.threshold_confidence(0.25, 0.2, 0.05)


# -- tracking ------------------------------------------------------------------------------------

def _clip(photo: np.ndarray, frames: int) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    out = []
    for i in range(frames):
        m = np.float32([[1, 0, 4 * i], [0, 1, 2 * i]])
        out.append(cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return out


def test_tracking_follows_the_face_with_few_full_detections(analyzer, photos):
    clip = _clip(photos["grace_hopper"], 12)
    tracker = analyzer.tracker()
    tracked = [tracker.update(f) for f in clip]
    assert all(len(found) == 1 for found in tracked)
    assert tracker.detections == 2 and tracker.frames == 12  # frames 0 and 10 (interval 10)
    h, w = clip[0].shape[:2]
    for i, (found, frame) in enumerate(zip(tracked, clip)):
        fresh = analyzer.analyze(frame)[0]
        assert abs(found[0].landmark_px("nose", w, h)[0] - fresh.landmark_px("nose", w, h)[0]) < 8
        assert found[0].landmark_px("nose", w, h)[0] > tracked[0][0].landmark_px("nose", w, h)[0] \
            + 4 * i - 8
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


def test_tracker_wants_a_local_analyzer():
    with pytest.raises(ValueError, match="LocalAnalyzer"):
        LocalFaceTracker(object())  # type: ignore[arg-type]
    assert isinstance(LocalAnalyzer().tracker(), LocalFaceTracker)


# -- configuration and models -------------------------------------------------------------------

def test_models_load_lazily_and_a_missing_model_is_a_clear_error(tmp_path):
    a = LocalAnalyzer(model_dir=str(tmp_path))  # nothing is checked or loaded yet
    assert a._models is None
    with pytest.raises(AnalyzerUnavailableError, match="shape_predictor_68_face_landmarks.dat"):
        a.analyze(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(AnalyzerUnavailableError, match="model_dir"):
        find_model_file("shape_predictor_5_face_landmarks.dat", str(tmp_path))
    assert find_model_file("shape_predictor_5_face_landmarks.dat").is_file()


def test_config_is_validated_and_feeds_the_fingerprint():
    with pytest.raises(ValueError, match="'68' or '5'"):
        LocalAnalyzerConfig(landmarks="12")
    with pytest.raises(ValueError, match="detection_width"):
        LocalAnalyzerConfig(detection_width=10)
    with pytest.raises(ValueError, match="eyes_open_threshold"):
        LocalAnalyzerConfig(eyes_open_threshold="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown local analyzer setting.*'colour'.*landmarks"):
        LocalAnalyzer(colour="red")
    assert LocalAnalyzerConfig(landmarks=5).landmarks == "5"  # type: ignore[arg-type]
    a, b = LocalAnalyzer(), LocalAnalyzer(eyes_open_threshold=0.25)
    assert a.config_fingerprint() == LocalAnalyzer().config_fingerprint()
    assert a.config_fingerprint() != b.config_fingerprint()
    assert a.config_fingerprint().startswith(f"local/{ALGORITHM_VERSION}:")
    c = LocalAnalyzer(LocalAnalyzerConfig(landmarks="5"), upsample=1)
    assert (c.config.landmarks, c.config.upsample) == ("5", 1)


def test_the_licence_warning_is_in_the_docstrings():
    assert "commercial" in LocalAnalyzer.__doc__
    assert "commercial" in LocalAnalyzerConfig.__doc__


# -- image decoding ------------------------------------------------------------------------------

def test_decode_jpeg_and_png_to_rgb(photos):
    image = photos["astronaut"]
    assert np.array_equal(decode_image(png(image)), image)
    decoded = decode_image(jpeg(image, 95))
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - image).mean() < 3  # RGB order kept
    assert image_size(jpeg(image)) == (512, 512) and image_format(png(image)) == "png"


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"hello, world", "not a JPEG or PNG"),
    (b"GIF89a" + bytes(20), "not a JPEG or PNG"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "truncated JPEG"),
    (b"\xff\xd8\xff\xe0" + bytes(10), "malformed JPEG"),
])
def test_garbage_bytes_are_refused(data, message):
    with pytest.raises(InvalidImageError, match=message):
        decode_image(data)


def test_truncated_images_are_refused(photos):
    data = jpeg(photos["astronaut"])
    for cut in (len(data) // 2, len(data) - 2):
        with pytest.raises(InvalidImageError, match="truncated JPEG"):
            decode_image(data[:cut])
    with pytest.raises(InvalidImageError, match="truncated JPEG"):
        decode_image(data[:40])
    p = png(photos["astronaut"])
    with pytest.raises(InvalidImageError, match="truncated PNG"):
        decode_image(p[:len(p) // 2])


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF) dimensions of a JPEG."""
    i = 2
    while True:
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            return data[:i + 5] + struct.pack(">HH", height, width) + data[i + 9:]
        i += 2 + length


def test_headers_claiming_huge_images_are_refused_before_decoding(photos):
    p = png(photos["astronaut"])
    bomb = p[:16] + struct.pack(">II", 100_000, 100_000) + p[24:]
    with pytest.raises(InvalidImageError, match="100000 x 100000 pixels"):
        decode_image(bomb)
    j = _jpeg_with_size(jpeg(photos["astronaut"]), 60_000, 60_000)
    assert image_size(j) == (60_000, 60_000)
    with pytest.raises(InvalidImageError, match="60000 x 60000"):
        decode_image(j)
    with pytest.raises(InvalidImageError, match="at most 1,000"):
        decode_image(png(photos["astronaut"]), max_pixels=1000)
    assert DEFAULT_MAX_PIXELS >= 1920 * 1080


def test_analyze_reports_invalid_images(analyzer):
    with pytest.raises(InvalidImageError):
        analyzer.analyze(b"not an image")
    with pytest.raises(InvalidImageError, match="pass its bytes"):
        analyzer.analyze("photo.jpg")  # type: ignore[arg-type]


def test_to_rgb_array_validates_arrays():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb_array(gray)
    assert rgb.shape == (3, 4, 3) and np.array_equal(rgb[..., 1], gray)
    assert to_rgb_array(gray[:, :, None]).shape == (3, 4, 3)
    view = np.zeros((4, 5, 3), np.uint8)[:, ::-1]
    out = to_rgb_array(view)
    assert out.flags.c_contiguous  # dlib silently finds nothing in reversed views
    same = np.zeros((4, 5, 3), np.uint8)
    assert to_rgb_array(same) is same
    with pytest.raises(InvalidImageError, match="dtype uint8"):
        to_rgb_array(np.zeros((4, 5, 3), np.float64))
    with pytest.raises(InvalidImageError, match="alpha"):
        to_rgb_array(np.zeros((4, 5, 4), np.uint8))
    with pytest.raises(InvalidImageError, match="empty"):
        to_rgb_array(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(InvalidImageError, match="got int"):
        to_rgb_array(42)
