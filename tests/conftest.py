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
def _restore_registered_profiles():
    """A profile a test registers exists for that test only (profile lists are asserted)."""
    from liveness_lab import config

    saved = dict(config._PROFILES)
    yield
    config._PROFILES.clear()
    config._PROFILES.update(saved)
