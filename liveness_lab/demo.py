"""The main job behind ``make demo``: generate the bundled benchmark and evaluate it.

Runs on the embedded defaults only: no AWS account, no network.
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["run_demo"]


def run_demo(*, out_dir: Path, sessions_per_class: int = 100, seed: int = 2024,
             workers: int | None = None, results_dir: Path = Path("reports/demo")) -> int:
    """Generate a synthetic trace-level dataset, replay it under the ``seed`` profile, print metrics.

    Returns the process exit code.
    """
    from .evaluation.replay import evaluate_dataset, format_summary, summarize, write_results
    from .sessions import read_manifest
    from .synth.traces import generate_dataset

    t0 = time.perf_counter()
    print(f"[1/2] generating the synthetic benchmark in {out_dir} "
          f"({sessions_per_class} sessions per class, seed {seed})", flush=True)
    generate_dataset(out_dir, sessions_per_class=sessions_per_class, seed=seed, progress=True)
    print("[2/2] replaying every session under the 'seed' profile (the original's rules)",
          flush=True)
    df = evaluate_dataset(out_dir, profile="seed", workers=workers, progress=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    results = write_results(df, results_dir / "results-seed.csv")
    print()
    print(format_summary(summarize(df)))
    print(f"\n{len(df)} sessions evaluated in {time.perf_counter() - t0:.1f} s")
    print(f"per-session results: {results}")
    first = read_manifest(out_dir)[0]
    print(f"replay one session with its trace: liveness-lab verify {Path(out_dir) / first.path}")
    return 0
