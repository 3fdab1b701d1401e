"""Run the evaluation CLI hooks in-process through a parser built like liveness-lab's."""

from __future__ import annotations

import argparse
import contextlib
import io

from liveness_lab.evaluation.cli import (add_engine_option, add_epc_command, add_hist_command,
                                         add_metrics_command, add_mlflow_ui_command,
                                         add_report_command, add_sweep_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liveness-lab")
    sub = parser.add_subparsers(dest="command", required=True)
    for hook in (add_sweep_command, add_report_command, add_mlflow_ui_command,
                 add_metrics_command, add_hist_command, add_epc_command):
        hook(sub)
    p = sub.add_parser("engine-probe")
    add_engine_option(p)
    p.set_defaults(func=lambda a: 0)
    return parser


def run_cli(*argv) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``liveness-lab ARGV`` with the evaluation hooks."""
    args = build_parser().parse_args([str(a) for a in argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = args.func(args)
    return code, out.getvalue(), err.getvalue()
