"""A passive presentation-attack-detection (PAD) baseline: one score per face and frame.

``PadScore`` (0..1) is the probability that a face is a live person rather
than a printed photo or a screen. It is written in the face's
``"LivenessLab"`` extension (see :mod:`liveness_lab.challenges.checks`) by
:class:`PadStage`, which wraps any face analyzer
(``PadStage(analyzer, PadModel.load(path))``; train a model with
``liveness-lab pad-train``). Challenges require it with ``pad_check``, which no
built-in profile turns on.

The baseline is deliberately simple and its limits are documented in
``docs/hardening.md``: texture, frequency and colour features of the face
crop (:mod:`.features`) and a logistic regression (:class:`PadModel`, stored
as JSON, no pickle) trained on frames rendered by
:mod:`liveness_lab.synth.render` from the two bundled photos - live-like
2.5D head turns against planar prints and screens with *synthetic*
artifacts (:mod:`.training`). It detects those artifacts; it has never seen a
real print, screen, mask or deepfake.
"""

from __future__ import annotations

from .model import DEFAULT_MODEL_PATH, PadModel, load_default_model

__all__ = ["PadModel", "DEFAULT_MODEL_PATH", "load_default_model", "PadStage", "score_faces"]


def __getattr__(name: str):
    if name in ("PadStage", "score_faces"):
        from . import stage
        return getattr(stage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
