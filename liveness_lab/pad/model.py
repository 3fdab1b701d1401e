"""The PAD baseline model: standardised features and a logistic regression, stored as JSON.

JSON rather than a pickle: the file is plain numbers that anyone can read,
diff and load without executing code. :func:`load_default_model` trains the
model at first use (deterministically, about a minute on one core) and
keeps it at :data:`DEFAULT_MODEL_PATH`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .features import FEATURE_NAMES, texture_features

__all__ = ["PadModel", "DEFAULT_MODEL_PATH", "MODEL_FORMAT", "load_default_model"]

#: format tag of the model file; bump when the features or the training recipe change
MODEL_FORMAT = "liveness-lab/pad-baseline@1"
#: where the command line and the local analyzer keep the default model (next to the cache)
DEFAULT_MODEL_PATH = Path(".liveness-lab") / "pad-baseline-v1.json"


@dataclass(frozen=True)
class PadModel:
    """A logistic regression on standardised texture features.

    ``score(x) = sigmoid(coef . ((x - mean) / scale) + intercept)`` is the
    probability that the face is live (bona fide).
    """

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        for name in ("mean", "scale", "coef"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"PadModel.{name} must hold {n} finite numbers, got shape "
                                 f"{arr.shape}")
            object.__setattr__(self, name, arr)
        if np.any(self.scale <= 0):
            raise ValueError("PadModel.scale must be > 0")
        if not math.isfinite(self.intercept):
            raise ValueError("PadModel.intercept must be finite")

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Live probabilities of feature rows ``(N, F)`` (or one row ``(F,)``)."""
        x = np.atleast_2d(np.asarray(features, dtype=float))
        if x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} features, got {x.shape[1]}")
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def score_crop(self, crop: np.ndarray) -> float:
        """The live probability of one face crop (see :func:`~.features.face_crop`)."""
        return float(self.predict(texture_features(crop))[0])

    def digest(self) -> str:
        """A short hash of the coefficients (for analysis-cache fingerprints)."""
        import hashlib
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": MODEL_FORMAT, "feature_names": list(self.feature_names),
                "mean": [float(v) for v in self.mean], "scale": [float(v) for v in self.scale],
                "coef": [float(v) for v in self.coef], "intercept": float(self.intercept),
                "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PadModel":
        """The model of a :meth:`to_dict` object; a wrong format or feature set raises."""
        found = d.get("format") if isinstance(d, Mapping) else None
        if found != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} model (format {found!r})")
        names = tuple(d["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError("the model's features differ from this version's; retrain it "
                             "(liveness-lab pad-train)")
        return cls(names, np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["coef"]),
                   float(d["intercept"]), dict(d.get("metadata") or {}))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as JSON (atomically)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PadModel":
        """Read a model written by :meth:`save`; a wrong file raises ``ValueError``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not JSON: {e}") from None
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError) as e:
            raise ValueError(f"{path}: malformed PAD model ({e})") from None


def load_default_model(path: str | os.PathLike | None = None, *,
                       train_if_missing: bool = True, **train_options: Any) -> PadModel:
    """The PAD baseline at ``path`` (default :data:`DEFAULT_MODEL_PATH`).

    When the file is missing (or holds a model of an older format) and
    ``train_if_missing``, it is trained with
    :func:`liveness_lab.pad.training.train_baseline` (``train_options``) and
    saved there first; the training is deterministic, so every machine
    builds the same model.
    """
    p = Path(path) if path is not None else DEFAULT_MODEL_PATH
    if p.is_file():
        try:
            return PadModel.load(p)
        except ValueError:
            if not train_if_missing:
                raise
    elif not train_if_missing:
        raise FileNotFoundError(f"no PAD model at {p}; train one with liveness-lab pad-train")
    from .training import train_baseline
    model = train_baseline(**train_options)
    model.save(p)
    return model
