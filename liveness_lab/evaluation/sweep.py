"""Parameter sweeps from ``experiments/*.yaml``, and fixed-profile studies.

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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import ConfigError
from .replay import write_results

__all__ = ["SweepSpec", "Trial", "SweepResult", "StudyResult", "load_sweep", "parse_sweep",
           "expand_trials", "run_sweep", "run_study", "SELECTION_METRICS"]

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
    analyzer: str = "local"
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
        analyzer=str(base.get("analyzer", "local")), method=method, space=space,
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


# --------------------------------------------------------------------------------------------
# running

@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` did."""

    spec: SweepSpec
    trials: Any                     # DataFrame: one row per trial (varied values, dev metrics)
    best: Trial
    selection_note: str
    test_metrics: Mapping[str, Any]
    report: Any                     # ReportFiles
    out_dir: Path
    experiment_id: str | None = None
    parent_run_id: str | None = None
    child_run_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` did."""

    metrics: Mapping[str, Any]      # profile -> compute_metrics output (reported split)
    report: Any                     # ReportFiles
    out_dir: Path
    experiment_id: str | None = None
    parent_run_id: str | None = None
    child_run_ids: Mapping[str, str] = field(default_factory=dict)


def _ensure_dataset(path: str, generate: Mapping[str, Any] | None) -> str:
    p = Path(path)
    if (p / "manifest.csv").is_file():
        return str(p)
    if generate is None:
        raise ConfigError(f"dataset {p} does not exist (no manifest.csv); create it or add "
                          "dataset.generate to the sweep file")
    if p.exists() and any(p.iterdir()):
        raise ConfigError(f"dataset {p} exists but has no manifest.csv; remove it or choose "
                          "another dataset.path")
    from ..synth.traces import generate_dataset
    kw = dict(generate)
    if "challenge_types" in kw:
        kw["challenge_types"] = tuple(kw["challenge_types"])
    if "image_size" in kw:
        kw["image_size"] = tuple(kw["image_size"])
    kw.setdefault("seed", 0)
    try:
        generate_dataset(p, **kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"dataset.generate: {e}") from None
    return str(p)


def _metric_value(flat: Mapping[str, float], name: str, prefix: str) -> float:
    v = flat.get(prefix + name)
    return math.inf if v is None or math.isnan(v) else float(v)


def _select(rows: Sequence[Mapping[str, float]], metric: str, constraints: Mapping[str, float],
            prefix: str) -> tuple[int, str]:
    """Index of the best trial: constraints first, then the metric, then ACER, then order."""
    feasible = [i for i, r in enumerate(rows)
                if all(_metric_value(r, k, prefix) <= v for k, v in constraints.items())]
    pool = feasible or list(range(len(rows)))
    best = min(pool, key=lambda i: (_metric_value(rows[i], metric, prefix),
                                    _metric_value(rows[i], "acer", prefix), i))
    cons = " and ".join(f"{k} <= {v:g}" for k, v in constraints.items())
    if constraints and not feasible:
        note = (f"no configuration met {cons} on {prefix.rstrip('.') or 'all sessions'}; "
                f"selected the lowest {metric} among all {len(rows)}")
    else:
        note = (f"selected the lowest {metric} on {prefix.rstrip('.') or 'all sessions'}"
                + (f" among the {len(feasible)} of {len(rows)} configurations with {cons}"
                   if constraints else f" among {len(rows)} configurations")
                + (" (ties: trial order)" if metric == "acer"
                   else " (ties: lower ACER, then trial order)"))
    return best, note


def _trial_params(trial: Trial, configs: Any, fingerprint: str, engine_desc: str
                  ) -> dict[str, Any]:
    params: dict[str, Any] = {"profile": configs.profile, "analyzer": trial.analyzer,
                              "dataset": str(Path(trial.dataset).resolve()),
                              "dataset_fingerprint": fingerprint, "engine": engine_desc}
    params.update(configs.flat())
    return params


def run_sweep(spec: SweepSpec | str | os.PathLike, *, out_dir: str | os.PathLike | None = None,
              tracking_uri: str | None | bool = None, project_dir: str | os.PathLike = ".",
              dataset: str | os.PathLike | None = None, engine: Any = None,
              workers: int | None = None, cache_path: str | None = "default",
              progress: bool = True, log: Callable[[str], None] | None = print) -> SweepResult:
    """Run a sweep: replay every configuration on the selection split, select, report on test.

    Parameters
    ----------
    spec:
        A :class:`SweepSpec`, or the path of a sweep YAML file.
    out_dir:
        Where the trials table, results and report go (default
        ``reports/sweeps/<study>/``).
    tracking_uri:
        MLflow tracking URI (default: ``sqlite:///<project_dir>/mlflow.db``); ``False``
        disables tracking.
    dataset:
        Replaces the dataset of the sweep file (e.g. a small one in tests).
    engine, workers:
        Where replay runs (see :func:`liveness_lab.engines.make_engine`); one
        engine serves every trial.
    cache_path:
        Analysis cache for frames without recorded faces (``"default"``:
        :data:`liveness_lab.analysis.DEFAULT_CACHE_PATH`; ``None``: no cache).
    progress:
        Show progress bars.
    log:
        Called with one line per step (``None``: silent).
    """
    import pandas as pd

    from ..engines import Engine, make_engine
    from .replay import replay_many
    from .metrics import compute_metrics, flatten_metrics
    from .report import Evaluation, build_report
    from .tracking import Tracker, code_version, dataset_fingerprint

    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    if cache_path == "default":
        from ..analysis import DEFAULT_CACHE_PATH
        cache_path = str(DEFAULT_CACHE_PATH)
    say = log or (lambda _m: None)
    trials = expand_trials(spec, dataset=str(dataset) if dataset is not None else None)
    # validate every configuration before any work
    resolved = []
    for t in trials:
        try:
            resolved.append(t.replay_spec(cache_path).resolve())
        except ConfigError as e:
            raise ConfigError(f"{spec.source or 'sweep'}: {t.name}: {e}") from None
    datasets = {t.dataset: _ensure_dataset(t.dataset, spec.generate if dataset is None
                                           and t.dataset == spec.dataset else None)
                for t in trials}
    fingerprints = {d: dataset_fingerprint(d) for d in datasets}
    out = Path(out_dir or Path("reports") / "sweeps" / _slugify(spec.study))
    out.mkdir(parents=True, exist_ok=True)
    version = code_version()
    tracker = None if tracking_uri is False else Tracker(
        tracking_uri if isinstance(tracking_uri, str) else None, project_dir=project_dir)
    own_engine = not isinstance(engine, Engine)
    eng = make_engine(engine, workers=workers)
    sel_prefix = f"{spec.select_split}." if spec.select_split else "all."
    splits = [spec.select_split] if spec.select_split else None
    say(f"sweep {spec.study}: {len(trials)} configurations ({spec.method}), selecting on "
        f"{spec.select_split or 'all sessions'} by {spec.select_metric}"
        + (f" with {spec.constraints}" if spec.constraints else "")
        + f"; engine {eng.describe()}")
    exp_id = parent = None
    child_ids: list[str] = []
    try:
        if tracker is not None:
            exp_id = tracker.experiment(spec.study, description=spec.description or None)
            parent = tracker.start_run(exp_id, f"sweep {spec.study}",
                                       tags={"liveness_lab.role": "sweep",
                                             "liveness_lab.code_version": version})
            tracker.log_params(parent, {
                "sweep_file": spec.source or "", "method": spec.method,
                "n_trials": len(trials), "select.split": spec.select_split or "all",
                "select.metric": spec.select_metric,
                "select.constraints": ", ".join(f"{k}<={v:g}" for k, v in
                                                spec.constraints.items()) or "none",
                "report.split": spec.report_split or "all",
                "challenge_types": ",".join(spec.challenge_types or ()) or "all",
                "dataset": ",".join(str(Path(d).resolve()) for d in datasets),
                "dataset_fingerprint": ",".join(fingerprints.values()),
                "engine": eng.describe(), "code_version": version})
        # 1. replay every configuration on the selection split, one pass per dataset
        sel_results: dict[int, Any] = {}
        for ds in datasets:
            group = [t for t in trials if t.dataset == ds]
            frames = replay_many(ds, [t.replay_spec(cache_path) for t in group], engine=eng,
                                 splits=splits, progress=progress)
            for t, df in zip(group, frames):
                sel_results[t.index] = _only_types(df, spec.challenge_types)
        if not any(len(df) for df in sel_results.values()):
            raise ConfigError(f"the dataset has no session in split "
                              f"{spec.select_split!r} for {spec.challenge_types or 'any type'}")
        # 2. metrics, tracking of each trial
        rows, flats = [], []
        bar = _bar(progress, len(trials), "log trials")
        for t, configs in zip(trials, resolved):
            m = compute_metrics(sel_results[t.index], n_bootstrap=0)
            flat = flatten_metrics(m, sel_prefix)
            flats.append(flat)
            row = {"trial": t.index, **dict(t.varied),
                   **{k[len(sel_prefix):]: flat.get(k, math.nan)
                      for k in (sel_prefix + "max_apcer", sel_prefix + "bpcer",
                                sel_prefix + "acer", sel_prefix + "non_response_rate")},
                   spec.select_metric: flat.get(sel_prefix + spec.select_metric, math.nan)}
            rows.append(row)
            trial_csv = write_results(sel_results[t.index],
                                       out / "trials" / f"{t.index:03d}" / "results.csv")
            if tracker is not None:
                with tracker.run(exp_id, t.name, parent=parent,
                                 tags={"liveness_lab.role": "trial",
                                       "liveness_lab.trial": str(t.index)}) as rid:
                    child_ids.append(rid)
                    tracker.log_params(rid, _trial_params(t, configs, fingerprints[t.dataset],
                                                          eng.describe()))
                    tracker.log_metrics(rid, flat)
                    tracker.log_artifact(rid, trial_csv)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        best_i, note = _select(flats, spec.select_metric, spec.constraints, sel_prefix)
        best = trials[best_i]
        table = pd.DataFrame(rows)
        table["selected"] = table["trial"] == best.index
        table.to_csv(out / "trials.csv", index=False)
        say(f"best on {spec.select_split or 'all sessions'}: {best.name} ({note})")
        # 3. the selected configuration, once, on the report split (+ calibration split)
        best_spec = best.replay_spec(cache_path)
        rep_splits = [s for s in {spec.report_split, spec.select_split} if s] or None
        full = _only_types(replay_many(best.dataset, [best_spec], engine=eng,
                                       splits=None if spec.report_split is None else rep_splits,
                                       progress=progress)[0], spec.challenge_types)
        reported = full if spec.report_split is None else \
            full[full["split"] == spec.report_split]
        calibration = sel_results[best.index] if spec.select_split and \
            spec.select_split != spec.report_split else None
        if not len(reported):
            raise ConfigError(f"the dataset has no session in split {spec.report_split!r}")
        test_metrics = compute_metrics(reported, calibration=calibration,
                                       n_bootstrap=spec.n_bootstrap, seed=spec.seed)
        write_results(full, out / "results.csv")
        trial_rows = [[str(r["trial"])] + [_fmt(r.get(k)) for k in table.columns
                                          if k not in ("trial", "selected")]
                      + ["yes" if r["selected"] else ""] for r in table.to_dict("records")]
        headers = ["trial"] + [k for k in table.columns if k not in ("trial", "selected")] \
            + ["selected"]
        ev = Evaluation(f"selected trial {best.index}", reported, calibration,
                        profile=best.profile, overrides=best.overrides(),
                        analyzer=best.analyzer, metrics=test_metrics)
        report = build_report(
            ev, out / "report", title=f"Sweep {spec.study}: selected configuration on "
                                      f"{spec.report_split or 'all sessions'}",
            dataset_dir=best.dataset, dataset_fingerprint=fingerprints[best.dataset],
            code_version=version, split_label=spec.report_split or "all sessions",
            calibration_label=spec.select_split if calibration is not None else None,
            notes=[spec.description] if spec.description else [],
            extra_config={"sweep file": spec.source or "(in memory)",
                          "selection": note, "search": f"{spec.method}, {len(trials)} "
                                                       "configurations"},
            extra_tables=[(f"Sweep trials (metrics on {spec.select_split or 'all sessions'})",
                           headers, trial_rows)],
            n_worst=spec.n_worst, n_bootstrap=spec.n_bootstrap, seed=spec.seed)
        say(f"report: {report.html}")
        if tracker is not None:
            test_prefix = f"{spec.report_split}." if spec.report_split else "all."
            tracker.log_params(parent, {f"best.{k}": v for k, v in best.varied.items()}
                               | {"best.trial": best.index, "best.run_id": child_ids[best_i]})
            tracker.log_metrics(parent, flatten_metrics(test_metrics, test_prefix))
            tracker.log_metrics(parent, {f"best.{k}": v for k, v in flats[best_i].items()})
            tracker.set_tags(child_ids[best_i], {"liveness_lab.selected": "true"})
            tracker.set_tags(parent, {"liveness_lab.selection": note})
            tracker.log_artifact(parent, out / "trials.csv")
            tracker.log_artifact(parent, out / "results.csv")
            tracker.log_artifact(parent, report.out_dir, artifact_path="report")
            tracker.end_run(parent)
            say(f"MLflow: experiment {spec.study!r} ({tracker.tracking_uri}), parent run "
                f"{parent}")
    except BaseException:
        if tracker is not None and parent is not None:
            tracker.end_run(parent, "FAILED")
        raise
    finally:
        if own_engine:
            eng.close()
    return SweepResult(spec, table, best, note, test_metrics, report, out, exp_id, parent,
                       tuple(child_ids))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4g}"
    return "" if v is None else str(v)


def _bar(progress: bool, total: int, desc: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, leave=False, unit="trial")


def _only_types(df: Any, types: Sequence[str] | None) -> Any:
    if not types:
        return df
    return df[df["challenge_type"].astype(str).str.upper().isin(types)].reset_index(drop=True)


def _slugify(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-") or "study"


def run_study(dataset_dir: str | os.PathLike, *, profiles: Sequence[str] = ("seed",),
              out_dir: str | os.PathLike = "reports/demo", study: str = "demo",
              tracking_uri: str | None | bool = None, project_dir: str | os.PathLike = ".",
              challenge_types: Sequence[str] | None = None,
              report_split: str | None = "auto", calibration_split: str | None = "auto",
              engine: Any = None, workers: int | None = None, n_bootstrap: int = 1000,
              n_worst: int = 4, seed: int = 0, progress: bool = True,
              title: str | None = None, cache_path: str | None = "default",
              log: Callable[[str], None] | None = print,
              datasets: Mapping[str, str | os.PathLike] | None = None,
              notes: Sequence[str] = ()) -> StudyResult:
    """Evaluate fixed profiles side by side: results, MLflow runs and one report.

    Every profile replays the whole dataset (one pass, all profiles at once), or, for a
    profile named in ``datasets``, its own dataset instead (the sessions of its own
    protocol: the demo evaluates ``seed`` on the original clients' sessions). ``notes``:
    paragraphs for the top of the report (say there what each profile was run on). Metrics are
    computed on ``report_split`` with operating thresholds chosen on ``calibration_split``
    (``"auto"``: ``test`` and ``dev`` when the dataset has them, else every session without
    calibration). Writes ``OUT/report.html``, ``OUT/report.md``, the PNGs and
    ``OUT/results-<profile>.csv``; logs a parent run ``study <name>`` with one nested run
    per profile (params, metrics, ``results.csv``, DET plot) unless ``tracking_uri`` is
    ``False``. ``cache_path``: the analysis cache for frames without recorded faces.

    This is what ``liveness-lab demo`` calls::

        run_study("datasets/generated/demo", profiles=["seed", "hardened"],
                  out_dir="reports/demo")
    """
    from .replay import ReplaySpec, replay_many
    from .metrics import compute_metrics, flatten_metrics
    from .report import Evaluation, build_report, split_results
    from .tracking import Tracker, code_version, dataset_fingerprint

    say = log or (lambda _m: None)
    profiles = list(dict.fromkeys(profiles))
    if not profiles:
        raise ConfigError("run_study needs at least one profile")
    if cache_path == "default":
        from ..analysis import DEFAULT_CACHE_PATH
        cache_path = str(DEFAULT_CACHE_PATH)
    specs = [ReplaySpec(p, cache_path=cache_path) for p in profiles]
    sources = {p: str((datasets or {}).get(p, dataset_dir)) for p in profiles}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prints = {src: dataset_fingerprint(src) for src in dict.fromkeys(sources.values())}
    fingerprint = next(iter(prints.values())) if len(prints) == 1 else "; ".join(
        f"{p}: {prints[sources[p]]}" for p in profiles)
    version = code_version()
    types = tuple(t.upper() for t in challenge_types) if challenge_types else None
    by_source: dict[str, Any] = {}
    for src in prints:
        group = [i for i, p in enumerate(profiles) if sources[p] == src]
        say(f"study {study}: profiles {', '.join(profiles[i] for i in group)} on {src} "
            f"(fingerprint {prints[src]})")
        for i, df in zip(group, replay_many(src, [specs[i] for i in group], engine=engine,
                                            workers=workers, progress=progress)):
            by_source[profiles[i]] = df
    frames = [by_source[p] for p in profiles]
    evals, metrics, flats = [], {}, {}
    split_label, cal_label = "all sessions", None
    for prof, spec, df in zip(profiles, specs, frames):
        df = _only_types(df, types)
        write_results(df, out / f"results-{prof}.csv")
        reported, cal, split_label, cal_label = split_results(df, report_split, calibration_split)
        m = compute_metrics(reported, calibration=cal, n_bootstrap=n_bootstrap, seed=seed)
        metrics[prof] = m
        prefix = "test." if split_label == "test" else f"{_slugify(split_label)}."
        flats[prof] = flatten_metrics(m, prefix)
        evals.append(Evaluation(prof, reported, cal, profile=prof, metrics=m,
                                dataset_dir=sources[prof] if len(prints) > 1 else None))
    report = build_report(evals, out, title=title or f"liveness-lab study {study}: "
                          + " vs ".join(profiles), notes=notes,
                          dataset_dir=next(iter(prints)) if len(prints) == 1 else None,
                          dataset_fingerprint=fingerprint,
                          code_version=version, split_label=split_label,
                          calibration_label=cal_label, n_worst=n_worst,
                          n_bootstrap=n_bootstrap, seed=seed)
    say(f"report: {report.html} and {report.markdown}")
    exp_id = parent = None
    children: dict[str, str] = {}
    if tracking_uri is not False:
        tracker = Tracker(tracking_uri if isinstance(tracking_uri, str) else None,
                          project_dir=project_dir)
        exp_id = tracker.experiment(study)
        with tracker.run(exp_id, f"study {study}", tags={"liveness_lab.role": "study",
                                                        "liveness_lab.code_version": version}
                         ) as parent:
            tracker.log_params(parent, {"profiles": ",".join(profiles),
                                        "dataset": str(Path(dataset_dir).resolve()),
                                        "dataset_fingerprint": fingerprint,
                                        "report.split": split_label,
                                        "calibration.split": cal_label or "none",
                                        "code_version": version})
            for prof, spec in zip(profiles, specs):
                with tracker.run(exp_id, prof, parent=parent,
                                 tags={"liveness_lab.role": "profile"}) as rid:
                    children[prof] = rid
                    configs = spec.resolve()
                    params = {"profile": prof, "analyzer": spec.analyzer,
                              "dataset": str(Path(sources[prof]).resolve()),
                              "dataset_fingerprint": prints[sources[prof]],
                              "code_version": version}
                    params.update(configs.flat())
                    tracker.log_params(rid, params)
                    tracker.log_metrics(rid, flats[prof])
                    with tempfile.TemporaryDirectory() as tmp:
                        copy = Path(tmp) / "results.csv"
                        copy.write_bytes((out / f"results-{prof}.csv").read_bytes())
                        tracker.log_artifact(rid, copy)
                    for img in report.images:
                        if img.name.startswith("det-"):
                            tracker.log_artifact(rid, img, artifact_path="plots")
            tracker.log_artifact(parent, out / "report.html", artifact_path="report")
            tracker.log_artifact(parent, out / "report.md", artifact_path="report")
            for img in report.images:
                tracker.log_artifact(parent, img, artifact_path="report")
        say(f"MLflow: experiment {study!r} ({tracker.tracking_uri}), parent run {parent}")
    return StudyResult(metrics, report, out, exp_id, parent, children)

