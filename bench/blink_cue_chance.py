"""Chance that a BLINK recording whose blinks ignore the cues passes the cue timing.

Draws challenges with the ``rekognition`` profile's BLINK params, places a recording's
blinks at random times (a Poisson process of the given rates over the filmed window) and
applies the same matching as the server (:func:`liveness_lab.challenges.blink_signal.match_cue`,
``max_uncued_blinks``). The turn direction (a further factor of about 1/2) is not included.

    python bench/blink_cue_chance.py [--challenges 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveness_lab.challenges import SeededRandom  # noqa: E402
from liveness_lab.challenges.blink import blink_params  # noqa: E402
from liveness_lab.challenges.blink_signal import match_cue  # noqa: E402
from liveness_lab.config import resolve_configs  # noqa: E402

RATES = (0.2, 0.33, 0.5, 0.75, 1.0, 1.5)  # blinks per second


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--challenges", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = resolve_configs("rekognition").by_type["BLINK"]
    rng = np.random.default_rng(args.seed)
    drawn = [blink_params({"imageWidth": 640, "imageHeight": 480}, cfg, SeededRandom(i))
             for i in range(args.challenges)]
    print("| blinks per second | recordings passing the cues |\n|---|---|")
    for rate in RATES:
        ok = 0
        for p in drawn:
            cues, end = p["cuesMs"], p["windowMs"]
            low, high = p["reactionMs"]
            answered, uncued, failed = [False] * len(cues), 0, False
            for t in np.sort(rng.uniform(0, end, rng.poisson(rate * end / 1000))):
                k = match_cue(t, cues, answered, low, high)
                if k is None:
                    uncued += 1
                    failed = failed or uncued > cfg.max_uncued_blinks
                else:
                    answered[k] = True
            ok += (not failed) and all(answered)
        print(f"| {rate:g} | {100 * ok / len(drawn):.2f} % ({ok}/{len(drawn)}) |")


if __name__ == "__main__":
    main()
