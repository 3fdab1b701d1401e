"""Trace-level synthetic challenge sessions: face detections without images.

A deterministic simulator of people (and presentation attacks) answering NOSE,
POSE, BLINK and HEAD_TURN challenges, at the level of what Amazon Rekognition
``DetectFaces`` reports for each frame (plus, for the hardened bench, simulated
face descriptors and PAD scores, :mod:`._extras`). A generic 3D head (30 Rekognition landmarks, in mm) or
a flat printed photo is moved by a behaviour model, projected through a
pinhole camera and "measured" with detector noise into Rekognition-shaped
``FaceDetail`` JSON. :func:`generate_dataset` writes labelled datasets in the
session format; ``docs/synthetic-traces.md`` describes the model and its limits.

Coordinates and sign conventions
--------------------------------
Camera frame: ``x`` toward the image's right, ``y`` down, ``z`` forward (away
from the camera), millimetres. Frames are the unmirrored camera images that
the client uploads. The head frame has the same axes when the head faces the
camera; a point ``p`` of the head is at ``position + R @ (p - pivot)`` in the
camera frame, ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (:func:`rotation_matrix`).
Landmark names follow Rekognition: ``...Left`` points are on the image's
left for a frontal face (``eyeLeft.X < eyeRight.X``, ``leftEyeLeft.X <
leftEyeRight.X``).

* **Yaw** is positive when the nose tip moves toward the image's **right**
  side (the subject turns toward their own left). This is what the original
  NOSE rule implies: ``rotated_right = yaw > 5`` is the "good" rotation when
  the nose box is in the right half of the image (``noseLeft + 10 >
  imageWidth / 2``), so a live user who brings the nose tip to a target on
  the right of the unmirrored image must report positive yaw. (This differs
  from the wording of :class:`liveness_lab.faces.Pose`; see the dataset docs.)
* **Pitch** is positive when the face looks up (the nose tip moves up).
* **Roll** is positive for a clockwise in-plane rotation in the image.
* Gaze: a positive eye yaw moves the pupils toward the image's right.

A flat photo is a plane: its landmarks are the images of fixed points of the
plane ``z = 0`` of the print, so between two frames they move exactly by a 2D
homography (no parallax between the nose and the face outline). A live head
is not planar: turning it moves the nose tip (about 12 cm in front of the neck
pivot) much more than the face outline, which is computed as the silhouette
of elliptic cross-sections of the head and slides over the surface.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ._blink_turn import BLINK_SPECIES, HEAD_TURN_SPECIES, simulate_blink, simulate_head_turn
from ._cli import add_synth_command, run_synth_command
from .conditions import Conditions
from ._extras import add_extras
from ._head import Camera, FlatPrint, HeadModel, face_box, head_landmarks, print_landmarks, \
    rotation_matrix
from ._nose import _nose_face_swap, _nose_live, _nose_multiple_faces, _nose_print
from ._pose import _pose_live, _pose_print, _pose_video_live, _pose_video_prints
from ._subjects import _measure, _Subject, _Trace

if TYPE_CHECKING:  # pragma: no cover
    from ..sessions import Session

__all__ = [
    "SIMULATOR", "SPECIES", "ALL_SPECIES", "TYPES", "Camera", "HeadModel", "FlatPrint",
    "rotation_matrix",
    "head_landmarks", "print_landmarks", "face_box", "simulate_session", "dataset_size",
    "generate_dataset", "add_synth_command", "run_synth_command", "Conditions",
]

SIMULATOR = "liveness-lab/traces@1"

#: attack species of the original bench (what ``generate_dataset(profile="seed")`` writes)
SPECIES: Mapping[str, tuple[str, ...]] = {
    "NOSE": ("print_static", "print_moved", "print_tilted", "print_rolled",
             "replay_other_challenge", "multiple_faces"),
    "POSE": ("print_static", "print_random_pose", "replay_other_challenge"),
}

#: the challenge types the simulator knows
TYPES: tuple[str, ...] = ("NOSE", "POSE", "BLINK", "HEAD_TURN")

#: every attack species simulated for each type: :data:`SPECIES`, then the ones added with
#: the hardened challenges (identity continuity, photo sets, BLINK and HEAD_TURN attacks)
ALL_SPECIES: Mapping[str, tuple[str, ...]] = {
    "NOSE": SPECIES["NOSE"] + ("face_swap",),
    "POSE": SPECIES["POSE"] + ("print_pose_set",),
    "BLINK": BLINK_SPECIES,
    "HEAD_TURN": HEAD_TURN_SPECIES,
}

# =============================================================================================
# sessions
# =============================================================================================

def _params_for(ctype: str, image_size: tuple[int, int], seed: int, registry: Any = None,
                configs: Any = None) -> dict[str, Any]:
    from ..challenges import SeededRandom, default_registry
    reg = registry or default_registry()
    ct = reg.get(ctype)
    metadata = {"imageWidth": image_size[0], "imageHeight": image_size[1]}
    if ctype == "NOSE":  # the simulated client shows a sequence when the profile draws one
        metadata["noseTargets"] = 3
    return ct.generate_params(metadata,
                              None if configs is None else configs.for_type(ct),
                              rng=SeededRandom(seed))


def _differs(ctype: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if ctype == "POSE":
        return a.get("pose") != b.get("pose")
    if ctype == "BLINK":
        keys = ("blinks", "cuesMs", "turn")
        return tuple(str(a.get(k)) for k in keys) != tuple(str(b.get(k)) for k in keys)
    if ctype == "HEAD_TURN":
        return a.get("sequence") != b.get("sequence")
    return (a.get("noseLeft"), a.get("noseTop")) != (b.get("noseLeft"), b.get("noseTop"))


def _pose_multi_frame(params: Mapping[str, Any]) -> bool:
    """Whether POSE params ask for the filming client (the hardened, multi-frame protocol)."""
    return bool(params.get("transition")) or int(params.get("holdFrames", 1) or 1) > 1


def _simulate(rng: np.random.Generator, ctype: str, species: str | None, subj: _Subject,
              camera: Camera, params: Mapping[str, Any], registry: Any,
              configs: Any = None) -> _Trace:
    if species == "replay_other_challenge":
        for _ in range(50):
            other = _params_for(ctype, (camera.width, camera.height),
                                int(rng.integers(2 ** 62)), registry, configs)
            if _differs(ctype, other, params):
                break
        trace = _simulate(rng, ctype, None, subj, camera, other, registry, configs)
        trace.metadata = {**trace.metadata, "replayed_params": other,
                          "replay_delay_s": round(float(rng.uniform(60.0, 86400.0)), 1)}
        for track in trace.tracks:
            track.medium = "screen"
        return trace
    if ctype == "NOSE":
        if species is None:
            return _nose_live(rng, subj, camera, params)
        if species == "multiple_faces":
            return _nose_multiple_faces(rng, subj, camera, params)
        if species == "face_swap":
            return _nose_face_swap(rng, subj, camera, params)
        return _nose_print(rng, subj, camera, params, species)
    if ctype == "BLINK":
        return simulate_blink(rng, species, subj, camera, params)
    if ctype == "HEAD_TURN":
        return simulate_head_turn(rng, species, subj, camera, params)
    if _pose_multi_frame(params):
        if species is None:
            return _pose_video_live(rng, subj, camera, params)
        return _pose_video_prints(rng, subj, camera, params, species)
    if species is None:
        return _pose_live(rng, subj, camera, params)
    return _pose_print(rng, subj, camera, params, species)


def _check_species(ctype: str, species: str | None) -> None:
    if ctype not in ALL_SPECIES:
        raise ValueError(f"challenge type must be one of {', '.join(TYPES)}, got {ctype!r}")
    if species is not None and species not in ALL_SPECIES[ctype]:
        raise ValueError(f"pai_species for {ctype} must be None (bona fide) or one of "
                         f"{', '.join(ALL_SPECIES[ctype])}, got {species!r}")


def _document(challenge_type: str, params: Mapping[str, Any], *, species: str | None,
              seed: int | Sequence[int], session_id: str,
              subject_seed: int | Sequence[int] | None, subject_id: str | None,
              split: str | None, hfov_deg: float | None, registry: Any,
              metadata: Mapping[str, Any] | None, configs: Any = None,
              descriptors: bool = False, conditions: Conditions | None = None
              ) -> dict[str, Any]:
    """The session document (session-format JSON object) of one simulated session."""
    from ..sessions import FORMAT
    ctype = str(challenge_type).upper()
    _check_species(ctype, species)
    width, height = int(params["imageWidth"]), int(params["imageHeight"])
    rng = np.random.default_rng(seed)
    cond = conditions if conditions is not None else Conditions()
    subj = cond.person(_Subject.sample(
        subject_id or "subject",
        np.random.default_rng(seed if subject_seed is None else subject_seed)))
    fov = float(hfov_deg) if hfov_deg is not None else float(rng.uniform(58.0, 72.0))
    camera = cond.camera(width, height, fov)
    trace = _simulate(rng, ctype, species, subj, camera, params, registry, configs)
    measured = [_measure(rng, tr, width, height, camera.noise) for tr in trace.tracks]
    if descriptors:  # own random stream: the rest of the session is unchanged
        add_extras(np.random.default_rng(_seed_key(seed) + [0xE7]), measured, trace.tracks,
                   _seed_key(seed if subject_seed is None else subject_seed))
    base_ms = 1_700_000_000_000 + int(rng.integers(0, 180 * 86_400_000))
    if species == "replay_other_challenge":
        base_ms += int(trace.metadata["replay_delay_s"] * 1000)
    frames = []
    last = -1
    for k, t in enumerate(trace.times):
        ts = max(base_ms + int(round(float(t) * 1000.0)), last + 1)
        last = ts
        order = trace.order[k] if trace.order is not None else range(len(measured))
        frames.append({"timestamp": ts,
                       "faces": [measured[j][k] for j in order if measured[j][k] is not None]})
    meta = {"simulator": SIMULATOR, "seed": _jsonable_seed(seed), "hfov_deg": round(fov, 2)}
    if not cond.is_default:
        meta["conditions"] = cond.to_dict()
    meta.update(trace.metadata)
    if metadata:
        meta.update(metadata)
    doc: dict[str, Any] = {"format": FORMAT, "id": session_id,
                           "challenge": {"type": ctype, "params": dict(params)},
                           "label": "bona_fide" if species is None else "attack",
                           "pai_species": species}
    if subject_id is not None:
        doc["subject_id"] = subject_id
    if split is not None:
        doc["split"] = split
    doc["frames"] = frames
    doc["metadata"] = meta
    return doc


def simulate_session(challenge_type: str, params: Mapping[str, Any], *,
                     species: str | None = None, seed: int | Sequence[int] = 0,
                     session_id: str = "s-000000", subject_seed: int | Sequence[int] | None = None,
                     subject_id: str | None = None, split: str | None = None,
                     hfov_deg: float | None = None, registry: Any = None,
                     metadata: Mapping[str, Any] | None = None, profile: str | None = None,
                     descriptors: bool | None = None,
                     conditions: Conditions | None = None) -> "Session":
    """Simulate one labelled session against given challenge params.

    Parameters
    ----------
    challenge_type:
        One of :data:`TYPES` (``"NOSE"``, ``"POSE"``, ``"BLINK"``, ``"HEAD_TURN"``).
    params:
        The challenge's params, as its challenge type generated them (pixels).
        POSE params with ``transition`` or ``holdFrames > 1`` (the multi-frame
        protocol) are answered by a filming client, others by the original's
        single photo.
    species:
        ``None`` for a bona fide session, else one of :data:`ALL_SPECIES` for the type.
    seed:
        Seed (or seed sequence) of everything random in the session.
    session_id, subject_id, split:
        Written as such in the session.
    subject_seed:
        Seed of the simulated subject (head shape, habits, face descriptor);
        default: ``seed``. Sessions with the same subject seed show the same person.
    hfov_deg:
        Camera horizontal field of view; default: drawn in 58..72 degrees.
    registry:
        Challenge registry used to draw other params for ``replay_other_challenge``.
    metadata:
        Extra entries for the session's ``metadata``.
    profile:
        Configuration profile whose challenge configs draw the params of
        replayed recordings, and whose checks decide the two defaults below
        (``None``: the types' default configs, no extensions).
    descriptors:
        Add simulated ``LivenessLab.Descriptor`` to every face (default: when the
        profile's configs check identity). The simulator never assigns PAD scores:
        a score that depends on the class would grade the simulator, not the rules.
    conditions:
        Capture conditions held fixed (:class:`~liveness_lab.synth.conditions.Conditions`:
        frame rate, exposure, detector noise, camera mount, reaction time); default: drawn
        per session. Written to ``metadata["conditions"]`` when any is fixed.

    Returns
    -------
    Session
        Frames with Rekognition-shaped faces (no images), label, species and
        ``metadata`` describing the simulation (``"simulator"``, ``"seed"``,
        ``"fps"``, camera field of view, behaviour or attack parameters).
    """
    from ..sessions import session_from_dict
    configs = None
    if profile is not None:
        from ..config import resolve_configs
        configs = resolve_configs(profile, registry=registry)
    want_desc = _extras_of(configs)
    return session_from_dict(_document(
        challenge_type, params, species=species, seed=seed, session_id=session_id,
        subject_seed=subject_seed, subject_id=subject_id, split=split, hfov_deg=hfov_deg,
        registry=registry, metadata=metadata, configs=configs,
        descriptors=want_desc if descriptors is None else bool(descriptors),
        conditions=conditions))


def _extras_of(configs: Any) -> bool:
    """Whether sessions for ``configs`` need face descriptors."""
    if configs is None:
        return False
    return any(getattr(c, "identity_check", False) for c in configs.by_type.values())


def _seed_key(seed: Any) -> list[int]:
    if isinstance(seed, (int, np.integer)):
        return [int(seed)]
    return [int(v) for v in seed]


def _jsonable_seed(seed: Any) -> Any:
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    return [int(s) for s in seed]


# =============================================================================================
# datasets
# =============================================================================================

@dataclass(frozen=True)
class _Bench:
    """What a dataset for a profile holds: its types, species, configs and face extensions."""

    profile: str
    types: tuple[str, ...]           # allowed types
    default_types: tuple[str, ...]
    species: Mapping[str, tuple[str, ...]]
    configs: Any
    descriptors: bool


def _bench(profile: str | None) -> _Bench:
    """``seed``: the original bench (NOSE, POSE, :data:`SPECIES`, no extensions); any other
    profile: every type and species, params from its configs, the extensions its checks need."""
    from ..config import DEFAULT_PROFILE, get_profile, resolve_configs
    name = profile or DEFAULT_PROFILE
    get_profile(name)  # an unknown name raises, listing the known ones
    if name == "seed":
        return _Bench("seed", ("NOSE", "POSE"), ("NOSE", "POSE"), SPECIES, None, False)
    configs = resolve_configs(name)
    default = tuple(t for t in (configs.challenge_types or TYPES) if t in TYPES) or TYPES
    return _Bench(name, TYPES, default, ALL_SPECIES, configs, _extras_of(configs))


def _classes(challenge_types: Sequence[str],
             species: Mapping[str, tuple[str, ...]] = SPECIES) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for ctype in challenge_types:
        out.append((ctype, None))
        out.extend((ctype, sp) for sp in species[ctype])
    return out


def _normalise_types(challenge_types: Sequence[str] | str | None,
                     bench: _Bench | None = None) -> tuple[str, ...]:
    allowed = bench.types if bench is not None else ("NOSE", "POSE")
    if challenge_types is None:
        return bench.default_types if bench is not None else allowed
    if isinstance(challenge_types, str):
        challenge_types = [t for t in challenge_types.split(",") if t.strip()]
    types = tuple(dict.fromkeys(str(t).strip().upper() for t in challenge_types))
    if not types:
        raise ValueError(f"challenge_types must name at least one of {', '.join(allowed)}")
    for t in types:
        if t not in allowed:
            where = f" with the {bench.profile} profile" if bench is not None else ""
            raise ValueError(f"challenge type must be one of {', '.join(allowed)}{where}, "
                             f"got {t!r}")
    return types


def dataset_size(sessions_per_class: int, challenge_types: Sequence[str] | None = None,
                 profile: str | None = None) -> int:
    """Number of sessions :func:`generate_dataset` writes for these arguments (``profile``
    ``None``: :data:`~liveness_lab.config.DEFAULT_PROFILE`, as there)."""
    bench = _bench(profile)
    return sessions_per_class * len(_classes(_normalise_types(challenge_types, bench),
                                             bench.species))


def _subject_splits(n: int, seed: int) -> list[str]:
    perm = np.random.default_rng([seed, 2]).permutation(n)
    n_train = max(1, int(round(0.5 * n)))
    n_dev = max(1, int(round(0.25 * n)))
    splits = [""] * n
    for rank, idx in enumerate(perm):
        splits[idx] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    return splits


def generate_dataset(out_dir: str | os.PathLike, *, sessions_per_class: int, seed: int,
                     challenge_types: Sequence[str] | None = None,
                     image_size: tuple[int, int] = (640, 480),
                     progress: Callable[[int], Any] | None = None,
                     profile: str | None = None,
                     conditions: Conditions | None = None) -> Path:
    """Write a labelled synthetic dataset (session format) and return its directory.

    Parameters
    ----------
    out_dir:
        Target directory; created if missing, must be empty if it exists.
    sessions_per_class:
        Bona fide sessions per challenge type, and attack sessions per species
        of each type.
    seed:
        Everything is determined by it: the same seed writes identical files.
        Session ``i`` of a class draws from ``(seed, type, class, i)``, so
        results do not depend on generation order.
    challenge_types:
        Types to simulate; default: the profile's (``seed``: NOSE and POSE).
    image_size:
        ``(width, height)`` of the simulated client's frames, pixels.
    progress:
        Called with ``1`` after each session (for instance ``tqdm(...).update``).
    profile:
        The deployment the sessions are recorded against (default ``None``:
        :data:`liveness_lab.config.DEFAULT_PROFILE`, the default of
        ``evaluate_dataset`` and the CLI too). ``"seed"`` writes the original
        bench: NOSE and POSE, the species of :data:`SPECIES`, the original
        clients (POSE decided on a single photo, NOSE frames uploaded only in
        the nose step), faces as Rekognition returns them. Any other profile
        (e.g. ``"recommended"``) allows every type of
        :data:`TYPES` and writes every species of :data:`ALL_SPECIES`; params
        come from its configs (so POSE asks for the multi-frame protocol and
        is filmed), and faces carry the simulated ``LivenessLab`` descriptor
        when its identity check needs it (never a PAD score). A session of a
        class has the same content under every profile except for those
        differences.
    conditions:
        Capture conditions held fixed for every session
        (:class:`~liveness_lab.synth.conditions.Conditions`); default: drawn per
        session. Each session is the default one filmed under them.

    Notes
    -----
    Subjects ``subj-000``... (``max(4, ceil(sessions_per_class / 2))`` of
    them) each get sessions of every class; an attack session's subject is
    the person whose face is presented (the photo's or the replayed video's
    subject). Subjects are split 50/25/25 into train/dev/test, so a subject's
    sessions all share one split. Challenge params are drawn from the
    registered challenge types with :class:`~liveness_lab.challenges.SeededRandom`.
    """
    spc = sessions_per_class
    if isinstance(spc, bool) or not isinstance(spc, (int, np.integer)) or spc < 1:
        raise ValueError(f"sessions_per_class must be a positive integer, got {spc!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError("image_size must be (width, height) in pixels, "
                         f"got {image_size!r}") from None
    if width < 160 or height < 120:
        raise ValueError(f"image_size must be at least 160 x 120 pixels, got {width} x {height}")
    bench = _bench(profile)
    types = _normalise_types(challenge_types, bench)
    out = Path(out_dir)
    _check_out_dir(out)
    from ..challenges import default_registry
    from ..sessions import ManifestEntry, write_manifest
    registry = default_registry()
    n_subjects = max(4, math.ceil(sessions_per_class / 2))
    splits = _subject_splits(n_subjects, int(seed))
    (out / "sessions").mkdir(parents=True)
    entries = []
    for ctype, species in _classes(types, bench.species):
        type_idx = TYPES.index(ctype)
        class_idx = 0 if species is None else 1 + ALL_SPECIES[ctype].index(species)
        for i in range(sessions_per_class):
            key = [int(seed), 3, type_idx, class_idx, i]
            subj_idx = (i + class_idx) % n_subjects
            params_seed = int(np.random.default_rng(key + [1]).integers(2 ** 62))
            params = _params_for(ctype, (width, height), params_seed, registry, bench.configs)
            sid = f"{ctype.lower()}-{species or 'bona_fide'}-{i:05d}"
            extra_meta: dict[str, Any] = {"dataset_seed": int(seed), "session_index": i}
            if bench.profile != "seed":
                extra_meta["bench_profile"] = bench.profile
            doc = _document(ctype, params, species=species, seed=key, session_id=sid,
                            subject_seed=[int(seed), 1, subj_idx],
                            subject_id=f"subj-{subj_idx:03d}", split=splits[subj_idx],
                            hfov_deg=None, registry=registry, metadata=extra_meta,
                            configs=bench.configs, descriptors=bench.descriptors,
                            conditions=conditions)
            rel = f"sessions/{sid}.json"
            _write_json(out / rel, doc)
            entries.append(ManifestEntry(sid, rel, doc["label"], species, doc["subject_id"],
                                         doc["split"], ctype))
            if progress is not None:
                progress(1)
    write_manifest(out, entries)
    return out


def _check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty directory; choose a new "
                         "output directory")


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` compactly, as :func:`liveness_lab.sessions.write_session` would (no fsync:
    a dataset is written in bulk, and the manifest, written last, lists only complete files)."""
    import json
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
