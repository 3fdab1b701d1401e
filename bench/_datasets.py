"""Datasets shared by the replay benchmarks: generated once under ``bench/.data``."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

NOSE_CLASSES = 7  # bona fide + 6 attack species

DEFAULT_DATA = Path(__file__).resolve().parent / ".data"


def nose_dataset(sessions: int, seed: int = 7, data_dir: str | Path = DEFAULT_DATA) -> Path:
    """A recorded NOSE dataset (``liveness_lab.synth.traces``) of about ``sessions`` sessions.

    Generated on first use and kept (keyed by size and seed): ``sessions_per_class`` is
    ``ceil(sessions / 7)``, so ``10000`` gives 10,003 sessions.
    """
    from liveness_lab.synth.traces import generate_dataset
    per_class = math.ceil(sessions / NOSE_CLASSES)
    out = Path(data_dir) / f"nose-{per_class}x{NOSE_CLASSES}-seed{seed}"
    if not (out / "manifest.csv").is_file():
        t = time.perf_counter()
        generate_dataset(out, sessions_per_class=per_class, seed=seed, challenge_types=("NOSE",),
                         profile="seed")
        print(f"generated {out} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return out
