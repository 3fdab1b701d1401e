"""Accuracy of liveness-lab's profiles on the independent simulator ``bench.sim2``.

Generates one dataset per protocol with ``bench.sim2`` (DetectFaces evidence only), runs
``liveness-lab evaluate DIR --profile P`` for every profile among ``seed``, ``recommended`` and
``rekognition`` (when that profile exists), and prints per protocol: BPCER and APCER per attack
species with Wilson 95 % intervals, and BPCER by frame-rate, resting-yaw and resting-pitch bins.

``recommended`` needs evidence these sessions cannot carry (descriptors, PAD scores), so it
runs with ``--set TYPE.identity_check=false --set TYPE.pad_check=false``; ``rekognition`` runs
as is, and with the same ``--set`` only if it refuses the dataset.

    python bench/bench_sim2.py --out /tmp/sim2 --sessions-per-class 100 --seed 0 \\
        [--types NOSE,POSE,POSE_PHOTO,BLINK,HEAD_TURN] [--condition fps=5..30] [--report F.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sim2 import PROTOCOLS, generate_dataset, parse_conditions  # noqa: E402
from liveness_lab.evaluation.intervals import wilson_interval  # noqa: E402

_NO_EXTENSION_SETS = [f"{t}.{k}=false" for t in ("NOSE", "POSE", "BLINK", "HEAD_TURN")
                      for k in ("identity_check", "pad_check")]
FPS_BINS = ((5, 8), (8, 12), (12, 20), (20, 31))
YAW_BINS = ((0, 6), (6, 12), (12, 19))
PITCH_BINS = ((-19, -6), (-6, 6), (6, 12), (12, 19))


def profiles() -> list[str]:
    from liveness_lab.config import profile_names
    names = profile_names()
    return [p for p in ("seed", "recommended", "rekognition") if p in names]


def evaluate(dataset: Path, profile: str, out_csv: Path) -> tuple[list[str], str]:
    """Run the CLI; returns the --set used and the first line of any refusal."""
    exe = [sys.executable, "-m", "liveness_lab.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    tries = [[]] if profile == "seed" else [[], _NO_EXTENSION_SETS]
    if profile == "recommended":
        tries = [_NO_EXTENSION_SETS]
    note = ""
    for sets in tries:
        cmd = exe + ["evaluate", str(dataset), "--profile", profile, "--workers", "1", "-q",
                     "--output", str(out_csv)]
        for s in sets:
            cmd += ["--set", s]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode == 0 and out_csv.is_file():
            return sets, note
        note = (proc.stderr.strip().splitlines() or ["failed"])[-1]
    raise SystemExit(f"liveness-lab evaluate {dataset} --profile {profile} failed: {note}")


def _rate(k: int, n: int) -> str:
    if n == 0:
        return "-"
    lo, hi = wilson_interval(k, n)
    return f"{100 * k / n:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] ({k}/{n})"


def _bin(value: float, bins) -> str | None:
    for lo, hi in bins:
        if lo <= value < hi:
            return f"[{lo}, {hi})"
    return None


def summarise(dataset: Path, results: Path) -> dict:
    meta = {}
    with (dataset / "manifest.csv").open() as fh:
        for row in csv.DictReader(fh):
            doc = json.loads((dataset / row["path"]).read_text())
            meta[row["session_id"]] = doc["metadata"]
    bona = {"k": 0, "n": 0}
    species: dict[str, dict[str, int]] = {}
    by_fps: dict[str, dict[str, int]] = {}
    by_yaw: dict[str, dict[str, int]] = {}
    by_pitch: dict[str, dict[str, int]] = {}
    reasons: dict[str, int] = {}
    with results.open() as fh:
        for row in csv.DictReader(fh):
            ok = row["success"].strip().lower() == "true"
            m = meta[row["session_id"]]
            if row["label"] == "bona_fide":
                bona["n"] += 1
                bona["k"] += not ok
                if not ok:
                    code = row.get("code") or row.get("reason", "")[:40]
                    reasons[code] = reasons.get(code, 0) + 1
                for table, key in ((by_fps, _bin(m["fps"], FPS_BINS)),
                                   (by_yaw, _bin(abs(m["resting_yaw"]), YAW_BINS)),
                                   (by_pitch, _bin(m["resting_pitch"], PITCH_BINS))):
                    if key is not None:
                        cell = table.setdefault(key, {"k": 0, "n": 0})
                        cell["n"] += 1
                        cell["k"] += not ok
            else:
                cell = species.setdefault(row["pai_species"], {"k": 0, "n": 0})
                cell["n"] += 1
                cell["k"] += ok
    return {"bpcer": bona, "apcer": species, "by_fps": by_fps, "by_yaw": by_yaw,
            "by_pitch": by_pitch,
            "rejections": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:4])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sessions-per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--types", default="NOSE,POSE,POSE_PHOTO,BLINK,HEAD_TURN")
    ap.add_argument("--condition", action="append", default=[])
    ap.add_argument("--report", default=None, help="also write the tables to this Markdown file")
    args = ap.parse_args(argv)
    conditions = parse_conditions(args.condition)
    out = Path(args.out)
    lines = [f"# bench.sim2: {args.sessions_per_class} sessions per class, seed {args.seed}, "
             f"conditions {conditions or 'default ranges'}", ""]
    for kind in [t.strip().upper() for t in args.types.split(",") if t.strip()]:
        if kind not in PROTOCOLS:
            raise SystemExit(f"unknown type {kind!r}; known: {', '.join(PROTOCOLS)}")
        ds = out / kind.lower()
        t0 = time.perf_counter()
        generate_dataset(ds, [kind], args.sessions_per_class, seed=args.seed,
                         conditions=conditions)
        gen_s = time.perf_counter() - t0
        lines += [f"## {kind} (generated in {gen_s:.0f} s)", ""]
        summaries = {}
        for prof in profiles():
            sets, note = evaluate(ds, prof, ds / f"results-{prof}.csv")
            summaries[prof] = summarise(ds, ds / f"results-{prof}.csv")
            if sets:
                lines.append(f"- `{prof}` ran with identity_check / pad_check off"
                             + (f" (refused as is: {note})" if note else ""))
        names = list(summaries)
        lines += ["", "| | " + " | ".join(f"`{p}`" for p in names) + " |",
                  "|---|" + "---|" * len(names)]
        lines.append("| BPCER | " + " | ".join(_rate(s["bpcer"]["k"], s["bpcer"]["n"])
                                              for s in summaries.values()) + " |")
        all_species = sorted({sp for s in summaries.values() for sp in s["apcer"]})
        for sp in all_species:
            lines.append(f"| APCER {sp} | " + " | ".join(
                _rate(s["apcer"].get(sp, {}).get("k", 0), s["apcer"].get(sp, {}).get("n", 0))
                for s in summaries.values()) + " |")
        for title, key, bins in (("fps", "by_fps", FPS_BINS),
                                 ("|resting yaw|", "by_yaw", YAW_BINS),
                                 ("resting pitch", "by_pitch", PITCH_BINS)):
            for lo, hi in bins:
                label = _bin(lo, bins)
                lines.append(f"| BPCER {title} {label} | " + " | ".join(
                    _rate(s[key].get(label, {}).get("k", 0), s[key].get(label, {}).get("n", 0))
                    for s in summaries.values()) + " |")
        lines.append("")
        for prof, s in summaries.items():
            lines.append(f"- `{prof}` bona fide rejections: {s['rejections']}")
        lines.append("")
        print("\n".join(lines[-(len(all_species) + 16):]), flush=True)
    text = "\n".join(lines) + "\n"
    if args.report:
        Path(args.report).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
