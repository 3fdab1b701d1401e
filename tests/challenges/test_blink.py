"""BLINK: eye aspect ratio against a per-session baseline, N blinks within the window."""

from __future__ import annotations

import pytest

from builders import T0, make_face, make_session
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.challenges.blink import BlinkConfig, blink_params, eye_aspect_ratio
from liveness_lab.config import resolve_configs
from liveness_lab.errors import ConfigError
from liveness_lab.faces import Landmark
from liveness_lab.verify import verify_session

PARAMS = {"imageWidth": 640, "imageHeight": 480, "blinks": 2, "windowMs": 5000}


def eye_face(openness: float = 1.0, **kw):
    """A face whose lids are ``openness`` (1 open, 0 shut) of the template's opening."""
    face = make_face(eyes_open=openness > 0.5, **kw)
    lms = []
    for lm in face.landmarks:
        for side in ("left", "right"):
            if lm.type in (f"{side}EyeUp", f"{side}EyeDown"):
                centre = face.landmark(f"eye{side.capitalize()}").y
                lm = Landmark(lm.type, lm.x, centre + (lm.y - centre) * openness)
        lms.append(lm)
    return face.replace(landmarks=tuple(lms))


def frames_with_blinks(blinks: int, *, gap: int = 4, lead: int = 4, dt: int = 100):
    seq = [1.0] * lead
    for _ in range(blinks):
        seq += [0.1, 0.05] + [1.0] * gap
    return [(T0 + dt * i, [eye_face(o)]) for i, o in enumerate(seq)]


def run(frames, params=PARAMS, sets=(), profile="seed"):
    return verify_session(make_session("BLINK", dict(params), frames),
                          configs=resolve_configs(profile, sets=sets))


def test_eye_aspect_ratio_follows_the_lids():
    assert eye_aspect_ratio(eye_face(1.0), 640, 480) == pytest.approx(0.5, rel=1e-3)
    assert eye_aspect_ratio(eye_face(0.2), 640, 480) == pytest.approx(0.1, rel=1e-3)
    assert eye_aspect_ratio(make_face(omit=["leftEyeUp"])) is None


def test_two_blinks_pass():
    v = run(frames_with_blinks(2))
    assert v.success and v.code == "blink.ok" and v.score == 1.0
    assert [r["blinks"] for r in v.trace.rows if r["code"] == "blink.counted"] == [1]
    assert v.trace.rows[-1]["ear_ratio"] > 0.8


def test_a_photo_cannot_blink():
    v = run([(T0 + 100 * i, [eye_face(1.0)]) for i in range(70)])
    assert not v.success and v.decided and v.code == "blink.window"


def test_too_few_blinks_in_the_window_fail():
    v = run(frames_with_blinks(1) + [(T0 + 100 * (10 + i), [eye_face()]) for i in range(50)])
    assert v.code == "blink.window"


def test_blinks_after_the_window_do_not_count():
    v = run(frames_with_blinks(2, gap=50))      # the second blink ends 5.6 s in
    assert not v.success and v.code == "blink.window"


def test_baseline_is_per_session():
    # a person with narrow eyes: their open eyes are the baseline, their blinks still count
    frames = [(ts, [eye_face(0.5 if faces[0].eyes_open.value else 0.05)])
              for ts, faces in frames_with_blinks(2)]
    assert run(frames).success


def test_eyes_held_closed_are_not_a_blink():
    seq = [1.0] * 4 + [0.05] * 15 + [1.0] * 3 + [0.05, 0.05, 1.0, 1.0]
    v = run([(T0 + 100 * i, [eye_face(o)]) for i, o in enumerate(seq)])
    assert "blink.long_closure" in [r["code"] for r in v.trace.rows]
    assert not v.success


def test_baseline_waits_for_open_eyes():
    seq = [0.05] * 5 + [1.0] * 4 + [0.1, 1.0, 1.0, 0.1, 1.0]
    v = run([(T0 + 100 * i, [eye_face(o)]) for i, o in enumerate(seq)])
    assert v.success
    assert "blink.eyes_not_open" in [r["code"] for r in v.trace.rows]


def test_second_face_fails_and_missing_faces_are_skipped():
    frames = frames_with_blinks(2)
    frames[6] = (frames[6][0], frames[6][1] * 2)
    assert run(frames).code == "blink.several_faces"
    frames = frames_with_blinks(2)
    frames[7] = (frames[7][0], [])
    assert run(frames).success
    assert run(frames, sets=["blink.max_missing_faces=0"]).code == "blink.no_face"


def test_identity_and_pad_when_required():
    ext = {"LivenessLab": {"Descriptor": [0.0, 0.0], "PadScore": 0.1}}
    frames = [(ts, [f.replace(extra=ext) for f in faces]) for ts, faces in frames_with_blinks(2)]
    legacy = ["blink.cue_timing=false", "blink.parallax_check=false", "blink.min_blinks=2"]
    assert run(frames, profile="recommended",
               sets=["blink.pad_check=true", *legacy]).code == "pad.attack"
    swapped = frames[:6] + [(ts, [f.replace(extra={"LivenessLab": {"Descriptor": [1.0, 1.0]}})
                                  for f in faces]) for ts, faces in frames[6:]]
    assert run(swapped, sets=["blink.identity_check=true"]).code == "identity.changed"


def test_params_draw_a_blink_count_and_its_window():
    seen = set()
    for i in range(60):
        p = blink_params({"imageWidth": 640, "imageHeight": 480}, BlinkConfig(), SeededRandom(i))
        assert p["windowMs"] == int(round(1000 * (2.0 + 1.5 * p["blinks"])))
        seen.add(p["blinks"])
    assert seen == {2, 3, 4}
    assert default_registry().get("blink").generate_params(
        {"imageWidth": 480, "imageHeight": 480})["imageWidth"] == 480
    with pytest.raises(ValueError, match="imageWidth"):
        blink_params({}, BlinkConfig(), SeededRandom(0))


def test_config_validation():
    with pytest.raises(ConfigError, match="min_blinks"):
        BlinkConfig(min_blinks=5, max_blinks=3)
    with pytest.raises(ConfigError, match="close_ratio"):
        BlinkConfig(close_ratio=0.9, open_ratio=0.8)


@pytest.mark.parametrize("profile", ["seed", "rekognition"])
def test_the_run_state_is_one_typed_object(monkeypatch, profile):
    """BLINK keeps its per-run state in one BlinkRun under one key, not in string keys."""
    import liveness_lab.verify as verify_module
    from liveness_lab.challenges.blink_rules import RUN_KEY
    from liveness_lab.challenges.blink_signal import BlinkRun

    seen = []

    class Recording(verify_module.Context):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            seen.append(self)

    monkeypatch.setattr(verify_module, "Context", Recording)
    sets = () if profile == "seed" else ["blink.cue_timing=false", "blink.parallax_check=false",
                                         "blink.min_blinks=2", "blink.max_blinks=2"]
    v = run(frames_with_blinks(2), sets=sets, profile=profile)
    assert v.success
    (context,) = seen
    assert [k for k in context if k.startswith("blink")] == [RUN_KEY]
    state = context[RUN_KEY]
    assert isinstance(state, BlinkRun) and state.blinks == 2
    assert state.baseline == pytest.approx(0.5, rel=1e-3) and state.window_start is not None
