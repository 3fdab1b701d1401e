"""Service start-up: the profile, the challenge types and the analyzer, resolved in one place.

:func:`prepare` is called once by :class:`~liveness_lab.service.core.ChallengeService`.
It decides

* the **profile** and the types drawn at random. With no ``profile`` setting the
  service runs the **secure default**: the hardened ``recommended`` rules, drawing
  only the types a client speaking the original AWS framework's contract can
  answer securely (:data:`CONTRACT_SAFE_TYPES`: the hardened NOSE, whose frames
  such a client already streams), with the PAD check off unless the analyzer has
  its PAD stage on. ``seed`` (the original's rules, which a still photo passes
  through POSE) needs an explicit ``--profile seed`` and is announced by a loud
  warning at start and in ``/health``;
* the **analyzer**: its recipe (:class:`~liveness_lab.service.analysis.AnalyzerSpec`);
  the **analysis engine** (processes for the CPU-bound offline analyzers, threads
  otherwise); and, when a drawn type checks identity, the **identity stage** run at
  verify on a bounded sample of frames: CompareFaces for the ``rekognition`` analyzer,
  descriptors from a second analyzer built with ``descriptors=True`` for the offline
  ones (every frame analyzed with descriptors costs ~7x; an explicit
  ``descriptors`` analyzer option keeps them on every frame instead);
* then runs :func:`_startup_checks` on the result, the one place where the
  profile is checked against the evidence the analyzer can give.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ..challenges.checks import checks_identity
from ..challenges.registry import ChallengeRegistry
from ..config import Configs, profile_names, resolve_configs
from ..errors import ConfigError, UnknownChallengeType
from .analysis import AnalyzerSpec
from .identity import AnalyzerDescriber, CompareFacesStage, DescriptorStage
from .settings import Settings

__all__ = ["prepare", "ServiceSetup", "SECURE_DEFAULT_PROFILE", "REKOGNITION_PROFILE",
           "secure_default_profile", "CONTRACT_SAFE_TYPES",
           "SEED_WARNING", "RECORDED"]

log = logging.getLogger("liveness_lab.service")

#: The profile of the secure default (no ``profile`` setting).
SECURE_DEFAULT_PROFILE = "recommended"
#: With the ``rekognition`` analyzer the secure default uses this profile when it is
#: registered (hardened rules on DetectFaces evidence only).
REKOGNITION_PROFILE = "rekognition"
#: Types a client speaking only the original contract answers securely under the default.
CONTRACT_SAFE_TYPES = ("NOSE",)
#: The analyzer name whose frames carry their faces (no model runs).
RECORDED = "recorded"
#: Logged at start and shown in ``/health`` when the service runs the ``seed`` profile.
SEED_WARNING = ("INSECURE PROFILE seed: the original framework's rules; its POSE decides on "
                "one frame and a still photo passes it. Use it only to compare with the "
                "original; the default (no --profile) is secure.")

#: Analyzers that run on this machine's CPU: analysed in processes by default.
_CPU_ANALYZERS = frozenset({"local", "mesh"})


@dataclass(frozen=True)
class ServiceSetup:
    """What :func:`prepare` resolved.

    ``analyzer_factory`` is ``None`` with the recorded analyzer; ``first_analyzer``
    is one already built (to fail at start on a bad option); ``identity`` is the
    verify-time identity stage (CompareFaces or descriptors) or ``None``;
    ``warnings`` are shown in ``/health``.
    """

    configs: Configs
    profile_label: str
    candidates: tuple[str, ...] | None
    analyzer_name: str
    analyzer_factory: Callable[[], Any] | None
    first_analyzer: Any
    engine: str
    identity: CompareFacesStage | DescriptorStage | None
    warnings: tuple[str, ...] = field(default=())


def _types_checking(configs: Configs, registry: ChallengeRegistry, names: Any,
                    check: Callable[[Any], bool]) -> bool:
    pool = names if names is not None else [ct.name for ct in registry]
    return any(check(configs.for_type(registry.get(n))) for n in pool)


def secure_default_profile(analyzer: str) -> str:
    """The profile the secure default runs for ``analyzer``."""
    if analyzer == "rekognition" and REKOGNITION_PROFILE in profile_names():
        return REKOGNITION_PROFILE
    return SECURE_DEFAULT_PROFILE


def _resolve_configs(settings: Settings, registry: ChallengeRegistry
                     ) -> tuple[Configs, str, tuple[str, ...] | None]:
    analyzer_pad = bool(settings.analyzer_options.get("pad", False))
    if settings.profile is None:
        default = secure_default_profile(settings.analyzer.strip().lower())
        overrides: dict[str, dict[str, Any]] = {}
        if not analyzer_pad:
            base = resolve_configs(default, registry=registry)
            for ct in registry:
                if getattr(base.for_type(ct), "pad_check", False):
                    overrides[ct.name] = {"pad_check": False}
        configs = resolve_configs(default, sets=settings.config_sets,
                                  overrides=overrides, registry=registry)
        label = f"{default} (secure default)"
        default_types: tuple[str, ...] | None = CONTRACT_SAFE_TYPES
    else:
        configs = resolve_configs(settings.profile, sets=settings.config_sets, registry=registry)
        label = configs.profile
        default_types = configs.challenge_types
    if settings.challenge_types:
        try:
            candidates: tuple[str, ...] | None = tuple(registry.get(n).name
                                                       for n in settings.challenge_types)
        except UnknownChallengeType as e:
            raise ConfigError(f"challenge_types: {e}") from None
    else:
        candidates = default_types
    return configs, label, candidates


def _analyzer_spec(settings: Settings, name: str) -> AnalyzerSpec:
    cache = None if settings.analysis_cache is None else str(settings.analysis_cache)
    return AnalyzerSpec(name, dict(settings.analyzer_options), cache)


def _descriptor_stage(settings: Settings, name: str) -> DescriptorStage:
    """Descriptors at verify from a second analyzer of the same kind with ``descriptors=True``."""
    describer = AnalyzerSpec(name, {**settings.analyzer_options, "descriptors": True})()
    return DescriptorStage(AnalyzerDescriber(describer), max_calls=settings.descriptor_max_calls)


def _compare_stage(first: Any, settings: Settings) -> CompareFacesStage:
    inner = getattr(first, "analyzer", first)  # through the analysis cache
    compare = getattr(inner, "compare_faces", None)
    if not callable(compare):
        raise ConfigError(f"the {settings.analyzer} analyzer cannot compare faces")
    return CompareFacesStage(functools.partial(compare, similarity_threshold=0),
                             max_calls=settings.compare_faces_max_calls)


def prepare(settings: Settings, registry: ChallengeRegistry, *,
            analyzer_factory: Callable[[], Any] | None = None,
            identity: CompareFacesStage | DescriptorStage | None = None) -> ServiceSetup:
    """Resolve profile, types, analyzer, engine and identity stage; run the start-up checks.

    ``analyzer_factory`` replaces the registered analyzer (tests inject one; it
    runs with the thread engine unless ``analysis_engine`` says otherwise);
    ``identity`` replaces the identity stage.
    """
    configs, label, candidates = _resolve_configs(settings, registry)
    name = settings.analyzer.strip().lower()
    # identity_when_available (the rekognition profile): checked when the faces carry a
    # similarity, which the CompareFaces stage gives at verify
    needs_identity = _types_checking(configs, registry, candidates, checks_identity)
    warnings: list[str] = []
    if configs.profile == "seed":
        warnings.append(SEED_WARNING)
    factory: Callable[[], Any] | None = None
    first: Any = None
    if name != RECORDED:
        factory = analyzer_factory or _analyzer_spec(settings, name)
        first = factory()  # fail now, loudly, on an unknown analyzer or a bad option
    engine = settings.analysis_engine
    if engine == "auto":
        engine = "process" if name in _CPU_ANALYZERS and analyzer_factory is None else "thread"
    if identity is None and needs_identity and first is not None:
        if name == "rekognition":
            identity = _compare_stage(first, settings)
        elif name in _CPU_ANALYZERS and analyzer_factory is None \
                and "descriptors" not in settings.analyzer_options:
            identity = _descriptor_stage(settings, name)
    setup = ServiceSetup(configs, label, candidates, name, factory, first, engine, identity,
                         tuple(warnings))
    try:
        _startup_checks(settings, first, configs, identity=identity, types=candidates,
                        registry=registry)
    except ConfigError:
        if isinstance(identity, DescriptorStage):
            identity.close()
        raise
    for w in setup.warnings:
        log.warning(w)
    return setup


def _startup_checks(settings: Settings, analyzer: Any, configs: Configs, *,
                    identity: Any = None, types: Any = None,
                    registry: ChallengeRegistry | None = None) -> None:
    """Refuse to start when the profile cannot work with the analyzer (raise ConfigError).

    The evidence the drawn types' checks need (:mod:`liveness_lab.evidence`) must come from
    the analyzer (its ``provides``, through any stage it is wrapped in) or the identity stage
    (CompareFaces similarity). A check whose evidence can never arrive would reject every
    user: the service refuses to start and names the check, the evidence and the fixes.
    With the ``recorded`` analyzer the clients send the faces, so their evidence is unknown
    here and the check is left to each verify (``identity.missing`` and the like).
    """
    if settings.env == "production" and configs.profile == "seed":
        raise ConfigError("profile seed lets a still photo pass (its POSE decides on one "
                          "frame); it is refused when env=production: remove --profile seed")
    if analyzer is None:
        return
    from ..evidence import EvidenceSource, MissingEvidenceError, analyzer_evidence, check_evidence
    source = analyzer_evidence(analyzer, settings.analyzer)
    extra = frozenset(getattr(identity, "provides", frozenset())) if identity else frozenset()
    if extra:
        source = EvidenceSource(f"{source.name} with {type(identity).__name__}",
                                source.provides | extra, source.hints)
    try:
        check_evidence(configs, source, types, registry=registry)
    except MissingEvidenceError as e:
        raise ConfigError(f"the service cannot start: {e}") from None
