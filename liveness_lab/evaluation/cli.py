"""Command-line hooks of the evaluation bench: ``sweep``, ``report``, ``mlflow-ui``, and
``metrics`` / ``hist`` / ``epc`` (from :mod:`liveness_lab.evaluation.cli_metrics`).

Each ``add_<name>_command(subparsers)`` adds one subcommand to the ``liveness-lab``
parser; its handler returns an exit code. User errors (a bad YAML file, an unknown key in
a sweep, a missing results file, an unknown run) print one line on stderr and return 2.
:func:`add_engine_option` adds ``--engine`` to any command (``evaluate``, ``analyze``).
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["add_sweep_command", "add_report_command", "add_mlflow_ui_command",
           "add_metrics_command", "add_hist_command", "add_epc_command",
           "add_engine_option", "add_dataset_cache_options", "cmd_sweep", "cmd_report",
           "cmd_mlflow_ui"]

from .cli_metrics import add_epc_command, add_hist_command, add_metrics_command  # noqa: E402

_RUN_ID = re.compile(r"^(runs:/)?[0-9a-f]{32}/?$")


def _user_errors(name: str) -> Callable[[Callable[[argparse.Namespace], int]],
                                        Callable[[argparse.Namespace], int]]:
    """Turn expected user errors into one line on stderr and exit code 2."""
    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(fn)
        def wrapper(args: argparse.Namespace) -> int:
            from ..errors import LivenessLabError
            try:
                return fn(args)
            except (LivenessLabError, ValueError) as e:
                print(f"liveness-lab {name}: error: {e}", file=sys.stderr)
                return 2
            except OSError as e:
                where = f": {e.filename}" if getattr(e, "filename", None) else ""
                print(f"liveness-lab {name}: error: {e.strerror or e}{where}", file=sys.stderr)
                return 2
        return wrapper
    return deco


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """Add ``--engine`` (``process`` default, ``dask``, or a scheduler address)."""
    p.add_argument("--engine", default="process", metavar="ENGINE",
                   help="where the work runs: process (a local process pool, default), dask "
                        "(a local Dask cluster) or a Dask scheduler address tcp://host:8786")


def add_dataset_cache_options(p: argparse.ArgumentParser) -> None:
    """Add ``--dataset-cache DIR`` and ``--no-dataset-cache`` (the columnar dataset cache)."""
    from .dataset_cache import DEFAULT_DATASET_CACHE_DIR
    p.add_argument("--dataset-cache", default=str(DEFAULT_DATASET_CACHE_DIR), metavar="DIR",
                   help="folder of the columnar dataset cache: sessions are parsed once and "
                        "read from it while the dataset is unchanged (default: %(default)s)")
    p.add_argument("--no-dataset-cache", action="store_true",
                   help="read the session JSON files, no dataset cache")


def _add_tracking_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: sqlite:///./mlflow.db, artifacts in "
                        "./mlartifacts)")


# --------------------------------------------------------------------------------------------
# sweep

def add_sweep_command(subparsers: Any) -> argparse.ArgumentParser:
    """``liveness-lab sweep EXPERIMENT.yaml``: search, select on dev, report on test."""
    p = subparsers.add_parser(
        "sweep", help="run a parameter sweep from experiments/*.yaml (select on dev, report on "
                      "test, log to MLflow)",
        description="Replay a dataset under every configuration of a sweep file, select one "
                    "on the selection split, evaluate it once on the report split and write "
                    "the report. Every configuration is an MLflow nested run.")
    p.add_argument("sweep_file", help="sweep definition (YAML), e.g. "
                                      "experiments/nose_tolerances.yaml")
    p.add_argument("--out", default=None,
                   help="output directory (default: reports/sweeps/<study>/)")
    p.add_argument("--dataset", default=None, help="use this dataset instead of the file's")
    add_engine_option(p)
    p.add_argument("--workers", type=int, default=None, help="workers of the engine")
    add_dataset_cache_options(p)
    _add_tracking_options(p)
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_sweep)
    return p


@_user_errors("sweep")
def cmd_sweep(args: argparse.Namespace) -> int:
    from ..analysis import DEFAULT_CACHE_PATH
    from .runs import ReplayOptions, run_sweep
    from .sweep import load_sweep

    spec = load_sweep(args.sweep_file)
    tracker = None
    if not args.no_tracking:
        from .tracking import Tracker
        tracker = Tracker(args.tracking_uri)
    result = run_sweep(spec, out_dir=args.out, dataset=args.dataset, tracker=tracker,
                       replay=ReplayOptions(args.engine, args.workers, DEFAULT_CACHE_PATH,
                                            not args.quiet,
                                            None if args.no_dataset_cache
                                            else args.dataset_cache))
    from .aggregate import as_summary
    from .replay import format_summary
    b = result.test_metrics
    print()
    print(f"selected: {result.best.name}")
    print(f"  {result.selection_note}")
    for v in result.test_violations:
        print(f"  FLAG: selected under a constraint it breaks on "
              f"{spec.report_split or 'all sessions'}: {v}")
    print(f"on {spec.report_split or 'all sessions'}:")
    print(format_summary(as_summary(b)))
    print(f"\ntrials: {result.out_dir / 'trials.csv'}")
    print(f"report: {result.report.html}")
    if result.parent_run_id:
        print("browse: liveness-lab mlflow-ui")
    return 0


# --------------------------------------------------------------------------------------------
# report

def add_report_command(subparsers: Any) -> argparse.ArgumentParser:
    """``liveness-lab report RESULTS_OR_RUN --out reports/NAME/``."""
    p = subparsers.add_parser(
        "report", help="write the accuracy report (HTML + Markdown + PNG) of a results CSV or "
                       "an MLflow run",
        description="Write report.html, report.md and PNG plots. RESULTS_OR_RUN is a results "
                    "CSV (from `evaluate --output`) or an MLflow run id whose artifacts hold "
                    "results.csv (a study's profile run, or a sweep's parent run).")
    p.add_argument("source", metavar="RESULTS_OR_RUN", help="results CSV, or MLflow run id")
    p.add_argument("--out", required=True, help="output directory, e.g. reports/NAME/")
    p.add_argument("--dataset", default=None,
                   help="the dataset directory: plots the worst sessions' traces and adds the "
                        "data fingerprint (default for a run: its dataset param)")
    p.add_argument("--profile", default=None,
                   help="configuration profile the results were produced with (CSV input)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="TYPE.KEY=VALUE",
                   help="threshold overrides the results were produced with (CSV input)")
    p.add_argument("--split", default="auto",
                   help="split to report (default: test if present, else every session); "
                        "'all' for every session")
    p.add_argument("--calibration-split", default="auto",
                   help="split where operating thresholds are chosen (default: dev if present); "
                        "'none' to use the reported split itself")
    p.add_argument("--title", default=None, help="report title (default: from the source)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="subject-grouped bootstrap resamples (default 1000; 0 for none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    _add_tracking_options(p)
    p.set_defaults(func=cmd_report)
    return p


def _rebuild_sets(params: dict[str, str]) -> list[str]:
    """``type.key=value`` strings for every config param of a run."""
    from ..challenges.registry import default_registry
    types = {ct.name.lower() for ct in default_registry()}
    return [f"{k}={v}" for k, v in sorted(params.items()) if k.split(".", 1)[0] in types
            and "." in k]


@_user_errors("report")
def cmd_report(args: argparse.Namespace) -> int:
    from ..config import profile_names
    from .replay import read_results
    from .report import Evaluation, build_report, recorded_configuration, split_results
    from .tracking import code_version, dataset_fingerprint

    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be 0 (no bootstrap) or a positive number of "
                         f"resamples, got {args.bootstrap}")
    from .._paths import check_output_dir
    check_output_dir(Path(args.out), "--out", create=False)
    split = None if args.split == "all" else args.split
    cal_split = None if args.calibration_split == "none" else args.calibration_split
    notes: list[str] = []
    source = args.source
    with tempfile.TemporaryDirectory() as tmp:
        analyzer = None
        if Path(source).is_file():
            results = read_results(source)
            rec_profile, analyzer = recorded_configuration(results)
            if args.profile:
                from ..config import get_profile
                get_profile(args.profile)  # an unknown name fails here, listing the known ones
            if args.profile and rec_profile and args.profile != rec_profile:
                raise ValueError(f"{source} was produced with profile {rec_profile!r}, not "
                                 f"{args.profile!r}")
            profile, sets = rec_profile or args.profile, list(args.sets)
            dataset = args.dataset
            fingerprint = dataset_fingerprint(dataset) if dataset else None
            version = code_version()
            name = profile or "results"
            notes.append(f"Results read from {source}. "
                         + ("Profile and analyzer as the results file records them."
                            if rec_profile else
                            "The results file does not record its profile: "
                            + (f"{profile!r} as given to `liveness-lab report`." if profile
                               else "unknown (pass --profile).")))
            title = args.title or f"liveness-lab accuracy report: {Path(source).name}"
        elif _RUN_ID.match(source):
            from .tracking import load_run, run_params
            run = load_run(source, tracking_uri=args.tracking_uri, dst=tmp)
            params = run["params"]
            cfg_params = params
            if "best.run_id" in params:
                cfg_params = run_params(params["best.run_id"], tracking_uri=args.tracking_uri)
            results = read_results(run["results_path"])
            profile = cfg_params.get("profile") or args.profile
            analyzer = cfg_params.get("analyzer")
            sets = _rebuild_sets(cfg_params) + list(args.sets)
            if profile and profile not in profile_names():
                notes.append(f"Profile {profile!r} is not registered here; the configuration "
                             "is rebuilt from the run's threshold params alone.")
                profile = None
            dataset = args.dataset or cfg_params.get("dataset") or params.get("dataset")
            if dataset and not (Path(dataset) / "manifest.csv").is_file():
                notes.append(f"The run's dataset {dataset} is not available here: no traces.")
                dataset = None
            fingerprint = cfg_params.get("dataset_fingerprint") or params.get(
                "dataset_fingerprint")
            version = params.get("code_version") or run["tags"].get(
                "liveness_lab.code_version") or code_version()
            name = run["run_name"] or profile or "run"
            notes.append(f"MLflow run {run['run_id']} ({run['run_name']}) of experiment "
                         f"{run['experiment']!r}; configuration from the run's params.")
            title = args.title or f"liveness-lab accuracy report: {run['experiment']} / " \
                                  f"{run['run_name']}"
        else:
            raise FileNotFoundError(2, "no such results file, and not an MLflow run id",
                                    source)
        reported, calibration, split_label, cal_label = split_results(results, split, cal_split)
        if not len(reported):
            raise ValueError(f"no session to report in {split_label}")
        ev = Evaluation(name, reported, calibration, profile=profile, sets=tuple(sets),
                        analyzer=analyzer or recorded_configuration(results)[1])
        if ev.profile is not None:
            ev.configs()  # a bad --profile / --set fails here, with its own message
        files = build_report(ev, args.out, title=title, dataset_dir=dataset,
                             dataset_fingerprint=fingerprint, code_version=version,
                             split_label=split_label, calibration_label=cal_label, notes=notes,
                             n_bootstrap=args.bootstrap, seed=args.seed)
    print(f"wrote {files.html}")
    print(f"wrote {files.markdown} ({len(files.images)} PNG plots)")
    return 0


# --------------------------------------------------------------------------------------------
# mlflow-ui

def add_mlflow_ui_command(subparsers: Any) -> argparse.ArgumentParser:
    """``liveness-lab mlflow-ui``: browse the project's MLflow store."""
    p = subparsers.add_parser("mlflow-ui", help="browse the MLflow runs (mlflow ui on the "
                                                "project's mlflow.db)")
    _add_tracking_options(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address the UI listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port of the UI (default 5000)")
    p.add_argument("--workers", type=int, default=1,
                   help="server worker processes (default 1: enough for one person on a "
                        "small machine; MLflow's own default is 4)")
    p.add_argument("--print-command", action="store_true",
                   help="print the mlflow ui command instead of running it")
    p.set_defaults(func=cmd_mlflow_ui)
    return p


@_user_errors("mlflow-ui")
def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    import shlex

    from .._process import run_child_server
    from .tracking import mlflow_ui_command
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    if args.workers < 1:
        raise ValueError(f"--workers must be a positive integer, got {args.workers}")
    cmd = mlflow_ui_command(tracking_uri=args.tracking_uri, host=args.host, port=args.port,
                            workers=args.workers)
    if args.print_command:
        print(shlex.join(cmd))
        return 0
    print(f"MLflow UI on http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    return run_child_server(cmd)  # SIGTERM / Ctrl-C stop the server and its workers too
