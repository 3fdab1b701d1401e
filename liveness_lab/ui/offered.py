"""Which challenge types the studio offers to people, and which profile it runs live.

**Types.** A registry also holds example and test plugins (the ``CUSTOM``
example walks three states to success on any frames; a test suite's ``STILL``
plugin gets installed by ``make setup``). The studio offers a type when

* it is one of the built-in types a person can take, :data:`STUDIO_TYPES`; or
* its :class:`~liveness_lab.challenges.ChallengeType` object says
  ``user_facing = True`` (a third-party plugin meant for people); or
* the app setting ``LIVENESS_APP_CHALLENGE_TYPES`` names it.

Everything else (``CUSTOM``, plugins without the attribute) stays out of the
Live and Record pages and of About's type list.

**Profile.** :func:`default_live_profile` is the ONE place the studio's live
profile comes from when ``LIVENESS_APP_PROFILE`` (or the service's own
``LIVENESS_PROFILE``) does not choose one: the challenge service's default
profile. No Streamlit here.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

__all__ = ["STUDIO_TYPES", "is_user_facing", "user_facing_types", "default_live_profile"]

#: The built-in challenge types a person can take, in the order the studio lists them.
STUDIO_TYPES: tuple[str, ...] = ("NOSE", "POSE", "BLINK", "HEAD_TURN")


def is_user_facing(name: str, ctype: Any = None, *, extra: Iterable[str] = ()) -> bool:
    """Whether the studio offers the type ``name`` (see the module docstring for the rule).

    >>> is_user_facing("NOSE"), is_user_facing("CUSTOM"), is_user_facing("STILL")
    (True, False, False)
    >>> is_user_facing("STILL", extra=["still"])
    True
    """
    upper = str(name).upper()
    if upper in STUDIO_TYPES or upper in {str(e).upper() for e in extra}:
        return True
    return getattr(ctype, "user_facing", False) is True


def user_facing_types(types: Sequence[Mapping[str, Any]], *, registry: Any = None,
                      extra: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The entries of ``GET /challenge-types`` the studio offers, built-in ones first.

    ``registry`` (default: the default registry) is consulted for a plugin's
    ``user_facing`` attribute; a type it does not know counts as a plugin.
    """
    if registry is None:
        from ..challenges.registry import default_registry

        registry = default_registry()
    extra = tuple(extra)
    out = []
    for t in types:
        name = str(t.get("name", ""))
        try:
            ctype = registry.get(name)
        except Exception:  # only the remote service knows it
            ctype = None
        if is_user_facing(name, ctype, extra=extra):
            out.append(dict(t))
    order = {n: i for i, n in enumerate(STUDIO_TYPES)}
    return sorted(out, key=lambda t: order.get(str(t.get("name", "")).upper(), len(order)))


def default_live_profile() -> str:
    """The profile the studio's live challenges use when no setting chooses one.

    It is the challenge service's default profile (the ``profile`` default of
    :class:`liveness_lab.service.settings.Settings`), so the studio is exactly as
    strict as a service started with no configuration. This is the seam where the
    secure default lands: when the service's default changes, the studio follows.
    """
    from ..service.settings import Settings

    from ..service.startup import secure_default_profile

    default = Settings.model_fields["profile"].default
    if isinstance(default, str) and default:
        return default
    # no profile setting: the service's secure default for its default analyzer
    return secure_default_profile(str(Settings.model_fields["analyzer"].default).lower())
