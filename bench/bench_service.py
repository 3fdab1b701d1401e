"""Load benchmark of the challenge service: concurrent clients, each running a full NOSE challenge.

Starts ``liveness-lab serve`` (uvicorn, one process) on a free port of
127.0.0.1 with a fresh data directory, then N concurrent clients each create
a NOSE challenge, upload F JPEG frames (480 x 480, rendered from a real photo
with :mod:`liveness_lab.synth.render`) and verify. It is run twice:

* ``--analyzer local``: the frames are analyzed by the service (dlib, CPU);
* ``--analyzer recorded``: each frame carries its faces (analyzed once,
  beforehand, by the same local analyzer), so the service only validates,
  stores and replays: the difference is the analysis cost.

It reports p50/p95 latency of frame upload and of verify, the throughput in
frames per second, the number of 5xx answers, and checks that every frame and
every verdict is stored. Two more measurements:

* ``--scaling``: the local analyzer with 1 and 2 analysis workers in processes
  (the default engine) and 2 workers in threads, same run, same load: does
  upload throughput scale with cores?
* ``--rss``: 24 clients each upload one ~9 MB frame at once; the peak resident
  memory of the server (its process and its analyzer processes together).

Run::

    .venv/bin/python bench/bench_service.py                  # both analyzers, 50 x 30
    .venv/bin/python bench/bench_service.py --clients 100 --analyzer local
    .venv/bin/python bench/bench_service.py --scaling --clients 12
    .venv/bin/python bench/bench_service.py --rss

and paste the printed Markdown block into BENCHMARKS.md (section "Service").
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: fixed NOSE params the benchmark frames are rendered for (480 x 480, the original client's max)
FRAME_SIZE = 480


def render_frames(n: int = 30, size: int = FRAME_SIZE, seed: int = 1) -> list[bytes]:
    """``n`` JPEG frames (quality 70, like the original client) of a head turn."""
    import cv2

    from liveness_lab.challenges import SeededRandom
    from liveness_lab.challenges.nose import NOSE
    from liveness_lab.synth.render import render_nose_session

    params = NOSE.generate_params({"imageWidth": size, "imageHeight": size},
                                  rng=SeededRandom(seed))
    frames = render_nose_session(params, mode="head_turn", seed=seed, fps=n / 3.0,
                                 duration_s=3.0)
    out = []
    for _, rgb in frames[:n]:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 70])
        out.append(buf.tobytes())
    return out


def analyze_frames(frames: Sequence[bytes]) -> list[list[dict[str, Any]]]:
    """The local analyzer's faces of each frame (Rekognition JSON), for the recorded run."""
    from liveness_lab.analyzers import create_analyzer

    analyzer = create_analyzer("local", descriptors=True)  # as the service's default builds it
    return [[f.to_rekognition() for f in analyzer.analyze(data)] for data in frames]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m liveness_lab.service.cli serve`` in a subprocess."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
        self.env.update(env)
        self.env["PYTHONPATH"] = str(REPO) + os.pathsep + self.env.get("PYTHONPATH", "")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "liveness_lab.service.cli", "serve", "--port", str(self.port),
             "--no-access-log", "--log-level", "warning"],
            cwd=self.workdir, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited: "
                                   + (self.workdir / "server.log").read_text(errors="replace"))
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "log", None) is not None:
            self.log.close()
            self.log = None


@dataclass
class LoadResult:
    """What one load run measured."""

    analyzer: str
    clients: int
    frames_per_client: int
    wall_s: float = 0.0
    upload_ms: list[float] = field(default_factory=list)
    verify_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    challenges: list[dict[str, Any]] = field(default_factory=list)
    cpu_http: float = float("nan")      # CPU s of the server's HTTP process (--scaling)
    cpu_analysis: float = float("nan")  # CPU s of its analyzer processes
    analysis: dict[str, int] = field(default_factory=dict)  # frames analyzed / not

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    @property
    def frames_per_s(self) -> float:
        return len(self.upload_ms) / self.wall_s if self.wall_s else float("nan")

    def pct(self, values: Sequence[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    def row(self) -> str:
        return (f"| {self.analyzer} | {self.clients} x {self.frames_per_client} | "
                f"{self.pct(self.upload_ms, 50):.1f} | {self.pct(self.upload_ms, 95):.1f} | "
                f"{self.pct(self.verify_ms, 50):.1f} | {self.pct(self.verify_ms, 95):.1f} | "
                f"{self.frames_per_s:.0f} | {self.wall_s:.1f} | {self.server_errors} |")


def run_load(base_url: str, frames: Sequence[bytes], *, clients: int = 50,
             faces: Sequence[Any] | None = None, analyzer: str = "local",
             timeout: float = 120.0, size: int = FRAME_SIZE) -> LoadResult:
    """``clients`` threads, each: create a NOSE challenge, upload ``frames``, verify.

    Speaks only the original contract (plus ``faces`` for the recorded analyzer).
    """
    import base64

    encoded = [base64.b64encode(f).decode("ascii") for f in frames]
    result = LoadResult(analyzer, clients, len(frames))
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def note(status: int) -> None:
        with lock:
            result.statuses[status] = result.statuses.get(status, 0) + 1

    def client(k: int) -> None:
        uploads, verify = [], None
        with httpx.Client(base_url=base_url, timeout=timeout) as http:
            barrier.wait()
            try:
                r = http.post("/challenge", json={"imageWidth": size, "imageHeight": size})
                note(r.status_code)
                if r.status_code != 200:
                    raise RuntimeError(f"create: {r.status_code} {r.text[:200]}")
                ch = r.json()
                t0 = int(time.time() * 1000)
                for i, data in enumerate(encoded):
                    body: dict[str, Any] = {"token": ch["token"], "timestamp": t0 + 100 * i,
                                            "frameBase64": data}
                    if faces is not None:
                        body["faces"] = faces[i]
                    start = time.perf_counter()
                    r = http.put(f"/challenge/{ch['id']}/frame", json=body)
                    uploads.append((time.perf_counter() - start) * 1000)
                    note(r.status_code)
                    if r.status_code != 200:
                        raise RuntimeError(f"frame {i}: {r.status_code} {r.text[:200]}")
                start = time.perf_counter()
                r = http.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
                verify = (time.perf_counter() - start) * 1000
                note(r.status_code)
                if r.status_code != 200:
                    raise RuntimeError(f"verify: {r.status_code} {r.text[:200]}")
                with lock:
                    result.challenges.append({"id": ch["id"], "token": ch["token"],
                                              "type": ch["type"],
                                              "success": r.json()["success"]})
            except Exception as e:
                with lock:
                    result.errors.append(f"client {k}: {e}")
            finally:
                with lock:
                    result.upload_ms.extend(uploads)
                    if verify is not None:
                        result.verify_ms.append(verify)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    result.wall_s = time.perf_counter() - start
    return result


def check_stored(base_url: str, result: LoadResult) -> list[str]:
    """Problems found when reading every challenge back (empty when all is stored)."""
    problems = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for ch in result.challenges:
            r = http.get(f"/challenge/{ch['id']}", params={"trace": "false"},
                         headers={"X-Challenge-Token": ch["token"]})
            if r.status_code != 200:
                problems.append(f"{ch['id']}: GET {r.status_code}")
                continue
            d = r.json()
            if d["frameCount"] != result.frames_per_client:
                problems.append(f"{ch['id']}: {d['frameCount']} frames stored")
            if d["status"] != "verified" or d["success"] is not ch["success"]:
                problems.append(f"{ch['id']}: status {d['status']}, success {d['success']}")
            if d["analyzedCount"] > d["frameCount"] or d["analyzedCount"] == 0:
                problems.append(f"{ch['id']}: {d['analyzedCount']} analyzed")
    return problems


def verify_latency_after_analysis(base_url: str, frames: Sequence[bytes], n: int = 30,
                                  size: int = FRAME_SIZE) -> list[float]:
    """Verify latency (ms) of ``n`` challenges whose frames were all analyzed before verify."""
    import base64

    out = []
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for _ in range(n):
            ch = http.post("/challenge", json={"imageWidth": size, "imageHeight": size}).json()
            t0 = int(time.time() * 1000)
            for i, data in enumerate(frames):
                http.put(f"/challenge/{ch['id']}/frame",
                         json={"token": ch["token"], "timestamp": t0 + 100 * i,
                               "frameBase64": base64.b64encode(data).decode()})
            while True:  # every frame analyzed, or skipped after the deciding frame
                d = http.get(f"/challenge/{ch['id']}", params={"trace": "false"},
                             headers={"X-Challenge-Token": ch["token"]}).json()
                if d["analyzedCount"] == d["frameCount"] or \
                        http.get("/health").json()["pendingAnalyses"] == 0:
                    break
                time.sleep(0.02)
            start = time.perf_counter()
            http.post(f"/challenge/{ch['id']}/verify", json={"token": ch["token"]})
            out.append((time.perf_counter() - start) * 1000)
    return out


def tree_rss_bytes(pid: int, *, children: bool = True) -> int:
    """Resident memory of ``pid`` and (``children``) all its descendants (Linux ``/proc``)."""
    if not children:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(children.get(p, []))
    return total


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by ``pid`` and each of its descendants
    (Linux ``/proc``), by process id."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo, tick = {}, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
        todo.extend(parents.get(p, []))
    return out


def big_frame(target_bytes: int = 9 * 1024 * 1024) -> tuple[bytes, int, int]:
    """A JPEG of about ``target_bytes`` (noise, 3840 x 2160, under the 8.3 Mpx limit)."""
    import cv2

    rng = np.random.default_rng(0)
    width, height = 3840, 2160
    img = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    for quality in (95, 90, 85, 80, 75, 70, 60):
        data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        if len(data) <= target_bytes * 1.1:
            break
    return data, width, height


def run_rss(clients: int = 24) -> dict[str, Any]:
    """``clients`` concurrent uploads of one ~9 MB frame each; the server tree's peak RSS."""
    import base64

    data, width, height = big_frame()
    encoded = base64.b64encode(data).decode("ascii")
    workdir = Path(tempfile.mkdtemp(prefix="liveness-bench-rss-"))
    server = ServerProcess(workdir, server_env("local")).start()
    peak = {"rss": 0, "idle": 0, "main": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], tree_rss_bytes(server.proc.pid))
            peak["main"] = max(peak["main"], tree_rss_bytes(server.proc.pid, children=False))
            time.sleep(0.05)

    statuses: dict[int, int] = {}
    lock = threading.Lock()
    try:
        time.sleep(2.0)
        peak["idle"] = tree_rss_bytes(server.proc.pid)
        with httpx.Client(base_url=server.url, timeout=60) as http:
            challenges = [http.post("/challenge", json={"imageWidth": width,
                                                        "imageHeight": height}).json()
                          for _ in range(clients)]
        barrier = threading.Barrier(clients)

        def upload(ch: dict[str, Any]) -> None:
            with httpx.Client(base_url=server.url, timeout=600) as http:
                barrier.wait()
                r = http.put(f"/challenge/{ch['id']}/frame",
                             json={"token": ch["token"], "timestamp": int(time.time() * 1000),
                                   "frameBase64": encoded})
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=upload, args=(ch,)) for ch in challenges]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        with httpx.Client(base_url=server.url, timeout=60) as http:  # analyses drain too
            while http.get("/health").json()["pendingAnalyses"]:
                time.sleep(0.1)
        stop.set()
        sampler.join()
    finally:
        stop.set()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"clients": clients, "frame_bytes": len(data), "size": f"{width}x{height}",
            "idle_mb": peak["idle"] / 2**20, "peak_mb": peak["rss"] / 2**20,
            "main_peak_mb": peak["main"] / 2**20,
            "wall_s": wall, "statuses": statuses}


#: side-by-side configurations of the local analyzer: label -> server environment
SCALING = (("processes, 1 worker", {"LIVENESS_ANALYSIS_WORKERS": "1",
                                    "LIVENESS_ANALYSIS_ENGINE": "process"}),
           ("processes, 2 workers", {"LIVENESS_ANALYSIS_WORKERS": "2",
                                     "LIVENESS_ANALYSIS_ENGINE": "process"}),
           ("threads, 2 workers", {"LIVENESS_ANALYSIS_WORKERS": "2",
                                   "LIVENESS_ANALYSIS_ENGINE": "thread"}))
IDENTITY = (("descriptor on every frame", {"LIVENESS_ANALYZER_OPTIONS": '{"descriptors": true}'}),
            ("descriptors at verify (default)", {}))


def run_configs(frames: Sequence[bytes], clients: int,
                configs: Sequence[tuple[str, dict[str, str]]]) -> list[tuple[str, LoadResult]]:
    """The local analyzer under the same load, once per configuration, one after another."""
    out = []
    for label, extra in configs:
        workdir = Path(tempfile.mkdtemp(prefix="liveness-bench-scale-"))
        server = ServerProcess(workdir, server_env("local", **extra)).start()
        try:
            pid = server.proc.pid  # type: ignore[union-attr]
            before = tree_cpu_seconds(pid)
            result = run_load(server.url, frames, clients=clients, analyzer="local")
            after = tree_cpu_seconds(pid)
            problems = check_stored(server.url, result) + result.errors
            result.analysis = analysis_counts(workdir)
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        used = {p: after[p] - before.get(p, 0.0) for p in after}
        result.cpu_http = used.get(pid, 0.0)
        result.cpu_analysis = sum(v for p, v in used.items() if p != pid)
        print(f"{label}: {'ok' if not problems else problems[:3]}; statuses "
              f"{result.statuses}; CPU s: HTTP process {result.cpu_http:.1f}, analyzer "
              f"processes {result.cpu_analysis:.1f}; frames {result.analysis}",
              file=sys.stderr)
        out.append((label, result))
    return out


def analysis_counts(workdir: Path) -> dict[str, int]:
    """Frames of the run the analysis saved (``analyzed``) and left without faces (``not
    analyzed``: skipped because their challenge was decided, or never reached), from the
    SQLite challenge store the server left in ``workdir``."""
    import sqlite3
    counts = {"analyzed": 0, "not analyzed": 0}
    for db in workdir.rglob("*.sqlite3"):
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            for (faces,) in con.execute("SELECT faces FROM frames"):
                counts["analyzed" if faces is not None else "not analyzed"] += 1
            con.close()
        except sqlite3.Error:
            continue
    return counts


def server_env(analyzer: str, **extra: str) -> dict[str, str]:
    env = {"LIVENESS_ENV": "test", "LIVENESS_ANALYZER": analyzer,
           "LIVENESS_CREATE_RATE_PER_MINUTE": "0", "LIVENESS_CHALLENGE_TYPES": "NOSE",
           "LIVENESS_VERIFY_TIMEOUT_S": "300", "LIVENESS_VERIFY_STALE_AFTER_S": "400",
           "LIVENESS_TOKEN_TTL_S": "900", "LIVENESS_MAX_FAILED_VERIFIES": "0"}
    env.update(extra)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--analyzer", choices=["local", "recorded", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2, help="LIVENESS_ANALYSIS_WORKERS")
    parser.add_argument("--scaling", action="store_true",
                        help="only: local analyzer, 1 vs 2 workers in processes, 2 in threads")
    parser.add_argument("--identity", action="store_true",
                        help="only: local analyzer, descriptors on every frame vs at verify")
    parser.add_argument("--rss", action="store_true",
                        help="only: 24 concurrent ~9 MB frames, peak server RSS")
    args = parser.parse_args(argv)
    if args.rss:
        r = run_rss()
        print(f"\nMeasured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU(s): "
              f"{r['clients']} concurrent uploads of one {r['frame_bytes'] / 2**20:.1f} MiB "
              f"JPEG ({r['size']}) each, default settings (local analyzer in 2 processes, "
              f"2 large frame uploads at a time): server RSS (process + analyzer processes) idle "
              f"{r['idle_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB (target < 600 MB; the "
              f"HTTP process alone peaked at {r['main_peak_mb']:.0f} MB); "
              f"statuses {r['statuses']}; uploads took {r['wall_s']:.1f} s.")
        print("\nCommand: `.venv/bin/python bench/bench_service.py --rss`")
        return 0 if r["peak_mb"] < 600 and set(r["statuses"]) == {200} else 1
    frames = render_frames(args.frames)
    if args.scaling or args.identity:
        configs = SCALING if args.scaling else IDENTITY
        results = run_configs(frames, args.clients, configs)
        what = ("1 vs 2 workers, processes vs threads" if args.scaling else
                "2 worker processes; identity evidence per frame vs at verify")
        print(f"\nMeasured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU(s), same run, "
              f"local analyzer, secure default profile (identity check on), {what}, "
              f"{args.clients} clients x {len(frames)} frames, one uvicorn process.\n")
        print("| analysis | upload p50 ms | upload p95 ms | verify p50 ms | verify p95 ms | "
              "frames/s | wall s | 5xx | frames analyzed / not | CPU s: HTTP process | "
              "CPU s: analyzers | analyzer CPU ms / frame |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, r in results:
            done = r.analysis.get("analyzed", 0)
            print(f"| {label} | {r.pct(r.upload_ms, 50):.1f} | {r.pct(r.upload_ms, 95):.1f} | "
                  f"{r.pct(r.verify_ms, 50):.1f} | {r.pct(r.verify_ms, 95):.1f} | "
                  f"{r.frames_per_s:.1f} | {r.wall_s:.1f} | {r.server_errors} | "
                  f"{done} / {r.analysis.get('not analyzed', 0)} | {r.cpu_http:.1f} | "
                  f"{r.cpu_analysis:.1f} | "
                  f"{1000 * r.cpu_analysis / done if done else float('nan'):.0f} |")
        one, two = results[0][1].frames_per_s, results[1][1].frames_per_s
        ratio = ("2 vs 1 worker (processes)" if args.scaling else
                 "descriptors at verify vs on every frame")
        print(f"\n{ratio}: x{two / one:.2f} frames/s. Load average "
              f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs).")
        flag = "--scaling" if args.scaling else "--identity"
        print(f"\nCommand: `.venv/bin/python bench/bench_service.py {flag} --clients "
              f"{args.clients}`")
        return 0
    analyzers = ["local", "recorded"] if args.analyzer == "both" else [args.analyzer]
    faces = analyze_frames(frames) if "recorded" in analyzers else None
    rows, idle = [], {}
    ok = True
    for name in analyzers:
        workdir = Path(tempfile.mkdtemp(prefix=f"liveness-bench-{name}-"))
        server = ServerProcess(workdir, server_env(
            name, LIVENESS_ANALYSIS_WORKERS=str(args.workers))).start()
        try:
            result = run_load(server.url, frames, clients=args.clients,
                              faces=faces if name == "recorded" else None, analyzer=name)
            problems = check_stored(server.url, result) + result.errors
            if name == "local":
                idle[name] = verify_latency_after_analysis(server.url, frames, 20)
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        rows.append(result.row())
        status = "ok" if not problems and not result.server_errors else "PROBLEMS"
        ok &= status == "ok"
        print(f"{name}: {status}; statuses {result.statuses}; "
              f"{len(result.challenges)} verdicts stored", file=sys.stderr)
        for p in problems[:10]:
            print("  " + p, file=sys.stderr)
    cpu = platform.processor() or platform.machine()
    print(f"\nMeasured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU(s) ({cpu}), "
          f"Python {platform.python_version()}, one uvicorn process, "
          f"{args.workers} analysis threads, SQLite + local frames directory (fsync on).\n")
    print("| analyzer | clients x frames | upload p50 ms | upload p95 ms | verify p50 ms | "
          "verify p95 ms | frames/s | wall s | 5xx |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)
    if idle:
        v = idle["local"]
        print(f"\nVerify of a 30-frame challenge whose frames are already analyzed (local "
              f"analyzer, server idle, {len(v)} runs): p50 {statistics.median(v):.1f} ms, "
              f"p95 {float(np.percentile(v, 95)):.1f} ms.")
    print("\nCommand: `.venv/bin/python bench/bench_service.py"
          + (f" --clients {args.clients}" if args.clients != 50 else "")
          + (f" --frames {args.frames}" if args.frames != 30 else "") + "`")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
