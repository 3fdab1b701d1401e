"""The accuracy report (HTML + Markdown + PNG), as a package.

* :mod:`~liveness_lab.evaluation.report.document` - the document model (blocks rendered to
  HTML and Markdown) and formatting;
* :mod:`~liveness_lab.evaluation.report.plots` - DET curves and per-session traces;
* :mod:`~liveness_lab.evaluation.report.sections` - dataset, error-rate tables, failure
  reasons, worst sessions, configuration, definitions;
* :mod:`~liveness_lab.evaluation.report.auditor` - iBeta-style claims, attempt plan, PAI
  species and capture protocol, dev beside test;
* :mod:`~liveness_lab.evaluation.report.build` - :class:`Evaluation` and
  :func:`build_report`, which assembles them.
"""

from __future__ import annotations

from .auditor import IBETA_BPCER_TARGET
from .build import Evaluation, ReportFiles, build_report, recorded_configuration, split_results
from .plots import plot_trace

__all__ = ["Evaluation", "ReportFiles", "build_report", "split_results", "plot_trace",
           "recorded_configuration", "IBETA_BPCER_TARGET"]
