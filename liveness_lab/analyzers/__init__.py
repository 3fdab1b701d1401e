"""Face analyzers: an image in, Rekognition-shaped faces out, and a registry to pick one by name.

Built-in analyzers:

- ``local``: offline, on the CPU, dlib HOG detector + shape predictor
  (:class:`~liveness_lab.analyzers.local.LocalAnalyzer`);
- ``rekognition``: Amazon Rekognition ``DetectFaces``
  (:class:`~liveness_lab.analyzers.rekognition.RekognitionAnalyzer`);
- ``recorded``: no model; sessions replay the faces they recorded
  (:class:`~liveness_lab.analyzers.recorded.RecordedAnalyzer`).

::

    from liveness_lab.analyzers import create_analyzer
    analyzer = create_analyzer("local", landmarks="5")
    faces = analyzer.analyze(jpeg_bytes)

Third-party packages add analyzers through the ``liveness_lab.analyzers``
entry-point group; an entry point loads an :class:`AnalyzerEntry`, a
:class:`FaceAnalyzer` subclass (registered under its ``name``) or a list of
them. The registry stores factories, so importing this package imports no
model, SDK or OpenCV: each built-in module is imported when first created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import AnalyzerUnavailableError, UnknownAnalyzer
from ..plugins import Registry
from .base import FaceAnalyzer, ImageInput

__all__ = [
    "FaceAnalyzer",
    "ImageInput",
    "AnalyzerEntry",
    "analyzer_registry",
    "make_analyzer_registry",
    "register_analyzer",
    "create_analyzer",
    "analyzer_names",
    "analyzer_descriptions",
    "analyzer_entry",
    "image_analyzer_names",
    "LocalAnalyzer",
    "LocalAnalyzerConfig",
    "RecordedAnalyzer",
    "RekognitionAnalyzer",
]

ENTRY_POINT_GROUP = "liveness_lab.analyzers"


@dataclass(frozen=True)
class AnalyzerEntry:
    """A registered analyzer: its name, a factory ``factory(**options) -> FaceAnalyzer``,
    and a one-line description."""

    name: str
    factory: Callable[..., FaceAnalyzer]
    description: str = ""
    #: mirrors the class's :attr:`FaceAnalyzer.analyzes_images` (``False``: it replays
    #: recorded faces and analyzes no image), so callers know without building one
    analyzes_images: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"an analyzer name must be a non-empty string, got {self.name!r}")
        if not callable(self.factory):
            raise ValueError(f"the factory of analyzer {self.name!r} must be callable, "
                             f"got {type(self.factory).__name__}")
        if not isinstance(self.description, str):
            raise ValueError(f"the description of analyzer {self.name!r} must be a string")


def _normalize(name: str) -> str:
    return name.strip().lower()


def _accept(obj: object) -> list[AnalyzerEntry]:
    """What an entry point may load: an entry, a FaceAnalyzer subclass, or a list of them."""
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    out = []
    for item in items:
        if isinstance(item, AnalyzerEntry):
            out.append(item)
        elif isinstance(item, type) and issubclass(item, FaceAnalyzer):
            doc = (item.__doc__ or "").strip().splitlines()
            out.append(AnalyzerEntry(item.name, item, doc[0] if doc else "",
                                     bool(getattr(item, "analyzes_images", True))))
        else:
            raise TypeError("an analyzer entry point must load an AnalyzerEntry, a FaceAnalyzer "
                            f"subclass or a list of them, got {type(item).__name__}")
    return out


def _entry_name(entry: AnalyzerEntry) -> str:
    return entry.name


def make_analyzer_registry() -> Registry[AnalyzerEntry]:
    """A new registry holding the built-in analyzers (``local``, ``rekognition``,
    ``recorded``); entry points are discovered on first lookup.

    The package-level functions use one shared instance, :data:`analyzer_registry`;
    a separate one suits tests or applications that want their own set.
    """
    registry: Registry[AnalyzerEntry] = Registry(
        "analyzer", entry_point_group=ENTRY_POINT_GROUP, not_found=UnknownAnalyzer,
        name_of=_entry_name, normalize=_normalize, accept=_accept)
    for entry in _BUILT_INS:
        registry.register(entry)
    return registry


def register_analyzer(name: str, factory: Callable[..., FaceAnalyzer], description: str = "",
                      *, replace: bool = False) -> AnalyzerEntry:
    """Register ``factory(**options) -> FaceAnalyzer`` under ``name`` (case-insensitive).

    A name already taken raises ``ValueError`` unless ``replace``. Returns the entry.
    """
    return analyzer_registry.register(AnalyzerEntry(name, factory, description), replace=replace)


def _known() -> Registry[AnalyzerEntry]:
    analyzer_registry.discover()
    return analyzer_registry


def create_analyzer(name: str, **options: Any) -> FaceAnalyzer:
    """A new analyzer of the registered kind ``name``, built with ``options``.

    Raises :class:`~liveness_lab.errors.UnknownAnalyzer` (listing the known
    names) for an unknown name, ``ValueError`` for options the analyzer does
    not accept and :class:`~liveness_lab.errors.AnalyzerUnavailableError` when
    it cannot run here (a missing package).
    """
    entry = _known().get(name)
    analyzer = entry.factory(**options)
    if not callable(getattr(analyzer, "analyze", None)):
        raise TypeError(f"the factory of analyzer {entry.name!r} returned "
                        f"{type(analyzer).__name__}, which has no analyze() method")
    return analyzer


def analyzer_names() -> list[str]:
    """The names of the registered analyzers, sorted (entry points included)."""
    return _known().names()


def image_analyzer_names() -> list[str]:
    """The names of the registered analyzers that analyze images (not ``recorded``)."""
    return [e.name for e in _known() if e.analyzes_images]


def analyzer_entry(name: str) -> AnalyzerEntry:
    """The registered entry called ``name`` (raises :class:`UnknownAnalyzer`, listing names)."""
    return _known().get(name)


def analyzer_descriptions() -> dict[str, str]:
    """``{name: description}`` of the registered analyzers, sorted by name."""
    return {entry.name: entry.description for entry in _known()}


# -- built-ins: factories that import their module only when called ------------------------------
def _create_local(**options: Any) -> FaceAnalyzer:
    from .local import LocalAnalyzer

    return LocalAnalyzer(**options)


def _create_rekognition(**options: Any) -> FaceAnalyzer:
    try:
        from .rekognition import RekognitionAnalyzer
    except ImportError as e:
        raise AnalyzerUnavailableError(f"the rekognition analyzer cannot be loaded: {e}") from e
    return RekognitionAnalyzer(**options)


def _create_recorded(**options: Any) -> FaceAnalyzer:
    from .recorded import RecordedAnalyzer

    if options:
        raise ValueError("the recorded analyzer takes no options, got "
                         f"{', '.join(sorted(options))}")
    return RecordedAnalyzer()


_BUILT_INS = (
    AnalyzerEntry("local", _create_local,
                  "offline dlib HOG detector + shape predictor on the CPU "
                  "(options: landmarks='68'|'5', ...)"),
    AnalyzerEntry("rekognition", _create_rekognition,
                  "Amazon Rekognition DetectFaces "
                  "(options: client, region_name, max_workers, ...)"),
    AnalyzerEntry("recorded", _create_recorded,
                  "no model: replays the faces recorded in sessions", analyzes_images=False),
)

#: The shared registry of analyzer factories (entry-point group ``liveness_lab.analyzers``).
analyzer_registry: Registry[AnalyzerEntry] = make_analyzer_registry()

_LAZY = {
    "LocalAnalyzer": ".local",
    "LocalAnalyzerConfig": ".local",
    "RecordedAnalyzer": ".recorded",
    "RekognitionAnalyzer": ".rekognition",
}


def __getattr__(name: str) -> Any:
    """Import the analyzer classes on first access, so importing the package stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
