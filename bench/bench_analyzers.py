"""The offline analyzers side by side, in one run: mesh vs dlib 68 points vs dlib 5 points.

Everything is measured on the same frames, one core (``cv2.setNumThreads(1)``, one LiteRT
thread), built from the two real face photos that ship in packages (matplotlib's
grace_hopper, scikit-image's astronaut)::

    nice -n 10 .venv/bin/python bench/bench_analyzers.py              # the whole table
    nice -n 10 .venv/bin/python bench/bench_analyzers.py --quick      # fewer frames / targets
    nice -n 10 .venv/bin/python bench/bench_analyzers.py --measure    # mesh threshold measures

Sections (printed as Markdown for BENCHMARKS.md):

1. speed: fps of ``analyze()`` and of ``track()`` on 640x480 frames of a moving, tilting face;
2. jitter on still frames: the same frame with fresh sensor noise (sigma 2 grey levels) each
   time, tracked; median over landmarks of each landmark's position spread (px), and the
   spread of yaw;
3. detection on hard variants (rotated, scaled, dark, blurred, JPEG-compressed copies of each
   photo): images where exactly one face was found, with its centre within 0.25 face widths of
   the centre found on the original photo;
4. yaw / pitch error on rendered turns with known angles (the 2.5D head rig of
   ``liveness_lab.synth``): the change of the measured angle from the frontal rendering against
   the rendered change;
5. NOSE end to end on rendered sessions (head turn vs the photo moved / tilted), tracked, under
   ``seed`` and ``recommended`` (identity and PAD checks off: neither is the analyzer's
   landmark quality), and the nose parallax at the target of live-like turns against flat photos;
6. HEAD_TURN end to end the same way: the rendered head turning through the challenge's
   sequence vs the photo tilted by hand the same way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench_local_analyzer import close_eyes, photos, rotate, video  # noqa: E402

cv2.setNumThreads(1)

ANALYZERS = ("mesh", "dlib 68", "dlib 5")


def make(name: str):
    from liveness_lab.analyzers.local import LocalAnalyzer
    from liveness_lab.analyzers.mesh import MeshAnalyzer

    if name == "mesh":
        return MeshAnalyzer().load()
    return LocalAnalyzer(landmarks=name.split()[1]).load()


def _points(face, w: int, h: int) -> dict[str, np.ndarray]:
    return {lm.type: np.array([lm.x * w, lm.y * h]) for lm in face.landmarks}


def _centre(face, w: int, h: int) -> np.ndarray:
    b = face.bounding_box
    return np.array([(b.left + b.width / 2) * w, (b.top + b.height / 2) * h])


# -- 1. speed ------------------------------------------------------------------------------------
def speed(analyzers: dict, frames: int, runs: int) -> list[str]:
    """Runs interleaved (run 1 of every analyzer and mode, then run 2, ...), so that a change
    of the machine's load hits every row alike."""
    clip = video(photos()["grace_hopper"], frames)
    modes = [(name, mode) for name in analyzers for mode in ("track", "analyze")]
    rates: dict = {key: [] for key in modes}
    cpu_rates: dict = {key: [] for key in modes}
    found: dict = {}
    for _ in range(runs):
        for name, mode in modes:
            analyzer = analyzers[name]
            t, c = time.perf_counter(), time.process_time()
            if mode == "track":
                out = list(analyzer.track(clip))
            else:
                out = [analyzer.analyze(f) for f in clip]
            rates[(name, mode)].append(len(clip) / (time.perf_counter() - t))
            cpu_rates[(name, mode)].append(len(clip) / max(time.process_time() - c, 1e-9))
            found[(name, mode)] = sum(len(f) == 1 for f in out)
    return [f"| {name} | {mode}() | {found[(name, mode)]}/{len(clip)} | "
            f"{statistics.median(rates[(name, mode)]):.0f} | "
            f"{statistics.median(cpu_rates[(name, mode)]):.0f} | {runs} x {len(clip)} |"
            for name, mode in modes]


# -- 2. jitter -----------------------------------------------------------------------------------
def jitter(analyzers: dict, frames: int) -> list[str]:
    from liveness_lab.synth._camera import add_sensor_noise

    rows = []
    for photo_name, photo in photos().items():
        still = video(photo, 1)[0]
        clip = [add_sensor_noise(still, 2.0, np.random.default_rng([7, k])) for k in range(frames)]
        h, w = still.shape[:2]
        for name, analyzer in analyzers.items():
            out = [faces for faces in analyzer.track(clip) if len(faces) == 1]
            if len(out) < 3:
                rows.append(f"| {photo_name} | {name} | {len(out)}/{frames} | - | - |")
                continue
            pts = [_points(f[0], w, h) for f in out]
            names = sorted(set.intersection(*(set(p) for p in pts)))
            spreads = [float(np.sqrt(np.var([p[n] for p in pts], axis=0).sum())) for n in names]
            yaws = [f[0].pose.yaw for f in out if f[0].pose is not None]
            rows.append(f"| {photo_name} | {name} | {len(out)}/{frames} | "
                        f"{statistics.median(spreads):.2f} ({len(names)} landmarks) | "
                        f"{float(np.std(yaws)):.2f} |")
    return rows


# -- 3. detection on hard variants ---------------------------------------------------------------
def hard_variants(image: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for deg in (15, 30, 45):
        out[f"rotated {deg} cw"] = rotate(image, -deg)
        out[f"rotated {deg} ccw"] = rotate(image, deg)
    for s in (0.35, 0.5, 0.7, 1.5, 2.5):
        out[f"scaled x{s}"] = cv2.resize(image, None, fx=s, fy=s,
                                         interpolation=cv2.INTER_AREA if s < 1 else
                                         cv2.INTER_LINEAR)
    for k in (0.35, 0.2, 0.1):
        out[f"dark x{k}"] = (image * k).astype(np.uint8)
    for s in (3, 6, 9):
        out[f"blur s={s}"] = cv2.GaussianBlur(image, (0, 0), s)
    for q in (20, 8, 3):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, q])
        out[f"jpeg q={q}"] = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


def _expected_centre(name: str, centre: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if name.startswith("rotated"):
        deg = float(name.split()[1]) * (1 if name.endswith("ccw") else -1)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
        return m[:, :2] @ centre + m[:, 2]
    if name.startswith("scaled"):
        return centre * float(name.split("x")[1])
    return centre


def detection(analyzers: dict) -> tuple[list[str], list[str]]:
    per_family: dict[tuple[str, str], list[int]] = {}
    totals: dict[str, list[int]] = {n: [0, 0] for n in analyzers}
    reference = make("dlib 68")
    for photo_name, photo in photos().items():
        h, w = photo.shape[:2]
        ref = reference.analyze(photo)[0]
        centre, width = _centre(ref, w, h), ref.bounding_box.width * w
        for vname, img in hard_variants(photo).items():
            expected = _expected_centre(vname, centre, (h, w))
            scale = float(vname.split("x")[1]) if vname.startswith("scaled") else 1.0
            family = vname.split()[0]
            vh, vw = img.shape[:2]
            for name, analyzer in analyzers.items():
                faces = analyzer.analyze(img)
                ok = (len(faces) == 1 and
                      np.hypot(*(_centre(faces[0], vw, vh) - expected)) < 0.25 * width * scale)
                per_family.setdefault((name, family), [0, 0])
                per_family[(name, family)][0] += ok
                per_family[(name, family)][1] += 1
                totals[name][0] += ok
                totals[name][1] += 1
    families = sorted({f for _, f in per_family})
    head = ["| analyzer | " + " | ".join(families) + " | all |",
            "| --- | " + " | ".join("---" for _ in families) + " | --- |"]
    rows = [f"| {n} | " + " | ".join(f"{per_family[(n, f)][0]}/{per_family[(n, f)][1]}"
                                     for f in families) + f" | {totals[n][0]}/{totals[n][1]} |"
            for n in analyzers]
    return head, rows


# -- 4. yaw / pitch on rendered turns ------------------------------------------------------------
def angles(analyzers: dict) -> list[str]:
    from liveness_lab.synth.render import (Camera, FacePlacement, HeadPose, HeadRig, load_photo,
                                           photo_landmarks)

    camera = Camera(640, 480, 60.0)
    yaws = (-25, -15, -8, 8, 15, 25)
    pitches = (-15, -8, 8, 15)
    rows = []
    for name, analyzer in analyzers.items():
        yaw_err, pitch_err, signs, n = [], [], 0, 0
        for photo_name in ("grace_hopper", "astronaut"):
            rig = HeadRig(load_photo(photo_name), photo_landmarks(photo_name), camera,
                          FacePlacement(320, 240, 200))
            base = analyzer.analyze(rig.render(HeadPose()))
            if len(base) != 1 or base[0].pose is None:
                continue
            b = base[0].pose
            for yaw in yaws:
                faces = analyzer.analyze(rig.render(HeadPose(yaw=yaw)))
                n += 1
                if len(faces) == 1 and faces[0].pose is not None:
                    d = faces[0].pose.yaw - b.yaw
                    yaw_err.append(abs(d - yaw))
                    signs += np.sign(d) == np.sign(yaw)
            for pitch in pitches:
                faces = analyzer.analyze(rig.render(HeadPose(pitch=pitch)))
                n += 1
                if len(faces) == 1 and faces[0].pose is not None:
                    d = faces[0].pose.pitch - b.pitch
                    pitch_err.append(abs(d - pitch))
                    signs += np.sign(d) == np.sign(pitch)
        med = (lambda v: f"{statistics.median(v):.1f} / {max(v):.1f}" if v else "-")
        rows.append(f"| {name} | {med(yaw_err)} ({len(yaw_err)}) | {med(pitch_err)} "
                    f"({len(pitch_err)}) | {signs}/{n} |")
    return rows


# -- 5. NOSE end to end --------------------------------------------------------------------------
KINDS = ("head_turn", "photo_moved", "photo_tilted")


def nose(analyzers: dict, targets: int) -> tuple[list[str], list[str]]:
    from liveness_lab.challenges import SeededRandom, default_registry
    from liveness_lab.config import resolve_configs
    from liveness_lab.evaluation.intervals import wilson_interval
    from liveness_lab.synth.render import render_nose_session
    from liveness_lab.verify import run_challenge

    nose_type = default_registry().get("NOSE")
    configs = {"seed": resolve_configs("seed").for_type(nose_type),
               "recommended": resolve_configs(
                   "recommended", sets=["nose.pad_check=false", "nose.identity_check=false"]
               ).for_type(nose_type)}
    passed: dict[tuple, list[bool]] = {}
    parallax: dict[tuple, list[float]] = {}
    for i in range(targets):
        params = nose_type.generate_params({"imageWidth": 640, "imageHeight": 480},
                                           rng=SeededRandom(i))
        photo = ("grace_hopper", "astronaut")[i % 2]
        for kind in KINDS:
            frames = render_nose_session(params, photo=photo, mode=kind, seed=i)
            for name, analyzer in analyzers.items():
                tracker = analyzer.tracker()
                analyzed = [(ts, tracker.update(img)) for ts, img in frames]
                for prof, cfg in configs.items():
                    v = run_challenge(nose_type, params, analyzed, cfg)
                    passed.setdefault((name, kind, prof), []).append(v.success)
                    if prof == "recommended":
                        px = [r["parallax"] for r in v.trace.rows if r.get("parallax") is not None]
                        if px:
                            parallax.setdefault((name, kind), []).append(px[-1])
    rows = []
    for name in analyzers:
        for prof in configs:
            cells = []
            for kind in KINDS:
                ok = passed[(name, kind, prof)]
                lo, hi = wilson_interval(sum(ok), len(ok))
                cells.append(f"{sum(ok)}/{len(ok)} [{100 * lo:.0f}-{100 * hi:.0f}%]")
            rows.append(f"| {name} | {prof} | " + " | ".join(cells) + " |")
    prow = []
    for name in analyzers:
        live = parallax.get((name, "head_turn"), [])
        flat = parallax.get((name, "photo_moved"), []) + parallax.get((name, "photo_tilted"), [])
        fmt = (lambda v: f"{min(v):.3f} / {statistics.median(v):.3f} / {max(v):.3f} ({len(v)})"
               if v else "-")
        margin = f"{min(live) - max(flat):+.3f}" if live and flat else "-"
        prow.append(f"| {name} | {fmt(live)} | {fmt(flat)} | {margin} |")
    return rows, prow


# -- 6. HEAD_TURN end to end -------------------------------------------------------------------
TURN_KINDS = ("head_turn", "photo_tilted")
#: rendered amplitudes of a live-like turn (the challenge needs |yaw| >= 20, |pitch| >= 15
#: measured) and the tilt of the presented photo
TURN_YAW, TURN_PITCH, SHEET_TILT = 32.0, 24.0, 40.0


def _ease(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))


def turn_session(sequence: list[str], photo: str, kind: str, seed: int, fps: float = 10.0
                 ) -> list[tuple[int, np.ndarray]]:
    """Frames of a HEAD_TURN session: centre, then each turn of ``sequence`` (0.6 s there,
    0.4 s held, 0.6 s back, 0.4 s centred), by a turning head or a photo tilted by hand."""
    from liveness_lab.synth._camera import add_sensor_noise
    from liveness_lab.synth.render import (Camera, FacePlacement, HeadPose, HeadRig, SheetPose,
                                           load_photo, make_sheet, photo_landmarks,
                                           render_background, render_planar)

    camera = Camera(640, 480, 60.0)
    image, lms = load_photo(photo), photo_landmarks(photo)
    placement = FacePlacement(320, 240, 200)
    steps = [(0.0, 0.0)] * int(0.4 * fps)
    for direction in sequence:
        yaw, pitch = {"LEFT": (1, 0), "RIGHT": (-1, 0), "UP": (0, 1), "DOWN": (0, -1)}[direction]
        go, hold = _ease(int(0.6 * fps)), int(0.4 * fps)
        steps += [(yaw * s, pitch * s) for s in go] + [(yaw, pitch)] * hold
        steps += [(yaw * s, pitch * s) for s in go[::-1]] + [(0.0, 0.0)] * hold
    rng = np.random.default_rng(seed)
    frames = []
    if kind == "head_turn":
        rig = HeadRig(image, lms, camera, placement)
        for sy, sp in steps:
            frame = rig.render(HeadPose(yaw=float(np.clip(TURN_YAW * sy + rng.normal(0, 0.5),
                                                          -34.5, 34.5)),
                                        pitch=float(np.clip(TURN_PITCH * sp + rng.normal(0, 0.5),
                                                            -24.5, 24.5))))
            frames.append(add_sensor_noise(frame, 2.0, rng))
    else:
        scale, _ = placement.similarity(lms)
        anchor = tuple(float(v) for v in (lms.min(axis=0) + lms.max(axis=0)) / 2)
        sheet = make_sheet(image, anchor, None)
        background = render_background(camera, None, seed)
        for sy, sp in steps:
            pose = SheetPose(320.0, 240.0, float(scale), 0.0, SHEET_TILT * sp, SHEET_TILT * sy)
            frames.append(render_planar(sheet, pose, camera, background, noise_sigma=2.0,
                                        rng=rng))
    return [(1_700_000_000_000 + int(1000 * k / fps), f) for k, f in enumerate(frames)]


def head_turn(analyzers: dict, sessions: int) -> list[str]:
    from liveness_lab.challenges import SeededRandom, default_registry
    from liveness_lab.config import resolve_configs
    from liveness_lab.evaluation.intervals import wilson_interval
    from liveness_lab.verify import run_challenge

    turn_type = default_registry().get("HEAD_TURN")
    configs = {"seed": resolve_configs("seed").for_type(turn_type),
               "recommended": resolve_configs(
                   "recommended", sets=["head_turn.pad_check=false",
                                        "head_turn.identity_check=false"]).for_type(turn_type)}
    results: dict[tuple, list] = {}
    for i in range(sessions):
        photo = ("grace_hopper", "astronaut")[i % 2]
        for kind in TURN_KINDS:
            for prof, cfg in configs.items():
                # the params follow the profile (recommended asks for more turns)
                p = turn_type.generate_params({"imageWidth": 640, "imageHeight": 480},
                                              config=cfg, rng=SeededRandom(i))
                frames = turn_session(list(p["sequence"]), photo, kind, i)
                for name, analyzer in analyzers.items():
                    tracker = analyzer.tracker()
                    analyzed = [(ts, tracker.update(img)) for ts, img in frames]
                    v = run_challenge(turn_type, p, analyzed, cfg)
                    results.setdefault((name, kind, prof), []).append((v.success, v.code))
    rows = []
    for name in analyzers:
        for prof in configs:
            cells = []
            for kind in TURN_KINDS:
                got = results[(name, kind, prof)]
                k = sum(ok for ok, _ in got)
                lo, hi = wilson_interval(k, len(got))
                codes = sorted({c for ok, c in got if not ok}) if kind == "head_turn" else []
                cells.append(f"{k}/{len(got)} [{100 * lo:.0f}-{100 * hi:.0f}%]"
                             + (f" ({', '.join(codes)})" if codes else ""))
            rows.append(f"| {name} | {prof} | " + " | ".join(cells) + " |")
    return rows


# -- threshold measures of the mesh analyzer -----------------------------------------------------
def measure() -> None:
    from bench_local_analyzer import variants

    from liveness_lab.analyzers import _geometry as geo
    from liveness_lab.analyzers._mesh_describe import mesh_to_68
    from liveness_lab.analyzers.mesh import MeshAnalyzer

    analyzer = MeshAnalyzer(mesh=True).load()
    print("| photo | variant | faces | EAR | mouth gap | mouth width | corner lift | Yaw | Pitch "
          "| EyeDirection yaw / pitch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for photo_name, photo in photos().items():
        cases = dict(variants(photo))
        faces = analyzer.analyze(photo)
        h, w = photo.shape[:2]
        mesh = np.array(faces[0].extra["LivenessLab"]["Mesh"]) * (w, h, w)
        cases["eyes painted closed"] = close_eyes(photo, mesh_to_68(mesh))
        for vname, img in cases.items():
            found = analyzer.analyze(img)
            if not found:
                print(f"| {photo_name} | {vname} | 0 | | | | | | | |")
                continue
            f = found[0]
            ih, iw = img.shape[:2]
            m = np.array(f.extra["LivenessLab"]["Mesh"]) * (iw, ih, iw)  # eyelids refined
            p = mesh_to_68(m)
            ear = (geo.eye_aspect_ratio(p[36:42]) + geo.eye_aspect_ratio(p[42:48])) / 2
            gap, width, lift = geo.mouth_measures(p)
            ed = f.extra.get("EyeDirection", {})
            print(f"| {photo_name} | {vname} | {len(found)} | {ear:.3f} | {gap:.3f} | "
                  f"{width:.3f} | {lift:.3f} | {f.pose.yaw:+.1f} | {f.pose.pitch:+.1f} | "
                  f"{ed.get('Yaw', float('nan')):+.1f} / {ed.get('Pitch', float('nan')):+.1f} |")


def descriptor_separation() -> None:
    """dlib's descriptor aligned on 5 mesh points (MeshAnalyzer(descriptors=True)) vs on dlib's
    own 68-point fit: distances to each photo's frontal rendering, within and between people."""
    from liveness_lab.analyzers.local import LocalAnalyzer
    from liveness_lab.analyzers.mesh import MeshAnalyzer
    from liveness_lab.synth.render import (Camera, FacePlacement, HeadPose, HeadRig, load_photo,
                                           photo_landmarks)

    poses = [HeadPose()] + [HeadPose(yaw=y) for y in (-25, -15, 15, 25)] + \
        [HeadPose(pitch=p) for p in (-15, 15)]
    print("\n| descriptor | within a person: min / median / max (n) | between the two: "
          "min / median / max (n) |")
    print("| --- | --- | --- |")
    for label, analyzer in (("mesh (5 mesh points)", MeshAnalyzer(descriptors=True, mesh=False)),
                            ("dlib 68 (68-point fit)", LocalAnalyzer(descriptors=True))):
        vecs = {}
        for name in ("grace_hopper", "astronaut"):
            rig = HeadRig(load_photo(name), photo_landmarks(name), Camera(640, 480, 60.0),
                          FacePlacement(320, 240, 200))
            vecs[name] = [np.array(analyzer.analyze(rig.render(p))[0]
                                   .extra["LivenessLab"]["Descriptor"]) for p in poses]
        within = [float(np.linalg.norm(v - vs[0])) for vs in vecs.values() for v in vs[1:]]
        between = [float(np.linalg.norm(a - b)) for a in vecs["grace_hopper"]
                   for b in vecs["astronaut"]]
        fmt = (lambda v: f"{min(v):.3f} / {statistics.median(v):.3f} / {max(v):.3f} ({len(v)})")
        print(f"| {label} | {fmt(within)} | {fmt(between)} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and NOSE targets")
    ap.add_argument("--measure", action="store_true", help="print the mesh threshold measures")
    ap.add_argument("--targets", type=int, default=None, help="NOSE targets (default 12)")
    ap.add_argument("--turn-sessions", type=int, default=None,
                    help="HEAD_TURN sessions per kind and profile (default 8)")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the speed table, with 5 runs (on a quiet machine), for every "
                         "analyzer and the mesh without irises")
    args = ap.parse_args(argv)
    if args.speed_only:
        from liveness_lab.analyzers.mesh import MeshAnalyzer
        analyzers = {name: make(name) for name in ANALYZERS}
        analyzers["mesh iris=False"] = MeshAnalyzer(iris=False).load()
        print("| analyzer | mode | frames with one face | median fps (wall) "
              "| median frames per CPU second | runs |")
        print("| --- | --- | --- | --- | --- | --- |")
        print("\n".join(speed(analyzers, 120, 5)))
        return 0
    if args.measure:
        measure()
        descriptor_separation()
        return 0
    frames, runs = (60, 2) if args.quick else (120, 3)
    targets = args.targets or (4 if args.quick else 12)
    turns = args.turn_sessions or (2 if args.quick else 8)
    t0, c0 = time.perf_counter(), time.process_time()
    analyzers = {name: make(name) for name in ANALYZERS}
    print("\n### Offline analyzers side by side (one core, 640x480)\n")
    print("| analyzer | mode | frames with one face | median fps (wall) "
          "| median frames per CPU second | runs |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(speed(analyzers, frames, runs)))
    print("\nJitter on a still frame (fresh sensor noise each frame, tracked):\n")
    print("| photo | analyzer | frames with one face | median landmark spread (px) "
          "| yaw std (deg) |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(jitter(analyzers, frames // 2)))
    head, rows = detection(analyzers)
    print("\nDetection on hard variants (one face, at the right place; both photos):\n")
    print("\n".join(head + rows))
    print("\nPose on rendered turns with known angles (|measured change - rendered change|, "
          "median / max in degrees; yaw +-8/15/25, pitch +-8/15; both photos):\n")
    print("| analyzer | yaw error (n) | pitch error (n) | right sign |")
    print("| --- | --- | --- | --- |")
    print("\n".join(angles(analyzers)))
    rows, prow = nose(analyzers, targets)
    print(f"\nNOSE end to end on rendered sessions ({targets} random targets, photos "
          "alternating, tracked; `recommended` with identity and PAD checks off), passed "
          "[Wilson 95%]:\n")
    print("| analyzer | profile | " + " | ".join(KINDS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in KINDS) + " |")
    print("\n".join(rows))
    print("\nNose parallax at the target (face widths; min / median / max (n)), and the margin "
          "= smallest live value - largest flat value:\n")
    print("| analyzer | head_turn | photo moved or tilted | margin |")
    print("| --- | --- | --- | --- |")
    print("\n".join(prow))
    print(f"\nHEAD_TURN end to end on rendered sessions ({turns} sessions, photos "
          f"alternating, tracked): a head turning {TURN_YAW:g} deg of yaw / {TURN_PITCH:g} deg of "
          f"pitch vs the photo tilted {SHEET_TILT:g} deg by hand; passed [Wilson 95%] "
          "(failure codes of the live-like sessions):\n")
    print("| analyzer | profile | " + " | ".join(TURN_KINDS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in TURN_KINDS) + " |")
    print("\n".join(head_turn(analyzers, turns)))
    print(f"\n({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU; "
          f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
