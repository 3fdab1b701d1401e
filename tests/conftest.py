"""Test-suite wide settings."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# In CI, property tests run a fixed set of examples (derandomized): a red build then means a
# regression, not a newly found input. Locally they keep exploring new inputs on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _restore_registered_profiles_and_analyzers():
    """A profile or analyzer a test registers exists for that test only (their lists are
    asserted in error messages)."""
    from liveness_lab import config
    from liveness_lab.analyzers import analyzer_registry

    saved = dict(config._PROFILES)
    analyzers = dict(analyzer_registry._items)
    yield
    config._PROFILES.clear()
    config._PROFILES.update(saved)
    analyzer_registry._items.clear()
    analyzer_registry._items.update(analyzers)
