"""The main job behind ``make demo``: generate the bundled benchmark and evaluate it.

Runs on the embedded defaults only: no AWS account, no network. Re-running
reuses the generated dataset when its recipe (seed, size) is unchanged.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

__all__ = ["run_demo", "ensure_dataset"]

_STAMP = ".liveness-lab-demo.json"


def ensure_dataset(out_dir: Path, *, sessions_per_class: int, seed: int) -> bool:
    """Generate the synthetic dataset in ``out_dir`` unless the same recipe is already there.

    Returns ``True`` when it generated. Only a directory this function created (it
    holds a stamp file) is ever replaced; any other non-empty directory is an error.
    """
    from tqdm.auto import tqdm

    from .synth.traces import generate_dataset

    recipe = {"generator": "liveness_lab.synth.traces", "sessions_per_class": sessions_per_class,
              "seed": seed}
    stamp = out_dir / _STAMP
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == recipe and (out_dir / "manifest.csv").is_file():
                return False
        except (OSError, ValueError):
            pass
        shutil.rmtree(out_dir)
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} exists and was not made by the demo; choose another --out")
    with tqdm(unit="session", desc="generate", leave=False) as bar:
        generate_dataset(out_dir, sessions_per_class=sessions_per_class, seed=seed,
                         progress=bar.update)
    stamp.write_text(json.dumps(recipe))
    return True


def run_demo(*, out_dir: Path, sessions_per_class: int = 100, seed: int = 2024,
             workers: int | None = None, results_dir: Path = Path("reports/demo")) -> int:
    """Generate a synthetic trace-level dataset, replay it under the ``seed`` profile, print metrics.

    Returns the process exit code.
    """
    from .evaluation.replay import evaluate_dataset, format_summary, summarize, write_results
    from .sessions import read_manifest

    t0 = time.perf_counter()
    print(f"[1/2] synthetic benchmark in {out_dir} ({sessions_per_class} sessions per class, "
          f"seed {seed})", flush=True)
    if not ensure_dataset(out_dir, sessions_per_class=sessions_per_class, seed=seed):
        print("      reusing the dataset generated earlier with the same recipe", flush=True)
    print("[2/2] replaying every session under the 'seed' profile (the original's rules)",
          flush=True)
    df = evaluate_dataset(out_dir, profile="seed", workers=workers, analyzer="recorded",
                          progress=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    results = write_results(df, results_dir / "results-seed.csv")
    print()
    print(format_summary(summarize(df)))
    print(f"\n{len(df)} sessions evaluated in {time.perf_counter() - t0:.1f} s")
    print(f"per-session results: {results}")
    first = read_manifest(out_dir)[0]
    print(f"replay one session with its trace: liveness-lab verify {Path(out_dir) / first.path}")
    return 0
