"""The challenge plugin API: a params generator plus named per-frame states.

A challenge type is declared the way the original AWS framework declared it,
with decorators, so porting a custom type from it is a matter of renaming
imports::

    from liveness_lab.challenges import ChallengeType, STATE_NEXT, CHALLENGE_SUCCESS

    CUSTOM = ChallengeType("CUSTOM")

    @CUSTOM.params
    def custom_params(client_metadata):
        return dict(client_metadata)

    @CUSTOM.state(first=True, next_state="last_state")
    def first_state(params, frame, context):
        return STATE_NEXT

    @CUSTOM.state()
    def last_state(params, frame, context):
        return CHALLENGE_SUCCESS

A state function receives the challenge ``params``, the current
:class:`FrameInput` and the per-run :class:`Context` and returns either one of
the original integer codes or a :class:`StepResult` made with
:func:`Continue`, :func:`Next`, :func:`Success` or :func:`Fail`, which carry a
reason. ``context.config`` holds the type's typed configuration and
``context.record(name=value)`` adds measurements to the trace row of the
current frame.

Semantics (identical to the original):

* each state has a timeout measured on frame timestamps: the first frame a
  state sees starts its clock; a later frame whose timestamp is past
  ``start + timeout`` fails the challenge before the state runs;
* ``continue`` stays in the state and moves to the next frame; ``next`` moves to
  the state's ``next_state`` *on the same frame*; a ``next`` that names the
  current state behaves as ``continue``;
* ``success`` / ``fail`` end the run; frames running out first is "no decision".

This module holds the state machine's types (step results, :class:`FrameInput`,
:class:`Context`, :class:`State`, :class:`ChallengeType`). The typed configuration base
(:class:`ChallengeConfig`) lives in :mod:`~liveness_lab.challenges.config_base`, the params
helpers (:class:`Param`, :func:`image_size`, the randomness sources) in
:mod:`~liveness_lab.challenges.params`; both are importable from here.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from ..errors import ChallengeDefinitionError
from ..faces import FaceDetail
# the configuration base and the params helpers live in their own modules; their public
# names stay importable from here, as they always were
from .config_base import ChallengeConfig
from .params import (IMAGE_SIZE_SCHEMA, ChallengeRandom, Param, SecretsRandom, SeededRandom,
                     check_params_schema, image_size)

__all__ = [
    "Step", "StepResult", "Continue", "Next", "Success", "Fail",
    "STATE_CONTINUE", "STATE_NEXT", "CHALLENGE_SUCCESS", "CHALLENGE_FAIL",
    "ChallengeConfig", "ChallengeType", "State", "FrameInput", "Context",
    "ChallengeRandom", "SecretsRandom", "SeededRandom", "image_size", "Param",
    "check_params_schema", "IMAGE_SIZE_SCHEMA",
]

# The original framework's return codes, accepted from ported state functions.
STATE_CONTINUE = 0
STATE_NEXT = 1
CHALLENGE_FAIL = -1
CHALLENGE_SUCCESS = 2


class Step(str, Enum):
    """What a state decided for the current frame."""

    CONTINUE = "continue"
    NEXT = "next"
    SUCCESS = "success"
    FAIL = "fail"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class StepResult:
    """A state's decision with its reason.

    ``code`` is a short stable identifier (``"nose.trajectory_error"``) that
    reports group by; ``message`` is a sentence for people.
    """

    step: Step
    code: str | None = None
    message: str | None = None


def Continue(code: str | None = None, message: str | None = None) -> StepResult:
    """Stay in this state; look at the next frame."""
    return StepResult(Step.CONTINUE, code, message)


def Next(code: str | None = None, message: str | None = None) -> StepResult:
    """Move to the state's next state, on the same frame."""
    return StepResult(Step.NEXT, code, message)


def Success(code: str | None = None, message: str | None = None) -> StepResult:
    """The challenge is passed."""
    return StepResult(Step.SUCCESS, code, message)


def Fail(code: str, message: str | None = None) -> StepResult:
    """The challenge is failed; ``code`` says which check failed."""
    return StepResult(Step.FAIL, code, message)


_CODE_TO_STEP = {STATE_CONTINUE: Step.CONTINUE, STATE_NEXT: Step.NEXT,
                 CHALLENGE_SUCCESS: Step.SUCCESS, CHALLENGE_FAIL: Step.FAIL}


def _as_step_result(value: Any, state: str) -> StepResult:
    if isinstance(value, StepResult):
        return value
    if isinstance(value, Step):
        return StepResult(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in _CODE_TO_STEP:
        return StepResult(_CODE_TO_STEP[value])
    raise ChallengeDefinitionError(
        f"state {state!r} returned {value!r}; expected a StepResult (Continue/Next/Success/Fail) "
        "or one of STATE_CONTINUE, STATE_NEXT, CHALLENGE_SUCCESS, CHALLENGE_FAIL")


# --------------------------------------------------------------------------------------------
# frames and context seen by states

class FrameInput:
    """One frame as a state sees it: index, timestamp (ms) and detected faces.

    For ported code, ``frame["timestamp"]`` and ``frame["rekMetadata"]`` (the
    faces as Rekognition JSON) work as in the original.
    """

    __slots__ = ("index", "timestamp", "faces", "_rek")

    def __init__(self, index: int, timestamp: int, faces: Sequence[FaceDetail]) -> None:
        self.index = index
        self.timestamp = timestamp
        self.faces = tuple(faces)
        self._rek: list | None = None

    def __getitem__(self, key: str) -> Any:
        if key == "timestamp":
            return self.timestamp
        if key == "rekMetadata":
            if self._rek is None:
                self._rek = [f.to_rekognition() for f in self.faces]
            return self._rek
        raise KeyError(key)

    def __repr__(self) -> str:
        return f"FrameInput(index={self.index}, timestamp={self.timestamp}, faces={len(self.faces)})"


class Context(dict):
    """Per-run scratch space of a challenge (a ``dict``, as in the original) plus helpers.

    Attributes
    ----------
    config:
        The challenge type's configuration for this run.
    params:
        The challenge params.
    score:
        Optional continuous score a state may set (higher means more like a
        live person); the verdict reports the last value set.
    """

    def __init__(self, config: ChallengeConfig, params: Mapping[str, Any], *,
                 tracing: bool = True) -> None:
        super().__init__()
        self.config = config
        self.params = params
        self.score: float | None = None
        self._measurements: dict[str, Any] = {}
        #: whether :meth:`record` keeps measurements (``False`` when no trace is recorded)
        self.tracing = tracing

    def record(self, **measurements: Any) -> None:
        """Add measurements to the trace row of the current frame and state.

        Does nothing when the run records no trace (``verify_session(..., trace=False)``).
        """
        if self.tracing:
            self._measurements.update(measurements)

    def _take_measurements(self) -> dict[str, Any]:
        m, self._measurements = self._measurements, {}
        return m


# --------------------------------------------------------------------------------------------
# challenge types

StateFunc = Callable[..., Any]


@dataclass(frozen=True)
class State:
    """A named state of a challenge type."""

    name: str
    func: StateFunc
    next_state: str | None = None
    timeout_s: float | None = None  # None: the config's state_timeout_s
    first: bool = False


def _call_adapter(func: Callable[..., Any], max_args: int) -> Callable[..., Any]:
    """Call ``func`` with as many leading positional arguments as it accepts."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return func
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return func
    n = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    if n >= max_args:
        return func  # called with max_args positional arguments: no adapter call per frame
    n = min(n, max_args)
    return lambda *args: func(*args[:n])


class ChallengeType:
    """A challenge type: a params generator, named states and a typed configuration.

    Parameters
    ----------
    name:
        Type name as clients and sessions spell it, e.g. ``"NOSE"``.
    config_class:
        A :class:`ChallengeConfig` subclass holding the type's thresholds.
    description:
        One line for listings.
    random_selection:
        Whether the random type selector may pick this type.
    score_threshold:
        The decision's operating point on the type's score scale: an accepted session
        scores at least this, a rejected one strictly less (the verifier enforces it,
        see :func:`liveness_lab.verify.consistent_score`). Default 0: scores are margins
        of the deciding check.
    params_schema:
        ``{name: Param}`` describing the params the generator writes; sessions
        are checked against it when read (:meth:`check_params`). ``None``: the
        params are not checked.
    listed:
        ``False`` for a type that is a test fixture, not a feature (the test
        suite's ``STILL``): it works when named, but ``challenge-types`` and the
        known names listed by error messages leave it out.
    """

    def __init__(self, name: str, *, config_class: type[ChallengeConfig] = ChallengeConfig,
                 description: str = "", random_selection: bool = True,
                 score_threshold: float = 0.0,
                 params_schema: Mapping[str, Param] | None = None,
                 listed: bool = True) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ChallengeDefinitionError("a challenge type needs a non-empty name")
        if not (isinstance(config_class, type) and issubclass(config_class, ChallengeConfig)):
            raise ChallengeDefinitionError(
                f"config_class of {name} must subclass ChallengeConfig, got {config_class!r}")
        self.name = name
        self.config_class = config_class
        self.description = description
        self.random_selection = random_selection
        try:
            self.score_threshold = float(score_threshold)
        except (TypeError, ValueError):
            raise ChallengeDefinitionError(
                f"score_threshold of {name} must be a number, got {score_threshold!r}") from None
        if not math.isfinite(self.score_threshold):
            raise ChallengeDefinitionError(
                f"score_threshold of {name} must be finite, got {score_threshold!r}")
        self.listed = bool(listed)
        if params_schema is not None and not all(
                isinstance(k, str) and isinstance(v, Param) for k, v in params_schema.items()):
            raise ChallengeDefinitionError(
                f"params_schema of {name} must map field names to Param objects")
        self.params_schema: Mapping[str, Param] | None = (
            None if params_schema is None else MappingProxyType(dict(params_schema)))
        self._params_func: Callable[..., Mapping[str, Any]] | None = None
        self._states: dict[str, State] = {}
        self._first: str | None = None
        self._validated = False

    # -- declaration (decorators) ---------------------------------------------------------
    def params(self, func: Callable[..., Mapping[str, Any]]) -> Callable[..., Mapping[str, Any]]:
        """Register the params generator ``func(client_metadata[, config[, rng]]) -> dict``."""
        self._params_func = _call_adapter(func, 3)
        return func

    def state(self, *, first: bool = False, next_state: str | None = None,
              timeout: float | None = None, name: str | None = None
              ) -> Callable[[StateFunc], StateFunc]:
        """Register a state ``func(params, frame, context)``; its name is the function's name.

        ``timeout`` (seconds) overrides the config's ``state_timeout_s`` for this state.
        """
        def decorator(func: StateFunc) -> StateFunc:
            state_name = name or func.__name__
            if state_name in self._states:
                raise ChallengeDefinitionError(f"{self.name}: state {state_name!r} defined twice")
            if first:
                if self._first is not None:
                    raise ChallengeDefinitionError(
                        f"{self.name}: both {self._first!r} and {state_name!r} are marked first")
                self._first = state_name
            self._states[state_name] = State(state_name, _call_adapter(func, 3), next_state,
                                             timeout, first)
            self._validated = False
            return func
        return decorator

    # -- introspection --------------------------------------------------------------------
    @property
    def states(self) -> Mapping[str, State]:
        return MappingProxyType(self._states)

    @property
    def first_state(self) -> str:
        self.validate()
        return self._first  # type: ignore[return-value]

    def validate(self) -> None:
        """Check the declaration: a params generator, a first state, known next states."""
        if self._validated:
            return
        if self._params_func is None:
            raise ChallengeDefinitionError(f"challenge type {self.name} has no params generator")
        if self._first is None:
            raise ChallengeDefinitionError(f"challenge type {self.name} has no first state")
        for st in self._states.values():
            if st.next_state is not None and st.next_state not in self._states:
                raise ChallengeDefinitionError(
                    f"{self.name}: state {st.name!r} names unknown next state {st.next_state!r}; "
                    f"states: {', '.join(self._states)}")
        self._validated = True

    def default_config(self) -> ChallengeConfig:
        return self.config_class()

    # -- use ------------------------------------------------------------------------------
    def generate_params(self, client_metadata: Mapping[str, Any],
                        config: ChallengeConfig | None = None,
                        rng: ChallengeRandom | None = None) -> dict[str, Any]:
        """New random params for a challenge requested with ``client_metadata``."""
        self.validate()
        config = config or self.default_config()
        return dict(self._params_func(client_metadata, config, rng or SecretsRandom()))  # type: ignore[misc]

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Check recorded ``params`` against :attr:`params_schema` (no schema: accepted).

        Raises :class:`~liveness_lab.errors.ParamsError` naming the field.
        """
        if self.params_schema is not None:
            check_params_schema(self.params_schema, params)

    def __repr__(self) -> str:
        return f"ChallengeType({self.name!r}, states={list(self._states)})"
