"""Simulated analyzer extensions: face descriptors and passive PAD scores.

What the local analyzer adds to a face with ``descriptors=True`` and its PAD
stage on (``"LivenessLab": {"Descriptor": [...], "PadScore": p}``), simulated
for trace-level sessions. Both are assumptions calibrated on our own
measurements (``docs/synthetic-traces.md``), drawn from their own random
streams so that the rest of a session is the same with or without them.

**Descriptors.** A person has a fixed 128-d point ``mean + e`` (``mean`` shared
by everyone, as dlib's descriptors share a large common component; ``e``
Gaussian with 0.053 per component, so two people lie about 0.85 apart). A
frame's descriptor adds a head-pose term (a per-person direction for yaw and
one for pitch, 0.35 at 30 degrees), a per-session offset (lighting, camera:
norm about 0.10), a medium offset for a print or screen (about 0.12) and
per-frame noise (about 0.08). Measured with dlib on rendered frames of the
two bundled photos: 0.0..0.47 within a person (median 0.10..0.20, the
largest at 28 degrees of yaw), 0.66..0.78 between the two people.

**PAD scores.** ``PadScore`` = probability of a live face, per frame:
``sigmoid(m + s n)`` with a per-session level ``m ~ N(mean, sd)`` and
per-frame noise ``n ~ N(0, 1)``, per medium (:data:`PAD_LEVELS`). They
follow the PAD baseline's logits measured on held-out rendered frames *of
the photos it was trained on* (live 4.4 +- 1.35, print -8.6 +- 5.0, screen
-9.9 +- 4.4): an optimistic stand-in, since the same baseline fails across
photos (``docs/hardening.md``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["DESCRIPTOR_DIM", "person_point", "add_extras", "PAD_LEVELS"]

DESCRIPTOR_DIM = 128
_PERSON_SD = 0.053
_POSE_NORM = 0.35           # descriptor shift at 30 degrees of yaw (or pitch)
_SESSION_NORM = 0.10
_MEDIUM_NORM = 0.12
_FRAME_NORM = 0.08
#: per medium: (mean, sd) of the session level of the PAD logit, and the per-frame sd
PAD_LEVELS = {"live": (4.4, 1.0, 0.9), "print": (-8.6, 4.0, 3.0), "screen": (-9.9, 3.5, 2.6)}


def _key(seed: Any) -> list[int]:
    if isinstance(seed, (int, np.integer)):
        return [int(seed)]
    return [int(s) for s in seed]


def _unit_scaled(rng: np.random.Generator, norm: float) -> np.ndarray:
    return rng.normal(0.0, norm / np.sqrt(DESCRIPTOR_DIM), DESCRIPTOR_DIM)


def person_point(identity: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A person's descriptor centre and their yaw and pitch directions, from a seed key."""
    common = np.random.default_rng([0x11FE, 128]).normal(0.0, 0.11, DESCRIPTOR_DIM)
    rng = np.random.default_rng(_key(identity) + [0xD5C])
    centre = common + rng.normal(0.0, _PERSON_SD, DESCRIPTOR_DIM)
    return centre, _unit_scaled(rng, _POSE_NORM), _unit_scaled(rng, _POSE_NORM)


def add_extras(rng: np.random.Generator, measured: Sequence[list[dict[str, Any] | None]],
               tracks: Sequence[Any], subject_identity: Any, *, descriptors: bool,
               pad_scores: bool) -> None:
    """Add ``LivenessLab`` descriptors / PAD scores to each measured face, in place.

    ``measured[j][t]`` is track ``j``'s face JSON in frame ``t`` (``None``: not
    detected); ``tracks[j].identity`` is the seed key of the person shown
    (``None``: ``subject_identity``), ``tracks[j].medium`` what a PAD stage sees
    and ``tracks[j].pose`` the (yaw, pitch, roll) per frame.
    """
    if not (descriptors or pad_scores):
        return
    for faces, track in zip(measured, tracks):
        n = len(faces)
        identity = subject_identity if track.identity is None else track.identity
        centre, g_yaw, g_pitch = person_point(identity)
        session = _unit_scaled(rng, _SESSION_NORM)
        medium = _unit_scaled(rng, _MEDIUM_NORM) if track.medium != "live" else 0.0
        noise = rng.normal(0.0, _FRAME_NORM / np.sqrt(DESCRIPTOR_DIM), (n, DESCRIPTOR_DIM))
        pose = np.asarray(track.pose, dtype=float).reshape(n, 3) if n else np.zeros((0, 3))
        desc = (centre + session + medium + noise + (pose[:, :1] / 30.0) * g_yaw
                + (pose[:, 1:2] / 30.0) * g_pitch)
        mean, sd, frame_sd = PAD_LEVELS[track.medium]
        level = rng.normal(mean, sd)
        logits = level + frame_sd * rng.normal(0.0, 1.0, n)
        pad = 1.0 / (1.0 + np.exp(-logits))
        desc_lists = np.round(desc, 3).tolist()
        pad_list = np.round(pad, 4).tolist()
        for t, face in enumerate(faces):
            if face is None:
                continue
            ext: dict[str, Any] = {}
            if descriptors:
                ext["Descriptor"] = desc_lists[t]
            if pad_scores:
                ext["PadScore"] = pad_list[t]
            face["LivenessLab"] = ext
