"""Motion of the trace-level simulator: minimum-jerk plans, sway, frame times and rigs.

A rig (a live head or a hand-held print) is driven by a 6-DOF state: yaw,
pitch, roll (degrees) and the camera-frame position x, y, z (mm) of its pivot
or hold point.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ._head import _NOSE, Camera, FlatPrint, HeadModel, face_box, head_landmarks, \
    print_landmarks, rotation_matrix

# =============================================================================================
# motion
# =============================================================================================

# degrees of freedom of a rig state: yaw, pitch, roll (deg), x, y, z (mm)
_YAW, _PITCH, _ROLL, _X, _Y, _Z = range(6)


def _minjerk(tau: np.ndarray) -> np.ndarray:
    tau = np.clip(tau, 0.0, 1.0)
    return tau ** 3 * (10.0 - 15.0 * tau + 6.0 * tau * tau)


class _Plan:
    """A commanded trajectory: a start state plus minimum-jerk submovements (Flash & Hogan)."""

    def __init__(self, start: np.ndarray) -> None:
        self.start = np.asarray(start, dtype=float).copy()
        self.moves: list[tuple[float, float, np.ndarray]] = []

    def add(self, t0: float, duration: float, delta: np.ndarray) -> None:
        self.moves.append((float(t0), max(float(duration), 0.05), np.asarray(delta, dtype=float)))

    def end(self) -> np.ndarray:
        return self.start + sum((d for _, _, d in self.moves), np.zeros(6))

    def end_time(self) -> float:
        return max((t0 + d for t0, d, _ in self.moves), default=0.0)

    def at(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        out = np.broadcast_to(self.start, times.shape + (6,)).copy()
        for t0, dur, delta in self.moves:
            out += _minjerk((times - t0) / dur)[..., None] * delta
        return out


class _Sway:
    """Postural sway and tremor: sums of sinusoids with random phases, per degree of freedom."""

    def __init__(self, rng: np.random.Generator, slow: Sequence[float], fast: Sequence[float]):
        self.freq = np.concatenate((rng.uniform(0.1, 0.7, (6, 3)), rng.uniform(3.0, 9.0, (6, 2))),
                                   axis=1)
        self.phase = rng.uniform(0.0, 2 * np.pi, (6, 5))
        slow_amp = np.repeat(np.asarray(slow, float)[:, None], 3, axis=1) / math.sqrt(1.5)
        fast_amp = np.repeat(np.asarray(fast, float)[:, None], 2, axis=1)
        amp = np.concatenate((slow_amp, fast_amp), axis=1)
        self.amp = amp * rng.uniform(0.6, 1.4, (6, 5))

    def at(self, times: np.ndarray) -> np.ndarray:
        t = np.asarray(times, float)[:, None, None]
        arg = 2 * np.pi * self.freq[None] * t + self.phase[None]
        return (self.amp[None] * np.sin(arg)).sum(axis=-1)


_HEAD_SWAY = ((0.5, 0.5, 0.3, 1.5, 1.0, 2.0), (0.12, 0.12, 0.08, 0.2, 0.2, 0.3))
_HAND_SWAY = ((0.6, 0.6, 0.5, 2.0, 2.0, 2.5), (0.25, 0.25, 0.2, 0.4, 0.4, 0.4))


def _frame_times(rng: np.random.Generator, fps: float, duration: float) -> np.ndarray:
    """Capture times (s) of a client running at about ``fps`` with jitter and stalls."""
    n = int(duration * fps * 1.2) + 8
    iv = (1.0 / fps) * np.exp(rng.normal(0.0, 0.12, n))
    stall = rng.random(n) < 0.03
    iv[stall] *= rng.uniform(1.8, 3.5, int(stall.sum()))
    iv = np.maximum(iv, 0.03)
    t = rng.uniform(0.0, 1.0 / fps) + np.cumsum(iv)
    return t[t <= duration]


# =============================================================================================
# rigs: a live head or a held print, driven by a 6-DOF state
# =============================================================================================

class _HeadRig:
    """A live head: state = head rotation and the camera-frame position of its pivot."""

    def __init__(self, model: HeadModel, camera: Camera) -> None:
        self.model, self.camera = model, camera

    def landmarks(self, states: np.ndarray, **expr: Any) -> np.ndarray:
        s = np.atleast_2d(states)
        cam = self.camera
        return head_landmarks(self.model, cam, yaw=s[:, _YAW] + cam.mount_yaw,
                              pitch=s[:, _PITCH] + cam.mount_pitch,
                              roll=s[:, _ROLL], position=s[:, _X:], **expr)

    def nose(self, state: np.ndarray) -> np.ndarray:
        p = self.model.points[_NOSE] - self.model.pivot
        return self.camera.project(state[_X:] + self._rotation(state) @ p)

    def nose_depth(self, state: np.ndarray) -> float:
        R = self._rotation(state)
        return float((state[_X:] + R @ (self.model.points[_NOSE] - self.model.pivot))[2])

    def _rotation(self, state: np.ndarray) -> np.ndarray:
        """The head's rotation in the camera frame: its own turn plus the camera's mount."""
        return rotation_matrix(state[_YAW] + self.camera.mount_yaw,
                               state[_PITCH] + self.camera.mount_pitch, state[_ROLL])


class _PrintRig:
    """A hand-held print: state = sheet rotation and the camera-frame position of the hold point."""

    def __init__(self, sheet: FlatPrint, camera: Camera, hold_point: Sequence[float]) -> None:
        self.sheet, self.camera = sheet, camera
        self.hold = np.array([hold_point[0], hold_point[1], 0.0])

    def landmarks(self, states: np.ndarray, **_: Any) -> np.ndarray:
        s = np.atleast_2d(states)
        return print_landmarks(self.sheet, self.camera, yaw=s[:, _YAW], pitch=s[:, _PITCH],
                               roll=s[:, _ROLL], position=s[:, _X:], hold_point=self.hold[:2])

    def _nose_cam(self, state: np.ndarray) -> np.ndarray:
        p = np.array([*self.sheet.points[_NOSE], 0.0]) - self.hold
        return state[_X:] + rotation_matrix(state[_YAW], state[_PITCH], state[_ROLL]) @ p

    def nose(self, state: np.ndarray) -> np.ndarray:
        return self.camera.project(self._nose_cam(state))

    def nose_depth(self, state: np.ndarray) -> float:
        return float(self._nose_cam(state)[2])


def _solve_nose(rig: Any, state: np.ndarray, aim: np.ndarray, free: tuple[int, int]) -> np.ndarray:
    """Adjust two degrees of freedom of ``state`` so the nose tip projects at ``aim`` (Newton)."""
    s = np.asarray(state, dtype=float).copy()
    eps = np.array([0.05, 0.05, 0.05, 0.2, 0.2, 0.2])
    for _ in range(8):
        err = aim - rig.nose(s)
        if np.hypot(*err) < 0.02:
            break
        J = np.empty((2, 2))
        for j, k in enumerate(free):
            d = s.copy()
            d[k] += eps[k]
            J[:, j] = (rig.nose(d) - rig.nose(s)) / eps[k]
        try:
            step = np.linalg.solve(J, err)
        except np.linalg.LinAlgError:
            break
        limit = np.array([60.0 if k < 3 else 400.0 for k in free])
        step = np.clip(step, -limit, limit)
        s[list(free)] += step
    return s


def _box_of(rig: Any, state: np.ndarray) -> np.ndarray:
    return face_box(rig.landmarks(state))[0]


def _centre_in_area(rig: Any, state: np.ndarray, box_centre: np.ndarray,
                    box_width: float) -> np.ndarray:
    """Move ``state`` (x, y, z only): face box ``box_width`` px wide, centred at ``box_centre``."""
    s = np.asarray(state, dtype=float).copy()
    cam = rig.camera
    principal = np.array([cam.width / 2.0, cam.height / 2.0])
    for _ in range(3):
        b = _box_of(rig, s)
        scale = b[2] / box_width
        depth = rig.nose_depth(s)
        s[_Z] += depth * (scale - 1.0)
        # after moving along z the box shrinks toward the principal point
        centre = principal + (b[:2] + b[2:] / 2 - principal) / scale
        s[_X:_Z] += (box_centre - centre) * depth * scale / cam.focal_px
    return s
