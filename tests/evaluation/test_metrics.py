"""Metrics against slow, obviously-correct references on random inputs, and small tables."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from liveness_lab.evaluation.metrics import (UndefinedMetricWarning, acer, apcer,
                                             apcer_at_bpcer, apcer_per_species, bpcer,
                                             bpcer_at_apcer, compute_metrics, error_rates,
                                             flatten_metrics, max_apcer, non_response_rate,
                                             session_scores, threshold_at_apcer,
                                             threshold_at_bpcer)

# ------------------------------------------------------------------------------------------
# slow references: plain Python loops over every candidate threshold


def ref_accepted(score, t):
    """Accepted at threshold t: nan and -inf never, +inf always (and score >= t otherwise)."""
    if score != score or score == -math.inf:
        return False
    return score >= t


def ref_apcer(groups, t):
    rates = []
    for scores in groups.values():
        if len(scores):
            rates.append(sum(ref_accepted(s, t) for s in scores) / len(scores))
    return max(rates)


def ref_bpcer(bf, t):
    return sum(not ref_accepted(s, t) for s in bf) / len(bf)


def ref_candidates(*arrays):
    """Every score, the floats just below and above it, and both infinities."""
    out = {-math.inf, math.inf}
    for a in arrays:
        for s in a:
            if math.isfinite(s):
                out |= {s, float(np.nextafter(s, -np.inf)), float(np.nextafter(s, np.inf))}
    return sorted(out)


def as_groups(attack):
    return attack if isinstance(attack, dict) else {"": list(attack)}


def random_case(rng):
    """Scores with ties, missing scores and infinities; pooled or per-species attacks."""
    n_bf = int(rng.integers(1, 25))
    levels = int(rng.integers(2, 12))

    def scores(n):
        s = rng.integers(0, levels, n) / levels + rng.choice([0, 0.013], n)
        kind = rng.random(n)
        s = s.astype(float)
        s[kind < 0.08] = np.nan
        s[(kind >= 0.08) & (kind < 0.11)] = np.inf
        s[(kind >= 0.11) & (kind < 0.13)] = -np.inf
        return s.tolist()

    bf = scores(n_bf)
    if rng.random() < 0.5:
        attack = scores(int(rng.integers(1, 25)))
    else:
        attack = {f"sp{i}": scores(int(rng.integers(1, 12)))
                  for i in range(int(rng.integers(1, 4)))}
    target = float(rng.choice([0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, rng.random()]))
    return bf, attack, target


CASES = list(range(300))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_threshold_and_bpcer_at_apcer_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        bf, attack, target = random_case(rng)
        groups = as_groups(attack)
        cands = ref_candidates(bf, *groups.values())
        feasible = [t for t in cands if ref_apcer(groups, t) <= target]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            t = threshold_at_apcer(attack, target)
            b = bpcer_at_apcer(bf, attack, target)
        if not feasible:
            assert math.isnan(t) and math.isnan(b)
            continue
        assert t == min(feasible)
        assert b == pytest.approx(min(ref_bpcer(bf, x) for x in feasible), abs=1e-12)
        assert ref_apcer(groups, t) <= target


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_threshold_and_apcer_at_bpcer_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        bf, attack, target = random_case(rng)
        groups = as_groups(attack)
        cands = ref_candidates(bf, *groups.values())
        feasible = [t for t in cands if ref_bpcer(bf, t) <= target]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            t = threshold_at_bpcer(bf, target)
            a = apcer_at_bpcer(bf, attack, target)
        if not feasible:
            assert math.isnan(t) and math.isnan(a)
            continue
        # the largest feasible threshold gives the same rates as the function's threshold
        best = max(feasible)
        assert ref_bpcer(bf, t) == ref_bpcer(bf, best)
        assert ref_bpcer(bf, t) <= target
        assert a == pytest.approx(min(ref_apcer(groups, x) for x in feasible), abs=1e-12)


@pytest.mark.parametrize("seed", [20, 21])
def test_error_rates_match_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        bf, attack, _ = random_case(rng)
        groups = as_groups(attack)
        for t in ref_candidates(bf, *groups.values())[::3]:
            a, b = error_rates(bf, attack, t)
            assert a == pytest.approx(ref_apcer(groups, t), abs=1e-12)
            assert b == pytest.approx(ref_bpcer(bf, t), abs=1e-12)


@pytest.mark.parametrize("bf, attack, target, expected", [
    # hand-checkable: thresholds just above 0.5 -> attacks {0.8}: APCER 1/4; bona fide {0.2} < t
    ([0.2, 0.6, 0.7, 0.9], [0.1, 0.3, 0.5, 0.8], 0.25, 0.25),
    ([0.2, 0.6, 0.7, 0.9], [0.1, 0.3, 0.5, 0.8], 0.0, 0.75),   # above 0.8: 0.2, 0.6, 0.7 rejected
    ([0.2, 0.6, 0.7, 0.9], [0.1, 0.3, 0.5, 0.8], 1.0, 0.0),    # accept everything
    ([0.5, 0.5], [0.5, 0.5], 0.0, 1.0),                        # ties: accepting one accepts all
    ([0.9, float("nan")], [0.1], 0.0, 0.5),                    # no score: always rejected
    # per species, the worst species decides: 'b' needs t > 0.7
    ([0.6, 0.8, 0.95], {"a": [0.1, 0.2], "b": [0.7, 0.1]}, 0.0, 1 / 3),
])
def test_bpcer_at_apcer_table(bf, attack, target, expected):
    assert bpcer_at_apcer(bf, attack, target) == pytest.approx(expected)


def test_apcer_at_bpcer_table():
    # largest threshold with at most 1 of 4 bona fide rejected is 0.6; attacks >= 0.6: {0.8}
    assert apcer_at_bpcer([0.2, 0.6, 0.7, 0.9], [0.1, 0.3, 0.5, 0.8], 0.25) == 0.25
    assert threshold_at_bpcer([0.2, 0.6, 0.7, 0.9], 0.25) == 0.6
    # bona fide without scores beyond the target: no threshold reaches it
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(apcer_at_bpcer([float("nan"), 0.5], [0.1], 0.1))


def test_operating_point_misuse():
    with pytest.raises(ValueError, match="between 0 and 1"):
        bpcer_at_apcer([0.1], [0.2], 5)
    with pytest.raises(ValueError, match="one-dimensional"):
        threshold_at_apcer([[0.1, 0.2]], 0.1)
    with pytest.raises(ValueError, match="numbers"):
        error_rates(["a"], [0.1], 0.5)
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(threshold_at_apcer([], 0.05))
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(bpcer_at_apcer([], [0.1], 0.05))
    with pytest.warns(UndefinedMetricWarning):  # attacks scored +inf can never be rejected
        assert math.isnan(threshold_at_apcer([np.inf, 0.1], 0.1))


# ------------------------------------------------------------------------------------------
# decision-based metrics (the lead's functions) against loops

@pytest.mark.parametrize("seed", range(5))
def test_decision_metrics_match_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    accepted = rng.random(n) < rng.random()
    species = rng.choice(["print", "replay", "mask"], n)
    per = apcer_per_species(accepted, species)
    for sp in set(species.tolist()):
        rows = [a for a, s in zip(accepted, species) if s == sp]
        assert per[sp] == pytest.approx(sum(rows) / len(rows))
    assert max_apcer(per) == max(per.values())
    assert apcer(accepted) == pytest.approx(sum(accepted) / n)
    assert bpcer(accepted) == pytest.approx(sum(not a for a in accepted) / n)
    assert acer(0.2, 0.1) == pytest.approx(0.15)
    assert non_response_rate(accepted) == pytest.approx(sum(not a for a in accepted) / n)


def test_undefined_decision_metrics_warn():
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(apcer([]))
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(bpcer([]))
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(max_apcer({}))


# ------------------------------------------------------------------------------------------
# results tables

def test_session_scores_make_missing_scores_explicit():
    df = pd.DataFrame({"success": [True, False, True, False],
                       "score": [0.3, -0.2, np.nan, np.nan]})
    s = session_scores(df)
    assert s[0] == 0.3 and s[1] == -0.2 and s[2] == np.inf and math.isnan(s[3])


def random_results(rng, n=120, types=("NOSE",)):
    label = np.where(rng.random(n) < 0.3, "bona_fide", "attack")
    species = np.where(label == "attack", rng.choice(["print", "replay", "swap"], n), "")
    score = rng.normal(0, 1, n) + np.where(label == "bona_fide", 1.0, 0.0)
    score[rng.random(n) < 0.1] = np.nan
    success = np.where(np.isnan(score), False, score > 0.5)  # no score: rejected
    return pd.DataFrame({
        "session_id": [f"s{i}" for i in range(n)], "label": label, "pai_species": species,
        "challenge_type": rng.choice(list(types), n), "success": success,
        "decided": rng.random(n) < 0.9, "score": score,
        "subject_id": [f"p{i}" for i in rng.integers(0, 15, n)],
        "split": rng.choice(["dev", "test"], n)})


def test_compute_metrics_matches_reference():
    rng = np.random.default_rng(3)
    df = random_results(rng)
    dev, test = df[df.split == "dev"], df[df.split == "test"]
    m = compute_metrics(test, calibration=dev, n_bootstrap=50)
    b = m["by_type"]["NOSE"]
    att = test[test.label == "attack"]
    bf = test[test.label == "bona_fide"]
    for sp, v in b["species"].items():
        rows = att[att.pai_species == sp]
        assert (v["accepted"], v["total"]) == (int(rows.success.sum()), len(rows))
        assert v["apcer"] == pytest.approx(rows.success.mean())
    assert b["max_apcer"] == pytest.approx(max(v["apcer"] for v in b["species"].values()))
    assert b["bpcer"] == pytest.approx(1 - bf.success.mean())
    assert b["acer"] == pytest.approx((b["max_apcer"] + b["bpcer"]) / 2)
    assert b["non_response_rate"] == pytest.approx(1 - test.decided.mean())
    # operating point: threshold chosen on dev, applied unchanged to test
    p = next(p for p in b["operating_points"] if p["name"] == "BPCER20")
    dev_scores = session_scores(dev)
    dev_att = {sp: dev_scores[((dev.label == "attack") & (dev.pai_species == sp)).to_numpy()]
               for sp in sorted(set(dev.pai_species[dev.label == "attack"]))}
    t = threshold_at_apcer(dev_att, 0.05)
    assert p["threshold"] == t and p["calibrated_on"] == "calibration"
    test_scores = session_scores(test)
    groups = {sp: test_scores[((test.label == "attack") & (test.pai_species == sp)).to_numpy()]
              for sp in b["species"]}
    assert p["apcer"] == pytest.approx(ref_apcer({k: list(v) for k, v in groups.items()}, t))
    assert p["bpcer"] == pytest.approx(ref_bpcer(list(test_scores[(test.label == "bona_fide")
                                                                  .to_numpy()]), t))
    lo, hi = b["bootstrap"]["max_apcer"]
    assert lo <= hi and b["bootstrap"]["groups"] == "subject"


def test_compute_metrics_multi_type_and_flatten():
    rng = np.random.default_rng(4)
    df = random_results(rng, types=("NOSE", "POSE"))
    m = compute_metrics(df, n_bootstrap=0)
    assert set(m["by_type"]) == {"NOSE", "POSE"}
    assert not m["overall"]["operating_points"]          # scores of different types never mix
    assert m["by_type"]["NOSE"]["operating_points"]
    flat = flatten_metrics(m, "test.")
    assert flat["test.acer"] == pytest.approx(m["overall"]["acer"])
    assert "test.NOSE.bpcer20" in flat and "test.NOSE.threshold.bpcer20" in flat
    # species are never pooled across types: the overall block is the worst type's figure
    assert "test.NOSE.apcer.print" in flat and "test.apcer.print" not in flat
    by = m["by_type"].values()
    for name in ("max_apcer", "bpcer", "acer", "bpnrr"):
        assert m["overall"][name] == pytest.approx(max(b[name] for b in by))
    assert all(isinstance(v, float) and not math.isnan(v) for v in flat.values())


def test_compute_metrics_rejects_bad_tables():
    with pytest.raises(ValueError, match="missing: success"):
        compute_metrics(pd.DataFrame({"label": [], "pai_species": [], "challenge_type": []}))
    bad = pd.DataFrame({"label": ["live"], "pai_species": [""], "challenge_type": ["NOSE"],
                        "success": [True]})
    with pytest.raises(ValueError, match="bona_fide or attack"):
        compute_metrics(bad)


def test_as_summary_prints_like_summarize(small_results):
    from liveness_lab.evaluation.metrics import as_summary
    from liveness_lab.evaluation.replay import format_summary, summarize
    text = format_summary(as_summary(compute_metrics(small_results, n_bootstrap=0)))
    assert text == format_summary(summarize(small_results))
