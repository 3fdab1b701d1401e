"""Flat views of :class:`~liveness_lab.evaluation.aggregate.Metrics`: ``{name: number}`` for
trackers and tables, and the terminal summary shape of
:func:`liveness_lab.evaluation.replay.summarize`. Re-exported by
:mod:`liveness_lab.evaluation.aggregate`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .aggregate import Metrics, MetricsBlock

__all__ = ["flatten_metrics", "as_summary"]

def _key(text: str) -> str:
    """A metric-name-safe version of ``text`` (letters, digits, ``_ - .``)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in str(text))


def flatten_metrics(metrics: Metrics, prefix: str = "") -> dict[str, float]:
    """Flat ``{name: value}`` of :func:`compute_metrics`'s output, for trackers and tables.

    Names: ``max_apcer``, ``bpcer``, ``acer``, ``non_response_rate``, ``bpnrr``, ``eer``
    (pooled), ``eer_max_species``, ``apcer.SPECIES`` with ``.accepted``, ``.total``,
    ``.ci_low``, ``.ci_high`` and ``apnrr.SPECIES``, operating points (``bpcer20``,
    ``apcer_at_bpcer5pct``, ...) with their ``threshold.<point>``, ``*_ci_low`` /
    ``*_ci_high`` (Wilson) and ``*_boot_low`` / ``*_boot_high`` (bootstrap), for the
    overall block, then ``TYPE.<name>`` per challenge type; each prefixed with ``prefix``
    (e.g. ``"dev."``). ``nan`` values are dropped.
    """
    out: dict[str, float] = {}

    def block(b: MetricsBlock, pre: str) -> None:
        vals: dict[str, float] = {
            "n_sessions": b.n_sessions, "n_bona_fide": b.n_bona_fide, "n_attack": b.n_attack,
            "n_subjects": b.n_subjects, "max_apcer": b.max_apcer, "bpcer": b.bpcer,
            "acer": b.acer, "non_response_rate": b.non_response_rate, "bpnrr": b.bpnrr,
            "eer": b.eer, "eer_max_species": b.eer_max_species,
            "bpcer_ci_low": b.bpcer_ci[0], "bpcer_ci_high": b.bpcer_ci[1],
            "max_apcer_ci_low": b.max_apcer_ci[0], "max_apcer_ci_high": b.max_apcer_ci[1]}
        for sp, v in b.species.items():
            k = _key(sp)
            vals[f"apcer.{k}"] = v.apcer
            vals[f"apcer.{k}.accepted"], vals[f"apcer.{k}.total"] = v.accepted, v.total
            vals[f"apcer.{k}.ci_low"], vals[f"apcer.{k}.ci_high"] = v.ci
            vals[f"apnrr.{k}"] = v.apnrr
        if b.bootstrap is not None:
            for name in ("max_apcer", "bpcer", "acer"):
                vals[f"{name}_boot_low"], vals[f"{name}_boot_high"] = getattr(b.bootstrap,
                                                                              name)
        for p in b.operating_points:
            vals[p.metric_key] = p.value
            vals[f"threshold.{p.metric_key}"] = p.threshold
        for k, v in vals.items():
            if v is not None and math.isfinite(float(v)):
                out[f"{prefix}{pre}{k}"] = float(v)

    block(metrics.overall, "")
    for t, b in metrics.by_type.items():
        block(b, f"{_key(t)}.")
    return out


def as_summary(metrics: Metrics) -> dict[str, Any]:
    """:func:`compute_metrics` output in the shape of
    :func:`liveness_lab.evaluation.replay.summarize`, e.g. to print it with
    :func:`~liveness_lab.evaluation.replay.format_summary`."""
    def block(b: MetricsBlock) -> dict[str, Any]:
        return {"n_sessions": b.n_sessions, "n_bona_fide": b.n_bona_fide,
                "n_attack": b.n_attack, "bpcer": b.bpcer,
                "bpcer_counts": (b.bpcer_rejected, b.n_bona_fide),
                "apcer": {sp: v.apcer for sp, v in b.species.items()},
                "apcer_counts": {sp: (v.accepted, v.total) for sp, v in b.species.items()},
                "max_apcer": b.max_apcer, "acer": b.acer,
                "non_response_rate": b.non_response_rate}
    from .replay import _worst_type
    by_type = {t: block(b) for t, b in metrics.by_type.items()}
    return {"overall": block(metrics.overall) if len(by_type) < 2 else _worst_type(by_type),
            "by_type": by_type}
