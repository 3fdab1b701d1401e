"""The evaluation bench: replay datasets, metrics with intervals, sweeps, tracking, reports.

Modules (import the one you need; nothing heavy is imported here):

* :mod:`~liveness_lab.evaluation.replay` - dataset -> per-session results table
* :mod:`~liveness_lab.evaluation.dataset_cache` - columnar cache of a dataset's sessions
* :mod:`~liveness_lab.evaluation.metrics` - ISO/IEC 30107-3 metrics and operating points
* :mod:`~liveness_lab.evaluation.intervals` - Wilson and subject-grouped bootstrap intervals
* :mod:`~liveness_lab.evaluation.curves` - DET curves, EER
* :mod:`liveness_lab.engines` - process pool and Dask execution engines (shared with analysis)
* :mod:`~liveness_lab.evaluation.sweep` - parameter sweeps from ``experiments/*.yaml``, studies
* :mod:`~liveness_lab.evaluation.tracking` - MLflow tracking (the only module importing mlflow)
* :mod:`~liveness_lab.evaluation.report` - the accuracy report (HTML + Markdown + PNG)
"""
