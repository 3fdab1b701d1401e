"""One small registry mechanism shared by every plugin family.

A :class:`Registry` maps names to objects: explicit :meth:`Registry.register`,
optional discovery of third-party plugins through a package entry-point group,
and a lookup error that lists the names it knows. A broken third-party plugin
emits a :class:`PluginWarning` and is skipped; it never crashes the caller.
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

__all__ = ["Registry", "PluginWarning"]


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded; it was skipped."""


class Registry(Generic[T]):
    """Named plugins of one family.

    Parameters
    ----------
    family:
        Human name used in messages ("challenge type", "analyzer").
    entry_point_group:
        Entry-point group scanned by :meth:`discover`, e.g. ``"liveness_lab.challenges"``.
    not_found:
        Exception class raised by :meth:`get` for an unknown name.
    normalize:
        Maps a user-given name to the registry key (e.g. ``str.upper``).
    accept:
        Turns what an entry point loads into a list of plugins, or raises
        ``TypeError`` with a sentence saying what was expected.
    name_of:
        Returns the registry name of a plugin object.
    listed:
        Whether a plugin is shown in listings (:meth:`listed`) and in the names an
        unknown-name error lists (default: all). Unlisted plugins still work when named.
    """

    def __init__(self, family: str, *, entry_point_group: str | None,
                 not_found: type[Exception], name_of: Callable[[T], str],
                 normalize: Callable[[str], str] = lambda s: s,
                 accept: Callable[[object], list[T]] | None = None,
                 listed: Callable[[T], bool] | None = None) -> None:
        self.family = family
        self.entry_point_group = entry_point_group
        self._not_found = not_found
        self._name_of = name_of
        self._normalize = normalize
        self._accept = accept or (lambda obj: [obj])  # type: ignore[list-item]
        self._listed = listed or (lambda _plugin: True)
        self._items: dict[str, T] = {}
        self._discovered = False

    # -- registration ---------------------------------------------------------------------
    def register(self, plugin: T, *, replace: bool = False) -> T:
        """Register ``plugin`` under its name; a clash raises unless ``replace``."""
        key = self._normalize(self._name_of(plugin))
        if key in self._items and not replace and self._items[key] is not plugin:
            raise ValueError(f"a {self.family} named {key!r} is already registered; "
                             "pass replace=True to override it")
        self._items[key] = plugin
        return plugin

    def unregister(self, name: str) -> None:
        self._items.pop(self._normalize(name), None)

    def discover(self) -> list[str]:
        """Load plugins from the entry-point group (once). Returns the names added.

        A plugin that fails to import or is of the wrong kind is skipped with a
        :class:`PluginWarning` naming the entry point and the error.
        """
        added: list[str] = []
        if self._discovered or not self.entry_point_group:
            return added
        self._discovered = True
        for ep in entry_points(group=self.entry_point_group):
            try:
                plugins = self._accept(ep.load())
                for plugin in plugins:
                    key = self._normalize(self._name_of(plugin))
                    if key in self._items:
                        warnings.warn(f"{self.family} plugin {ep.name!r} ({ep.value}) redefines "
                                      f"{key!r}, which is already registered; keeping the first",
                                      PluginWarning, stacklevel=2)
                        continue
                    self._items[key] = plugin
                    added.append(key)
            except Exception as e:  # a broken plugin must not crash the host
                warnings.warn(f"skipping {self.family} plugin {ep.name!r} ({ep.value}): "
                              f"{type(e).__name__}: {e}", PluginWarning, stacklevel=2)
        return added

    # -- lookup ---------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """The plugin called ``name``; an unknown name raises, listing the known ones."""
        key = self._normalize(name) if isinstance(name, str) else name
        try:
            return self._items[key]  # type: ignore[index]
        except (KeyError, TypeError):
            known = ", ".join(k for k in sorted(self._items)
                              if self._listed(self._items[k])) or "none"
            raise self._not_found(f"unknown {self.family} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._normalize(name) in self._items

    def names(self) -> list[str]:
        """Every registered name, listed or not."""
        return sorted(self._items)

    def listed(self) -> list[T]:
        """The plugins shown in listings, sorted by name (see ``listed`` above)."""
        return [p for p in self if self._listed(p)]

    def __iter__(self) -> Iterator[T]:
        return iter([self._items[k] for k in sorted(self._items)])

    def __len__(self) -> int:
        return len(self._items)
