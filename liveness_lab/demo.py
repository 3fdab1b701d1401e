"""The main job behind ``make demo``: the bundled benchmark, evaluated and reported.

1. generate the benchmark: trace-level synthetic sessions (NOSE and POSE, bona fide and
   every attack species) plus a small image-level set rendered from real photos;
2. replay it under the ``seed`` profile (the original's rules) and the project's best
   profile, log both to MLflow (``./mlflow.db``) and write ``reports/demo/report.html``
   and ``report.md``.

Runs on the embedded defaults only: no AWS account, no network. Re-running reuses the
generated dataset when its recipe is unchanged, and the analysis cache makes the image
frames free the second time.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Sequence

__all__ = ["run_demo", "ensure_dataset", "DEMO_PROFILES"]

_STAMP = ".liveness-lab-demo.json"
#: The profiles the demo compares: the original's rules and the project's best.
DEMO_PROFILES: tuple[str, ...] = ("seed", "recommended")
def ensure_dataset(out_dir: Path, *, sessions_per_class: int, seed: int,
                   image_sessions: int = 0) -> bool:
    """Generate the demo dataset in ``out_dir`` unless the same recipe is already there.

    Returns ``True`` when it generated. Only a directory this function created (it
    holds a stamp file) is ever replaced; any other non-empty directory is an error.
    """
    from tqdm.auto import tqdm

    from .synth.render import add_image_sessions
    from .synth.traces import generate_dataset

    recipe = {"generator": "liveness_lab.synth.traces", "profile": "recommended",
              "sessions_per_class": sessions_per_class,
              "seed": seed, "image_sessions": image_sessions}
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
    with tqdm(unit="session", desc="generate traces", leave=False) as bar:
        generate_dataset(out_dir, sessions_per_class=sessions_per_class, seed=seed,
                         profile="recommended", progress=bar.update)
    if image_sessions:
        with tqdm(total=image_sessions, unit="session", desc="render images", leave=False) as bar:
            add_image_sessions(out_dir, image_sessions, seed=seed, progress=bar.update)
    stamp.write_text(json.dumps(recipe))
    return True


def run_demo(*, out_dir: Path, sessions_per_class: int = 100, seed: int = 2024,
             image_sessions: int = 12, workers: int | None = None,
             results_dir: Path = Path("reports/demo"),
             profiles: Sequence[str] = DEMO_PROFILES, tracking: bool = True) -> int:
    """Generate the benchmark, evaluate it under ``profiles``, log to MLflow, write the report.

    Returns the process exit code.
    """
    from .evaluation.metrics import as_summary
    from .evaluation.replay import format_summary
    from .evaluation.sweep import run_study

    t0 = time.perf_counter()
    print(f"[1/2] benchmark in {out_dir}: {sessions_per_class} trace-level sessions per class "
          f"(seed {seed}) + {image_sessions} NOSE sessions rendered from real photos",
          flush=True)
    if not ensure_dataset(out_dir, sessions_per_class=sessions_per_class, seed=seed,
                          image_sessions=image_sessions):
        print("      reusing the dataset generated earlier with the same recipe", flush=True)
    print(f"[2/2] replaying every session under {' and '.join(map(repr, profiles))}; image "
          "frames go through the local analyzer (cached)", flush=True)
    from .analysis import DEFAULT_CACHE_PATH
    from .evaluation.runs import ReplayOptions
    from .evaluation.tracking import Tracker
    result = run_study(out_dir, profiles=list(profiles), out_dir=results_dir, study="demo",
                       tracker=Tracker() if tracking else None,
                       replay=ReplayOptions(workers=workers, cache_path=DEFAULT_CACHE_PATH),
                       log=lambda m: print(f"      {m}", flush=True))
    for prof in profiles:
        print(f"\n--- profile {prof} ---")
        print(format_summary(as_summary(result.metrics[prof])))
    print(f"\ndone in {time.perf_counter() - t0:.0f} s")
    print(f"report:        {result.report.html}  (and {result.report.markdown})")
    if tracking:
        print("MLflow runs:   liveness-lab mlflow-ui   (then open http://127.0.0.1:5000)")
    print("Streamlit app: liveness-lab app   (or: streamlit run app.py)")
    return 0
