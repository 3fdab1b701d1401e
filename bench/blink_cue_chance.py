"""Chance that a BLINK recording passes the cue timing of a challenge it was not made for.

Two recordings, against challenges drawn with the ``rekognition`` profile's BLINK params:

1. a **bona fide recording made for another BLINK challenge** (blinks after that challenge's
   cues, a human reaction time later, plus spontaneous blinks), played from its start and
   started at the best moment by an attacker who reads ``cuesMs``
   (:func:`liveness_lab.challenges.blink_cues.replay_pass_probability`);
2. a **video whose blinks ignore any cue** (a Poisson process at the given rates over the
   filmed window), judged by the server's rule
   (:func:`liveness_lab.challenges.blink_cues.cues_answered`).

The attacker's camera runs at the slowest accepted rate (the widest windows). The turn
direction is a factor of 1/2 in (1) and not included in (2).

    python bench/blink_cue_chance.py [--challenges 10000] [--seed 0] [--set blink.KEY=VALUE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveness_lab.challenges import SeededRandom  # noqa: E402
from liveness_lab.challenges.blink import blink_params  # noqa: E402
from liveness_lab.challenges.blink_cues import cues_answered, replay_pass_probability  # noqa: E402
from liveness_lab.config import resolve_configs  # noqa: E402

RATES = (0.2, 0.33, 0.5, 0.75, 1.0, 1.5)  # blinks per second


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--challenges", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="override, e.g. blink.min_blinks=3")
    args = ap.parse_args()
    cfg = resolve_configs("rekognition", sets=args.set).by_type["BLINK"]
    est = replay_pass_probability(cfg, samples=args.challenges, seed=args.seed)
    print(f"cues {cfg.min_blinks}-{cfg.max_blinks}, first cue {cfg.first_cue_s:g}+"
          f"{cfg.first_cue_jitter_s:g} s, gaps {cfg.cue_gap_min_s:g}-{cfg.cue_gap_max_s:g} s, "
          f"reaction {cfg.reaction_min_ms}-{cfg.reaction_max_ms} ms + one frame, spread <= "
          f"{cfg.max_reaction_spread_ms:g} ms, uncued {cfg.max_uncued_blinks} + "
          f"{cfg.uncued_per_s:g}/s, {cfg.max_missed_cues} cue(s) may be missed\n")
    print("| recording made for another BLINK challenge | passes |\n|---|---|")
    print(f"| played from its start | {100 * est.from_start:.2f} % (+/- {100 * est.std_error:.2f}"
          f", {est.samples} pairs) |")
    print(f"| started at the best moment (attacker reads cuesMs) | {100 * est.best_start:.2f} % |")
    rng = np.random.default_rng(args.seed)
    interval = 1000.0 / (cfg.min_fps * (1.0 - cfg.fps_tolerance))
    drawn = [blink_params({"imageWidth": 640, "imageHeight": 480}, cfg, SeededRandom(i))
             for i in range(min(args.challenges, 4000))]
    print("\n| blinks per second, ignoring the cues | recordings passing the cues |\n|---|---|")
    for rate in RATES:
        ok = 0
        for p in drawn:
            end = p["windowMs"]
            low, high = p["reactionMs"]
            times = np.sort(rng.uniform(0, end, rng.poisson(rate * end / 1000)))
            times = times + rng.uniform(0.0, interval)
            ok += cues_answered(list(times), p["cuesMs"], low, high, cfg.max_uncued_blinks,
                                interval, cfg.max_reaction_spread_ms or None, cfg.uncued_per_s,
                                cfg.max_missed_cues, cfg.reaction_lapses)
        print(f"| {rate:g} | {100 * ok / len(drawn):.2f} % ({ok}/{len(drawn)}) |")


if __name__ == "__main__":
    main()
