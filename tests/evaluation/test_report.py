"""The accuracy report from a results CSV: files, key numbers, well-formed HTML, plots."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from liveness_lab.evaluation.metrics import compute_metrics
from liveness_lab.evaluation.replay import write_results
from liveness_lab.evaluation.report import Evaluation, build_report, split_results


def parse_html(path: Path) -> ET.Element:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    return ET.fromstring(text.split("\n", 1)[1])  # well-formed: every tag closed, text escaped


def pct(v: float) -> str:
    return f"{100 * v:.1f} %"


@pytest.fixture(scope="module")
def report_from_csv(tmp_path_factory, small_dataset, small_results):
    from evaluation_cli_helpers import run_cli
    tmp = tmp_path_factory.mktemp("report")
    csv = write_results(small_results, tmp / "results.csv")
    code, out, err = run_cli("report", csv, "--out", tmp / "out", "--dataset", small_dataset,
                             "--bootstrap", "200")
    assert code == 0, err
    return tmp / "out", small_results


def test_report_files_exist_and_html_parses(report_from_csv):
    out, _ = report_from_csv
    root = parse_html(out / "report.html")
    imgs = [el.get("src") for el in root.iter("img")]
    assert "det-NOSE.png" in imgs and any(i.startswith("trace-") for i in imgs)
    for src in imgs:
        assert (out / src).stat().st_size > 5000            # every referenced PNG exists
        assert (out / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert set(re.findall(r"\]\(([^)]+\.png)\)", md)) == set(imgs)


def test_report_shows_the_key_numbers(report_from_csv):
    out, results = report_from_csv
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    reported, cal, _, _ = split_results(results)
    m = compute_metrics(reported, calibration=cal, n_bootstrap=0)
    for ctype, b in m["by_type"].items():
        for sp, v in b["species"].items():
            for text in (html, md):
                assert f"{v['accepted']}/{v['total']} attacks accepted" in text
                assert f"APCER {sp}" in text
        for text in (html, md):
            assert f"{b['bpcer_rejected']}/{b['n_bona_fide']} bona fide rejected" in text
            assert pct(b["acer"]) in text and pct(b["max_apcer"]) in text
    for text in ("iBeta-style summary", "APCER target 0 %", "ACER (OULU-NPU convention, not ISO)",
                 "Failure-reason breakdown", "Worst sessions", "Exact configuration",
                 "data fingerprint", "BPCER20", "nose.trajectory_error_threshold"):
        assert text in md, text
    # every type gets one verdict per plan; with a few presentations per species no claim
    # can be "met": the report says how many presentations would show it instead
    for ctype in m["by_type"]:
        for plan in ("Level 1 style", "Level 2 style"):
            assert re.search(rf"^### .+ - {ctype} - {plan}: (met|not met|not shown on this "
                             r"sample)$", md, re.M), (ctype, plan)
    assert not re.search(r"^### .+ - Level \d style: met$", md, re.M)
    assert re.search(r"not shown: 59 presentations would show it with 0 errors \(have \d+\)",
                     md)


def test_report_without_subjects_or_scores(tmp_path, small_results):
    pose = small_results[small_results["challenge_type"] == "POSE"].copy()
    pose["subject_id"] = ""
    files = build_report(Evaluation("pose", pose), tmp_path, split_label="all sessions",
                         n_bootstrap=50)
    md = files.markdown.read_text()
    assert "POSE reports no scores" in md
    assert "Traces not plotted" in md                      # no dataset given
    assert files.metrics["pose"]["overall"]["bootstrap"]["groups"] == "session"
    parse_html(files.html)


def test_split_results_auto_and_errors(small_results):
    rep, cal, label, cal_label = split_results(small_results)
    assert set(rep["split"]) == {"test"} and set(cal["split"]) == {"dev"}
    assert (label, cal_label) == ("test", "dev")
    rep, cal, label, _ = split_results(small_results, None, None)
    assert len(rep) == len(small_results) and cal is None and label == "all sessions"
    with pytest.raises(ValueError, match="no 'eval' split"):
        split_results(small_results, "eval")
