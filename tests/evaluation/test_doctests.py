"""The examples in the evaluation modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["metrics", "intervals", "curves", "tracking", "planning",
                                    "aggregate"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"liveness_lab.evaluation.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
