"""The evaluation bench: replay datasets, metrics with intervals, sweeps, tracking, reports.

Modules (import the one you need; nothing heavy is imported here):

* :mod:`~liveness_lab.evaluation.replay` - dataset -> per-session results table
* :mod:`~liveness_lab.evaluation.dataset_cache` - columnar cache of a dataset's sessions
* :mod:`~liveness_lab.evaluation.metrics` - ISO/IEC 30107-3 metrics and operating points
  (pure: numpy in, numbers out)
* :mod:`~liveness_lab.evaluation.aggregate` - results table -> frozen metric records
  (``compute_metrics``)
* :mod:`~liveness_lab.evaluation.intervals` - Wilson, Clopper-Pearson and subject-grouped
  bootstrap intervals
* :mod:`~liveness_lab.evaluation.planning` - exact binomial claims and attempt plans
* :mod:`~liveness_lab.evaluation.species` - PAI species descriptions
* :mod:`~liveness_lab.evaluation.curves` - DET curves, EER
* :mod:`~liveness_lab.evaluation.devtest` - dev -> eval tables like ``bob pad metrics``, EPC
* :mod:`liveness_lab.engines` - process pool and Dask execution engines (shared with analysis)
* :mod:`~liveness_lab.evaluation.sweep` - sweep files from ``experiments/*.yaml``
* :mod:`~liveness_lab.evaluation.runs` - ``run_sweep`` and ``run_study``
* :mod:`~liveness_lab.evaluation.tracking` - MLflow tracking (the only module importing mlflow)
* :mod:`~liveness_lab.evaluation.report` - the accuracy report (HTML + Markdown + PNG)
"""
