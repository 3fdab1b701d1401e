"""Fixtures of the studio's AppTest tests: the app's in-process service and a project folder."""

from __future__ import annotations

import pytest

import ui_helpers
from liveness_lab.ui.service_link import InProcessService


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The app's challenge service for these tests (recorded analyzer: frames carry faces)."""
    svc = InProcessService(ui_helpers.recorded_settings(tmp_path_factory.mktemp("svc"))).start()
    ui_helpers.IN_PROCESS = svc
    yield svc
    ui_helpers.IN_PROCESS = None
    svc.stop()


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project directory for the app (reports, datasets, mlflow.db), remote-service mode off."""
    monkeypatch.delenv("LIVENESS_APP_SERVICE_URL", raising=False)
    monkeypatch.setenv("LIVENESS_APP_PROJECT_DIR", str(tmp_path))
    return tmp_path
