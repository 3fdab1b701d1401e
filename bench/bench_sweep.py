"""A sweep of 50 configurations over a 10,000-session dataset parses the dataset once.

Usage (from the repo root, in the project venv)::

    python bench/bench_sweep.py [--sessions 10000] [--trials 50]

Runs what ``liveness-lab sweep`` runs, in this process (``ProcessEngine(1)``) so that every
session parse can be counted (``liveness_lab.sessions.session_from_dict`` is wrapped):

1. the selection pass: ``replay_many`` with ``--trials`` NOSE configurations on the ``dev``
   split, with a cold dataset cache (it is built first);
2. the report pass: the chosen configuration once on the ``test`` split;
3. the same sweep again (a second study, or a rerun).

Prints, per pass, the sessions parsed from JSON, the sessions replayed x configurations
and the CPU time, as Markdown.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _datasets import nose_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from liveness_lab import sessions as sessions_module
    from liveness_lab.engines import ProcessEngine
    from liveness_lab.evaluation.replay import ReplaySpec, replay_many

    ds = nose_dataset(args.sessions, args.seed)
    n = sum(1 for _ in open(ds / "manifest.csv")) - 1
    cache_dir = HERE / ".data" / "sweep-cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    parsed = [0]
    real = sessions_module.session_from_dict

    def counting(d, **kw):
        parsed[0] += 1
        return real(d, **kw)

    sessions_module.session_from_dict = counting
    specs = [ReplaySpec(profile="seed", analyzer="recorded",
                        sets=(f"nose.trajectory_error_threshold={0.01 + 0.02 * i / args.trials:.5f}",
                              f"nose.min_dist={0.06 + 0.08 * (i % 10) / 10:.3f}"))
             for i in range(args.trials)]
    rows = []
    with ProcessEngine(1) as engine:
        for name, pass_specs, splits in (
                ("1. selection: every configuration on dev (cold cache: built first)", specs,
                 ["dev"]),
                ("2. report: the chosen configuration on test", specs[:1], ["test"]),
                ("3. the same sweep again", specs, ["dev"])):
            parsed[0] = 0
            t = time.process_time()
            frames = replay_many(ds, pass_specs, engine=engine, splits=splits,
                                 dataset_cache=cache_dir)
            cpu = time.process_time() - t
            rows.append((name, parsed[0], len(frames[0]), len(pass_specs), cpu))
            print(f"{name}: {parsed[0]} parsed, {cpu:.1f} s", file=sys.stderr)
    sessions_module.session_from_dict = real
    total = sum(r[1] for r in rows)
    print(f"\n### A {args.trials}-configuration sweep over {n:,} sessions parses the dataset "
          "once\n")
    print(f"Command: `python bench/bench_sweep.py --sessions {args.sessions} --trials "
          f"{args.trials}` (`replay_many` as `liveness-lab sweep` calls it, one process, "
          "dataset cache in a fresh folder; NOSE configurations varying "
          "`trajectory_error_threshold` and `min_dist`).\n")
    print("| pass | sessions parsed from JSON | sessions x configurations replayed | "
          "CPU (s) | µs per session x configuration |")
    print("| --- | --- | --- | --- | --- |")
    for name, p, sessions, k, cpu in rows:
        print(f"| {name} | {p:,} | {sessions:,} x {k} | {cpu:.1f} | "
              f"{1e6 * cpu / max(1, sessions * k):.0f} |")
    print(f"\nSessions parsed in all: {total:,} for a dataset of {n:,} (each once, while the "
          "cache was built).\n")


if __name__ == "__main__":
    main()
