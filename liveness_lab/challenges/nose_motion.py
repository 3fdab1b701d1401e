"""How a live head moves in the NOSE state, for the hardened rules (``docs/challenges.md``,
"NOSE for real people and cameras"): the area that follows the nose toward the target, the
session's own parallax noise, and the reaction pause that starts the movement.

Used by :mod:`.nose` when ``area_follows_nose``, ``parallax_noise_z`` or
``trajectory_after_pause`` are on; the ``seed`` profile never calls them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

from ..faces import FaceDetail
from .checks import nose_parallax
from .framework import Context
from .nose_run import _NoseRun
from .nose_targets import targets_of

if TYPE_CHECKING:  # pragma: no cover
    from .nose import NoseConfig

__all__ = ["area_toward_targets", "observe_still", "parallax_needed", "first_pause",
           "aimed_start"]


def _tolerant(box: tuple[float, ...], tolerance: float) -> tuple[float, float, float, float]:
    """``box`` grown by ``tolerance`` of its size on each side (the server's target test)."""
    tol_w, tol_h = box[2] * tolerance, box[3] * tolerance
    return (box[0] - tol_w, box[1] - tol_h, box[2] + 2 * tol_w, box[3] + 2 * tol_h)


def area_toward_targets(area: tuple[float, ...], params: Mapping[str, Any], run: _NoseRun,
                        cfg: "NoseConfig") -> tuple[float, float, float, float]:
    """``area`` grown toward the targets by ``area_follows_nose`` times the nose's reach.

    The reach, per side, is how far the nose must travel from its position in
    the nose state's first frame to the far edge of a tolerant target box on
    that side (the largest over a sequence's targets). A head turns about the
    neck, some 90 mm behind the eyes: the face carries along about 0.8 of the
    nose tip's displacement, a translation all of it, so the face box of a
    person reaching the target moves toward it by up to the nose's own travel.
    A face without a nose landmark in that first frame keeps the plain area.
    """
    grown = run.area_grown
    if grown is None:
        nose = run.original_face.landmark("nose")
        if nose is None:
            grown = tuple(area)
        else:
            nx, ny = nose.x * params["imageWidth"], nose.y * params["imageHeight"]
            left = top = right = bottom = 0.0
            for target in targets_of(params):  # each toward the side the target lies on
                tl, tt, tw, th = _tolerant(target, cfg.nose_box_tolerance)
                if tl + tw / 2 < nx:
                    left = max(left, nx - tl)
                else:
                    right = max(right, tl + tw - nx)
                if tt + th / 2 < ny:
                    top = max(top, ny - tt)
                else:
                    bottom = max(bottom, tt + th - ny)
            k = cfg.area_follows_nose
            grown = (area[0] - k * left, area[1] - k * top, area[2] + k * (left + right),
                     area[3] + k * (top + bottom))
        run.area_grown = grown
    return grown  # type: ignore[return-value]


def observe_still(run: _NoseRun, face: FaceDetail, nose_px: tuple[float, float],
                  target: tuple[float, ...], size: tuple[int, int], cfg: "NoseConfig") -> None:
    """Collect the parallax of the frames before the nose moves (the session's noise).

    While the nose stays within ``parallax_still_fraction`` of its distance to
    the first target, the head has not moved yet (the reaction time: 150-600 ms,
    one to nine frames at 5-15 fps): the parallax of such a frame against the
    nose state's first one is the detector's frame-to-frame landmark jitter
    alone, the same two-frame difference the decision measures. The first frame
    that moves ends the collection.
    """
    if run.still_done:
        return
    first = run.original_face.landmark("nose")
    width, height = size
    x0, y0 = first.x * width, first.y * height  # type: ignore[union-attr]
    reach = math.hypot(target[0] + target[2] / 2 - x0, target[1] + target[3] / 2 - y0)
    if math.hypot(nose_px[0] - x0, nose_px[1] - y0) > cfg.parallax_still_fraction * reach:
        run.still_done = True
        return
    if face is run.original_face:
        return
    value = nose_parallax(run.original_face, face, width, height, signed=False)
    if value is not None:
        run.still_parallax.append(value)


def parallax_needed(run: _NoseRun, context: Context, cfg: "NoseConfig") -> float:
    """``min_parallax``, or ``parallax_noise_z`` times the session's parallax noise if larger.

    The noise is the RMS of the still frames' (unsigned, two-dimensional)
    parallax (:func:`observe_still`) divided by sqrt(2): the spread of its
    component along any one direction, as the signed parallax at the target is.
    """
    still = run.still_parallax
    if not cfg.parallax_noise_z or not still:
        return cfg.min_parallax
    sigma = math.sqrt(sum(v * v for v in still) / len(still) / 2)
    context.record(parallax_noise=sigma)
    return max(cfg.min_parallax, cfg.parallax_noise_z * sigma)


def first_pause(trajectory: list[tuple[float, float]], motion: list[tuple[Any, ...]],
                size: tuple[int, int], cfg: "NoseConfig") -> tuple[int, int] | None:
    """The first pause of the nose state, as trajectory indices ``(first, last)``.

    ``motion`` holds ``(timestamp ms, face box width px, face)`` per trajectory
    point. The nose state starts on the first frame whose face is inside the
    area box, often while the person is still finishing the centring movement;
    the target's appearance is answered after a reaction time (150-600 ms)
    during which the head rests, and the aimed movement starts from that rest.
    A pause is a run of consecutive steps slower than ``pause_speed`` face
    widths per second lasting ``pause_ms`` in all; ``None`` without one (a
    person who moves at once).
    """
    width, height = size
    run_ms, first = 0.0, 0
    for i in range(1, len(trajectory) + 1):
        if i < len(trajectory):
            (x0, y0), (x1, y1) = trajectory[i - 1], trajectory[i]
            (t0, _, _), (t1, face_w, _) = motion[i - 1], motion[i]
            dt = (t1 - t0) / 1000
            dist = math.hypot((x1 - x0) * width, (y1 - y0) * height)
            if dt > 0 and face_w > 0 and dist / face_w / dt < cfg.pause_speed:
                if run_ms == 0.0:
                    first = i - 1
                run_ms += dt * 1000
                continue
        if run_ms >= cfg.pause_ms and run_ms > 0:
            return first, i - 1
        run_ms = 0.0
    return None


def aimed_start(run: _NoseRun, trajectory: list[tuple[float, float]],
                size: tuple[int, int], cfg: "NoseConfig") -> int:
    """Where the movement to the target may begin (the end of the first pause; 0 without
    one), keeping at least the last 4 points (a degree-2 fit needs them for a residual).

    Its frame becomes a second parallax reference. Both the whole path and the path after
    the pause are tried (trajectory fit and parallax): a pause is the reaction to the
    target when the centring movement was still finishing as the nose state began, but a
    person who reacted before it began pauses only between the movement and a correction.
    """
    motion = run.motion
    pause = first_pause(trajectory, motion, size, cfg)
    if pause is None:
        return 0
    start = min(pause[1], max(0, len(trajectory) - 4))
    run.parallax_reference = motion[start][2]
    return start
