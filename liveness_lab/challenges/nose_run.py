"""Per-run state of a NOSE run, kept in the context under one key (``_NoseRun``).

:mod:`.nose` creates it on the nose state's first frame with a face and every
rule of the nose state (:mod:`.nose`, :mod:`.nose_motion`) reads and updates
its fields; params and config do not change during a run. The original's
public context key ``original_landmarks`` (plugins read it) stays in the
context as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..faces import FaceDetail
from .framework import Context

__all__ = ["RUN_KEY", "_NoseRun", "nose_run"]

#: the context key the run state is kept under
RUN_KEY = "nose.run"


@dataclass
class _NoseRun:
    """Per-run state of the NOSE state (mutable: one per run, never shared)."""

    #: the face of the nose state's first frame (its landmarks are compared at the target)
    original_face: FaceDetail
    #: nose tip positions (image ratios) of the current leg (one target: the whole state)
    trajectory: list[tuple[float, float]] = field(default_factory=list)
    #: the tolerant area box of the nose state, pixels
    area: tuple[float, float, float, float] | None = None
    #: ``area`` grown toward the targets (``area_follows_nose``)
    area_grown: tuple[float, float, float, float] | None = None
    #: the target boxes in order, pixels
    targets: list[tuple[float, ...]] | None = None
    #: index of the target the nose is moving to
    target_index: int = 0
    #: ``(target index, tolerant box)`` of the target the nose is moving to
    tolerant: tuple[int, tuple[float, float, float, float]] | None = None
    #: a sequence: the face at the start of the current leg (``None``: the first leg)
    leg_start_face: FaceDetail | None = None
    #: a sequence: client time (ms) since which the nose has been in the target box
    hold_since: int | None = None
    #: the largest nose parallax over the targets reached so far
    best_parallax: float | None = None
    #: the frame the movement after the first pause started from (``trajectory_after_pause``)
    parallax_reference: FaceDetail | None = None
    #: ``(timestamp ms, face box width px, face)`` per trajectory point (``trajectory_after_pause``)
    motion: list[tuple[Any, ...]] = field(default_factory=list)
    #: the nose has moved: no more still frames for the parallax noise
    still_done: bool = False
    #: unsigned parallax of the still frames against the first (the session's noise)
    still_parallax: list[float] = field(default_factory=list)


def nose_run(context: Context) -> _NoseRun:
    """The run's state; the nose state created it on its first frame with a face."""
    return context[RUN_KEY]
