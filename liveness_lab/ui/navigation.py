"""The studio's pages as ``st.Page`` objects, grouped for ``st.navigation``.

``app.py`` (and the packaged entry :mod:`liveness_lab.ui.studio`) do::

    configure_page()
    st.navigation(studio_pages()).run()
"""

from __future__ import annotations

import importlib
from typing import Callable, NamedTuple

import streamlit as st

__all__ = ["PageSpec", "PAGE_SPECS", "PAGE_ICON", "studio_pages", "page_for", "configure_page"]


class PageSpec(NamedTuple):
    """One page: its module under ``liveness_lab.ui.pages``, title, icon, URL path, section.

    The first page (Live challenge) is the default one, at the app's root URL.
    """

    name: str
    title: str
    icon: str
    url_path: str
    section: str


#: The studio's favicon: an emoji, rendered locally (no network).
PAGE_ICON = "🙂"

PAGE_SPECS: tuple[PageSpec, ...] = (
    PageSpec("live", "Live challenge", ":material/videocam:", "live", "Challenges"),
    PageSpec("record", "Record dataset", ":material/fiber_manual_record:", "record",
             "Challenges"),
    PageSpec("explorer", "Session explorer", ":material/manage_search:", "explorer",
             "Analysis"),
    PageSpec("evaluation", "Evaluation dashboard", ":material/monitoring:", "evaluation",
             "Analysis"),
    PageSpec("about", "About & settings", ":material/info:", "about", "Studio"),
)


def _render_function(name: str) -> Callable[[], None]:
    module = importlib.import_module(f"liveness_lab.ui.pages.{name}")
    return module.render


def page_for(name: str) -> "st.Page":
    """The ``st.Page`` of page ``name`` (``live``, ``record``, ``explorer``, ``evaluation``, ``about``)."""
    for spec in PAGE_SPECS:
        if spec.name == name:
            default = spec is PAGE_SPECS[0]
            # the default page is served at the app's root URL (Streamlit ignores its url_path)
            return st.Page(_render_function(spec.name), title=spec.title, icon=spec.icon,
                           url_path=None if default else spec.url_path, default=default)
    raise ValueError(f"unknown page {name!r}; pages: {', '.join(s.name for s in PAGE_SPECS)}")


def studio_pages() -> dict[str, list["st.Page"]]:
    """Every page, by section, for ``st.navigation``; the Live challenge page is the default."""
    sections: dict[str, list[st.Page]] = {}
    for spec in PAGE_SPECS:
        sections.setdefault(spec.section, []).append(page_for(spec.name))
    return sections


def configure_page() -> None:
    """``st.set_page_config`` of the studio (wide layout, title, icon).

    The favicon is an emoji (Streamlit draws it as an inline SVG): a Material icon
    as favicon is fetched from fonts.gstatic.com, which fails offline. The sidebar
    starts collapsed on phone-size screens (``auto``) so it does not cover the page.
    """
    st.set_page_config(page_title="liveness-lab studio", page_icon=PAGE_ICON,
                       layout="wide", initial_sidebar_state="auto")
