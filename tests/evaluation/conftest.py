"""Shared fixtures of the evaluation bench tests: one small synthetic dataset per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """A trace-level synthetic NOSE + POSE dataset with subjects and train/dev/test splits."""
    from liveness_lab.synth.traces import generate_dataset
    return generate_dataset(tmp_path_factory.mktemp("eval") / "ds", sessions_per_class=8,
                            seed=5, profile="seed")


@pytest.fixture(scope="session")
def small_results(small_dataset):
    """Results of ``small_dataset`` under the seed profile (in this process)."""
    from liveness_lab.evaluation.replay import evaluate_dataset
    return evaluate_dataset(small_dataset, profile="seed", workers=1)
