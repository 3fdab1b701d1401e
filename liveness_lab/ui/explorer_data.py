"""Data behind the Session explorer: datasets, thresholds by state, re-runs of one or all sessions.

* :func:`find_datasets` - dataset folders under a directory;
* :func:`threshold_groups` - a type's thresholds grouped and ordered by state,
  each with its input kind (number, integer, toggle, choice);
* :func:`config_overrides` / :func:`verify_with` - what the user changed, and a
  session re-verified with it;
* :func:`load_sessions` / :func:`rerun_sessions` - every session of a dataset
  re-verified under edited thresholds, with a progress callback, against the
  unedited profile, flagging the misclassified ones (:func:`misclassified`).

No Streamlit here (the page caches what these return).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["find_datasets", "config_overrides", "verify_with", "Threshold", "ThresholdGroup",
           "threshold_groups", "CHOICES", "load_sessions", "rerun_sessions", "misclassified",
           "RERUN_COLUMNS", "rerun_summary"]


def find_datasets(root: str | Path, *, max_depth: int = 3, limit: int = 100) -> list[Path]:
    """Dataset folders (holding ``manifest.csv``) under ``root``, at most ``max_depth`` deep."""
    base = Path(root)
    if not base.is_dir():
        return []
    out: list[Path] = []
    stack = [(base, 0)]
    while stack and len(out) < limit:
        folder, depth = stack.pop()
        if (folder / "manifest.csv").is_file():
            out.append(folder)
            continue
        if depth >= max_depth:
            continue
        try:
            children = sorted((p for p in folder.iterdir() if p.is_dir()
                               and not p.name.startswith(".")), reverse=True)
        except OSError:
            continue
        stack.extend((c, depth + 1) for c in children)
    return sorted(out)


def config_overrides(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The keys whose value differs from ``defaults`` (what the user changed).

    >>> config_overrides({"a": 1.0, "b": 2}, {"a": 1.0, "b": 3})
    {'b': 3}
    """
    return {k: v for k, v in values.items() if k in defaults and defaults[k] != v}


def verify_with(session: Any, profile: str, overrides: Mapping[str, Mapping[str, Any]]) -> Any:
    """:func:`~liveness_lab.verify.verify_session` under ``profile`` plus ``overrides``."""
    from ..config import resolve_configs
    from ..verify import verify_session

    return verify_session(session, configs=resolve_configs(profile, overrides=overrides))


# -- thresholds, grouped by state ----------------------------------------------------------------

#: Allowed values of string thresholds (shown as a choice, not free text).
CHOICES: dict[str, tuple[str, ...]] = {"multiple_faces": ("first", "fail")}

#: Groups of each type's thresholds, in state order: (title, key prefixes or names).
_GROUPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "NOSE": (("1. Face found", ("multiple_faces",)),
             ("2. Face in the box", ("area_box_", "min_face_area_percent",
                                     "area_follows_nose")),
             ("3. Nose on the target", ("nose_box_", "trajectory_error_threshold",
                                        "trajectory_after_pause", "pause_ms", "pause_speed",
                                        "three_point_fit")),
             ("3. Decision at the target", ("histogram_", "min_dist", "rotation_threshold",
                                              "parallax_check", "min_parallax",
                                              "parallax_noise_z", "parallax_still_fraction",
                                              "parallax_min_rotation")),
             ("4. Targets in sequence (clients that show several)",
              ("nose_targets", "sequence_", "hold_ms"))),
    "POSE": (("1. The face", ("min_face_confidence", "max_rotation", "continuity_check",
                              "max_face_gap_ms")),
             ("2. Neutral face first", ("require_transition", "neutral_frames",
                                        "exclude_neutral_pose")),
             ("3. The pose", ("eye_direction_area_multiplier", "gaze_must_match",
                              "smile_needs_open_mouth", "frames_required", "gaze_baseline",
                              "min_gaze_shift", "open_max_shift", "gaze_window_ms", "neutral_gaze_window",
                              "glitch_ms", "hold_ms", "rest_rotation", "rest_max_rotation",
                              "glitch_attributes", "return_frames", "max_counter_turn",
                              "gaze_hold_shift", "return_gaze_shift")),
             ("4. Changes of pose (photo swaps)", ("change_", "max_gapped_changes"))),
    "BLINK": (("1. Number of blinks", ("min_blinks", "max_blinks", "window_")),
              ("2. Open eyes measured", ("baseline_frames", "baseline_window",
                                         "min_baseline_ear", "max_rotation", "min_fps",
                                         "fps_")),
              ("3. Blinks", ("close_ratio", "open_ratio", "max_closed_s", "adaptive_closure",
                             "partial_close_ratio", "close_sigmas", "min_spread_ratio",
                             "eyes_closed_confidence", "open_veto_confidence", "deep_ratio",
                             "closure_max_turn", "blink_merge_ms")),
              ("4. Blinks on the cues", ("cue_timing", "first_cue_", "cue_gap_", "reaction_",
                                         "max_uncued_blinks", "max_reaction_spread_ms", "max_missed_cues",
                                         "uncued_per_s")),
              ("5. The slight turn (a 3D face)", ("parallax_check", "turn_min_yaw",
                                                  "min_parallax", "parallax_frames",
                                                  "parallax_turn_share"))),
    "HEAD_TURN": (("1. Number of turns", ("min_turns", "max_turns")),
                  ("2. Facing the camera", ("centre_", "rest_", "steady_tolerance",
                                            "settle_ms", "turn_aware_rest")),
                  ("3. Turns", ("turn_min_", "wrong_margin", "hold_frames", "parallax_check",
                                "min_parallax", "late_return", "hold_ratio"))),
}
_EVERY_STATE = ("Every step", ("state_timeout_s", "max_missing_faces", "max_missing_ms"))
_SESSION = ("Session checks (identity, face track, photo or screen)",
            ("identity_", "geometry_", "pad_", "continuity_check", "max_face_gap_ms",
             "one_face_to_the_end",
             "track_roll_deg"))


@dataclass(frozen=True)
class Threshold:
    """One threshold of a challenge type: its name, input kind, value and help.

    ``kind`` is ``float``, ``int``, ``bool``, ``choice`` (with ``choices``),
    ``text`` or ``optional`` (a value that may be empty).
    """

    name: str
    kind: str
    default: Any
    help: str = ""
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "bool", "choice", "text", "optional"):
            raise ValueError(f"unknown threshold kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"threshold {self.name!r}: a choice needs its choices")


@dataclass(frozen=True)
class ThresholdGroup:
    """Thresholds of one step of a challenge, in declaration order."""

    title: str
    thresholds: tuple[Threshold, ...] = field(default_factory=tuple)


def _kind(name: str, value: Any, declared: str) -> tuple[str, tuple[str, ...]]:
    if name in CHOICES:
        return "choice", CHOICES[name]
    if declared.endswith("| None"):
        return "optional", ()
    if isinstance(value, bool):
        return "bool", ()
    if isinstance(value, int):
        return "int", ()
    if isinstance(value, float):
        return "float", ()
    return "text", ()


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(name.startswith(p) for p in patterns)


def threshold_groups(ctype: Any, values: Mapping[str, Any]) -> list[ThresholdGroup]:
    """``ctype``'s thresholds (with ``values`` as their current values) grouped by step.

    Steps follow the challenge's states; thresholds of every step come first, the
    session-level checks (identity, PAD) last; a key no group claims goes to "Other".
    Every key of the type's configuration appears exactly once.

    >>> from liveness_lab.challenges import default_registry
    >>> from liveness_lab.config import resolve_configs
    >>> nose = default_registry().get("NOSE")
    >>> groups = threshold_groups(nose, resolve_configs("seed").for_type(nose).to_dict())
    >>> [g.title for g in groups][:3]
    ['Every step', '1. Face found', '2. Face in the box']
    >>> [t.kind for g in groups for t in g.thresholds if t.name == "multiple_faces"]
    ['choice']
    """
    keys = ctype.config_class.keys()

    def make(k: Mapping[str, Any]) -> Threshold:
        value = values.get(k["name"], k["default"])
        kind, choices = _kind(k["name"], value, k["type"])
        return Threshold(k["name"], kind, value, k["help"], choices)

    specs = (_EVERY_STATE, *_GROUPS.get(str(ctype.name).upper(), ()), _SESSION)
    taken: set[str] = set()
    groups = []
    for title, patterns in specs:
        members = [k for k in keys if k["name"] not in taken and _matches(k["name"], patterns)]
        taken.update(k["name"] for k in members)
        if members:
            groups.append(ThresholdGroup(title, tuple(make(k) for k in members)))
    rest = [k for k in keys if k["name"] not in taken]
    if rest:
        groups.append(ThresholdGroup("Other", tuple(make(k) for k in rest)))
    return groups


# -- the whole dataset ---------------------------------------------------------------------------

#: Columns of :func:`rerun_sessions`.
RERUN_COLUMNS = ("session_id", "label", "pai_species", "challenge_type", "expected",
                 "baseline_success", "baseline_code", "success", "code", "decided", "score",
                 "changed", "misclassified")


def load_sessions(dataset_dir: str | Path, *, challenge_type: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """Every session of a dataset (manifest order), optionally of one challenge type only.

    Raises
    ------
    SessionFormatError
        The manifest or a session file is malformed (the message names it).
    """
    from ..sessions import load_dataset_session, read_manifest

    entries = read_manifest(dataset_dir)
    if challenge_type is not None:
        entries = [e for e in entries if e.challenge_type.upper() == challenge_type.upper()]
    out = []
    for i, entry in enumerate(entries, start=1):
        out.append(load_dataset_session(dataset_dir, entry))
        if progress is not None and (i % 50 == 0 or i == len(entries)):
            progress(i, len(entries))
    return out


def rerun_sessions(sessions: Sequence[Any], *, profile: str,
                   overrides: Mapping[str, Mapping[str, Any]] | None = None,
                   baseline: "pd.DataFrame | None" = None,
                   progress: Callable[[int, int], None] | None = None,
                   every: int = 25) -> "pd.DataFrame":
    """Re-verify every session under ``profile`` plus ``overrides``; one row per session.

    Parameters
    ----------
    sessions:
        Sessions whose frames carry their faces (:func:`load_sessions`).
    baseline:
        A previous result under the unedited profile (the same sessions); without
        it the sessions are verified under the profile alone as well.
    progress:
        Called ``(done, total)`` every ``every`` sessions and at the end.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RERUN_COLUMNS`. ``expected`` is whether the session should
        pass (bona fide); ``misclassified`` when the edited verdict differs from it;
        ``changed`` when the edit changed the decision against ``baseline``.
        Sessions without recorded faces are left out (analyze the dataset first).
    """
    import pandas as pd

    from ..config import resolve_configs
    from ..errors import SessionFormatError, UnknownChallengeType
    from ..verify import verify_session

    edited = resolve_configs(profile, overrides=overrides or {})
    plain = resolve_configs(profile) if baseline is None else None
    base_by_id = {} if baseline is None else {
        r["session_id"]: (r["success"], r["code"]) for r in
        baseline[["session_id", "success", "code"]].to_dict("records")}
    rows = []
    total = len(sessions)
    for i, s in enumerate(sessions, start=1):
        try:
            v = verify_session(s, configs=edited)
            if plain is not None:
                b = verify_session(s, configs=plain)
                base = (b.success, b.code)
            else:
                base = base_by_id.get(s.id, (v.success, v.code))
        except (SessionFormatError, UnknownChallengeType):
            continue  # not analyzed, or a type this installation lacks
        expected = s.label == "bona_fide"
        rows.append({"session_id": s.id, "label": s.label, "pai_species": s.pai_species or "",
                     "challenge_type": s.challenge_type, "expected": expected,
                     "baseline_success": base[0], "baseline_code": base[1],
                     "success": v.success, "code": v.code, "decided": v.decided,
                     "score": v.score, "changed": (v.success, v.code) != base,
                     "misclassified": v.success != expected})
        if progress is not None and (i % every == 0 or i == total):
            progress(i, total)
    return pd.DataFrame(rows, columns=list(RERUN_COLUMNS))


def misclassified(table: "pd.DataFrame") -> "pd.DataFrame":
    """The rows of :func:`rerun_sessions` whose verdict contradicts the label."""
    return table[table["misclassified"].astype(bool)] if len(table) else table


def rerun_summary(table: "pd.DataFrame") -> dict[str, Any]:
    """Counts of a re-run: sessions, attacks accepted, bona fide rejected, changed decisions.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"expected": [True, False, False], "success": [False, True, False],
    ...                   "baseline_success": [True, True, False],
    ...                   "changed": [True, False, False], "misclassified": [True, True, False]})
    >>> rerun_summary(t)["bona_fide_rejected"], rerun_summary(t)["attacks_accepted"]
    (1, 1)
    """
    if not len(table):
        return {"sessions": 0, "attacks_accepted": 0, "bona_fide_rejected": 0, "changed": 0,
                "misclassified": 0, "baseline_misclassified": 0}
    exp = table["expected"].astype(bool)
    ok = table["success"].astype(bool)
    base = table["baseline_success"].astype(bool)
    return {"sessions": int(len(table)),
            "attacks_accepted": int((~exp & ok).sum()),
            "bona_fide_rejected": int((exp & ~ok).sum()),
            "changed": int(table["changed"].astype(bool).sum()),
            "misclassified": int(table["misclassified"].astype(bool).sum()),
            "baseline_misclassified": int((base != exp).sum())}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), seconds)`` - for the page's "re-run in N s" note and the bench."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
