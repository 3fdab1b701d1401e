"""Synthetic camera frames from real face photos, for challenge sessions.

Two kinds of motion, from the same photo:

* **head turn** (a stand-in for a live person): a 2.5D mesh warp turns the
  face in depth, so the nose moves relative to the face outline with
  parallax (:class:`HeadRig`);
* **planar motion** (presentation attacks): the photo as a printed sheet or a
  screen is moved, rolled or tilted rigidly in front of the camera, with
  optional print / screen artifacts (:func:`render_planar`).

:func:`render_nose_session` renders a whole NOSE challenge session (frames
with timestamps) and :func:`write_session_images` writes it as JPEG frames
plus a session document (without faces: ``liveness-lab analyze`` fills them).
Everything is deterministic for a seed. See ``docs/synthetic-frames.md``.

Example::

    from liveness_lab.synth.render import render_nose_session, write_session_images
    frames = render_nose_session(params, mode="head_turn", seed=3)
    write_session_images("out", "s-0001", {"type": "NOSE", "params": params}, frames,
                         "bona_fide", None)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, Union

import numpy as np

from ._cli import add_render_command
from ._mesh import (MAX_PITCH_DEG, MAX_YAW_DEG, NOSE_TIP, FacePlacement, HeadPose, HeadRig,
                    landmark_depths)
from ._photos import PHOTO_NAMES, face_landmarks, load_photo, photo_landmarks
from ._artifacts import Artifacts, Border, Glare, Moire
from ._camera import Camera, _finite, add_sensor_noise
from ._planar import (Background, Sheet, SheetPose, make_sheet, render_background, render_planar,
                      sheet_homography)

__all__ = [
    "PHOTO_NAMES", "PHOTO_SPLITS", "load_photo", "photo_landmarks", "face_landmarks",
    "Camera", "Background", "Moire", "Glare", "Border", "Artifacts", "SheetPose", "Sheet",
    "make_sheet", "render_background", "render_planar", "sheet_homography",
    "HeadPose", "FacePlacement", "HeadRig", "NOSE_TIP", "landmark_depths",
    "Tremor", "MODES", "DEFAULT_PAI_SPECIES", "NOSE_PARAM_KEYS", "NoseSessionPlan",
    "plan_nose_session", "render_plan", "render_nose_session", "write_session_images",
    "render_nose_sessions", "add_image_sessions", "add_render_command",
]

Mode = Literal["head_turn", "photo_moved", "photo_tilted", "photo_rolled", "photo_static"]
#: session modes of :func:`render_nose_session`
MODES: tuple[str, ...] = ("head_turn", "photo_moved", "photo_tilted", "photo_rolled",
                          "photo_static")
#: a suggested ``pai_species`` per mode (``None``: bona fide)
DEFAULT_PAI_SPECIES: Mapping[str, str | None] = {
    "head_turn": None, "photo_moved": "print_moved", "photo_tilted": "print_tilted",
    "photo_rolled": "print_rolled", "photo_static": "print_static"}
NOSE_PARAM_KEYS: tuple[str, ...] = ("imageWidth", "imageHeight", "areaLeft", "areaTop",
                                    "areaWidth", "areaHeight", "minFaceAreaPercent", "noseLeft",
                                    "noseTop", "noseWidth", "noseHeight")
DEFAULT_START_MS = 1_700_000_000_000
_HOLD_S = 0.5
_YAW_LIMIT = 28.0           # the aim stays below the rig's hard limits
_PITCH_LIMIT = 16.0
_TILT_Y_DEG = 25.0          # photo_tilted: sheet turn toward the target side
_TILT_X_DEG = 10.0
_ROLL_DEG = 15.0            # photo_rolled


@dataclass(frozen=True)
class Tremor:
    """Small smooth pseudo-random motion: hand tremor of a held photo, sway of a head.

    ``shift_px`` is the largest translation in frame pixels, ``angle_deg`` the
    largest rotation in degrees; each axis is the mean of three sinusoids of
    1.5 to 9 Hz with frequencies and phases drawn from the seed.
    """

    shift_px: float = 1.5
    angle_deg: float = 0.4

    def __post_init__(self) -> None:
        for name in ("shift_px", "angle_deg"):
            v = getattr(self, name)
            _finite(v, f"Tremor.{name}")
            if v < 0:
                raise ValueError(f"Tremor.{name} must be >= 0, got {v!r}")

    def offsets(self, t_s: np.ndarray, seed: int) -> np.ndarray:
        """``(len(t_s), 5)`` offsets: dx, dy (px) and roll, tilt_x, tilt_y / pitch, yaw (deg)."""
        rng = np.random.default_rng([seed, 0x7E40])
        t = np.asarray(t_s, dtype=np.float64)[:, None]
        out = np.empty((t.shape[0], 5))
        for axis in range(5):
            freqs = rng.uniform(1.5, 9.0, 3)
            phases = rng.uniform(0, 2 * math.pi, 3)
            wave = np.sin(2 * math.pi * freqs * t + phases).mean(axis=1)
            out[:, axis] = wave * (self.shift_px if axis < 2 else self.angle_deg)
        return out


@dataclass(frozen=True, eq=False)
class NoseSessionPlan:
    """Everything :func:`render_plan` needs, decided by :func:`plan_nose_session`.

    ``timestamps`` are ms since the Unix epoch; ``poses`` one :class:`HeadPose`
    (mode ``head_turn``) or :class:`SheetPose` (``photo_*``) per frame;
    ``target`` the nose box centre and ``nose_final`` where the nose tip of the
    last pose lands without tremor (frame pixels).
    """

    mode: str
    photo: str
    camera: Camera
    seed: int
    timestamps: tuple[int, ...]
    poses: tuple[Union[HeadPose, SheetPose], ...]
    target: tuple[float, float]
    nose_final: tuple[float, float]
    noise_sigma: float
    rig: HeadRig | None = None
    sheet: Sheet | None = None
    background: np.ndarray | None = None

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the rendering, for a session's ``metadata``."""
        last = self.poses[-1]
        return {"generator": "liveness_lab.synth.render", "mode": self.mode, "photo": self.photo,
                "seed": self.seed, "camera_hfov_deg": self.camera.hfov_deg,
                "final_pose": {k: round(float(v), 3) for k, v in vars(last).items()},
                "nose_target_px": [round(v, 2) for v in self.target],
                "nose_final_px": [round(v, 2) for v in self.nose_final]}


def _check_params(params: Mapping[str, Any]) -> None:
    missing = [k for k in NOSE_PARAM_KEYS if k not in params]
    if missing:
        raise ValueError(f"NOSE params are missing {', '.join(missing)}; expected the keys "
                         f"{', '.join(NOSE_PARAM_KEYS)}")
    for k in NOSE_PARAM_KEYS:
        v = params[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"NOSE param {k} must be a number (pixels), got {v!r}")
    if params["imageWidth"] <= 0 or params["imageHeight"] <= 0:
        raise ValueError(f"imageWidth and imageHeight must be positive, got "
                         f"{params['imageWidth']} x {params['imageHeight']}")


def _ease(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _aim_head(rig: HeadRig, target: np.ndarray) -> HeadPose:
    """A pose (yaw, pitch and a shift) that puts the nose tip on ``target``."""
    d = target - rig.nose_tip(HeadPose())
    lever = rig.pivot_depth_px
    yaw = math.degrees(math.asin(float(np.clip(0.8 * d[0] / lever, -1, 1))))
    pitch = -math.degrees(math.asin(float(np.clip(0.6 * d[1] / lever, -1, 1))))
    yaw = float(np.clip(yaw, -_YAW_LIMIT, _YAW_LIMIT))
    pitch = float(np.clip(pitch, -_PITCH_LIMIT, _PITCH_LIMIT))
    pose = HeadPose(yaw, pitch)
    for _ in range(4):
        miss = target - rig.nose_tip(pose)
        pose = HeadPose(yaw, pitch, 0.0, float(pose.shift_x + miss[0]),
                        float(pose.shift_y + miss[1]))
    return pose


def _sheet_nose(sheet: Sheet, pose: SheetPose, camera: Camera, nose_photo: np.ndarray
                ) -> np.ndarray:
    h = sheet_homography(sheet, pose, camera)
    p = h @ np.array([nose_photo[0] + sheet.offset[0], nose_photo[1] + sheet.offset[1], 1.0])
    return p[:2] / p[2]


def _aim_sheet(sheet: Sheet, neutral: SheetPose, mode: str, camera: Camera,
               nose_photo: np.ndarray, target: np.ndarray) -> SheetPose:
    d = target - _sheet_nose(sheet, neutral, camera, nose_photo)
    side = 1.0 if d[0] >= 0 else -1.0
    if mode == "photo_static":
        return neutral
    if mode == "photo_moved":
        return SheetPose(float(neutral.x + d[0]), float(neutral.y + d[1]), neutral.scale)
    if mode == "photo_tilted":
        pose = SheetPose(neutral.x, neutral.y, neutral.scale, 0.0,
                         -_TILT_X_DEG * float(np.clip(d[1] / 40, -1, 1)), _TILT_Y_DEG * side)
    else:  # photo_rolled
        pose = SheetPose(neutral.x, neutral.y, neutral.scale, _ROLL_DEG * side)
    for _ in range(4):
        miss = target - _sheet_nose(sheet, pose, camera, nose_photo)
        pose = SheetPose(float(pose.x + miss[0]), float(pose.y + miss[1]), pose.scale,
                         pose.roll_deg,
                         pose.tilt_x_deg, pose.tilt_y_deg)
    return pose


def plan_nose_session(params: Mapping[str, Any], *, photo: str = "grace_hopper",
                      mode: Mode = "head_turn", seed: int = 0, fps: float = 10,
                      duration_s: float = 2.5, artifacts: Artifacts | None = None,
                      face_fill: float = 0.62, hfov_deg: float = 60.0,
                      background: Background | None = None, tremor: Tremor | None = None,
                      noise_sigma: float = 2.0, start_ms: int = DEFAULT_START_MS
                      ) -> NoseSessionPlan:
    """Decide the poses of a NOSE session (see :func:`render_nose_session` for the arguments)."""
    _check_params(params)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    _finite(fps, "fps")
    _finite(duration_s, "duration_s")
    if fps <= 0 or duration_s * fps < 3:
        raise ValueError(f"need fps > 0 and at least 3 frames, got fps={fps!r}, "
                         f"duration_s={duration_s!r}")
    if duration_s < 2 * _HOLD_S + 2 / fps:
        raise ValueError(f"duration_s must leave time to move between the two {_HOLD_S} s "
                         f"holds: at least {2 * _HOLD_S + 2 / fps:g} s at {fps:g} fps, "
                         f"got {duration_s!r}")
    _finite(face_fill, "face_fill")
    if not 0.2 <= face_fill <= 1.0:
        raise ValueError(f"face_fill (face width / area box width) must be in 0.2..1, "
                         f"got {face_fill!r}")
    if mode == "head_turn" and artifacts is not None:
        raise ValueError("artifacts describe a presented photo or screen; they apply to the "
                         "photo_* modes, not to head_turn")
    camera = Camera(int(params["imageWidth"]), int(params["imageHeight"]), hfov_deg)
    image, lms = load_photo(photo), photo_landmarks(photo)
    placement = FacePlacement(params["areaLeft"] + params["areaWidth"] / 2,
                              params["areaTop"] + params["areaHeight"] / 2,
                              face_fill * params["areaWidth"])
    target = np.array([params["noseLeft"] + params["noseWidth"] / 2,
                       params["noseTop"] + params["noseHeight"] / 2], dtype=np.float64)
    n = int(round(duration_s * fps))
    t = np.arange(n) / fps
    timestamps = tuple(int(start_ms + round(1000 * ti)) for ti in t)
    s = _ease((t - _HOLD_S) / (duration_s - 2 * _HOLD_S))
    jitter = (tremor or (Tremor(0.4, 0.15) if mode == "head_turn" else Tremor())).offsets(t, seed)
    rig = sheet = bg = None
    poses: list[Union[HeadPose, SheetPose]] = []
    if mode == "head_turn":
        rig = HeadRig(image, lms, camera, placement)
        final = _aim_head(rig, target)
        nose_final = rig.nose_tip(final)
        for si, (dx, dy, droll, dpitch, dyaw) in zip(s, jitter):
            p = HeadPose().lerp(final, float(si))
            poses.append(HeadPose(float(np.clip(p.yaw + dyaw, -MAX_YAW_DEG, MAX_YAW_DEG)),
                                  float(np.clip(p.pitch + dpitch, -MAX_PITCH_DEG, MAX_PITCH_DEG)),
                                  float(p.roll + droll), float(p.shift_x + dx),
                                  float(p.shift_y + dy)))
    else:
        scale, _ = placement.similarity(lms)
        anchor = tuple(float(v) for v in (lms.min(axis=0) + lms.max(axis=0)) / 2)
        sheet = make_sheet(image, anchor, artifacts)
        bg = render_background(camera, background, seed)
        neutral = SheetPose(float(placement.x), float(placement.y), float(scale))
        final = _aim_sheet(sheet, neutral, mode, camera, lms[NOSE_TIP], target)
        nose_final = _sheet_nose(sheet, final, camera, lms[NOSE_TIP])
        for si, (dx, dy, droll, dtx, dty) in zip(s, jitter):
            si = float(si)
            poses.append(SheetPose(
                float(neutral.x + (final.x - neutral.x) * si + dx),
                float(neutral.y + (final.y - neutral.y) * si + dy), float(final.scale),
                float(final.roll_deg * si + droll), float(final.tilt_x_deg * si + dtx),
                float(final.tilt_y_deg * si + dty)))
    return NoseSessionPlan(mode, photo, camera, seed, timestamps, tuple(poses),
                           (float(target[0]), float(target[1])),
                           (float(nose_final[0]), float(nose_final[1])), noise_sigma, rig, sheet,
                           bg)


def render_plan(plan: NoseSessionPlan) -> list[tuple[int, np.ndarray]]:
    """Render every frame of a plan: a list of ``(timestamp_ms, rgb_uint8_frame)``."""
    out = []
    for k, (ts, pose) in enumerate(zip(plan.timestamps, plan.poses)):
        rng = np.random.default_rng([plan.seed, k, 0x5E55])
        if plan.rig is not None:
            frame = add_sensor_noise(plan.rig.render(pose), plan.noise_sigma, rng)
        else:
            frame = render_planar(plan.sheet, pose, plan.camera, plan.background,
                                  noise_sigma=plan.noise_sigma, rng=rng)
        out.append((ts, frame))
    return out


def render_nose_session(params: Mapping[str, Any], *, photo: str = "grace_hopper",
                        mode: Mode = "head_turn", seed: int = 0, fps: float = 10,
                        duration_s: float = 2.5, artifacts: Artifacts | None = None,
                        **options: Any) -> list[tuple[int, np.ndarray]]:
    """Render a NOSE challenge session from a real photo.

    The face first appears centred in the area box, ``face_fill`` of its width,
    holds 0.5 s, moves smoothly (ease in and out) so that the nose tip lands on
    the centre of the nose box, and holds 0.5 s.

    Parameters
    ----------
    params:
        NOSE params in pixels (``imageWidth, imageHeight, areaLeft, areaTop,
        areaWidth, areaHeight, minFaceAreaPercent, noseLeft, noseTop,
        noseWidth, noseHeight``); the frame size is ``imageWidth x imageHeight``.
    photo:
        A name of :data:`PHOTO_NAMES`.
    mode:
        ``"head_turn"``: the head turns in depth (yaw toward the target side,
        pitch toward its height) plus a small shift (bona fide stand-in);
        ``"photo_moved"``: the photo is translated rigidly; ``"photo_tilted"``:
        it is turned 25 degrees about its vertical axis toward the target side
        and moved; ``"photo_rolled"``: rotated 15 degrees in its plane and moved;
        ``"photo_static"``: held still (the nose never reaches the target).
    seed:
        Seeds tremor, background and sensor noise; same seed, same frames.
    fps, duration_s:
        Frame rate and session length (at least 1 s plus two frames).
    artifacts:
        Print / screen artifacts of the presented photo (``photo_*`` modes only).
    **options:
        ``face_fill`` (0.62), ``hfov_deg`` (60), ``background`` (:class:`Background`),
        ``tremor`` (:class:`Tremor`), ``noise_sigma`` (2.0 grey levels),
        ``start_ms`` (timestamp of the first frame).

    Returns
    -------
    list of (int, numpy.ndarray)
        ``(timestamp_ms, frame)`` with RGB ``uint8`` frames of shape ``(H, W, 3)``.
    """
    plan = plan_nose_session(params, photo=photo, mode=mode, seed=seed, fps=fps,
                             duration_s=duration_s, artifacts=artifacts, **options)
    return render_plan(plan)


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def write_session_images(out_dir: str | Path, session_id: str, challenge: Mapping[str, Any],
                         frames: Sequence[tuple[int, np.ndarray]], label: str,
                         pai_species: str | None, *, subject_id: str | None = None,
                         split: str | None = None, metadata: Mapping[str, Any] | None = None,
                         jpeg_quality: int = 90):
    """Write frames as JPEGs and a session document without faces.

    Layout: ``OUT_DIR/SESSION_ID/session.json`` and
    ``OUT_DIR/SESSION_ID/frames/000001.jpg ...``; each frame's ``image`` is
    relative to the session file, and no frame has ``faces`` (run
    ``liveness-lab analyze`` to fill them).

    Parameters
    ----------
    challenge:
        ``{"type": "NOSE", "params": {...}}``.
    frames:
        ``(timestamp_ms, rgb_uint8_frame)`` pairs, e.g. from :func:`render_nose_session`.
    label, pai_species:
        ``"bona_fide"`` with ``None``, or ``"attack"`` with a species name.

    Returns
    -------
    liveness_lab.sessions.Session
        The session written, with ``source`` set to the JSON path (so
        :func:`liveness_lab.sessions.write_dataset` keeps it in place).
    """
    import cv2

    from ..sessions import LABELS, Frame, Session, write_session

    if not isinstance(session_id, str) or not _SAFE_ID.match(session_id):
        raise ValueError(f"session_id must be letters, digits, '.', '_' or '-' (it names a "
                         f"folder), got {session_id!r}")
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    if label == "bona_fide" and pai_species is not None:
        raise ValueError(f"a bona fide session has no pai_species, got {pai_species!r}")
    if label == "attack" and (not isinstance(pai_species, str) or not pai_species):
        raise ValueError(f"an attack session needs a pai_species name, got {pai_species!r}")
    if not isinstance(challenge, Mapping) or not isinstance(challenge.get("type"), str) \
            or not isinstance(challenge.get("params"), Mapping):
        raise ValueError("challenge must be a mapping with a 'type' string and a 'params' mapping")
    if not frames:
        raise ValueError("a session needs at least one frame")
    if isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, int) \
            or not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be an integer 1..100, got {jpeg_quality!r}")
    root = Path(out_dir) / session_id
    (root / "frames").mkdir(parents=True, exist_ok=True)
    out_frames = []
    for i, (ts, rgb) in enumerate(frames, start=1):
        if isinstance(ts, bool) or not isinstance(ts, (int, np.integer)) or ts < 0:
            raise ValueError(f"frame {i}: timestamp must be a non-negative integer (ms), "
                             f"got {ts!r}")
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
                or rgb.shape[2] != 3:
            raise ValueError(f"frame {i}: expected an RGB uint8 array (H, W, 3), got "
                             f"{getattr(rgb, 'dtype', type(rgb).__name__)} "
                             f"{getattr(rgb, 'shape', '')}")
        rel = f"frames/{i:06d}.jpg"
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:  # pragma: no cover - cv2 encodes any uint8 image
            raise ValueError(f"frame {i}: JPEG encoding failed")
        (root / rel).write_bytes(buf.tobytes())
        out_frames.append(Frame(int(ts), None, rel))
    path = root / "session.json"
    session = Session(session_id, str(challenge["type"]), dict(challenge["params"]),
                      tuple(out_frames), label, pai_species, subject_id, split,
                      dict(metadata or {}), {}, str(path))
    write_session(session, path, indent=1)
    return session


#: (mode, label) cycle of :func:`render_nose_sessions`: half bona fide head turns, half attacks
#: the split of each packaged photo's sessions (splits are by subject: never both)
PHOTO_SPLITS: Mapping[str, str] = {name: ("dev", "test")[k % 2]
                                   for k, name in enumerate(PHOTO_NAMES)}

_SESSION_CYCLE = ("head_turn", "photo_moved", "head_turn", "photo_tilted", "head_turn",
                  "photo_rolled")


def render_nose_sessions(out_dir: str | Path, n: int, *, seed: int = 0,
                         image_size: tuple[int, int] = (640, 480), fps: float = 10,
                         progress: Any = None) -> list:
    """Render ``n`` image-level NOSE sessions from the packaged photos into ``out_dir``.

    Modes cycle through bona fide head turns and moved / tilted / rolled photos
    (species from :data:`DEFAULT_PAI_SPECIES`), alternating the two photos; each session
    gets its own random target (NOSE params drawn with ``SeededRandom``), its subject is
    the photo, and splits are by subject (:data:`PHOTO_SPLITS`: one photo's sessions in
    ``dev``, the other's in ``test``). Frames
    have images and no faces (analyze them, or let the evaluation analyze them).

    Returns the :class:`~liveness_lab.sessions.Session` objects written (``source`` set),
    ready for :func:`liveness_lab.sessions.write_dataset`.
    """
    from ..challenges import SeededRandom, default_registry

    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    nose = default_registry().get("NOSE")
    width, height = image_size
    sessions = []
    for i in range(n):
        mode = _SESSION_CYCLE[i % len(_SESSION_CYCLE)]
        species = DEFAULT_PAI_SPECIES[mode]
        photo = PHOTO_NAMES[(i // len(_SESSION_CYCLE)) % len(PHOTO_NAMES)]
        params = nose.generate_params({"imageWidth": width, "imageHeight": height},
                                      rng=SeededRandom(f"render-sessions-{seed}-{i}"))
        frames = render_nose_session(params, photo=photo, mode=mode, seed=seed + i, fps=fps,
                                     duration_s=2.5)
        label = "bona_fide" if species is None else "attack"
        sessions.append(write_session_images(
            out_dir, f"img-nose-{species or label}-{i:03d}", {"type": "NOSE", "params": params},
            frames, label, species, subject_id=f"photo-{photo}",
            split=PHOTO_SPLITS[photo],
            metadata={"level": "image", "renderer": "liveness_lab.synth.render", "mode": mode,
                      "photo": photo, "seed": seed + i}))
        if progress is not None:
            progress(1)
    return sessions


def add_image_sessions(dataset_dir: str | Path, n: int, *, seed: int = 0,
                       progress: Any = None) -> list:
    """Render ``n`` image-level NOSE sessions into ``DATASET/images/`` and list them in its
    ``manifest.csv`` (:func:`render_nose_sessions`); returns the sessions written."""
    from ..sessions import ManifestEntry, read_manifest, write_manifest

    root = Path(dataset_dir)
    entries = read_manifest(root)
    known = {e.session_id for e in entries}
    sessions = render_nose_sessions(root / "images", n, seed=seed, progress=progress)
    for s in sessions:
        if s.id in known:
            raise ValueError(f"{root}: session {s.id!r} is already in manifest.csv")
        rel = Path(s.source).resolve().relative_to(root.resolve()).as_posix()
        entries.append(ManifestEntry(s.id, rel, s.label, s.pai_species, s.subject_id, s.split,
                                     s.challenge_type))
    write_manifest(root, entries)
    return sessions

