"""Scale-out: the process pool vs Dask (a local cluster), same dataset, same results.

Usage (from the repo root, in the project venv)::

    python bench/bench_engines.py [--sessions 10000] [--runs 2]

Replays a recorded NOSE dataset (``bench/.data``, warm dataset cache) with
``evaluate_dataset(profile="seed")`` on ``ProcessEngine(1)``, ``ProcessEngine(2)``,
``DaskEngine(n_workers=1)`` and ``DaskEngine(n_workers=2)`` (``LocalCluster`` of worker
processes, one thread each), checks that every engine gives the same results table, and
prints wall times, sessions per second and sessions per second *per worker* as Markdown.
Clusters are started before the clock starts (their start-up is reported apart). On a
shared machine the 2-worker figures depend on what else runs: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _datasets import nose_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from liveness_lab.engines import DaskEngine, ProcessEngine
    from liveness_lab.evaluation.dataset_cache import ensure_dataset_cache
    from liveness_lab.evaluation.replay import evaluate_dataset

    ds = nose_dataset(args.sessions, args.seed)
    cache_dir = HERE / ".data" / "dataset-cache"
    ensure_dataset_cache(ds, cache_dir)
    n = sum(1 for _ in open(ds / "manifest.csv")) - 1
    engines = []
    for label, make, workers in (("process pool", lambda: ProcessEngine(1), 1),
                                 ("process pool", lambda: ProcessEngine(2), 2),
                                 ("Dask local cluster", lambda: DaskEngine(n_workers=1), 1),
                                 ("Dask local cluster", lambda: DaskEngine(n_workers=2), 2)):
        eng = make()
        t = time.perf_counter()
        if isinstance(eng, DaskEngine):
            _ = eng.client  # start the cluster outside the measured time
        engines.append((label, workers, eng, time.perf_counter() - t))
    reference = None
    times: dict[int, list[float]] = {i: [] for i in range(len(engines))}
    try:
        for run in range(args.runs):
            for i, (label, workers, eng, _) in enumerate(engines):
                t = time.perf_counter()
                df = evaluate_dataset(ds, profile="seed", engine=eng, analyzer="recorded",
                                      dataset_cache=cache_dir)
                times[i].append(time.perf_counter() - t)
                if reference is None:
                    reference = df
                elif not df.equals(reference):
                    raise SystemExit(f"{eng.describe()} gave other results than the first engine")
                print(f"run {run + 1} {eng.describe()}: {times[i][-1]:.1f} s", file=sys.stderr)
    finally:
        for *_, eng, _ in engines:
            eng.close()
    load = os.getloadavg()[0]
    print(f"\n### Scale-out: process pool vs Dask local cluster ({n:,} NOSE sessions, "
          "warm dataset cache)\n")
    print(f"Command: `python bench/bench_engines.py --sessions {args.sessions} --runs "
          f"{args.runs}` (`evaluate_dataset(profile=\"seed\")`, recorded faces; wall time, "
          f"median of {args.runs} runs; clusters started beforehand; load average "
          f"{load:.1f} at the end on {os.cpu_count()} CPUs). Every engine gave the same "
          "results table.\n")
    print("| engine | workers | median wall (s) | runs (s) | sessions / s | "
          "sessions / s per worker | start-up (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, (label, workers, eng, startup) in enumerate(engines):
        m = statistics.median(times[i])
        print(f"| {label} | {workers} | {m:.1f} | {', '.join(f'{t:.1f}' for t in times[i])} "
              f"| {n / m:,.0f} | {n / m / workers:,.0f} | {startup:.1f} |")
    med = [statistics.median(times[i]) for i in range(len(engines))]
    print(f"\nSpeed-up with 2 workers: process pool x{med[0] / med[1]:.2f}, Dask "
          f"x{med[2] / med[3]:.2f}; Dask's wall time over the pool's: x{med[2] / med[0]:.2f} "
          f"(1 worker), x{med[3] / med[1]:.2f} (2 workers). Wall times measure the share of "
          f"the {os.cpu_count()} CPUs this run got"
          + (" (heavily loaded: read the ratios, not the rates; the CPU cost per session is "
             "in the replay section)" if load > 2 * (os.cpu_count() or 1) else "") + ".")
    print()


if __name__ == "__main__":
    main()
