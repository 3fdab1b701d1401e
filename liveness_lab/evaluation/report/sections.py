"""Sections of the report: dataset, iBeta-style block, error-rate tables, failure reasons,
worst sessions, configuration and definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ...errors import ConfigError
from ..aggregate import session_scores
from .document import Doc, ci, nan, num, pct, slug
from .plots import plot_trace

__all__ = ["dataset_section", "metrics_rows", "operating_rows", "reasons_rows",
           "worst_section", "config_section", "definitions", "describe_configuration"]


def dataset_section(doc: Doc, evals: Sequence[Any], *, dataset_dir: Any,
                    fingerprint: str | None, split_label: str, calibration_label: str | None
                    ) -> None:
    doc.h(2, "Dataset")
    own = [ev for ev in evals if ev.dataset_dir is not None]
    items = [f"dataset: {dataset_dir}" if dataset_dir else "dataset: not given"] if not own \
        else [f"{ev.name}: dataset {ev.dataset_dir or dataset_dir}" for ev in evals]
    items += [f"data fingerprint (SHA-256 of manifest.csv and session files): "
              f"{fingerprint or 'not computed'}",
              f"reported split: {split_label}",
              "operating-point thresholds chosen on: "
              + (f"{calibration_label} (then applied unchanged to {split_label})"
                 if calibration_label else f"{split_label} itself (optimistic: no separate "
                                           "calibration split)")]
    doc.ul(items)
    for ev in (evals if own else evals[:1]):
        _dataset_counts(doc, ev, split_label, bool(own))


def _dataset_counts(doc: Doc, ev: Any, split_label: str, named: bool) -> None:
    import pandas as pd

    res = ev.results
    rows = []
    species = res["pai_species"].fillna("").astype(str).replace("", "bona fide")
    table = pd.crosstab(species, res["challenge_type"].astype(str))
    for sp in table.index:
        rows.append([sp] + [str(int(v)) for v in table.loc[sp]])
    rows.append([("total", None)] + [str(int(v)) for v in table.sum(axis=0)])
    doc.p(f"Sessions of the reported split ({split_label}) by challenge type and presentation"
          + (f" ({ev.name}'s dataset):" if named else ":"))
    doc.table(["presentation"] + [str(c) for c in table.columns], rows)
    if "subject_id" in res:
        n_subj = res["subject_id"].replace("", float("nan")).nunique()
        doc.p(f"{len(res)} sessions, {n_subj} subjects"
              + (f"; calibration split: {len(ev.calibration)} sessions"
                 if ev.calibration is not None else "") + ".")


def metrics_rows(block: Any) -> list[list[Any]]:
    """Rows of a type's error-rate table: per species, APCER max, BPCER, ACER, non-response,
    EERs and the decision's own operating point."""
    boot = block.bootstrap
    rows: list[list[Any]] = []
    for sp, v in block.species.items():
        rows.append([f"APCER {sp}", pct(v.apcer), ci(v.ci) + " Wilson",
                     f"{v.accepted}/{v.total} attacks accepted"])
    worst = ", ".join(block.max_apcer_species) or "n/a"
    rows.append([("APCER (max over species, ISO/IEC 30107-3)", None), pct(block.max_apcer),
                 ci(block.max_apcer_ci) + " Wilson (species bounds, max)"
                 + (f"; {ci(boot.max_apcer)} bootstrap" if boot else ""),
                 f"worst: {worst}"])
    rows.append([("BPCER", None), pct(block.bpcer),
                 ci(block.bpcer_ci) + " Wilson" + (f"; {ci(boot.bpcer)} bootstrap" if boot
                                                   else ""),
                 f"{block.bpcer_rejected}/{block.n_bona_fide} bona fide rejected"])
    rows.append(["ACER (OULU-NPU convention, not ISO)", pct(block.acer),
                 ci(block.acer_ci) + " from the Wilson bounds"
                 + (f"; {ci(boot.acer)} bootstrap" if boot else ""),
                 "(APCER max + BPCER) / 2"])
    for sp, v in block.species.items():
        note = f"{v.non_responses}/{v.total} attacks without a decision"
        if v.non_responses and v.accepted == 0:
            note += " (part of this species' 0 % APCER is frames running out)"
        rows.append([f"APNRR {sp}", pct(v.apnrr), ci(v.apnrr_ci) + " Wilson", note])
    rows.append(["BPNRR", pct(block.bpnrr), ci(block.bpnrr_ci) + " Wilson",
                 f"{block.bona_fide_non_responses}/{block.n_bona_fide} bona fide without a "
                 "decision (counted as rejected in BPCER)"])
    if not nan(block.eer):
        rows.append(["EER (pooled attacks; bob.measure, scikit-learn)", pct(block.eer), "",
                     f"at score threshold {num(block.eer_threshold)}"])
        rows.append(["EER (max-over-species curve)", pct(block.eer_max_species), "",
                     "the ISO worst-species convention; >= the pooled EER"])
    if block.decision_threshold is not None and block.has_scores:
        rows.append(["decision's operating point", f"score >= {num(block.decision_threshold)}",
                     "", f"the challenge's own decisions: APCER max {pct(block.max_apcer)}, "
                         f"BPCER {pct(block.bpcer)}"])
    return rows


def operating_rows(block: Any) -> list[list[Any]]:
    rows = []
    for p in block.operating_points:
        fixed = f"{p.fixed.upper()} <= {pct(p.target, 0)}"
        rows.append([p.name, fixed, num(p.threshold), pct(p.apcer), pct(p.bpcer), pct(p.value)])
    return rows


def reasons_rows(results: Any) -> list[list[Any]]:
    df = results.copy()
    df["outcome"] = df["success"].map(lambda s: "accepted" if s else "rejected")
    if "decided" in df:
        df.loc[~df["decided"].astype(bool), "outcome"] = "no decision"
    g = df.groupby(["code", "outcome", "label"]).size().unstack("label", fill_value=0)
    for col in ("bona_fide", "attack"):
        if col not in g:
            g[col] = 0
    g["total"] = g["bona_fide"] + g["attack"]
    g = g.sort_values("total", ascending=False)
    example = df.groupby("code")["reason"].first()
    rows = []
    for (code, outcome), r in g.iterrows():
        cls = "notmet" if (outcome == "accepted" and r["attack"]) else None
        rows.append([(code, cls), outcome, str(int(r["bona_fide"])), str(int(r["attack"])),
                     str(example.get(code, ""))[:90]])
    return rows


def _worst_sessions(results: Any, n: int) -> list[tuple[str, Any]]:
    """Accepted attacks (highest score first) and rejected bona fide (lowest first)."""
    import numpy as np
    if n <= 0 or not len(results):
        return []
    scores = session_scores(results)
    df = results.assign(_s=scores)
    acc_att = df[(df["label"] == "attack") & df["success"].astype(bool)]
    acc_att = acc_att.assign(_k=-acc_att["_s"].fillna(np.inf)).sort_values(["_k", "session_id"])
    rej_bf = df[(df["label"] == "bona_fide") & ~df["success"].astype(bool)]
    rej_bf = rej_bf.assign(_k=rej_bf["_s"].fillna(-np.inf)).sort_values(["_k", "session_id"])
    half = max(1, n // 2)
    a, b = acc_att.head(half), rej_bf.head(half)
    if len(a) < half:
        b = rej_bf.head(n - len(a))
    elif len(b) < half:
        a = acc_att.head(n - len(b))
    return [("accepted attack", r) for _, r in a.iterrows()] + \
        [("rejected bona fide", r) for _, r in b.iterrows()]


def worst_section(doc: Doc, ev: Any, ev_index: int, ctype: str, out: Path,
                   dataset_dir: Any, n_worst: int, images: list[Path]) -> None:
    part = ev.results[ev.results["challenge_type"].astype(str) == ctype]
    worst = _worst_sessions(part, n_worst)
    doc.h(3, f"{ev.name} - {ctype}")
    if not worst:
        doc.p("No attack was accepted and no bona fide presentation was rejected.")
        return
    doc.p("Accepted attacks with the highest scores and rejected bona fide presentations with "
          "the lowest (sessions without a score first), replayed with this configuration "
          "to plot their traces.", "note")
    doc.table(["kind", "session", "type", "species", "subject", "code", "score", "reason"],
              [[kind, r["session_id"], r["challenge_type"], r["pai_species"] or "-",
                r.get("subject_id", "") or "-", r["code"], num(r.get("score")),
                str(r["reason"])[:100]] for kind, r in worst])
    if dataset_dir is None:
        doc.p("Traces not plotted: the report was built without the dataset directory.", "note")
        return
    from ...sessions import read_manifest
    entries = {e.session_id: e for e in read_manifest(dataset_dir)}
    try:
        configs = ev.configs()
    except ConfigError as e:
        doc.p(f"Traces not plotted: the configuration cannot be resolved here ({e}).", "note")
        return
    for kind, r in worst:
        entry = entries.get(str(r["session_id"]))
        if entry is None:
            doc.p(f"{r['session_id']}: not in the dataset's manifest; trace not plotted.", "note")
            continue
        try:
            verdict, session = _reverify(dataset_dir, entry, configs, ev.analyzer)
        except ConfigError as e:
            doc.p(f"{r['session_id']}: trace not plotted ({e}).", "note")
            continue
        name = f"trace-{ev_index}-{slug(str(r['session_id']))}.png"
        plot_trace(verdict, session, out / name,
                   title=f"{ev.name} | {kind}: {session.id} ({session.pai_species or 'bona fide'})"
                         f" - {verdict.code}")
        images.append(out / name)
        doc.img(name, f"{kind} {session.id}: {verdict.reason}")


def _reverify(dataset_dir: Any, entry: Any, configs: Any, analyzer: str | None
              ) -> tuple[Any, Any]:
    from ...sessions import load_dataset_session
    from ...verify import verify_session
    session = load_dataset_session(dataset_dir, entry)
    if any(fr.faces is None for fr in session.frames):
        from ..replay import ReplaySpec, _worker_analyzed
        if analyzer is None:
            raise ConfigError("the analyzer that produced the results is unknown; frames "
                              "without recorded faces cannot be re-analysed")
        session = _worker_analyzed(session, ReplaySpec(analyzer=analyzer))
    return verify_session(session, configs=configs), session


def config_section(doc: Doc, evals: Sequence[Any], *, code_version: str | None,
                    fingerprint: str | None, extra: Mapping[str, Any]) -> None:
    doc.h(2, "Exact configuration")
    doc.ul([f"code version: {code_version or 'unknown'}",
            f"data fingerprint: {fingerprint or 'not computed'}"]
           + [f"{k}: {v}" for k, v in extra.items()])
    flats = []
    for ev in evals:
        try:
            flats.append(ev.configs().flat())
        except ConfigError as e:  # e.g. a profile that is not registered here: say so
            flats.append({"(configuration)": f"cannot be resolved here: {e}"})
    for ev in evals:
        doc.p(f"{ev.name}: " + describe_configuration(ev))
    keys = sorted(set().union(*[f.keys() for f in flats]))
    doc.table(["key"] + [ev.name for ev in evals],
              [[k] + [num(f.get(k)) if not isinstance(f.get(k), str) else f.get(k)
                      for f in flats] for k in keys])


def describe_configuration(ev: Any) -> str:
    """``profile: P; analyzer: A; --set ...`` - "unknown" where the results do not say."""
    desc = [f"profile: {ev.profile or 'unknown (the results do not record it)'}",
            f"analyzer: {ev.analyzer or 'unknown (the results do not record it)'}"]
    if ev.sets:
        desc.append("--set " + " --set ".join(ev.sets))
    if ev.overrides:
        desc.append("overrides: " + ", ".join(f"{t}.{k}={v}" for t, kv in ev.overrides.items()
                                              for k, v in kv.items()))
    return "; ".join(desc)


def definitions(doc: Doc, confidence: float, n_bootstrap: int) -> None:
    c = f"{100 * confidence:g} %"
    doc.h(2, "Definitions")
    doc.ul([
        "APCER (per PAI species): proportion of that species' attack presentations accepted. "
        "The overall APCER is the maximum over species (ISO/IEC 30107-3).",
        "BPCER: proportion of bona fide presentations rejected.",
        "ACER: (APCER max + BPCER) / 2, the OULU-NPU benchmark's convention; ISO/IEC 30107-3 "
        "does not define it.",
        "Non-response (ISO/IEC 30107-3): a session whose frames ran out before the challenge "
        "decided. APNRR (per species) and BPNRR are the proportions of attack / bona fide "
        "presentations without a response; such sessions also count as rejected in APCER and "
        "BPCER (as the original framework answered false).",
        f"Intervals: {c} Wilson score intervals for single proportions (informative at zero "
        "errors); the APCER max takes the largest per-species Wilson bounds, the ACER the "
        "mean of the APCER max and BPCER bounds. "
        + (f"Beside them, a percentile bootstrap ({n_bootstrap} resamples) that resamples "
           "subjects with all their sessions (a session without a subject id is its own "
           "group); it collapses to [0, 0] at zero errors, so headlines never use it."
           if n_bootstrap else "No bootstrap was run."),
        "EER: the pooled-attack equal error rate (all species' scores together, as "
        "bob.measure and scikit-learn compute it); the max-over-species EER is shown beside "
        "it.",
        "Scores: higher = more live; a presentation is accepted when score >= threshold. A "
        "session without a score is rejected at every threshold unless the challenge accepted "
        "it, in which case it is accepted at every threshold. With several species the APCER "
        "at a threshold is the maximum over species.",
        "Operating points: BPCER100 / BPCER20 / BPCER10 = BPCER at APCER <= 1 % / 5 % / 10 %; "
        "the threshold is the smallest meeting the APCER target on the calibration split; "
        "APCER@BPCERx uses the largest threshold meeting the BPCER target; both are applied "
        "unchanged to the reported split.",
        "DET curve: BPCER against APCER at every threshold, normal-deviate axes; reachable "
        "points joined by straight segments.",
        "Scores agree with decisions: a rejected session scores strictly below the type's "
        "decision threshold (its operating point), an accepted one at least at it.",
    ])


