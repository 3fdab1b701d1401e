"""CUSTOM: the original's sample of a custom challenge type, ported as an example.

Its params are the client metadata; it walks three states to success. (In the
original sample, ``second_state`` named itself as its next state, so the run
never reached ``last_state`` and verification always returned false; we follow
the documented intent - three states to success - and say so in
``docs/challenges.md``.)
"""

from __future__ import annotations

from typing import Any, Mapping

from .framework import CHALLENGE_SUCCESS, STATE_NEXT, ChallengeType

__all__ = ["CUSTOM"]

CUSTOM = ChallengeType("CUSTOM", description="example plugin: walks three states to success",
                       random_selection=False)


@CUSTOM.params
def custom_params(client_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The client metadata, copied."""
    return dict(client_metadata)


@CUSTOM.state(first=True, next_state="second_state")
def first_state(params: Mapping[str, Any], frame: Any, context: Any) -> int:
    return STATE_NEXT


@CUSTOM.state(next_state="last_state")
def second_state(params: Mapping[str, Any], frame: Any, context: Any) -> int:
    return STATE_NEXT


@CUSTOM.state()
def last_state(params: Mapping[str, Any], frame: Any, context: Any) -> int:
    return CHALLENGE_SUCCESS
