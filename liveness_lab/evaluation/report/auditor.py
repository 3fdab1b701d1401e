"""Report sections for an auditor: iBeta-style criteria that say what the sample supports,
the attempt plan, PAI species and capture protocol, and dev beside test.

A criterion is **met** only when the exact binomial bound supports it at the stated
confidence (:mod:`liveness_lab.evaluation.planning`); when the observed rate is within the
limit but the sample is too small the report says how many presentations would show it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..planning import ATTEMPT_PLANS, AttemptPlan, claim_supported, presentations_needed
from ..species import PaiSpecies, describe_species
from .document import Doc, ci, num, pct

__all__ = ["IBETA_BPCER_TARGET", "criterion_status", "ibeta_section", "attempt_plan_section",
           "protocol_section", "side_by_side_section", "headline_verdict"]

#: iBeta-style bona fide criterion: BPCER at most 15 %.
IBETA_BPCER_TARGET = 0.15


def criterion_status(errors: int, n: int, limit: float, confidence: float
                     ) -> tuple[str, str]:
    """``(text, css class)`` for the claim "rate < limit": met, not met, or not shown."""
    if n == 0:
        return ("n/a: no presentation", "na")
    if claim_supported(errors, n, limit, confidence=confidence):
        return (f"met (rate < {pct(limit, 0)} at {100 * confidence:g} %)", "met")
    if errors / n >= limit:
        return ("not met", "notmet")
    need = presentations_needed(limit, confidence=confidence, allowed_errors=errors)
    return (f"not shown: {need} presentations would show it with {errors} error"
            f"{'' if errors == 1 else 's'} (have {n})", "na")


def _block_statuses(block: Any, plan: AttemptPlan) -> list[tuple[str, str]]:
    out = [criterion_status(v.accepted, v.total, plan.apcer_limit, plan.confidence)
           for v in block.species.values()]
    out.append(criterion_status(block.bpcer_rejected, block.n_bona_fide, IBETA_BPCER_TARGET,
                                plan.confidence))
    return out


def headline_verdict(block: Any, plan: AttemptPlan = ATTEMPT_PLANS[0]) -> tuple[str, str]:
    """One cell for the summary: every criterion met / some not met / not shown."""
    statuses = [cls for _, cls in _block_statuses(block, plan)]
    if statuses and all(c == "met" for c in statuses):
        return (f"{plan.name}: met", "met")
    if "notmet" in statuses:
        return (f"{plan.name}: not met", "notmet")
    return (f"{plan.name}: not shown on this sample", "na")


def ibeta_section(doc: Doc, evals: Sequence[Any], metrics: Sequence[Any],
                  plans: Sequence[AttemptPlan] = ATTEMPT_PLANS) -> None:
    doc.h(2, "iBeta-style summary")
    doc.p("iBeta's own pass rule is that no attack is accepted (APCER target 0 %) on its "
          "fixed protocol; a 0 % observed here only shows the APCER is below a limit the "
          "number of presentations sets. So the criteria in the style of iBeta's ISO/IEC "
          "30107-3 presentation attack detection tests are stated as claims a sample can "
          "support: the APCER of every species is below "
          "the plan's limit, and the BPCER below 15 %, each at the plan's confidence (exact "
          "one-sided binomial bound). 'met' means this sample shows the claim; 'not shown' "
          "means the observed rate is within the limit but too few presentations were made, "
          "and says how many would do. A reading aid on this dataset, not a certification: "
          "a lab's protocol fixes its own species, instruments, limits and counts.", "note")
    for ev, m in zip(evals, metrics):
        for ctype, block in m.by_type.items():
            for plan in plans:
                rows = []
                statuses = _block_statuses(block, plan)
                for (sp, v), st in zip(block.species.items(), statuses):
                    rows.append([f"APCER {sp}", str(v.total), f"{v.accepted} accepted",
                                 f"{pct(v.apcer)} {ci(v.ci)}",
                                 f"< {pct(plan.apcer_limit, 0)}", st])
                rows.append(["BPCER", str(block.n_bona_fide), f"{block.bpcer_rejected} rejected",
                             f"{pct(block.bpcer)} {ci(block.bpcer_ci)}",
                             f"< {pct(IBETA_BPCER_TARGET, 0)}", statuses[-1]])
                verdict = headline_verdict(block, plan)[0]
                doc.h(3, f"{ev.name} - {ctype} - {verdict}")
                doc.table(["criterion", "presentations", "errors", "rate (Wilson interval)",
                           "claim", "status"], rows)


def attempt_plan_section(doc: Doc, evals: Sequence[Any], metrics: Sequence[Any],
                         plans: Sequence[AttemptPlan] = ATTEMPT_PLANS) -> None:
    doc.h(2, "Attempt plan")
    doc.p("Presentations per species a test needs so that its result shows 'APCER below the "
          "limit' at the stated confidence, from the exact binomial: the smallest n with "
          "P(X <= k | n, limit) <= 1 - confidence, X ~ Binomial(n, limit), for k accepted "
          "attacks. The levels are this project's iBeta-style assumptions (limits and "
          "confidence stated here), not iBeta's protocol.", "note")
    rows = []
    for plan in plans:
        rows.append([plan.name, plan.description, f"< {pct(plan.apcer_limit, 0)}",
                     f"{100 * plan.confidence:g} %"] + [str(plan.needed(k)) for k in (0, 1, 2)])
    conf = plans[0].confidence if plans else 0.95
    rows.append(["bona fide", f"BPCER criterion, {100 * conf:g} % confidence",
                 f"< {pct(IBETA_BPCER_TARGET, 0)}", f"{100 * conf:g} %"]
                + [str(presentations_needed(IBETA_BPCER_TARGET, confidence=conf,
                                            allowed_errors=k)) for k in (0, 1, 2)])
    doc.table(["plan", "attacks", "limit", "confidence", "n with 0 errors", "n with 1",
               "n with 2"], rows)
    for ev, m in zip(evals, metrics):
        for ctype, block in m.by_type.items():
            rows = []
            for sp, v in block.species.items():
                rows.append([sp, str(v.total), str(v.accepted)]
                            + [("enough" if plan.supported(v.accepted, v.total) else
                                f"{max(0, plan.needed(v.accepted) - v.total)} more", None)
                               for plan in plans])
            if rows:
                doc.p(f"{ev.name} - {ctype}: presentations made and what each plan still "
                      "needs (at the accepted count observed)")
                doc.table(["species", "presentations", "accepted"]
                          + [p.name for p in plans], rows)


def _frame_rate(session: Any) -> float | None:
    ts = sorted(fr.timestamp for fr in session.frames)
    if len(ts) < 2 or ts[-1] == ts[0]:
        return None
    return (len(ts) - 1) * 1000.0 / (ts[-1] - ts[0])


def _capture_protocol(dataset_dir: Any, results: Any) -> list[str]:
    """Device, frame rate, environment and attempts, read from the sessions reported."""
    import numpy as np

    from ...sessions import load_dataset_session, read_manifest
    wanted = set(results["session_id"].astype(str))
    entries = [e for e in read_manifest(dataset_dir) if e.session_id in wanted]
    fps, simulators, devices, envs, clients, fov = [], set(), set(), set(), set(), []
    for e in entries:
        s = load_dataset_session(dataset_dir, e)
        r = _frame_rate(s)
        if r is not None:
            fps.append(r)
        md = s.metadata or {}
        if md.get("simulator"):
            simulators.add(str(md["simulator"]))
        for key, bag in (("device", devices), ("environment", envs), ("client", clients)):
            if md.get(key):
                bag.add(str(md[key]))
        if isinstance(md.get("hfov_deg"), (int, float)):
            fov.append(float(md["hfov_deg"]))
    lines = []
    if simulators:
        lines.append(f"capture: simulated ({', '.join(sorted(simulators))}); no camera, no "
                     "images - the numbers rank configurations, they certify nothing")
    dev = ", ".join(sorted(devices)) or ("simulated camera" if simulators else "not recorded")
    if fov:
        dev += f", horizontal field of view {min(fov):.0f}-{max(fov):.0f} degrees"
    lines.append(f"device: {dev}")
    if fps:
        lines.append(f"frame rate (from frame timestamps): median {np.median(fps):.1f} fps, "
                     f"{min(fps):.1f}-{max(fps):.1f}")
    lines.append("environment: " + (", ".join(sorted(envs)) or "not recorded"))
    if clients:
        lines.append("client: " + ", ".join(sorted(clients)))
    per = results.groupby([results["subject_id"].astype(str), "challenge_type",
                           results["pai_species"].fillna("").astype(str)]).size() \
        if "subject_id" in results else None
    if per is not None and len(per):
        lines.append(f"attempts: one session per attempt; {int(per.min())}-{int(per.max())} "
                     "attempts per subject, type and presentation class")
    return lines


def protocol_section(doc: Doc, evals: Sequence[Any], metrics: Sequence[Any], *,
                     dataset_dir: Any, species: Mapping[str, PaiSpecies] | None = None
                     ) -> None:
    doc.h(2, "PAI species and capture protocol")
    m = metrics[0]
    rows = []
    for ctype, block in m.by_type.items():
        for sp, v in block.species.items():
            d = describe_species(sp, species)
            rows.append([ctype, sp, d.instrument, d.how_made, d.attack_potential, str(v.total),
                         v.subjects.describe()])
        rows.append([ctype, ("bona fide", None), "live person", "-", "-",
                     str(block.n_bona_fide), block.bona_fide_subjects.describe()])
    doc.table(["type", "species", "instrument", "how made", "attack potential",
               "presentations", "subjects (presentations per subject)"], rows)
    if dataset_dir is None:
        doc.p("Capture protocol not described: the report was built without the dataset "
              "directory.", "note")
        return
    doc.ul(_capture_protocol(dataset_dir, evals[0].results))


def side_by_side_section(doc: Doc, ev: Any, reported: Any, calibration: Any, *,
                         split_label: str, calibration_label: str) -> None:
    """Dev and test columns per challenge type (decisions, non-response, EER)."""
    doc.h(3, f"{ev.name}: {calibration_label} and {split_label} side by side")
    for ctype, tb in reported.by_type.items():
        db = calibration.by_type.get(ctype)
        rows = []
        for sp in sorted(set(tb.species) | set(db.species if db else ())):
            cells = []
            for b in (db, tb):
                v = b.species.get(sp) if b is not None else None
                cells.append("-" if v is None else f"{pct(v.apcer)} ({v.accepted}/{v.total})")
            rows.append([f"APCER {sp}"] + cells)
        for label, get in (
                ("APCER max", lambda b: pct(b.max_apcer)),
                ("BPCER", lambda b: f"{pct(b.bpcer)} ({b.bpcer_rejected}/{b.n_bona_fide})"),
                ("BPNRR", lambda b: f"{pct(b.bpnrr)} ({b.bona_fide_non_responses}/"
                                    f"{b.n_bona_fide})"),
                ("EER (pooled attacks)", lambda b: pct(b.eer)),
                ("decision's operating point (score threshold)",
                 lambda b: num(b.decision_threshold) if b.decision_threshold is not None
                 else "unknown")):
            rows.append([label] + ["-" if b is None else get(b) for b in (db, tb)])
        doc.p(f"{ctype}:")
        doc.table(["metric", calibration_label, split_label], rows)
