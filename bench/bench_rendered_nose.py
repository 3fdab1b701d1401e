"""NOSE end to end on rendered images: live-like head turns vs rigidly moved photos.

For N random NOSE targets (params drawn by the NOSE type with SeededRandom(i)), render a
session from a real photo (matplotlib's grace_hopper, scikit-image's astronaut, alternating)
twice - as a 2.5D head turn toward the target and as the same photo moved rigidly to it -
analyze every frame with the local analyzer and verify under the `seed` profile.

    python bench/bench_rendered_nose.py [--targets 50] [--workers 2]

Prints pass rates (with Wilson 95% intervals) and the failure codes as a Markdown block.
"""

from __future__ import annotations

from liveness_lab.evaluation.intervals import wilson_interval

import argparse
import collections
import time
from concurrent.futures import ProcessPoolExecutor

MODES = ("head_turn", "photo_moved")
PHOTOS = ("grace_hopper", "astronaut")



def one(i: int) -> list[tuple[str, str, bool, str]]:
    from liveness_lab.analyzers.local import LocalAnalyzer
    from liveness_lab.challenges import SeededRandom, default_registry
    from liveness_lab.config import resolve_configs
    from liveness_lab.synth.render import render_nose_session
    from liveness_lab.verify import run_challenge

    global _ANALYZER
    try:
        analyzer = _ANALYZER
    except NameError:
        analyzer = _ANALYZER = LocalAnalyzer()
    nose = default_registry().get("NOSE")
    params = nose.generate_params({"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(i))
    config = resolve_configs("seed").for_type(nose)
    photo = PHOTOS[i % 2]
    out = []
    for mode in MODES:
        frames = render_nose_session(params, photo=photo, mode=mode, seed=i, fps=10,
                                     duration_s=2.5)
        analyzed = [(ts, analyzer.analyze(img)) for ts, img in frames]
        v = run_challenge(nose, params, analyzed, config)
        out.append((mode, photo, v.success, v.code))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [r for chunk in pool.map(one, range(args.targets)) for r in chunk]
    elapsed = time.perf_counter() - t
    print(f"\n### NOSE on rendered images: head turn vs moved photo ({args.targets} random targets)\n")
    print(f"Command: `python bench/bench_rendered_nose.py --targets {args.targets}` "
          f"({elapsed:.0f} s with {args.workers} workers). Local analyzer (68 points), "
          "`seed` profile, 640x480, 10 fps, 2.5 s per session.\n")
    print("| rendering | photo | passed | pass rate | 95% Wilson interval | failure codes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for mode in MODES:
        for photo in PHOTOS + ("both",):
            sel = [r for r in rows if r[0] == mode and (photo == "both" or r[1] == photo)]
            k = sum(r[2] for r in sel)
            lo, hi = wilson_interval(k, len(sel))
            codes = collections.Counter(r[3] for r in sel if not r[2])
            reasons = ", ".join(f"{c} x{n}" for c, n in codes.most_common()) or "-"
            print(f"| {mode} | {photo} | {k}/{len(sel)} | {100 * k / len(sel):.0f}% | "
                  f"{100 * lo:.0f}-{100 * hi:.0f}% | {reasons} |")


if __name__ == "__main__":
    main()
