"""Where does replay time go? cProfile of `liveness-lab evaluate --profile seed --workers 1`.

Usage (from the repo root, in the project venv)::

    python bench/profile_replay.py [--sessions 2000] [--top 25] [--dataset-cache]

Generates (once) a recorded NOSE dataset under ``bench/.data``, runs the ``evaluate``
command in this process under :mod:`cProfile` (``--workers 1``, so the replay runs here;
by default without the dataset cache, i.e. every session JSON is read and validated), and
prints as Markdown:

* the CPU time by stage, from the profile's *own* time of each function, grouped by
  where it lives (JSON decoding, face construction and validation, session and frame
  building, the challenge state machine, trace rows, results table, imports...);
* the top functions by own time and by cumulative time.

Profiling slows Python code down by roughly 1.5-2x, unevenly: read the shares, not the
seconds. ``bench/bench_replay.py`` measures without the profiler.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _datasets import nose_dataset  # noqa: E402

# (stage, test on "file:function") - first match wins; order matters
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("imports and start-up (compiling sources)", (
        "<frozen importlib", "<built-in method builtins.exec>", "<built-in method builtins.compile>",
        "<built-in method _imp", "<built-in method marshal", "argparse.py")),
    ("JSON decoding", ("<orjson.loads>", "json/decoder.py", "json/__init__.py",
                       "dataset_cache.py:_json_value", "_cache_decode.py:_json_value")),
    ("reading files", ("<method 'read' of '_io", "pathlib.py", "<built-in method io.open",
                       "<built-in method posix.stat")),
    ("dataset cache (Arrow decode, object building)", ("dataset_cache.py", "_cache_decode.py",
                                                        "pyarrow")),
    ("face construction and validation", ("faces.py", "_face_build.py")),
    ("session and frame building, manifest", ("sessions.py", "csv.py")),
    ("trace rows", ("verify.py:run_challenge", "verify.py:_describe", "framework.py:record",
                    "framework.py:_take_measurements")),
    ("challenge state machine (verify)", ("verify.py", "challenges/", "numpy")),
    ("results table (pandas)", ("pandas",)),
    ("engine, chunks, results rows", ("engines.py", "replay.py")),
]


def _stage(key: str) -> str:
    for name, needles in STAGES:
        if any(n in key for n in needles):
            return name
    return "other"


def _key(func: tuple[str, int, str]) -> str:
    filename, _, name = func
    return f"{filename}:{name}" if filename != "~" else name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--dataset-cache", action="store_true",
                    help="profile a run that reads a (warm) dataset cache instead of JSON")
    args = ap.parse_args()
    ds = nose_dataset(args.sessions, args.seed)
    from liveness_lab.cli import main as cli_main
    cmd = ["evaluate", str(ds), "--profile", "seed", "--workers", "1", "--analyzer",
           "recorded", "--quiet"]
    if args.dataset_cache:
        cache = Path(ds).parent / "dataset-cache"
        cmd += ["--dataset-cache", str(cache)]
        with contextlib.redirect_stdout(io.StringIO()):
            cli_main(cmd)  # build the cache first: profile the warm run
    else:
        cmd += ["--no-dataset-cache"]
    profiler = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        profiler.runcall(cli_main, cmd)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stats = pstats.Stats(profiler)
    own: dict[str, float] = {}
    rows = []
    for func, (cc, nc, tt, ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = _key(func)
        rows.append((tt, ct, nc, key))
        stage = _stage(key)
        if stage == "other" and func[0] == "~" and callers:
            # a builtin (dict.get, isinstance...): its time belongs to its callers' stages
            for caller, (_cc, _nc, ctt, _ct) in callers.items():
                cstage = _stage(_key(caller))
                own[cstage] = own.get(cstage, 0.0) + ctt
            continue
        own[stage] = own.get(stage, 0.0) + tt
    total = sum(own.values()) or 1.0
    n = sum(1 for _ in open(Path(ds) / "manifest.csv")) - 1
    root = str(Path.cwd()) + os.sep
    site = str(Path(cProfile.__file__).parent)

    def short(key: str) -> str:
        return key.replace(root, "").replace(site + os.sep, "").split("site-packages/")[-1]

    print(f"\n### Where replay time goes: cProfile of `evaluate --profile seed --workers 1` "
          f"on {n:,} NOSE sessions ({'warm dataset cache' if args.dataset_cache else 'JSON files'})\n")
    print(f"Command: `python bench/profile_replay.py --sessions {args.sessions}"
          f"{' --dataset-cache' if args.dataset_cache else ''}`. Under the profiler: "
          f"{cpu:.1f} s CPU, {wall:.1f} s wall (CPU-time profile; the profiler itself slows "
          f"Python code about 1.5-2x: read the shares).\n")
    print("| stage | own time (s) | share |")
    print("| --- | --- | --- |")
    for name, t in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {t:.2f} | {100 * t / total:.0f}% |")
    print(f"\nTop {args.top} functions by own time:\n")
    print("| own (s) | cumulative (s) | calls | function |")
    print("| --- | --- | --- | --- |")
    for tt, ct, nc, key in sorted(rows, reverse=True)[:args.top]:
        print(f"| {tt:.2f} | {ct:.2f} | {nc:,} | `{short(key)}` |")
    print()


if __name__ == "__main__":
    main()
