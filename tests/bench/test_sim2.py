"""The independent simulator bench.sim2: valid sessions, physiology in range, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.sim2 import PROTOCOLS, generate_dataset, generate_session, parse_conditions
from bench.sim2.__main__ import main as sim2_main
from bench.sim2.camera import sample_camera
from bench.sim2.detector import ClassifierBias, Observation, detect
from bench.sim2.face import INDEX, LANDMARKS, mean_geometry, rotation, pose_from_rotation
from bench.sim2.motion import sample_blink, spontaneous_blinks
from bench.sim2.people import LiveHead, sample_person
from bench.sim2.scene import Hand, Planar
from bench.sim2.species import SPECIES, client_camera
from liveness_lab.sessions import iter_dataset, read_manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim2")
    generate_dataset(out, list(PROTOCOLS), 1, seed=3)
    return out


def test_every_session_reads_with_the_package_reader(dataset):
    entries = read_manifest(dataset)
    assert len(entries) == sum(len(s) for s in SPECIES.values())
    sessions = list(iter_dataset(dataset))
    assert {s.pai_species for s in sessions if s.label == "attack"} >= {
        "print_static", "print_eye_holes", "photo_swap", "rigid_mask", "replay_other_challenge",
        "screen_replay", "live_video_response", "multiple_faces", "print_tilted"}
    n_faces = 0
    for s in sessions:
        stamps = [f.timestamp for f in s.frames]
        assert all(isinstance(t, int) for t in stamps)
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert s.metadata["simulator"] == "bench.sim2"
        for f in s.frames:
            for face in f.faces:
                n_faces += 1
                assert {lm.type for lm in face.landmarks} == set(LANDMARKS)
                assert "LivenessLab" not in face.to_rekognition()
                assert face.pose is not None and face.bounding_box is not None
    assert n_faces > 100


def test_session_files_carry_detectfaces_fields_only(dataset):
    doc = json.loads(next((dataset / "sessions").glob("sim2-blink-bona_fide-*.json")).read_text())
    face = doc["frames"][0]["faces"][0]
    assert set(face) == {"BoundingBox", "Smile", "EyesOpen", "MouthOpen", "Landmarks", "Pose",
                         "Quality", "Confidence", "EyeDirection"}
    assert 2 <= doc["challenge"]["params"]["blinks"] <= 7  # hardened BLINK: up to 7 cues


def test_generation_is_deterministic_for_a_seed():
    a = generate_session("HEAD_TURN", None, 4, seed=11)
    b = generate_session("HEAD_TURN", None, 4, seed=11)
    c = generate_session("HEAD_TURN", None, 4, seed=12)
    assert a == b
    assert a != c


def test_params_come_from_the_challenge_generators():
    nose = generate_session("NOSE", None, 0, seed=0)
    p = nose["challenge"]["params"]
    assert p["imageWidth"] <= 480 and p["imageHeight"] <= 480  # the original web client's cap
    assert p["noseWidth"] == p["noseHeight"] == 20 and p["minFaceAreaPercent"] == 40
    near_edge = min(abs(p["noseLeft"] - p["imageWidth"] / 2),
                    abs(p["noseLeft"] + 20 - p["imageWidth"] / 2))
    assert 45 <= near_edge <= 74
    pose = generate_session("POSE", None, 0, seed=0)["challenge"]["params"]
    assert "holdFrames" in pose and pose["transition"] is True
    photo = generate_session("POSE_PHOTO", None, 0, seed=0)
    assert "holdFrames" not in photo["challenge"]["params"] and len(photo["frames"]) == 1


def test_blinks_and_reaction_times_stay_in_physiological_ranges():
    rng = np.random.default_rng(0)
    blinks = [sample_blink(rng, 0.0, voluntary=bool(i % 2)) for i in range(400)]
    assert all(100.0 <= b.duration <= 400.0 + 1e-9 for b in blinks)
    assert all(30.0 <= b.closed_ms <= 150.0 for b in blinks)
    rate = len(spontaneous_blinks(rng, 15.0, 0.0, 20 * 60_000.0)) / 20
    assert 12.0 <= rate <= 18.0
    people = [sample_person(rng, f"p{i}") for i in range(300)]
    assert all(abs(p.resting_yaw) <= 18 and abs(p.resting_pitch) <= 18 for p in people)
    assert max(abs(p.resting_yaw) for p in people) > 12  # off-axis cameras do occur
    rts = [p.reaction(rng) for p in people for _ in range(5)]
    assert min(rts) >= 150 and max(rts) <= 600
    assert 0.1 < np.mean([p.narrow_eyes for p in people]) < 0.3


def test_pupil_moves_about_0_2_mm_per_degree():
    g = mean_geometry()
    pts = g.deform(np.ones((2, 2)), np.array([[0.0, 0.0], [10.0, 0.0]]), np.zeros(2),
                   np.zeros(2))
    shift = pts[1, INDEX["leftPupil"], 0] - pts[0, INDEX["leftPupil"], 0]
    assert 1.9 <= shift <= 2.2


def test_closed_eyelids_meet():
    g = mean_geometry()
    pts = g.deform(np.array([[1.0, 1.0], [0.0, 0.0]]), np.zeros((2, 2)), np.zeros(2), np.zeros(2))
    gap = pts[:, INDEX["leftEyeDown"], 1] - pts[:, INDEX["leftEyeUp"], 1]
    assert gap[0] > 8.0 and abs(gap[1]) < 0.5


def test_rotation_round_trip_and_rekognition_signs():
    for yaw, pitch, roll in ((20.0, -10.0, 5.0), (-35.0, 15.0, -8.0)):
        r = rotation(np.array([yaw]), np.array([pitch]), np.array([roll]))[0]
        assert np.allclose(pose_from_rotation(r), (yaw, pitch, roll), atol=1e-9)
    rng = np.random.default_rng(1)
    person = sample_person(rng, "p")
    cam = sample_camera(rng, {"fps": (30, 30), "exposure_ms": (8, 8)})
    head = LiveHead(person, rng, 3000.0)
    head.yaw.step(0.0, 10.0, 30.0 - person.resting_yaw)
    head.pitch.step(0.0, 10.0, -person.resting_pitch)
    st = head.states(np.array([2000.0]))
    px = cam.project(st.points)[0]
    # yaw +30: the nose is toward the image's right of the eyes' midpoint
    assert px[INDEX["nose"], 0] > px[[INDEX["eyeLeft"], INDEX["eyeRight"]], 0].mean() + 5
    obs = Observation(px, 0.0, np.ones(2), np.zeros(2), 0.0, 0.0, 0.0)
    yaws = [detect(obs, cam, ClassifierBias(0, 0, 0), rng)["Pose"]["Yaw"] for _ in range(20)]
    assert 15 < np.median(yaws) < 45


def test_a_print_moves_as_a_plane():
    """Whatever the hand does, the print's landmarks are one homography of the photo's."""
    rng = np.random.default_rng(2)
    cam = sample_camera(rng)
    person = sample_person(rng, "v")
    photo = LiveHead(person, rng, 4000.0)
    hand = Hand(rng, 4000.0, 500.0)
    hand.yaw.step(500.0, 600.0, 30.0)
    hand.roll.step(500.0, 600.0, -15.0)
    plane = Planar(photo, cam, hand, 0.2, lambda t: np.full(np.shape(t), 1000.0))
    a, b = (cam.project(plane.states(np.array([t])).points)[0] for t in (0.0, 2000.0))
    _, s, vt = np.linalg.svd(_dlt(a, b))
    hm = vt[-1].reshape(3, 3)
    proj = np.c_[a, np.ones(len(a))] @ hm.T
    assert np.abs(proj[:, :2] / proj[:, 2:] - b).max() < 1e-6 * cam.width
    # a turning head is not a homography of itself
    head = LiveHead(person, rng, 4000.0)
    head.yaw.step(500.0, 600.0, 30.0)
    a, b = (cam.project(head.states(np.array([t])).points)[0] for t in (0.0, 2000.0))
    _, s, vt = np.linalg.svd(_dlt(a, b))
    hm = vt[-1].reshape(3, 3)
    proj = np.c_[a, np.ones(len(a))] @ hm.T
    assert np.abs(proj[:, :2] / proj[:, 2:] - b).max() > 1.0


def _dlt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(a, b):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    return np.array(rows)


def test_cameras_and_the_nose_client_respect_their_limits():
    rng = np.random.default_rng(4)
    for _ in range(50):
        cam = sample_camera(rng)
        assert 5 <= cam.fps <= 30 and 8 <= cam.exposure_ms <= min(66, 1000 / cam.fps) + 1e-9
        assert 480 <= cam.width <= 1280
        web = client_camera("NOSE", cam)
        assert web.width <= 480 and web.height <= 480 and web.fps <= 12
        t = cam.frame_times(rng, 0.0, 10_000.0)
        assert len(t) <= 10 * cam.fps * 1.1 + 2
        assert np.all(np.diff(t) > 0)


@pytest.mark.parametrize("bad", ["fps", "speed=3", "fps=30..5", "fps=fast"])
def test_bad_conditions_are_clear_errors(bad, tmp_path, capsys):
    with pytest.raises(ValueError, match="--condition"):
        parse_conditions([bad])
    assert sim2_main(["--out", str(tmp_path), "--types", "NOSE", "--sessions-per-class", "1",
                      "--condition", bad]) == 2
    assert "--condition" in capsys.readouterr().err


def test_conditions_fix_the_camera():
    doc = generate_session("BLINK", None, 0, seed=0,
                           conditions=parse_conditions(["fps=6", "resting_yaw=15"]))
    assert doc["metadata"]["fps"] == 6.0 and doc["metadata"]["resting_yaw"] == 15.0
    span = (doc["frames"][-1]["timestamp"] - doc["frames"][0]["timestamp"]) / 1000
    assert len(doc["frames"]) <= 6 * span + 2


def test_runner_counts_errors_per_species_and_condition_bin(tmp_path):
    from bench.bench_sim2 import _rate, summarise

    ds = generate_dataset(tmp_path / "ds", ["POSE_PHOTO"], 2, seed=5)
    entries = read_manifest(ds)
    rows = ["session_id,label,pai_species,challenge_type,success,reason,code"]
    for k, e in enumerate(entries):  # accept every first session of a class, reject the second
        rows.append(f"{e.session_id},{e.label},{e.pai_species or ''},POSE,"
                    f"{'true' if k % 2 == 0 else 'false'},r,c{k % 2}")
    (tmp_path / "results.csv").write_text("\n".join(rows) + "\n")
    s = summarise(ds, tmp_path / "results.csv")
    assert s["bpcer"] == {"k": 1, "n": 2}
    assert s["apcer"]["photo_swap"] == {"k": 1, "n": 2}
    assert sum(c["n"] for c in s["by_fps"].values()) == 2
    assert s["rejections"] == {"c1": 1}
    assert _rate(0, 10).startswith("0.0 % [0.0, 27.8]")


# -- BLINK's client protocol: cues, the slight turn ------------------------------------------

def _blink_params(seed_text: str) -> dict:
    from bench.sim2.dataset import _registry_params

    return _registry_params("BLINK", 640, 480, seed_text)


def _closure_onsets(head, t_end: float) -> np.ndarray:
    """Times (ms) where the lids start closing (openness drops below 0.9), on a 2 ms grid."""
    t = np.arange(-500.0, t_end, 2.0)
    shut = head.eyes(t) < 0.9
    return t[1:][shut[1:] & ~shut[:-1]]


def test_blink_people_blink_after_each_cue_with_a_human_latency():
    from bench.sim2.blink_protocol import LAG_MS, perform_cued_blinks

    latencies, answered, cues_n, uncued, minutes = [], 0, 0, 0, 0.0
    for i in range(60):
        rng = np.random.default_rng([5, i])
        params = _blink_params(f"cue-test:{i}")
        head = LiveHead(sample_person(rng, f"p{i}"), rng, params["windowMs"] + 3000.0,
                        spontaneous=False)
        _, t_end = perform_cued_blinks(head, params, rng)
        onsets = _closure_onsets(head, t_end)
        for c, t in zip(params["cuesMs"], head.script["cued_onsets_ms"]):
            cues_n += 1
            if t is not None:
                answered += 1
                latencies.append(t - c)
        cued = [t for t in head.script["cued_onsets_ms"] if t is not None]
        uncued += len(onsets) - len(cued)
        minutes += t_end / 60000.0
        # the recorded onsets are the blinks the eyelids really make
        assert all(np.any((onsets >= t) & (onsets < t + 60.0)) for t in cued)
    lat = np.array(latencies)
    assert answered >= 0.97 * cues_n
    # no blink answers a cue before the person can have seen it and reacted (lag + 100 ms)...
    assert lat.min() >= LAG_MS[0] + 100.0 - 3.0
    # ...and most come at a simple visual reaction time (plus the screen/camera lag)
    assert 250.0 <= np.median(lat) <= 650.0
    assert np.percentile(lat, 90) <= 1100.0
    # spontaneous blinks go on, fewer than at rest (people attending a screen: ~5-10 a minute)
    assert 2.0 <= uncued / minutes <= 12.0


def test_a_slow_blink_is_held_and_reopens_slower_than_it_closes():
    from bench.sim2.motion import HeldBlink, sample_slow_blink

    rng = np.random.default_rng(3)
    for want in (300.0, 450.0, 600.0):
        b = sample_slow_blink(rng, 0.0, want)
        assert isinstance(b, HeldBlink) and b.open_ms >= 2 * b.close_ms
        t = np.arange(0.0, b.duration + 10.0, 1.0)
        c = b.closure(t)
        assert abs((c > 0.5).sum() - want) <= 30.0  # more than half closed for the time asked
        assert c.max() == 1.0 and c[-1] == 0.0
        assert np.all(np.diff(c[t > b.close_ms + b.closed_ms]) <= 1e-12)  # reopens monotonically


def test_blink_users_turn_the_asked_way_before_the_first_cue_and_back():
    seen = 0
    for i in range(6):
        doc = generate_session("BLINK", None, i, seed=4,
                               conditions=parse_conditions(["fps=15"]))
        p, m = doc["challenge"]["params"], doc["metadata"]
        assert np.sign(m["turn_deg"]) == (1.0 if p["turn"] == "LEFT" else -1.0)
        assert 8.0 <= abs(m["turn_deg"]) <= 40.0
        assert m["turn_start_ms"] > m["lag_ms"] + 300.0  # read, react, then turn
        t0 = doc["frames"][0]["timestamp"]
        yaw = [(f["timestamp"] - t0, f["faces"][0]["Pose"]["Yaw"]) for f in doc["frames"]
               if f["faces"]]
        rest = np.median([y for t, y in yaw if t < m["turn_start_ms"]])
        during = [y for t, y in yaw if m["turn_start_ms"] < t < m["turn_end_ms"]]
        after = np.median([y for t, y in yaw if m["turn_end_ms"] + 300 < t < p["cuesMs"][0]]
                          or [rest])
        peak = max(during, key=lambda y: np.sign(m["turn_deg"]) * (y - rest))
        if m["turn_end_ms"] < p["cuesMs"][0]:
            seen += 1
            assert np.sign(m["turn_deg"]) * (peak - rest) > 0.5 * abs(m["turn_deg"])
            assert abs(after - rest) < 5.0
    assert seen >= 4


def test_blink_frames_start_the_cue_clock_and_attacks_follow_the_threat_model():
    bona = generate_session("BLINK", None, 1, seed=2)
    cues = bona["challenge"]["params"]["cuesMs"]
    onsets = bona["metadata"]["cued_onsets_ms"]
    assert len(onsets) == len(cues)
    assert all(o is None or o > c + 100 for o, c in zip(onsets, cues))
    replay = generate_session("BLINK", "replay_other_challenge", 1, seed=2)
    other = replay["metadata"]["recorded_params"]
    assert other["cuesMs"] != replay["challenge"]["params"]["cuesMs"]
    assert set(other) == set(replay["challenge"]["params"])  # drawn by the same generator
    holes = generate_session("BLINK", "print_eye_holes", 1, seed=2)
    hm, hp = holes["metadata"], holes["challenge"]["params"]
    assert np.sign(hm["print_turn_deg"]) == (1.0 if hp["turn"] == "LEFT" else -1.0)
    assert any(o is not None and o > c for o, c in zip(hm["cued_onsets_ms"], hp["cuesMs"]))
    # a rigid mask turns (3D) but its lids never move: EyesOpen stays mostly true
    mask = generate_session("BLINK", "rigid_mask", 1, seed=2)
    eyes = [f["faces"][0]["EyesOpen"]["Value"] for f in mask["frames"] if f["faces"]]
    assert np.mean(eyes) > 0.9 and "turn_deg" in mask["metadata"]
