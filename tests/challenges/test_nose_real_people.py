"""NOSE hardened rules for real people and cameras: the face box follows the nose toward the
target (a head turns about the neck), and the nose parallax must clear the session's own
landmark noise. Geometry as in test_nose_golden (640x480, target right of and above the
nose's start; the area grown by 5 % spans x 171.5..468.5 px)."""

from __future__ import annotations

import pytest

from builders import NOSE_PARAMS, T0, make_face, make_session
from challenges.test_nose_golden import BOX, START_NOSE, TARGET
from liveness_lab.challenges.nose import NoseConfig
from liveness_lab.config import resolve_configs
from liveness_lab.errors import ConfigError
from liveness_lab.verify import verify_session

W, H = NOSE_PARAMS["imageWidth"], NOSE_PARAMS["imageHeight"]


def run(frames, sets=(), profile="rekognition"):
    return verify_session(make_session("NOSE", dict(NOSE_PARAMS), frames),
                          configs=resolve_configs(profile, sets=list(sets)))


def carried_frames(carry: float, *, n_move: int = 8, dt: int = 100, turn: float = 0.2,
                   yaw: float = 20.0):
    """The nose moves to the target; the face box moves ``carry`` times the nose's own
    displacement (0.6-0.8: a head turning about the neck; negative: the box moves the other way)."""
    frames = [(T0, [make_face(box=BOX, nose=START_NOSE)])]
    for i in range(1, n_move + 1):
        f = i / n_move
        g = 1.0 if i == n_move else 0.7 * f
        nose = (START_NOSE[0] + g * (TARGET[0] - START_NOSE[0]),
                START_NOSE[1] + g * (TARGET[1] - START_NOSE[1]))
        box = (BOX[0] + carry * (nose[0] - START_NOSE[0]), BOX[1] + carry * (nose[1] - START_NOSE[1]),
               BOX[2], BOX[3])
        frames.append((T0 + i * dt, [make_face(box=box, nose=nose, turn=turn * f, yaw=yaw * f)]))
    return frames


# -- the area follows the nose --------------------------------------------------------------

def test_face_box_carried_by_a_turning_head_fails_the_fixed_area_only():
    frames = carried_frames(0.6)
    assert frames[-1][1][0].bounding_box.left * W + BOX[2] * W > 468.5   # outside the 5 % area
    fixed = run(frames, ["nose.area_follows_nose=0"])
    assert not fixed.success and fixed.code == "nose.face_left_area"
    v = run(frames)
    assert v.success and v.code == "nose.ok", v.reason


def test_face_box_moving_away_from_the_target_still_fails():
    v = run(carried_frames(-0.6))
    assert not v.success and v.code == "nose.face_left_area"


def test_area_grows_only_toward_the_target_and_by_the_nose_reach():
    # reach to the far edge of the tolerant box (x 372..414, y 245..287) from the nose at
    # (320, 280): 94 px right, 35 px up; grown by 1.25 x that beyond the 5 % area
    frames = carried_frames(0.6)
    v = run(frames)
    row = next(r for r in v.trace.rows if r["state"] == "nose_state")
    assert row["inside_area"] is True
    cfg = resolve_configs("rekognition").by_type["NOSE"]
    assert cfg.area_follows_nose == 1.25
    # a box 1.3 x the reach to the right leaves even the grown area
    far = carried_frames(0.6)
    ts, faces = far[-2]
    shifted = (BOX[0] + 1.3 * 94 / W + 0.06, BOX[1], BOX[2], BOX[3])
    far[-2] = (ts, [make_face(box=shifted, nose=(faces[0].landmark("nose").x,
                                                  faces[0].landmark("nose").y), turn=0.15)])
    # (this one-frame box jump is also a track jump: the continuity check is off to see the
    # area rule)
    assert run(far, sets=["nose.continuity_check=false"]).code == "nose.face_left_area"
    assert run(far).code == "nose.track_jump"


def test_seed_keeps_the_fixed_area():
    assert resolve_configs("seed").by_type["NOSE"].area_follows_nose == 0.0
    v = run(carried_frames(0.6), profile="seed", sets=["nose.histogram_check=false"])
    assert v.code == "nose.face_left_area"


# -- the parallax clears the session's own noise -------------------------------------------

def jittered_frames(jitter_px: float, carry: float, *, still: int = 4, n_move: int = 6,
                    dt: int = 80, yaw: float = 12.0):
    """Still frames whose nose landmark jitters by ``jitter_px`` (alternating directions),
    then a move whose face box follows the nose by ``carry`` (1.0: a flat picture)."""
    frames = [(T0, [make_face(box=BOX, nose=START_NOSE)])]
    for k in range(still):
        dx = jitter_px / W * (1 if k % 2 == 0 else -1)
        dy = jitter_px / H * (1 if k % 4 < 2 else -1)
        frames.append((T0 + (k + 1) * dt, [make_face(box=BOX, nose=(START_NOSE[0] + dx,
                                                                     START_NOSE[1] + dy))]))
    t = frames[-1][0]
    for i in range(1, n_move + 1):
        f = i / n_move
        g = 1.0 if i == n_move else 0.7 * f
        nose = (START_NOSE[0] + g * (TARGET[0] - START_NOSE[0]),
                START_NOSE[1] + g * (TARGET[1] - START_NOSE[1]))
        box = (BOX[0] + carry * (nose[0] - START_NOSE[0]),
               BOX[1] + carry * (nose[1] - START_NOSE[1]), BOX[2], BOX[3])
        # a turn DetectFaces reports (parallax_min_rotation: a nose leads a head turn)
        frames.append((t + i * dt, [make_face(box=box, nose=nose, yaw=yaw * f)]))
    return frames


def test_small_parallax_passes_with_a_quiet_detector_and_fails_with_a_noisy_one():
    quiet = run(jittered_frames(0.0, 0.85))
    par = quiet.trace.rows[-1]["parallax"]
    assert 0.035 < par < 0.06 and quiet.success, quiet.reason        # above min_parallax
    noisy = run(jittered_frames(5.0, 0.85))
    assert noisy.trace.rows[-1]["parallax"] == pytest.approx(par, abs=1e-9)
    sigma = noisy.trace.rows[-1]["parallax_noise"]
    assert 4 * sigma > par                                           # within the noise
    assert not noisy.success and noisy.code == "nose.parallax"
    assert run(jittered_frames(5.0, 0.85), ["nose.parallax_noise_z=0"]).success


def test_a_real_turn_clears_the_noise():
    v = run(jittered_frames(5.0, 0.0))     # the box stays: the nose leads a head turn
    assert v.success, v.reason
    assert v.trace.rows[-1]["parallax"] > 4 * v.trace.rows[-1]["parallax_noise"]


def test_parallax_min_rotation_counts_a_parallax_only_with_a_reported_turn():
    """The option (off in the profiles: a head moved sideways shows a real parallax while its
    reported yaw may barely change): a parallax between faces whose reported pose stays
    within ``parallax_min_rotation`` counts as 0."""
    faked = jittered_frames(0.0, 0.0, yaw=3.0)   # the nose leads, the reported pose stays
    assert run(faked).success
    v = run(faked, ["nose.parallax_min_rotation=6"])
    assert not v.success and v.code == "nose.parallax", v.reason
    assert v.trace.rows[-1]["parallax"] == 0.0
    assert run(jittered_frames(0.0, 0.0, yaw=9.0), ["nose.parallax_min_rotation=6"]).success
    assert resolve_configs("rekognition").by_type["NOSE"].parallax_min_rotation == 0.0
    with pytest.raises(ConfigError, match="parallax_min_rotation"):
        NoseConfig(parallax_min_rotation=-1.0)


def test_no_still_frame_means_min_parallax_alone():
    frames = jittered_frames(0.0, 0.85, still=0, n_move=3)  # first move: 23 % of the way
    v = run(frames)
    assert v.success and "parallax_noise" not in v.trace.rows[-1]


@pytest.mark.parametrize("key,value", [("area_follows_nose", -0.1), ("parallax_noise_z", -1.0),
                                       ("parallax_still_fraction", 0.0),
                                       ("parallax_still_fraction", 1.0)])
def test_bad_values_are_refused(key, value):
    with pytest.raises(ConfigError, match=key):
        NoseConfig(**{key: value})


# -- the trajectory and parallax of the movement after the reaction pause --------------------

SMALL = (0.3125, 0.1667, 0.375, 0.55)  # 240 x 264 px: room to settle inside the area


def settling_frames(pause_frames: int, *, dt: int = 80, settle_px: float = 60.0):
    """The nose state starts while the face still rises into place (the centring movement
    finishing: nose and box move up ``settle_px``), then rests ``pause_frames`` frames, then
    the nose turns to the target."""
    frames, t = [], T0
    for k in range(4):                                  # settling: 3 steps up
        off = settle_px * (1 - k / 3) / H
        box = (SMALL[0], SMALL[1] + off, SMALL[2], SMALL[3])
        frames.append((t, [make_face(box=box, nose=(START_NOSE[0], START_NOSE[1] + off))]))
        t += dt
    for _ in range(pause_frames):
        frames.append((t, [make_face(box=SMALL, nose=START_NOSE)]))
        t += dt
    for i in range(1, 9):
        f = i / 8
        g = 1.0 if i == 8 else 0.7 * f
        nose = (START_NOSE[0] + g * (TARGET[0] - START_NOSE[0]),
                START_NOSE[1] + g * (TARGET[1] - START_NOSE[1]))
        frames.append((t, [make_face(box=SMALL, nose=nose, turn=0.2 * f, yaw=20.0 * f)]))
        t += dt
    return frames


def test_centring_movement_before_the_pause_is_not_part_of_the_trajectory():
    frames = settling_frames(3)                          # 240 ms at rest: a reaction time
    whole = run(frames, ["nose.trajectory_after_pause=false"])
    assert whole.code == "nose.trajectory_error"
    v = run(frames)
    assert v.success and v.code == "nose.ok", v.reason
    assert v.trace.rows[-1]["trajectory_start"] == 6     # the last frame of the pause
    assert v.trace.rows[-1]["trajectory_error"] < 1e-6


def test_without_a_pause_the_whole_trajectory_counts():
    v = run(settling_frames(1))                          # 80 ms at rest: no reaction pause
    assert v.code == "nose.trajectory_error"
    assert v.trace.rows[-1]["trajectory_start"] == 0


def test_pause_threshold_is_the_shortest_reaction_time():
    assert run(settling_frames(2), ["nose.pause_ms=150"]).code == "nose.ok"       # 160 ms
    assert run(settling_frames(2), ["nose.pause_ms=200"]).code == "nose.trajectory_error"


def test_seed_fits_the_whole_trajectory():
    assert resolve_configs("seed").by_type["NOSE"].trajectory_after_pause is False
    assert run(settling_frames(3), profile="seed").code == "nose.trajectory_error"


def test_a_pause_before_a_correction_does_not_hide_the_primary_movement():
    """Reacted before the nose state began: a primary movement two thirds of the way (a turn),
    a pause, a correction into the box. The parallax and the trajectory of the
    whole movement count (the path after the pause alone moved the nose only ~27 px)."""
    frames, t = [(T0, [make_face(box=BOX, nose=START_NOSE)])], T0
    for i in range(1, 7):                          # to 65 % of the way, turning
        f = 0.65 * i / 6
        nose = (START_NOSE[0] + f * (TARGET[0] - START_NOSE[0]),
                START_NOSE[1] + f * (TARGET[1] - START_NOSE[1]))
        t += 80
        frames.append((t, [make_face(box=BOX, nose=nose, turn=0.2 * f, yaw=20.0 * f)]))
    for _ in range(3):                             # 240 ms at rest
        t += 80
        frames.append((t, [make_face(box=BOX, nose=nose, turn=0.13, yaw=13.0)]))
    t += 80
    slid = (BOX[0] + TARGET[0] - nose[0], BOX[1] + TARGET[1] - nose[1], BOX[2], BOX[3])
    frames.append((t, [make_face(box=slid, nose=TARGET, turn=0.13, yaw=13.0)]))  # slid in
    v = run(frames)
    assert v.success and v.code == "nose.ok", v.reason
    assert v.trace.rows[-1]["trajectory_start"] > 0 and v.trace.rows[-1]["parallax"] > 0.1
    from liveness_lab.challenges.checks import nose_parallax
    after_pause = nose_parallax(frames[9][1][0], frames[-1][1][0], W, H)
    assert after_pause < 0.035                     # the pause-end reference alone would fail
