"""The ``liveness-lab`` command.

Every subcommand returns an exit code; user errors (bad files, bad options)
print one clear line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .errors import LivenessLabError

__all__ = ["main", "build_parser"]


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=None,
                   help="configuration profile (default: recommended; seed = the original's rules); "
                        "see `liveness-lab challenge-types`")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="TYPE.KEY=VALUE",
                   help="override one threshold, e.g. --set nose.trajectory_error_threshold=0.03 "
                        "(repeatable)")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return ""
    return str(value)


def cmd_verify(args: argparse.Namespace) -> int:
    from .config import resolve_configs
    from .sessions import read_session
    from .verify import verify_session

    from .evidence import check_evidence, dataset_evidence

    configs = resolve_configs(args.profile, sets=args.sets)
    session = read_session(args.session)
    if session.frames and all(fr.faces is not None for fr in session.frames):
        check_evidence(configs, dataset_evidence([session], name=f"session {session.id!r}"),
                       sets=args.sets)
    verdict = verify_session(session, configs=configs)
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2, default=_fmt))
        return 0
    status = "PASS" if verdict.success else ("FAIL" if verdict.decided else "NO DECISION")
    print(f"session {session.id}  type {verdict.challenge_type}  profile {configs.profile}")
    print(f"verdict: {status} - {verdict.reason} [{verdict.code}]")
    print(f"ended in state {verdict.final_state!r} after {verdict.frames_used} of "
          f"{verdict.frames_total} frames" + (f"; score {verdict.score:.4g}"
                                             if verdict.score is not None else ""))
    if len(verdict.trace):
        df = verdict.trace.to_dataframe().drop(columns=["message"])
        print()
        print(df.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))
    return 0


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be a positive number of processes, got {workers}")


def _dataset_entries(dataset: str) -> list:
    """The manifest of ``dataset``, refusing one that lists no session (nothing to do)."""
    from .sessions import read_manifest
    entries = read_manifest(dataset)
    if not entries:
        raise ValueError(f"{Path(dataset) / 'manifest.csv'} lists no session (only a header); "
                         "add sessions or choose another dataset")
    return entries


def _split_counts(values: Sequence[str]) -> str:
    from collections import Counter
    counts = Counter(v or "none" for v in values)
    return ", ".join(f"{name} {counts[name]}" for name in ("train", "dev", "test", "none")
                     if name in counts)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ._paths import check_output_file
    from .analysis import check_analyzer_name
    from .config import resolve_configs
    from .evaluation.replay import evaluate_dataset, format_summary, summarize, write_results

    import warnings

    from .evaluation.replay import MissingEvidenceWarning

    # every argument is checked before the replay: a bad one fails in a second
    configs = resolve_configs(args.profile, sets=args.sets)
    analyzer = check_analyzer_name(args.analyzer)
    analyzer_options = parse_analyzer_options(args.analyzer_options)
    _check_workers(args.workers)
    if args.output:
        check_output_file(args.output, "--output")
    entries = _dataset_entries(args.dataset)
    if args.split != "all":
        if not any(e.split == args.split for e in entries):
            raise ValueError(f"{args.dataset} has no session in split {args.split!r} (splits: "
                             f"{_split_counts([e.split or '' for e in entries])})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingEvidenceWarning)
        df = evaluate_dataset(args.dataset, profile=args.profile, sets=args.sets,
                              workers=args.workers, engine=args.engine, analyzer=args.analyzer,
                              analyzer_options=analyzer_options,
                              cache_path=None if args.no_cache else args.cache,
                              pad_model=args.pad_model, progress=not args.quiet,
                              dataset_cache=None if args.no_dataset_cache
                              else args.dataset_cache)
    if args.output:
        write_results(df, args.output)
    shown = df if args.split == "all" else df[df["split"].astype(str) == args.split]
    print(f"profile {configs.profile}{' with ' + ', '.join(args.sets) if args.sets else ''}; "
          f"analyzer {analyzer} (for frames without recorded faces); "
          f"{len(df)} sessions ({_split_counts(df['split'].astype(str).tolist())}); "
          f"metrics on {'every split' if args.split == 'all' else 'split ' + args.split} "
          f"({len(shown)} sessions); brackets: 95 % Wilson intervals")
    print(format_summary(summarize(shown)))
    for w in caught:
        if issubclass(w.category, MissingEvidenceWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if args.output:
        print(f"\nwrote {len(df)} results (every split) to {args.output}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze_dataset, check_analyzer_name
    from .config import resolve_configs
    from .evidence import analyzer_options_for

    check_analyzer_name(args.analyzer)
    _check_workers(args.workers)
    _dataset_entries(args.dataset)

    options = parse_analyzer_options(args.analyzer_options)
    if args.landmarks:
        options["landmarks"] = args.landmarks
    # the evidence the profile's checks will need (the local analyzer's descriptors for
    # `recommended`), so the analyzed dataset can be evaluated under it
    options = analyzer_options_for(resolve_configs(args.profile, sets=args.sets),
                                   args.analyzer, options)
    stats = analyze_dataset(args.dataset, analyzer=args.analyzer, options=options,
                            cache_path=None if args.no_cache else args.cache,
                            workers=args.workers, overwrite=args.overwrite,
                            engine=args.engine, progress=not args.quiet,
                            pad_model=args.pad_model)
    print(f"analyzed {stats.frames_analyzed} frames in {stats.sessions_changed} of "
          f"{stats.sessions} sessions with the {args.analyzer} analyzer")
    return 0


def _add_analyzer_options(p: argparse.ArgumentParser, default: str | None = None) -> None:
    from .analysis import DEFAULT_CACHE_PATH
    from .analyzers import DEFAULT_ANALYZER
    default = default or DEFAULT_ANALYZER
    p.add_argument("--analyzer", default=default,
                   help=f"face analyzer for frames without recorded faces (default: {default}; "
                        "mesh, local (dlib), rekognition, recorded)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE_PATH),
                   help="analysis cache file (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="do not use the analysis cache")
    p.add_argument("--analyzer-option", dest="analyzer_options", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="an analyzer setting, e.g. descriptors=true for the local analyzer's "
                        "face descriptors (repeatable)")
    p.add_argument("--pad-model", default=None, metavar="PATH",
                   help="add a passive PAD score to analyzed faces with this model "
                        "(`liveness-lab pad-train`)")


def parse_analyzer_options(items: Sequence[str]) -> dict[str, Any]:
    """``["descriptors=true", "landmarks=5"]`` -> ``{"descriptors": True, "landmarks": "5"}``.

    ``true``/``false`` become booleans, integers and decimals numbers; anything else stays
    text. A malformed item raises ``ValueError`` naming it.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--analyzer-option {item!r}: expected KEY=VALUE, "
                             "e.g. descriptors=true")
        text = raw.strip()
        low = text.lower()
        value: Any = text
        if low in ("true", "yes", "on"):
            value = True
        elif low in ("false", "no", "off"):
            value = False
        else:
            try:
                value = int(text) if text.lstrip("-").isascii() and text.lstrip("-").isdigit() \
                    else float(text) if text.replace(".", "", 1).lstrip("-").isdigit() else text
            except ValueError:
                value = text
        out[key] = value
    return out


def cmd_challenge_types(args: argparse.Namespace) -> int:
    from .challenges.registry import default_registry
    from .config import get_profile, profile_names, resolve_configs

    registry = default_registry()
    configs = resolve_configs(args.profile)
    drawn = set(configs.challenge_types or registry.random_candidates())
    if args.json:
        out = {ct.name: {"description": ct.description, "random_selection": ct.name in drawn,
                         "states": list(ct.states), "config": configs.for_type(ct).to_dict()}
               for ct in registry.listed()}
        print(json.dumps(out, indent=2))
        return 0
    print(f"profile {configs.profile}: {get_profile(configs.profile).description}")
    print(f"profiles: {', '.join(profile_names())}\n")
    for ct in registry.listed():  # types declared listed=False (test fixtures) are left out
        cfg = configs.for_type(ct)
        flags = "" if ct.name in drawn else f" (not drawn at random under {configs.profile})"
        print(f"{ct.name}{flags}: {ct.description}")
        print(f"  states: {' -> '.join(ct.states)}")
        for key in ct.config_class.keys():
            value = getattr(cfg, key["name"])
            print(f"  {ct.name.lower()}.{key['name']} = {value!r}  ({key['type']}) {key['help']}")
        print()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    _check_workers(args.workers)
    return run_demo(out_dir=Path(args.out), sessions_per_class=args.sessions_per_class,
                    seed=args.seed, image_sessions=args.image_sessions, workers=args.workers,
                    results_dir=Path(args.reports), tracking=not args.no_tracking)


def build_parser() -> argparse.ArgumentParser:
    from .evaluation.cli import add_dataset_cache_options, add_engine_option

    parser = argparse.ArgumentParser(
        prog="liveness-lab",
        description="Challenge-response face liveness detection: verify sessions, evaluate "
                    "datasets, run the service and the studio.")
    parser.add_argument("--version", action="version", version=f"liveness-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("verify", help="replay one session and print the verdict and its trace")
    p.add_argument("session", help="session JSON file")
    _add_config_options(p)
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("evaluate", help="replay a labelled dataset and print its metrics")
    p.add_argument("dataset", help="dataset directory (with manifest.csv)")
    p.add_argument("--output", "-o", help="write the per-session results CSV here")
    _add_config_options(p)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--split", choices=["all", "train", "dev", "test"], default="all",
                   help="split the printed metrics are computed on (default: all; the "
                        "--output file always holds every session)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_analyzer_options(p)
    add_engine_option(p)
    add_dataset_cache_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("analyze", help="fill in the faces of image-only frames of a dataset")
    p.add_argument("dataset", help="dataset directory (with manifest.csv)")
    _add_analyzer_options(p)
    _add_config_options(p)
    p.add_argument("--landmarks", choices=["68", "5"], default=None,
                   help="local analyzer landmark model (68: non-commercial; 5: licence-clean)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--overwrite", action="store_true", help="re-analyze frames that have faces")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_engine_option(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("challenge-types", help="list challenge types and their config keys")
    p.add_argument("--profile", default=None,
                   help="show the thresholds of this profile (default: recommended; seed = "
                        "the original's rules)")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p.set_defaults(func=cmd_challenge_types)

    p = sub.add_parser("demo", help="the main job: generate the bundled benchmark and evaluate it")
    p.add_argument("--out", default="datasets/generated/demo",
                   help="where to write the datasets, one per profile (default: %(default)s)")
    p.add_argument("--sessions-per-class", type=int, default=100,
                   help="bona fide sessions per type and attacks per species (default: "
                        "%(default)s; a quarter of the subjects form the reported test split)")
    p.add_argument("--seed", type=int, default=2024,
                   help="random seed of the generated benchmark (default: %(default)s)")
    p.add_argument("--image-sessions", type=int, default=12,
                   help="NOSE sessions rendered from real photos and analyzed (default: 12)")
    p.add_argument("--reports", default="reports/demo",
                   help="where to write the report (default: %(default)s)")
    p.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: CPUs)")
    p.set_defaults(func=cmd_demo)

    for hook in _plugin_command_hooks():
        hook(sub)
    return parser


def _plugin_command_hooks() -> list[Callable[[Any], None]]:
    """Subcommands defined next to the subsystems that own them (their modules import lazily)."""
    from .analyzers.cache import add_cache_command
    from .analyzers.cli import add_detect_command
    from .evaluation.cli import (add_epc_command, add_hist_command, add_metrics_command,
                                 add_mlflow_ui_command, add_report_command, add_sweep_command)
    from .pad.cli import add_pad_command
    from .service.cli import add_purge_command, add_serve_command
    from .ui.cli import add_app_command
    from .synth.render import add_render_command
    from .synth.traces import add_synth_command
    return [add_synth_command, add_render_command, add_detect_command, add_cache_command,
            add_sweep_command, add_report_command, add_metrics_command, add_hist_command,
            add_epc_command, add_mlflow_ui_command, add_serve_command,
            add_purge_command, add_app_command, add_pad_command]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LivenessLabError as e:
        print(f"liveness-lab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # argument values the library refused, with its sentence
        print(f"liveness-lab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        print(f"liveness-lab {args.command}: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `liveness-lab verify x | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
