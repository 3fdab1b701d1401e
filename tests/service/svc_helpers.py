"""Helpers of the service tests: frames, simulated faces, a fake analyzer, a server subprocess."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import cv2
import httpx
import numpy as np

from liveness_lab.analyzers.base import FaceAnalyzer
from liveness_lab.evidence import Evidence
from liveness_lab.faces import FaceDetail
from liveness_lab.service.settings import Settings

with warnings.catch_warnings():  # starlette's TestClient warns that it prefers httpx2
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    from fastapi.testclient import TestClient  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[2]


def jpeg(width: int = 64, height: int = 48, seed: int = 0, quality: int = 80) -> bytes:
    """A small textured JPEG (different for every seed)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def now_ms() -> int:
    return int(time.time() * 1000)


def test_settings(tmp_path: Path, **kw: Any) -> Settings:
    """Settings for in-process tests: recorded analyzer, no rate limit, data under tmp_path.

    The ``seed`` profile (the simulated sessions are checked against its rules) and no
    failure budget, unless a test asks for them.
    """
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "env": "test",
                              "analyzer": "recorded", "create_rate_per_minute": 0,
                              "frame_fsync": False, "profile": "seed",
                              "max_failed_verifies": 0}
    values.update(kw)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  (not a test function)


def simulated_frames(challenge_type: str, params: Mapping[str, Any], *, start_ms: int,
                     species: str | None = None, seed: int = 1
                     ) -> list[tuple[int, tuple[FaceDetail, ...]]]:
    """``(timestamp, faces)`` of a simulated session for ``params``, starting at ``start_ms``.

    The simulator is realistic, so a bona fide session may fail and an attack may
    pass; the first seed from ``seed`` whose offline replay (``run_challenge``
    with the default configuration) passes for bona fide, or fails for an
    attack, is used: the service must then reach the same verdict.
    """
    from liveness_lab.challenges import default_registry
    from liveness_lab.synth.traces import simulate_session
    from liveness_lab.verify import run_challenge

    ctype = default_registry().get(challenge_type)
    for s in range(seed, seed + 50):
        session = simulate_session(challenge_type, params, species=species, seed=s)
        t0 = session.frames[0].timestamp
        frames = [(start_ms + f.timestamp - t0, tuple(f.faces or ())) for f in session.frames]
        if run_challenge(ctype, params, frames).success == (species is None):
            return frames
    raise AssertionError(f"no simulated {species or 'bona fide'} session gives the expected "
                         f"verdict for {params}")


class DigestAnalyzer(FaceAnalyzer):
    """A test double: the faces of each image are looked up by its SHA-256.

    Unknown images have no face. ``delay`` seconds are spent per call;
    ``fail`` makes every call raise an AnalyzerError.
    """

    name = "digest"
    #: a double returns whatever faces its table holds: it can carry any evidence
    provides = frozenset(Evidence)
    calls = 0
    lock = threading.Lock()

    def __init__(self, faces_by_digest: Mapping[str, Sequence[FaceDetail]] | None = None,
                 delay: float = 0.0, fail: bool = False) -> None:
        self.faces_by_digest = dict(faces_by_digest or {})
        self.delay = delay
        self.fail = fail

    def analyze(self, image: Any) -> list[FaceDetail]:
        from liveness_lab.errors import AnalyzerUnavailableError
        with DigestAnalyzer.lock:
            DigestAnalyzer.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise AnalyzerUnavailableError("the test analyzer is down")
        return list(self.faces_by_digest.get(hashlib.sha256(bytes(image)).hexdigest(), ()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``liveness-lab serve`` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None,
                 args: Sequence[str] = ()) -> None:
        self.cwd = Path(cwd)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
        self.env.update(env or {})
        self.env.setdefault("PYTHONPATH", str(REPO))
        self.args = list(args)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.cwd / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "Server":
        self.cwd.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "liveness_lab.service.cli", "serve", "--port",
               str(self.port), "--no-access-log", "--log-level", "warning", *self.args]
        self._log_fh = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=self._log_fh,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not start: {self.log.read_text(errors='replace')}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        fh = getattr(self, "_log_fh", None)
        if fh is not None:
            fh.close()
            self._log_fh = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def percentile(values: Iterable[float], q: float) -> float:
    return float(np.percentile(np.asarray(list(values), dtype=float), q))


# -- sessions without the LivenessLab extension (identity at verify) --------------------------

def rekognition_session(params, start_ms: int):
    """A simulated bona fide NOSE session as Rekognition returns it (no LivenessLab
    extension), cut at the frame that decides it under the service's default rules."""
    from liveness_lab.challenges import default_registry
    from liveness_lab.synth.traces import simulate_session
    from liveness_lab.verify import run_challenge

    registry = default_registry()
    nose = registry.get("NOSE")
    from liveness_lab.config import resolve_configs
    cfg = resolve_configs("recommended", overrides={"NOSE": {"pad_check": False,
                                                             "identity_check": False}}
                          ).for_type(nose)
    for seed in range(1, 80):
        session = simulate_session("NOSE", params, seed=seed)
        t0 = session.frames[0].timestamp
        frames = []
        for f in session.frames:
            faces = tuple(face.replace(extra={k: v for k, v in face.extra.items()
                                              if k != "LivenessLab"}) for face in f.faces or ())
            frames.append((start_ms + f.timestamp - t0, faces))
        result = run_challenge(nose, params, frames, cfg)
        if result.success:
            used = max(r["frame_index"] for r in result.trace.rows) + 1
            if sum(1 for _, fs in frames[:used] if len(fs) == 1) >= 10:
                return frames[:used]
    raise AssertionError("no simulated session passes")


def first_params(tmp_path, seed: int):
    """The params of the first challenge a service with test seed ``seed`` creates."""
    from liveness_lab.service.core import ChallengeService

    with ChallengeService(test_settings(tmp_path / "probe", profile=None,
                                        test_seed=seed)) as probe:
        return probe.create_challenge({"imageWidth": 640, "imageHeight": 480}).params


def analysed(svc):
    """Wait until the background analysis took every uploaded frame: the Stubber answers
    calls in order, so DetectFaces must be done before verify calls CompareFaces."""
    deadline = time.monotonic() + 60
    while svc.pool.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not svc.pool.pending, "frames still waiting for analysis after 60 s"
