"""Benchmark the local analyzer, and print the measurements behind its default thresholds.

Speed (single-threaded, 640x480 frames of a moving face built from a real photo)::

    .venv/bin/python bench/bench_local_analyzer.py            # 5 runs of 120 frames
    .venv/bin/python bench/bench_local_analyzer.py --runs 3 --frames 60

prints one Markdown table row per mode (median frames/s over the runs) to
paste into BENCHMARKS.md.

Threshold measurements (docs/analyzers.md)::

    .venv/bin/python bench/bench_local_analyzer.py --measure

prints, for the two real photos shipped with matplotlib and scikit-image and
their mirrored / scaled / rotated / blurred / darkened variants, the raw
measures the thresholds apply to, plus synthetic closed eyes and head turns.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from liveness_lab.analyzers import _geometry as geo  # noqa: E402
from liveness_lab.analyzers.local import LocalAnalyzer  # noqa: E402

cv2.setNumThreads(1)


# -- inputs -----------------------------------------------------------------------------------
def photos() -> dict[str, np.ndarray]:
    """The real face photos available offline, as RGB arrays."""
    import matplotlib.cbook as cbook
    import skimage.data

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    grace = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return {"grace_hopper": grace, "astronaut": np.ascontiguousarray(skimage.data.astronaut())}


def rotate(image: np.ndarray, degrees_ccw: float) -> np.ndarray:
    """The image rotated about its centre (positive: counter-clockwise, as cv2 does)."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees_ccw, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def variants(image: np.ndarray) -> dict[str, np.ndarray]:
    """The photo and the transformed copies the thresholds must survive."""
    return {
        "original": image,
        "mirrored": np.ascontiguousarray(image[:, ::-1]),
        "scaled x0.8": cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA),
        "scaled x2": cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR),
        "rotated 15 cw": rotate(image, -15),
        "rotated 15 ccw": rotate(image, 15),
        "blurred s=2": cv2.GaussianBlur(image, (0, 0), 2),
        "blurred s=4": cv2.GaussianBlur(image, (0, 0), 4),
        "darkened x0.5": (image * 0.5).astype(np.uint8),
    }


def close_eyes(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Paint the eyes over with the surrounding skin and draw a lash line: synthetic closed eyes."""
    mask = np.zeros(image.shape[:2], np.uint8)
    for eye in (points[36:42], points[42:48]):
        c = eye.mean(axis=0)
        cv2.fillPoly(mask, [np.round(c + (eye - c) * (1.15, 1.6)).astype(np.int32)], 255)
    out = cv2.inpaint(np.ascontiguousarray(image), mask, 5, cv2.INPAINT_TELEA)
    for eye in (points[36:42], points[42:48]):
        lid = np.array([eye[0], (eye[5] + eye[1]) / 2 + (0, 1), (eye[4] + eye[2]) / 2 + (0, 1),
                        eye[3]])
        cv2.polylines(out, [np.round(lid).astype(np.int32)], False, (40, 30, 30), 1, cv2.LINE_AA)
    return out


def turn(image: np.ndarray, nose: tuple[float, float], face_size: tuple[float, float],
         shift: float) -> np.ndarray:
    """A synthetic head turn: move the middle of the face sideways, fading toward its contour.

    ``shift`` is the nose's displacement in face widths (positive: toward the
    image's right). The displacement falls off as a Gaussian bump, like the
    depth of a face, so the nose moves more than the eyes and the cheeks
    (what a real turn looks like), and the face contour hardly moves.
    """
    h, w = image.shape[:2]
    fw, fh = face_size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-((xs - nose[0]) ** 2 / (2 * (0.3 * fw) ** 2)
                    + (ys - nose[1]) ** 2 / (2 * (0.45 * fh) ** 2)))
    return cv2.remap(image, xs - np.float32(shift * fw) * bump, ys, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def video(photo: np.ndarray, frames: int, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """``frames`` webcam-like frames: the photo's face (about 170 px) moving and tilting."""
    w, h = size
    scaled = cv2.resize(photo, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    base = np.full((h, w, 3), 128, np.uint8)
    ph, pw = min(scaled.shape[0], h), min(scaled.shape[1], w)
    y0, x0 = (h - ph) // 2, (w - pw) // 2
    base[y0:y0 + ph, x0:x0 + pw] = scaled[:ph, :pw]
    out = []
    for i in range(frames):
        angle = 4.0 * np.sin(2 * np.pi * i / 60)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[0, 2] += 60 * np.sin(2 * np.pi * i / 90)
        m[1, 2] += 10 * np.sin(2 * np.pi * i / 45)
        out.append(cv2.warpAffine(base, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return out


# -- speed --------------------------------------------------------------------------------------
def bench(runs: int, frames: int) -> None:
    clip = video(photos()["grace_hopper"], frames)
    modes = [("68 landmarks, tracking (track())", "68", True),
             ("68 landmarks, independent frames (analyze())", "68", False),
             ("5 landmarks, tracking (track())", "5", True),
             ("5 landmarks, independent frames (analyze())", "5", False)]
    cmd = f"python bench/bench_local_analyzer.py --runs {runs} --frames {frames}"
    print(f"<!-- {cmd}; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, OpenCV {cv2.__version__}, 1 thread -->")
    print("| local analyzer mode | frame | faces found | median fps (1 core) | runs |")
    print("| --- | --- | --- | --- | --- |")
    for label, landmarks, tracking in modes:
        analyzer = LocalAnalyzer(landmarks=landmarks).load()
        analyzer.analyze(clip[0])  # warm-up
        rates, found = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            if tracking:
                results = list(analyzer.track(clip))
            else:
                results = [analyzer.analyze(f) for f in clip]
            rates.append(len(clip) / (time.perf_counter() - start))
            found = sum(len(r) == 1 for r in results)
        print(f"| {label} | 640x480 | {found}/{len(clip)} | {statistics.median(rates):.0f} "
              f"| {runs} x {len(clip)} frames |")
        sys.stdout.flush()


# -- threshold measurements ------------------------------------------------------------------
def measure() -> None:
    analyzer = LocalAnalyzer().load()
    print("| photo | variant | faces | Confidence | EAR | mouth gap | mouth width | corner lift "
          "| Laplacian var | Sharpness | Brightness | Roll | Yaw | Pitch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, photo in photos().items():
        for label, image in variants(photo).items():
            rgb, gray = analyzer._prepare(image)
            found = analyzer._detect(rgb)
            if not found:
                print(f"| {name} | {label} | 0 | | | | | | | | | | | |")
                continue
            rect, score = found[0]
            pts = analyzer._fit(gray, rect)
            face = analyzer._describe(gray, pts, score)
            ear = (geo.eye_aspect_ratio(pts[36:42]) + geo.eye_aspect_ratio(pts[42:48])) / 2
            gap, width, lift = geo.mouth_measures(pts)
            sharp = face.quality.sharpness
            var = geo.SHARPNESS_HALF * sharp / (100 - sharp)
            p = face.pose
            print(f"| {name} | {label} | {len(found)} | {face.confidence:.1f} | {ear:.3f} "
                  f"| {gap:.3f} | {width:.3f} | {lift:.3f} | {var:.0f} | {sharp:.0f} "
                  f"| {face.quality.brightness:.0f} | {p.roll:+.1f} | {p.yaw:+.1f} "
                  f"| {p.pitch:+.1f} |")
    print()
    print("| photo | synthetic change | faces | EAR | EyesOpen | pupils at the eye centres |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, photo in photos().items():
        rgb, gray = analyzer._prepare(photo)
        closed = close_eyes(photo, analyzer._fit(gray, analyzer._detect(rgb)[0][0]))
        rgb, gray = analyzer._prepare(closed)
        found = analyzer._detect(rgb)
        pts = analyzer._fit(gray, found[0][0])
        face = analyzer._describe(gray, pts, found[0][1])
        ear = (geo.eye_aspect_ratio(pts[36:42]) + geo.eye_aspect_ratio(pts[42:48])) / 2
        pupils = all(_pupil_at_centre(face, side) for side in ("left", "right"))
        print(f"| {name} | eyes painted closed | {len(found)} | {ear:.3f} "
              f"| {face.eyes_open.value} | {pupils} |")
    print()
    print("| photo | synthetic turn (nose shift, face widths) | Yaw | Yaw mirrored |")
    print("| --- | --- | --- | --- |")
    for name, photo in photos().items():
        face = analyzer.analyze(photo)[0]
        h, w = photo.shape[:2]
        nose = face.landmark_px("nose", w, h)
        size = (face.bounding_box.width * w, face.bounding_box.height * h)
        for shift in (-0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15):
            turned = turn(photo, nose, size, shift)
            yaw = analyzer.analyze(turned)[0].pose.yaw
            mirrored = analyzer.analyze(np.ascontiguousarray(turned[:, ::-1]))[0].pose.yaw
            print(f"| {name} | {shift:+.2f} | {yaw:+.1f} | {mirrored:+.1f} |")


def _pupil_at_centre(face, side: str) -> bool:
    pupil, centre = face.landmark(f"{side}Pupil"), face.landmark(f"eye{side.title()}")
    return pupil is not None and (pupil.x, pupil.y) == (centre.x, centre.y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per mode (default 5)")
    parser.add_argument("--frames", type=int, default=120, help="frames per run (default 120)")
    parser.add_argument("--measure", action="store_true",
                        help="print the threshold measurements instead of timing")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.frames < 1:
        parser.error("--runs and --frames must be at least 1")
    if args.measure:
        measure()
    else:
        bench(args.runs, args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
