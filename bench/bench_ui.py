"""Studio benchmark: explorer redraws and the dataset-wide re-run, in real headless Chromium.

Usage (from the repo root, in the project venv; needs Debian's chromium):

    python bench/bench_ui.py [--sessions 1000] [--edits 8] [--data bench/.data]
                             [--baseline /path/to/another/checkout]

1. Generates a NOSE dataset of about ``--sessions`` simulated sessions with recorded faces
   (``liveness_lab.synth.traces``, seed 7; cached under ``--data``).
2. Starts ``liveness-lab app`` on 127.0.0.1 with that dataset under its project folder and
   opens the Session explorer in headless Chromium (``/usr/bin/chromium``, via playwright).
3. Times, from the browser, what a researcher waits for:

   * a **threshold edit** (``min_dist`` typed, Enter) until the edited verdict shows it;
   * a **frame step** (the Step button) until the frame caption changes;
   * a **full-page rerun** for comparison (the source switch, outside the fragments);
   * the **re-run of the edited thresholds over the whole dataset** (button) until the
     misclassified list is on the page, noting that the progress bar was shown.

4. Times the same dataset-wide re-run in-process
   (:func:`liveness_lab.ui.explorer_data.rerun_sessions`, unedited + edited).

With ``--baseline CHECKOUT`` a second app runs from that checkout (another branch, say
``/work/main``) on the same dataset, and the browser timings alternate between the two
apps round by round, so both sets are measured side by side under the same load.

Prints a Markdown block for BENCHMARKS.md (medians; the machine's load at start and end).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
NOSE_CLASSES = 7


def dataset(data_dir: Path, sessions: int, seed: int) -> Path:
    from liveness_lab.synth.traces import generate_dataset

    per_class = math.ceil(sessions / NOSE_CLASSES)
    out = data_dir / f"nose-{per_class}x{NOSE_CLASSES}-seed{seed}"
    if not (out / "manifest.csv").is_file():
        t = time.perf_counter()
        generate_dataset(out, sessions_per_class=per_class, seed=seed, challenge_types=("NOSE",))
        print(f"generated {out} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(project: Path, port: int, repo: Path = REPO) -> subprocess.Popen:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
    env.update(LIVENESS_APP_PROJECT_DIR=str(project), LIVENESS_DATA_DIR=str(project / "svc"),
               LIVENESS_ANALYZER="recorded", PYTHONPATH=str(repo))
    log = (project / "studio.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "liveness_lab.ui.cli", "app", "--port",
                             str(port)], cwd=project, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("the app did not start")


def stop_app(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _cpu_by_process() -> dict[int, tuple[int, float]]:
    """``{pid: (parent pid, CPU seconds used: user + system)}`` of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            s = (d / "stat").read_text()
        except OSError:
            continue
        f = s[s.rfind(")") + 2:].split()
        out[int(d.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / tick)
    return out


def tree_cpu(root: int, table: dict[int, tuple[int, float]] | None = None) -> float:
    """CPU seconds used so far by ``root``'s live descendants (not ``root`` itself)."""
    table = _cpu_by_process() if table is None else table
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    total, todo = 0.0, list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        total += table[pid][1]
        todo += kids.get(pid, [])
    return total


def cpu_split(app_pid: int) -> tuple[float, float]:
    """(CPU s of the app: its CLI process and what it started, CPU s of everything else this
    script started: playwright's driver and Chromium), so far."""
    table = _cpu_by_process()
    app = tree_cpu(app_pid, table) + table.get(app_pid, (0, 0.0))[1]
    return app, tree_cpu(os.getpid(), table) - app


def browser_timings(url: str, edits: int, profile_dir: Path, *, first_value: float = 0.11,
                    rerun: bool = True, app_pid: int | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"edit": [], "step": [], "full": [], "edit_cpu_app": [], "edit_cpu_browser": []}
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM, headless=True,
            viewport={"width": 1400, "height": 1900},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            t = time.perf_counter()
            page.goto(f"{url}/explorer")
            page.locator("[data-testid=ll-verdict]").nth(1).wait_for(timeout=180_000)
            out["first_load"] = time.perf_counter() - t
            page.get_by_text("NOSE thresholds, by step").click()
            box = page.get_by_label("min dist", exact=True)
            box.wait_for(timeout=30_000)
            for i in range(edits):
                value = str(round(first_value + 0.01 * i, 2))  # the seed default is 0.1
                box.fill(value)
                page.wait_for_timeout(300)   # the browser settles (CPU counted from here)
                cpu0 = cpu_split(app_pid) if app_pid else None
                t = time.perf_counter()
                box.press("Enter")
                page.get_by_text(f"min_dist={value}").first.wait_for(timeout=30_000)
                out["edit"].append(time.perf_counter() - t)
                if cpu0:
                    page.wait_for_timeout(300)   # what the browser still draws after the text
                    cpu1 = cpu_split(app_pid)
                    out["edit_cpu_app"].append(cpu1[0] - cpu0[0])
                    out["edit_cpu_browser"].append(cpu1[1] - cpu0[1])
            for i in range(edits):
                before = page.locator("[data-testid='stImage']").first.inner_text()
                t = time.perf_counter()
                page.get_by_role("button", name="Step", exact=True).click()
                page.wait_for_function(
                    "prev => { const e = document.querySelector(\"[data-testid='stImage']\");"
                    " return e && e.innerText !== prev; }", arg=before, timeout=30_000)
                out["step"].append(time.perf_counter() - t)
            if not rerun:
                return out
            # full-page reruns, for comparison: back to "Dataset" from "Session file" (the
            # source switch is outside the fragments; the session itself stays loaded)
            for i in range(3):
                page.get_by_text("Session file", exact=True).first.click()
                page.get_by_placeholder("datasets/recorded/sessions/rec-…/session.json").wait_for(timeout=60_000)
                t = time.perf_counter()
                page.get_by_text("Dataset", exact=True).first.click()
                page.locator("[data-testid=ll-verdict]").nth(1).wait_for(timeout=60_000)
                page.get_by_text(re.compile(r"^\d+ of \d+ sessions$")).first.wait_for()
                out["full"].append(time.perf_counter() - t)
            # the whole dataset
            page.get_by_text("min_dist=").first.wait_for(timeout=30_000)
            button = page.get_by_role("button", name=re.compile("^Re-run seed"))
            t = time.perf_counter()
            button.click()
            saw_progress = False
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                if page.locator("[data-testid='stProgress']").count():
                    saw_progress = True
                if page.locator("[data-testid='stMetric']", has_text="Attacks accepted").count():
                    break
                page.wait_for_timeout(100)
            out["rerun"] = time.perf_counter() - t
            out["progress_seen"] = saw_progress
            metric = page.locator("[data-testid='stMetric']", has_text="Sessions").first
            out["rerun_sessions"] = metric.inner_text().split()[-1]
            out["changed"] = page.locator(
                "[data-testid='stMetric']", has_text="Decisions changed").first.inner_text()
        except Exception:
            page.screenshot(path=str(profile_dir.parent / "bench-ui-failure.png"))
            import shutil
            shutil.copy(profile_dir.parent / "bench-ui-failure.png", "/tmp/bench-ui-failure.png")
            raise
        finally:
            ctx.close()
    return out


def in_process_rerun(ds: Path) -> dict:
    from liveness_lab.ui.explorer_data import load_sessions, rerun_sessions, rerun_summary

    t = time.perf_counter()
    sessions = load_sessions(ds, challenge_type="NOSE")
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    base = rerun_sessions(sessions, profile="seed")
    edited = rerun_sessions(sessions, profile="seed", overrides={"NOSE": {"min_dist": 0.13}},
                            baseline=base)
    rerun_s = time.perf_counter() - t
    return {"sessions": len(sessions), "load_s": load_s, "rerun_s": rerun_s,
            "summary": rerun_summary(edited)}


def _project(root: Path, ds: Path) -> Path:
    (root / "datasets").mkdir(parents=True)
    (root / "datasets" / ds.name).symlink_to(ds.resolve(), target_is_directory=True)
    return root


def side_by_side(ds: Path, baseline: Path, edits: int, tmp: Path, rounds: int = 2) -> dict:
    """Edit and step timings of this checkout's app and ``baseline``'s, alternating."""
    apps = {"this checkout": REPO, f"baseline ({baseline})": baseline}
    procs, urls = {}, {}
    out: dict = {name: {"edit": [], "step": [], "edit_cpu_app": [], "edit_cpu_browser": []}
                 for name in apps}
    try:
        for k, (name, repo) in enumerate(apps.items()):
            port = free_port()
            procs[name] = start_app(_project(tmp / f"app{k}", ds), port, repo)
            urls[name] = f"http://127.0.0.1:{port}"
        for r in range(rounds):
            names = list(apps) if r % 2 == 0 else list(apps)[::-1]
            for name in names:
                b = browser_timings(urls[name], edits, tmp / f"chromium-{r}-{len(names)}"
                                    f"-{names.index(name)}", first_value=0.11 + 0.01 * edits * r,
                                    rerun=False, app_pid=procs[name].pid)
                for k in ("edit", "step", "edit_cpu_app", "edit_cpu_browser"):
                    out[name][k] += b[k]
    finally:
        for proc in procs.values():
            stop_app(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--edits", type=int, default=8)
    ap.add_argument("--data", type=Path, default=REPO / "bench" / ".data")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another checkout whose app is timed side by side with this one")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("needs Debian's chromium at /usr/bin/chromium")
    load0 = os.getloadavg()[0]
    ds = dataset(args.data, args.sessions, 7)
    local = in_process_rerun(ds)
    with tempfile.TemporaryDirectory() as tmp:
        pair = side_by_side(ds, args.baseline.resolve(), args.edits, Path(tmp) / "pair") \
            if args.baseline else None
        project = _project(Path(tmp) / "main", ds)
        port = free_port()
        proc = start_app(project, port)
        try:
            b = browser_timings(f"http://127.0.0.1:{port}", args.edits, project / "chromium",
                                first_value=0.31)
        finally:
            stop_app(proc)
    load1 = os.getloadavg()[0]
    med = statistics.median
    command = f"python bench/bench_ui.py --sessions {args.sessions} --edits {args.edits}" + (
        f" --baseline {args.baseline}" if args.baseline else "")
    print(f"### Studio: Session explorer on a {local['sessions']}-session NOSE dataset\n")
    print(f"Command: `{command}` "
          "(headless Chromium via playwright, `liveness-lab app` on 127.0.0.1; simulated "
          "sessions with recorded faces, seed 7). Load "
          f"{load0:.1f} at the start, {load1:.1f} at the end.\n")
    if pair:
        print("Side by side (the two apps timed in alternating rounds, same dataset, same load):"
              "\n")
        print("| app | edit a threshold: median (s) | runs (s) | CPU per edit, app (s) | "
              "CPU per edit, browser (s) | step one frame: median (s) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, xs in pair.items():
            print(f"| {name} | {med(xs['edit']):.2f} | "
                  f"{', '.join(f'{x:.2f}' for x in xs['edit'])} | "
                  f"{med(xs['edit_cpu_app']):.3f} | {med(xs['edit_cpu_browser']):.3f} | "
                  f"{med(xs['step']):.2f} |")
        print("\nCPU per edit: medians of the CPU seconds the app's processes (Streamlit, the "
              "in-process service) and the browser's (playwright's driver, Chromium) used from "
              "Enter until 0.3 s after the edited verdict showed; unlike the wall-clock time it "
              "does not grow with the machine's load.\n")
    print("| what the researcher does | until | median (s) | runs (s) |")
    print("| --- | --- | --- | --- |")
    rows = [("edit a threshold (`min_dist`, Enter)", "the edited verdict shows it", b["edit"]),
            ("step one frame (Step button)", "the frame caption changes", b["step"]),
            ("switch the source back to Dataset (full-page rerun, for comparison)",
             "both verdicts drawn again", b["full"])]
    for what, until, xs in rows:
        print(f"| {what} | {until} | {med(xs):.2f} | {', '.join(f'{x:.2f}' for x in xs)} |")
    print(f"| open the explorer (first load) | both verdicts drawn | {b['first_load']:.1f} | - |")
    print(f"| re-run the edit over the dataset ({b['rerun_sessions']} sessions) | the "
          f"misclassified list | {b['rerun']:.1f} | progress bar shown: "
          f"{'yes' if b['progress_seen'] else 'no'} |")
    print(f"\nIn-process, the same re-run (`explorer_data.rerun_sessions`, unedited + edited "
          f"profile, {local['sessions']} sessions): {local['rerun_s']:.1f} s, after "
          f"{local['load_s']:.1f} s reading the sessions (cached by the page after the first "
          f"re-run). With `min_dist=0.13`: {local['summary']}.\n")
    print(f"Target: a threshold edit redraws in under 0.5 s: "
          f"{'met' if med(b['edit']) < 0.5 else 'NOT met'} (median {med(b['edit']):.2f} s).")


if __name__ == "__main__":
    main()
