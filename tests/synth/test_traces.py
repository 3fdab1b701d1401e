"""Trace-level simulator: sign conventions, planar vs live parallax, datasets, original rules."""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.config import resolve_configs
from liveness_lab.faces import LANDMARK_TYPES
from liveness_lab.sessions import iter_dataset, read_session
from liveness_lab.synth import traces as T
from liveness_lab.verify import verify_session

NOSE_I = LANDMARK_TYPES.index("nose")
NOT_NOSE = [i for i in range(len(LANDMARK_TYPES)) if i != NOSE_I]
CAMERA = T.Camera(640, 480, 65.0)
HEAD = T.HeadModel.generic()
PIVOT_AT = [0.0, 0.0, 450.0]  # camera-frame position of the head's pivot, mm
SEED = resolve_configs("seed")


def nose_params(seed: int) -> dict:
    return default_registry().get("NOSE").generate_params(
        {"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(seed))


def fit_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares homography (DLT with h33 = 1) mapping ``src`` to ``dst`` (N x 2)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    h = np.linalg.lstsq(np.array(rows, float), np.array(rhs, float), rcond=None)[0]
    return np.append(h, 1.0).reshape(3, 3)


def nose_parallax(a: np.ndarray, b: np.ndarray) -> float:
    """Pixels between the nose in ``b`` and where the homography fitted on the other landmarks
    of ``a`` -> ``b`` puts it: ~0 for a plane, large for a turning head."""
    H = fit_homography(a[NOT_NOSE], b[NOT_NOSE])
    q = H @ np.array([a[NOSE_I, 0], a[NOSE_I, 1], 1.0])
    return float(np.hypot(*(q[:2] / q[2] - b[NOSE_I])))


def landmarks_px(face, width=640, height=480) -> np.ndarray:
    return np.array([[lm.x * width, lm.y * height] for lm in face.landmarks])


# -- geometry and sign conventions ----------------------------------------------------------

def test_camera_focal_length_from_field_of_view():
    cam = T.Camera(640, 480, 90.0)
    assert cam.focal_px == pytest.approx(320.0)
    assert cam.project(np.array([[0.0, 0.0, 500.0], [500.0, -250.0, 500.0]])) == \
        pytest.approx(np.array([[320.0, 240.0], [640.0, 80.0]]))
    with pytest.raises(ValueError, match="hfov_deg"):
        T.Camera(640, 480, 5.0)


@pytest.mark.parametrize("yaw", [10.0, 25.0])
def test_positive_yaw_moves_the_nose_toward_the_image_right(yaw):
    front = T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=0, roll=0, position=PIVOT_AT)[0]
    right = T.head_landmarks(HEAD, CAMERA, yaw=yaw, pitch=0, roll=0, position=PIVOT_AT)[0]
    left = T.head_landmarks(HEAD, CAMERA, yaw=-yaw, pitch=0, roll=0, position=PIVOT_AT)[0]
    assert right[NOSE_I, 0] > front[NOSE_I, 0] + 20
    assert left[NOSE_I, 0] < front[NOSE_I, 0] - 20


def test_pitch_up_and_roll_clockwise():
    front = T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=0, roll=0, position=PIVOT_AT)[0]
    up = T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=15, roll=0, position=PIVOT_AT)[0]
    assert up[NOSE_I, 1] < front[NOSE_I, 1] - 10
    rolled = T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=0, roll=15, position=PIVOT_AT)[0]
    eye_l, eye_r = LANDMARK_TYPES.index("eyeLeft"), LANDMARK_TYPES.index("eyeRight")
    # clockwise on screen (y down): the image-right eye goes down, the image-left eye up
    assert rolled[eye_r, 1] > front[eye_r, 1] and rolled[eye_l, 1] < front[eye_l, 1]


def test_frontal_face_layout_matches_rekognition_naming():
    lm = dict(zip(LANDMARK_TYPES, T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=0, roll=0,
                                                     position=PIVOT_AT)[0]))
    assert lm["eyeLeft"][0] < lm["nose"][0] < lm["eyeRight"][0]
    assert lm["leftEyeLeft"][0] < lm["leftPupil"][0] < lm["leftEyeRight"][0]
    assert lm["upperJawlineLeft"][0] < lm["mouthLeft"][0] < lm["mouthRight"][0] < \
        lm["upperJawlineRight"][0]
    assert lm["leftEyeBrowUp"][1] < lm["eyeLeft"][1] < lm["nose"][1] < lm["mouthDown"][1] < \
        lm["chinBottom"][1]
    left, top, width, height = T.face_box(np.array([list(lm.values())]))[0]
    assert left < lm["upperJawlineLeft"][0] and left + width > lm["upperJawlineRight"][0]
    assert top < lm["leftEyeBrowUp"][1] and top + height > lm["chinBottom"][1]
    assert 1.0 < height / width < 1.4


def test_gaze_moves_the_pupils_within_the_eye():
    pupil = LANDMARK_TYPES.index("leftPupil")
    still = T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=0, roll=0, position=PIVOT_AT)[0]
    right = T.head_landmarks(HEAD, CAMERA, yaw=0, pitch=0, roll=0, position=PIVOT_AT,
                             gaze_yaw=25)[0]
    assert right[pupil, 0] > still[pupil, 0] + 3


def test_flat_print_moves_by_an_exact_homography():
    sheet = T.FlatPrint.from_head(HEAD, width_mm=140.0, yaw=3.0)
    poses = dict(yaw=[0.0, 30.0, -20.0, 5.0], pitch=[0.0, -10.0, 15.0, 0.0],
                 roll=[0.0, 5.0, -25.0, 40.0],
                 position=[[0, 0, 350], [40, -20, 330], [-30, 25, 420], [10, 60, 300]])
    lm = T.print_landmarks(sheet, CAMERA, hold_point=(0.0, 120.0), **poses)
    for k in range(1, 4):
        assert nose_parallax(lm[0], lm[k]) < 1e-6


def test_live_head_turn_has_nose_parallax():
    lm = T.head_landmarks(HEAD, CAMERA, yaw=[0.0, 20.0, -20.0, 0.0], pitch=[0.0, 0.0, 0.0, -15.0],
                          roll=0.0, position=PIVOT_AT)
    for k in range(1, 4):
        assert nose_parallax(lm[0], lm[k]) > 5.0


# -- a small dataset, shared by the dataset tests --------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    calls = []
    T.generate_dataset(out, sessions_per_class=4, seed=7, progress=calls.append, profile="seed")
    assert sum(calls) == T.dataset_size(4, profile="seed") == 4 * (1 + 6 + 1 + 3)
    return out


def read_manifest_rows(root: Path) -> list[dict]:
    with (root / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_writes_identical_files(dataset, tmp_path):
    again = tmp_path / "again"
    T.generate_dataset(again, sessions_per_class=4, seed=7, profile="seed")
    files = sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (dataset / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = tmp_path / "other"
    T.generate_dataset(other, sessions_per_class=4, seed=8, profile="seed")
    rel = Path("sessions/nose-bona_fide-00000.json")
    assert (dataset / rel).read_bytes() != (other / rel).read_bytes()


def test_session_results_do_not_depend_on_the_requested_types(dataset, tmp_path):
    pose_only = tmp_path / "pose"
    T.generate_dataset(pose_only, sessions_per_class=4, seed=7, challenge_types=("POSE",),
                       profile="seed")
    for p in (pose_only / "sessions").glob("*.json"):
        assert p.read_bytes() == (dataset / "sessions" / p.name).read_bytes()


def test_manifest_labels_species_and_splits(dataset):
    rows = read_manifest_rows(dataset)
    assert list(rows[0]) == ["session_id", "path", "label", "pai_species", "subject_id",
                             "split", "challenge_type"]
    counts = Counter((r["challenge_type"], r["label"], r["pai_species"]) for r in rows)
    expected = {("NOSE", "bona_fide", ""): 4, ("POSE", "bona_fide", ""): 4}
    for ctype, species in T.SPECIES.items():
        for sp in species:
            expected[(ctype, "attack", sp)] = 4
    assert counts == expected
    assert {r["split"] for r in rows} == {"train", "dev", "test"}
    subject_splits = defaultdict(set)
    for r in rows:
        assert r["subject_id"].startswith("subj-")
        subject_splits[r["subject_id"]].add(r["split"])
    assert all(len(s) == 1 for s in subject_splits.values()), subject_splits
    assert len(subject_splits) >= 4
    assert max(Counter(r["subject_id"] for r in rows).values()) >= 3


def test_sessions_follow_the_session_format(dataset):
    rows = {r["session_id"]: r for r in read_manifest_rows(dataset)}
    seen = 0
    for session in iter_dataset(dataset):  # validates every file against the manifest
        row = rows[session.id]
        assert session.label == row["label"] and (session.pai_species or "") == row["pai_species"]
        assert session.split == row["split"] and session.subject_id == row["subject_id"]
        assert session.metadata["simulator"] == T.SIMULATOR
        assert "seed" in session.metadata and session.frames
        stamps = [f.timestamp for f in session.frames]
        assert all(isinstance(t, int) for t in stamps) and stamps == sorted(set(stamps))
        path = dataset / row["path"]
        raw = json.loads(path.read_text())
        assert raw["format"] == "liveness-lab/session@1"
        assert read_session(path).to_dict() == raw  # lossless through the lead's reader
        seen += 1
    assert seen == len(rows)


def test_every_face_has_all_fields_and_landmark_types(dataset):
    faces = 0
    for session in iter_dataset(dataset):
        for frame in session.frames:
            for face in frame.faces:
                assert sorted(lm.type for lm in face.landmarks) == sorted(LANDMARK_TYPES)
                rek = face.to_rekognition()
                for key in ("BoundingBox", "Pose", "Quality", "EyesOpen", "MouthOpen", "Smile",
                            "Confidence"):
                    assert key in rek
                assert set(rek["Pose"]) == {"Roll", "Yaw", "Pitch"}
                assert "Confidence" in rek["EyesOpen"] and 0 < rek["Confidence"] <= 100
                faces += 1
    assert faces > 100


def test_challenge_params_come_from_the_challenge_types(dataset):
    for session in iter_dataset(dataset):
        params = session.params
        if session.challenge_type == "NOSE":
            assert set(params) == set(nose_params(0))
            assert params["noseWidth"] == params["noseHeight"] == 20
        else:
            assert params["pose"]["eyes"] in ("OPEN", "CLOSED", "LOOKING_LEFT", "LOOKING_RIGHT")
            assert params["pose"]["mouth"] in ("CLOSED", "SMILE")


def test_multiple_faces_sessions_show_two_faces_in_varying_order(dataset):
    orders = set()
    for session in iter_dataset(dataset):
        if session.pai_species != "multiple_faces":
            continue
        for frame in session.frames:
            if len(frame.faces) == 2:
                widths = [f.bounding_box.width for f in frame.faces]
                orders.add(widths[0] > widths[1])  # the live face is the larger one
    assert orders == {True, False}


# -- behaviour seen through the detections ---------------------------------------------------

def test_bona_fide_yaw_sign_follows_the_nose_motion():
    checked = 0
    for i in range(12):
        s = T.simulate_session("NOSE", nose_params(100 + i), seed=[1, i])
        faces = [f.faces[0] for f in s.frames if f.faces]
        first, last = faces[0], faces[-1]
        dx = (last.landmark("nose").x - first.landmark("nose").x) * 640
        if abs(dx) > 30 and abs(last.pose.yaw) > 8:
            assert np.sign(last.pose.yaw) == np.sign(dx), (i, dx, last.pose.yaw)
            target_right = s.params["noseLeft"] + 10 > 320
            assert (dx > 0) == target_right
            checked += 1
    assert checked >= 8


def test_prints_have_no_nose_parallax_but_live_turns_do():
    live, flat = [], []
    for i in range(10):
        params = nose_params(200 + i)
        for species, out in ((None, live), ("print_moved", flat), ("print_tilted", flat),
                             ("print_rolled", flat)):
            s = T.simulate_session("NOSE", params, species=species, seed=[2, i])
            faces = [f.faces[0] for f in s.frames if f.faces]
            out.append(nose_parallax(landmarks_px(faces[0]), landmarks_px(faces[-1])))
    assert max(flat) < 5.0          # detector noise only
    assert np.median(live) > 10.0 and min(live) > 5.0


def test_pose_print_static_shows_a_neutral_face():
    for i in range(6):
        params = {"imageWidth": 640, "imageHeight": 480,
                  "pose": {"eyes": "CLOSED", "mouth": "SMILE"}}
        s = T.simulate_session("POSE", params, species="print_static", seed=[3, i])
        (frame,) = s.frames
        face = frame.faces[0]
        assert s.metadata["photo_shows"] == {"eyes": "OPEN", "mouth": "CLOSED"}
        assert abs(face.pose.yaw) < 25 and face.confidence > 90


def test_replay_uses_a_recording_made_for_another_challenge():
    params = nose_params(5)
    s = T.simulate_session("NOSE", params, species="replay_other_challenge", seed=4)
    other = s.metadata["replayed_params"]
    assert s.params == params and s.label == "attack"
    assert (other["noseLeft"], other["noseTop"]) != (params["noseLeft"], params["noseTop"])


# -- the original rules (seed profile) on simulated sessions ---------------------------------

def test_original_nose_rules_pass_most_bona_fide_and_no_still_or_moved_print():
    results: dict[str | None, list[bool]] = defaultdict(list)
    for i in range(40):
        params = nose_params(1000 + i)
        for species in (None, "print_static", "print_moved"):
            s = T.simulate_session("NOSE", params, species=species, seed=[9, i],
                                   subject_seed=[9, 0, i % 20])
            results[species].append(verify_session(s, configs=SEED).success)
    assert sum(results[None]) >= 32, sum(results[None])     # >= 80 % of 40
    assert not any(results["print_static"])
    assert not any(results["print_moved"])


# -- arguments and command line --------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"sessions_per_class": 0, "seed": 1}, "sessions_per_class"),
    ({"sessions_per_class": 2, "seed": -1}, "seed"),
    ({"sessions_per_class": 2, "seed": 1, "challenge_types": ("BLINK",)}, "NOSE, POSE"),
    ({"sessions_per_class": 2, "seed": 1, "image_size": (100, 80)}, "160 x 120"),
])
def test_bad_arguments_raise_value_error(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        T.generate_dataset(tmp_path / "x", profile="seed", **kwargs)


def test_refuses_a_non_empty_output_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not an empty directory"):
        T.generate_dataset(tmp_path, sessions_per_class=1, seed=0, profile="seed")


def test_simulate_session_rejects_unknown_species():
    with pytest.raises(ValueError, match="print_static"):
        T.simulate_session("POSE", {"imageWidth": 640, "imageHeight": 480,
                                    "pose": {"eyes": "OPEN", "mouth": "CLOSED"}},
                           species="multiple_faces")


def test_synth_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    T.add_synth_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli"
    args = parser.parse_args(["synth", "--out", str(out), "--sessions-per-class", "2",
                              "--seed", "3", "--types", "NOSE", "--profile", "seed"])
    assert args.func(args) == 0
    assert len(read_manifest_rows(out)) == T.dataset_size(2, ("NOSE",), "seed") == 14
    assert "wrote 14 sessions" in capsys.readouterr().out
    again = parser.parse_args(["synth", "--out", str(out), "--sessions-per-class", "2"])
    assert again.func(again) == 2
    assert "not an empty directory" in capsys.readouterr().err
