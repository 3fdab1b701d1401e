"""The Session explorer's data helpers: thresholds by step, the dataset-wide re-run."""

from __future__ import annotations

import pytest

import ui_helpers
from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.config import resolve_configs
from liveness_lab.sessions import Frame, Session, write_dataset
from liveness_lab.ui.explorer_data import (Threshold, find_datasets, load_sessions, misclassified,
                                           rerun_sessions, rerun_summary, threshold_groups)


@pytest.mark.parametrize("name", ["NOSE", "POSE", "BLINK", "HEAD_TURN"])
def test_every_threshold_once_grouped_by_step(name):
    ctype = default_registry().get(name)
    base = resolve_configs("seed").for_type(ctype).to_dict()
    groups = threshold_groups(ctype, base)
    names = [t.name for g in groups for t in g.thresholds]
    assert sorted(names) == sorted(base)  # each key exactly once
    assert groups[0].title == "Every step" and groups[-1].title.startswith("Session checks")
    assert "Other" not in [g.title for g in groups]  # every key has its step
    for g in groups:
        for t in g.thresholds:
            assert t.default == base[t.name]
            assert t.kind != "text", t  # no free text for these types


def test_threshold_validation():
    with pytest.raises(ValueError, match="needs its choices"):
        Threshold("x", "choice", "a")
    with pytest.raises(ValueError, match="unknown threshold kind"):
        Threshold("x", "slider", 1)


def _dataset(tmp_path):
    nose = default_registry().get("NOSE")
    params = nose.generate_params({"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(3))
    sessions = []
    for sid, species in (("bf-1", None), ("bf-2", None), ("at-1", "print_moved")):
        frames = ui_helpers.simulated_frames("NOSE", params, start_ms=1_700_000_000_000,
                                             species=species, seed=len(sessions) + 1)
        sessions.append(Session(sid, "NOSE", params, tuple(Frame(ts, f) for ts, f in frames),
                                "attack" if species else "bona_fide", species))
    return write_dataset(tmp_path / "datasets" / "sim", sessions)


def test_rerun_over_a_dataset_flags_the_misclassified(tmp_path):
    folder = _dataset(tmp_path)
    assert find_datasets(tmp_path / "datasets") == [folder]
    seen = []
    sessions = load_sessions(folder, challenge_type="nose")
    assert [s.id for s in sessions] == ["bf-1", "bf-2", "at-1"]
    base = rerun_sessions(sessions, profile="seed")
    assert not base["misclassified"].any() and not base["changed"].any()
    edited = rerun_sessions(sessions, profile="seed", overrides={"NOSE": {"min_dist": 5.0}},
                            baseline=base, progress=lambda d, t: seen.append((d, t)), every=2)
    assert seen == [(2, 3), (3, 3)]
    assert list(misclassified(edited)["session_id"]) == ["bf-1", "bf-2"]
    assert list(edited["changed"]) == [True, True, False]
    summary = rerun_summary(edited)
    assert summary == {"sessions": 3, "attacks_accepted": 0, "bona_fide_rejected": 2,
                       "changed": 2, "misclassified": 2, "baseline_misclassified": 0}
    assert load_sessions(folder, challenge_type="POSE") == []
