"""Replay a labelled dataset through its challenge types: one results row per session.

Sessions are replayed in parallel over processes, in chunks; each worker
resolves the configuration once. The first malformed session stops the run
with a :class:`~liveness_lab.errors.SessionFormatError` naming the file, the
session and the field.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import SessionFormatError, UnknownChallengeType
from ..sessions import ManifestEntry, load_dataset_session, read_manifest

__all__ = ["RESULT_COLUMNS", "evaluate_dataset", "write_results", "read_results", "summarize",
           "format_summary"]

#: Columns of the results table; the first six are the spec's required ones.
RESULT_COLUMNS = ("session_id", "label", "pai_species", "challenge_type", "success", "reason",
                  "code", "decided", "score", "final_state", "frames", "subject_id", "split")

_WORKER_STATE: dict[str, Any] = {}


def _init_worker(profile: str | None, sets: Sequence[str],
                 overrides: Mapping[str, Mapping[str, Any]] | None,
                 analyzer: str = "local", analyzer_options: Mapping[str, Any] | None = None,
                 cache_path: str | None = None) -> None:
    from ..challenges.registry import default_registry
    from ..config import resolve_configs
    registry = default_registry()
    _WORKER_STATE["registry"] = registry
    _WORKER_STATE["configs"] = resolve_configs(profile, sets=sets, overrides=overrides,
                                               registry=registry)
    _WORKER_STATE["analyzer_spec"] = (analyzer, analyzer_options, cache_path)
    _WORKER_STATE.pop("analyzer", None)


def _analyzed(session):
    """The session with image-only frames analyzed (the analyzer is created on first need)."""
    if all(fr.faces is not None for fr in session.frames):
        return session
    from ..analysis import analyze_session, make_analyzer
    if "analyzer" not in _WORKER_STATE:
        name, options, cache_path = _WORKER_STATE["analyzer_spec"]
        _WORKER_STATE["analyzer"] = make_analyzer(name, options=options, cache_path=cache_path)
    return analyze_session(session, _WORKER_STATE["analyzer"])[0]


def _replay_chunk(dataset_dir: str, entries: Sequence[ManifestEntry]) -> list[dict[str, Any]]:
    from ..verify import verify_session
    registry = _WORKER_STATE["registry"]
    configs = _WORKER_STATE["configs"]
    rows = []
    for entry in entries:
        session = _analyzed(load_dataset_session(dataset_dir, entry))
        try:
            verdict = verify_session(session, configs=configs, registry=registry)
        except UnknownChallengeType as e:
            raise SessionFormatError(str(e), path=str(Path(dataset_dir) / entry.path),
                                     session_id=session.id, field="challenge.type") from None
        rows.append({"session_id": session.id, "label": session.label,
                     "pai_species": session.pai_species or "",
                     "challenge_type": session.challenge_type, "success": verdict.success,
                     "reason": verdict.reason, "code": verdict.code, "decided": verdict.decided,
                     "score": verdict.score, "final_state": verdict.final_state or "",
                     "frames": verdict.frames_total, "subject_id": session.subject_id or "",
                     "split": session.split or entry.split or ""})
    return rows


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def evaluate_dataset(dataset_dir: str | os.PathLike, *, profile: str | None = None,
                     sets: Sequence[str] = (),
                     overrides: Mapping[str, Mapping[str, Any]] | None = None,
                     workers: int | None = None, chunk_size: int | None = None,
                     analyzer: str = "local", analyzer_options: Mapping[str, Any] | None = None,
                     cache_path: str | os.PathLike | None = "default",
                     progress: bool | Callable[[int, int], None] = False):
    """Replay every session of a dataset; return the results as a pandas DataFrame.

    Parameters
    ----------
    dataset_dir:
        A dataset directory (``manifest.csv`` + session documents).
    profile, sets, overrides:
        Configuration (see :func:`liveness_lab.config.resolve_configs`).
    workers:
        Worker processes (default: the number of CPUs; ``1`` runs in this process).
    analyzer, analyzer_options, cache_path:
        How frames that have an image but no recorded faces are analyzed (in memory;
        the dataset is not modified): the analyzer name (``local``, ``rekognition``;
        ``recorded`` refuses such frames) and the analysis cache file (``"default"``:
        :data:`liveness_lab.analysis.DEFAULT_CACHE_PATH`; ``None``: no cache).
    progress:
        ``True`` for a tqdm bar on stderr, or a callable ``(done, total)``.

    Returns
    -------
    pandas.DataFrame
        One row per session, columns :data:`RESULT_COLUMNS`, in manifest order.
    """
    import pandas as pd

    if cache_path == "default":
        from ..analysis import DEFAULT_CACHE_PATH
        cache_path = DEFAULT_CACHE_PATH
    spec = (analyzer, dict(analyzer_options or {}), None if cache_path is None else str(cache_path))
    # Validate the configuration here, so a typo fails before any worker starts.
    _init_worker(profile, sets, overrides, *spec)
    root = str(Path(dataset_dir))
    entries = read_manifest(root)
    total = len(entries)
    workers = max(1, workers or os.cpu_count() or 1)
    size = chunk_size or max(1, min(256, math.ceil(total / (workers * 8)) if total else 1))
    bar = None
    if progress is True:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, unit="session", desc="evaluate", leave=False)

    def tick(n: int, done: int) -> None:
        if bar is not None:
            bar.update(n)
        elif callable(progress):
            progress(done, total)

    results: list[list[dict[str, Any]]] = []
    done = 0
    try:
        if workers == 1 or total <= size:
            for chunk in _chunks(entries, size):
                rows = _replay_chunk(root, chunk)
                results.append(rows)
                done += len(rows)
                tick(len(rows), done)
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(profile, tuple(sets), overrides, *spec)) as pool:
                futures: list[Future] = [pool.submit(_replay_chunk, root, c)
                                         for c in _chunks(entries, size)]
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for f in finished:
                        if f.exception() is not None:
                            for p in pending:
                                p.cancel()
                            raise f.exception()  # type: ignore[misc]
                        done += len(f.result())
                        tick(len(f.result()), done)
                results = [f.result() for f in futures]
    finally:
        if bar is not None:
            bar.close()
    rows = [r for chunk in results for r in chunk]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def write_results(df, path: str | os.PathLike) -> Path:
    """Write a results table as CSV (``success`` / ``decided`` as ``true`` / ``false``)."""
    from ..sessions import atomic_write_text
    out = df.copy()
    for col in ("success", "decided"):
        if col in out:
            out[col] = out[col].map(lambda v: "true" if bool(v) else "false")
    p = Path(path)
    atomic_write_text(p, out.to_csv(index=False))
    return p


def read_results(path: str | os.PathLike):
    """Read a results CSV written by :func:`write_results` (booleans parsed back)."""
    import pandas as pd
    df = pd.read_csv(path, dtype={"session_id": str, "pai_species": str, "subject_id": str,
                                  "split": str, "reason": str, "code": str},
                     keep_default_na=False, na_values={"score": [""]})
    for col in ("success", "decided"):
        if col in df:
            bad = ~df[col].astype(str).str.lower().isin(["true", "false"])
            if bad.any():
                raise ValueError(f"{path}: column {col!r} must hold true/false, row "
                                 f"{int(bad.idxmax()) + 2} has {df[col][bad.idxmax()]!r}")
            df[col] = df[col].astype(str).str.lower() == "true"
    return df


def summarize(df) -> dict[str, Any]:
    """Metrics of a results table: per challenge type and overall.

    Returns ``{"overall": {...}, "by_type": {TYPE: {...}}}`` where each block
    holds ``n_bona_fide``, ``n_attack``, ``bpcer``, ``apcer`` (per species),
    ``apcer_counts`` (accepted, total per species), ``max_apcer``, ``acer``
    and ``non_response_rate``.
    """
    import warnings

    from .metrics import (UndefinedMetricWarning, acer, apcer_per_species, bpcer, max_apcer,
                          non_response_rate)

    def block(d) -> dict[str, Any]:
        bf = d[d["label"] == "bona_fide"]
        at = d[d["label"] == "attack"]
        species = at["pai_species"].replace("", "unspecified")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            per = apcer_per_species(at["success"].to_numpy(bool), species.to_numpy())
            b = bpcer(bf["success"].to_numpy(bool))
            m = max_apcer(per)
        counts = {sp: (int(at["success"][species == sp].sum()), int((species == sp).sum()))
                  for sp in per}
        return {"n_sessions": int(len(d)), "n_bona_fide": int(len(bf)), "n_attack": int(len(at)),
                "bpcer": b, "bpcer_counts": (int((~bf["success"].astype(bool)).sum()), int(len(bf))),
                "apcer": per, "apcer_counts": counts, "max_apcer": m, "acer": acer(m, b),
                "non_response_rate": non_response_rate(d["decided"].to_numpy(bool))
                if "decided" in d else math.nan}

    return {"overall": block(df),
            "by_type": {t: block(g) for t, g in sorted(df.groupby("challenge_type"), key=lambda x: x[0])}}


def format_summary(summary: Mapping[str, Any]) -> str:
    """A plain-text table of :func:`summarize`'s output, for the terminal."""
    def pct(v: float) -> str:
        return "   n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:5.1f}%"

    lines = []
    blocks = list(summary["by_type"].items())
    if len(blocks) != 1:
        blocks.append(("ALL", summary["overall"]))
    width = max([26] + [len(f"APCER {sp}") for _, b in blocks for sp in b["apcer"]])
    for name, b in blocks:
        lines.append(f"== {name}: {b['n_bona_fide']} bona fide, {b['n_attack']} attacks, "
                     f"non-response {pct(b['non_response_rate']).strip()}")
        rej, n = b["bpcer_counts"]
        lines.append(f"   {'BPCER':<{width}} {pct(b['bpcer'])}  ({rej}/{n} bona fide rejected)")
        for sp, v in b["apcer"].items():
            acc, tot = b["apcer_counts"][sp]
            lines.append(f"   {'APCER ' + sp:<{width}} {pct(v)}  ({acc}/{tot} attacks accepted)")
        lines.append(f"   {'APCER max':<{width}} {pct(b['max_apcer'])}")
        lines.append(f"   {'ACER (OULU-NPU convention)':<{width}} {pct(b['acer'])}")
    return "\n".join(lines)
