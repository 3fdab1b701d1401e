"""Capture conditions the trace simulator can hold fixed: the stress bench's axes.

By default every simulated session draws its own camera and person (frame
rate, exposure, reaction time; the camera on the person's line of sight).
A :class:`Conditions` fixes some of them for a whole dataset, so a bench can
sweep one physical factor at a time::

    generate_dataset(out, sessions_per_class=100, seed=0, profile="rekognition",
                     conditions=Conditions(fps=5.0, exposure_ms=66.0))

Fixing a condition does not change the rest of a session's random draws: a
session with ``Conditions(fps=5)`` shows the same person, the same attack and
the same motions as without it, filmed at 5 fps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

__all__ = ["Conditions"]


@dataclass(frozen=True)
class Conditions:
    """Fixed capture conditions (``None`` / neutral values: each session draws its own).

    Parameters
    ----------
    fps:
        Capture rate of the client's camera (webcams and phones: 5..30 fps).
    exposure_ms:
        Exposure of each frame, ms (8..66 ms indoors; at most one frame interval).
        Only BLINK's eyelids are integrated over the exposure.
    noise:
        Multiplier of the detector's landmark, box and pose noise (1: the default model;
        2: a small, dark or compressed face).
    mount_yaw, mount_pitch:
        Degrees the camera sits off the person's line of sight to the screen: a person
        facing the screen shows this resting pose (a laptop camera below the eyes: pitch
        10..18 degrees; a webcam beside the screen: yaw).
    reaction_scale:
        Multiplier of the person's reaction time to an instruction (1: as drawn; 2: a slow
        reader).
    """

    fps: float | None = None
    exposure_ms: float | None = None
    noise: float = 1.0
    mount_yaw: float = 0.0
    mount_pitch: float = 0.0
    reaction_scale: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("fps", "exposure_ms"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"Conditions.{f.name} must be a number, got {value!r}")
        if not 0.1 <= float(self.reaction_scale) <= 10.0:
            raise ValueError("Conditions.reaction_scale must be within 0.1..10, got "
                             f"{self.reaction_scale!r}")
        self.camera(64, 64, 65.0)  # the camera checks the other ranges (one place for them)
        if self.fps is not None and self.exposure_ms is not None and (
                float(self.exposure_ms) > 1000.0 / float(self.fps) + 1e-9):
            raise ValueError(f"Conditions.exposure_ms {self.exposure_ms:g} is longer than one "
                             f"frame interval at {self.fps:g} fps ({1000 / self.fps:.1f} ms)")

    @property
    def is_default(self) -> bool:
        """Whether nothing is fixed (sessions are then exactly the default simulation's)."""
        return self == Conditions()

    def camera(self, width: int, height: int, hfov_deg: float) -> Any:
        """The simulated camera of a session under these conditions."""
        from ._head import Camera
        return Camera(width, height, hfov_deg, fps=self.fps, exposure_ms=self.exposure_ms,
                      noise=float(self.noise), mount_yaw=float(self.mount_yaw),
                      mount_pitch=float(self.mount_pitch))

    def person(self, subject: Any) -> Any:
        """The simulated person under these conditions (reaction time scaled)."""
        if self.reaction_scale == 1.0:
            return subject
        return replace(subject, reaction_s=subject.reaction_s * float(self.reaction_scale))

    def to_dict(self) -> dict[str, Any]:
        """The fixed conditions, for session metadata (only what differs from the default)."""
        default = Conditions()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "Conditions":
        """Conditions from ``{"fps": 5, ...}``; unknown names are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown condition(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}")
        return cls(**{k: (None if v is None else float(v)) for k, v in values.items()})
