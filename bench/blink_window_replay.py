"""Replay the BLINK sessions of stress-bench datasets with another reaction window.

A cued BLINK challenge tells the client its reaction window (``reactionMs`` in the params);
people do not react faster or slower because of it, so the window can be judged on recorded
sessions by rewriting it in their params::

    python bench/blink_window_replay.py --window-ms 1500 /tmp/stress/sim2-slow /tmp/stress/ours-fps5

Prints, per dataset and class, the bona fide sessions rejected and the attacks accepted
(``rekognition``, the profile's ``reaction_max_ms`` set to the same window).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveness_lab.config import resolve_configs  # noqa: E402
from liveness_lab.sessions import session_from_dict  # noqa: E402
from liveness_lab.verify import verify_session  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--window-ms", type=int, required=True, help="the new reaction_max_ms")
    ap.add_argument("--profile", default="rekognition")
    args = ap.parse_args(argv)
    configs = resolve_configs(args.profile, sets=[f"BLINK.reaction_max_ms={args.window_ms}"])
    print("| dataset | class | errors |\n|---|---|---|")
    for ds in args.datasets:
        total: collections.Counter = collections.Counter()
        errors: collections.Counter = collections.Counter()
        for path in sorted((ds / "sessions").glob("*.json")):
            d = json.loads(path.read_text(encoding="utf-8"))
            params = d["challenge"]["params"]
            if d["challenge"]["type"] != "BLINK" or "reactionMs" not in params:
                continue
            params["reactionMs"] = [params["reactionMs"][0], args.window_ms]
            verdict = verify_session(session_from_dict(d, path=path), configs=configs,
                                     trace=False)
            cls = "bona_fide" if d["label"] == "bona_fide" else str(d["pai_species"])
            total[cls] += 1
            errors[cls] += (not verdict.success) if cls == "bona_fide" else verdict.success
        for cls in sorted(total):
            print(f"| {ds.name} | {cls} | {errors[cls]}/{total[cls]} |")


if __name__ == "__main__":
    main()
