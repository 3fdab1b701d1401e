"""Property tests: NOSE/POSE under the seed profile decide as a literal model of the original.

Random sessions around the interesting boundaries (area box, nose target, rotation,
trajectory noise, missing faces, extra faces, timeouts) are verified by liveness-lab and by
``reference_original``; the success flags must agree on every example. Also: params ranges,
timeouts and frame ordering.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import T0, make_face, make_session
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.challenges.pose import EYES, MOUTH
from liveness_lab.config import resolve_configs
from liveness_lab.sessions import Frame
from liveness_lab.verify import verify_session
from reference_original import verify as reference_verify

SEED = resolve_configs("seed")
PROFILE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ours(ctype, params, frames):
    return verify_session(make_session(ctype, params, frames), configs=SEED)


def theirs(ctype, params, frames):
    return reference_verify(ctype, params, [{"timestamp": ts, "rekMetadata": [
        f.to_rekognition() for f in faces]} for ts, faces in frames])


@st.composite
def nose_sessions(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    w, h = rnd.choice([(640, 480), (480, 480), (480, 640), (1280, 720)])
    params = default_registry().get("NOSE").generate_params(
        {"imageWidth": w, "imageHeight": h}, rng=SeededRandom(seed))
    ax, ay, aw, ah = (params[k] for k in ("areaLeft", "areaTop", "areaWidth", "areaHeight"))
    # a face box near the area box (sometimes outside, sometimes too small)
    fw = aw * rnd.uniform(0.45, 1.05)
    fh = ah * rnd.uniform(0.45, 1.05)
    fx = ax + (aw - fw) / 2 + rnd.gauss(0, aw * 0.04)
    fy = ay + (ah - fh) / 2 + rnd.gauss(0, ah * 0.04)
    target = ((params["noseLeft"] + 10) / w, (params["noseTop"] + 10) / h)
    start = ((fx + fw / 2) / w, (fy + fh * 0.58) / h)
    n = rnd.randint(1, 14)
    dt = rnd.choice([80, 100, 150, 900, 1500])
    reach = rnd.uniform(0.6, 1.2)
    turn_sign = rnd.choice([1, -1, 0])
    wobble = rnd.choice([0.0, 0.005, 0.02, 0.05])
    frames = []
    ts = T0
    for i in range(n):
        f = i / max(1, n - 1)
        g = min(1.0, f * reach) if rnd.random() > 0.1 else f
        nose = (start[0] + g * (target[0] - start[0]) + rnd.gauss(0, wobble),
                start[1] + g * (target[1] - start[1]) + rnd.gauss(0, wobble))
        jitter = rnd.gauss(0, 3)
        box = ((fx + jitter) / w, fy / h, fw / w, fh / h)
        yaw = turn_sign * rnd.uniform(0, 25) * f + rnd.gauss(0, 2)
        face = make_face(box=box, nose=nose, turn=turn_sign * 0.25 * f * rnd.random(), yaw=yaw,
                         omit=["nose"] if rnd.random() < 0.03 else ())
        faces = [face]
        r = rnd.random()
        if r < 0.05:
            faces = []
        elif r < 0.1:
            faces = [face, make_face(box=(0.0, 0.0, 0.1, 0.1))]
        frames.append((ts, faces))
        ts += dt + rnd.randint(-20, 20)
    return params, frames


@PROFILE
@given(nose_sessions())
def test_nose_decides_like_the_original(session):
    params, frames = session
    assert ours("NOSE", params, frames).success == theirs("NOSE", params, frames)


@st.composite
def pose_sessions(draw):
    params = {"imageWidth": 640, "imageHeight": 480,
              "pose": {"eyes": draw(st.sampled_from(EYES)), "mouth": draw(st.sampled_from(MOUTH))}}
    n_frames = draw(st.integers(0, 3))
    frames = []
    for i in range(n_frames):
        n_faces = draw(st.sampled_from([0, 1, 1, 1, 1, 2]))
        faces = [make_face(
            confidence=draw(st.floats(80, 100)), yaw=draw(st.floats(-25, 25)),
            pitch=draw(st.floats(-25, 25)), roll=draw(st.floats(-25, 25)),
            eyes_open=draw(st.booleans()), smile=draw(st.booleans()),
            mouth_open=draw(st.booleans()),
            pupils=(draw(st.floats(0, 1)), draw(st.floats(0, 1)))) for _ in range(n_faces)]
        frames.append((T0 + 100 * i, faces))
    return params, frames


@PROFILE
@given(pose_sessions())
def test_pose_decides_like_the_original(session):
    params, frames = session
    assert ours("POSE", params, frames).success == theirs("POSE", params, frames)


@settings(max_examples=300, deadline=None)
@given(w=st.integers(200, 4000), h=st.integers(200, 4000), seed=st.integers(0, 2**32 - 1))
def test_nose_params_ranges(w, h, seed):
    p = default_registry().get("NOSE").generate_params({"imageWidth": w, "imageHeight": h},
                                                       rng=SeededRandom(seed))
    assert p["areaHeight"] == int(h * 0.75) and p["areaWidth"] == int(min(w * 0.75, h * 0.75 * 0.75))
    assert abs((p["areaLeft"] + p["areaWidth"] / 2) - w / 2) <= 1
    assert p["noseWidth"] == p["noseHeight"] == 20
    cx, cy = w / 2, h / 2
    # which side: by the box centre (int() truncation can put a box's edge half a pixel across)
    near_h = p["noseLeft"] - cx if p["noseLeft"] + 10 >= cx else cx - (p["noseLeft"] + 20)
    near_v = p["noseTop"] - cy if p["noseTop"] + 10 >= cy else cy - (p["noseTop"] + 20)
    assert 44 <= near_h <= 75 and -1 <= near_v <= 40  # int() truncation of half-pixel centres


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_nose_params_cover_all_four_quadrants_over_draws(seed):
    rng = SeededRandom(seed)
    sides = set()
    for _ in range(64):
        p = default_registry().get("NOSE").generate_params({"imageWidth": 640, "imageHeight": 480},
                                                           rng=rng)
        sides.add((p["noseLeft"] > 320, p["noseTop"] >= 240))
    assert len(sides) == 4


@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.integers(1, 4000), min_size=1, max_size=12))
def test_timeout_fires_exactly_when_a_state_outlasts_ten_seconds(gaps):
    outside = make_face(box=(0.0, 0.1667, 0.375, 0.6667))  # stays in the area state forever
    ts = [T0]
    for g in gaps:
        ts.append(ts[-1] + g)
    frames = [(t, [outside]) for t in ts]
    v = ours("NOSE", default_registry().get("NOSE").generate_params(
        {"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(0)), frames)
    timed_out = any(t - T0 > 10_000 for t in ts)
    assert (v.code == "area_state.timeout") is timed_out
    assert v.decided is timed_out


@PROFILE
@given(nose_sessions(), st.randoms(use_true_random=False))
def test_frame_order_in_the_file_does_not_matter(session, rnd):
    params, frames = session
    shuffled = list(frames)
    rnd.shuffle(shuffled)
    a = ours("NOSE", params, frames)
    s = make_session("NOSE", params, shuffled)
    assert [f.timestamp for f in s.sorted_frames()] == sorted(f.timestamp for f in s.frames)
    b = verify_session(s, configs=SEED)
    assert (a.success, a.code, len(a.trace)) == (b.success, b.code, len(b.trace))
