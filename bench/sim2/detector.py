"""A stand-in for Amazon Rekognition DetectFaces: image-level facts in, ``FaceDetail`` JSON out.

The detector sees only what a camera frame shows: the landmark positions in the image
(averaged over the exposure, i.e. motion-blurred), the visible eyelid and lip openings, the
visible expression and gaze, and how blurred the face is. It does not know whether the face is
a person, a print, a screen or a mask, and it does not know the person's own proportions:

* **landmarks** get localisation errors proportional to the face size (a fraction of the
  inter-ocular distance): mostly a systematic offset per landmark for the session, plus
  frame-to-frame jitter that grows in dim light, with pixel quantisation and blur; glare on glasses washes
  out the eyelids, whose landmarks then fall back toward an average open eye;
* **pose** is *estimated* from the noisy landmarks by fitting the average face
  (:func:`~bench.sim2.face.mean_geometry`) under a weak-perspective camera, so that people
  whose proportions differ from the average get a small systematic pose error, as with any
  model-based estimator, plus 1.5 degrees of noise;
* **EyesOpen / MouthOpen / Smile** are logistic classifiers of the visible eye aperture
  (lid distance / eye width), the visible lip gap and the smile intensity, with a per-session
  bias and per-frame noise - so they err near their thresholds, on narrow eyes, under glare
  and on blurred half-closed lids;
* ``BoundingBox`` follows the jawline, brows and chin; ``Confidence`` drops with extreme pose
  and blur; faces mostly outside the image, too small or turned beyond 70 degrees are missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera
from .face import INDEX, LANDMARKS, RIGID, mean_geometry, pose_from_rotation

__all__ = ["Observation", "ClassifierBias", "detect"]

_MEAN = mean_geometry().points
_EYES = (("leftEyeUp", "leftEyeDown", "leftEyeLeft", "leftEyeRight"),
         ("rightEyeUp", "rightEyeDown", "rightEyeLeft", "rightEyeRight"))


@dataclass(frozen=True)
class Observation:
    """One face in one frame as the image shows it.

    ``px`` (30, 2): landmark pixels averaged over the exposure; ``blur_px``: mean motion of the
    landmarks during the exposure (pixels); ``openness`` (2,), ``gaze`` (2,), ``mouth_gap_mm``,
    ``smile``: exposure-averaged visible state; ``mouth_gap_ratio``: lip gap / mouth width;
    ``glare``: probability that glasses wash the eyes out in a frame.
    """

    px: np.ndarray
    blur_px: float
    openness: np.ndarray
    gaze: np.ndarray
    mouth_gap_ratio: float
    smile: float
    glare: float


@dataclass(frozen=True)
class ClassifierBias:
    """How the detector errs on one face for a whole session: offsets (logits) of the
    attribute classifiers, and each landmark's systematic offset (``landmarks``: (30, 2) in
    units of ``Camera.landmark_noise`` x inter-ocular distance; ``None``: no offset).

    A detector is deterministic: the same face in the same light gives the same errors, so
    most of its landmark error is systematic for a face; only image noise (more in dim light)
    and motion blur make it jitter from frame to frame.
    """

    eyes: float
    mouth: float
    smile: float
    landmarks: np.ndarray | None = None

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "ClassifierBias":
        return cls(float(rng.normal(0, 0.8)), float(rng.normal(0, 0.8)), float(rng.normal(0, 1.0)),
                   rng.normal(0.0, 1.0, (len(LANDMARKS), 2)))


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _attribute(logit: float) -> dict:
    p = _sigmoid(logit)
    return {"Value": bool(p >= 0.5), "Confidence": round(100.0 * max(p, 1.0 - p), 3)}


_RIGID = list(RIGID)
# least-squares solver of the affine camera (4, 2) that maps the average face to the landmarks
_PINV = np.linalg.pinv(np.hstack([_MEAN[_RIGID], np.ones((len(_RIGID), 1))]))


def _estimate_pose(px: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll of the average face that best explains the landmarks (weak perspective)."""
    sol = _PINV @ px[_RIGID]  # (4, 2): affine camera
    m = sol[:3].T  # (2, 3)
    u, _, vt = np.linalg.svd(m, full_matrices=False)
    r12 = u @ vt
    r = np.vstack([r12, np.cross(r12[0], r12[1])])
    return pose_from_rotation(r)


def detect(obs: Observation, camera: Camera, bias: ClassifierBias,
           rng: np.random.Generator) -> dict | None:
    """A Rekognition ``FaceDetail`` (JSON-ready dict) for ``obs``, or ``None`` if missed."""
    w, h = camera.width, camera.height
    px = obs.px.copy()
    iod = float(np.hypot(*(px[INDEX["eyeRight"]] - px[INDEX["eyeLeft"]])))
    glare_now = obs.glare > 0 and rng.random() < obs.glare
    if glare_now:  # washed-out eyes: the lids are placed from an average open eye
        for up, down, left, right in _EYES:
            centre = 0.5 * (px[INDEX[left]] + px[INDEX[right]])
            ew = float(np.hypot(*(px[INDEX[right]] - px[INDEX[left]])))
            prior_up, prior_down = centre[1] - 0.17 * ew, centre[1] + 0.15 * ew
            g = rng.uniform(0.4, 0.9)
            px[INDEX[up], 1] = (1 - g) * px[INDEX[up], 1] + g * prior_up
            px[INDEX[down], 1] = (1 - g) * px[INDEX[down], 1] + g * prior_down
    err = camera.landmark_noise * iod
    if bias.landmarks is not None:
        px = px + err * bias.landmarks
    jitter = err * (0.25 + 0.5 * (1.0 - camera.brightness / 100.0)) + 0.3 + 0.3 * obs.blur_px
    px = px + rng.normal(0.0, jitter, px.shape)
    xs, ys = px[:, 0], px[:, 1]
    brow_top = float(ys[[INDEX["leftEyeBrowUp"], INDEX["rightEyeBrowUp"]]].min())
    chin = float(ys[INDEX["chinBottom"]])
    face_h = max(chin - brow_top, 1.0)
    left, right = float(xs.min()), float(xs.max())
    pad = 0.04 * (right - left)
    box = (left - pad, brow_top - 0.32 * face_h, right - left + 2 * pad, 1.37 * face_h)
    yaw, pitch, roll = _estimate_pose(px)
    inside_w = max(0.0, min(box[0] + box[2], w) - max(box[0], 0.0))
    inside_h = max(0.0, min(box[1] + box[3], h) - max(box[1], 0.0))
    if (inside_w * inside_h < 0.6 * box[2] * box[3] or box[2] < 30 or abs(yaw) > 70
            or abs(pitch) > 60):
        return None
    if rng.random() < 0.003 + 0.002 * obs.blur_px:
        return None
    yaw += rng.normal(0, 1.5)
    pitch += rng.normal(0, 1.5)
    roll += rng.normal(0, 1.0)
    face_w = box[2]
    confidence = 99.99 - 0.02 * max(0.0, abs(yaw) - 35) ** 2 - 0.5 * obs.blur_px / max(
        face_w / 100.0, 0.1) * 0.1
    confidence = float(np.clip(confidence + rng.normal(0, 0.05), 55.0, 99.999))
    # attributes from the visible image
    apertures = []
    for up, down, lft, rgt in _EYES:
        ew = np.hypot(*(obs.px[INDEX[rgt]] - obs.px[INDEX[lft]]))
        apertures.append(abs(obs.px[INDEX[down], 1] - obs.px[INDEX[up], 1]) / max(ew, 1e-6))
    aperture = float(np.mean(apertures))
    eye_logit = 28.0 * (aperture - 0.13) + bias.eyes + rng.normal(0, 0.6)
    if glare_now:
        eye_logit = 0.5 * eye_logit + 1.0 + rng.normal(0, 1.5)
    mouth_logit = 45.0 * (obs.mouth_gap_ratio - 0.07) + bias.mouth + rng.normal(0, 0.6)
    smile_logit = 9.0 * (obs.smile - 0.3) + bias.smile + rng.normal(0, 0.7)
    blur_rel = obs.blur_px / max(face_w, 1.0)
    sharp = 100.0 * np.exp(-40.0 * blur_rel) * min(1.0, face_w / 150.0) ** 0.5
    detail = {
        "BoundingBox": {"Width": box[2] / w, "Height": box[3] / h, "Left": box[0] / w,
                        "Top": box[1] / h},
        "Smile": _attribute(smile_logit),
        "EyesOpen": _attribute(eye_logit),
        "MouthOpen": _attribute(mouth_logit),
        "Landmarks": [{"Type": name, "X": round(float(px[i, 0] / w), 6),
                       "Y": round(float(px[i, 1] / h), 6)} for i, name in enumerate(LANDMARKS)],
        "Pose": {"Roll": roll, "Yaw": yaw, "Pitch": pitch},
        "Quality": {"Brightness": float(np.clip(camera.brightness + rng.normal(0, 3), 0, 100)),
                    "Sharpness": float(np.clip(sharp + rng.normal(0, 3), 0, 100))},
        "Confidence": confidence,
        "EyeDirection": {"Yaw": float(obs.gaze[0] + rng.normal(0, 4.0)),
                         "Pitch": float(obs.gaze[1] + rng.normal(0, 4.0)),
                         "Confidence": float(np.clip(rng.normal(95, 3), 60, 99.99))},
    }
    return _rounded(detail)


def _rounded(value):
    """Floats of the nested dicts rounded to 6 decimals (landmarks are rounded already)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: v if k == "Landmarks" else _rounded(v) for k, v in value.items()}
    return value
