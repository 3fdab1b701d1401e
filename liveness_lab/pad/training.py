"""Training data and training of the PAD baseline, rendered from the two bundled photos.

Live-like frames: :class:`~liveness_lab.synth.render.HeadRig` turns a photo in
depth (2.5D warp) with a random pose, face size and camera exposure.
Attack frames: the same photo as a planar sheet (:func:`~liveness_lab.synth.render.make_sheet`)
with randomised print artifacts (margin, blur, washed-out contrast, gamma) or
screen artifacts (bezel, moire, glare, lifted blacks), moved, rolled and
tilted in front of the camera over a random room. Every frame gets sensor
noise and a JPEG round trip (quality 70..95), as uploaded frames do. The face
crop comes from the renderer's own landmarks (the local analyzer's box rule).

Everything is seeded: :func:`train_baseline` builds the same model everywhere. The
``astronaut`` photo comes with scikit-image (a dev dependency); pass
``photos=("grace_hopper",)`` where it is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .features import FEATURE_NAMES, face_crop, texture_features
from .model import PadModel

__all__ = ["TrainingSet", "render_training_set", "train_baseline", "fit_model",
           "evaluate_model"]

#: version of the training recipe, stored in the model's metadata
RECIPE = 1


@dataclass(frozen=True)
class TrainingSet:
    """Feature rows ``X``, labels ``y`` (1 = live), and per row the photo and the kind."""

    X: np.ndarray
    y: np.ndarray
    photo: np.ndarray
    kind: np.ndarray  # "live", "print", "screen"


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    import cv2
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _exposure(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera's auto exposure: random gain and gamma (live frames vary too)."""
    gain, gamma = rng.uniform(0.85, 1.15), rng.uniform(0.9, 1.1)
    f = np.power(rgb.astype(np.float32) / 255.0, gamma) * gain
    return np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _artifacts(kind: str, rng: np.random.Generator) -> Any:
    from ..synth.render import Artifacts, Border, Glare, Moire
    if kind == "print":
        return Artifacts(border=Border("print", float(rng.uniform(0.03, 0.08))),
                         blur_sigma=float(rng.uniform(0.3, 1.2)),
                         contrast=float(rng.uniform(0.7, 0.95)),
                         gamma=float(rng.uniform(0.95, 1.25)))
    glare = Glare(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.15, 0.6)),
                  float(rng.uniform(0.04, 0.12)), float(rng.uniform(0.2, 0.7))) \
        if rng.random() < 0.7 else None
    return Artifacts(border=Border("screen", float(rng.uniform(0.02, 0.06))),
                     moire=Moire(float(rng.uniform(4.0, 14.0)), float(rng.uniform(0, 180)),
                                 float(rng.uniform(0.05, 0.2))),
                     glare=glare, contrast=float(rng.uniform(0.7, 0.92)),
                     gamma=float(rng.uniform(0.8, 1.0)))


def _frames(photo: str, kind: str, n: int, seed: int) -> Iterator[np.ndarray]:
    """``n`` face crops of ``photo`` rendered as ``kind`` ("live", "print" or "screen")."""
    from ..analyzers._geometry import face_box_68
    from ..synth.render import (Camera, FacePlacement, HeadPose, HeadRig, SheetPose, load_photo,
                                make_sheet, photo_landmarks, render_background, render_planar,
                                sheet_homography)
    from ..synth._camera import add_sensor_noise

    image, lms = load_photo(photo), photo_landmarks(photo)
    camera = Camera(640, 480, 60.0)
    rng = np.random.default_rng([seed, RECIPE, ("live", "print", "screen").index(kind),
                                 sum(map(ord, photo))])
    for _ in range(n):
        width = float(rng.uniform(110.0, 260.0))
        x, y = float(rng.uniform(240, 400)), float(rng.uniform(190, 290))
        if kind == "live":
            rig = HeadRig(image, lms, camera, FacePlacement(x, y, width))
            pose = HeadPose(float(rng.uniform(-25, 25)), float(rng.uniform(-12, 12)),
                            float(rng.uniform(-10, 10)))
            frame = rig.render(pose)
            points = rig.landmarks(pose)
            frame = _exposure(frame, rng)
        else:
            sheet = make_sheet(image, tuple(float(v) for v in (lms.min(0) + lms.max(0)) / 2),
                               _artifacts(kind, rng))
            scale = width / float(np.linalg.norm(lms[16] - lms[0]))
            pose = SheetPose(x, y, scale, float(rng.uniform(-15, 15)),
                             float(rng.uniform(-25, 25)), float(rng.uniform(-30, 30)))
            bg = render_background(camera, None, int(rng.integers(2 ** 31)))
            frame = render_planar(sheet, pose, camera, bg)
            hom = sheet_homography(sheet, pose, camera)
            pts = np.column_stack([lms + np.asarray(sheet.offset, float), np.ones(len(lms))])
            q = pts @ hom.T
            points = q[:, :2] / q[:, 2:3]
        frame = add_sensor_noise(frame, float(rng.uniform(1.0, 3.0)), rng)
        frame = _jpeg(frame, int(rng.integers(70, 96)))
        crop = face_crop(frame, face_box_68(points))
        if crop is not None:
            yield crop


def render_training_set(*, photos: Sequence[str] = ("grace_hopper", "astronaut"),
                        n_per_kind: int = 120, seed: int = 0) -> TrainingSet:
    """Feature rows of ``n_per_kind`` live, print and screen frames for each photo.

    Live frames are weighted as much as both attack kinds together (``2 * n_per_kind``).
    """
    rows, labels, photo_of, kinds = [], [], [], []
    for photo in photos:
        for kind, count in (("live", 2 * n_per_kind), ("print", n_per_kind),
                            ("screen", n_per_kind)):
            for crop in _frames(photo, kind, count, seed):
                rows.append(texture_features(crop))
                labels.append(1 if kind == "live" else 0)
                photo_of.append(photo)
                kinds.append(kind)
    return TrainingSet(np.asarray(rows), np.asarray(labels), np.asarray(photo_of),
                       np.asarray(kinds))


def fit_model(data: TrainingSet, *, C: float = 0.5, metadata: dict | None = None) -> PadModel:
    """A :class:`PadModel` fitted on ``data`` (scikit-learn logistic regression, L2)."""
    from sklearn.linear_model import LogisticRegression

    mean = data.X.mean(axis=0)
    scale = data.X.std(axis=0)
    scale[scale <= 1e-12] = 1.0
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit((data.X - mean) / scale, data.y)
    return PadModel(FEATURE_NAMES, mean, scale, clf.coef_[0], float(clf.intercept_[0]),
                    dict(metadata or {}))


def train_baseline(*, n_per_kind: int = 120, seed: int = 0,
                   photos: Sequence[str] = ("grace_hopper", "astronaut"), C: float = 0.5
                   ) -> PadModel:
    """Render the training frames and fit the baseline (deterministic for ``seed``)."""
    data = render_training_set(photos=photos, n_per_kind=n_per_kind, seed=seed)
    return fit_model(data, C=C, metadata={
        "recipe": RECIPE, "seed": seed, "n_per_kind": n_per_kind, "photos": list(photos),
        "frames": int(len(data.y)), "C": C,
        "note": "trained on synthetic renders of two photos only; see docs/hardening.md"})


def evaluate_model(model: PadModel, data: TrainingSet, threshold: float = 0.5
                   ) -> dict[str, Any]:
    """Error rates of ``model`` on ``data`` at ``threshold``, per kind of frame."""
    scores = model.predict(data.X)
    out: dict[str, Any] = {}
    for kind in ("live", "print", "screen"):
        sel = data.kind == kind
        if not sel.any():
            continue
        s = scores[sel]
        wrong = (s < threshold) if kind == "live" else (s >= threshold)
        out[kind] = {"n": int(sel.sum()), "errors": int(wrong.sum()),
                     "error_rate": float(wrong.mean()), "mean_score": float(s.mean()),
                     "score_quantiles": [float(v) for v in np.quantile(s, [0.05, 0.5, 0.95])]}
    return out
