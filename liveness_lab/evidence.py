"""What evidence a check needs, what an analyzer provides, and the check that both agree.

Every face detection carries **evidence**: face geometry (box, landmarks, pose), eye/mouth
attributes, and optionally a descriptor, a similarity to a reference or a PAD score. A
challenge check that needs evidence which can never arrive would reject every person
silently (``identity.missing``, ``pad.missing_score``). So:

* each challenge config declares the evidence its enabled checks need
  (:meth:`liveness_lab.challenges.framework.ChallengeConfig.evidence_needs`, a tuple of
  :class:`Need`);
* each analyzer (and stage wrapped around one, such as the PAD stage or the service's
  CompareFaces pass) declares what it provides, as the class attribute ``provides`` (an
  instance may widen it by its options) and how to get more (``can_provide``: evidence ->
  the analyzer options that turn it on); :func:`analyzer_options_for` turns on what a
  profile needs, so ``recommended`` works with the local analyzer without hidden settings;
* a recorded dataset provides what its faces carry (:func:`dataset_evidence`);
* :func:`check_evidence` compares both **before** any replay or service start and raises
  :class:`MissingEvidenceError` naming the check, the missing evidence and the fixes: the
  profiles that would work, the analyzer option, or the ``--set`` that turns the check off.

::

    from liveness_lab.evidence import check_evidence, analyzer_evidence
    check_evidence(resolve_configs("recommended"), analyzer_evidence(analyzer))
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .errors import LivenessLabError

if TYPE_CHECKING:  # pragma: no cover
    from .config import Configs
    from .faces import FaceDetail
    from .sessions import Session

__all__ = ["Evidence", "Need", "EvidenceSource", "MissingEvidenceError", "face_evidence",
           "analyzer_evidence", "analyzer_options_for", "option_hint", "dataset_evidence", "needs_for", "unmet_needs", "check_evidence",
           "satisfiable_profiles", "is_missing_evidence_code", "EVIDENCE_DESCRIPTIONS"]


class Evidence(str, enum.Enum):
    """A kind of evidence a face detection can carry."""

    #: ``BoundingBox``, ``Landmarks`` and ``Pose`` (every DetectFaces answer)
    GEOMETRY = "geometry"
    #: ``EyesOpen``, ``MouthOpen``, ``Smile`` (DetectFaces with Attributes=ALL)
    ATTRIBUTES = "attributes"
    #: ``EyeDirection`` {Yaw, Pitch} (DetectFaces with Attributes=ALL)
    EYE_DIRECTION = "eye_direction"
    #: ``LivenessLab.Descriptor``: a face embedding (the local analyzer's dlib descriptor)
    DESCRIPTOR = "descriptor"
    #: ``LivenessLab.Similarity``: CompareFaces similarity to the session's reference
    SIMILARITY = "similarity"
    #: ``LivenessLab.PadScore``: a passive presentation-attack-detection score
    PAD_SCORE = "pad_score"

    def __str__(self) -> str:
        return self.value


EVIDENCE_DESCRIPTIONS: Mapping[Evidence, str] = {
    Evidence.GEOMETRY: "face geometry (BoundingBox, Landmarks, Pose)",
    Evidence.ATTRIBUTES: "eye/mouth attributes (EyesOpen, MouthOpen, Smile)",
    Evidence.EYE_DIRECTION: "EyeDirection",
    Evidence.DESCRIPTOR: "a face descriptor (LivenessLab.Descriptor)",
    Evidence.SIMILARITY: "a CompareFaces similarity (LivenessLab.Similarity)",
    Evidence.PAD_SCORE: "a PAD score (LivenessLab.PadScore)",
}


def _describe(kinds: Iterable[Evidence]) -> str:
    return " or ".join(EVIDENCE_DESCRIPTIONS[k] for k in sorted(kinds, key=lambda k: k.value))


@dataclass(frozen=True)
class Need:
    """A check's need: at least one of ``any_of`` must be provided.

    ``check`` is the config key that enables the check (``"identity_check"``), or ``None``
    for what the challenge type needs whatever its settings (face geometry, say); ``purpose``
    says what the evidence is for, in a few words.
    """

    any_of: frozenset[Evidence]
    purpose: str
    check: str | None = None

    def __post_init__(self) -> None:
        kinds = frozenset(Evidence(k) for k in self.any_of)
        if not kinds:
            raise ValueError("a Need must name at least one kind of evidence")
        object.__setattr__(self, "any_of", kinds)

    def met_by(self, provided: Iterable[Evidence]) -> bool:
        return bool(self.any_of & frozenset(provided))


@dataclass(frozen=True)
class EvidenceSource:
    """What evidence a producer of faces gives, and how to get more.

    ``name`` says where the faces come from ("analyzer 'local'", "the recorded faces of
    dataset X"); ``hints`` maps evidence the source could give to the option that turns it
    on ("--analyzer-option descriptors=true").
    """

    name: str
    provides: frozenset[Evidence]
    hints: Mapping[Evidence, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "provides", frozenset(Evidence(k) for k in self.provides))


class MissingEvidenceError(LivenessLabError, ValueError):
    """A profile's checks need evidence the analyzer or dataset can never give."""


# -- what a face / analyzer / dataset provides ----------------------------------------------------

def face_evidence(face: "FaceDetail") -> frozenset[Evidence]:
    """The evidence one face detection carries."""
    from .challenges.checks import face_descriptor, face_similarity, pad_score

    out = set()
    if face.bounding_box is not None and face.landmarks and face.pose is not None:
        out.add(Evidence.GEOMETRY)
    if face.eyes_open is not None and face.mouth_open is not None and face.smile is not None:
        out.add(Evidence.ATTRIBUTES)
    if "EyeDirection" in face.extra:
        out.add(Evidence.EYE_DIRECTION)
    if face_descriptor(face) is not None:
        out.add(Evidence.DESCRIPTOR)
    if face_similarity(face) is not None:
        out.add(Evidence.SIMILARITY)
    if pad_score(face) is not None:
        out.add(Evidence.PAD_SCORE)
    return frozenset(out)


def option_hint(options: Mapping[str, Any]) -> str:
    """``{"descriptors": True}`` -> ``"--analyzer-option descriptors=true"``."""
    def text(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)
    return " ".join(f"--analyzer-option {k}={text(v)}" for k, v in options.items())


def analyzer_evidence(analyzer: Any, name: str | None = None) -> EvidenceSource:
    """The :class:`EvidenceSource` of an analyzer (its ``provides`` and ``can_provide``)."""
    provides = frozenset(getattr(analyzer, "provides", frozenset()))
    extra = dict(getattr(analyzer, "can_provide", {}) or {})
    label = name or getattr(analyzer, "name", type(analyzer).__name__)
    return EvidenceSource(f"analyzer {label!r}", provides,
                          {Evidence(k): option_hint(v) for k, v in extra.items()
                           if Evidence(k) not in provides})


def analyzer_options_for(configs: "Configs", analyzer_name: str,
                         options: Mapping[str, Any] | None = None,
                         types: Iterable[str] | None = None, registry: Any = None
                         ) -> dict[str, Any]:
    """``options`` plus the analyzer options that give the evidence ``configs`` needs.

    For each need of ``types`` (default: the profile's) that the analyzer does not meet as
    configured but can meet through an option (its ``can_provide``), that option is added,
    unless ``options`` already sets the key (an explicit choice wins; :func:`check_evidence`
    then reports the need). An unknown analyzer raises as :func:`create_analyzer` does.
    """
    from .analyzers import create_analyzer

    out = dict(options or {})
    probe = create_analyzer(analyzer_name, **out)
    try:
        provides = frozenset(getattr(probe, "provides", frozenset()))
        extra = {Evidence(k): dict(v) for k, v in
                 (getattr(probe, "can_provide", {}) or {}).items()}
    finally:
        probe.close()
    for needs in needs_for(configs, types, registry).values():
        for need in needs:
            if need.met_by(provides):
                continue
            for kind in sorted(need.any_of & set(extra), key=lambda k: k.value):
                if not set(extra[kind]) & set(options or {}):
                    out.update(extra[kind])
                    provides = provides | {kind}
                    break
    return out


def dataset_evidence(sessions: Iterable["Session"], *, name: str = "the dataset",
                     analyzer: EvidenceSource | None = None
                     ) -> dict[str, EvidenceSource]:
    """Per challenge type, the evidence that sessions of that type can carry.

    A frame with recorded ``faces`` contributes what its faces carry; a frame that has to be
    analyzed contributes ``analyzer``'s evidence (nothing when ``analyzer`` is ``None``). A
    type counts as providing a kind of evidence as soon as one face of it carries it: the
    check is for evidence that can *never* arrive.
    """
    found: dict[str, set[Evidence]] = {}
    hints: dict[str, dict[Evidence, str]] = {}
    for session in sessions:
        kinds = found.setdefault(session.challenge_type, set())
        for frame in session.frames:
            if frame.faces is None:
                if analyzer is not None:
                    kinds.update(analyzer.provides)
                    hints.setdefault(session.challenge_type, {}).update(analyzer.hints)
                continue
            for face in frame.faces:
                kinds.update(face_evidence(face))
    return {t: EvidenceSource(f"the recorded faces of {name}" + (
        f" and {analyzer.name}" if t in hints else ""), frozenset(k), hints.get(t, {}))
        for t, k in found.items()}


# -- what a profile needs ---------------------------------------------------------------------------

def needs_for(configs: "Configs", types: Iterable[str] | None = None,
              registry: Any = None) -> dict[str, tuple[Need, ...]]:
    """``{type: needs}`` of the enabled checks of ``types`` (default: the profile's types)."""
    from .challenges.registry import default_registry

    registry = registry or default_registry()
    names = list(types) if types is not None else list(
        configs.challenge_types or [ct.name for ct in registry])
    out = {}
    for tname in names:
        ctype = registry.get(tname)
        out[ctype.name] = tuple(configs.for_type(ctype).evidence_needs())
    return out


def unmet_needs(configs: "Configs", sources: "EvidenceSource | Mapping[str, EvidenceSource]",
                types: Iterable[str] | None = None, registry: Any = None
                ) -> list[tuple[str, Need, EvidenceSource]]:
    """``(type, need, source)`` for every need the source of that type does not meet."""
    out = []
    for tname, needs in needs_for(configs, types, registry).items():
        source = sources if isinstance(sources, EvidenceSource) else sources.get(tname)
        if source is None:
            continue
        out.extend((tname, n, source) for n in needs if not n.met_by(source.provides))
    return out


def satisfiable_profiles(sources: "EvidenceSource | Mapping[str, EvidenceSource]",
                         types: Iterable[str] | None = None, *,
                         sets: Sequence[str] = (), registry: Any = None) -> list[str]:
    """The registered profiles under which every need of ``types`` is met by ``sources``."""
    from .config import profile_names, resolve_configs

    ok = []
    for name in profile_names():
        try:
            configs = resolve_configs(name, sets=sets, registry=registry)
        except LivenessLabError:
            continue
        wanted = list(types) if types is not None else None
        if not unmet_needs(configs, sources, wanted, registry):
            ok.append(name)
    return ok


def check_evidence(configs: "Configs", sources: "EvidenceSource | Mapping[str, EvidenceSource]",
                   types: Iterable[str] | None = None, *, sets: Sequence[str] = (),
                   registry: Any = None) -> None:
    """Raise :class:`MissingEvidenceError` when a check of ``configs`` can never get its evidence.

    ``sources`` is one :class:`EvidenceSource` for every type (an analyzer) or one per type
    (:func:`dataset_evidence`); ``types`` limits the check (default: the profile's types, or
    the types of the dataset when ``sources`` is per type). The message names, for each unmet
    need, the type, the check, the missing evidence and the fixes.
    """
    if types is None and not isinstance(sources, EvidenceSource):
        types = list(sources)
    types = list(types) if types is not None else None
    unmet = unmet_needs(configs, sources, types, registry)
    if not unmet:
        return
    lines = [f"profile {configs.profile!r} needs evidence that can never arrive:"]
    for tname, need, source in unmet:
        what = f"{tname.lower()}.{need.check}" if need.check else tname
        fixes = [source.hints[k] for k in sorted(need.any_of, key=lambda k: k.value)
                 if k in source.hints]
        if need.check:
            fixes.append(f"--set {tname.lower()}.{need.check}=false")
        lines.append(f"- {what} ({need.purpose}) needs {_describe(need.any_of)}, which "
                     f"{source.name} cannot give" + (
                         f"; fix: {' or '.join(fixes)}" if fixes else ""))
    usable = [p for p in satisfiable_profiles(sources, types, sets=sets, registry=registry)
              if p != configs.profile]
    if usable:
        lines.append("profiles that work with this evidence: "
                     + ", ".join(f"--profile {p}" for p in usable))
    raise MissingEvidenceError("\n".join(lines))


# -- after the run ------------------------------------------------------------------------------

_MISSING_SUFFIXES = ("missing", "missing_score", "unavailable")


def is_missing_evidence_code(code: str | None) -> bool:
    """Whether a verdict code says a session failed for evidence it did not carry.

    Codes such as ``identity.missing``, ``pad.missing_score``, ``nose.missing_pose``,
    ``pose.missing_eyes_open`` or ``nose.parallax_unavailable``.
    """
    if not code or "." not in code:
        return False
    last = code.rsplit(".", 1)[1]
    return last in _MISSING_SUFFIXES or last.startswith("missing_") or last.endswith(
        "_unavailable")
