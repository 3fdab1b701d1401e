"""Execution engines: where dataset analysis, replay and sweeps run.

An :class:`Engine` maps a picklable function over a list of work items and returns the
results in order, failing fast on the first error. Two engines:

* :class:`ProcessEngine` (``"process"``, the default): a local process pool
  (``workers=1`` runs in this process, handy for debugging and notebooks);
* :class:`DaskEngine` (``"dask"`` or ``"tcp://scheduler:8786"``): Dask distributed, either a
  ``LocalCluster`` started on this machine or an existing cluster, for datasets that
  outgrow one machine. ``docs/evaluation.md`` explains why Dask rather than Ray.

Work items name sessions by their path in the dataset, so with a remote Dask cluster the
dataset directory must be visible at the same path on every worker (a shared filesystem).
Challenge types must be importable in the workers: registered through an entry point or
imported by a module the workers import; a type registered only in the driver process
(e.g. in a notebook) needs ``workers=1``.
"""

from __future__ import annotations

import abc
import logging
import os
from typing import Any, Callable, ClassVar, Sequence

from .errors import ConfigError

__all__ = ["Engine", "ProcessEngine", "DaskEngine", "make_engine", "ENGINE_CHOICES",
           "progress_bar"]


#: What ``--engine`` accepts (besides a scheduler address ``tcp://host:port``).
ENGINE_CHOICES = ("process", "dask")


class Engine(abc.ABC):
    """Runs ``fn(item)`` for every item, possibly elsewhere; results in input order.

    Engines are context managers; :meth:`close` releases workers. An engine may be reused
    for several :meth:`map` calls (a sweep keeps its pool warm).
    """

    name: ClassVar[str] = "engine"

    @abc.abstractmethod
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *,
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
        """``[fn(item) for item in items]``, in parallel; ``on_result`` sees each result.

        The first exception raised by ``fn`` cancels the remaining items and is re-raised.
        """

    @property
    def parallelism(self) -> int:
        """Roughly how many items run at once (used to size chunks)."""
        return 1

    def describe(self) -> str:
        """A short description for logs and tracking params."""
        return self.name

    def close(self) -> None:
        """Release the engine's workers. Safe to call twice."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessEngine(Engine):
    """A local :class:`concurrent.futures.ProcessPoolExecutor` (created on first use).

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: the number of CPUs). ``1`` runs every item in the
        calling process, without a pool.
    """

    name = "process"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or workers < 1):
            raise ConfigError(f"workers must be a positive integer, got {workers!r}")
        self.workers = workers or os.cpu_count() or 1
        self._pool: Any = None

    @property
    def parallelism(self) -> int:
        return self.workers

    def describe(self) -> str:
        return f"process ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *,
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            out = []
            for item in items:
                r = fn(item)
                if on_result is not None:
                    on_result(r)
                out.append(r)
            return out
        from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        futures = [self._pool.submit(fn, item) for item in items]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for f in finished:
                if f.exception() is not None:
                    for p in pending:
                        p.cancel()
                    raise f.exception()  # type: ignore[misc]
                if on_result is not None:
                    on_result(f.result())
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskEngine(Engine):
    """Dask distributed: a local cluster started on demand, or an existing cluster.

    Parameters
    ----------
    address : str, optional
        Scheduler address of an existing cluster (``tcp://host:8786``). Default: start a
        ``LocalCluster`` of worker *processes* on this machine.
    n_workers : int, optional
        Workers of the local cluster (default: the number of CPUs).
    threads_per_worker : int
        Threads per local worker (replay holds the GIL: keep 1).
    client : distributed.Client, optional
        An existing client to use (not closed by :meth:`close`).
    """

    name = "dask"

    def __init__(self, address: str | None = None, *, n_workers: int | None = None,
                 threads_per_worker: int = 1, client: Any = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ConfigError("the dask engine needs Dask distributed: "
                              "pip install 'liveness-lab[dask]'") from None
        self.address = address
        self.n_workers = n_workers or os.cpu_count() or 1
        self.threads_per_worker = threads_per_worker
        self._client = client
        self._owns_client = client is None
        self._cluster: Any = None

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client` (the local cluster starts on first access)."""
        if self._client is None:
            from distributed import Client, LocalCluster
            if self.address:
                try:
                    self._client = Client(self.address, timeout="10s")
                except OSError as e:
                    raise ConfigError(f"cannot reach the Dask scheduler at {self.address}: "
                                      f"{e}") from None
            else:
                self._cluster = LocalCluster(n_workers=self.n_workers, processes=True,
                                             threads_per_worker=self.threads_per_worker,
                                             dashboard_address=None,
                                             silence_logs=logging.CRITICAL)
                self._client = Client(self._cluster)
        return self._client

    @property
    def parallelism(self) -> int:
        if self._client is None and not self.address:
            return self.n_workers * self.threads_per_worker
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> str:
        where = self.address or f"local cluster, {self.n_workers} workers"
        return f"dask ({where})"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *,
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
        from distributed import as_completed
        items = list(items)
        if not items:
            return []
        client = self.client
        futures = client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            for f in as_completed(futures):
                if f.status == "error":
                    error = f.exception()
                    client.cancel(futures)
                    raise error
                r = f.result()
                results[index[f.key]] = r
                if on_result is not None:
                    on_result(r)
        finally:
            for f in futures:
                f.release()
        return results

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
        self._client = None if self._owns_client else self._client
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_engine(spec: "str | Engine | None" = None, *, workers: int | None = None) -> Engine:
    """The engine named by ``spec``: ``"process"`` (default), ``"dask"`` or a scheduler address.

    ``workers`` sizes the process pool or the local Dask cluster. An :class:`Engine` is
    returned unchanged. An unknown name raises :class:`~liveness_lab.errors.ConfigError`.
    """
    if isinstance(spec, Engine):
        return spec
    if spec is None or spec == "process":
        return ProcessEngine(workers)
    if spec == "dask":
        return DaskEngine(n_workers=workers)
    if isinstance(spec, str) and spec.startswith(("tcp://", "tls://", "dask://")):
        return DaskEngine(spec.replace("dask://", "tcp://", 1))
    raise ConfigError(f"unknown engine {spec!r}; use one of {', '.join(ENGINE_CHOICES)} or a "
                      "Dask scheduler address such as tcp://scheduler:8786")


def progress_bar(progress: Any, total: int, desc: str) -> tuple[Any, Callable[[int], None]]:
    """A tqdm bar (``progress=True``) or calls of ``progress(done, total)``; returns (bar, tick)."""
    bar = None
    done = [0]
    if progress is True:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, unit="session", desc=desc, leave=False)

    def tick(n: int) -> None:
        done[0] += n
        if bar is not None:
            bar.update(n)
        elif callable(progress):
            progress(done[0], total)
    return bar, tick
