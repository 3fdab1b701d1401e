"""Running sweeps and studies: replay → score → select → evaluate → log, one run logger.

:func:`run_sweep` replays a dataset under every configuration of a
:class:`~liveness_lab.evaluation.sweep.SweepSpec` on the selection split, scores each
trial, selects one by the stated rule, evaluates that one configuration once on the report
split (thresholds chosen on the selection split, applied unchanged), flags constraints the
selection met on dev but breaks on test, writes the report and logs everything through one
:class:`~liveness_lab.evaluation.tracking.RunLogger`.

:func:`run_study` evaluates a few fixed profiles side by side (the demo) with the same
steps minus the selection.

Options are explicit values, never sentinels: ``tracker=None`` means no tracking,
``cache_path=None`` no analysis cache.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import ConfigError
from .replay import write_results
from .sweep import SweepSpec, Trial, expand_trials, load_sweep

__all__ = ["ReplayOptions", "ReportOptions", "SweepResult", "StudyResult", "run_sweep",
           "run_study", "select_trial"]


@dataclass(frozen=True)
class ReplayOptions:
    """Where and how datasets are replayed.

    Attributes
    ----------
    engine:
        An :class:`~liveness_lab.engines.Engine`, or a name for
        :func:`~liveness_lab.engines.make_engine` (``None``: a local process pool).
    workers:
        Size of an engine made from a name.
    cache_path:
        Analysis cache for frames without recorded faces (``None``: no cache).
    progress:
        Show progress bars.
    dataset_cache:
        Folder of the columnar dataset cache (see
        :func:`~liveness_lab.evaluation.replay.replay_many`): every pass reads the sessions
        parsed once; ``None``: each pass parses the JSON documents.
    """

    engine: Any = None
    workers: int | None = None
    cache_path: Path | None = None
    progress: bool = True
    dataset_cache: Path | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and (isinstance(self.workers, bool)
                                         or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise ValueError(f"workers must be a positive integer, got {self.workers!r}")
        if self.cache_path is not None:
            object.__setattr__(self, "cache_path", Path(self.cache_path))

    @property
    def cache(self) -> str | None:
        return None if self.cache_path is None else str(self.cache_path)


@dataclass(frozen=True)
class ReportOptions:
    """What a study reports: splits, intervals, worst sessions.

    ``split`` / ``calibration_split``: ``"auto"`` reports ``test`` calibrated on ``dev``
    when the dataset has them (see :func:`~liveness_lab.evaluation.report.split_results`).
    """

    split: str | None = "auto"
    calibration_split: str | None = "auto"
    n_bootstrap: int = 1000
    n_worst: int = 4
    seed: int = 0
    title: str | None = None

    def __post_init__(self) -> None:
        for name in ("n_bootstrap", "n_worst"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` did."""

    spec: SweepSpec
    trials: Any                     # DataFrame: one row per trial (varied values, dev metrics)
    best: Trial
    selection_note: str
    test_metrics: Any               # Metrics of the selected configuration on the report split
    report: Any                     # ReportFiles
    out_dir: Path
    experiment_id: str | None = None
    parent_run_id: str | None = None
    child_run_ids: tuple[str, ...] = ()
    #: constraints the selection met on the selection split but breaks on the report split
    test_violations: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` did."""

    metrics: Mapping[str, Any]      # profile -> Metrics (reported split)
    report: Any                     # ReportFiles
    out_dir: Path
    experiment_id: str | None = None
    parent_run_id: str | None = None
    child_run_ids: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# shared steps

def _slugify(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-") or "study"


def _only_types(df: Any, types: Sequence[str] | None) -> Any:
    if not types:
        return df
    return df[df["challenge_type"].astype(str).str.upper().isin(types)].reset_index(drop=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4g}"
    return "" if v is None else str(v)


def _bar(progress: bool, total: int, desc: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, leave=False, unit="trial")


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


def _metrics(results: Any, calibration: Any = None, **kw: Any) -> Any:
    """compute_metrics, with the missing-calibration warning kept (the report says it too)."""
    from .aggregate import compute_metrics
    return compute_metrics(results, calibration=calibration, **kw)


def _config_params(profile: str, analyzer: str, configs: Any, dataset: str, fingerprint: str,
                   engine: str) -> dict[str, Any]:
    params: dict[str, Any] = {"profile": profile, "analyzer": analyzer,
                              "dataset": str(Path(dataset).resolve()),
                              "dataset_fingerprint": fingerprint}
    if engine:
        params["engine"] = engine
    params.update(configs.flat())
    return params


# --------------------------------------------------------------------------------------------
# sweep steps

def _metric_value(flat: Mapping[str, float], name: str, prefix: str) -> float:
    v = flat.get(prefix + name)
    return math.inf if v is None or math.isnan(v) else float(v)


def select_trial(rows: Sequence[Mapping[str, float]], metric: str,
                 constraints: Mapping[str, float], prefix: str) -> tuple[int, str]:
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


def _prepare(spec: SweepSpec, dataset: str | None, cache: str | None
             ) -> tuple[list[Trial], list[Any], dict[str, str], dict[str, str]]:
    """Trials, their resolved configurations, datasets and fingerprints - before any work."""
    from .tracking import dataset_fingerprint
    trials = expand_trials(spec, dataset=dataset)
    resolved = []
    for t in trials:
        try:
            resolved.append(t.replay_spec(cache).resolve())
        except ConfigError as e:
            raise ConfigError(f"{spec.source or 'sweep'}: {t.name}: {e}") from None
    datasets = {t.dataset: _ensure_dataset(t.dataset, spec.generate if dataset is None
                                           and t.dataset == spec.dataset else None)
                for t in trials}
    return trials, resolved, datasets, {d: dataset_fingerprint(d) for d in datasets}


def _replay_trials(spec: SweepSpec, trials: Sequence[Trial], eng: Any, cache: str | None,
                   progress: bool, dataset_cache: Any = None) -> dict[int, Any]:
    """Step 1: every configuration on the selection split, one pass per dataset."""
    from .replay import replay_many
    splits = [spec.select_split] if spec.select_split else None
    out: dict[int, Any] = {}
    for ds in dict.fromkeys(t.dataset for t in trials):
        group = [t for t in trials if t.dataset == ds]
        frames = replay_many(ds, [t.replay_spec(cache) for t in group], engine=eng,
                             splits=splits, progress=progress, dataset_cache=dataset_cache)
        for t, df in zip(group, frames):
            out[t.index] = _only_types(df, spec.challenge_types)
    if not any(len(df) for df in out.values()):
        raise ConfigError(f"the dataset has no session in split {spec.select_split!r} for "
                          f"{spec.challenge_types or 'any type'}")
    return out


def _score_trials(spec: SweepSpec, trials: Sequence[Trial], results: Mapping[int, Any],
                  prefix: str) -> tuple[Any, list[dict[str, float]]]:
    """Step 2: metrics of each trial; the trials table with counts and Wilson intervals."""
    import pandas as pd

    from .aggregate import flatten_metrics
    rows, flats = [], []
    for t in trials:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = _metrics(results[t.index], n_bootstrap=0)
        flat = flatten_metrics(m, prefix)
        flats.append(flat)
        b = m.overall
        rows.append({
            "trial": t.index, **dict(t.varied),
            "n_bona_fide": b.n_bona_fide, "n_attack": b.n_attack,
            "max_apcer": b.max_apcer, "max_apcer_ci_low": b.max_apcer_ci[0],
            "max_apcer_ci_high": b.max_apcer_ci[1],
            "max_apcer_species": ", ".join(b.max_apcer_species),
            "bpcer": b.bpcer, "bpcer_rejected": b.bpcer_rejected,
            "bpcer_ci_low": b.bpcer_ci[0], "bpcer_ci_high": b.bpcer_ci[1],
            "acer": b.acer, "non_response_rate": b.non_response_rate, "bpnrr": b.bpnrr,
            spec.select_metric: flat.get(prefix + spec.select_metric, math.nan),
            "meets_constraints": all(_metric_value(flat, k, prefix) <= v
                                     for k, v in spec.constraints.items())})
    return pd.DataFrame(rows), flats


def _test_violations(spec: SweepSpec, test_flat: Mapping[str, float], dev_flat:
                     Mapping[str, float], sel_prefix: str, test_prefix: str) -> list[str]:
    """Constraints the selected trial met on the selection split and breaks on test."""
    out = []
    for k, limit in spec.constraints.items():
        dev_v = _metric_value(dev_flat, k, sel_prefix)
        test_v = _metric_value(test_flat, k, test_prefix)
        if dev_v <= limit < test_v:
            out.append(f"{k} <= {limit:g} held on {sel_prefix.rstrip('.')} ({_fmt(dev_v)}) but "
                       f"not on {test_prefix.rstrip('.')} ({_fmt(test_v)})")
    return out


def _search_params(spec: SweepSpec) -> dict[str, Any]:
    params: dict[str, Any] = {"base.profile": spec.profile or "default",
                              "base.analyzer": spec.analyzer}
    params.update({f"base.set.{k}": v for k, v in spec.sets.items()})
    params.update({f"search.space.{k}": v for k, v in spec.space.items()})
    if spec.method == "random":
        params.update({"search.n_trials": spec.n_trials, "search.seed": spec.seed})
    return params


def run_sweep(spec: SweepSpec | str | Path, *, out_dir: str | Path | None = None,
              tracker: Any = None, dataset: str | Path | None = None,
              replay: ReplayOptions = ReplayOptions(),
              log: Callable[[str], None] | None = print) -> SweepResult:
    """Run a sweep: replay every configuration on the selection split, select, report on test.

    Parameters
    ----------
    spec:
        A :class:`~liveness_lab.evaluation.sweep.SweepSpec`, or the path of a sweep YAML.
    out_dir:
        Where the trials table, results and report go (default
        ``reports/sweeps/<study>/``).
    tracker:
        A :class:`~liveness_lab.evaluation.tracking.Tracker`, or ``None`` for no tracking.
    dataset:
        Replaces the dataset of the sweep file (e.g. a small one in tests).
    replay:
        Engine, workers, analysis cache and progress bars (one engine serves every trial).
    log:
        Called with one line per step (``None``: silent).
    """
    from ..engines import Engine, make_engine
    from .aggregate import flatten_metrics
    from .tracking import RunLogger, code_version, source_tags

    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    say = log or (lambda _m: None)
    cache = replay.cache
    trials, resolved, datasets, fingerprints = _prepare(
        spec, str(dataset) if dataset is not None else None, cache)
    out = Path(out_dir or Path("reports") / "sweeps" / _slugify(spec.study))
    out.mkdir(parents=True, exist_ok=True)
    version = code_version()
    runs = RunLogger(tracker, spec.study, description=spec.description or None)
    own_engine = not isinstance(replay.engine, Engine)
    eng = make_engine(replay.engine, workers=replay.workers)
    sel_prefix = f"{spec.select_split}." if spec.select_split else "all."
    test_prefix = f"{spec.report_split}." if spec.report_split else "all."
    say(f"sweep {spec.study}: {len(trials)} configurations ({spec.method}), selecting on "
        f"{spec.select_split or 'all sessions'} by {spec.select_metric}"
        + (f" with {spec.constraints}" if spec.constraints else "")
        + f"; engine {eng.describe()}")
    try:
        runs.start(f"sweep {spec.study}", role="sweep", tags={
            "liveness_lab.code_version": version,
            **source_tags(f"liveness-lab sweep {spec.source or '(in memory)'}")}, params={
            "sweep_file": spec.source or "", "method": spec.method, "n_trials": len(trials),
            "select.split": spec.select_split or "all", "select.metric": spec.select_metric,
            "select.constraints": ", ".join(f"{k}<={v:g}" for k, v in
                                            spec.constraints.items()) or "none",
            "report.split": spec.report_split or "all",
            "report.n_bootstrap": spec.n_bootstrap, "report.bootstrap_seed": spec.seed,
            "challenge_types": ",".join(spec.challenge_types or ()) or "all",
            "dataset": ",".join(str(Path(d).resolve()) for d in datasets),
            "dataset_fingerprint": ",".join(fingerprints.values()),
            "engine": eng.describe(), "code_version": version, **_search_params(spec)})
        runs.artifact(_sweep_yaml(spec, out))
        runs.environment()
        # 1. replay, 2. score
        sel_results = _replay_trials(spec, trials, eng, cache, replay.progress,
                                     replay.dataset_cache)
        table, flats = _score_trials(spec, trials, sel_results, sel_prefix)
        bar = _bar(replay.progress, len(trials), "log trials")
        child_ids = []
        for t, configs, flat in zip(trials, resolved, flats):
            trial_csv = write_results(sel_results[t.index],
                                      out / "trials" / f"{t.index:03d}" / "results.csv")
            child_ids.append(runs.child(
                str(t.index), t.name, role="trial", tags={"liveness_lab.trial": str(t.index)},
                params=_config_params(configs.profile, t.analyzer, configs, t.dataset,
                                      fingerprints[t.dataset], eng.describe()),
                metrics=flat, artifacts=[(trial_csv, None)]))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        # 3. select
        best_i, note = select_trial(flats, spec.select_metric, spec.constraints, sel_prefix)
        best = trials[best_i]
        table["selected"] = table["trial"] == best.index
        say(f"best on {spec.select_split or 'all sessions'}: {best.name} ({note})")
        # 4. evaluate the selected configuration, once, on the report split
        from .replay import replay_many
        rep_splits = [s for s in dict.fromkeys([spec.report_split, spec.select_split]) if s]
        full = _only_types(replay_many(best.dataset, [best.replay_spec(cache)], engine=eng,
                                       splits=None if spec.report_split is None else rep_splits,
                                       progress=replay.progress,
                                       dataset_cache=replay.dataset_cache)[0],
                           spec.challenge_types)
        reported = full if spec.report_split is None else \
            full[full["split"] == spec.report_split]
        calibration = sel_results[best.index] if spec.select_split and \
            spec.select_split != spec.report_split else None
        if not len(reported):
            raise ConfigError(f"the dataset has no session in split {spec.report_split!r}")
        test_metrics = _metrics(reported, calibration, n_bootstrap=spec.n_bootstrap,
                                seed=spec.seed)
        test_flat = flatten_metrics(test_metrics, test_prefix)
        violations = _test_violations(spec, test_flat, flats[best_i], sel_prefix, test_prefix)
        for v in violations:
            say(f"FLAG: the selected configuration breaks a constraint on "
                f"{spec.report_split or 'all sessions'}: {v}")
        table.to_csv(out / "trials.csv", index=False)
        write_results(full, out / "results.csv")
        # 5. report, and the parent run's records
        report = _sweep_report(spec, out, best, resolved[best_i], reported, calibration,
                               test_metrics, table, note, violations, fingerprints, version)
        say(f"report: {report.html}")
        runs.parent_params({f"best.{k}": v for k, v in best.varied.items()}
                           | {"best.trial": best.index, "best.run_id": child_ids[best_i] or ""})
        runs.parent_metrics(test_flat)
        runs.parent_metrics({f"best.{k}": v for k, v in flats[best_i].items()})
        runs.tags(child_ids[best_i], {"liveness_lab.selected": "true"})
        runs.tags(runs.parent, {"liveness_lab.selection": note,
                                "liveness_lab.test_violations": "; ".join(violations)
                                or "none"})
        for name in ("trials.csv", "results.csv"):
            runs.artifact(out / name)
        runs.artifact(report.out_dir, "report")
        runs.finish()
        if runs.active:
            say(runs.describe())
    except BaseException:
        runs.finish("FAILED")
        raise
    finally:
        if own_engine:
            eng.close()
    return SweepResult(spec, table, best, note, test_metrics, report, out, runs.experiment_id,
                       runs.parent, tuple(c for c in child_ids if c), tuple(violations))


def _sweep_yaml(spec: SweepSpec, out: Path) -> Path:
    """The sweep file as run (a copy of the YAML, or the in-memory definition dumped)."""
    import yaml
    dst = out / "sweep.yaml"
    if spec.source and Path(spec.source).is_file():
        dst.write_bytes(Path(spec.source).read_bytes())
    else:
        dst.write_text(yaml.safe_dump(spec.as_dict(), sort_keys=False), encoding="utf-8")
    return dst


def _sweep_report(spec: SweepSpec, out: Path, best: Trial, configs: Any, reported: Any,
                  calibration: Any, test_metrics: Any, table: Any, note: str,
                  violations: Sequence[str], fingerprints: Mapping[str, str],
                  version: str) -> Any:
    from .report import Evaluation, build_report
    cols = [k for k in table.columns if k not in ("trial", "selected")]
    trial_rows = [[str(r["trial"])] + [_fmt(r.get(k)) for k in cols]
                  + ["yes" if r["selected"] else ""] for r in table.to_dict("records")]
    ev = Evaluation(f"selected trial {best.index}", reported, calibration,
                    profile=configs.profile, overrides=best.overrides(),
                    analyzer=best.analyzer, metrics=test_metrics)
    notes = [spec.description] if spec.description else []
    notes += [f"FLAG: selected on {spec.select_split or 'all sessions'} under a constraint it "
              f"breaks on {spec.report_split or 'all sessions'}: {v}." for v in violations]
    return build_report(
        ev, out / "report", title=f"Sweep {spec.study}: selected configuration on "
                                  f"{spec.report_split or 'all sessions'}",
        dataset_dir=best.dataset, dataset_fingerprint=fingerprints[best.dataset],
        code_version=version, split_label=spec.report_split or "all sessions",
        calibration_label=spec.select_split if calibration is not None else None,
        notes=notes, extra_config={"sweep file": spec.source or "(in memory)",
                                   "selection": note,
                                   "search": f"{spec.method}, {len(table)} configurations"},
        extra_tables=[(f"Sweep trials (metrics on {spec.select_split or 'all sessions'})",
                       ["trial"] + cols + ["selected"], trial_rows)],
        n_worst=spec.n_worst, n_bootstrap=spec.n_bootstrap, seed=spec.seed)


# --------------------------------------------------------------------------------------------
# studies

def run_study(dataset_dir: str | Path, *, profiles: Sequence[str] = ("seed",),
              out_dir: str | Path = "reports/demo", study: str = "demo", tracker: Any = None,
              challenge_types: Sequence[str] | None = None,
              replay: ReplayOptions = ReplayOptions(), report: ReportOptions = ReportOptions(),
              log: Callable[[str], None] | None = print,
              datasets: Mapping[str, str | Path] | None = None,
              notes: Sequence[str] = ()) -> StudyResult:
    """Evaluate fixed profiles side by side: results, MLflow runs and one report.

    Every profile replays the whole dataset (one pass, all profiles at once), or, for a
    profile named in ``datasets``, its own dataset instead (the sessions of its own
    protocol: the demo evaluates ``seed`` on the original clients' sessions). ``notes``:
    paragraphs for the top of the report (say there what each profile was run on). Metrics are
    computed on ``report.split`` with operating thresholds chosen on
    ``report.calibration_split``. Writes ``OUT/report.html``, ``OUT/report.md``, the PNGs
    and ``OUT/results-<profile>.csv``; with a ``tracker``, logs a parent run ``study
    <name>`` with one nested run per profile (params, metrics, ``results.csv``, DET plot).

    This is what ``liveness-lab demo`` calls::

        run_study("datasets/generated/demo", profiles=["seed", "recommended"],
                  out_dir="reports/demo", tracker=Tracker())
    """
    from .aggregate import flatten_metrics
    from .replay import ReplaySpec, replay_many
    from .report import Evaluation, build_report, split_results
    from .tracking import RunLogger, code_version, dataset_fingerprint, source_tags

    say = log or (lambda _m: None)
    profiles = list(dict.fromkeys(profiles))
    if not profiles:
        raise ConfigError("run_study needs at least one profile")
    specs = [ReplaySpec(p, cache_path=replay.cache) for p in profiles]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = {p: str((datasets or {}).get(p, dataset_dir)) for p in profiles}
    prints = {src: dataset_fingerprint(src) for src in dict.fromkeys(sources.values())}
    fingerprint = next(iter(prints.values())) if len(prints) == 1 else "; ".join(
        f"{p}: {prints[sources[p]]}" for p in profiles)
    version = code_version()
    types = tuple(t.upper() for t in challenge_types) if challenge_types else None
    # 1. replay: one pass per dataset, every profile of that dataset at once
    by_profile: dict[str, Any] = {}
    for src in prints:
        group = [i for i, p in enumerate(profiles) if sources[p] == src]
        say(f"study {study}: profiles {', '.join(profiles[i] for i in group)} on {src} "
            f"(fingerprint {prints[src]})")
        for i, df in zip(group, replay_many(src, [specs[i] for i in group],
                                            engine=replay.engine, workers=replay.workers,
                                            progress=replay.progress,
                                            dataset_cache=replay.dataset_cache)):
            by_profile[profiles[i]] = df
    frames = [by_profile[p] for p in profiles]
    # 2. score each profile on the reported split, thresholds from the calibration split
    evals, metrics, flats = [], {}, {}
    split_label, cal_label = "all sessions", None
    for prof, df in zip(profiles, frames):
        df = _only_types(df, types)
        write_results(df, out / f"results-{prof}.csv")
        reported, cal, split_label, cal_label = split_results(df, report.split,
                                                              report.calibration_split)
        m = _metrics(reported, cal, n_bootstrap=report.n_bootstrap, seed=report.seed)
        metrics[prof] = m
        prefix = "test." if split_label == "test" else f"{_slugify(split_label)}."
        flats[prof] = flatten_metrics(m, prefix)
        evals.append(Evaluation.from_results(
            prof, reported, cal, metrics=m,
            dataset_dir=sources[prof] if len(prints) > 1 else None))
    # 3. report
    files = build_report(evals, out, title=report.title or f"liveness-lab study {study}: "
                         + " vs ".join(profiles), notes=notes,
                         dataset_dir=next(iter(prints)) if len(prints) == 1 else None,
                         dataset_fingerprint=fingerprint,
                         code_version=version, split_label=split_label,
                         calibration_label=cal_label, n_worst=report.n_worst,
                         n_bootstrap=report.n_bootstrap, seed=report.seed)
    say(f"report: {files.html} and {files.markdown}")
    # 4. log
    runs = RunLogger(tracker, study)
    try:
        runs.start(f"study {study}", role="study", tags={
            "liveness_lab.code_version": version, **source_tags(f"liveness-lab study {study}")},
            params={"profiles": ",".join(profiles),
                    "dataset": ",".join(str(Path(d).resolve()) for d in prints),
                    "dataset_fingerprint": fingerprint, "report.split": split_label,
                    "calibration.split": cal_label or "none",
                    "report.n_bootstrap": report.n_bootstrap,
                    "report.bootstrap_seed": report.seed, "code_version": version})
        runs.environment()
        with tempfile.TemporaryDirectory() as tmp:
            for prof, spec in zip(profiles, specs):
                copy = Path(tmp) / prof / "results.csv"
                copy.parent.mkdir()
                copy.write_bytes((out / f"results-{prof}.csv").read_bytes())
                plots = [(img, "plots") for img in files.images if img.name.startswith("det-")]
                runs.child(prof, prof, role="profile",
                           params=_config_params(prof, spec.analyzer, spec.resolve(),
                                                 sources[prof], prints[sources[prof]], "")
                           | {"code_version": version},
                           metrics=flats[prof], artifacts=[(copy, None), *plots])
        runs.parent_metrics({f"{prof}.{k}": v for prof in profiles
                             for k, v in flats[prof].items()})
        for name in ("report.html", "report.md"):
            runs.artifact(out / name, "report")
        for img in files.images:
            runs.artifact(img, "report")
        runs.finish()
    except BaseException:
        runs.finish("FAILED")
        raise
    if runs.active:
        say(runs.describe())
    return StudyResult(metrics, files, out, runs.experiment_id, runs.parent,
                       dict(runs.children))
