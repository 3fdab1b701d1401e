"""bench/run_all.py: sections of BENCHMARKS.md are replaced in place, others kept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


DOC = """# Benchmarks

Intro.

### Replay: old numbers on 10,003 sessions

| old | table |

#### a sub-heading of replay

old text

### Local face analyzer speed

| 112 fps |

Target: 30.
"""


def test_a_section_is_replaced_up_to_the_next_heading_of_its_level(run_all):
    out = run_all.replace_section(DOC, r"### Replay\b", "### Replay CPU: new\n\n| new |\n")
    assert "old numbers" not in out and "a sub-heading" not in out and "old text" not in out
    assert "### Replay CPU: new\n\n| new |\n\n### Local face analyzer speed" in out
    assert out.startswith("# Benchmarks\n\nIntro.\n") and out.endswith("Target: 30.\n")


def test_a_new_section_is_appended_and_the_last_section_can_be_replaced(run_all):
    out = run_all.replace_section(DOC, r"### Scale-out", "### Scale-out\n\n| x |")
    assert out.endswith("Target: 30.\n\n### Scale-out\n\n| x |\n")
    out = run_all.replace_section(out, r"### Local face analyzer", "### Local face analyzer "
                                                                   "speed\n\n| 120 fps |")
    assert "112 fps" not in out and "| 120 fps |" in out and out.endswith("| x |\n")


def test_outputs_without_a_heading_get_one_and_quick_runs_say_so(run_all):
    bench = next(b for b in run_all.BENCHES if b.name == "local_analyzer")
    section = run_all.section_of(bench, "<!-- cmd -->\n| mode | fps |\n", ("--runs", "1"),
                                 quick=True)
    lines = section.splitlines()
    assert lines[0] == "### Local face analyzer speed"
    assert "Quick run" in section and "python bench/bench_local_analyzer.py --runs 1" in section
    assert section.rstrip().endswith(bench.note)
    replay = next(b for b in run_all.BENCHES if b.name == "replay")
    assert run_all.section_of(replay, "progress\n\n### Replay CPU\n\n| t |\n", (), False) \
        == "### Replay CPU\n\n| t |\n"


def test_every_benchmark_script_is_listed_and_exists(run_all):
    scripts = {b.script for b in run_all.BENCHES}
    assert {"bench_replay.py", "bench_engines.py", "bench_sweep.py",
            "profile_replay.py"} <= scripts
    for b in run_all.BENCHES:
        if b.script in {"bench_replay.py", "bench_engines.py", "bench_sweep.py",
                        "profile_replay.py", "bench_local_analyzer.py"}:
            assert (ROOT / "bench" / b.script).is_file()


def test_a_failing_benchmark_keeps_its_section_and_fails_the_run(run_all, tmp_path,
                                                                  monkeypatch):
    out = tmp_path / "B.md"
    out.write_text(DOC)
    fake = run_all.Bench("replay", "bench_fake_fail.py", heading=r"### Replay\b")
    ok = run_all.Bench("local_analyzer", "bench_fake_ok.py",
                       heading=r"### Local face analyzer speed")
    (tmp_path / "bench_fake_fail.py").write_text("import sys; sys.exit(3)\n")
    (tmp_path / "bench_fake_ok.py").write_text(
        "print('### Local face analyzer speed\\n\\n| 99 fps |')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    monkeypatch.setattr(run_all, "BENCHES", (fake, ok))
    assert run_all.main(["--out", str(out)]) == 1
    text = out.read_text()
    assert "old numbers" in text and "| 99 fps |" in text and "112 fps" not in text
