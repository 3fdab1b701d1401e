"""The challenge type registry and the type selector.

Built-in types (NOSE, POSE, BLINK, HEAD_TURN, CUSTOM) are registered explicitly; third-party
types are discovered through the ``liveness_lab.challenges`` entry-point
group. An entry point may load a :class:`ChallengeType`, a list of them, or a
module holding ``ChallengeType`` objects at top level.
"""

from __future__ import annotations

import types
from typing import Any, Mapping, Sequence

from ..errors import UnknownChallengeType
from ..plugins import Registry
from .framework import ChallengeRandom, ChallengeType, SecretsRandom

__all__ = ["ChallengeRegistry", "default_registry", "select_challenge_type", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "liveness_lab.challenges"


def _accept(obj: object) -> list[ChallengeType]:
    if isinstance(obj, ChallengeType):
        found = [obj]
    elif isinstance(obj, types.ModuleType):
        found = [v for v in vars(obj).values() if isinstance(v, ChallengeType)]
    elif isinstance(obj, (list, tuple)):
        found = list(obj)
    elif callable(obj):
        return _accept(obj())
    else:
        found = []
    if not found or not all(isinstance(x, ChallengeType) for x in found):
        raise TypeError(f"expected a ChallengeType, a list of them or a module defining them, "
                        f"got {type(obj).__name__}")
    for ct in found:
        ct.validate()
    return found


class ChallengeRegistry(Registry[ChallengeType]):
    """Challenge types by name (case-insensitive lookup; names are stored upper-case)."""

    def __init__(self) -> None:
        super().__init__("challenge type", entry_point_group=ENTRY_POINT_GROUP,
                         not_found=UnknownChallengeType, name_of=lambda ct: ct.name,
                         normalize=str.upper, accept=_accept,
                         listed=lambda ct: ct.listed)

    def register(self, plugin: ChallengeType, *, replace: bool = False) -> ChallengeType:
        plugin.validate()
        return super().register(plugin, replace=replace)

    def random_candidates(self) -> list[str]:
        """Names the random selector may draw (types with ``random_selection=True``)."""
        return [ct.name for ct in self if ct.random_selection]


_DEFAULT: ChallengeRegistry | None = None


def builtin_registry() -> ChallengeRegistry:
    """A new registry with the built-in types only (no entry-point discovery)."""
    from . import blink, custom, head_turn, nose, pose  # noqa: F401  (for their type objects)
    reg = ChallengeRegistry()
    for ct in (nose.NOSE, pose.POSE, blink.BLINK, head_turn.HEAD_TURN, custom.CUSTOM):
        reg.register(ct)
    return reg


def default_registry() -> ChallengeRegistry:
    """The process-wide registry: built-in types plus discovered plugins (created on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        reg = builtin_registry()
        reg.discover()
        _DEFAULT = reg
    return _DEFAULT


def select_challenge_type(client_metadata: Mapping[str, Any], *,
                          registry: ChallengeRegistry | None = None,
                          client_selection: bool = False,
                          candidates: Sequence[str] | None = None,
                          rng: ChallengeRandom | None = None) -> str:
    """Choose the type of a new challenge.

    With ``client_selection`` enabled and ``challengeType`` in the metadata,
    the client's choice is honoured (an unknown name raises, listing the
    known ones). Otherwise a type is drawn with a CSPRNG among ``candidates``
    (default: the registry's random candidates, as the original drew among
    NOSE and POSE). Callers that follow a profile pass its
    :attr:`~liveness_lab.config.Configs.challenge_types` as ``candidates``.
    """
    registry = registry or default_registry()
    if client_selection and client_metadata.get("challengeType") is not None:
        requested = client_metadata["challengeType"]
        return registry.get(str(requested)).name
    pool = list(candidates) if candidates is not None else registry.random_candidates()
    if not pool:
        raise UnknownChallengeType("no challenge type is available for random selection")
    names = sorted(registry.get(n).name for n in pool)
    return (rng or SecretsRandom()).choice(names)
