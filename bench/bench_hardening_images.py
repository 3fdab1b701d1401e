"""NOSE on rendered images, seed vs recommended vs rekognition: the hardened checks end to end.

For N random NOSE targets (params drawn by the NOSE type with SeededRandom(i)), render
sessions from the two bundled photos (grace_hopper and astronaut, alternating) and analyze
every frame with the local analyzer and its dlib descriptors
(``LocalAnalyzer(descriptors=True)``, tracker). Each session is verified under the NOSE
config of ``seed``, ``recommended`` (identity from the real dlib descriptors) and
``rekognition`` on the same faces with the descriptors removed (DetectFaces evidence only:
identity from face proportions). No PAD score is used. Session kinds:

* ``head_turn`` - bona fide stand-in (2.5D head turn toward the target);
* ``photo_moved+print``, ``photo_rolled+print``, ``photo_tilted+screen`` - the photo as a
  print / screen with synthetic artifacts, moved, rolled or tilted to the target;
* ``photo_tilted`` - the same photo tilted with no artifacts at all (a perfect print);
* ``face_swap`` - the other photo's first 0.5 s (face and area states), then a head turn of
  this photo.

    python bench/bench_hardening_images.py [--targets 24] [--workers 2]

Prints pass rates with Wilson 95% intervals and the failure codes, as Markdown.
"""

from __future__ import annotations

from liveness_lab.evaluation.intervals import wilson_interval

import argparse
import collections
import time
from concurrent.futures import ProcessPoolExecutor

PHOTOS = ("grace_hopper", "astronaut")
KINDS = ("head_turn", "photo_moved+print", "photo_rolled+print", "photo_tilted+screen",
         "photo_tilted", "face_swap")
PROFILES = ("seed", "recommended", "rekognition")



def _frames(params, photo, kind, seed):
    from liveness_lab.synth.render import Artifacts, render_nose_session
    if kind == "face_swap":
        other = PHOTOS[1 - PHOTOS.index(photo)]
        first = render_nose_session(params, photo=other, mode="head_turn", seed=seed)
        rest = render_nose_session(params, photo=photo, mode="head_turn", seed=seed)
        return first[:5] + rest[5:]
    mode, _, art = kind.partition("+")
    artifacts = {"print": Artifacts.printed(), "screen": Artifacts.screen(), "": None}[art]
    return render_nose_session(params, photo=photo, mode=mode, seed=seed, artifacts=artifacts)


def one(i: int) -> list[tuple[str, str, str, bool, str, float | None, float | None,
                              float | None]]:
    from liveness_lab.analyzers.local import LocalAnalyzer
    from liveness_lab.challenges import SeededRandom, default_registry
    from liveness_lab.config import resolve_configs
    from liveness_lab.verify import run_challenge

    global _ANALYZER
    try:
        analyzer = _ANALYZER
    except NameError:
        analyzer = _ANALYZER = LocalAnalyzer(descriptors=True)
    nose = default_registry().get("NOSE")
    configs = {name: resolve_configs(name).for_type(nose) for name in PROFILES}
    params = nose.generate_params({"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(i))
    photo = PHOTOS[i % 2]
    out = []
    for kind in KINDS:
        tracker = analyzer.tracker()
        analyzed = [(ts, tracker.update(img)) for ts, img in _frames(params, photo, kind, i)]
        plain = [(ts, [f.replace(extra={k: v for k, v in f.extra.items() if k != "LivenessLab"})
                       for f in faces]) for ts, faces in analyzed]
        for name, cfg in configs.items():
            v = run_challenge(nose, params, plain if name == "rekognition" else analyzed, cfg)
            parallax = [r["parallax"] for r in v.trace.rows if r.get("parallax") is not None]
            dist = [r["identity_distance"] for r in v.trace.rows
                    if r.get("identity_distance") is not None]
            geo = [r["geometry_change"] for r in v.trace.rows
                   if r.get("geometry_change") is not None]
            out.append((kind, photo, name, v.success, v.code,
                        parallax[-1] if parallax else None, max(dist) if dist else None,
                        max(geo) if geo else None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [r for chunk in pool.map(one, range(args.targets)) for r in chunk]
    elapsed = time.perf_counter() - t
    print(f"\n### NOSE on rendered images ({args.targets} random targets, photos alternating)\n")
    print(f"Command: `python bench/bench_hardening_images.py --targets {args.targets}` "
          f"({elapsed:.0f} s with {args.workers} workers). Local analyzer (68 points, tracker, "
          "dlib descriptors; removed for `rekognition`), 640x480, 10 fps, 2.5 s per session; "
          "no PAD score.\n")
    print("| session | profile | passed | pass rate | 95% Wilson interval | codes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in KINDS:
        for prof in PROFILES:
            sel = [r for r in rows if r[0] == kind and r[2] == prof]
            k = sum(r[3] for r in sel)
            lo, hi = wilson_interval(k, len(sel))
            codes = collections.Counter(r[4] for r in sel if not r[3] or kind != "head_turn")
            if kind == "head_turn":
                codes = collections.Counter(r[4] for r in sel if not r[3])
            text = ", ".join(f"{c} {n}" for c, n in codes.most_common(4))
            print(f"| {kind} | {prof} | {k}/{len(sel)} | {100 * k / len(sel):.1f}% | "
                  f"{100 * lo:.1f}..{100 * hi:.1f}% | {text} |")
    print("\nMeasurements (sessions that reached them): nose parallax at the target (face "
          "widths) and the largest dlib identity distance to the first face under "
          "`recommended`; the largest face-proportion change under `rekognition`.\n")
    print("| session | parallax min / median / max (n) "
          "| identity distance min / median / max (n) | proportion change min / median / max (n) |")
    print("| --- | --- | --- | --- |")
    for kind in KINDS:
        cells = []
        for j, prof in ((5, "recommended"), (6, "recommended"), (7, "rekognition")):
            sel = [r for r in rows if r[0] == kind and r[2] == prof]
            vals = sorted(r[j] for r in sel if r[j] is not None)
            cells.append(f"{vals[0]:.3f} / {vals[len(vals) // 2]:.3f} / {vals[-1]:.3f} "
                         f"({len(vals)})" if vals else "-")
        print(f"| {kind} | {cells[0]} | {cells[1]} | {cells[2]} |")


if __name__ == "__main__":
    main()
