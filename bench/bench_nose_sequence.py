"""NOSE on the project's simulator: BPCER and per-species APCER under the ``rekognition``
profile (DetectFaces evidence only), with the computed replay probability next to the
measured ``replay_other_challenge`` rate. ::

    python bench/bench_nose_sequence.py --out /tmp/nose --sessions-per-class 100 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sessions-per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="rekognition")
    args = ap.parse_args()
    from liveness_lab.evaluation.intervals import wilson_interval
    from liveness_lab.evaluation.replay import evaluate_dataset
    from liveness_lab.synth.traces import generate_dataset

    t0 = time.perf_counter()
    ds = Path(args.out) / "nose"
    if not (ds / "manifest.csv").is_file():
        generate_dataset(ds, sessions_per_class=args.sessions_per_class, seed=args.seed,
                         profile=args.profile, challenge_types=["NOSE"])
    df = evaluate_dataset(ds, profile=args.profile, workers=1, analyzer="recorded",
                          cache_path=None)
    print(f"NOSE, profile {args.profile}, {args.sessions_per_class}/class, seed {args.seed}, "
          f"{time.perf_counter() - t0:.0f} s")
    bona = df[df.label == "bona_fide"]
    k, n = int((~bona.success.astype(bool)).sum()), len(bona)
    lo, hi = wilson_interval(k, n)
    print(f"| BPCER | {100 * k / n:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] ({k}/{n}) |")
    for sp, g in df[df.label == "attack"].groupby("pai_species"):
        k, n = int(g.success.astype(bool).sum()), len(g)
        lo, hi = wilson_interval(k, n)
        print(f"| APCER {sp} | {100 * k / n:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] ({k}/{n}) |")
    print("bona fide failures:", dict(bona[~bona.success.astype(bool)].code.value_counts()))
    try:
        from liveness_lab.challenges.nose_targets import replay_pass_probability
        from liveness_lab.config import resolve_configs
        cfg = resolve_configs(args.profile).by_type["NOSE"]
        for t in sorted({1, cfg.nose_targets}):
            est = replay_pass_probability(cfg, (640, 480), t)
            print(f"computed replay pass probability, {t} target(s): "
                  f"{100 * est.probability:.2f} % (+- {100 * est.std_error:.2f})")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
