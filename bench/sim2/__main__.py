"""``python -m bench.sim2 --out DIR --types NOSE,POSE --sessions-per-class 100 --seed 0``."""

from __future__ import annotations

import argparse
import sys

from .dataset import CONDITION_KEYS, PROTOCOLS, generate_dataset, parse_conditions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sim2", description=__doc__)
    ap.add_argument("--out", required=True, help="dataset directory to write")
    ap.add_argument("--types", default="NOSE,POSE,BLINK,HEAD_TURN",
                    help=f"comma-separated protocols among {', '.join(PROTOCOLS)} "
                         "(POSE = filmed, POSE_PHOTO = the original single photo)")
    ap.add_argument("--sessions-per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--species", default=None,
                    help="comma-separated classes to keep (bona_fide, print_static, ...)")
    ap.add_argument("--condition", action="append", default=[], metavar="KEY=LO..HI",
                    help=f"fix a condition range; keys: {', '.join(CONDITION_KEYS)}")
    args = ap.parse_args(argv)
    try:
        conditions = parse_conditions(args.condition)
        kinds = [t for t in args.types.split(",") if t.strip()]
        species = None if args.species is None else [s.strip() for s in args.species.split(",")]
        out = generate_dataset(args.out, kinds, args.sessions_per_class, seed=args.seed,
                               conditions=conditions, species=species)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}/manifest.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
