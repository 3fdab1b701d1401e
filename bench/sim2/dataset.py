"""Generating a dataset in the liveness-lab session format.

Params come from liveness-lab's own params generators (the type registered in
``liveness_lab.challenges.registry.default_registry()``), so every session answers a challenge
the server could really have issued: ``NOSE`` and the single-photo ``POSE_PHOTO`` protocol with
the default (original) config, the filmed ``POSE`` protocol, ``BLINK`` and ``HEAD_TURN`` with
the ``recommended`` profile's config (the profile that issues them). Nothing else of
liveness-lab is used: sessions and the manifest are written as plain JSON / CSV here.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .camera import sample_camera
from .people import Person, sample_person
from .scene import EPOCH_MS
from .species import SPECIES, Trial, client_camera, species_for

__all__ = ["PROTOCOLS", "CONDITION_KEYS", "parse_conditions", "generate_session",
           "generate_dataset"]

#: Protocol -> (challenge type in the session, profile whose config generates the params).
PROTOCOLS: dict[str, tuple[str, str]] = {
    "NOSE": ("NOSE", "seed"), "POSE": ("POSE", "recommended"),
    "POSE_PHOTO": ("POSE", "seed"), "BLINK": ("BLINK", "recommended"),
    "HEAD_TURN": ("HEAD_TURN", "recommended"),
}

#: Condition keys accepted by ``--condition KEY=LO..HI`` and their default ranges.
CONDITION_KEYS: dict[str, tuple[float, float]] = {
    "fps": (5.0, 30.0), "exposure_ms": (8.0, 66.0), "width": (480.0, 1280.0),
    "landmark_noise": (0.005, 0.03), "drop_rate": (0.0, 0.05), "hfov": (55.0, 78.0),
    "resting_yaw": (-18.0, 18.0), "resting_pitch": (-18.0, 18.0),
    "reaction_ms": (150.0, 600.0), "blink_rate": (10.0, 20.0),
}
_SPLITS = ("train", "train", "train", "dev", "test")


def parse_conditions(items: Iterable[str]) -> dict[str, tuple[float, float]]:
    """``["fps=5..30", "exposure_ms=33"]`` -> ``{"fps": (5.0, 30.0), "exposure_ms": (33.0, 33.0)}``."""
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in CONDITION_KEYS:
            raise ValueError(f"--condition {item!r}: expected KEY=LO..HI or KEY=VALUE with KEY "
                             f"one of {', '.join(CONDITION_KEYS)}")
        lo_s, _, hi_s = value.partition("..")
        try:
            lo = float(lo_s)
            hi = float(hi_s) if hi_s else lo
        except ValueError:
            raise ValueError(f"--condition {item!r}: {value!r} is not a number or a range "
                             "LO..HI, e.g. fps=5..30") from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise ValueError(f"--condition {item!r}: the range must be finite with LO <= HI")
        out[key] = (lo, hi)
    return out


def _registry_params(kind: str, width: int, height: int, seed_text: str) -> dict:
    from liveness_lab.challenges.framework import SeededRandom
    from liveness_lab.challenges.registry import default_registry
    from liveness_lab.config import resolve_configs

    ctype_name, profile = PROTOCOLS[kind]
    ctype = default_registry().get(ctype_name)
    config = resolve_configs(profile).for_type(ctype)
    return ctype.generate_params({"imageWidth": width, "imageHeight": height}, config,
                                 SeededRandom(seed_text))


def _subject(seed: int, kind: str, index: int) -> Person:
    """The lasting traits (face, eyes, glasses) of subject ``index``."""
    rng = np.random.default_rng([seed, 7, list(PROTOCOLS).index(kind), index])
    return sample_person(rng, f"sim2-{kind.lower()}-p{index:04d}")


def _session_person(base: Person, rng: np.random.Generator, conditions: Mapping) -> Person:
    """The subject as he sits this time: pose, timing and blink rate vary between sessions."""
    fresh = sample_person(rng, base.subject_id, dict(conditions))
    return replace(fresh, geometry=base.geometry, narrow_eyes=base.narrow_eyes,
                   glasses=base.glasses, glare=base.glare,
                   smile_opens_mouth=base.smile_opens_mouth)


def generate_session(kind: str, species: str | None, index: int, *, seed: int = 0,
                     n_subjects: int = 50, conditions: Mapping | None = None) -> dict:
    """One session document (a JSON-ready dict) of protocol ``kind`` and attack ``species``
    (``None``: bona fide), deterministic for ``(seed, kind, species, index)``."""
    if kind not in PROTOCOLS:
        raise ValueError(f"unknown protocol {kind!r}; known: {', '.join(PROTOCOLS)}")
    if species not in SPECIES[kind]:
        raise ValueError(f"{kind} has no species {species!r}; known: "
                         f"{', '.join(s for s in SPECIES[kind] if s)}")
    conditions = dict(conditions or {})
    label = "bona_fide" if species is None else "attack"
    tag = species or "bona_fide"
    rng = np.random.default_rng([seed, list(PROTOCOLS).index(kind),
                                 species_for(kind).index(species), index])
    victim_i = int(rng.integers(n_subjects))
    attacker_i = (victim_i + 1 + int(rng.integers(n_subjects - 1))) % n_subjects
    victim = _session_person(_subject(seed, kind, victim_i), rng, conditions)
    attacker = _session_person(_subject(seed, kind, attacker_i), rng, conditions)
    camera = client_camera(kind, sample_camera(rng, conditions))
    seed_text = f"sim2:{seed}:{kind}:{tag}:{index}"
    params = _registry_params(kind, camera.width, camera.height, seed_text)
    draws = iter(range(1, 1000))

    def other_params() -> dict:
        for k in draws:
            other = _registry_params(kind, camera.width, camera.height, f"{seed_text}:other{k}")
            if other != params:
                return other
        raise RuntimeError("no other params found")  # pragma: no cover

    trial = Trial(kind, params, camera, victim, attacker, rng, other_params)
    frames, extra = SPECIES[kind][species](trial)
    base = EPOCH_MS + index * 60_000 + int(rng.integers(0, 10_000))
    doc_frames, last = [], None
    for f in frames:
        ts = base + int(round(f.t))
        if last is not None and ts <= last:
            ts = last + 1
        last = ts
        doc_frames.append({"timestamp": ts, "faces": list(f.faces)})
    performer = attacker if species in ("multiple_faces", "rigid_mask", "print_eye_holes") \
        else victim
    metadata = {
        "simulator": "bench.sim2", "protocol": kind, "seed": seed,
        "fps": round(camera.fps, 2), "exposure_ms": round(camera.exposure_ms, 1),
        "image_width": camera.width, "image_height": camera.height,
        "focal_px": round(camera.focal_px, 1), "landmark_noise": round(camera.landmark_noise, 4),
        "drop_rate": round(camera.drop_rate, 3), "jitter": round(camera.jitter, 3),
        "resting_yaw": round(performer.resting_yaw, 1),
        "resting_pitch": round(performer.resting_pitch, 1),
        "reaction_ms": round(performer.reaction_ms), "blink_rate_per_min":
            round(performer.blink_rate_per_min, 1), "narrow_eyes": performer.narrow_eyes,
        "glasses": performer.glasses, "glare": round(performer.glare, 2),
        "early_mover": performer.early_mover, "frames": len(doc_frames), **extra,
    }
    ctype = PROTOCOLS[kind][0]
    return {
        "format": "liveness-lab/session@1",
        "id": f"sim2-{kind.lower()}-{tag}-{index:05d}",
        "challenge": {"type": ctype, "params": params},
        "label": label, "pai_species": species,
        "subject_id": victim.subject_id, "split": _SPLITS[victim_i % len(_SPLITS)],
        "frames": doc_frames, "metadata": metadata,
    }


def generate_dataset(out: str | Path, kinds: Iterable[str], sessions_per_class: int, *,
                     seed: int = 0, conditions: Mapping | None = None,
                     species: Iterable[str] | None = None, progress=None) -> Path:
    """Write ``sessions_per_class`` sessions of every class of every protocol in ``kinds``
    to ``OUT/sessions/*.json`` plus ``OUT/manifest.csv``. Returns ``OUT``."""
    if sessions_per_class < 1:
        raise ValueError(f"sessions_per_class must be at least 1, got {sessions_per_class}")
    kinds = [k.strip().upper() for k in kinds]
    for k in kinds:
        if k not in PROTOCOLS:
            raise ValueError(f"unknown type {k!r}; known: {', '.join(PROTOCOLS)}")
    wanted = None if species is None else set(species)
    root = Path(out)
    (root / "sessions").mkdir(parents=True, exist_ok=True)
    rows = []
    n_subjects = max(10, sessions_per_class // 2)
    for kind in kinds:
        for sp in species_for(kind):
            if wanted is not None and (sp or "bona_fide") not in wanted:
                continue
            for i in range(sessions_per_class):
                doc = generate_session(kind, sp, i, seed=seed, n_subjects=n_subjects,
                                       conditions=conditions)
                rel = f"sessions/{doc['id']}.json"
                (root / rel).write_text(json.dumps(doc, separators=(",", ":")),
                                        encoding="utf-8")
                rows.append({"session_id": doc["id"], "path": rel, "label": doc["label"],
                             "pai_species": sp or "", "subject_id": doc["subject_id"],
                             "split": doc["split"], "challenge_type": doc["challenge"]["type"],
                             "protocol": kind})
                if progress is not None:
                    progress(doc)
    with (root / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["session_id"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return root
