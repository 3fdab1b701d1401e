"""What stands in front of the camera, and filming it.

A **source** is anything with ``states(t) -> FaceStates`` (times in ms): a
:class:`~bench.sim2.people.LiveHead` (a person, or a rigid mask worn by one), or a
:class:`Planar` presentation - a print or a screen. A planar presentation shows a face that
some *recording* camera once saw (a photo: one instant; a video: a time-varying face) on a flat
surface that a hand holds in front of the capture camera: every landmark lies in that plane
and moves with it, so the face seen by the capture camera is a homography of the recorded one,
whatever the plane does (moved, tilted, rolled). Eyelids behind holes cut in a print
(``eyelids``) move the lid landmarks in the plane while the rest stays flat.

:func:`film` samples frame times from the camera, integrates every source over each frame's
exposure and hands the image-level observations to the detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from .camera import Camera
from .detector import ClassifierBias, Observation, detect
from .face import INDEX, rotation
from .motion import BlinkTrack, Channel, Sway
from .people import FaceStates

__all__ = ["Source", "Planar", "Hand", "Windowed", "film", "Frame"]

EPOCH_MS = 1_790_000_000_000


class Source(Protocol):
    def states(self, t: np.ndarray) -> FaceStates: ...


@dataclass
class Hand:
    """A plane held by hand: pose channels (degrees; mm from the capture camera) + tremor."""

    rng: np.random.Generator
    t_end: float
    distance_mm: float
    yaw: Channel = field(default_factory=Channel)
    pitch: Channel = field(default_factory=Channel)
    roll: Channel = field(default_factory=Channel)
    x: Channel = field(default_factory=Channel)
    y: Channel = field(default_factory=Channel)
    z: Channel = field(default_factory=Channel)
    steady: float = 1.0

    def __post_init__(self) -> None:
        k = self.steady
        self._tremor = Sway(self.rng, np.array([0.3, 0.3, 0.3, 0.6, 0.6, 1.0]) * k, 250.0,
                            -2000.0, self.t_end + 2000.0, 6)
        self._drift = Sway(self.rng, np.array([1.0, 1.0, 0.8, 2.0, 2.0, 4.0]) * k, 1500.0,
                           -2000.0, self.t_end + 2000.0, 6)

    def pose(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rotations (n, 3, 3) and positions (n, 3) of the plane at ``t``."""
        s = self._tremor(t) + self._drift(t)
        r = rotation(self.yaw(t) + s[:, 0], self.pitch(t) + s[:, 1], self.roll(t) + s[:, 2])
        pos = np.stack([self.x(t) + s[:, 3], self.y(t) + s[:, 4],
                        self.distance_mm + self.z(t) + s[:, 5]], axis=1)
        return r, pos


@dataclass
class Planar:
    """A print or screen showing ``recorded`` (a source filmed by ``recording_camera``).

    ``time_map(t)`` gives the recording's time shown at capture time ``t`` (a photo: a constant).
    ``mm_per_px`` is the size of one recording pixel on the print / screen.
    """

    recorded: Source
    recording_camera: Camera
    hand: Hand
    mm_per_px: float
    time_map: Callable[[np.ndarray], np.ndarray]
    eyelids: BlinkTrack | None = None

    def plane_points(self, t: np.ndarray) -> tuple[np.ndarray, FaceStates]:
        rec = self.recorded.states(self.time_map(t))
        px = self.recording_camera.project(rec.points)
        if self.eyelids is not None:
            o = self.eyelids(t)
            px = px.copy()
            for up, down in (("leftEyeUp", "leftEyeDown"), ("rightEyeUp", "rightEyeDown")):
                iu, idn = INDEX[up], INDEX[down]
                px[:, iu, :] = px[:, idn, :] + (px[:, iu, :] - px[:, idn, :]) * o[:, None]
            rec = FaceStates(rec.points, rec.openness * o[:, None], rec.gaze, rec.mouth_gap,
                             rec.smile, rec.visible)
        c = np.array([self.recording_camera.width / 2.0, self.recording_camera.height / 2.0])
        q = np.zeros(px.shape[:-1] + (3,))
        q[..., :2] = (px - c) * self.mm_per_px
        return q, rec

    def states(self, t: np.ndarray) -> FaceStates:
        t = np.asarray(t, float)
        q, rec = self.plane_points(t)
        r, pos = self.hand.pose(t)
        cam = q @ r.transpose(0, 2, 1) + pos[:, None, :]
        return FaceStates(cam, rec.openness, rec.gaze, rec.mouth_gap, rec.smile, rec.visible)

    def recording_pixel(self, camera: Camera, target_px: tuple[float, float]) -> np.ndarray:
        """The recording pixel the capture camera sees at ``target_px`` (plane at rest, t=0)."""
        r, pos = self.hand.pose(np.array([0.0]))
        r, pos = r[0], pos[0]
        d = np.array([(target_px[0] - camera.width / 2) / camera.focal_px,
                      (target_px[1] - camera.height / 2) / camera.focal_px, 1.0])
        n = r[:, 2]
        x = d * (n @ pos) / (n @ d)
        q = r.T @ (x - pos)
        return q[:2] / self.mm_per_px + np.array([self.recording_camera.width / 2.0,
                                                   self.recording_camera.height / 2.0])


@dataclass
class Windowed:
    """``source`` visible only inside the ``(start_ms, end_ms)`` windows."""

    source: Source
    windows: Sequence[tuple[float, float]]

    def states(self, t: np.ndarray) -> FaceStates:
        s = self.source.states(t)
        t = np.asarray(t, float)
        vis = np.zeros(t.shape, bool)
        for a, b in self.windows:
            vis |= (t >= a) & (t < b)
        return FaceStates(s.points, s.openness, s.gaze, s.mouth_gap, s.smile, s.visible & vis)


@dataclass(frozen=True)
class Frame:
    """One uploaded frame: capture time (ms from the session start) and the detections."""

    t: float
    faces: tuple[dict, ...]
    true_nose_px: tuple[float, float] | None


def observe(sources: Sequence[Source], camera: Camera, times: np.ndarray,
            glare: Sequence[float]) -> list[list[Observation | None]]:
    """Exposure-integrated observations of every source in every frame."""
    offs = camera.exposure_offsets()
    t_all = (times[:, None] + offs[None, :]).ravel()
    out: list[list[Observation | None]] = [[] for _ in times]
    for s_i, src in enumerate(sources):
        st = src.states(t_all)
        n, k = times.shape[0], offs.shape[0]
        px = camera.project(st.points).reshape(n, k, -1, 2)
        mean_px = px.mean(axis=1)
        blur = np.linalg.norm(px[:, 0] - px[:, -1], axis=-1).mean(axis=-1)
        opn = st.openness.reshape(n, k, 2).mean(axis=1)
        gaze = st.gaze.reshape(n, k, 2).mean(axis=1)
        vis = st.visible.reshape(n, k)[:, -1]
        # lip gap relative to the width of an average mouth (50 mm): what the image shows
        gap_ratio = st.mouth_gap.reshape(n, k).mean(axis=1) / 50.0
        smile = st.smile.reshape(n, k).mean(axis=1)
        for i in range(n):
            out[i].append(Observation(mean_px[i], float(blur[i]), opn[i], gaze[i],
                                      float(gap_ratio[i]), float(smile[i]), glare[s_i])
                          if vis[i] else None)
    return out


def film(sources: Sequence[Source], camera: Camera, t_start: float, t_end: float,
         rng: np.random.Generator, *, glare: Sequence[float] | None = None,
         order: Sequence[int] | None = None,
         times: np.ndarray | None = None) -> list[Frame]:
    """Frames of ``sources`` filmed by ``camera`` between ``t_start`` and ``t_end`` (ms).

    ``order`` is the order in which the detector lists the faces of the sources (default:
    source order). ``times`` replaces the camera's own frame times.
    """
    times = camera.frame_times(rng, t_start, t_end) if times is None else np.asarray(times)
    glare = list(glare) if glare is not None else [0.0] * len(sources)
    biases = [ClassifierBias.sample(rng) for _ in sources]
    obs = observe(sources, camera, times, glare)
    order = list(order) if order is not None else list(range(len(sources)))
    frames = []
    for i, t in enumerate(times):
        faces = []
        for s_i in order:
            o = obs[i][s_i]
            if o is None:
                continue
            d = detect(o, camera, biases[s_i], rng)
            if d is not None:
                faces.append(d)
        first = obs[i][0]
        nose = tuple(float(v) for v in first.px[INDEX["nose"]]) if first is not None else None
        frames.append(Frame(float(t), tuple(faces), nose))  # type: ignore[arg-type]
    return frames
