"""People: who sits in front of the camera, and how their head and face move.

A :class:`Person` holds the traits that differ between people and stay fixed for a session:
face proportions, resting head pose (an off-axis webcam or a laptop below the eyes gives
resting yaw / pitch up to +/-18 degrees), distance to the camera, reaction time (150-600 ms
after a cue), spontaneous blink rate (10-20 per minute), narrow eyes, glasses with glare, gaze
and head-turn amplitudes, smiling style, and whether the person starts moving before being
asked.

A :class:`LiveHead` is one person's performance in time: channels for the head pose and
position, eyelids, gaze and mouth, plus sway. :meth:`LiveHead.states` gives the landmarks in
camera coordinates at any times.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .face import PIVOT, FaceGeometry, rotation, sample_geometry
from .motion import BlinkTrack, Channel, Sway, spontaneous_blinks

__all__ = ["Person", "sample_person", "FaceStates", "LiveHead"]


@dataclass(frozen=True)
class Person:
    """Traits of one person for one session (angles in degrees, times in ms, lengths in mm)."""

    subject_id: str
    geometry: FaceGeometry
    resting_yaw: float
    resting_pitch: float
    resting_roll: float
    distance_mm: float
    reaction_ms: float
    blink_rate_per_min: float
    narrow_eyes: bool
    glasses: bool
    glare: float
    early_mover: bool
    gaze_amplitude: float
    smile_opens_mouth: bool
    smile_intensity: float
    turn_yaw: float
    turn_pitch: float
    turn_ms: float
    rotate_fraction: float
    sway_deg: float
    eye_follow: float = 0.7

    def __post_init__(self) -> None:
        for name, lo, hi in (("resting_yaw", -30, 30), ("resting_pitch", -30, 30),
                             ("reaction_ms", 100, 1000), ("blink_rate_per_min", 0, 60),
                             ("distance_mm", 200, 1500), ("glare", 0, 1)):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ValueError(f"{name} must be in {lo}..{hi}, got {v}")

    def reaction(self, rng: np.random.Generator) -> float:
        """One reaction time (ms) around the person's own mean, kept in 150..600 ms."""
        return float(np.clip(self.reaction_ms * rng.lognormal(0.0, 0.15), 150.0, 600.0))


def _range(conditions: dict, key: str, default: tuple[float, float], rng: np.random.Generator
           ) -> float:
    lo, hi = conditions.get(key, default)
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def sample_person(rng: np.random.Generator, subject_id: str, conditions: dict | None = None
                  ) -> Person:
    """A person drawn from the population; ``conditions`` may fix ranges (``(lo, hi)`` tuples)
    of ``resting_yaw``, ``resting_pitch``, ``reaction_ms``, ``blink_rate``."""
    c = conditions or {}
    narrow = bool(rng.random() < 0.2)
    glasses = bool(rng.random() < 0.3)
    if "resting_yaw" in c:
        yaw = _range(c, "resting_yaw", (0, 0), rng)
    else:  # most cameras sit near the screen centre; some are far off-axis
        yaw = float(np.clip(rng.normal(0.0, 7.0), -18.0, 18.0))
    if "resting_pitch" in c:
        pitch = _range(c, "resting_pitch", (0, 0), rng)
    else:  # a laptop camera below the eyes sees the face from below (positive pitch)
        laptop = rng.random() < 0.4
        pitch = float(np.clip(rng.normal(8.0 if laptop else 0.0, 5.0), -18.0, 18.0))
    return Person(
        subject_id=subject_id,
        geometry=sample_geometry(rng, narrow_eyes=narrow),
        resting_yaw=yaw, resting_pitch=pitch, resting_roll=float(rng.normal(0.0, 3.0)),
        distance_mm=float(rng.uniform(400.0, 750.0)),
        reaction_ms=_range(c, "reaction_ms", (180.0, 500.0), rng),
        blink_rate_per_min=_range(c, "blink_rate", (10.0, 20.0), rng),
        narrow_eyes=narrow, glasses=glasses,
        glare=float(rng.uniform(0.2, 0.8)) if glasses and rng.random() < 0.5 else 0.0,
        early_mover=bool(rng.random() < 0.15),
        gaze_amplitude=float(rng.uniform(12.0, 30.0)),
        smile_opens_mouth=bool(rng.random() < 0.6),
        smile_intensity=float(rng.uniform(0.4, 1.0)),
        turn_yaw=float(rng.uniform(22.0, 45.0)), turn_pitch=float(rng.uniform(14.0, 30.0)),
        turn_ms=float(rng.uniform(350.0, 800.0)),
        rotate_fraction=float(rng.uniform(0.5, 1.0)),
        sway_deg=float(rng.uniform(0.4, 1.5)),
        eye_follow=float(rng.uniform(0.4, 0.95)),
    )


@dataclass(frozen=True)
class FaceStates:
    """A face at n times: landmarks in camera coordinates (mm, (n, 30, 3); x right, y down,
    z away from the camera) and what the face shows (see :meth:`FaceGeometry.deform`)."""

    points: np.ndarray
    openness: np.ndarray
    gaze: np.ndarray
    mouth_gap: np.ndarray
    smile: np.ndarray
    visible: np.ndarray

    def take(self, idx: np.ndarray) -> "FaceStates":
        return FaceStates(self.points[idx], self.openness[idx], self.gaze[idx],
                          self.mouth_gap[idx], self.smile[idx], self.visible[idx])


@dataclass
class LiveHead:
    """One person's head in time, in front of a camera (times in ms from the session start).

    Pose channels are absolute angles (starting at the resting pose); ``tx``, ``ty``, ``tz``
    displace the head (mm) from its place on the optical axis at ``person.distance_mm``.
    ``script`` records what a protocol scripted (session metadata).
    ``frozen_face`` keeps the eyelids open, the gaze ahead and the mouth closed (a rigid mask).
    The eyes counter-rotate against voluntary head movements by ``person.eye_follow`` (people
    keep looking at the screen while they turn), on top of the gaze channels.
    """

    person: Person
    rng: np.random.Generator
    t_end: float
    yaw: Channel = field(init=False)
    pitch: Channel = field(init=False)
    roll: Channel = field(init=False)
    tx: Channel = field(default_factory=Channel)
    ty: Channel = field(default_factory=Channel)
    tz: Channel = field(default_factory=Channel)
    eyes: BlinkTrack = field(default_factory=BlinkTrack)
    gaze_yaw: Channel = field(default_factory=Channel)
    gaze_pitch: Channel = field(default_factory=Channel)
    smile: Channel = field(default_factory=Channel)
    mouth: Channel = field(default_factory=Channel)
    frozen_face: bool = False
    spontaneous: bool = True
    script: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.person
        self.yaw, self.pitch, self.roll = (Channel(p.resting_yaw), Channel(p.resting_pitch),
                                           Channel(p.resting_roll))
        self._sway_rot = Sway(self.rng, np.array([p.sway_deg, p.sway_deg * 0.8, 0.5]), 900.0,
                              -2000.0, self.t_end + 2000.0, 3)
        self._sway_pos = Sway(self.rng, np.array([2.0, 1.5, 4.0]), 1500.0, -2000.0,
                              self.t_end + 2000.0, 3)
        if self.spontaneous:
            for b in spontaneous_blinks(self.rng, p.blink_rate_per_min, -1000.0,
                                        self.t_end + 1000.0):
                self.eyes.add(b)

    def with_person(self, person: Person) -> "LiveHead":
        return replace(self, person=person)

    def pose(self, t: np.ndarray) -> np.ndarray:
        """Head yaw, pitch, roll (degrees, (n, 3)) at times ``t``."""
        s = self._sway_rot(t)
        return np.stack([self.yaw(t) + s[:, 0], self.pitch(t) + s[:, 1], self.roll(t) + s[:, 2]],
                        axis=1)

    def states(self, t: np.ndarray) -> FaceStates:
        t = np.asarray(t, float)
        n = t.shape[0]
        g = self.person.geometry
        if self.frozen_face:
            openness = np.ones((n, 2))
            gaze = np.zeros((n, 2))
            gap = np.zeros(n)
            smile = np.zeros(n)
        else:
            o = self.eyes(t)
            openness = np.stack([o, o], axis=1)
            # the eyes stay on the screen while the head moves (counter-rotation), within the
            # oculomotor range
            k = self.person.eye_follow
            gaze = np.stack([self.gaze_yaw(t) - k * (self.yaw(t) - self.person.resting_yaw),
                             self.gaze_pitch(t) - k * (self.pitch(t) - self.person.resting_pitch)],
                            axis=1)
            gaze = np.clip(gaze, -35.0, 35.0)
            gap = np.maximum(self.mouth(t), 0.0)
            smile = np.clip(self.smile(t), 0.0, 1.0)
        local = g.deform(openness, gaze, gap, smile)
        pose = self.pose(t)
        r = rotation(pose[:, 0], pose[:, 1], pose[:, 2])
        pos = self._sway_pos(t)
        trans = np.stack([self.tx(t) + pos[:, 0], self.ty(t) + pos[:, 1],
                          self.person.distance_mm + self.tz(t) + pos[:, 2]], axis=1)
        cam = (local - PIVOT) @ r.transpose(0, 2, 1) + PIVOT + trans[:, None, :]
        # at rest the middle of the face box (28 mm below the eyes) sits on the optical axis
        p = self.person
        r0 = rotation(np.array([p.resting_yaw]), np.array([p.resting_pitch]),
                      np.array([p.resting_roll]))[0]
        cam -= r0 @ (np.array([0.0, 28.0, 0.0]) - PIVOT) + PIVOT
        return FaceStates(cam, openness, gaze, gap, smile, np.ones(n, bool))
