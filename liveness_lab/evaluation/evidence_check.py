"""Evidence checks around a replay: refuse a profile the dataset cannot serve, warn after.

:func:`check_dataset_evidence` runs before any replay (see :mod:`liveness_lab.evidence`);
:func:`missing_evidence_message` reads the results after it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import SessionFormatError, UnknownChallengeType

if TYPE_CHECKING:  # pragma: no cover
    from .replay import ReplaySpec

__all__ = ["MissingEvidenceWarning", "MISSING_EVIDENCE_WARN_SHARE", "EVIDENCE_SAMPLE",
           "missing_evidence_share", "missing_evidence_message", "check_dataset_evidence"]


class MissingEvidenceWarning(UserWarning):
    """Many sessions failed for evidence their faces did not carry."""


#: share of sessions failing for missing evidence above which a replay warns
MISSING_EVIDENCE_WARN_SHARE = 0.05
#: sessions per challenge type read to find the evidence a dataset carries
EVIDENCE_SAMPLE = 25


def missing_evidence_share(df) -> float:
    """The share of rows whose verdict code says evidence was missing (0 for no rows)."""
    from ..evidence import is_missing_evidence_code
    if not len(df):
        return 0.0
    return float(df["code"].map(is_missing_evidence_code).mean())


def missing_evidence_message(df) -> str | None:
    """A warning sentence when more than 5 % of the sessions failed for missing evidence."""
    from ..evidence import is_missing_evidence_code
    share = missing_evidence_share(df)
    if share <= MISSING_EVIDENCE_WARN_SHARE:
        return None
    codes = df.loc[df["code"].map(is_missing_evidence_code), "code"].value_counts()
    top = ", ".join(f"{c} x{n}" for c, n in codes.head(4).items())
    return (f"{share:.0%} of the sessions failed for evidence their faces did not carry "
            f"({top}): these rejections measure the data, not the rules")


def check_dataset_evidence(dataset_dir: str | os.PathLike, entries: Sequence[Any],
                           specs: Sequence["ReplaySpec"], registry: Any = None, *,
                           load: Callable[[Sequence[Any]], list[Any]] | None = None
                           ) -> list["ReplaySpec"]:
    """Check each spec's profile against the evidence the dataset's sessions can carry.

    Reads up to :data:`EVIDENCE_SAMPLE` sessions per challenge type. When some frames have no
    recorded faces, the spec's analyzer gets the options that give the evidence the profile
    needs (:func:`~liveness_lab.evidence.analyzer_options_for`: the local analyzer's
    descriptors for ``recommended``), and its evidence counts for those frames. Returns the
    specs so completed; raises :class:`~liveness_lab.evidence.MissingEvidenceError` when a
    check could never get its evidence, and
    :class:`~liveness_lab.errors.SessionFormatError` for a session of an unknown type.
    ``load(entries)`` reads the sampled sessions (default: their JSON documents; a replay
    with a dataset cache reads them from it).
    """
    from dataclasses import replace as _replace

    from ..evidence import (analyzer_evidence, analyzer_options_for, check_evidence,
                            dataset_evidence)
    from ..sessions import load_dataset_session

    if registry is None:
        from ..challenges.registry import default_registry
        registry = default_registry()
    by_type: dict[str, list[Any]] = {}
    for entry in entries:
        key = entry.challenge_type or ""
        if len(by_type.setdefault(key, [])) < EVIDENCE_SAMPLE:
            by_type[key].append(entry)
    sample = []
    for group in by_type.values():
        sessions = load(group) if load is not None else \
            (load_dataset_session(dataset_dir, entry) for entry in group)
        for entry, session in zip(group, sessions):
            if session.challenge_type not in registry:
                try:
                    registry.get(session.challenge_type)
                except UnknownChallengeType as e:
                    raise SessionFormatError(str(e), path=str(Path(dataset_dir) / entry.path),
                                             session_id=session.id,
                                             field="challenge.type") from None
            sample.append(session)
    needs_analysis = any(fr.faces is None for s in sample for fr in s.frames)
    types = sorted({s.challenge_type for s in sample})
    out = []
    for spec in specs:
        configs = spec.resolve(registry)
        source = None
        if needs_analysis:
            from ..analysis import make_analyzer
            options = analyzer_options_for(configs, spec.analyzer, spec.analyzer_options,
                                           types, registry)
            spec = _replace(spec, analyzer_options=options or None)
            analyzer = make_analyzer(spec.analyzer, options=options, cache_path=None,
                                     pad_model=spec.pad_model)
            source = analyzer_evidence(analyzer, spec.analyzer)
            analyzer.close()
        sources = dataset_evidence(sample, name=f"dataset {Path(dataset_dir).name!r}",
                                   analyzer=source)
        check_evidence(configs, sources, sets=spec.sets, registry=registry)
        out.append(spec)
    return out
