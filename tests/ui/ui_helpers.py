"""Helpers of the studio tests: a challenge service on a free port, simulated sessions, AppTest."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from liveness_lab.analyzers.base import FaceAnalyzer
from liveness_lab.evidence import Evidence
from liveness_lab.faces import FaceDetail
from liveness_lab.service.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def jpeg(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A small textured JPEG, different for every seed."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def recorded_settings(data_dir: Path, **kw: Any) -> Settings:
    """Service settings for tests: the recorded analyzer (frames carry their faces), no rate limit."""
    values: dict[str, Any] = {"data_dir": data_dir, "env": "test", "analyzer": "recorded",
                              "create_rate_per_minute": 0, "max_failed_verifies": 0,
                              "frame_fsync": False,
                              "client_challenge_selection": True,
                              "profile": "seed"}  # the simulated sessions follow seed's rules
    values.update(kw)
    return Settings(**values)


def simulated_frames(challenge_type: str, params: Mapping[str, Any], *, start_ms: int,
                     species: str | None = None, seed: int = 1
                     ) -> list[tuple[int, tuple[FaceDetail, ...]]]:
    """``(timestamp, faces)`` of a simulated session that the offline verifier decides as expected.

    Bona fide (``species=None``) must pass, an attack must fail; the first seed from
    ``seed`` that does so is used.
    """
    from liveness_lab.challenges import default_registry
    from liveness_lab.synth.traces import simulate_session
    from liveness_lab.verify import run_challenge

    ctype = default_registry().get(challenge_type)
    for s in range(seed, seed + 60):
        session = simulate_session(challenge_type, params, species=species, seed=s)
        t0 = session.frames[0].timestamp
        frames = [(start_ms + f.timestamp - t0, tuple(f.faces or ())) for f in session.frames]
        if run_challenge(ctype, params, frames).success == (species is None):
            return frames
    raise AssertionError(f"no simulated {species or 'bona fide'} session gives the expected "
                         f"verdict for {params}")


def push_frames(url: str, challenge: Mapping[str, Any],
                frames: Sequence[tuple[int, Sequence[FaceDetail]]]) -> list[dict[str, Any]]:
    """Send frames (a JPEG each, with their faces) as the capture component would.

    Returns the frames as the component keeps them (``{"timestamp", "jpeg"}`` base64).
    """
    from liveness_lab.service.client import Challenge, LivenessClient

    ch = Challenge(challenge["id"], challenge["token"], challenge["type"], challenge["params"])
    kept = []
    with LivenessClient(url) as client:
        for i, (ts, faces) in enumerate(frames):
            data = jpeg(seed=i)
            client.put_frame(ch, ts, data, faces=list(faces))
            kept.append({"timestamp": ts, "jpeg": base64.b64encode(data).decode("ascii")})
    return kept


def create_challenge(url: str, challenge_type: str = "NOSE", width: int = 640,
                     height: int = 480) -> dict[str, Any]:
    """``POST /challenge`` on ``url``; the response as a dict."""
    from liveness_lab.service.client import LivenessClient

    with LivenessClient(url) as client:
        ch = client.create_challenge(width, height, challenge_type=challenge_type)
    return {"id": ch.id, "token": ch.token, "type": ch.type, "params": dict(ch.params)}


def capture_summary(challenge: Mapping[str, Any], frames: Sequence[tuple[int, Sequence[Any]]],
                    kept: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """What the capture component returns at the end of a run that sent ``frames``."""
    now = int(time.time() * 1000)
    track = [{"index": i, "timestamp": ts, "faces": [f.to_rekognition() for f in faces]}
             for i, (ts, faces) in enumerate(frames) if i % 3 == 0]
    return {"challengeId": challenge["id"], "status": "done", "reason": "decided",
            "error": None, "framesSent": len(frames), "framesFailed": 0, "framesSkipped": 0,
            "errors": [], "live": {"state": None, "decided": True, "success": True,
                                   "analyzedCount": len(frames)},
            "track": track, "frames": list(kept) if kept is not None else None,
            "startedAt": now - 4000, "captureStartedAt": now - 3500, "endedAt": now,
            "video": {"width": 640, "height": 480}}


def page_script(page: str, *, in_process: str | None = None) -> str:
    """An AppTest script rendering one page.

    ``in_process`` names an attribute of this module holding an InProcessService that
    the app must use as its in-process service (instead of starting one).
    """
    lines = []
    if in_process:
        lines += ["import ui_helpers", "import liveness_lab.ui.common as _common",
                  f"_common._in_process_service = lambda origins: ui_helpers.{in_process}"]
    lines += [f"from liveness_lab.ui.pages import {page}", f"{page}.render()"]
    return "\n".join(lines) + "\n"


#: The InProcessService that AppTest scripts use as the app's in-process service (set by tests).
IN_PROCESS: Any = None
#: Another one, analyzing images with :class:`DigestAnalyzer` (the photo fallback's test).
IN_PROCESS_PHOTO: Any = None


#: Faces the ``uitest-digest`` analyzer returns, by SHA-256 of the image bytes.
FACES_BY_DIGEST: dict[str, tuple[FaceDetail, ...]] = {}


class DigestAnalyzer(FaceAnalyzer):
    """A test double analyzing images by looking their SHA-256 up in :data:`FACES_BY_DIGEST`."""

    name = "uitest-digest"
    #: a double returns whatever faces its table holds: it can carry any evidence
    provides = frozenset(Evidence)

    def analyze(self, image: Any) -> list[FaceDetail]:
        return list(FACES_BY_DIGEST.get(hashlib.sha256(bytes(image)).hexdigest(), ()))


def register_digest_analyzer() -> str:
    """Register :class:`DigestAnalyzer` as ``uitest-digest``; returns the name."""
    from liveness_lab.analyzers import register_analyzer

    register_analyzer(DigestAnalyzer.name, DigestAnalyzer, "test double", replace=True)
    return DigestAnalyzer.name
