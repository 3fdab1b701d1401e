"""The liveness-lab studio: a multipage Streamlit app (``streamlit run app.py`` or ``liveness-lab app``).

Pages (``liveness_lab.ui.pages``):

* **Live challenge** - the browser camera sends frames to the challenge service
  (capture component in ``components/capture``), with the challenge drawn over
  the video and live feedback; then the verdict and the landmark traces;
* **Session explorer** - open a dataset, a session file or a live challenge;
  scrub frames with landmarks drawn; re-run the verifier with other thresholds;
* **Evaluation dashboard** - MLflow runs and results files, metrics, DET curves,
  an operating-point slider, per-species breakdown, reports;
* **Record dataset** - record labelled sessions into a dataset folder;
* **About / settings** - the service, challenge types, profiles, paths.

Only this package and the top-level ``app.py`` import Streamlit; the helper
modules :mod:`~liveness_lab.ui.settings`, :mod:`~liveness_lab.ui.service_link`,
:mod:`~liveness_lab.ui.hints`, :mod:`~liveness_lab.ui.tracks`,
:mod:`~liveness_lab.ui.drawing`, :mod:`~liveness_lab.ui.recording` and
:mod:`~liveness_lab.ui.evaluation_data` do not, and importing this package
imports nothing heavy. See ``docs/app.md``.
"""
