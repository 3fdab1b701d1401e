"""Params schemas: every built-in type declares its params, and a session is checked on reading."""

from __future__ import annotations

import copy
import json

import pytest

from liveness_lab.challenges import SeededRandom, builtin_registry
from liveness_lab.challenges.framework import Param, check_params_schema
from liveness_lab.errors import ChallengeDefinitionError, ParamsError, SessionFormatError
from liveness_lab.sessions import read_session, session_from_dict

META = {"imageWidth": 640, "imageHeight": 480}


@pytest.mark.parametrize("name", ["NOSE", "POSE", "BLINK", "HEAD_TURN"])
def test_generated_params_follow_their_schema(name):
    ct = builtin_registry().get(name)
    assert ct.params_schema is not None
    for seed in range(20):
        ct.check_params(ct.generate_params(META, rng=SeededRandom(seed)))


@pytest.mark.parametrize("name,change,field,message", [
    ("NOSE", {"imageWidth": "wide"}, "imageWidth", "must be an integer, got 'wide'"),
    ("NOSE", {"noseTop": None}, "noseTop", "is missing"),
    ("NOSE", {"imageHeight": 0}, "imageHeight", "must be a number >= 1"),
    ("NOSE", {"areaWidth": True}, "areaWidth", "must be a finite number, got True"),
    ("NOSE", {"minFaceAreaPercent": 140}, "minFaceAreaPercent", "<= 100"),
    ("POSE", {"pose": {"eyes": "SQUINT", "mouth": "CLOSED"}}, "pose.eyes",
     "must be one of 'OPEN', 'CLOSED', 'LOOKING_LEFT', 'LOOKING_RIGHT', got 'SQUINT'"),
    ("POSE", {"pose": {"eyes": "OPEN"}}, "pose.mouth", "is missing"),
    ("POSE", {"pose": "smile"}, "pose", "must be an object"),
    ("POSE", {"holdFrames": 0}, "holdFrames", ">= 1"),
    ("BLINK", {"blinks": 1.5}, "blinks", "must be an integer, got 1.5"),
    ("BLINK", {"windowMs": float("nan")}, "windowMs", "must be an integer"),
    ("HEAD_TURN", {"sequence": ["LEFT", "BACK"]}, "sequence[1]", "got 'BACK'"),
    ("HEAD_TURN", {"sequence": []}, "sequence", "must be a list of >= 1 items"),
    ("HEAD_TURN", {"sequence": "LEFT"}, "sequence", "must be a list"),
])
def test_malformed_params_name_the_field(name, change, field, message):
    ct = builtin_registry().get(name)
    params = ct.generate_params(META, rng=SeededRandom(1))
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    with pytest.raises(ParamsError) as info:
        ct.check_params(params)
    assert info.value.field == field
    assert message in info.value.detail
    assert str(info.value).startswith(f"params field {field!r} ")


def test_integral_floats_and_extra_keys_are_accepted():
    ct = builtin_registry().get("NOSE")
    params = ct.generate_params(META, rng=SeededRandom(1))
    ct.check_params({**params, "imageWidth": 640.0, "clientVersion": "2"})


def test_a_type_without_schema_accepts_any_params():
    ct = builtin_registry().get("CUSTOM")
    assert ct.params_schema is None
    ct.check_params({"anything": object()})


def test_schema_declarations_are_checked():
    with pytest.raises(ChallengeDefinitionError, match="Param type"):
        Param(tuple)
    with pytest.raises(ChallengeDefinitionError, match="only for type=list"):
        Param(dict, items=Param(int))
    with pytest.raises(ChallengeDefinitionError, match="only for type=dict"):
        Param(list, fields={"a": Param(int)})
    from liveness_lab.challenges import ChallengeType
    with pytest.raises(ChallengeDefinitionError, match="Param objects"):
        ChallengeType("X", params_schema={"a": int})
    with pytest.raises(ParamsError, match="'a' is missing"):
        check_params_schema({"a": Param(int)}, {})
    check_params_schema({"a": Param(int, required=False)}, {})


def _doc(name="NOSE"):
    ct = builtin_registry().get(name)
    return {"format": "liveness-lab/session@1", "id": "s-1",
            "challenge": {"type": name, "params": ct.generate_params(META, rng=SeededRandom(2))},
            "label": "bona_fide", "pai_species": None, "frames": [{"timestamp": 1, "faces": []}]}


def test_reading_a_session_checks_params_and_names_file_and_field(tmp_path):
    doc = _doc()
    session_from_dict(copy.deepcopy(doc))  # valid
    doc["challenge"]["params"]["imageWidth"] = "wide"
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionFormatError) as info:
        read_session(path)
    assert info.value.field == "challenge.params.imageWidth"
    assert str(path) in str(info.value) and "must be an integer, got 'wide'" in str(info.value)


def test_unknown_types_are_left_to_the_verifier():
    doc = _doc()
    doc["challenge"]["type"] = "NOT_A_TYPE"
    doc["challenge"]["params"] = {"whatever": 1}
    assert session_from_dict(doc).challenge_type == "NOT_A_TYPE"


def test_the_framework_split_keeps_every_public_name_importable_from_framework():
    from liveness_lab.challenges import config_base, framework, params
    for name in framework.__all__:
        assert hasattr(framework, name), name
    assert framework.ChallengeConfig is config_base.ChallengeConfig
    for name in ("Param", "check_params_schema", "IMAGE_SIZE_SCHEMA", "image_size",
                 "ChallengeRandom", "SecretsRandom", "SeededRandom"):
        assert getattr(framework, name) is getattr(params, name), name
