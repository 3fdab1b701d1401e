"""Golden tests: the NOSE challenge decides as the original, check by check (seed profile).

Each scenario starts from a run that passes and breaks exactly one thing.
Geometry (640x480, see builders.NOSE_PARAMS): area box (185, 60, 270, 360) px, nose target
(383, 256, 20, 20) px, i.e. right of and below the centre; grown by 55% the target spans
x 372..414, y 245..287 px.
"""

from __future__ import annotations

import pytest

from builders import NOSE_PARAMS, T0, make_face, make_session
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.challenges.nose import NoseConfig, nose_params
from liveness_lab.config import resolve_configs
from liveness_lab.verify import verify_session

BOX = (0.3125, 0.1667, 0.375, 0.6667)          # 200..440 x 80..400 px: inside the area, 79% of it
START_NOSE = (0.5, 0.5833)
TARGET = ((383 + 10) / 640, (256 + 10) / 480)  # the target box centre, ratios


def nose_frames(*, n_move: int = 8, final_turn: float = 0.2, final_yaw: float = 20.0,
                dt: int = 100, nose_path=None, box=BOX, start_ts: int = T0):
    """A passing run: centred face, then the nose moves in a straight line to the target."""
    frames = [(start_ts, [make_face(box=box, nose=START_NOSE)])]
    for i in range(1, n_move + 1):
        f = i / n_move
        g = 1.0 if i == n_move else 0.7 * f  # stay outside the grown target until the last frame
        nose = nose_path(f) if nose_path else (START_NOSE[0] + g * (TARGET[0] - START_NOSE[0]),
                                                START_NOSE[1] + g * (TARGET[1] - START_NOSE[1]))
        frames.append((start_ts + i * dt, [make_face(box=box, nose=nose, turn=final_turn * f,
                                                     yaw=final_yaw * f)]))
    return frames


def run(frames, sets=(), params=NOSE_PARAMS):
    return verify_session(make_session("NOSE", dict(params), frames),
                          configs=resolve_configs("seed", sets=sets))


def codes(verdict):
    return [(r["state"], r["result"], r["code"]) for r in verdict.trace.rows]


def test_reference_run_passes_and_traces_every_state():
    v = run(nose_frames())
    assert v.success and v.decided and v.code == "nose.ok"
    states = [r["state"] for r in v.trace.rows]
    assert states[:3] == ["face_state", "area_state", "nose_state"]
    assert v.trace.rows[0]["result"] == "next" and v.trace.rows[1]["result"] == "next"
    last = v.trace.rows[-1]
    assert last["inside_nose_box"] is True
    assert last["trajectory_error"] < 1e-6 and last["min_dist"] == pytest.approx(0.075)
    assert last["histogram_distance"] > 0.075 and last["yaw"] == 20.0
    df = v.trace.to_dataframe()
    assert len(df) == len(v.trace.rows) and {"nose_x", "nose_y", "face_area_percent"} <= set(df)


# -- face state -------------------------------------------------------------------------------

@pytest.mark.parametrize("n_faces", [0, 2])
def test_face_state_waits_for_exactly_one_face(n_faces):
    extra = [(T0 - 200, [make_face(box=BOX)] * n_faces)]
    v = run(extra + nose_frames())
    assert v.success
    assert codes(v)[0] == ("face_state", "continue",
                           "face.no_face" if n_faces == 0 else "face.several_faces")


# -- area state -------------------------------------------------------------------------------

def test_area_state_waits_while_face_outside_area():
    outside = (0.05, 0.1667, 0.375, 0.6667)  # 32 px from the left: outside the area box
    v = run([(T0 - 200, [make_face(box=outside)])] + nose_frames())
    assert v.success
    assert codes(v)[1] == ("area_state", "continue", "area.outside")


def test_area_state_waits_while_face_too_small():
    # 120 x 120 px inside the area: 14.8% of it; +20 tolerance = 34.8 < 40
    small = (0.45, 0.4, 120 / 640, 120 / 480)
    v = run([(T0 - 200, [make_face(box=small)])] + nose_frames())
    assert v.success
    row = v.trace.rows[1]
    assert row["code"] == "area.too_small" and row["face_area_percent"] == pytest.approx(14.81, abs=0.01)


def test_area_tolerance_is_twenty_points():
    # 150 x 140 px = 21.6% of the area: 21.6 + 20 >= 40 passes
    box = (0.45, 0.4, 150 / 640, 140 / 480)
    v = run([(T0 - 200, [make_face(box=box)])] + nose_frames())
    assert v.trace.rows[1]["code"] == "area.ok"


def test_area_state_fails_on_a_frame_without_face():
    outside = (0.05, 0.1667, 0.375, 0.6667)
    v = run([(T0 - 300, [make_face(box=outside)]), (T0 - 200, [])] + nose_frames())
    assert not v.success and v.decided and v.code == "area.no_face"


# -- nose state -------------------------------------------------------------------------------

def test_nose_state_fails_when_face_leaves_the_grown_area():
    frames = nose_frames()
    # grown area: left edge 185 - 13.5 = 171.5 px; a face at 165 px is out
    frames.insert(3, (frames[2][0] + 50, [make_face(box=(165 / 640, BOX[1], BOX[2], BOX[3]))]))
    v = run(frames)
    assert not v.success and v.code == "nose.face_left_area"


def test_nose_state_tolerates_the_five_percent_margin():
    frames = nose_frames()
    frames.insert(3, (frames[2][0] + 50, [make_face(box=(175 / 640, BOX[1], BOX[2], BOX[3]),
                                                    nose=START_NOSE)]))
    assert run(frames).success


def test_nose_outside_target_continues_until_timeout():
    frames = nose_frames(nose_path=lambda f: (0.5 + 0.02 * f, 0.5833))  # never reaches the target
    frames.append((T0 + 10_200, [make_face(box=BOX, nose=START_NOSE)]))
    v = run(frames)
    assert not v.success and v.code == "nose_state.timeout"
    assert all(r["code"] == "nose.not_in_target" for r in v.trace.rows[2:-1])


def test_nose_target_tolerance_is_fifty_five_percent():
    # 371 px is outside 372..414; 373 px is inside
    for x_px, inside in ((371, False), (373, True)):
        frames = nose_frames(nose_path=lambda f, x=x_px: (START_NOSE[0] + f * (x / 640 - 0.5),
                                                           START_NOSE[1] + f * (TARGET[1] - START_NOSE[1])))
        v = run(frames)
        assert v.trace.rows[-1]["inside_nose_box"] is inside


def test_nose_trajectory_error_fails_a_zigzag():
    def zigzag(f):
        return (START_NOSE[0] + f * (TARGET[0] - START_NOSE[0]),
                START_NOSE[1] + f * (TARGET[1] - START_NOSE[1]) + (0.05 if int(f * 8) % 2 else -0.05))
    v = run(nose_frames(nose_path=zigzag))
    assert not v.success and v.code == "nose.trajectory_error"
    assert v.trace.rows[-1]["trajectory_error"] > 0.02


def test_trajectory_threshold_is_configurable():
    def wobble(f):
        return (START_NOSE[0] + f * (TARGET[0] - START_NOSE[0]),
                START_NOSE[1] + f * (TARGET[1] - START_NOSE[1]) + (0.012 if int(f * 8) % 2 else -0.012))
    frames = nose_frames(nose_path=wobble)
    assert run(frames).code == "nose.ok"  # RMS error below 0.02
    assert run(frames, sets=["nose.trajectory_error_threshold=0.005"]).code == "nose.trajectory_error"


@pytest.mark.parametrize("n_points", [1, 2, 3])
def test_too_short_trajectory_fails_instead_of_crashing(n_points):
    # the original raised inside np.polyfit's residual handling here (HTTP 500)
    frames = nose_frames(n_move=n_points - 1) if n_points > 1 else [
        (T0, [make_face(box=BOX, nose=TARGET, turn=0.2, yaw=20)])]
    if n_points > 1:
        frames[-1] = (frames[-1][0], [make_face(box=BOX, nose=TARGET, turn=0.2, yaw=20)])
    v = run(frames)
    assert not v.success and v.code == "nose.trajectory_unfit"


def test_rigidly_moved_face_fails_the_histogram_check():
    # a photo moved without parallax: the whole layout follows the nose; distance 0
    small = (190 / 640, 100 / 480, 150 / 640, 260 / 480)  # 40% of the area box
    start = make_face(box=small).landmark("nose")
    frames = []
    for ts, faces in nose_frames(final_yaw=20.0):
        nose = faces[0].landmark("nose")
        f = (nose.x - START_NOSE[0]) / (TARGET[0] - START_NOSE[0])  # progress 0..1
        dx, dy = f * (TARGET[0] - start.x), f * (TARGET[1] - start.y)
        box = (small[0] + dx, small[1] + dy, small[2], small[3])
        frames.append((ts, [make_face(box=box, yaw=faces[0].pose.yaw)]))
    v = run(frames)
    assert not v.success and v.code == "nose.histogram_distance"
    assert v.trace.rows[-1]["histogram_distance"] == 0.0


@pytest.mark.parametrize("yaw,turn,expected", [
    (20.0, 0.15, "nose.ok"),                    # rotated toward the target: needs > 0.075
    (0.0, 0.15, "nose.histogram_distance"),     # not rotated: needs > 0.15
    (4.9, 0.2, "nose.ok"),                      # |yaw| <= 5 is not rotated; 0.236 > 0.15
    (-20.0, 0.2, "nose.wrong_rotation"),        # rotated away from the target
])
def test_rotation_rule(yaw, turn, expected):
    v = run(nose_frames(final_turn=turn, final_yaw=yaw))
    assert v.code == expected


def test_rotation_rule_mirrors_for_a_target_on_the_left():
    params = dict(NOSE_PARAMS, noseLeft=640 - 383 - 20)  # mirrored target: left of centre
    target = ((params["noseLeft"] + 10) / 640, TARGET[1])
    path = lambda f: (START_NOSE[0] + f * (target[0] - START_NOSE[0]),
                      START_NOSE[1] + f * (target[1] - START_NOSE[1]))
    assert run(nose_frames(nose_path=path, final_turn=-0.15, final_yaw=-20.0), params=params).success
    v = run(nose_frames(nose_path=path, final_turn=-0.2, final_yaw=20.0), params=params)
    assert v.code == "nose.wrong_rotation"


def test_missing_pose_fails_with_a_reason():
    frames = nose_frames()
    frames[-1] = (frames[-1][0], [make_face(box=BOX, nose=TARGET, turn=0.2, yaw=None, pitch=None,
                                            roll=None)])
    v = run(frames)
    assert not v.success and v.code == "nose.missing_pose"


def test_missing_nose_landmark_never_passes():
    frames = [(ts, [make_face(box=BOX, omit=["nose"])]) for ts, _ in nose_frames()]
    v = run(frames)
    assert not v.success and not v.decided
    assert v.trace.rows[-1]["code"] == "nose.missing_landmark"


def test_frame_without_face_in_nose_state_fails_instead_of_crashing():
    frames = nose_frames()
    frames.insert(4, (frames[3][0] + 10, []))
    v = run(frames)
    assert not v.success and v.decided and v.code == "nose.no_face"


def test_second_face_is_ignored_under_seed():
    # the original keeps using the first face when a second one appears
    frames = nose_frames()
    frames[4] = (frames[4][0], frames[4][1] + [make_face(box=(0.0, 0.0, 0.1, 0.1))])
    assert run(frames).success


# -- timeouts and decisions -------------------------------------------------------------------

def test_timeout_is_strictly_after_ten_seconds_from_the_states_first_frame():
    stay = [(T0 + t, [make_face(box=(0.05, 0.1667, 0.375, 0.6667))]) for t in (0, 10_000)]
    v = run(stay)
    assert not v.decided  # exactly 10 s: not yet timed out
    v = run(stay + [(T0 + 10_001, [make_face(box=(0.05, 0.1667, 0.375, 0.6667))])])
    assert v.decided and v.code == "area_state.timeout"


def test_frames_running_out_is_no_decision():
    v = run(nose_frames()[:3])
    assert not v.success and not v.decided and v.code == "nose_state.no_decision"
    assert run([]).code == "no_frames"


def test_params_follow_the_original_rules():
    p = nose_params({"imageWidth": 640, "imageHeight": 480}, NoseConfig(), SeededRandom(3))
    assert (p["areaLeft"], p["areaTop"], p["areaWidth"], p["areaHeight"]) == (185, 60, 270, 360)
    assert p["minFaceAreaPercent"] == 40 and p["noseWidth"] == p["noseHeight"] == 20
    assert set(p) == set(NOSE_PARAMS)
    assert default_registry().get("nose").generate_params(
        {"imageWidth": "480", "imageHeight": "480"})["areaWidth"] == 270


def _run_wrapped_nose(name: str, look) -> object:
    """A plugin type built from NOSE's own states, its nose state wrapped to call
    ``look(context)`` at success; returns the seed verdict of the ``nose_frames()`` session."""
    from liveness_lab.challenges import ChallengeRegistry, ChallengeType, Step
    from liveness_lab.challenges.nose import area_state, face_state, nose_state

    wrapped = ChallengeType(name, config_class=NoseConfig)
    wrapped.params(nose_params)
    wrapped.state(first=True, next_state="area_state", name="face_state")(face_state)
    wrapped.state(next_state="nose_state", name="area_state")(area_state)

    @wrapped.state(name="nose_state")
    def nose_and_look(params, frame, context):
        result = nose_state(params, frame, context)
        if result.step is Step.SUCCESS:
            look(context)
        return result

    registry = ChallengeRegistry()
    for other in default_registry().names():
        registry.register(default_registry().get(other))
    registry.register(wrapped)
    return verify_session(make_session(name, dict(NOSE_PARAMS), nose_frames()),
                          configs=resolve_configs("seed", registry=registry), registry=registry)


def test_a_plugin_wrapping_nose_state_reads_the_original_context_keys():
    """Plugins written for the original read ``context["original_landmarks"]`` at success."""
    seen = {}
    v = _run_wrapped_nose("NOSE_WRAPPED",
                          lambda context: seen.update(landmarks=context["original_landmarks"]))
    assert v.success, v.reason
    frames = [faces[0].landmarks for _, faces in nose_frames()]
    assert seen["landmarks"] in frames[:-1]  # the first nose-state face, not the last one


def test_the_nose_run_state_is_one_typed_object_beside_original_landmarks():
    """The nose state keeps its per-run values in one ``_NoseRun`` under one key; the only
    other NOSE key in the context is the original's public ``original_landmarks``."""
    from liveness_lab.challenges.nose_run import RUN_KEY, _NoseRun

    seen = {}
    v = _run_wrapped_nose("NOSE_RUN", lambda context: seen.update(context=dict(context)))
    assert v.success, v.reason
    context = seen["context"]
    run_state = context[RUN_KEY]
    assert isinstance(run_state, _NoseRun)
    assert run_state.original_face.landmarks is context["original_landmarks"]
    assert len(run_state.trajectory) == len(nose_frames())  # Next runs the next state on its frame
    assert run_state.target_index == 0 and run_state.targets is not None
    assert not [k for k in context if "nose" in k and k != RUN_KEY]
