"""BLINK bona fide rejections by camera and person: frame rate, exposure, narrow eyes, glare.

Simulates bona fide BLINK sessions with the project's simulator (``liveness_lab.synth``:
5-30 fps, 8-66 ms exposures, narrow eyes, glasses with glare, reaction times), each for a
challenge drawn with the profile's BLINK params, verifies them under the profile (DetectFaces
evidence only) and prints BPCER with Wilson 95 % intervals per condition bin and the
rejection codes. ::

    python bench/blink_conditions.py [--sessions 400] [--seed 0] [--profile rekognition]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveness_lab.challenges import SeededRandom  # noqa: E402
from liveness_lab.challenges.blink import blink_params  # noqa: E402
from liveness_lab.config import resolve_configs  # noqa: E402
from liveness_lab.evaluation.intervals import rate_with_interval  # noqa: E402
from liveness_lab.synth.traces import simulate_session  # noqa: E402
from liveness_lab.verify import verify_session  # noqa: E402

BINS = {
    "fps": ((5, 8), (8, 12), (12, 20), (20, 31)),
    "exposure_ms": ((8, 20), (20, 40), (40, 67)),
    "cue_reaction_median_s": ((0.0, 0.3), (0.3, 0.5), (0.5, 2.0)),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="rekognition")
    args = ap.parse_args()
    configs = resolve_configs(args.profile)
    cfg = configs.by_type["BLINK"]
    rows = []
    for i in range(args.sessions):
        seed = args.seed * 1_000_003 + i
        params = blink_params({"imageWidth": 640, "imageHeight": 480}, cfg, SeededRandom(seed))
        s = simulate_session("BLINK", params, species=None, seed=seed, profile=args.profile)
        v = verify_session(s, configs=configs, trace=False)
        rows.append((s.metadata, v.success, v.code))
    fails = sum(not ok for _, ok, _ in rows)
    print(f"BLINK bona fide, our simulator, profile {args.profile}, {args.sessions} sessions, "
          f"seed {args.seed}: BPCER {rate_with_interval(fails, len(rows))}\n")
    print("| condition | BPCER |\n|---|---|")
    for key, bins in BINS.items():
        for lo, hi in bins:
            sel = [ok for m, ok, _ in rows if m.get(key) is not None and lo <= m[key] < hi]
            print(f"| {key} [{lo}, {hi}) | {rate_with_interval(sum(not ok for ok in sel), len(sel))} |")
    for label, test in (("narrow eyes", lambda m: m.get("narrow_eyes", 1.0) < 1.0),
                        ("glasses with glare", lambda m: m.get("glare_frames", 0) > 0)):
        sel = [ok for m, ok, _ in rows if test(m)]
        print(f"| {label} | {rate_with_interval(sum(not ok for ok in sel), len(sel))} |")
    codes = Counter(code for _, ok, code in rows if not ok)
    print(f"\nrejected by: {dict(codes.most_common())}")


if __name__ == "__main__":
    main()
