"""Synthetic frames from real photos: planar presentation, 2.5D head turn, NOSE sessions."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from liveness_lab.synth import render as R
from liveness_lab.synth._photos import face_landmarks, shape_predictor_path

CAMERA = R.Camera(640, 480)
PLACEMENT = R.FacePlacement(320, 240, 167)


def nose_params(dx: int = 60, dy: int = 20, *, width: int = 640, height: int = 480) -> dict:
    """NOSE params as the original generates them, with the nose box near edge at (dx, dy).

    Positive ``dx`` puts the box right of the image centre, positive ``dy`` below it.
    """
    area_h = 0.75 * height
    area_w = min(0.75 * width, 0.75 * area_h)
    left = width / 2 + dx - (20 if dx < 0 else 0)
    top = height / 2 + dy - (20 if dy < 0 else 0)
    return {"imageWidth": width, "imageHeight": height,
            "areaLeft": int(width / 2 - area_w / 2), "areaTop": int(height / 2 - area_h / 2),
            "areaWidth": int(area_w), "areaHeight": int(area_h), "minFaceAreaPercent": 40,
            "noseLeft": int(left), "noseTop": int(top), "noseWidth": 20, "noseHeight": 20}


def target_centre(p: dict) -> np.ndarray:
    return np.array([p["noseLeft"] + p["noseWidth"] / 2, p["noseTop"] + p["noseHeight"] / 2])


@pytest.fixture(scope="module")
def rigs() -> dict[str, R.HeadRig]:
    return {name: R.HeadRig(R.load_photo(name), R.photo_landmarks(name), CAMERA, PLACEMENT)
            for name in R.PHOTO_NAMES}


@pytest.fixture(scope="module")
def predictor():
    import dlib

    return dlib.shape_predictor(str(shape_predictor_path()))


@pytest.fixture(scope="module")
def analyzer():
    local = pytest.importorskip("liveness_lab.analyzers.local")
    a = local.LocalAnalyzer()
    yield a
    a.close()


# -- photos ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, shape", [("grace_hopper", (600, 512, 3)),
                                         ("astronaut", (512, 512, 3))])
def test_photos_are_rgb_read_only_and_cached(name, shape):
    img = R.load_photo(name)
    assert img.shape == shape and img.dtype == np.uint8 and img.flags.c_contiguous
    assert not img.flags.writeable
    assert R.load_photo(name) is img
    lms = R.photo_landmarks(name)
    assert lms.shape == (68, 2) and R.photo_landmarks(name) is lms
    # a frontal face: the nose tip lies between the outer eye corners, below them
    assert lms[36, 0] < lms[30, 0] < lms[45, 0]
    assert lms[30, 1] > max(lms[36, 1], lms[45, 1])


def test_unknown_photo_lists_the_known_ones():
    with pytest.raises(ValueError, match="grace_hopper, astronaut"):
        R.load_photo("mona_lisa")


def test_face_landmarks_without_a_face_raises():
    with pytest.raises(ValueError, match="no face"):
        face_landmarks(np.full((120, 160, 3), 128, np.uint8))


# -- planar presentation ---------------------------------------------------------------------

def test_planar_identity_pose_reproduces_the_photo_region():
    photo = R.load_photo("grace_hopper")
    anchor = (256.0, 300.0)
    sheet = R.make_sheet(photo, anchor)
    bg = R.render_background(CAMERA, R.Background("plain", (10, 200, 30), 0.0))
    frame = R.render_planar(sheet, R.SheetPose(300, 250), CAMERA, bg)
    # the photo pixel (x, y) lands at (x + 44, y - 50): rows 50.. of the photo fill the frame
    np.testing.assert_array_equal(frame[:, 44:556], photo[50:530, :])
    assert (frame[:, :44] == (10, 200, 30)).all() and (frame[:, 556:] == (10, 200, 30)).all()


def test_planar_tilt_and_roll_follow_the_documented_directions():
    sheet = R.make_sheet(R.load_photo("astronaut"), (256, 256))

    def corners(**pose):
        h = R.sheet_homography(sheet, R.SheetPose(320, 240, 0.5, **pose), CAMERA)
        return cv2.perspectiveTransform(sheet.corners[None], h)[0]  # TL, TR, BR, BL

    c = corners(tilt_y_deg=30)               # right edge goes away: shorter than the left
    assert c[2, 1] - c[1, 1] < c[3, 1] - c[0, 1]
    c = corners(tilt_x_deg=30)               # top edge goes away: narrower than the bottom
    assert c[1, 0] - c[0, 0] < c[2, 0] - c[3, 0]
    c = corners(roll_deg=20)                 # clockwise on screen: the top-right corner drops
    c0 = corners()
    assert c[1, 1] > c0[1, 1] and c[3, 1] < c0[3, 1]


def test_artifacts_change_the_sheet_and_borders_enlarge_it():
    photo = R.load_photo("astronaut")
    plain = R.make_sheet(photo, (256, 256))
    screen = R.make_sheet(photo, (256, 256), R.Artifacts.screen())
    printed = R.make_sheet(photo, (256, 256), R.Artifacts.printed())
    bw = round(0.04 * 512)
    assert screen.image.shape == (512 + 2 * bw, 512 + 2 * bw, 3)
    assert screen.anchor == (256 + bw, 256 + bw) and screen.glare is not None
    inner = screen.image[bw:-bw, bw:-bw].astype(np.float32)
    assert inner.std() < plain.image.astype(np.float32).std()      # contrast 0.8
    assert (printed.image[:3, :3] > 200).all()                       # white margin
    assert (screen.image[:3, :3] < 60).all()                         # dark bezel


def test_glare_brightens_only_the_sheet():
    sheet = R.make_sheet(R.load_photo("astronaut"), (256, 256),
                         R.Artifacts(glare=R.Glare(x=0.5, y=0.5, radius=0.1, strength=0.8)))
    bg = R.render_background(CAMERA, R.Background("plain", (50, 50, 50), 0.0))
    far = R.render_planar(sheet, R.SheetPose(900, 240, 1.0), CAMERA, bg)  # sheet off-screen
    assert (far == 50).all()
    on = R.render_planar(sheet, R.SheetPose(320, 240, 0.5), CAMERA, bg)
    bare = R.render_planar(R.make_sheet(R.load_photo("astronaut"), (256, 256)),
                           R.SheetPose(320, 240, 0.5), CAMERA, bg)
    assert on[240, 320].mean() > bare[240, 320].mean() + 60


# -- head turn ---------------------------------------------------------------------------------

def test_neutral_head_pose_is_the_scaled_photo(rigs):
    rig = rigs["grace_hopper"]
    lms = R.photo_landmarks("grace_hopper")
    scale, offset = PLACEMENT.similarity(lms)
    m = np.array([[scale, 0, offset[0]], [0, scale, offset[1]]])
    expected = cv2.warpAffine(R.load_photo("grace_hopper"), m, (640, 480),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    got = rig.render(R.HeadPose())
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 1.0
    np.testing.assert_allclose(rig.landmarks(R.HeadPose()), lms * scale + offset, atol=1e-6)


def test_head_turn_has_parallax_and_a_moved_photo_has_none(rigs):
    rig = rigs["astronaut"]
    lms0 = rig.landmarks(R.HeadPose())

    def nose_offset(lms):  # nose tip relative to the middle of the face outline, px
        return lms[30, 0] - (lms[0, 0] + lms[16, 0]) / 2

    offsets = [nose_offset(rig.landmarks(R.HeadPose(yaw))) for yaw in (-25, -10, 0, 10, 25)]
    assert np.all(np.diff(offsets) > 5)
    assert offsets[-1] - offsets[2] > 25                      # >25 px of parallax at 25 deg
    up = rig.landmarks(R.HeadPose(0, 15))
    eyes_up, eyes0 = (up[36, 1] + up[45, 1]) / 2, (lms0[36, 1] + lms0[45, 1]) / 2
    assert up[30, 1] - eyes_up < lms0[30, 1] - eyes0 - 5   # looking up: the nose nears the eyes
    # the photo translated rigidly: every landmark moves by the same vector
    sheet = R.make_sheet(R.load_photo("astronaut"), (256, 256))
    h0 = R.sheet_homography(sheet, R.SheetPose(320, 240, 1.5), CAMERA)
    h1 = R.sheet_homography(sheet, R.SheetPose(390, 215, 1.5), CAMERA)
    src = R.photo_landmarks("astronaut")[None]
    p0, p1 = cv2.perspectiveTransform(src, h0)[0], cv2.perspectiveTransform(src, h1)[0]
    np.testing.assert_allclose(p1 - p0, np.tile([70, -25], (68, 1)), atol=1e-6)
    assert nose_offset(p1) == pytest.approx(nose_offset(p0), abs=1e-6)


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_dlib_sees_the_nose_move_with_the_commanded_yaw(rigs, predictor, name):
    rig = rigs[name]
    rel = []
    for yaw in (-25, 0, 25):
        pts = face_landmarks(rig.render(R.HeadPose(yaw)), predictor)
        rel.append(pts[30, 0] - (pts[0, 0] + pts[16, 0]) / 2)
    assert rel[0] < rel[1] - 10 and rel[2] > rel[1] + 10


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_analyzer_yaw_follows_the_commanded_yaw(rigs, analyzer, name):
    """Positive commanded yaw (nose toward the image right) is reported as positive yaw."""
    rig = rigs[name]
    commanded = [-25, -12.5, 0, 12.5, 25]
    reported = []
    for yaw in commanded:
        faces = analyzer.analyze(rig.render(R.HeadPose(yaw)))
        assert len(faces) == 1
        reported.append(faces[0].pose.yaw)
    ranks = np.argsort(np.argsort(reported))
    rho = 1 - 6 * np.sum((ranks - np.arange(5)) ** 2) / (5 * 24)  # Spearman, no ties
    assert rho >= 0.85, reported                          # monotonic up to one adjacent swap
    assert reported[-1] > 5 and reported[0] < -2, reported
    assert reported[-1] - reported[0] > 10, reported


def test_analyzer_pitch_follows_the_commanded_pitch(rigs, analyzer):
    rig = rigs["astronaut"]
    pitches = [analyzer.analyze(rig.render(R.HeadPose(0, p)))[0].pose.pitch for p in (-15, 0, 15)]
    assert pitches[0] < pitches[1] - 5 < pitches[2] - 10, pitches


def test_head_pose_limits():
    with pytest.raises(ValueError, match="yaw must be within"):
        R.HeadPose(yaw=50)
    with pytest.raises(ValueError, match="pitch must be within"):
        R.HeadPose(pitch=-40)


def test_rendering_a_frame_is_fast(rigs):
    rig = rigs["grace_hopper"]
    sheet = R.make_sheet(R.load_photo("grace_hopper"), (256, 300), R.Artifacts.screen())
    bg = R.render_background(CAMERA)
    rng = np.random.default_rng(0)
    times = {"head": [], "planar": []}
    for k in range(5):
        t = time.perf_counter()
        rig.render(R.HeadPose(20 - 8 * k, 5))
        times["head"].append(time.perf_counter() - t)
        t = time.perf_counter()
        R.render_planar(sheet, R.SheetPose(320, 240, 0.9, 3, 5, 20), CAMERA, bg,
                        noise_sigma=2, rng=rng)
        times["planar"].append(time.perf_counter() - t)
    assert np.median(times["head"]) < 0.05 and np.median(times["planar"]) < 0.05, times


# -- sessions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["head_turn", "photo_tilted"])
def test_sessions_are_deterministic_for_a_seed(mode):
    p = nose_params(50, -10)
    art = None if mode == "head_turn" else R.Artifacts.printed()
    a = R.render_nose_session(p, mode=mode, seed=4, duration_s=1.4, artifacts=art)
    b = R.render_nose_session(p, mode=mode, seed=4, duration_s=1.4, artifacts=art)
    c = R.render_nose_session(p, mode=mode, seed=5, duration_s=1.4, artifacts=art)
    assert [t for t, _ in a] == [1_700_000_000_000 + 100 * k for k in range(14)]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert not np.array_equal(a[-1][1], c[-1][1])
    assert a[0][1].shape == (480, 640, 3) and a[0][1].dtype == np.uint8


@pytest.mark.parametrize("mode", ["head_turn", "photo_moved", "photo_tilted", "photo_rolled"])
@pytest.mark.parametrize("dx, dy", [(74, 39), (-45, -30)])
def test_plan_aims_the_nose_tip_at_the_target_centre(mode, dx, dy):
    p = nose_params(dx, dy)
    plan = R.plan_nose_session(p, photo="astronaut", mode=mode, seed=1)
    np.testing.assert_allclose(plan.nose_final, target_centre(p), atol=0.5)
    first, last = plan.poses[0], plan.poses[-1]
    if mode == "head_turn":
        assert abs(first.yaw) < 1 and np.sign(last.yaw) == np.sign(dx) and abs(last.yaw) > 15
        assert np.sign(last.pitch) == -np.sign(dy)        # target below: look down
    elif mode == "photo_tilted":
        assert np.sign(last.tilt_y_deg) == np.sign(dx) and abs(last.tilt_y_deg) > 20
    elif mode == "photo_rolled":
        assert abs(last.roll_deg) > 12


def test_photo_static_never_reaches_the_target():
    p = nose_params(60, 20)
    plan = R.plan_nose_session(p, mode="photo_static")
    assert np.linalg.norm(np.subtract(plan.nose_final, target_centre(p))) > 50


def test_head_turn_session_puts_the_analyzed_nose_in_the_target_box(analyzer):
    p = nose_params(62, -25)
    frames = R.render_nose_session(p, photo="grace_hopper", mode="head_turn", seed=2)
    first = analyzer.analyze(frames[0][1])
    last = analyzer.analyze(frames[-1][1])
    assert len(first) == 1 and len(last) == 1
    # first frame: face box inside the area box and large enough (the NOSE area state)
    left, top, w, h = first[0].bounding_box.to_pixels(640, 480)
    assert p["areaLeft"] <= left and left + w <= p["areaLeft"] + p["areaWidth"]
    assert p["areaTop"] <= top and top + h <= p["areaTop"] + p["areaHeight"]
    assert 100 * w * h / (p["areaWidth"] * p["areaHeight"]) + 20 >= p["minFaceAreaPercent"]
    # last frame: the nose inside the target box grown by the challenge's 55% tolerance
    # (dlib's nose tip lags the rendered one by a few pixels on turned faces)
    nx, ny = last[0].landmark_px("nose", 640, 480)
    grow = 0.55 * 20
    assert p["noseLeft"] - grow <= nx <= p["noseLeft"] + 20 + grow
    assert p["noseTop"] - grow <= ny <= p["noseTop"] + 20 + grow
    assert last[0].pose.yaw > 5                                # turned toward the right target


def test_nose_challenge_accepts_the_head_turn_and_rejects_the_moved_photo(analyzer):
    challenges = pytest.importorskip("liveness_lab.challenges.registry")
    from liveness_lab.verify import run_challenge

    nose = challenges.default_registry().get("NOSE")
    p = nose_params(-55, 15)
    verdicts = {}
    for mode in ("head_turn", "photo_moved"):
        frames = R.render_nose_session(p, photo="astronaut", mode=mode, seed=7)
        verdicts[mode] = run_challenge(nose, p, [(t, analyzer.analyze(f)) for t, f in frames])
    assert verdicts["head_turn"].success, verdicts["head_turn"].reason
    assert not verdicts["photo_moved"].success


def test_session_arguments_are_checked():
    p = nose_params()
    with pytest.raises(ValueError, match="unknown mode"):
        R.render_nose_session(p, mode="video_replay")
    with pytest.raises(ValueError, match="missing noseLeft"):
        R.render_nose_session({k: v for k, v in p.items() if k != "noseLeft"})
    with pytest.raises(ValueError, match="photo_\\* modes"):
        R.render_nose_session(p, mode="head_turn", artifacts=R.Artifacts.screen())
    with pytest.raises(ValueError, match="duration_s"):
        R.render_nose_session(p, duration_s=1.0)


def test_write_session_images_follows_the_session_format(tmp_path):
    from liveness_lab.sessions import FORMAT, read_session

    p = nose_params(50, 5)
    frames = R.render_nose_session(p, mode="photo_moved", seed=3, duration_s=1.3,
                                   artifacts=R.Artifacts.printed())
    session = R.write_session_images(tmp_path, "s-000001", {"type": "NOSE", "params": p}, frames,
                                     "attack", "print_moved", subject_id="grace", split="test",
                                     metadata={"mode": "photo_moved"})
    path = tmp_path / "s-000001" / "session.json"
    assert session.source == str(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT == "liveness-lab/session@1"
    assert doc["id"] == "s-000001" and doc["label"] == "attack"
    assert doc["pai_species"] == "print_moved" and doc["split"] == "test"
    assert doc["challenge"] == {"type": "NOSE", "params": p}
    assert [f["timestamp"] for f in doc["frames"]] == [t for t, _ in frames]
    assert [f["image"] for f in doc["frames"]] == [f"frames/{k:06d}.jpg" for k in range(1, 14)]
    assert all(set(f) == {"timestamp", "image"} for f in doc["frames"])   # no faces yet
    img = cv2.imread(str(path.parent / "frames" / "000013.jpg"))
    assert img.shape == (480, 640, 3)
    assert np.abs(cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(int)
                  - frames[-1][1].astype(int)).mean() < 4
    back = read_session(path)
    assert back.id == "s-000001" and all(f.faces is None for f in back.frames)
    assert back.image_path(back.frames[0]) == (path.parent / "frames" / "000001.jpg").resolve()


@pytest.mark.parametrize("label, species, message", [
    ("bona_fide", "print_moved", "no pai_species"),
    ("attack", None, "needs a pai_species"),
    ("live", None, "label must be one of"),
])
def test_write_session_images_checks_labels(tmp_path, label, species, message):
    frame = [(1, np.zeros((8, 8, 3), np.uint8))]
    with pytest.raises(ValueError, match=message):
        R.write_session_images(tmp_path, "s-1", {"type": "NOSE", "params": {}}, frame, label,
                               species)


def test_write_session_images_rejects_unsafe_ids(tmp_path):
    with pytest.raises(ValueError, match="session_id"):
        R.write_session_images(tmp_path, "../x", {"type": "NOSE", "params": {}},
                               [(1, np.zeros((8, 8, 3), np.uint8))], "bona_fide", None)


def test_render_session_command_writes_a_session_and_a_video(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    R.add_render_command(parser.add_subparsers())
    args = parser.parse_args(["render-session", str(tmp_path), "--mode", "photo_rolled",
                              "--photo", "astronaut", "--seed", "9", "--duration", "1.2",
                              "--artifacts", "screen", "--y4m", str(tmp_path / "v.y4m")])
    assert args.func(args) == 0
    doc = json.loads((tmp_path / "photo_rolled-astronaut-9" / "session.json").read_text())
    assert doc["label"] == "attack" and doc["pai_species"] == "screen_rolled"
    assert doc["metadata"]["mode"] == "photo_rolled" and len(doc["frames"]) == 12
    assert (tmp_path / "v.y4m").read_bytes().count(b"FRAME\n") >= 12


def test_render_nose_sessions_writes_a_labelled_image_dataset(tmp_path):
    from liveness_lab.sessions import iter_dataset, write_dataset
    from liveness_lab.synth.render import render_nose_sessions

    sessions = render_nose_sessions(tmp_path, 7, seed=4, fps=2)
    write_dataset(tmp_path, sessions)
    got = list(iter_dataset(tmp_path))
    assert [(s.label, s.pai_species) for s in got[:3]] == [
        ("bona_fide", None), ("attack", "print_moved"), ("bona_fide", None)]
    # splits are by subject (the photo): no photo in both dev and test
    assert {(s.subject_id, s.split) for s in got} == {("photo-grace_hopper", "dev"),
                                                       ("photo-astronaut", "test")}
    assert all(f.faces is None and s.image_path(f).is_file() for s in got for f in s.frames)
    assert got[0].params != got[2].params  # a target per session
    with pytest.raises(ValueError, match="non-negative integer"):
        render_nose_sessions(tmp_path, -1)


def test_synth_command_adds_image_sessions(tmp_path):
    import subprocess
    import sys

    from liveness_lab.sessions import read_manifest
    out = tmp_path / "ds"
    r = subprocess.run([sys.executable, "-m", "liveness_lab.cli", "synth", "--out", str(out),
                        "--sessions-per-class", "1", "--seed", "2", "--types", "NOSE",
                        "--images", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    images = [e for e in read_manifest(out) if e.path.startswith("images/")]
    assert [e.label for e in images] == ["bona_fide", "attack"]
