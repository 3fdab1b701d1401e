"""A verdict's score never contradicts its decision at the decision's operating point.

Property over random simulated sessions of every challenge type and PAI species, under the
seed and recommended profiles, with random perturbations that reach the veto paths (PAD and
identity checks after a passing margin, frames cut short, faces dropped): a rejected session
scores strictly below its type's ``score_threshold``, an accepted one at least at it. Then, on
a generated BLINK dataset, score metrics at the operating point equal the decisions' rates.
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveness_lab.challenges import SeededRandom, default_registry
from liveness_lab.config import resolve_configs
from liveness_lab.sessions import Frame
from liveness_lab.synth.traces import ALL_SPECIES, simulate_session
from liveness_lab.verify import consistent_score, verify_session

REGISTRY = default_registry()
CONFIGS = {"seed": resolve_configs("seed"), "recommended": resolve_configs("recommended"),
           # every session check on, PAD strict: vetoes after a passing margin are common
           "strict-pad": resolve_configs("recommended", sets=[
               f"{t.lower()}.{k}" for t in ALL_SPECIES
               for k in ("pad_check=true", "pad_min_score=0.7")])}


def _perturb(session, rnd: random.Random):
    frames = list(session.sorted_frames())
    choice = rnd.random()
    if choice < 0.25 and len(frames) > 2:          # the client stops early
        frames = frames[:rnd.randint(1, len(frames) - 1)]
    elif choice < 0.5:                              # low PAD scores on some faces
        low = rnd.uniform(0.0, 0.6)
        frames = [Frame(fr.timestamp, tuple(
            f.replace(extra={**f.extra, "LivenessLab": {
                **(f.extra.get("LivenessLab") or {}), "PadScore": low}})
            if rnd.random() < 0.7 else f for f in (fr.faces or ())), fr.image) for fr in frames]
    elif choice < 0.6:                              # faces lost now and then
        frames = [Frame(fr.timestamp, () if rnd.random() < 0.2 else fr.faces, fr.image)
                  for fr in frames]
    return dataclasses.replace(session, frames=tuple(frames))


def _with_pad_scores(session, score=0.95):
    """The session with a (test-assigned) PadScore on every face, as a PAD stage would add."""
    return dataclasses.replace(session, frames=tuple(Frame(fr.timestamp, tuple(
        f.replace(extra={**f.extra, "LivenessLab": {**(f.extra.get("LivenessLab") or {}),
                                                    "PadScore": score}})
        for f in (fr.faces or ())), fr.image) for fr in session.frames))


@st.composite
def sessions(draw):
    ctype = draw(st.sampled_from(sorted(ALL_SPECIES)))
    species = draw(st.sampled_from((None,) + tuple(ALL_SPECIES[ctype])))
    profile = draw(st.sampled_from(sorted(CONFIGS)))
    seed = draw(st.integers(0, 2**31 - 1))
    sim_profile = "seed" if profile == "seed" and ctype in ("NOSE", "POSE") else "recommended"
    ct = REGISTRY.get(ctype)
    params = ct.generate_params({"imageWidth": 640, "imageHeight": 480},
                                resolve_configs(sim_profile).for_type(ct), SeededRandom(seed))
    session = _with_pad_scores(simulate_session(ctype, params, species=species, seed=seed,
                                                profile=sim_profile, descriptors=True,
                                                registry=REGISTRY))
    return profile, _perturb(session, random.Random(seed))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_no_rejected_session_scores_at_or_above_its_operating_point(case):
    profile, session = case
    verdict = verify_session(session, configs=CONFIGS[profile])
    threshold = REGISTRY.get(session.challenge_type).score_threshold
    if verdict.score is None:
        return
    assert math.isfinite(verdict.score)
    if verdict.success:
        assert verdict.score >= threshold, (verdict.code, verdict.score)
    else:
        assert verdict.score < threshold, (verdict.code, verdict.score)


def test_consistent_score_edges():
    assert consistent_score(None, False, 0.0) is None
    assert consistent_score(float("nan"), True, 0.0) is None
    assert consistent_score(0.0, False, 0.0) == math.nextafter(0.0, -math.inf)
    assert consistent_score(1.0, False, 1.0) < 1.0 < consistent_score(1.0, False, 1.0) + 1e-12
    assert consistent_score(0.5, True, 1.0) == 1.0
    assert consistent_score(-3.0, False, 0.0) == -3.0


def test_a_vetoed_session_scores_below_the_operating_point():
    """The issue's case: BLINK counts every blink (score 1.0), then the PAD check vetoes."""
    ct = REGISTRY.get("BLINK")
    params = ct.generate_params({"imageWidth": 640, "imageHeight": 480},
                                CONFIGS["recommended"].for_type(ct), SeededRandom(3))
    session = _with_pad_scores(simulate_session("BLINK", params, seed=3, profile="recommended",
                                                descriptors=True))
    ok = verify_session(session, configs=CONFIGS["strict-pad"])
    assert ok.success and ok.score == 1.0
    low = dataclasses.replace(session, frames=tuple(Frame(fr.timestamp, tuple(
        f.replace(extra={**f.extra, "LivenessLab": {**f.extra["LivenessLab"], "PadScore": 0.1}})
        for f in fr.faces), fr.image) for fr in session.frames))
    vetoed = verify_session(low, configs=CONFIGS["strict-pad"])
    assert not vetoed.success and vetoed.code == "pad.attack"
    assert vetoed.score < 1.0


@pytest.fixture(scope="module")
def blink_results(tmp_path_factory):
    from liveness_lab.evaluation.replay import evaluate_dataset
    from liveness_lab.synth.traces import generate_dataset
    ds = generate_dataset(tmp_path_factory.mktemp("blink") / "ds", sessions_per_class=12,
                          seed=8, profile="recommended", challenge_types=("BLINK",))
    return evaluate_dataset(ds, profile="recommended", workers=1, cache_path=None)


def test_blink_score_metrics_agree_with_its_decisions(blink_results):
    from liveness_lab.evaluation.metrics import error_rates
    from liveness_lab.evaluation.metrics import session_scores

    df = blink_results
    assert (~df["success"]).any() and df["score"].notna().any()
    scores = session_scores(df)
    bf = (df["label"] == "bona_fide").to_numpy()
    threshold = REGISTRY.get("BLINK").score_threshold
    for sp in sorted(set(df.loc[~bf, "pai_species"])):
        m = (~bf) & (df["pai_species"] == sp).to_numpy()
        apcer, bpcer = error_rates(scores[bf], scores[m], threshold)
        assert apcer == pytest.approx(df.loc[m, "success"].mean())
        assert bpcer == pytest.approx(1 - df.loc[bf, "success"].mean())
    # every rejected session sits below the operating point, every accepted one at or above
    s = df["score"].to_numpy(float)
    have = np.isfinite(s)
    assert (s[have & ~df["success"].to_numpy(bool)] < threshold).all()
    assert (s[have & df["success"].to_numpy(bool)] >= threshold).all()
