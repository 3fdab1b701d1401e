"""Replay benchmark: `liveness-lab evaluate` on ~10,000 recorded NOSE sessions (~30 frames each).

Usage (from the repo root, in the project venv):

    python bench/bench_replay.py [--runs 3] [--sessions 10000] [--data bench/.data]

Generates the dataset once (cached under --data, keyed by size and seed), then times whole
`liveness-lab evaluate` processes with 2 workers and with 1 worker, and prints the median
wall-clock times and their ratio as a Markdown block for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

NOSE_CLASSES = 7  # bona fide + 6 attack species


def dataset(data_dir: Path, sessions: int, seed: int) -> Path:
    from liveness_lab.synth.traces import generate_dataset
    per_class = math.ceil(sessions / NOSE_CLASSES)
    out = data_dir / f"nose-{per_class}x{NOSE_CLASSES}-seed{seed}"
    if not (out / "manifest.csv").is_file():
        t = time.perf_counter()
        generate_dataset(out, sessions_per_class=per_class, seed=seed, challenge_types=("NOSE",),
                         profile="seed")
        print(f"generated {out} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return out


def time_evaluate(ds: Path, workers: int) -> float:
    cmd = [sys.executable, "-m", "liveness_lab.cli", "evaluate", str(ds), "--quiet",
           "--workers", str(workers), "--analyzer", "recorded"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", default="bench/.data")
    args = ap.parse_args()
    ds = dataset(Path(args.data), args.sessions, args.seed)
    n = sum(1 for _ in open(ds / "manifest.csv")) - 1
    frames = []
    for p in sorted((ds / "sessions").glob("*.json"))[::25]:
        frames.append(len(json.loads(p.read_text())["frames"]))
    results = {}
    for workers in (2, 1):
        times = [time_evaluate(ds, workers) for _ in range(args.runs)]
        results[workers] = times
        print(f"workers={workers}: " + ", ".join(f"{t:.1f}" for t in times), file=sys.stderr)
    m2, m1 = statistics.median(results[2]), statistics.median(results[1])
    print(f"""
### Replay: `liveness-lab evaluate` on {n:,} recorded NOSE sessions

Command: `python bench/bench_replay.py --runs {args.runs} --sessions {args.sessions}`
(dataset: `liveness_lab.synth.traces`, seed {args.seed}; {statistics.mean(frames):.0f} frames per
session on average (median {statistics.median(frames):.0f}), faces recorded; the whole CLI process
is timed, start-up included).

| workers | median wall time (s) | runs (s) | sessions / s |
| --- | --- | --- | --- |
| 2 | {m2:.1f} | {", ".join(f"{t:.1f}" for t in results[2])} | {n / m2:,.0f} |
| 1 | {m1:.1f} | {", ".join(f"{t:.1f}" for t in results[1])} | {n / m1:,.0f} |

Speed-up with 2 workers: x{m1 / m2:.2f} (same run). Target: under 60 s on this 2-core machine.
""")


if __name__ == "__main__":
    main()
