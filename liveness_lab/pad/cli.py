"""``liveness-lab pad-train``: build the PAD baseline (and report its held-out error rates).

Wire with ``add_pad_command(subparsers)`` in the ``liveness-lab`` parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_pad_command", "run_pad_train"]


def add_pad_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``pad-train [--out PATH] [--n-per-kind N] [--seed S] [--evaluate]``."""
    from .model import DEFAULT_MODEL_PATH
    p = subparsers.add_parser(
        "pad-train", help="train the passive PAD baseline on rendered frames",
        description="Render live-like head turns and printed / screen presentations of the "
                    "bundled photos, fit the texture baseline and save it as JSON. "
                    "Deterministic for a seed.")
    p.add_argument("--out", default=str(DEFAULT_MODEL_PATH),
                   help="model file to write (default: %(default)s); use it with "
                        "`--pad-model PATH` on evaluate / analyze")
    p.add_argument("--n-per-kind", type=int, default=120,
                   help="print and screen frames per photo; twice as many live (default 120)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the training frames "
                   "(default 0)")
    p.add_argument("--evaluate", action="store_true",
                   help="also report error rates on held-out frames (seed + 1) and across "
                        "photos (train on one, test on the other)")
    p.set_defaults(func=run_pad_train)
    return p


def run_pad_train(args: argparse.Namespace) -> int:
    """Handler of ``pad-train``; returns the exit code (2 on bad arguments)."""
    from .training import evaluate_model, fit_model, render_training_set, train_baseline
    if args.n_per_kind < 2:
        print("liveness-lab pad-train: error: --n-per-kind must be >= 2", file=sys.stderr)
        return 2
    model = train_baseline(n_per_kind=args.n_per_kind, seed=args.seed)
    path = model.save(args.out)
    print(f"wrote the PAD baseline ({model.metadata['frames']} training frames) to {path}")
    if args.evaluate:
        n = max(2, args.n_per_kind // 2)
        held_out = render_training_set(n_per_kind=n, seed=args.seed + 1)
        report: dict[str, Any] = {"held_out": evaluate_model(model, held_out)}
        for train, test in (("grace_hopper", "astronaut"), ("astronaut", "grace_hopper")):
            m = fit_model(render_training_set(photos=(train,), n_per_kind=args.n_per_kind,
                                              seed=args.seed))
            report[f"train_{train}_test_{test}"] = evaluate_model(
                m, render_training_set(photos=(test,), n_per_kind=n, seed=args.seed + 1))
        print(json.dumps(report, indent=1))
    return 0
