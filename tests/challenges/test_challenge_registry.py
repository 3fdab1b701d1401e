"""The challenge registry: explicit registration, entry-point discovery, clear lookup errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import pytest

from builders import T0, make_face
from liveness_lab.challenges import (ChallengeRegistry, ChallengeType, Continue, SeededRandom,
                                     Success, builtin_registry, default_registry,
                                     select_challenge_type)
from liveness_lab.errors import ChallengeDefinitionError, UnknownChallengeType
from liveness_lab.plugins import PluginWarning
from liveness_lab.sessions import Frame, Session, write_session


def test_lookup_error_lists_known_types():
    with pytest.raises(UnknownChallengeType, match="known: BLINK, CUSTOM, HEAD_TURN, NOSE, POSE"):
        builtin_registry().get("BLINKY")


def test_lookup_is_case_insensitive():
    assert builtin_registry().get("nose").name == "NOSE"


def test_definition_errors_are_caught_at_registration():
    ct = ChallengeType("HALF")
    with pytest.raises(ChallengeDefinitionError, match="no params generator"):
        ChallengeRegistry().register(ct)
    ct.params(lambda md: {})

    @ct.state(first=True, next_state="missing")
    def only(params, frame, context):
        return Continue()

    with pytest.raises(ChallengeDefinitionError, match="unknown next state 'missing'"):
        ChallengeRegistry().register(ct)


def test_register_refuses_a_clash():
    reg = builtin_registry()
    other = ChallengeType("NOSE")
    other.params(lambda md: {})
    other.state(first=True)(lambda p, f, c: Success())
    with pytest.raises(ValueError, match="already registered"):
        reg.register(other)


def test_random_selection_uses_only_random_candidates():
    reg = builtin_registry()
    drawn = {select_challenge_type({}, registry=reg, rng=SeededRandom(i)) for i in range(40)}
    assert drawn == {"NOSE", "POSE"}


def test_client_choice_only_when_enabled():
    reg = builtin_registry()
    md = {"challengeType": "CUSTOM"}
    assert select_challenge_type(md, registry=reg, client_selection=True) == "CUSTOM"
    assert select_challenge_type(md, registry=reg, client_selection=False) in {"NOSE", "POSE"}
    with pytest.raises(UnknownChallengeType, match="known:"):
        select_challenge_type({"challengeType": "NOPE"}, registry=reg, client_selection=True)


def test_third_party_plugin_is_discovered_through_its_entry_point():
    reg = default_registry()
    assert "STILL" in reg.names()
    still = reg.get("still")
    assert still.config_class.__module__ == "liveness_lab_example_plugin"


def _fake_distribution(tmp_path, name, entry_value, module_source=None):
    """Install a throw-away distribution on sys.path (dist-info + optional module)."""
    dist = tmp_path / f"{name}-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[liveness_lab.challenges]\n{name} = {entry_value}\n")
    if module_source is not None:
        mod = entry_value.split(":")[0]
        (tmp_path / f"{mod}.py").write_text(textwrap.dedent(module_source))


def test_broken_plugin_warns_and_is_skipped(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "brokenplugin", "brokenplugin_mod:TYPE",
                       "raise RuntimeError('this plugin is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = builtin_registry()
    with pytest.warns(PluginWarning, match="brokenplugin.*this plugin is broken"):
        added = reg.discover()
    assert "STILL" in added and reg.names() == ["BLINK", "CUSTOM", "HEAD_TURN", "NOSE", "POSE",
                                                "STILL"]


def test_plugin_of_the_wrong_kind_warns(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "wrongkind", "wrongkind_mod:VALUE", "VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match="expected a ChallengeType"):
        builtin_registry().discover()


def test_plugin_verified_end_to_end_from_the_cli(tmp_path):
    faces = [make_face()]
    frames = tuple(Frame(T0 + 100 * i, tuple(faces)) for i in range(4))
    session = Session("still-1", "STILL", {"imageWidth": 640, "imageHeight": 480,
                                           "framesRequired": 3}, frames, "bona_fide")
    path = write_session(session, tmp_path / "still.json")
    out = subprocess.run([sys.executable, "-m", "liveness_lab.cli", "verify", str(path), "--json"],
                         capture_output=True, text=True, check=True)
    verdict = json.loads(out.stdout)
    assert verdict["success"] is True and verdict["code"] == "still.ok"
    assert [r["state"] for r in verdict["trace"]] == ["find_face", "hold", "hold", "hold"]
    out = subprocess.run([sys.executable, "-m", "liveness_lab.cli", "verify", str(path),
                          "--set", "still.frames_required=9"], capture_output=True, text=True)
    assert out.returncode == 0 and "NO DECISION" in out.stdout


def test_unlisted_types_work_but_are_left_out_of_listings_and_error_lists():
    from liveness_lab.challenges import ChallengeType, Success
    fixture = ChallengeType("FIXTURE", random_selection=False, listed=False)
    fixture.params(lambda md: dict(md))
    fixture.state(first=True)(lambda params, frame, context: Success())
    reg = builtin_registry()
    reg.register(fixture)
    assert reg.get("fixture") is fixture and "FIXTURE" in reg.names()
    assert [ct.name for ct in reg.listed()] == ["BLINK", "CUSTOM", "HEAD_TURN", "NOSE", "POSE"]
    with pytest.raises(UnknownChallengeType) as info:
        reg.get("NOPE")
    assert "known: BLINK, CUSTOM, HEAD_TURN, NOSE, POSE" in str(info.value)
    assert "FIXTURE" not in str(info.value)
