"""Run every benchmark and rewrite its section of BENCHMARKS.md (``make bench``).

Usage (from the repo root, in the project venv)::

    python bench/run_all.py                 # every benchmark, reference sizes -> BENCHMARKS.md
    python bench/run_all.py --quick         # small sizes -> bench/.data/BENCHMARKS.quick.md
    python bench/run_all.py --only replay engines --out /tmp/B.md
    python bench/run_all.py --list

Each benchmark script prints a Markdown section (``### Title`` ...). Its section in the
output file - from the heading that matches the benchmark's pattern to the next heading of
the same or a higher level - is replaced by the new output, or appended when there is none;
every other section is kept as it is. A benchmark that fails or runs past its time limit
keeps its old section, and the run exits with status 1 after the others have run.
``--quick`` runs small sizes as a smoke test and, unless ``--out`` says otherwise, writes a
copy (``bench/.data/BENCHMARKS.quick.md``) so that quick numbers never replace the
reference ones. Benchmarks must print their Markdown on stdout and their progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"


@dataclass(frozen=True)
class Bench:
    """One benchmark script: its arguments (reference and quick), its section, its limit."""

    name: str
    script: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()
    heading: str = ""  # regex matched against "### ..." lines of BENCHMARKS.md
    title: str = ""  # heading to add when the script prints none
    note: str = ""  # text kept after the output
    minutes: float = 20


BENCHES = (
    Bench("replay", "bench_replay.py", ("--sessions", "10000", "--runs", "3", "--cli"),
          ("--sessions", "2000", "--runs", "1"), r"### Replay\b"),
    Bench("profile", "profile_replay.py", ("--sessions", "2000"),
          ("--sessions", "500", "--top", "10"), r"### Where replay time goes"),
    Bench("sweep", "bench_sweep.py", ("--sessions", "10000", "--trials", "50"),
          ("--sessions", "2000", "--trials", "5"), r"### A \d+-configuration sweep"),
    Bench("engines", "bench_engines.py", ("--sessions", "10000", "--runs", "2"),
          ("--sessions", "2000", "--runs", "1"), r"### Scale-out"),
    Bench("local_analyzer", "bench_local_analyzer.py", (), ("--runs", "1", "--frames", "30"),
          r"### Local face analyzer speed", "### Local face analyzer speed",
          "Target: at least 30 frames/s at 640x480 on one core."),
    Bench("rendered_nose", "bench_rendered_nose.py", ("--targets", "50"), ("--targets", "4"),
          r"### NOSE on rendered images: head turn vs moved photo"),
    Bench("hardening_traces", "bench_hardening_traces.py",
          ("--out", str(DATA / "hardening-traces"), "--sessions-per-class", "100", "--seed",
           "0"),
          ("--out", str(DATA / "hardening-traces-quick"), "--sessions-per-class", "8",
           "--seed", "0"), r"### Trace-level bench"),
    Bench("hardening_images", "bench_hardening_images.py", ("--targets", "24"),
          ("--targets", "2"), r"### NOSE on rendered images \(\d+ random targets, photos"),
    Bench("service", "bench_service.py", (), ("--clients", "5", "--frames", "10"),
          r"### Service\b", "### Service: concurrent clients, each a full NOSE challenge "
          "(create, JPEG frames, verify)"),
)


def _section_bounds(lines: list[str], pattern: str) -> tuple[int, int] | None:
    rx = re.compile(pattern)
    for i, line in enumerate(lines):
        if line.startswith("### ") and rx.match(line):
            level = len(line) - len(line.lstrip("#"))
            for j in range(i + 1, len(lines)):
                m = re.match(r"^(#+) ", lines[j])
                if m and len(m.group(1)) <= level:
                    return i, j
            return i, len(lines)
    return None


def replace_section(doc: str, pattern: str, section: str) -> str:
    """``doc`` with the section whose heading matches ``pattern`` replaced (or appended)."""
    lines = doc.splitlines()
    new = section.strip("\n").splitlines()
    bounds = _section_bounds(lines, pattern)
    if bounds is None:
        return "\n".join(lines).rstrip("\n") + "\n\n" + "\n".join(new) + "\n"
    i, j = bounds
    return "\n".join(lines[:i] + new + [""] + lines[j:]).rstrip("\n") + "\n"


def section_of(bench: Bench, stdout: str, args: tuple[str, ...], quick: bool) -> str:
    """The Markdown section from a benchmark's output (adding a heading if it has none)."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("### ")), None)
    if start is None:
        command = " ".join(["python", f"bench/{bench.script}", *args])
        body = [bench.title or f"### {bench.script}", "", f"Command: `{command}`.", ""] + lines
    else:
        body = lines[start:]
    if bench.note:
        body += ["", bench.note]
    if quick:
        body.insert(1, "")
        body.insert(2, "_Quick run (`python bench/run_all.py --quick`): small sizes, a smoke "
                       "test, not the reference figures._")
    return "\n".join(body).strip("\n") + "\n"


def run(bench: Bench, quick: bool) -> tuple[str | None, str]:
    """Run one benchmark; ``(section, message)``, section ``None`` on failure."""
    args = bench.quick if quick else bench.full
    cmd = [sys.executable, str(HERE / bench.script), *args]
    limit = 60 * (min(bench.minutes, 6) if quick else bench.minutes)
    t = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {limit / 60:.0f} min"
    took = time.perf_counter() - t
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        return None, f"exit status {done.returncode} after {took:.0f} s:\n{tail}"
    if not done.stdout.strip():
        return None, f"printed nothing after {took:.0f} s"
    return section_of(bench, done.stdout, args, quick), f"ok in {took:.0f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    ap.add_argument("--out", default=None,
                    help="file to rewrite (default: BENCHMARKS.md; with --quick: "
                         "bench/.data/BENCHMARKS.quick.md, a copy)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    known = {b.name: b for b in BENCHES}
    if args.list:
        for b in BENCHES:
            print(f"{b.name:18} bench/{b.script} {' '.join(b.full)}")
        return 0
    unknown = [n for n in args.only or () if n not in known]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    listed = {b.script for b in BENCHES}
    for path in sorted(HERE.glob("bench_*.py")):
        if path.name not in listed:
            print(f"note: bench/{path.name} is not in bench/run_all.py's BENCHES: not run",
                  file=sys.stderr)
    reference = ROOT / "BENCHMARKS.md"
    out = Path(args.out) if args.out else (DATA / "BENCHMARKS.quick.md" if args.quick
                                           else reference)
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        if reference.exists():
            shutil.copyfile(reference, out)
        else:
            out.write_text("# Benchmarks\n")
    failed = []
    for bench in BENCHES:
        if args.only and bench.name not in args.only:
            continue
        if not (HERE / bench.script).is_file():
            print(f"{bench.name}: bench/{bench.script} is missing: skipped", file=sys.stderr)
            continue
        print(f"{bench.name}: running bench/{bench.script} ...", file=sys.stderr, flush=True)
        section, message = run(bench, args.quick)
        print(f"{bench.name}: {message}", file=sys.stderr, flush=True)
        if section is None:
            failed.append(bench.name)
            continue
        text = replace_section(out.read_text(encoding="utf-8"), bench.heading, section)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)  # after each benchmark: an interrupted run keeps what it measured
    print(f"wrote {out}" + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
