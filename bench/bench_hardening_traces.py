"""Trace-level bench of the hardening: seed vs rekognition vs recommended, every type and species.

Generates (or reuses) three synthetic datasets with ``liveness_lab.synth.traces``:

* the original bench: ``liveness-lab synth --profile seed`` (NOSE, POSE; the original
  clients; faces as Rekognition returns them);
* the hardened bench, DetectFaces evidence only: ``--profile rekognition`` (NOSE, POSE
  filmed, BLINK, HEAD_TURN, every species; no ``LivenessLab`` extension);
* the same sessions with simulated descriptors: ``--profile recommended``.

The simulator assigns no PAD score (issue 10: a class-dependent score would grade the
simulator). It replays them (``evaluate_dataset``, recorded faces) under:

1. ``seed`` on the original bench (the original's numbers);
2. ``seed`` on the hardened bench (the original rules against the new species);
3. ``rekognition`` on the hardened bench: the challenge-response rules alone, on evidence
   DetectFaces really gives (identity from face proportions);
4. ``recommended`` on the hardened bench with simulated descriptors: the identity check's
   numbers rest on the simulator's descriptor model (``docs/synthetic-traces.md``).

and prints per type the BPCER and the APCER of every species with Wilson 95% intervals,
as Markdown. ::

    python bench/bench_hardening_traces.py --out /tmp/bench --sessions-per-class 100 --seed 0
"""

from __future__ import annotations

from liveness_lab.evaluation.intervals import rate_with_interval

import argparse
import time
from pathlib import Path

TYPES = ("NOSE", "POSE", "BLINK", "HEAD_TURN")
BENCHES = ("seed", "rekognition", "recommended")
RUNS = (("seed", "seed", ()), ("rekognition", "seed", ()),
        ("rekognition", "rekognition", ()), ("recommended", "recommended", ()))
RUN_NAMES = ("seed rules, original bench [DetectFaces]",
             "seed rules, hardened bench [DetectFaces]",
             "rekognition [DetectFaces]",
             "recommended [simulated descriptors]")



def cell(k: int, n: int) -> str:
    return rate_with_interval(k, n, unit="%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="directory for the two datasets and results")
    ap.add_argument("--sessions-per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from liveness_lab.evaluation.replay import evaluate_dataset, write_results
    from liveness_lab.synth.traces import generate_dataset

    out = Path(args.out)
    t0 = time.perf_counter()
    for bench in BENCHES:
        ds = out / f"bench-{bench}"
        if not (ds / "manifest.csv").is_file():
            generate_dataset(ds, sessions_per_class=args.sessions_per_class, seed=args.seed,
                             profile=bench)
    t_gen = time.perf_counter() - t0
    tables = {}
    for (bench, profile, sets), name in zip(RUNS, RUN_NAMES):
        df = evaluate_dataset(out / f"bench-{bench}", profile=profile, sets=sets,
                              workers=args.workers, analyzer="recorded", cache_path=None)
        slug = name.split(" [")[0].replace(" ", "-").replace(",", "")
        write_results(df, out / f"results-{slug}.csv")
        tables[name] = df
    elapsed = time.perf_counter() - t0
    print(f"\n### Trace-level bench ({args.sessions_per_class} sessions per class, seed "
          f"{args.seed})\n")
    print(f"Command: `python bench/bench_hardening_traces.py --out {args.out} "
          f"--sessions-per-class {args.sessions_per_class} --seed {args.seed}` "
          f"({t_gen:.0f} s to generate, {elapsed:.0f} s in all). Cells: rate [Wilson 95% "
          "interval] (count). BPCER = bona fide rejected; APCER = attacks accepted. "
          "[Brackets] name the evidence each column's checks used; no column uses a PAD "
          "score.\n")
    for ctype in TYPES:
        species = sorted({sp for df in tables.values()
                          for sp in df[(df.challenge_type == ctype) &
                                       (df.label == "attack")].pai_species})
        if not species:
            continue
        print(f"#### {ctype}\n")
        print("| metric | " + " | ".join(RUN_NAMES) + " |")
        print("| --- |" + " --- |" * len(RUN_NAMES))
        rows = [("BPCER", None)] + [(f"APCER {sp}", sp) for sp in species]
        for label, sp in rows:
            cells = []
            for name in RUN_NAMES:
                df = tables[name]
                d = df[df.challenge_type == ctype]
                if sp is None:
                    d = d[d.label == "bona_fide"]
                    k = int((~d.success.astype(bool)).sum())
                else:
                    d = d[d.pai_species == sp]
                    k = int(d.success.astype(bool).sum())
                cells.append(cell(k, len(d)))
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
    print("#### Why sessions failed or passed (rekognition)\n")
    df = tables[RUN_NAMES[2]]
    for (ctype, sp), g in df.groupby(["challenge_type", "pai_species"]):
        if sp == "":
            codes = g[~g.success.astype(bool)].code.value_counts()
            what = "bona fide rejected by"
        else:
            codes = g.code.value_counts()
            what = f"{sp} ended with"
        text = ", ".join(f"{c} {n}" for c, n in codes.head(5).items())
        print(f"- {ctype} {what}: {text or '-'}")


if __name__ == "__main__":
    main()
