"""What params generators use and what recorded params are checked against.

* :func:`image_size`: the client's image size, checked;
* :class:`Param` and :func:`check_params_schema`: a challenge type's declarative params
  schema, checked when sessions are read; :data:`IMAGE_SIZE_SCHEMA`;
* :class:`ChallengeRandom` and its two sources: :class:`SecretsRandom` (production) and
  :class:`SeededRandom` (tests, simulations, replays).

Importable from :mod:`liveness_lab.challenges.framework` too.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Protocol, Sequence

from ..errors import ChallengeDefinitionError, ParamsError

__all__ = ["image_size", "Param", "check_params_schema", "IMAGE_SIZE_SCHEMA",
           "ChallengeRandom", "SecretsRandom", "SeededRandom"]


def image_size(client_metadata: Mapping[str, Any]) -> tuple[int, int]:
    """``(imageWidth, imageHeight)`` of the client metadata as positive integers.

    For params generators; raises ``ValueError`` with a sentence when they are
    missing, not integers or not positive.
    """
    try:
        w, h = int(client_metadata["imageWidth"]), int(client_metadata["imageHeight"])
    except KeyError as e:
        raise ValueError(f"client metadata is missing {e.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ValueError("imageWidth and imageHeight must be integers, got "
                         f"{client_metadata.get('imageWidth')!r} x "
                         f"{client_metadata.get('imageHeight')!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"imageWidth and imageHeight must be positive, got {w} x {h}")
    return w, h


# --------------------------------------------------------------------------------------------
# params schema

_PARAM_TYPES = (int, float, bool, str, list, dict)
_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
               list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Param:
    """One field of a challenge type's params schema (declarative, checked when reading).

    ``type`` is ``int`` (an integral JSON number), ``float`` (any finite number),
    ``bool``, ``str``, ``list`` (items checked by ``items``) or ``dict`` (keys
    checked by ``fields``). ``choices`` lists the allowed values; ``minimum`` /
    ``maximum`` bound a number or a list's length. JSON booleans are never numbers.
    """

    type: type
    required: bool = True
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    items: "Param | None" = None
    fields: Mapping[str, "Param"] | None = None

    def __post_init__(self) -> None:
        if self.type not in _PARAM_TYPES:
            raise ChallengeDefinitionError(
                f"Param type must be one of int, float, bool, str, list, dict, got {self.type!r}")
        if self.items is not None and self.type is not list:
            raise ChallengeDefinitionError("Param(items=...) is only for type=list")
        if self.fields is not None and self.type is not dict:
            raise ChallengeDefinitionError("Param(fields=...) is only for type=dict")

    def check(self, value: Any, field_name: str) -> None:
        """Raise :class:`~liveness_lab.errors.ParamsError` naming ``field_name`` if ``value``
        does not match."""
        def bad(expected: str) -> ParamsError:
            return ParamsError(f"must be {expected}, got {value!r}", field=field_name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.type is int:
            if not (number and math.isfinite(value) and float(value).is_integer()):
                raise bad(_TYPE_WORDS[int])
        elif self.type is float:
            if not (number and math.isfinite(value)):
                raise bad("a finite number")
        elif not isinstance(value, self.type):
            raise bad(_TYPE_WORDS[self.type])
        if self.choices and value not in self.choices:
            raise bad("one of " + ", ".join(map(repr, self.choices)))
        size = len(value) if self.type is list else value if number else None
        what = "a list of" if self.type is list else "a number"
        if size is not None and self.minimum is not None and size < self.minimum:
            raise bad(f"{what} >= {self.minimum:g}" + (" items" if self.type is list else ""))
        if size is not None and self.maximum is not None and size > self.maximum:
            raise bad(f"{what} <= {self.maximum:g}" + (" items" if self.type is list else ""))
        if self.type is list and self.items is not None:
            for i, item in enumerate(value):
                self.items.check(item, f"{field_name}[{i}]")
        if self.type is dict and self.fields is not None:
            check_params_schema(self.fields, value, prefix=f"{field_name}.")


def check_params_schema(schema: Mapping[str, Param], params: Mapping[str, Any], *,
                        prefix: str = "") -> None:
    """Check ``params`` against ``schema``; unknown extra keys are allowed (forward compatible).

    Raises :class:`~liveness_lab.errors.ParamsError` for the first field that is
    missing or malformed, naming it (``"noseTop"``, ``"pose.eyes"``).
    """
    for name, spec in schema.items():
        if name not in params or params[name] is None:
            if spec.required:
                raise ParamsError("is missing", field=prefix + name)
            continue
        spec.check(params[name], prefix + name)


#: the image size every built-in type writes in its params (positive integers, pixels)
IMAGE_SIZE_SCHEMA: Mapping[str, Param] = MappingProxyType({
    "imageWidth": Param(int, minimum=1), "imageHeight": Param(int, minimum=1)})


# --------------------------------------------------------------------------------------------
# randomness

class ChallengeRandom(Protocol):
    """Source of randomness for params generators (``secrets``-compatible subset)."""

    def choice(self, seq: Sequence[Any]) -> Any: ...

    def randbelow(self, n: int) -> int: ...


class SecretsRandom:
    """A CSPRNG (the :mod:`secrets` module): the production default."""

    def choice(self, seq: Sequence[Any]) -> Any:
        return secrets.choice(seq)

    def randbelow(self, n: int) -> int:
        return secrets.randbelow(n)


class SeededRandom:
    """A reproducible generator for tests, simulations and replays. Never for production."""

    def __init__(self, seed: int | str) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def choice(self, seq: Sequence[Any]) -> Any:
        return self._rng.choice(seq)

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)
