"""The typed configuration base of every challenge type, and parsing of override values.

A challenge type's thresholds are the fields of a frozen dataclass subclassing
:class:`ChallengeConfig`; profiles, ``--set TYPE.key=value`` and experiment files change
them through :meth:`ChallengeConfig.with_overrides`. Importable from
:mod:`liveness_lab.challenges.framework` too.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ChallengeDefinitionError, ConfigError
from ..evidence import Evidence, Need

__all__ = ["ChallengeConfig"]

_SCALAR_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class ChallengeConfig:
    """Base of every challenge type's typed configuration.

    Subclasses are frozen dataclasses whose fields are the type's thresholds,
    each with a default (the ``seed`` profile's value) and, in
    ``field(metadata={"help": ...})``, a sentence with its unit. Fields must
    be ``bool``, ``int``, ``float`` or ``str`` (or ``Optional`` of one).
    Values are type-checked on construction.
    """

    state_timeout_s: float = field(default=10.0, metadata={
        "help": "seconds a state may last, measured on frame timestamps from the first frame "
                "it sees"})

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected, optional = _field_type(type(self), f.name)
            if value is None and optional:
                continue
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            if expected is bool:
                ok = isinstance(value, bool)
            elif expected in (int, float):
                ok = isinstance(value, expected) and not isinstance(value, bool)
                if ok and expected is float and not math.isfinite(value):
                    ok = False
            else:
                ok = isinstance(value, expected)
            if not ok:
                raise ConfigError(f"{type(self).__name__}.{f.name} must be "
                                  f"{'a finite ' if expected is float else 'a '}"
                                  f"{expected.__name__}, got {value!r}")
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; raise :class:`~liveness_lab.errors.ConfigError`. Override."""
        if self.state_timeout_s <= 0:
            raise ConfigError(f"state_timeout_s must be > 0, got {self.state_timeout_s!r}")

    def _require_non_negative(self, *names: str) -> None:
        """Raise for the first of the fields ``names`` that is below 0 (in that order)."""
        for name in names:
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value!r}")

    def evidence_needs(self) -> tuple["Need", ...]:
        """The evidence the enabled checks need (:mod:`liveness_lab.evidence`).

        The base needs face geometry (box, landmarks, pose); subclasses add what their
        enabled checks read, so a profile can be checked against an analyzer before running.
        """
        return (Need(frozenset({Evidence.GEOMETRY}), "face box, landmarks and pose"),)

    @classmethod
    def keys(cls) -> list[dict[str, Any]]:
        """One dict per key: ``name``, ``type``, ``default``, ``help``."""
        out = []
        for f in dataclasses.fields(cls):
            expected, optional = _field_type(cls, f.name)
            out.append({"name": f.name,
                        "type": expected.__name__ + (" | None" if optional else ""),
                        "default": f.default, "help": f.metadata.get("help", "")})
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any]) -> "ChallengeConfig":
        """A copy with ``overrides`` applied; string values are parsed by the field's type.

        An unknown key or a value of the wrong type raises
        :class:`~liveness_lab.errors.ConfigError` naming the key.
        """
        names = {f.name for f in dataclasses.fields(self)}
        changes = {}
        for key, raw in overrides.items():
            if key not in names:
                raise ConfigError(f"unknown key {key!r} for {type(self).__name__}; known: "
                                  + ", ".join(sorted(names)))
            expected, optional = _field_type(type(self), key)
            changes[key] = _parse_value(raw, expected, optional, key)
        return dataclasses.replace(self, **changes)


_TYPE_CACHE: dict[tuple[type, str], tuple[type, bool]] = {}


def _field_type(cls: type, name: str) -> tuple[type, bool]:
    key = (cls, name)
    if key not in _TYPE_CACHE:
        import typing
        hints = typing.get_type_hints(cls)
        tp = hints[name]
        optional = False
        args = typing.get_args(tp)
        if args and type(None) in args:
            optional = True
            rest = [a for a in args if a is not type(None)]
            tp = rest[0]
        if tp not in _SCALAR_TYPES:
            raise ChallengeDefinitionError(
                f"{cls.__name__}.{name}: config fields must be bool, int, float or str, got {tp!r}")
        _TYPE_CACHE[key] = (tp, optional)
    return _TYPE_CACHE[key]


def _parse_value(raw: Any, expected: type, optional: bool, key: str) -> Any:
    if not isinstance(raw, str):
        return raw  # typed value from code: checked by the config's __post_init__
    text = raw.strip()
    if optional and text.lower() in ("none", "null", ""):
        return None
    try:
        if expected is bool:
            low = text.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if expected is int:
            return int(text)
        if expected is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        return text
    except ValueError:
        raise ConfigError(f"{key} must be {'a finite ' if expected is float else 'a '}"
                          f"{expected.__name__}, got {raw!r}") from None
