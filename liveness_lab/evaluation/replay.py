"""Replay a labelled dataset through its challenge types: one results row per session.

:func:`evaluate_dataset` replays a dataset under one configuration;
:func:`replay_many` under several at once, reading and parsing each session once per chunk
(the cheap way to run a parameter sweep), optionally from the columnar dataset cache of
:mod:`liveness_lab.evaluation.dataset_cache` (parsed once, replayed many times). Both run
on an execution engine (:mod:`liveness_lab.engines`: a local process pool by default, or
Dask). The first
malformed session stops the run with a :class:`~liveness_lab.errors.SessionFormatError`
naming the file, the session and the field.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..config import DEFAULT_PROFILE
from ..analyzers.cache import DEFAULT_CACHE_PATH
from ..analyzers import DEFAULT_ANALYZER
from ..engines import Engine, make_engine, progress_bar
from ..errors import ConfigError, SessionFormatError, UnknownChallengeType
from .evidence_check import (MissingEvidenceWarning, check_dataset_evidence,
                             missing_evidence_message, missing_evidence_share)
from .dataset_cache import DatasetCache, _gc_paused, ensure_dataset_cache

__all__ = ["RESULT_COLUMNS", "ReplaySpec", "replay_many", "evaluate_dataset", "write_results",
           "read_results", "summarize", "format_summary", "check_dataset_evidence",
           "missing_evidence_share", "missing_evidence_message", "MissingEvidenceWarning"]

#: Columns of the results table; the first six are the spec's required ones. ``profile``
#: and ``analyzer`` record the configuration that produced the row (the resolved profile
#: name, the analyzer used for frames without recorded faces).
RESULT_COLUMNS = ("session_id", "label", "pai_species", "challenge_type", "success", "reason",
                  "code", "decided", "score", "final_state", "frames", "subject_id", "split",
                  "profile", "analyzer")


@dataclass(frozen=True)
class ReplaySpec:
    """One configuration to replay a dataset under.

    Attributes
    ----------
    profile, sets, overrides:
        As in :func:`liveness_lab.config.resolve_configs`.
    analyzer, analyzer_options, cache_path:
        How frames without recorded faces are analyzed (see
        :func:`liveness_lab.evaluation.replay.evaluate_dataset`); unused when every frame
        carries its faces.
    """

    profile: str | None = None
    sets: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any]] | None = None
    analyzer: str = DEFAULT_ANALYZER
    analyzer_options: Mapping[str, Any] | None = None
    cache_path: str | None = None
    pad_model: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.sets, str):
            raise ConfigError(f"sets must be a sequence of TYPE.key=value strings, got "
                              f"{self.sets!r}")
        object.__setattr__(self, "sets", tuple(self.sets))

    def config_key(self) -> str:
        return json.dumps([self.profile, list(self.sets), self.overrides], sort_keys=True,
                          default=str)

    def analyzer_key(self) -> str:
        return json.dumps([self.analyzer, self.analyzer_options, self.cache_path,
                           self.pad_model], sort_keys=True, default=str)

    def resolve(self, registry: Any = None) -> Any:
        """The :class:`~liveness_lab.config.Configs` (raises ConfigError for a bad spec)."""
        from ..config import resolve_configs
        return resolve_configs(self.profile, sets=self.sets, overrides=self.overrides,
                               registry=registry)


_WORKER: dict[str, Any] = {}


def _worker_registry() -> Any:
    if "registry" not in _WORKER:
        from ..challenges.registry import default_registry
        _WORKER["registry"] = default_registry()
    return _WORKER["registry"]


def _worker_configs(spec: ReplaySpec) -> Any:
    cache = _WORKER.setdefault("configs", {})
    key = spec.config_key()
    if key not in cache:
        cache[key] = spec.resolve(_worker_registry())
    return cache[key]


def _worker_analyzed(session: Any, spec: ReplaySpec) -> Any:
    for fr in session.frames:
        if fr.faces is None:
            break
    else:  # every frame carries its faces (a plain loop: this runs once per session)
        return session
    from ..analysis import analyze_session, make_analyzer
    cache = _WORKER.setdefault("analyzers", {})
    key = spec.analyzer_key()
    if key not in cache:
        cache[key] = make_analyzer(spec.analyzer, options=spec.analyzer_options,
                                   cache_path=spec.cache_path, pad_model=spec.pad_model)
    return analyze_session(session, cache[key])[0]


def _result_row(entry: Any, session: Any, verdict: Any) -> dict[str, Any]:
    """One results row (the columns of :data:`~liveness_lab.evaluation.replay.RESULT_COLUMNS`)."""
    return {"session_id": session.id, "label": session.label,
            "pai_species": session.pai_species or "",
            "challenge_type": session.challenge_type, "success": verdict.success,
            "reason": verdict.reason, "code": verdict.code, "decided": verdict.decided,
            "score": verdict.score, "final_state": verdict.final_state or "",
            "frames": verdict.frames_total, "subject_id": session.subject_id or "",
            "split": session.split or entry.split or ""}


def _chunk_sessions(dataset_dir: str, entries: Sequence[Any], cache: Any,
                    rows: Sequence[int] | None) -> Iterable[Any]:
    from ..sessions import load_dataset_session
    if cache is None:
        return (load_dataset_session(dataset_dir, entry) for entry in entries)
    return cache.read(rows, [_session_path(dataset_dir, e.path) for e in entries])


def _session_path(root: str, rel: str) -> str:
    """``str(Path(root) / rel)`` for a ``root`` that ``Path`` has normalised, without pathlib
    (10 us a session) when :func:`os.path.join` gives the same string: a plain relative
    path (no ``//``, ``.`` parts or trailing slash) under a root other than ``.``, on POSIX."""
    if (os.sep == "/" and root != "." and "//" not in rel and "/./" not in rel
            and not rel.startswith("./") and not rel.endswith(("/", "/.")) and rel != "."):
        return os.path.join(root, rel)
    return str(Path(root) / rel)


def _cache_loader(cache: Any, dataset_dir: str, every: Sequence[Any]
                  ) -> Callable[[Sequence[Any]], list[Any]]:
    """``load(entries)``: those sessions read from the dataset cache (rows of ``every``)."""
    position = {e.session_id: i for i, e in enumerate(every)}

    def load(entries: Sequence[Any]) -> list[Any]:
        return cache.read([position[e.session_id] for e in entries],
                          [_session_path(dataset_dir, e.path) for e in entries])
    return load


def _replay_task(task: tuple[Any, ...]) -> list[list[dict[str, Any]]]:
    """Replay one chunk of sessions under every spec: ``rows[spec_index][session_index]``.

    ``task``: ``(dataset_dir, entries, specs)``, plus ``(cache, rows)`` to read the
    sessions from a :class:`~liveness_lab.evaluation.dataset_cache.DatasetCache`.
    """
    with _gc_paused():
        return _replay_chunk(*task)


def _replay_chunk(dataset_dir: str, entries: Sequence[Any], specs: Sequence[ReplaySpec],
                  cache: Any = None, rows: Sequence[int] | None = None
                  ) -> list[list[dict[str, Any]]]:
    from ..verify import verify_session
    registry = _worker_registry()
    out: list[list[dict[str, Any]]] = [[] for _ in specs]
    keys = [spec.analyzer_key() for spec in specs]  # once per chunk, not per session
    configs = [_worker_configs(spec) for spec in specs]
    for entry, loaded in zip(entries, _chunk_sessions(dataset_dir, entries, cache, rows)):
        analyzed: dict[str, Any] = {}
        for i, spec in enumerate(specs):
            akey = keys[i]
            if akey not in analyzed:
                analyzed[akey] = _worker_analyzed(loaded, spec)
            session = analyzed[akey]
            try:
                verdict = verify_session(session, configs=configs[i],
                                         registry=registry, trace=False)
            except UnknownChallengeType as e:
                raise SessionFormatError(str(e), path=str(Path(dataset_dir) / entry.path),
                                         session_id=session.id, field="challenge.type") from None
            out[i].append(_result_row(entry, session, verdict))
    return out


def replay_many(dataset_dir: str | os.PathLike, specs: Sequence[ReplaySpec], *,
                engine: "str | Engine | None" = None, workers: int | None = None,
                splits: Iterable[str] | None = None, chunk_size: int | None = None,
                progress: bool | Callable[[int, int], None] = False,
                check_evidence: bool = True,
                dataset_cache: str | os.PathLike | None = None) -> list[Any]:
    """Replay a dataset under several configurations; one results DataFrame per spec.

    Each session is read and parsed once per chunk and replayed under every spec, so a
    sweep of N configurations costs far less than N evaluations.

    Parameters
    ----------
    dataset_dir:
        A dataset directory (``manifest.csv`` + session documents).
    specs:
        The configurations; each is validated before any work starts.
    engine:
        An :class:`Engine`, or a name for :func:`make_engine` (default: a process pool,
        closed at the end; an engine passed in is left open).
    workers:
        Size of the engine made from a name.
    splits:
        Only the sessions whose ``split`` in ``manifest.csv`` is one of these (e.g.
        ``["dev"]``); default: every session.
    progress:
        ``True`` for a tqdm bar (sessions), or a callable ``(done, total)``.
    check_evidence:
        Before any replay, check every spec's profile against the evidence the dataset's
        faces (and the analyzer, for image-only frames) can give
        (:func:`check_dataset_evidence`); a check that could never get its evidence raises
        :class:`~liveness_lab.evidence.MissingEvidenceError`. After the replay, a spec under
        which more than 5 % of the sessions failed for missing evidence warns
        (:func:`missing_evidence_share`).
    dataset_cache:
        A folder for the columnar dataset cache
        (:mod:`liveness_lab.evaluation.dataset_cache`; the command line uses
        :data:`~liveness_lab.evaluation.dataset_cache.DEFAULT_DATASET_CACHE_DIR`): the
        sessions are parsed and validated once, into a cache keyed by the dataset's
        fingerprint, and read from it by this and later runs. ``None`` (default): read
        the JSON documents. The results are the same either way.

    Returns
    -------
    list of pandas.DataFrame
        Columns :data:`~liveness_lab.evaluation.replay.RESULT_COLUMNS`, manifest order.
    """
    import pandas as pd

    from ..sessions import read_manifest

    specs = list(specs)
    if not specs:
        raise ConfigError("replay_many needs at least one configuration")
    for spec in specs:
        if not isinstance(spec, ReplaySpec):
            raise ConfigError(f"specs must be ReplaySpec objects, got {type(spec).__name__}")
        spec.resolve()  # a typo fails here, before any worker starts
    root = str(Path(dataset_dir))
    every = read_manifest(root)
    rows = list(range(len(every)))
    if splits is not None:
        wanted = {s or "" for s in splits}
        rows = [i for i in rows if (every[i].split or "") in wanted]
    entries = [every[i] for i in rows]
    cached = None  # the dataset's cache, fingerprinted once; read for the evidence sample
    if dataset_cache is not None and entries:
        cached = DatasetCache.for_dataset(root, dataset_cache, every)
    if check_evidence:
        load = _cache_loader(cached, root, every) if cached is not None and cached.exists() \
            else None
        specs = check_dataset_evidence(root, entries, specs, _worker_registry(), load=load)
    own = not isinstance(engine, Engine)
    eng = make_engine(engine, workers=workers)
    total = len(entries)

    def chunk_of(n: int) -> int:
        return chunk_size or max(1, min(256, math.ceil(n / (eng.parallelism * 4)) if n else 1))

    size = chunk_of(total)
    try:
        if cached is not None:
            cache = ensure_dataset_cache(root, dataset_cache, entries=every, engine=eng,
                                         chunk_size=chunk_of(len(every)), progress=progress,
                                         cache=cached)
        else:
            cache = None
        if cache is not None:
            tasks = [(root, entries[i:i + size], specs, cache, rows[i:i + size])
                     for i in range(0, total, size)]
        else:
            tasks = [(root, entries[i:i + size], specs) for i in range(0, total, size)]
        bar, tick = progress_bar(progress, total, "replay" if len(specs) == 1
                                  else f"replay x{len(specs)} configs")
        try:
            chunks = eng.map(_replay_task, tasks, on_result=lambda r: tick(len(r[0])))
        finally:
            if bar is not None:
                bar.close()
    finally:
        if own:
            eng.close()
    frames = []
    for i, spec in enumerate(specs):
        df = pd.DataFrame([row for chunk in chunks for row in chunk[i]],
                          columns=list(RESULT_COLUMNS))
        df["profile"], df["analyzer"] = spec.resolve().profile, spec.analyzer
        frames.append(df)
    if check_evidence:
        for spec, df in zip(specs, frames):
            message = missing_evidence_message(df)
            if message:
                warnings.warn(f"profile {spec.profile or DEFAULT_PROFILE!r}: {message}",
                              MissingEvidenceWarning, stacklevel=2)
    return frames


def evaluate_dataset(dataset_dir: str | os.PathLike, *, profile: str | None = None,
                     sets: Sequence[str] = (),
                     overrides: Mapping[str, Mapping[str, Any]] | None = None,
                     workers: int | None = None, chunk_size: int | None = None,
                     analyzer: str = DEFAULT_ANALYZER,
                     analyzer_options: Mapping[str, Any] | None = None,
                     cache_path: str | os.PathLike | None = DEFAULT_CACHE_PATH,
                     progress: bool | Callable[[int, int], None] = False,
                     engine: "str | Engine | None" = None,
                     pad_model: str | os.PathLike | None = None, check_evidence: bool = True,
                     dataset_cache: str | os.PathLike | None = None):
    """Replay every session of a dataset; return the results as a pandas DataFrame.

    Parameters
    ----------
    dataset_dir:
        A dataset directory (``manifest.csv`` + session documents).
    profile, sets, overrides:
        Configuration (see :func:`liveness_lab.config.resolve_configs`).
    workers:
        Worker processes of the engine (default: the number of CPUs; ``1`` runs in this
        process).
    analyzer, analyzer_options, cache_path:
        How frames that have an image but no recorded faces are analyzed (in memory;
        the dataset is not modified): the analyzer name (``local``, ``rekognition``;
        ``recorded`` refuses such frames) and the analysis cache file (default
        :data:`liveness_lab.analysis.DEFAULT_CACHE_PATH`; ``None``: no cache).
    progress:
        ``True`` for a tqdm bar on stderr, or a callable ``(done, total)``.
    engine:
        ``None``/``"process"`` (a local process pool), ``"dask"``, a Dask scheduler address,
        or an :class:`~liveness_lab.engines.Engine` (left open for reuse).
    pad_model:
        A PAD model file: image-only frames are analyzed with a PAD stage (``PadScore``).
    check_evidence:
        As in :func:`replay_many`: refuse, before replaying, a profile whose checks need
        evidence the dataset cannot carry; warn after when > 5 % fail for missing evidence.
    dataset_cache:
        Folder of the columnar dataset cache (see :func:`replay_many`); ``None``: none.

    Returns
    -------
    pandas.DataFrame
        One row per session, columns :data:`RESULT_COLUMNS`, in manifest order.
    """
    spec = ReplaySpec(profile, tuple(sets), overrides, analyzer,
                      dict(analyzer_options or {}) or None,
                      None if cache_path is None else str(cache_path),
                      None if pad_model is None else str(pad_model))
    return replay_many(dataset_dir, [spec], engine=engine, workers=workers,
                       chunk_size=chunk_size, progress=progress,
                       check_evidence=check_evidence, dataset_cache=dataset_cache)[0]


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
                                  "split": str, "reason": str, "code": str,
                                  "profile": str, "analyzer": str},
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

    by_type = {t: block(g) for t, g in sorted(df.groupby("challenge_type"), key=lambda x: x[0])}
    return {"overall": block(df) if len(by_type) < 2 else _worst_type(by_type),
            "by_type": by_type}


def _worst_type(by_type: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The overall block of several types: each rate the maximum over types (no species
    pooled across types: same-named species of different types are different attacks)."""
    def mx(name: str) -> float:
        v = [b[name] for b in by_type.values() if not math.isnan(b[name])]
        return max(v) if v else math.nan
    blocks = list(by_type.values())
    return {"n_sessions": sum(b["n_sessions"] for b in blocks),
            "n_bona_fide": sum(b["n_bona_fide"] for b in blocks),
            "n_attack": sum(b["n_attack"] for b in blocks), "bpcer": mx("bpcer"),
            "bpcer_counts": None,
            "apcer": {}, "apcer_counts": {}, "max_apcer": mx("max_apcer"), "acer": mx("acer"),
            "non_response_rate": mx("non_response_rate")}


def format_summary(summary: Mapping[str, Any]) -> str:
    """A plain-text table of :func:`summarize`'s output, for the terminal.

    Each rate comes with its 95 % Wilson interval (informative at zero errors too).
    """
    from .intervals import wilson_interval

    def pct(v: float) -> str:
        return "   n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:5.1f}%"

    def ci(k: int, n: int) -> str:
        if not n:
            return " " * 14
        lo, hi = wilson_interval(k, n)
        return f"[{100 * lo:4.1f}, {100 * hi:5.1f}]"

    lines = []
    blocks = list(summary["by_type"].items())
    if len(blocks) != 1:
        blocks.append(("ALL", summary["overall"]))
    width = max([26] + [len(f"APCER {sp}") for _, b in blocks for sp in b["apcer"]])
    for name, b in blocks:
        lines.append(f"== {name}: {b['n_bona_fide']} bona fide, {b['n_attack']} attacks, "
                     f"non-response {pct(b['non_response_rate']).strip()}")
        if b["bpcer_counts"] is None:
            lines.append("   (each rate: the worst type's; species are not pooled across "
                         "types)")
            lines.append(f"   {'BPCER':<{width}} {pct(b['bpcer'])}  (the worst type's)")
        else:
            rej, n = b["bpcer_counts"]
            lines.append(f"   {'BPCER':<{width}} {pct(b['bpcer'])} {ci(rej, n)}  "
                         f"({rej}/{n} bona fide rejected)")
        for sp, v in b["apcer"].items():
            acc, tot = b["apcer_counts"][sp]
            lines.append(f"   {'APCER ' + sp:<{width}} {pct(v)} {ci(acc, tot)}  "
                         f"({acc}/{tot} attacks accepted)")
        lines.append(f"   {'APCER max':<{width}} {pct(b['max_apcer'])}")
        lines.append(f"   {'ACER (OULU-NPU convention)':<{width}} {pct(b['acer'])}")
    return "\n".join(lines)
