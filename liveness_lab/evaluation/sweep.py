"""Parameter sweeps from ``experiments/*.yaml``, and fixed-profile studies.

This module reads and validates sweep files and expands their trials; running them
(:func:`run_sweep`, :func:`run_study`) lives in :mod:`liveness_lab.evaluation.runs`.

A sweep replays a dataset under many configurations (a grid or a random search over
thresholds, profiles, analyzers and datasets), **selects** one on the ``dev`` split by a
stated rule, then evaluates that one configuration, once, on ``test`` - with operating
thresholds chosen on ``dev`` and applied unchanged - and writes the report. Every
configuration is an MLflow nested run under the sweep's parent run (see
:mod:`liveness_lab.evaluation.tracking`).

The YAML schema is documented in ``docs/evaluation.md``; :func:`load_sweep` validates it
and raises :class:`~liveness_lab.errors.ConfigError` naming the file and the key.

:func:`run_study` evaluates a few fixed profiles side by side (the demo's seed-vs-best
comparison), with the same tracking and report.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..analyzers import DEFAULT_ANALYZER
from ..errors import ConfigError

__all__ = ["SweepSpec", "Trial", "load_sweep", "parse_sweep", "expand_trials",
           "SELECTION_METRICS"]

#: Names that live in :mod:`liveness_lab.evaluation.runs`, still importable from here.
_RUNS = ("run_sweep", "run_study", "SweepResult", "StudyResult", "ReplayOptions",
         "ReportOptions")


def __getattr__(name: str) -> Any:
    if name in _RUNS:
        from . import runs
        return getattr(runs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: Metric names a sweep may select on (optionally prefixed ``TYPE.``, or ``apcer.SPECIES``).
SELECTION_METRICS = ("acer", "max_apcer", "bpcer", "non_response_rate", "eer", "bpcer100",
                     "bpcer20", "bpcer10", "apcer_at_bpcer5pct", "apcer_at_bpcer10pct")

_TOP_KEYS = {"study", "description", "dataset", "challenge_types", "base", "search", "select",
             "report"}
_DATASET_KEYS = {"path", "generate"}
_GENERATE_KEYS = {"sessions_per_class", "seed", "challenge_types", "image_size", "profile"}
_BASE_KEYS = {"profile", "set", "analyzer"}
_SEARCH_KEYS = {"method", "space", "n_trials", "seed"}
_SELECT_KEYS = {"split", "metric", "constraints"}
_REPORT_KEYS = {"split", "n_bootstrap", "n_worst"}
_SPECIAL_DIMS = ("profile", "analyzer", "dataset")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep definition (see ``docs/evaluation.md`` for the YAML schema)."""

    study: str
    dataset: str
    description: str = ""
    generate: Mapping[str, Any] | None = None
    challenge_types: tuple[str, ...] | None = None
    profile: str | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    analyzer: str = DEFAULT_ANALYZER
    method: str = "grid"
    space: Mapping[str, Any] = field(default_factory=dict)
    n_trials: int | None = None
    seed: int = 0
    select_split: str | None = "dev"
    select_metric: str = "acer"
    constraints: Mapping[str, float] = field(default_factory=dict)
    report_split: str | None = "test"
    n_bootstrap: int = 1000
    n_worst: int = 4
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The definition in the YAML schema (what ``sweep.yaml`` artifacts hold)."""
        d: dict[str, Any] = {"study": self.study}
        if self.description:
            d["description"] = self.description
        d["dataset"] = {"path": self.dataset, **({"generate": dict(self.generate)}
                                                 if self.generate else {})}
        if self.challenge_types:
            d["challenge_types"] = list(self.challenge_types)
        d["base"] = {"profile": self.profile, "set": dict(self.sets), "analyzer": self.analyzer}
        d["search"] = {"method": self.method, "space": dict(self.space)}
        if self.method == "random":
            d["search"].update(n_trials=self.n_trials, seed=self.seed)
        d["select"] = {"split": self.select_split, "metric": self.select_metric,
                       "constraints": dict(self.constraints)}
        d["report"] = {"split": self.report_split, "n_bootstrap": self.n_bootstrap,
                       "n_worst": self.n_worst}
        return d


@dataclass(frozen=True)
class Trial:
    """One configuration of a sweep."""

    index: int
    profile: str | None
    analyzer: str
    dataset: str
    sets: Mapping[str, Any]
    varied: Mapping[str, Any]

    @property
    def name(self) -> str:
        parts = [f"{k}={v}" for k, v in self.varied.items()]
        return f"trial-{self.index:03d}" + (" " + ", ".join(parts) if parts else "")

    def overrides(self) -> dict[str, dict[str, Any]]:
        """``{TYPE: {key: value}}`` from the ``type.key`` settings."""
        out: dict[str, dict[str, Any]] = {}
        for k, v in self.sets.items():
            tname, key = k.split(".", 1)
            out.setdefault(tname.upper(), {})[key] = v
        return out

    def replay_spec(self, cache_path: str | None = None) -> Any:
        from .replay import ReplaySpec
        return ReplaySpec(self.profile, (), self.overrides(), self.analyzer, None, cache_path)


def _err(source: str | None, msg: str) -> ConfigError:
    return ConfigError(f"{source or 'sweep'}: {msg}")


def _check_keys(d: Any, allowed: set[str], where: str, source: str | None) -> Mapping[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise _err(source, f"{where} must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _err(source, f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
                           f"known: {', '.join(sorted(allowed))}")
    return d


def _check_metric(name: Any, source: str | None, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise _err(source, f"{where} must be a metric name, e.g. acer")
    base = name.split(".", 1)[1] if "." in name and name.split(".", 1)[0].isupper() else name
    if base in SELECTION_METRICS or (base.startswith("apcer.") and len(base) > 6):
        return name
    raise _err(source, f"{where}: unknown metric {name!r}; use one of "
                       f"{', '.join(SELECTION_METRICS)}, apcer.SPECIES, optionally prefixed "
                       "by a challenge type (NOSE.acer)")


def _dim_values(key: str, value: Any, method: str, source: str | None) -> Any:
    where = f"search.space.{key}"
    if isinstance(value, list):
        if not value:
            raise _err(source, f"{where} must list at least one value")
        return value
    if method == "grid":
        raise _err(source, f"{where}: a grid search needs a list of values, got {value!r}")
    if isinstance(value, Mapping):
        allowed = {"low", "high", "log", "type"}
        _check_keys(value, allowed, where, source)
        if "low" not in value or "high" not in value:
            raise _err(source, f"{where} needs low and high (e.g. {{low: 0.01, high: 0.05}})")
        lo, hi = value["low"], value["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) \
                or not lo < hi:
            raise _err(source, f"{where}: low and high must be numbers with low < high, got "
                               f"{lo!r} and {hi!r}")
        kind = value.get("type", "int" if isinstance(lo, int) and isinstance(hi, int)
                         and not value.get("log") else "float")
        if kind not in ("int", "float"):
            raise _err(source, f"{where}.type must be int or float, got {kind!r}")
        if value.get("log") and lo <= 0:
            raise _err(source, f"{where}: a log range needs low > 0")
        return {"low": lo, "high": hi, "log": bool(value.get("log", False)), "type": kind}
    raise _err(source, f"{where} must be a list of values or a range {{low, high}}, got "
                       f"{value!r}")


def parse_sweep(data: Any, *, source: str | None = None) -> SweepSpec:
    """Validate a sweep definition (the parsed YAML) into a :class:`SweepSpec`."""
    top = _check_keys(data, _TOP_KEYS, "the sweep file", source)
    if not top:
        raise _err(source, "the sweep file is empty; see docs/evaluation.md for the schema")
    study = top.get("study")
    if not isinstance(study, str) or not study.strip():
        raise _err(source, "study must name the MLflow experiment, e.g. study: nose-tolerances")
    ds = _check_keys(top.get("dataset"), _DATASET_KEYS, "dataset", source)
    if not isinstance(ds.get("path"), str) or not ds.get("path"):
        raise _err(source, "dataset.path must name a dataset directory")
    gen = ds.get("generate")
    if gen is not None:
        gen = dict(_check_keys(gen, _GENERATE_KEYS, "dataset.generate", source))
        if "sessions_per_class" not in gen:
            raise _err(source, "dataset.generate needs sessions_per_class")
    ctypes = top.get("challenge_types")
    if ctypes is not None:
        if isinstance(ctypes, str):
            ctypes = [ctypes]
        if not isinstance(ctypes, list) or not all(isinstance(c, str) for c in ctypes):
            raise _err(source, "challenge_types must be a list of type names, e.g. [NOSE]")
        ctypes = tuple(c.upper() for c in ctypes)
    base = _check_keys(top.get("base"), _BASE_KEYS, "base", source)
    sets = base.get("set") or {}
    if not isinstance(sets, Mapping) or not all(isinstance(k, str) and "." in k for k in sets):
        raise _err(source, "base.set must map type.key to a value, e.g. nose.min_dist: 0.1")
    search = _check_keys(top.get("search"), _SEARCH_KEYS, "search", source)
    method = search.get("method", "grid")
    if method not in ("grid", "random"):
        raise _err(source, f"search.method must be grid or random, got {method!r}")
    space_in = search.get("space") or {}
    if not isinstance(space_in, Mapping):
        raise _err(source, "search.space must map a dimension to its values")
    space = {}
    for key, value in space_in.items():
        key = str(key)
        if key not in _SPECIAL_DIMS and "." not in key:
            raise _err(source, f"search.space.{key}: a dimension is profile, analyzer, dataset "
                               "or a threshold written type.key (e.g. nose.min_dist)")
        if key in _SPECIAL_DIMS and not isinstance(value, list):
            raise _err(source, f"search.space.{key} must be a list")
        space[key] = _dim_values(key, value, method, source)
    n_trials = search.get("n_trials")
    if method == "random":
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise _err(source, f"search.n_trials must be a positive integer for a random "
                               f"search, got {n_trials!r}")
    elif n_trials is not None:
        raise _err(source, "search.n_trials only applies to method: random")
    seed = search.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _err(source, f"search.seed must be an integer, got {seed!r}")
    sel = _check_keys(top.get("select"), _SELECT_KEYS, "select", source)
    metric = _check_metric(sel.get("metric", "acer"), source, "select.metric")
    constraints = sel.get("constraints") or {}
    if not isinstance(constraints, Mapping):
        raise _err(source, "select.constraints must map a metric to its maximum, e.g. "
                           "{max_apcer: 0.1}")
    cons = {}
    for k, v in constraints.items():
        _check_metric(k, source, f"select.constraints.{k}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _err(source, f"select.constraints.{k} must be a number (a maximum)")
        cons[str(k)] = float(v)
    rep = _check_keys(top.get("report"), _REPORT_KEYS, "report", source)
    splits = {"train", "dev", "test", None}
    sel_split, rep_split = sel.get("split", "dev"), rep.get("split", "test")
    for name, v in (("select.split", sel_split), ("report.split", rep_split)):
        if v not in splits:
            raise _err(source, f"{name} must be train, dev, test or null (every session), "
                               f"got {v!r}")
    for name in ("n_bootstrap", "n_worst"):
        v = rep.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise _err(source, f"report.{name} must be a non-negative integer, got {v!r}")
    return SweepSpec(
        study=study.strip(), dataset=ds["path"], description=str(top.get("description") or ""),
        generate=gen, challenge_types=ctypes, profile=base.get("profile"), sets=dict(sets),
        analyzer=str(base.get("analyzer", DEFAULT_ANALYZER)), method=method, space=space,
        n_trials=n_trials, seed=seed, select_split=sel_split, select_metric=metric,
        constraints=cons, report_split=rep_split, n_bootstrap=rep.get("n_bootstrap", 1000),
        n_worst=rep.get("n_worst", 4), source=source)


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep YAML file."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the sweep file: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{where}: {problem}") from None
    return parse_sweep(data, source=str(p))


def _sample(dim: Any, rng: Any) -> Any:
    if isinstance(dim, list):
        return dim[int(rng.integers(len(dim)))]
    lo, hi = dim["low"], dim["high"]
    if dim["log"]:
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        v = rng.uniform(lo, hi)
    if dim["type"] == "int":
        return int(min(hi, max(lo, round(v))))
    return float(f"{v:.6g}")


def expand_trials(spec: SweepSpec, *, dataset: str | None = None) -> list[Trial]:
    """The sweep's configurations, in order (grid: YAML key order; random: seeded draws).

    ``dataset`` replaces the spec's dataset path (and any ``dataset`` dimension).
    """
    import numpy as np

    keys = list(spec.space)
    if spec.method == "grid":
        combos = [dict(zip(keys, values)) for values in
                  itertools.product(*(spec.space[k] for k in keys))] if keys else [{}]
    else:
        rng = np.random.default_rng(spec.seed)
        combos = [{k: _sample(spec.space[k], rng) for k in keys}
                  for _ in range(int(spec.n_trials or 1))]
    trials = []
    for i, combo in enumerate(combos):
        sets = dict(spec.sets)
        sets.update({k: v for k, v in combo.items() if k not in _SPECIAL_DIMS})
        ds = dataset or str(combo.get("dataset", spec.dataset))
        trials.append(Trial(i, combo.get("profile", spec.profile),
                            str(combo.get("analyzer", spec.analyzer)), ds, sets,
                            {k: v for k, v in combo.items()
                             if not (k == "dataset" and dataset)}))
    return trials
