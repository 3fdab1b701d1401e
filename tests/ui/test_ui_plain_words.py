"""Plain words for every result code, and which challenge types the studio offers."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import pytest

from liveness_lab.challenges import default_registry
from liveness_lab.ui.offered import (STUDIO_TYPES, default_live_profile, is_user_facing,
                                     user_facing_types)
from liveness_lab.ui.plain_words import (PLAIN_TEXT, explain, humanize_times, known_codes,
                                         plain_words)


def offered_types():
    reg = default_registry()
    return [reg.get(n) for n in reg.names() if is_user_facing(n, reg.get(n))]


def test_every_code_of_every_offered_type_has_plain_words():
    types = offered_types()
    assert {t.name for t in types} >= set(STUDIO_TYPES)
    codes = known_codes(types)
    # the enumeration really reads the types' sources and the framework's codes
    for code in ("nose.histogram_distance", "pose.gaze", "blink.window",
                 "head_turn.wrong_direction", "identity.missing", "pad.attack",
                 "nose_state.timeout", "turn_3.timeout", "blink_state.no_face",
                 "area_state.no_face_skipped", "face_state.no_decision", "state_error",
                 "no_frames", "pose_state.continue",
                 # codes of the helper modules a type's states import (pose_run, blink_rules)
                 "pose.swap_shift", "blink.inconsistent",
                 # the verifier's own (one face to the end)
                 "session.several_faces"):
        assert code in codes, code
    missing = sorted(c for c in codes if plain_words(c) is None)
    assert not missing, f"result codes without plain words in liveness_lab/ui/plain_words.py: " \
                        f"{missing}"


def test_the_enumeration_finds_a_new_code_without_plain_words(tmp_path):
    """A type that adds a code with no plain words makes the check above fail."""
    src = tmp_path / "ll_uitest_newtype.py"
    src.write_text(textwrap.dedent('''
        from liveness_lab.challenges import ChallengeType, Fail, Success
        NEW = ChallengeType("UITEST_NEW", random_selection=False)

        @NEW.params
        def params(meta):
            return {"imageWidth": 640, "imageHeight": 480}

        @NEW.state(first=True)
        def only_state(params, frame, context):
            if not frame.faces:
                return Fail("uitest.brand_new_failure", "nothing")
            return Success("uitest.ok", "fine")
    '''))
    spec = importlib.util.spec_from_file_location("ll_uitest_newtype", src)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ll_uitest_newtype"] = module
    try:
        spec.loader.exec_module(module)
        codes = known_codes([module.NEW])
    finally:
        del sys.modules["ll_uitest_newtype"]
    assert {"uitest.brand_new_failure", "uitest.ok", "only_state.timeout"} <= codes
    assert plain_words("uitest.brand_new_failure") is None


def test_plain_words_are_plain():
    for code, words in PLAIN_TEXT.items():
        text = words.headline + " " + words.next_step
        for jargon in ("histogram", "degree-2", "LOOKING_", "_state", " ms", "landmark "):
            assert jargon not in text, (code, text)
        assert words.headline[0].isupper() and words.next_step[0].isupper(), code


@pytest.mark.parametrize("verdict, label, headline", [
    ({"success": True, "decided": True, "code": "nose.ok", "reason": "distance 0.3 > 0.2"},
     "PASS", "You passed"),
    ({"success": False, "decided": True, "code": "nose.histogram_distance",
      "reason": "landmark histogram distance 0.183 <= 0.225"},
     "FAIL", "Your face did not turn like a real head"),
    ({"success": False, "decided": False, "code": "nose_state.no_decision", "reason": "ran out"},
     "NO DECISION", "No decision"),
    ({"success": False, "decided": True, "code": "still.moved", "reason": "moved"},
     "FAIL", "The challenge was not passed"),  # an unknown plugin's code: generic words
])
def test_explain(verdict, label, headline):
    r = explain(verdict)
    assert (r.label, r.headline) == (label, headline)
    assert r.next_step and r.technical == verdict["reason"] and r.code == verdict["code"]


def test_no_epoch_times_in_the_technical_reason():
    r = explain({"success": False, "decided": True, "code": "nose_state.timeout",
                 "reason": "state 'nose_state' timed out: frame at 1796626667429 ms is more "
                           "than 10 s after the state's first frame"}, t0_ms=1796626655000)
    assert "1796626667429" not in r.technical and "at 12.4 s" in r.technical
    assert humanize_times("no numbers 12345 here", 0) == "no numbers 12345 here"


def test_test_plugins_stay_out_of_the_studio():
    reg = default_registry()
    assert is_user_facing("NOSE") and is_user_facing("head_turn")
    assert not is_user_facing("CUSTOM", reg.get("CUSTOM"))

    class Plugin:
        user_facing = True

    assert is_user_facing("MYTYPE", Plugin())
    assert not is_user_facing("MYTYPE", object())
    listed = [{"name": n} for n in ("CUSTOM", "STILL", "POSE", "BLINK", "NOSE", "HEAD_TURN",
                                    "REMOTE_ONLY")]
    assert [t["name"] for t in user_facing_types(listed, registry=reg)] == \
        ["NOSE", "POSE", "BLINK", "HEAD_TURN"]
    assert [t["name"] for t in user_facing_types(listed, registry=reg, extra=["still"])] == \
        ["NOSE", "POSE", "BLINK", "HEAD_TURN", "STILL"]


def test_the_live_profile_comes_from_the_service_default():
    from liveness_lab.service.settings import Settings
    from liveness_lab.ui.settings import get_app_settings

    from liveness_lab.service.startup import secure_default_profile
    assert default_live_profile() == (Settings().profile
                                      or secure_default_profile(Settings().analyzer))
    assert get_app_settings({}).profile is None  # no app setting: the service decides
    assert get_app_settings({"LIVENESS_APP_PROFILE": "recommended"}).profile == "recommended"
    from liveness_lab.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown profile"):
        get_app_settings({"LIVENESS_APP_PROFILE": "nope"})
    assert get_app_settings({"LIVENESS_APP_CHALLENGE_TYPES": "still, x"}).challenge_types == \
        ("STILL", "X")
