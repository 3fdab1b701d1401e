"""``liveness-lab metrics / hist / epc``: dev and eval columns, checked against scikit-learn.

The reference EER and DET points come from :func:`sklearn.metrics.roc_curve` on the same
scores (attacks = negatives, bona fide = positives, accepted when ``score >= threshold``);
the BPCER20 threshold from a brute-force loop. Nothing here calls our curve code.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from evaluation_cli_helpers import run_cli

SPECIES = ("print", "replay", "mask")


def synthetic_results(seed: int) -> pd.DataFrame:
    """A NOSE results table with tied scores on dev and test, plus a POSE part without scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("dev", "test"):
        for i in range(60):
            bona = i < 24
            sp = "" if bona else SPECIES[i % 3]
            shift = {"": 1.0, "print": -0.6, "replay": 0.2, "mask": -0.1}[sp]
            score = round(float(rng.normal(shift, 0.7)), 1)       # ties on purpose
            rows.append({"session_id": f"{split}-{i}", "label": "bona_fide" if bona else "attack",
                         "pai_species": sp, "challenge_type": "NOSE", "success": score >= 0,
                         "reason": "r", "code": "c", "decided": True, "score": score,
                         "subject_id": f"p{i % 17}", "split": split})
        for i in range(6):
            rows.append({"session_id": f"{split}-pose-{i}", "label": "bona_fide" if i < 3
                         else "attack", "pai_species": "" if i < 3 else "print",
                         "challenge_type": "POSE", "success": i < 3, "reason": "r",
                         "code": "c", "decided": True, "score": math.nan,
                         "subject_id": f"p{i}", "split": split})
    return pd.DataFrame(rows)


@pytest.fixture()
def results_csv(tmp_path):
    from liveness_lab.evaluation.replay import write_results
    return write_results(synthetic_results(0), tmp_path / "results.csv")


def reference_eer(bona: np.ndarray, attack: np.ndarray) -> tuple[float, set]:
    y = np.r_[np.ones(bona.size), np.zeros(attack.size)]
    fpr, tpr, thr = roc_curve(y, np.r_[bona, attack], drop_intermediate=False)
    fnr = 1 - tpr
    gap = np.abs(fpr - fnr)
    i = len(gap) - 1 - int(np.argmin(gap[::-1]))        # ties: the lowest threshold
    points = {(round(a, 12), round(b, 12)) for a, b in zip(fpr, fnr)}
    return float((fpr[i] + fnr[i]) / 2), points


def reference_bpcer20_threshold(attack_by_species: dict) -> float:
    cands = sorted({-np.inf, np.inf} | {float(np.nextafter(s, np.inf))
                                        for v in attack_by_species.values() for s in v})
    for t in cands:
        if all(np.mean(v >= t) <= 0.05 for v in attack_by_species.values()):
            return t
    raise AssertionError("no threshold")


def parts(df, split):
    d = df[(df.split == split) & (df.challenge_type == "NOSE")]
    bona = d.loc[d.label == "bona_fide", "score"].to_numpy(float)
    by = {sp: d.loc[d.pai_species == sp, "score"].to_numpy(float) for sp in SPECIES}
    return bona, by


def test_metrics_prints_dev_and_eval_columns_and_matches_sklearn(results_csv, tmp_path):
    points_csv = tmp_path / "points.csv"
    code, out, err = run_cli("metrics", results_csv, "--criterion", "bpcer20", "--points",
                             points_csv)
    assert code == 0, err
    assert "| Development (dev)" in out and "| Evaluation (test)" in out
    assert "[NOSE]" in out and "[POSE]" not in out        # POSE has no scores
    df = synthetic_results(0)
    dev_bona, dev_by = parts(df, "dev")
    test_bona, test_by = parts(df, "test")
    # the threshold is chosen on dev, applied to test
    t = reference_bpcer20_threshold(dev_by)
    row = next(line for line in out.splitlines() if line.startswith("| threshold"))
    assert row.count(f"{t:.6g}") == 2
    bpcer_test = float(np.mean(test_bona < t))
    bpcer_row = next(line for line in out.splitlines() if line.startswith("| BPCER "))
    assert bpcer_row.split("|")[3].strip().startswith(f"{100 * bpcer_test:.1f}%")
    for sp in SPECIES:
        apcer = float(np.mean(test_by[sp] >= t))
        line = next(x for x in out.splitlines() if x.startswith(f"| APCER ({sp})"))
        assert line.split("|")[3].strip().startswith(f"{100 * apcer:.1f}% "
                                                     f"({int((test_by[sp] >= t).sum())}/12)")
    # pooled EER and DET points equal scikit-learn's on the same scores, both splits
    pts = pd.read_csv(points_csv)
    for split, (bona, by) in (("dev", (dev_bona, dev_by)), ("test", (test_bona, test_by))):
        eer, ref_points = reference_eer(bona, np.concatenate(list(by.values())))
        ours = pts[(pts.split == split) & (pts.challenge_type == "NOSE")]
        assert {(round(a, 12), round(b, 12)) for a, b in zip(ours.apcer, ours.bpcer)} \
            == ref_points
        eer_row = next(line for line in out.splitlines() if line.startswith("| EER"))
        col = 2 if split == "dev" else 3
        assert eer_row.split("|")[col].strip() == f"{100 * eer:.1f}%"
    # and to full precision through the table numbers
    from liveness_lab.evaluation.cli_metrics import metrics_tables
    from liveness_lab.evaluation.devtest import parse_criterion
    nums = metrics_tables(df, parse_criterion("bpcer20"))["NOSE"][1]
    assert nums["EER (pooled attacks)"][1] == pytest.approx(
        reference_eer(test_bona, np.concatenate(list(test_by.values())))[0], abs=1e-12)


def test_metrics_mean_and_std_over_folds(tmp_path):
    from liveness_lab.evaluation.replay import write_results
    a = write_results(synthetic_results(1), tmp_path / "a.csv")
    b = write_results(synthetic_results(2), tmp_path / "b.csv")
    code, out, err = run_cli("metrics", a, b, "-c", "eer", "--tablefmt", "simple")
    assert code == 0, err
    assert "mean ± std over 2 results files" in out
    eers = []
    for seed in (1, 2):
        df = synthetic_results(seed)
        bona, by = parts(df, "test")
        eers.append(reference_eer(bona, np.concatenate(list(by.values())))[0])
    line = next(x for x in out.split("mean ± std")[1].splitlines() if x.startswith("EER"))
    assert f"{100 * np.mean(eers):.1f}% ± {100 * np.std(eers, ddof=1):.1f}" in line


@pytest.mark.parametrize("argv, message", [
    (["--criterion", "far"], "unknown criterion 'far'"),
    (["--tablefmt", "nope"], "unknown --tablefmt 'nope'"),
    (["--eval-split", "eval"], "no 'eval' split"),
    (["--type", "BLINK"], "no BLINK sessions"),
])
def test_metrics_bad_options_are_one_line(results_csv, argv, message):
    code, _, err = run_cli("metrics", results_csv, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_metrics_fixed_threshold_and_decision(results_csv):
    code, out, _ = run_cli("metrics", results_csv, "-T", "0.25")
    assert code == 0 and out.count("0.25") >= 2
    code, out, _ = run_cli("metrics", results_csv, "-c", "decision")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("| threshold"))
    assert re.search(r"\|\s+0\s+\|\s+0\s+\|", row)          # NOSE's own operating point


def test_hist_and_epc(results_csv, tmp_path):
    code, out, err = run_cli("hist", results_csv, "--out", tmp_path / "h")
    assert code == 0, err
    assert (tmp_path / "h" / "hist-NOSE.png").read_bytes()[:4] == b"\x89PNG"
    assert "POSE: no scores" in out
    code, out, err = run_cli("epc", results_csv, "--n-points", "3", "--out", tmp_path / "e",
                             "--type", "NOSE")
    assert code == 0, err
    assert (tmp_path / "e" / "epc-NOSE.png").is_file()
    df = synthetic_results(0)
    dev_bona, dev_by = parts(df, "dev")
    test_bona, test_by = parts(df, "test")
    # alpha = 0.5: the min-HTER threshold on dev (pooled), HTER with the worst species on test
    pooled = np.concatenate(list(dev_by.values()))
    cands = sorted({-np.inf, np.inf} | set(dev_bona) | set(pooled))
    cost = [0.5 * np.mean(pooled >= c) + 0.5 * np.mean(dev_bona < c) for c in cands]
    t = cands[int(np.argmin(cost))]
    hter = (max(np.mean(v >= t) for v in test_by.values()) + np.mean(test_bona < t)) / 2
    line = next(x for x in out.splitlines() if x.startswith("| 0.50"))
    assert f"{100 * hter:.1f}%" in line
