"""Challenge types: the plugin API, the registry and the built-in types.

Write a plugin with :class:`ChallengeType` and its decorators, register it with
``default_registry().register(MY_TYPE)`` or expose it through the
``liveness_lab.challenges`` entry-point group of your package.
"""

from .framework import (CHALLENGE_FAIL, CHALLENGE_SUCCESS, STATE_CONTINUE, STATE_NEXT,
                        ChallengeConfig, ChallengeRandom, ChallengeType, Context, Continue, Fail,
                        FrameInput, Next, SecretsRandom, SeededRandom, State, Step, StepResult,
                        Success, image_size)
from .registry import (ENTRY_POINT_GROUP, ChallengeRegistry, builtin_registry, default_registry,
                       select_challenge_type)

__all__ = [
    "ChallengeType", "ChallengeConfig", "State", "Step", "StepResult", "Continue", "Next",
    "Success", "Fail", "FrameInput", "Context", "STATE_CONTINUE", "STATE_NEXT",
    "CHALLENGE_SUCCESS", "CHALLENGE_FAIL", "ChallengeRandom", "SecretsRandom", "SeededRandom",
    "ChallengeRegistry", "default_registry", "builtin_registry", "select_challenge_type",
    "ENTRY_POINT_GROUP", "image_size",
]
