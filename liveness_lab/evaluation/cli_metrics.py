"""``liveness-lab metrics``, ``hist`` and ``epc``: score analysis in the manner of ``bob pad``.

* ``metrics RESULTS... --criterion bpcer20``: a threshold chosen on the development split,
  development and evaluation columns side by side (per challenge type), every rate with its
  Wilson interval; several results files (protocols or folds) add a mean ± std table.
* ``hist RESULTS``: score histograms per species, one PNG per challenge type.
* ``epc RESULTS``: the expected performance curve (thresholds on dev, HTER on eval).

The hooks are re-exported by :mod:`liveness_lab.evaluation.cli`.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

__all__ = ["add_metrics_command", "add_hist_command", "add_epc_command", "cmd_metrics",
           "cmd_hist", "cmd_epc", "metrics_tables"]


def _user_errors(name: str) -> Any:
    from .cli import _user_errors as wrap
    return wrap(name)


def _split_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dev-split", default="dev",
                   help="split where the threshold is chosen (default: dev)")
    p.add_argument("--eval-split", default="test",
                   help="split the threshold is applied to (default: test)")
    p.add_argument("--type", dest="types", action="append", default=[], metavar="TYPE",
                   help="only this challenge type (repeatable; default: every type with "
                        "scores)")


def _read(path: str) -> Any:
    from .aggregate import _check_results
    from .replay import read_results
    if not Path(path).is_file():
        raise FileNotFoundError(2, "no such results file", path)
    df = read_results(path)
    _check_results(df, str(path))
    return df


def _splits(df: Any, dev: str, ev: str, source: str) -> tuple[Any, Any]:
    col = df["split"].fillna("").astype(str) if "split" in df else None
    have = sorted(set(col)) if col is not None else []
    for name in (dev, ev):
        if col is None or name not in have:
            raise ValueError(f"{source}: no {name!r} split (splits present: "
                             f"{', '.join(s for s in have if s) or 'none'})")
    return df[col == dev], df[col == ev]


def _types(df: Any, wanted: Sequence[str]) -> list[str]:
    types = sorted(set(df["challenge_type"].astype(str)))
    if wanted:
        unknown = [t for t in wanted if t.upper() not in types]
        if unknown:
            raise ValueError(f"no {', '.join(unknown)} sessions in the results (types: "
                             f"{', '.join(types)})")
        types = [t for t in types if t in {w.upper() for w in wanted}]
    return types


def _decision_threshold(ctype: str) -> float | None:
    from .aggregate import _decision_threshold as lookup
    return lookup(ctype)


def _cell(rate: Any) -> str:
    if rate.total == 0:
        return "n/a (0 presentations)"
    return (f"{100 * rate.value:.1f}% ({rate.errors}/{rate.total}) "
            f"[{100 * rate.ci[0]:.1f}, {100 * rate.ci[1]:.1f}]")


def _pct(v: float) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def metrics_tables(df: Any, criterion: Any, *, dev_split: str = "dev",
                   eval_split: str = "test", types: Sequence[str] = (),
                   confidence: float = 0.95, source: str = "results"
                   ) -> dict[str, tuple[list[list[str]], dict[str, tuple[float, float]], Any,
                                        Any]]:
    """Per challenge type: ``(rows, numbers, dev rates, eval rates)``.

    ``rows`` are the printed table (metric, development, evaluation); ``numbers`` the
    numeric ``{metric: (dev, eval)}`` used for mean ± std over several files.
    """
    import numpy as np

    from .aggregate import session_scores
    from .devtest import choose_threshold, rates_at
    dev, ev = _splits(df, dev_split, eval_split, source)
    out = {}
    for ctype in _types(df, types):
        d = dev[dev["challenge_type"].astype(str) == ctype]
        e = ev[ev["challenge_type"].astype(str) == ctype]
        if not types and not np.isfinite(session_scores(d)).any():
            continue  # a type without scores (POSE): nothing to threshold
        if not len(d) or not len(e):
            raise ValueError(f"{source}: {ctype} has no session in the "
                             f"{dev_split if not len(d) else eval_split!r} split")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = choose_threshold(criterion, d, _decision_threshold(ctype))
        if math.isnan(t):
            raise ValueError(f"{source}: {ctype}: criterion {criterion.label} gives no "
                             "threshold on the development split (no scores, or a class "
                             "missing)")
        rd, re_ = rates_at(d, t, confidence=confidence), rates_at(e, t, confidence=confidence)
        rows = [["threshold (chosen on development)", f"{t:.6g}", f"{t:.6g}"]]
        nums: dict[str, tuple[float, float]] = {}
        for sp in sorted(set(rd.apcer) | set(re_.apcer)):
            cells = [_cell(r.apcer[sp]) if sp in r.apcer else "n/a" for r in (rd, re_)]
            rows.append([f"APCER ({sp})"] + cells)
            nums[f"APCER ({sp})"] = tuple(r.apcer[sp].value if sp in r.apcer else math.nan
                                          for r in (rd, re_))  # type: ignore[assignment]
        rows.append(["APCER (worst species)"] + [f"{_pct(r.worst_apcer)} "
                                                 f"({', '.join(r.worst_species) or '-'})"
                                                 for r in (rd, re_)])
        rows.append(["BPCER"] + [_cell(r.bpcer) for r in (rd, re_)])
        for sp in sorted(set(rd.apnrr) | set(re_.apnrr)):
            rows.append([f"APNRR ({sp})"] + [_cell(r.apnrr[sp]) if sp in r.apnrr else "n/a"
                                             for r in (rd, re_)])
        rows.append(["BPNRR"] + [_cell(r.bpnrr) for r in (rd, re_)])
        rows.append(["EER (pooled attacks)"] + [_pct(r.eer) for r in (rd, re_)])
        rows.append(["HTER (worst APCER + BPCER) / 2"] + [_pct(r.hter) for r in (rd, re_)])
        for name, get in (("APCER (worst species)", lambda r: r.worst_apcer),
                          ("BPCER", lambda r: r.bpcer.value), ("BPNRR", lambda r: r.bpnrr.value),
                          ("EER (pooled attacks)", lambda r: r.eer),
                          ("HTER (worst APCER + BPCER) / 2", lambda r: r.hter)):
            nums[name] = (get(rd), get(re_))
        out[ctype] = (rows, nums, rd, re_)
    return out


def _mean_std(values: Sequence[float]) -> str:
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return "n/a"
    import numpy as np
    return f"{100 * np.mean(v):.1f}% ± {100 * np.std(v, ddof=1 if len(v) > 1 else 0):.1f}"


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str], fmt: str) -> str:
    from tabulate import tabulate
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _write_points(path: str, per_file: Sequence[tuple[str, dict[str, Any]]], df_of: Any,
                  dev_split: str, eval_split: str) -> None:
    """The pooled-attack DET points of every type and split, as CSV."""
    import numpy as np
    import pandas as pd

    from .curves import det_curve
    from .devtest import type_scores
    rows = []
    for source, tables in per_file:
        df = df_of[source]
        for ctype in tables:
            for split in (dev_split, eval_split):
                part = df[(df["challenge_type"].astype(str) == ctype)
                          & (df["split"].astype(str) == split)]
                scores, groups, bf, decided, _ = type_scores(part)
                pooled = np.concatenate([g for g in groups.values() if g.size]
                                        or [np.array([])])
                t, a, b = det_curve(scores[bf & decided], pooled)
                rows += [{"results": source, "challenge_type": ctype, "split": split,
                          "threshold": ti, "apcer": ai, "bpcer": bi}
                         for ti, ai, bi in zip(t, a, b)]
    pd.DataFrame(rows).to_csv(path, index=False)


# --------------------------------------------------------------------------------------------
# metrics

def add_metrics_command(subparsers: Any) -> argparse.ArgumentParser:
    """``liveness-lab metrics RESULTS... --criterion bpcer20``."""
    p = subparsers.add_parser(
        "metrics", help="dev and eval error rates at a threshold chosen on dev (like bob pad "
                        "metrics), with Wilson intervals",
        description="Choose a score threshold on the development split by a criterion and "
                    "print development and evaluation columns side by side per challenge "
                    "type: APCER per species and the worst, BPCER, APNRR / BPNRR (sessions "
                    "without a response, counted apart as bob pad counts failures to "
                    "acquire), the pooled EER and the HTER. Several results files "
                    "(protocols or folds) add a mean ± std table.")
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="results CSV(s) from `evaluate --output` with dev and test splits")
    p.add_argument("--criterion", "-c", default="eer",
                   help="eer (default), min-hter, bpcerN (BPCER at APCER 1/N: bpcer20), "
                        "apcerN (APCER at BPCER 1/N), decision (the challenge's own "
                        "threshold)")
    p.add_argument("--threshold", "-T", type=float, default=None,
                   help="a fixed threshold instead of a criterion")
    _split_options(p)
    p.add_argument("--tablefmt", default="github",
                   help="table format of python-tabulate (github, simple, plain, latex, "
                        "html, ...; default github)")
    p.add_argument("--confidence", type=float, default=0.95, help="Wilson interval level")
    p.add_argument("--points", default=None, metavar="CSV",
                   help="also write the pooled-attack DET points of every type and split")
    p.set_defaults(func=cmd_metrics)
    return p


def cmd_metrics(args: argparse.Namespace) -> int:
    return _user_errors("metrics")(_cmd_metrics)(args)


def _cmd_metrics(args: argparse.Namespace) -> int:
    from tabulate import tabulate_formats

    from .devtest import parse_criterion
    if args.tablefmt not in tabulate_formats:
        raise ValueError(f"unknown --tablefmt {args.tablefmt!r}; use one of "
                         f"{', '.join(sorted(tabulate_formats))}")
    if not 0 < args.confidence < 1:
        raise ValueError(f"--confidence must be between 0 and 1, got {args.confidence!r}")
    criterion = parse_criterion(args.criterion, args.threshold)
    frames = {src: _read(src) for src in args.results}
    per_file = []
    for src, df in frames.items():
        per_file.append((src, metrics_tables(df, criterion, dev_split=args.dev_split,
                                             eval_split=args.eval_split, types=args.types,
                                             confidence=args.confidence, source=src)))
    headers = ["", f"Development ({args.dev_split})", f"Evaluation ({args.eval_split})"]
    if not any(tables for _, tables in per_file):
        raise ValueError("no challenge type in the results has scores on the development "
                         "split")
    for src, tables in per_file:
        for ctype, (rows, _, _, _) in tables.items():
            print(f"[{ctype}] {src}: threshold by {criterion.label} on {args.dev_split}; "
                  f"{100 * args.confidence:g} % Wilson intervals; presentations without a "
                  "response counted apart (APNRR/BPNRR)")
            print(_table(rows, headers, args.tablefmt))
            print()
    if len(per_file) > 1:
        types = sorted(set.intersection(*[set(t) for _, t in per_file]))
        for ctype in types:
            names = list(dict.fromkeys(n for _, t in per_file for n in t[ctype][1]))
            rows = [[n] + [_mean_std([t[ctype][1].get(n, (math.nan, math.nan))[i]
                                      for _, t in per_file]) for i in (0, 1)] for n in names]
            print(f"[{ctype}] mean ± std over {len(per_file)} results files")
            print(_table(rows, headers, args.tablefmt))
            print()
    if args.points:
        _write_points(args.points, per_file, frames, args.dev_split, args.eval_split)
        print(f"wrote DET points to {args.points}")
    return 0


# --------------------------------------------------------------------------------------------
# hist

def add_hist_command(subparsers: Any) -> argparse.ArgumentParser:
    """``liveness-lab hist RESULTS --out DIR``."""
    p = subparsers.add_parser("hist", help="score histograms per species (one PNG per type)",
                              description="Histograms of the session scores, bona fide and "
                                          "each attack species, one PNG per challenge type, "
                                          "with the challenge's own decision threshold.")
    p.add_argument("results", metavar="RESULTS", help="results CSV")
    p.add_argument("--out", required=True, help="output directory for hist-TYPE.png")
    p.add_argument("--split", default="test",
                   help="split to plot (default test; 'all' for every session)")
    p.add_argument("--type", dest="types", action="append", default=[], metavar="TYPE",
                   help="only this challenge type (repeatable; default: every type with "
                        "scores)")
    p.add_argument("--bins", type=int, default=30, help="histogram bins (default 30)")
    p.set_defaults(func=cmd_hist)
    return p


def cmd_hist(args: argparse.Namespace) -> int:
    return _user_errors("hist")(_cmd_hist)(args)


def _cmd_hist(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .devtest import type_scores
    if args.bins < 1:
        raise ValueError(f"--bins must be a positive integer, got {args.bins}")
    df = _read(args.results)
    if args.split != "all":
        col = df["split"].fillna("").astype(str) if "split" in df else None
        if col is None or args.split not in set(col):
            raise ValueError(f"{args.results}: no {args.split!r} split")
        df = df[col == args.split]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for ctype in _types(df, args.types):
        part = df[df["challenge_type"].astype(str) == ctype]
        scores, _, bf, _, species = type_scores(part)
        finite = scores[np.isfinite(scores)]
        if not finite.size:
            print(f"{ctype}: no scores, no histogram")
            continue
        edges = np.histogram_bin_edges(finite, bins=args.bins)
        fig, ax = plt.subplots(figsize=(7, 4.2))
        classes = [("bona fide", bf)] + [(sp, ~bf & (species == sp))
                                         for sp in sorted(set(species[~bf]))]
        for name, mask in classes:
            s = scores[mask]
            f = s[np.isfinite(s)]
            label = f"{name} ({f.size}" + (f", {s.size - f.size} without a score)"
                                           if s.size > f.size else ")")
            ax.hist(f, bins=edges, histtype="step", linewidth=1.5 if name == "bona fide"
                    else 1.0, label=label)
        t = _decision_threshold(ctype)
        if t is not None:
            ax.axvline(t, color="k", linestyle=":", label=f"decision threshold {t:g}")
        ax.set_xlabel("score (higher = more live)")
        ax.set_ylabel("sessions")
        ax.set_title(f"{ctype} scores ({args.split})", fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"hist-{ctype}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------------------------
# epc

def add_epc_command(subparsers: Any) -> argparse.ArgumentParser:
    """``liveness-lab epc RESULTS``."""
    p = subparsers.add_parser("epc", help="expected performance curve (thresholds on dev, "
                                          "HTER on eval)",
                              description="For alpha from 0 to 1: the threshold minimising "
                                          "alpha*APCER + (1-alpha)*BPCER on the development "
                                          "split, and the HTER, worst APCER and BPCER it "
                                          "gives on the evaluation split.")
    p.add_argument("results", metavar="RESULTS", help="results CSV with dev and test splits")
    _split_options(p)
    p.add_argument("--n-points", type=int, default=11, help="alphas in [0, 1] (default 11)")
    p.add_argument("--tablefmt", default="github", help="python-tabulate table format")
    p.add_argument("--out", default=None, help="also draw epc-TYPE.png into this directory")
    p.set_defaults(func=cmd_epc)
    return p


def cmd_epc(args: argparse.Namespace) -> int:
    return _user_errors("epc")(_cmd_epc)(args)


def _cmd_epc(args: argparse.Namespace) -> int:
    import numpy as np

    from .devtest import epc
    if args.n_points < 2:
        raise ValueError(f"--n-points must be at least 2, got {args.n_points}")
    df = _read(args.results)
    dev, ev = _splits(df, args.dev_split, args.eval_split, args.results)
    alphas = np.linspace(0, 1, args.n_points)
    for ctype in _types(df, args.types):
        d = dev[dev["challenge_type"].astype(str) == ctype]
        e = ev[ev["challenge_type"].astype(str) == ctype]
        rows = epc(d, e, alphas)
        print(f"[{ctype}] EPC: thresholds on {args.dev_split}, rates on {args.eval_split}")
        print(_table([[f"{r['alpha']:.2f}", f"{r['threshold']:.6g}", _pct(r["hter"]),
                       _pct(r["apcer"]), _pct(r["bpcer"])] for r in rows],
                     ["alpha", "threshold", "HTER", "APCER (worst)", "BPCER"], args.tablefmt))
        print()
        if args.out:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(5.5, 4))
            ax.plot([r["alpha"] for r in rows], [100 * r["hter"] for r in rows], marker="o")
            ax.set_xlabel("alpha (weight of APCER on dev)")
            ax.set_ylabel(f"HTER on {args.eval_split} (%)")
            ax.set_title(f"EPC - {ctype}", fontsize=10)
            fig.tight_layout()
            fig.savefig(out / f"epc-{ctype}.png", dpi=100)
            plt.close(fig)
            print(f"wrote {out / f'epc-{ctype}.png'}")
    return 0
