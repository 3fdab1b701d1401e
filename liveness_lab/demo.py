"""The main job behind ``make demo``: the bundled benchmark, evaluated and reported.

1. generate the benchmark, one dataset per compared profile, each recorded with that
   profile's own clients (``seed``: the original's protocol, POSE decided on a single
   photo; ``recommended``: POSE filmed, every type and species), trace-level synthetic
   sessions plus a small image-level NOSE set rendered from real photos;
2. replay each dataset under its profile, log both to MLflow (``./mlflow.db``) and write
   ``reports/demo/report.html`` and ``report.md``, which say what each profile ran on.

Runs on the embedded defaults only: no AWS account, no network. Re-running reuses the
generated datasets when their recipe is unchanged, and the analysis cache makes the image
frames free the second time.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Mapping, Sequence

from ._paths import check_output_dir
from .analyzers import DEFAULT_ANALYZER

__all__ = ["run_demo", "ensure_dataset", "DEMO_PROFILES", "protocol_of"]

_STAMP = ".liveness-lab-demo.json"
_LAYOUT = {"layout": "one dataset per profile"}
#: The profiles the demo compares: the original's rules and the project's best.
DEMO_PROFILES: tuple[str, ...] = ("seed", "recommended")

_PROTOCOLS: Mapping[str, str] = {
    "seed": "the original clients' protocol: NOSE and POSE, POSE decided on a single photo, "
            "NOSE frames uploaded only in the nose step; the original bench's attack species",
}


def protocol_of(profile: str) -> str:
    """One sentence saying what sessions ``profile`` is evaluated on in the demo."""
    if profile in _PROTOCOLS:
        return _PROTOCOLS[profile]
    from .synth.traces import _bench
    bench = _bench(profile)
    return (f"the {profile} clients' protocol: {', '.join(bench.default_types)} with params "
            f"from its configs (POSE filmed when they ask for several frames), every attack "
            f"species" + (", faces with simulated descriptors" if bench.descriptors else
                          ", faces as DetectFaces returns them"))


def ensure_dataset(out_dir: Path, *, sessions_per_class: int, seed: int,
                   image_sessions: int = 0, profile: str | None = None) -> bool:
    """Generate a demo dataset for ``profile`` in ``out_dir`` unless the same recipe is there.

    The sessions are recorded with ``profile``'s own clients
    (:func:`liveness_lab.synth.traces.generate_dataset`; default: the default
    profile). Returns ``True`` when it generated. Only a directory this function
    created (it holds a stamp file) is ever replaced; any other non-empty
    directory is an error.
    """
    from tqdm.auto import tqdm

    from .config import DEFAULT_PROFILE
    from .synth.render import add_image_sessions
    from .synth.traces import generate_dataset

    profile = profile or DEFAULT_PROFILE
    recipe = {"generator": "liveness_lab.synth.traces", "profile": profile,
              "sessions_per_class": sessions_per_class,
              "seed": seed, "image_sessions": image_sessions}
    stamp = out_dir / _STAMP
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == recipe and (out_dir / "manifest.csv").is_file():
                return False
        except (OSError, ValueError):
            pass
        shutil.rmtree(out_dir)
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} exists and was not made by the demo; choose another --out")
    with tqdm(unit="session", desc=f"generate traces ({profile})", leave=False) as bar:
        generate_dataset(out_dir, sessions_per_class=sessions_per_class, seed=seed,
                         profile=profile, progress=bar.update)
    if image_sessions:
        with tqdm(total=image_sessions, unit="session", desc="render images", leave=False) as bar:
            add_image_sessions(out_dir, image_sessions, seed=seed, progress=bar.update)
    stamp.write_text(json.dumps(recipe))
    return True


def _prepare_root(out_dir: Path) -> None:
    """``out_dir`` holds one dataset per profile; replace an older demo layout, refuse others."""
    stamp = out_dir / _STAMP
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == _LAYOUT:
                return
        except (OSError, ValueError):
            pass
        shutil.rmtree(out_dir)  # an earlier demo's single dataset
    elif out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"{out_dir} exists and was not made by the demo; choose another --out")
    check_output_dir(out_dir, "--out")
    stamp.write_text(json.dumps(_LAYOUT))


def _split_counts(df) -> str:
    counts = df["split"].fillna("").astype(str).replace("", "none").value_counts()
    return ", ".join(f"{name} {int(counts[name])}" for name in ("train", "dev", "test", "none")
                     if name in counts)


def run_demo(*, out_dir: Path, sessions_per_class: int = 100, seed: int = 2024,
             image_sessions: int = 12, workers: int | None = None,
             results_dir: Path = Path("reports/demo"),
             profiles: Sequence[str] = DEMO_PROFILES, tracking: bool = True) -> int:
    """Generate the benchmark, evaluate each profile on its own sessions, log, write the report.

    ``out_dir/<profile>/`` holds the dataset of each profile (recorded with its own
    clients, see :func:`protocol_of`). Returns the process exit code.
    """
    from .config import get_profile
    from .evaluation.metrics import as_summary
    from .evaluation.replay import format_summary, read_results
    from .evaluation.sweep import run_study
    from .synth.traces import dataset_size

    t0 = time.perf_counter()
    profiles = list(dict.fromkeys(profiles))
    for prof in profiles:
        get_profile(prof)  # an unknown name fails now, listing the known ones
    if isinstance(sessions_per_class, bool) or not isinstance(sessions_per_class, int) \
            or sessions_per_class < 1:
        raise ValueError(f"--sessions-per-class must be a positive integer, got "
                         f"{sessions_per_class!r}")
    if isinstance(image_sessions, bool) or not isinstance(image_sessions, int) \
            or image_sessions < 0:
        raise ValueError(f"--image-sessions must be a non-negative integer, got "
                         f"{image_sessions!r}")
    out_dir, results_dir = Path(out_dir), Path(results_dir)
    check_output_dir(results_dir, "--reports")  # fail before the long work, not after
    _prepare_root(out_dir)
    datasets = {prof: out_dir / prof for prof in profiles}
    print(f"[1/2] benchmark in {out_dir}: one dataset per profile, each recorded with that "
          f"profile's clients (seed {seed})", flush=True)
    for prof in profiles:
        n = dataset_size(sessions_per_class, None, prof)
        print(f"      {prof}: {n} trace-level sessions ({sessions_per_class} per class) + "
              f"{image_sessions} NOSE sessions rendered from real photos; "
              f"{protocol_of(prof)}", flush=True)
        if not ensure_dataset(datasets[prof], sessions_per_class=sessions_per_class, seed=seed,
                              image_sessions=image_sessions, profile=prof):
            print("      (reusing the dataset generated earlier with the same recipe)",
                  flush=True)
    print(f"[2/2] replaying each dataset under its profile ({', '.join(profiles)}); recorded "
          f"faces are replayed as such, image frames go through the {DEFAULT_ANALYZER} analyzer "
          "(cached)",
          flush=True)
    notes = ["Each configuration is evaluated on sessions of its own protocol: "
             + "; ".join(f"{prof} on {datasets[prof]} ({protocol_of(prof)})"
                         for prof in profiles) + "."]
    from .analysis import DEFAULT_CACHE_PATH
    from .evaluation.runs import ReplayOptions
    from .evaluation.tracking import Tracker
    result = run_study(out_dir, profiles=profiles, out_dir=results_dir, study="demo",
                       tracker=Tracker() if tracking else None,
                       replay=ReplayOptions(workers=workers, cache_path=DEFAULT_CACHE_PATH),
                       datasets=datasets, notes=notes,
                       log=lambda m: print(f"      {m}", flush=True))
    for prof in profiles:
        df = read_results(results_dir / f"results-{prof}.csv")
        m = result.metrics[prof]
        print(f"\n--- profile {prof} on its own sessions ({datasets[prof]}), analyzer "
              f"{DEFAULT_ANALYZER} for image frames ---")
        print(f"    sessions by split: {_split_counts(df)}; metrics below on the test split "
              f"({m['overall']['n_sessions']} sessions, subjects disjoint from dev); dev sets "
              "the report's operating thresholds; train is not used by fixed profiles")
        print(format_summary(as_summary(m)))
    print(f"\ndone in {time.perf_counter() - t0:.0f} s")
    print(f"report:        {result.report.html}  (and {result.report.markdown})")
    if tracking:
        print("MLflow runs:   liveness-lab mlflow-ui   (then open http://127.0.0.1:5000)")
    print("Streamlit app: liveness-lab app   (or: streamlit run app.py)")
    return 0
