"""Experiment tracking with MLflow - the only module of liveness-lab that imports mlflow.

Defaults keep everything inside the project directory, no server needed:

* tracking store: the SQLite file ``./mlflow.db`` (``sqlite:///<absolute path>``);
* artifacts: ``./mlartifacts/<experiment>/`` (set per experiment when it is created).

One MLflow **experiment per study** (a sweep file's ``study`` name, or ``demo``); a sweep
is a parent run with one **nested run** per configuration (MLflow's
``mlflow.parentRunId`` tag). Runs carry params (profile, every threshold as
``type.key``, analyzer, dataset path and fingerprint, engine), metrics (``dev.*`` /
``test.*``, see :func:`liveness_lab.evaluation.metrics.flatten_metrics`) and artifacts
(per-session ``results.csv``, DET plot, the report). Browse them with
``liveness-lab mlflow-ui`` or ``mlflow ui --backend-store-uri sqlite:///mlflow.db``.

Also here, because tracking needs them: :func:`code_version` and
:func:`dataset_fingerprint` (neither imports mlflow).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ConfigError

__all__ = ["DEFAULT_DB", "DEFAULT_ARTIFACTS", "default_tracking_uri", "code_version",
           "dataset_fingerprint", "quiet_mlflow", "Tracker", "RunLogger", "source_tags",
           "lock_file", "load_run", "run_params", "mlflow_ui_command"]

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"

_MAX_PARAM_CHARS = 500


def default_tracking_uri(project_dir: str | os.PathLike = ".") -> str:
    """``sqlite:///<absolute project dir>/mlflow.db``."""
    return "sqlite:///" + str((Path(project_dir) / DEFAULT_DB).resolve())


def _is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def code_version() -> str:
    """The package version plus ``git describe --always --dirty`` when run from a checkout.

    Never raises: without git, or outside a repository, it is the package version alone.

    >>> code_version().startswith(__import__("liveness_lab").__version__)
    True
    """
    from .. import __version__
    package = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=package,
                             capture_output=True, text=True, timeout=10)
        # only describe the checkout this package lives in, not a repository around a venv
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != package.parent:
            return __version__
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=package,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return __version__
    desc = out.stdout.strip()
    if out.returncode != 0 or not desc:
        return __version__
    return f"{__version__}+git.{desc}"


def _checkout() -> Path | None:
    """The repository checkout this package lives in, or ``None`` (installed, no git)."""
    package = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=package,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != package.parent:
        return None
    return package.parent


def _git(*args: str) -> str | None:
    root = _checkout()
    if root is None:
        return None
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def source_tags(entry_point: str) -> dict[str, str]:
    """MLflow's standard source tags for a run started by ``entry_point``.

    ``mlflow.source.name`` (the entry point, e.g. ``liveness-lab sweep FILE``),
    ``mlflow.source.type`` (``LOCAL``) and, from a git checkout of this repository,
    ``mlflow.source.git.commit`` / ``mlflow.source.git.branch``. Never raises.
    """
    tags = {"mlflow.source.name": entry_point, "mlflow.source.type": "LOCAL"}
    commit = _git("rev-parse", "HEAD")
    if commit:
        tags["mlflow.source.git.commit"] = commit
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags["mlflow.source.git.branch"] = branch
    return tags


def lock_file() -> Path | None:
    """The project's pinned dependency lock (``requirements-dev.lock``), when run from a
    checkout that has it; ``None`` otherwise."""
    root = _checkout()
    lock = root / "requirements-dev.lock" if root is not None else None
    return lock if lock is not None and lock.is_file() else None


def dataset_fingerprint(dataset_dir: str | os.PathLike, *, length: int = 12) -> str:
    """A short SHA-256 hex digest of a dataset's ``manifest.csv`` and session files.

    The manifest's bytes, then for each listed session (in manifest order) its relative
    path and its file's bytes, streamed. The same files give the same fingerprint on any
    machine. Frame *images* referenced by sessions are not hashed (their analysis, when
    recorded in the session files, is).
    """
    from ..sessions import read_manifest

    root = Path(dataset_dir)
    entries = read_manifest(root)
    h = hashlib.sha256()
    h.update((root / "manifest.csv").read_bytes())
    for e in entries:
        h.update(b"\0" + e.path.encode("utf-8") + b"\0")
        with (root / e.path).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:length]


def quiet_mlflow() -> None:
    """Silence MLflow's and alembic's INFO logging (database migrations, run links)."""
    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def _no_progress_bar() -> Iterator[None]:
    """Turn off MLflow's artifact download progress bar for the duration of a download."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "experiment"


def _param_value(v: Any) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= _MAX_PARAM_CHARS else s[:_MAX_PARAM_CHARS - 3] + "..."


class Tracker:
    """A thin, explicit wrapper around :class:`mlflow.MlflowClient`.

    Parameters
    ----------
    tracking_uri : str, optional
        Any MLflow tracking URI; default :func:`default_tracking_uri` of ``project_dir``.
    project_dir : path
        Where the default ``mlflow.db`` and ``mlartifacts/`` live.
    artifact_root : path, optional
        Parent directory of new experiments' artifact locations (default
        ``<project_dir>/mlartifacts``); used for local stores only (a remote server
        manages its own artifacts).
    """

    def __init__(self, tracking_uri: str | None = None, *, project_dir: str | os.PathLike = ".",
                 artifact_root: str | os.PathLike | None = None) -> None:
        from mlflow import MlflowClient
        quiet_mlflow()

        self.tracking_uri = tracking_uri or default_tracking_uri(project_dir)
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        self.artifact_root = Path(artifact_root or Path(project_dir) / DEFAULT_ARTIFACTS).resolve()
        try:
            with warnings.catch_warnings():  # SQLAlchemy deprecations inside MLflow's store
                warnings.simplefilter("ignore", DeprecationWarning)
                self.client = MlflowClient(tracking_uri=self.tracking_uri)
                self.client.search_experiments(max_results=1)  # open (and migrate) the store now
        except Exception as e:  # mlflow raises assorted types for a bad URI
            raise ConfigError(f"cannot open the MLflow tracking store {self.tracking_uri}: "
                              f"{e}") from None

    # -- experiments and runs --------------------------------------------------------------
    def experiment(self, name: str, *, description: str | None = None) -> str:
        """The id of experiment ``name``, created (or restored) if needed."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        location = None
        if _is_local(self.tracking_uri):
            location = (self.artifact_root / _safe_name(name)).as_uri()
        tags = {"mlflow.note.content": description} if description else None
        return self.client.create_experiment(name, artifact_location=location, tags=tags)

    def start_run(self, experiment_id: str, name: str, *, parent: str | None = None,
                  tags: Mapping[str, str] | None = None) -> str:
        """Start a run (nested under ``parent`` when given); returns its id."""
        t = dict(tags or {})
        if parent:
            t["mlflow.parentRunId"] = parent
        run = self.client.create_run(experiment_id, run_name=name, tags=t)
        return run.info.run_id

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    @contextlib.contextmanager
    def run(self, experiment_id: str, name: str, *, parent: str | None = None,
            tags: Mapping[str, str] | None = None) -> Iterator[str]:
        """``with tracker.run(exp, "name") as run_id:`` - ends FAILED on an exception."""
        run_id = self.start_run(experiment_id, name, parent=parent, tags=tags)
        try:
            yield run_id
        except KeyboardInterrupt:
            self.end_run(run_id, "KILLED")
            raise
        except BaseException:
            self.end_run(run_id, "FAILED")
            raise
        self.end_run(run_id)

    # -- logging ---------------------------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log params (values as strings, long values truncated), 100 per batch."""
        from mlflow.entities import Param
        items = [Param(str(k), _param_value(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i:i + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], *, step: int = 0) -> None:
        """Log finite metrics (``nan`` and infinities are skipped), 1000 per batch."""
        from mlflow.entities import Metric
        now = int(time.time() * 1000)
        items = [Metric(str(k), float(v), now, step) for k, v in metrics.items()
                 if v is not None and math.isfinite(float(v))]
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i:i + 1000])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        for k, v in tags.items():
            self.client.set_tag(run_id, k, _param_value(v))

    def log_artifact(self, run_id: str, path: str | os.PathLike,
                     artifact_path: str | None = None) -> None:
        """Log a file, or every file of a directory (keeping its layout)."""
        p = Path(path)
        if p.is_dir():
            self.client.log_artifacts(run_id, str(p), artifact_path=artifact_path)
        else:
            self.client.log_artifact(run_id, str(p), artifact_path=artifact_path)


class RunLogger:
    """The one run logger of sweeps and studies: a parent run with nested runs.

    Wraps a :class:`Tracker`, or nothing: with ``tracker=None`` every method does nothing
    and returns ``None``, so callers never test whether tracking is on.

    Parameters
    ----------
    tracker:
        Where runs go, or ``None`` (no tracking).
    study:
        The experiment (one per study).
    description:
        Shown on the experiment.
    """

    def __init__(self, tracker: "Tracker | None", study: str, *,
                 description: str | None = None) -> None:
        self.tracker = tracker
        self.study = study
        self.description = description
        self.experiment_id: str | None = None
        self.parent: str | None = None
        self.children: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return self.tracker is not None

    def start(self, name: str, *, role: str, params: Mapping[str, Any],
              tags: Mapping[str, str] | None = None) -> str | None:
        """Start the parent run (``liveness_lab.role = role``) and log its params."""
        if self.tracker is None:
            return None
        self.experiment_id = self.tracker.experiment(self.study, description=self.description)
        self.parent = self.tracker.start_run(self.experiment_id, name,
                                             tags={"liveness_lab.role": role, **(tags or {})})
        self.tracker.log_params(self.parent, params)
        return self.parent

    def child(self, key: str, name: str, *, role: str, params: Mapping[str, Any],
              metrics: Mapping[str, float], artifacts: Sequence[tuple[Path, str | None]] = (),
              tags: Mapping[str, str] | None = None) -> str | None:
        """One nested run, complete (params, metrics, artifacts), ended FINISHED."""
        if self.tracker is None:
            return None
        with self.tracker.run(self.experiment_id, name, parent=self.parent,  # type: ignore[arg-type]
                              tags={"liveness_lab.role": role, **(tags or {})}) as rid:
            self.tracker.log_params(rid, params)
            self.tracker.log_metrics(rid, metrics)
            for path, where in artifacts:
                self.tracker.log_artifact(rid, path, artifact_path=where)
        self.children[key] = rid
        return rid

    def parent_params(self, params: Mapping[str, Any]) -> None:
        if self.tracker is not None and self.parent:
            self.tracker.log_params(self.parent, params)

    def parent_metrics(self, metrics: Mapping[str, float]) -> None:
        if self.tracker is not None and self.parent:
            self.tracker.log_metrics(self.parent, metrics)

    def tags(self, run_id: str | None, tags: Mapping[str, Any]) -> None:
        if self.tracker is not None and run_id:
            self.tracker.set_tags(run_id, tags)

    def artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        """Log a file or directory on the parent run."""
        if self.tracker is not None and self.parent:
            self.tracker.log_artifact(self.parent, path, artifact_path=artifact_path)

    def environment(self) -> None:
        """The lock file on the parent run (``environment/requirements-dev.lock``)."""
        lock = lock_file()
        if lock is not None:
            self.artifact(lock, "environment")
        self.tags(self.parent, {"liveness_lab.lock_file": "environment/requirements-dev.lock"
                                if lock is not None else "not found (installed package)"})

    def finish(self, status: str = "FINISHED") -> None:
        if self.tracker is not None and self.parent:
            self.tracker.end_run(self.parent, status)

    def describe(self) -> str:
        if self.tracker is None:
            return "tracking off"
        return f"MLflow: experiment {self.study!r} ({self.tracker.tracking_uri}), parent run " \
               f"{self.parent}"


def load_run(run: str, *, tracking_uri: str | None = None, project_dir: str | os.PathLike = ".",
             dst: str | os.PathLike) -> dict[str, Any]:
    """Fetch a run's params, tags and ``results.csv`` artifact (for reports).

    Parameters
    ----------
    run : str
        A run id, or ``runs:/<run id>``.
    dst : path
        Where the artifact is downloaded.

    Returns
    -------
    dict
        ``{"run_id", "run_name", "experiment", "params", "tags", "metrics", "results_path"}``.

    Raises
    ------
    ConfigError
        No such run, or the run has no ``results.csv`` artifact.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    quiet_mlflow()

    run_id = run[len("runs:/"):].strip("/") if run.startswith("runs:/") else run
    uri = tracking_uri or default_tracking_uri(project_dir)
    client = MlflowClient(tracking_uri=uri)
    try:
        r = client.get_run(run_id)
    except MlflowException:
        raise ConfigError(f"no MLflow run {run_id!r} in {uri}") from None
    names = {a.path for a in client.list_artifacts(run_id)}
    if "results.csv" not in names:
        raise ConfigError(f"MLflow run {run_id} has no results.csv artifact (artifacts: "
                          f"{', '.join(sorted(names)) or 'none'})")
    Path(dst).mkdir(parents=True, exist_ok=True)
    with _no_progress_bar():
        local = client.download_artifacts(run_id, "results.csv", str(dst))
    exp = client.get_experiment(r.info.experiment_id)
    return {"run_id": run_id, "run_name": r.info.run_name, "experiment": exp.name,
            "params": dict(r.data.params), "tags": dict(r.data.tags),
            "metrics": dict(r.data.metrics), "results_path": local}


def run_params(run_id: str, *, tracking_uri: str | None = None,
               project_dir: str | os.PathLike = ".") -> dict[str, str]:
    """The params of one run (e.g. the selected trial of a sweep)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    quiet_mlflow()
    client = MlflowClient(tracking_uri=tracking_uri or default_tracking_uri(project_dir))
    try:
        return dict(client.get_run(run_id).data.params)
    except MlflowException:
        raise ConfigError(f"no MLflow run {run_id!r}") from None


def mlflow_ui_command(*, tracking_uri: str | None = None, project_dir: str | os.PathLike = ".",
                      host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> list[str]:
    """The ``mlflow ui`` command line for the project's store (artifacts served from it).

    ``workers``: server processes (MLflow's default is 4; one is plenty for a person
    browsing on a small machine).
    """
    import sys
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    uri = tracking_uri or default_tracking_uri(project_dir)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", host, "--port", str(port), "--workers", str(workers)]
    if _is_local(uri):
        cmd += ["--default-artifact-root",
                (Path(project_dir) / DEFAULT_ARTIFACTS).resolve().as_uri()]
    return cmd
