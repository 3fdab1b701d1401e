"""What an auditor reads: binomial attempt plans, non-response rates, the report's claims,
its profile and analyzer, calibration notes, and DET curves through reachable points."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from liveness_lab.evaluation.aggregate import CalibrationWarning, compute_metrics
from liveness_lab.evaluation.planning import (ATTEMPT_PLANS, claim_supported,
                                              presentations_needed, upper_bound)
from liveness_lab.evaluation.report import Evaluation, build_report


def binom_cdf(k: int, n: int, p: float) -> float:
    """Slow, obvious reference: sum of binomial probabilities."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("limit, confidence, k", [(0.05, 0.95, 0), (0.01, 0.95, 0),
                                                  (0.05, 0.95, 1), (0.10, 0.9, 2),
                                                  (0.15, 0.95, 3), (0.02, 0.99, 0)])
def test_presentations_needed_is_the_smallest_n(limit, confidence, k):
    n = presentations_needed(limit, confidence=confidence, allowed_errors=k)
    assert binom_cdf(k, n, limit) <= 1 - confidence < binom_cdf(k, n - 1, limit)
    assert claim_supported(k, n, limit, confidence=confidence)
    assert not claim_supported(k, n - 1, limit, confidence=confidence)
    assert upper_bound(k, n, confidence=confidence) <= limit < upper_bound(k, n - 1,
                                                                           confidence=confidence)


def test_zero_failure_plans_follow_the_rule_of_three():
    assert presentations_needed(0.05) == math.ceil(math.log(0.05) / math.log(0.95))
    assert [p.needed() for p in ATTEMPT_PLANS] == [59, 299]


@pytest.mark.parametrize("call, message", [
    (lambda: presentations_needed(0), "strictly between 0 and 1"),
    (lambda: presentations_needed(0.05, confidence=1.2), "confidence"),
    (lambda: presentations_needed(0.05, allowed_errors=-1), "non-negative"),
    (lambda: claim_supported(3, 2, 0.05), "0 <= errors <= n"),
])
def test_planning_misuse(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def results_table(n_per_species: int = 60, accepted: int = 0, with_config: bool = True,
                  non_responses: int = 0) -> pd.DataFrame:
    rows = []
    for sp in ("print", "replay"):
        for i in range(n_per_species):
            rows.append({"session_id": f"{sp}-{i}", "label": "attack", "pai_species": sp,
                         "challenge_type": "NOSE", "success": i < accepted, "reason": "r",
                         "code": "c", "decided": i < n_per_species - non_responses,
                         "score": (0.1 if i < accepted else -0.1), "subject_id": f"s{i % 7}",
                         "split": "test"})
    for i in range(40):
        rows.append({"session_id": f"bf-{i}", "label": "bona_fide", "pai_species": "",
                     "challenge_type": "NOSE", "success": i >= 2, "reason": "r", "code": "c",
                     "decided": i != 0, "score": 0.2 if i >= 2 else -0.2,
                     "subject_id": f"s{i % 9}", "split": "test"})
    df = pd.DataFrame(rows)
    if with_config:
        df["profile"], df["analyzer"] = "seed", "recorded"
    return df


def test_non_response_rates_per_species_and_bona_fide():
    df = results_table(n_per_species=20, non_responses=3)
    b = compute_metrics(df, n_bootstrap=0).by_type["NOSE"]
    assert (b.species["print"].non_responses, b.species["print"].apnrr) == (3, 0.15)
    assert b.species["print"].apcer == 0.0                # still counted as rejected
    assert (b.bona_fide_non_responses, b.bpnrr) == (1, 1 / 40)
    assert b.species["print"].subjects.n_subjects == 7
    assert b.bona_fide_subjects.n_subjects == 9


def test_headline_intervals_are_informative_at_zero_errors():
    b = compute_metrics(results_table(n_per_species=26), n_bootstrap=200).by_type["NOSE"]
    assert b.max_apcer == 0.0 and b.bootstrap.max_apcer == (0.0, 0.0)
    assert b.max_apcer_ci[1] == pytest.approx(0.1287, abs=1e-4)   # Wilson, 0 of 26


def test_missing_calibration_type_warns_and_says_so():
    test = results_table(n_per_species=5)
    dev = test.assign(challenge_type="POSE", split="dev")
    with pytest.warns(CalibrationWarning, match="no NOSE session"):
        m = compute_metrics(test, calibration=dev, n_bootstrap=0)
    note = m.by_type["NOSE"].calibration_note
    assert "chosen on the reported split itself" in note
    assert all(p.calibrated_on == "self" for p in m.by_type["NOSE"].operating_points)


@pytest.mark.parametrize("n, accepted, status", [
    (60, 0, "Level 1 style: met"),                     # 60 >= 59 with no error
    (30, 0, "Level 1 style: not shown on this sample"),
    (60, 4, "Level 1 style: not met"),                 # 4/60 = 6.7 % > 5 %
])
def test_report_claims_only_what_the_sample_supports(tmp_path, n, accepted, status):
    df = results_table(n_per_species=n, accepted=accepted)
    files = build_report(Evaluation.from_results(None, df), tmp_path, split_label="test",
                         calibration_label=None, n_bootstrap=0)
    md = files.markdown.read_text()
    assert f"### seed - NOSE - {status}" in md
    if accepted == 0 and n < 59:
        assert f"not shown: 59 presentations would show it with 0 errors (have {n})" in md
        assert "29 more" in md                          # the attempt plan: 59 - 30
    # BPCER 2/40 = 5 %: the 15 % claim needs 30 presentations with 2 errors... 40 suffice
    assert "| BPCER | 40 | 2 rejected |" in md


def test_report_names_profile_analyzer_and_non_response(tmp_path):
    df = results_table(n_per_species=20, non_responses=3)
    files = build_report(Evaluation.from_results(None, df), tmp_path, n_bootstrap=0,
                         calibration_label=None)
    md = files.markdown.read_text()
    assert "Produced with: seed: profile: seed; analyzer: recorded." in md
    assert "| seed | seed | recorded | NOSE |" in md      # the summary row
    for sp in ("print", "replay"):
        assert f"| APNRR {sp} | 15.0 % |" in md
        assert f"| NOSE | {sp} | not described |" in md   # not in the catalogue: said so
    assert "| BPNRR | 2.5 % |" in md
    assert "7 subjects, 2-3, median 3 per subject" in md   # presentations per subject
    assert "## Attempt plan" in md and "| Level 2 style |" in md


def test_report_without_recorded_profile_says_unknown(tmp_path):
    df = results_table(n_per_species=5, with_config=False)
    files = build_report(Evaluation.from_results(None, df), tmp_path, n_bootstrap=0,
                         calibration_label=None)
    md = files.markdown.read_text()
    assert "profile: unknown (the results do not record it)" in md
    assert "seed (default)" not in md


def test_from_results_refuses_a_contradicting_profile():
    with pytest.raises(ValueError, match="produced with profile 'seed', not 'recommended'"):
        Evaluation.from_results(None, results_table(5), profile="recommended")


def test_det_curve_is_drawn_through_reachable_points_only():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from liveness_lab.evaluation.curves import det_curve, plot_det
    bf, at = [0.5, 0.5, 0.7, 0.9], [0.1, 0.5, 0.5, 0.6]    # ties across classes at 0.5
    _, a, b = det_curve(bf, at)
    ax = plot_det({"c": (a, b)})
    (line,) = ax.get_lines()
    assert len(line.get_xdata()) == len(a)                 # no step corners added
    plt.close(ax.figure)


def test_report_cli_reads_profile_and_analyzer_from_the_results(tmp_path):
    from evaluation_cli_helpers import run_cli

    from liveness_lab.evaluation.replay import write_results
    csv = write_results(results_table(n_per_species=5), tmp_path / "r.csv")
    code, _, err = run_cli("report", csv, "--out", tmp_path / "o", "--bootstrap", "0")
    assert code == 0, err
    md = (tmp_path / "o" / "report.md").read_text()
    assert "Profile and analyzer as the results file records them." in md
    assert "profile: seed; analyzer: recorded" in md
    code, _, err = run_cli("report", csv, "--out", tmp_path / "o", "--profile", "recommended")
    assert code == 2 and "produced with profile 'seed', not 'recommended'" in err
