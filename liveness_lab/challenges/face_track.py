"""Face-track continuity: does one face move continuously from frame to frame?

A person in front of a camera is one continuous face track: between two
frames the face box moves and scales no faster than a head moves, and the
face is not lost for long. Photos swapped by hand break the track: the face
disappears while the hand changes the sheet (a gap), and the next photo
lands somewhere else, at another size and roll (a jump), both in one frame
interval. Only DetectFaces geometry is used (bounding box, roll, timestamps).

:func:`track_jump` measures the jump between two faces as a multiple of what
a head can do in the time between them, so that the same limit holds at 5 fps
and at 30 fps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..faces import BoundingBox, FaceDetail

__all__ = ["TrackLimits", "track_jump", "box_shift"]


@dataclass(frozen=True)
class TrackLimits:
    """How far a live head can move between two frames ``dt`` seconds apart.

    ``shift`` / ``shift_per_s``: box-centre displacement, in face widths (the
    mean of the two boxes' widths), allowed at once (detector jitter) and per
    second (a head moving at about 10 cm/s is 0.7 face widths per second);
    ``scale`` / ``scale_per_s``: absolute log ratio of the box widths;
    ``roll`` / ``roll_per_s``: degrees of in-plane rotation.
    """

    shift: float = 0.08
    shift_per_s: float = 0.7
    scale: float = 0.08
    scale_per_s: float = 0.5
    roll: float = 5.0
    roll_per_s: float = 40.0
    #: face widths the box centre moves per radian of reported yaw or pitch change: a head
    #: turns about a neck pivot ~90-100 mm behind the eyes, and a face is ~140-150 mm wide
    turn_shift: float = 0.7
    #: degrees of roll change per degree of reported yaw and pitch change: a fast head turn
    #: rolls the head too (the neck's axes are not the camera's, and a turn that combines yaw
    #: and pitch changes the roll of its Euler angles), and a blurred frame reports it
    turn_roll: float = 0.4
    #: degrees of reported turn that earn no roll: the detector's own frame-to-frame pose
    #: jitter (a few degrees), which says nothing about the head turning
    turn_roll_floor: float = 5.0

    def __post_init__(self) -> None:
        for name in ("shift", "shift_per_s", "scale", "scale_per_s", "roll", "roll_per_s",
                     "turn_shift", "turn_roll", "turn_roll_floor"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"TrackLimits.{name} must be a number > 0, got {value!r}")


def track_jump(previous: FaceDetail, current: FaceDetail, dt_s: float,
               limits: TrackLimits = TrackLimits()) -> float | None:
    """The jump from ``previous`` to ``current`` as a fraction of what a head can do in ``dt_s``.

    The largest of the box-centre shift, the box-size change and the roll
    change, each divided by its limit at ``dt_s`` seconds (``limit + rate *
    dt_s``). Values above 1 are faster than a head moves: another face, or a
    photo put down elsewhere. ``None`` when either face lacks a bounding box.
    The horizontal shift is in face widths, the vertical one in face heights.
    The part of the shift that the reported head turn explains (``turn_shift``
    per radian of yaw and pitch change: a head turning about its neck moves
    its face box) is not counted, and neither is the change of box size that
    the turn's foreshortening explains (a face turned by ``a`` is about
    ``cos(a)`` as wide), and neither is the roll change ``turn_roll`` per
    degree of the turn beyond ``turn_roll_floor``, so a fast head turn is not
    a jump; a photo swapped for another shows no such turn.
    """
    a, b = previous.bounding_box, current.bounding_box
    if a is None or b is None or a.width <= 0 or b.width <= 0:
        return None
    dt = max(float(dt_s), 0.0)
    shift = box_shift(a, b)
    turned = _turn_radians(previous, current)
    if turned:
        shift = max(0.0, shift - limits.turn_shift * turned)
    scale = max(0.0, abs(math.log(b.width / a.width)) - _foreshortening(previous, current))
    parts = [shift / (limits.shift + limits.shift_per_s * dt),
             scale / (limits.scale + limits.scale_per_s * dt)]
    ra = previous.pose.roll if previous.pose is not None else None
    rb = current.pose.roll if current.pose is not None else None
    if ra is not None and rb is not None:
        explained = limits.turn_roll * max(0.0, math.degrees(turned) - limits.turn_roll_floor)
        rolled = max(0.0, abs(rb - ra) - explained)
        parts.append(rolled / (limits.roll + limits.roll_per_s * dt))
    return float(max(parts))


def box_shift(a: BoundingBox, b: BoundingBox) -> float:
    """How far the box centre moved from ``a`` to ``b``: horizontally in face widths,
    vertically in face heights (the two boxes' means), combined as a distance."""
    width = (a.width + b.width) / 2
    dx = (b.left + b.width / 2) - (a.left + a.width / 2)
    return math.hypot(dx / width if width > 0 else 0.0, _dy(a, b))


def _dy(a, b) -> float:
    """Vertical centre shift in face heights (boxes' mean height)."""
    height = (a.height + b.height) / 2
    if height <= 0:
        return 0.0
    return ((b.top + b.height / 2) - (a.top + a.height / 2)) / height


def _turn_radians(previous: FaceDetail, current: FaceDetail) -> float:
    """The change of the reported head direction between two faces (radians; 0 if unknown)."""
    pa, pb = previous.pose, current.pose
    if pa is None or pb is None or None in (pa.yaw, pa.pitch, pb.yaw, pb.pitch):
        return 0.0
    return math.radians(math.hypot(pb.yaw - pa.yaw, pb.pitch - pa.pitch))


def _foreshortening(previous: FaceDetail, current: FaceDetail) -> float:
    """``|log|`` of the box-size change a head turn explains: ``cos`` of yaw and of pitch."""
    pa, pb = previous.pose, current.pose
    if pa is None or pb is None:
        return 0.0
    total = 0.0
    for u, v in ((pa.yaw, pb.yaw), (pa.pitch, pb.pitch)):
        if u is None or v is None:
            continue
        cu, cv = math.cos(math.radians(min(abs(u), 80.0))), math.cos(math.radians(min(abs(v), 80.0)))
        total += abs(math.log(cv / cu))
    return total
