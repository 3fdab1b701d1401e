"""The NOSE state's trajectory test: the nose's path to a target fitted by a degree-2 curve.

The original fits ``np.polyfit(x, y, 2)`` to the nose positions of the whole
nose state and fails when the RMS residual exceeds
``trajectory_error_threshold``: a turning head draws a smooth arc, a hand
waving a picture does not. The hardened rules add, through
:func:`fit_leg`: a sequence's legs fitted along their chord (they run in any
direction), an exact fit for 3 points (5 fps; ``three_point_fit``), and the
better of the whole path and the path after the first reaction pause
(``trajectory_after_pause``). The ``seed`` profile uses the plain fit alone.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .framework import Context
from .nose_motion import aimed_start
from .nose_run import _NoseRun

if TYPE_CHECKING:  # pragma: no cover
    from .nose import NoseConfig

__all__ = ["fit_leg", "trajectory_error", "exact_fit"]


def fit_leg(run: _NoseRun, size: tuple[int, int], cfg: "NoseConfig", context: Context, *,
            sequence: bool) -> tuple[float | None, list[tuple[float, float]]]:
    """The RMS error of the nose's path to the current target and the path it was fitted on.

    ``sequence``: the leg of a target sequence (fitted along its chord). ``None``
    for the error when the path cannot be fitted (too short or degenerate).
    """
    trajectory = run.trajectory
    error = trajectory_error(trajectory, along_chord=sequence)
    if error is None and cfg.three_point_fit:
        error = exact_fit(trajectory)
    if not cfg.trajectory_after_pause:
        return error, trajectory
    start = aimed_start(run, trajectory, size, cfg)
    if not sequence:
        context.record(trajectory_start=start)
    if start:  # the better of the whole path and the path after the pause
        after = trajectory_error(trajectory[start:], along_chord=sequence)
        if after is None and cfg.three_point_fit and not sequence:
            after = exact_fit(trajectory[start:])
        if after is not None and (error is None or after < error):
            return after, trajectory[start:]
    return error, trajectory


def exact_fit(trajectory: list[tuple[float, float]]) -> float | None:
    """``0.0`` for 3 distinct x positions (a degree-2 curve passes through them exactly: the
    fit has no residual to judge), else ``None`` (too few points, or a degenerate fit)."""
    if len(trajectory) == 3 and len({p[0] for p in trajectory}) == 3:
        return 0.0
    return None


def trajectory_error(trajectory: list[tuple[float, float]], along_chord: bool = False
                     ) -> float | None:
    """RMS residual of ``np.polyfit(x, y, 2)``, or ``None`` when numpy gives no residual.

    ``along_chord`` (a sequence's legs, which may run in any direction): x is measured
    along the line from the leg's first to its last point and y across it.
    """
    xs = [p[0] for p in trajectory]
    ys = [p[1] for p in trajectory]
    if along_chord and len(trajectory) > 1:
        dx, dy = xs[-1] - xs[0], ys[-1] - ys[0]
        norm = math.hypot(dx, dy)
        if norm > 0:
            c, s = dx / norm, dy / norm
            xs, ys = ([(x - xs[0]) * c + (y - ys[0]) * s for x, y in trajectory],
                      [-(x - xs[0]) * s + (y - ys[0]) * c for x, y in trajectory])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, residuals, *_ = np.polyfit(xs, ys, 2, full=True)
        except (np.linalg.LinAlgError, ValueError, TypeError):
            return None
    if residuals.size == 0:
        return None
    return math.sqrt(float(residuals[0]) / len(trajectory))
