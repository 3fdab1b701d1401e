"""The browser tests' studio, fake-camera videos and page driver (see ``test_ui_browser.py``).

:class:`Studio` runs ``liveness-lab app`` in a subprocess and knows the params its
service will issue next (``LIVENESS_ENV=test``, ``LIVENESS_TEST_SEED``, refused outside
``env=test``). The fake webcam's videos are in ``browser_videos.py``. :func:`run_in_browser` runs one
challenge on the Live page and returns what the page showed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

import ui_helpers
from liveness_lab.ui.plain_words import explain, plain_words

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ui_helpers.REPO / "test-artifacts" / "ui"
# Seed of the service's params generator and of the rendering. With 6, the first NOSE target
# gives a head turn that passes with a wide margin (score >= 0.2 however the capture samples the
# video, offline) and the second a moved photo that stays in the face area and fails on the
# landmark histogram distance (score <= -0.08): the decisions do not hinge on a pixel.
SEED = 6
FPS = 12
WIDTH, HEIGHT = 640, 480
EPOCH_MS = re.compile(r"\b1[5-9]\d{11}\b")  # 2017..2033 in milliseconds
DESKTOP = {"width": 1400, "height": 1900}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Studio:
    """``liveness-lab app`` in a subprocess, and the params its service will issue next.

    ``profile=None``: the studio's default (the service's secure default); a name sets
    ``LIVENESS_APP_PROFILE``.
    """

    def __init__(self, root: Path, profile: str | None = None,
                 analyzer: str | None = None) -> None:
        from liveness_lab.challenges import SeededRandom
        from liveness_lab.config import resolve_configs

        self.root = root
        self.port = _free_port()
        self.data_dir = root / "service-data"
        self.log = root / "studio.log"
        from liveness_lab.ui.offered import default_live_profile

        from liveness_lab.analyzers import DEFAULT_ANALYZER

        self.app_profile = profile
        self.analyzer = analyzer or DEFAULT_ANALYZER  # what its in-process service analyzes with
        self.profile = profile or default_live_profile()  # what its in-process service runs
        self._configs = resolve_configs(self.profile)
        self._rng = SeededRandom(SEED)  # the service draws with SeededRandom(LIVENESS_TEST_SEED)
        self.proc: subprocess.Popen | None = None
        self.service_url: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_params(self, challenge_type: str) -> dict:
        """The params of the next challenge the service will create (of any type)."""
        from liveness_lab.challenges import default_registry

        ctype = default_registry().get(challenge_type)
        return ctype.generate_params({"imageWidth": WIDTH, "imageHeight": HEIGHT},
                                     self._configs.for_type(ctype), self._rng)

    def params_where(self, challenge_type: str, wanted: Callable[[dict], bool],
                     limit: int = 60) -> dict:
        """The params the next ``challenge_type`` challenge will get, once they are ``wanted``.

        Draws that are not wanted are used up by creating (and abandoning) a challenge
        on the service, so the service's generator stays in step with this one.
        """
        assert self.service_url, "the service URL is read from the app first"
        for _ in range(limit):
            params = self.next_params(challenge_type)
            if wanted(params):
                return params
            r = httpx.post(f"{self.service_url}/challenge", json={
                "imageWidth": WIDTH, "imageHeight": HEIGHT, "challengeType": challenge_type},
                timeout=30)
            r.raise_for_status()
            assert r.json()["params"] == params, "the service's draws are not the test's"
        raise AssertionError(f"no wanted {challenge_type} params in {limit} draws")

    def peek_where(self, challenge_type: str, wanted: Callable[[dict], bool] = lambda p: True,
                   limit: int = 60) -> dict:
        """The params :meth:`params_where` will reach, without drawing (a copy of the generator).

        The fake camera's video is read when Chromium starts, so it is rendered first.
        """
        import copy

        probe = copy.copy(self)
        probe._rng = copy.deepcopy(self._rng)
        for _ in range(limit):
            params = probe.next_params(challenge_type)
            if wanted(params):
                return params
        raise AssertionError(f"no wanted {challenge_type} params in {limit} draws")

    def start(self, timeout: float = 120.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVENESS_")}
        env.update(LIVENESS_ENV="test", LIVENESS_TEST_SEED=str(SEED),
                   LIVENESS_DATA_DIR=str(self.data_dir), LIVENESS_APP_PROJECT_DIR=str(self.root),
                   PYTHONPATH=str(ui_helpers.REPO),
                   # many challenges from one address in a few minutes: no lockout here
                   LIVENESS_MAX_FAILED_VERIFIES="0", LIVENESS_CREATE_RATE_PER_MINUTE="0")
        if self.app_profile:
            env["LIVENESS_APP_PROFILE"] = self.app_profile
        env["LIVENESS_ANALYZER"] = self.analyzer
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "liveness_lab.ui.cli", "app", "--port", str(self.port)],
                cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=2).text == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the app did not start in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the CLI and the Streamlit process it runs
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def frame_files(self) -> dict[str, int]:
        """JPEG files the service stored, per challenge id."""
        frames = self.data_dir / "frames"
        if not frames.is_dir():
            return {}
        return {d.name: len(list(d.glob("*.jpg"))) for d in frames.iterdir() if d.is_dir()}


#: bits of the frame index stamped into a video's top-left corner (blocks of MARK_PX pixels)
MARK_BITS, MARK_PX = 9, 16


#: JS, run in the capture component: wait until the camera shows frame ``target`` of the
#: marked video (or one after), then press "I'm ready"; returns the frame index seen then
_CLICK_AT_FRAME = """([target, bits, px]) => new Promise((resolve, reject) => {
  const video = document.querySelector("video");
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const t0 = Date.now();
  const tick = () => {
    if (Date.now() - t0 > 60000) { reject(new Error("the marked frame never came")); return; }
    if (document.getElementById("ready").hidden) {
      reject(new Error("the capture started before frame " + target + " was shown"));
      return;
    }
    if (video && video.videoWidth) {
      canvas.width = bits * px; canvas.height = px;
      ctx.drawImage(video, 0, 0, bits * px, px, 0, 0, bits * px, px);
      const row = ctx.getImageData(0, px >> 1, bits * px, 1).data;
      let index = 0;
      for (let b = 0; b < bits; b++) if (row[4 * (b * px + (px >> 1))] > 128) index |= 1 << b;
      if (index === target || index === target + 1) {
        document.getElementById("ready-go").click();
        resolve(index);
        return;
      }
    }
    setTimeout(tick, 5);
  };
  tick();
})"""


def launch(p: Any, studio: Studio, video: Path | None, name: str, viewport: dict) -> Any:
    args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]
    if video is not None:
        args.append(f"--use-file-for-fake-video-capture={video}")
    return p.chromium.launch_persistent_context(
        str(studio.root / f"chromium-{name}"), executable_path=str(CHROMIUM), headless=True,
        viewport=viewport, args=args)


def read_service_url(page: Any, studio: Studio) -> None:
    if studio.service_url:
        return
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("in-process").first.wait_for(timeout=120_000)
    m = re.search(r"http://127\.0\.0\.1:\d+", sidebar.inner_text())
    assert m, sidebar.inner_text()
    studio.service_url = m.group(0)


def _offered_types(page: Any) -> list[str]:
    """The Live page's challenge choices (the dropdown opened and read)."""
    page.get_by_label("Challenge", exact=True).first.click()
    options = page.locator("[role='option']").all_inner_texts()
    page.keyboard.press("Escape")
    return [o.split(" - ")[0].strip() for o in options]


def _choose(page: Any, challenge_type: str) -> None:
    page.get_by_label("Challenge", exact=True).first.click()
    page.locator("[role='option']", has_text=re.compile(rf"^{challenge_type}\b")).first.click()


def _set_capture_options(page: Any, **values: int) -> None:
    """Set sliders of the page's "Capture options" by their label (keyboard, as a user)."""
    page.get_by_text("Capture options").first.click()
    for label, value in values.items():
        box = page.locator("[data-testid='stSlider']", has_text=label).first
        thumb = box.locator("input[type=range]").first   # Streamlit's (visually hidden) range
        thumb.wait_for(state="attached", timeout=30_000)
        for _ in range(80):
            now = int(thumb.evaluate("e => e.value") or 0)
            if now == value:
                break
            thumb.focus()
            page.keyboard.press("ArrowLeft" if now > value else "ArrowRight")
            page.wait_for_timeout(150)
        else:
            raise AssertionError(f"could not set {label!r} to {value}")


def check_no_epoch_times(page: Any) -> str:
    """Expand every "Technical details", then assert no epoch timestamp is on the page."""
    for exp in page.locator("[data-testid='stExpander'] summary",
                            has_text="Technical details").all():
        exp.click()
    page.wait_for_timeout(300)
    text = page.locator("body").inner_text()
    for frame in page.frames:
        try:
            text += "\n" + frame.locator("body").inner_text(timeout=2000)
        except Exception:  # a frame gone meanwhile
            pass
    found = EPOCH_MS.findall(text)
    assert not found, f"epoch timestamps on the page: {found[:5]}"
    return text


def run_in_browser(studio: Studio, video: Path, name: str, challenge_type: str, *,
                   viewport: dict = DESKTOP, prepare: Callable[[], dict] | None = None,
                   wait_hint: str | None = None, start_frame: int | None = None,
                   verdict_timeout_s: float = 120, fps: int | None = None,
                   max_seconds: int | None = None) -> dict:
    """Open the Live page with ``video`` as the webcam, run one challenge, return what was seen.

    ``prepare`` runs once the page is up (and the service URL known), before Start;
    it returns the params the challenge will get. ``start_frame``: "I'm ready" is pressed
    when the camera shows that frame of a video written by
    :func:`browser_videos.write_marked_y4m` (the capture's first frame is then that one, or
    up to about 0.2 s later); without it, at once.
    ``verdict_timeout_s``: how long the verdict may take once the capture runs (the service
    analyzes every frame sent when the analyzed ones have not decided; on a busy machine it
    falls far behind).
    ``fps``, ``max_seconds``: frames per second and time limit chosen in the page's "Capture
    options" (default 12 and 30).
    """
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        context = launch(p, studio, video, name, DESKTOP)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: console.append(
                f"{m.type}: {m.text} ({m.location.get('url', '')})"))
            page.goto(studio.url)  # the Live challenge page is the default page
            page.get_by_role("button", name="Start challenge").wait_for(timeout=120_000)
            read_service_url(page, studio)
            seen["offered"] = _offered_types(page)
            seen["profile_banner"] = page.get_by_text("Profile", exact=False).first.inner_text()
            if viewport != DESKTOP:
                page.set_viewport_size(viewport)
                page.reload()
                page.get_by_role("button", name="Start challenge").wait_for(timeout=60_000)
            seen["params"] = prepare() if prepare is not None else None
            before = studio.frame_files()
            if challenge_type != "NOSE":
                _choose(page, challenge_type)
            options = {"Frames per second": fps, "Time limit (s)": max_seconds}
            if any(v is not None for v in options.values()):
                _set_capture_options(page, **{k: v for k, v in options.items() if v is not None})
            page.get_by_role("button", name="Start challenge").click()
            capture = page.frame_locator("iframe[title*='liveness_capture']")
            # the instructions are on the video before anything is captured
            capture.locator("#ready:not([hidden])").wait_for(timeout=60_000)
            seen["ready_text"] = capture.locator("#ready-text").inner_text()
            seen["sent_before_ready"] = int(capture.locator("#stats").get_attribute(
                "data-sent") or 0) if capture.locator("#stats[data-sent]").count() else 0
            if viewport != DESKTOP:
                box = page.locator("iframe[title*='liveness_capture']").bounding_box()
                seen["video_top"] = box["y"] if box else None
                seen["scroll_width"] = page.evaluate("document.documentElement.scrollWidth")
                sidebar = page.locator("[data-testid='stSidebar']")
                seen["sidebar_open"] = sidebar.count() > 0 and sidebar.first.is_visible() and \
                    (sidebar.first.bounding_box() or {}).get("width", 0) > 50
            page.screenshot(path=str(ARTIFACTS / f"{name}-instructions.png"), full_page=True)
            if start_frame is None:
                capture.locator("#ready-go").click()
            else:
                frame = page.locator("iframe[title*='liveness_capture']").element_handle() \
                    .content_frame()
                seen["start_frame"] = frame.evaluate(_CLICK_AT_FRAME,
                                                     [start_frame, MARK_BITS, MARK_PX])
            capture.locator("#stats[data-sent]").wait_for(timeout=30_000)
            # the instructions leave the video once the capture runs
            capture.locator("#ready").wait_for(state="hidden", timeout=10_000)
            if wait_hint:
                capture.locator(f"#hint[data-hint='{wait_hint}']").wait_for(timeout=30_000)
                seen["hint"] = capture.locator("#hint").inner_text()
                seen["steps"] = capture.locator(".step").all_inner_texts()
                seen["done_steps"] = capture.locator(".step.done").count()
            else:
                page.wait_for_timeout(1500)
            if challenge_type == "BLINK" and (seen.get("params") or {}).get("cuesMs"):
                capture.locator("#cue[data-shown='1']").wait_for(state="attached",
                                                                 timeout=30_000)
                seen["cues_shown"] = capture.locator("#cue").get_attribute("data-shown")
            page.screenshot(path=str(ARTIFACTS / f"{name}-capturing.png"), full_page=True)
            badge = page.locator("[data-testid=ll-verdict]").first
            seen["retries"] = _wait_for_verdict(page, badge, verdict_timeout_s)
            seen["verdict"] = badge.get_attribute("data-verdict")
            seen["code"] = badge.get_attribute("data-code")
            seen["headline"] = page.locator("[data-testid=ll-headline]").first.inner_text()
            seen["next_step"] = page.locator("[data-testid=ll-next-step]").first.inner_text()
            page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=60_000)
            seen["charts"] = page.locator("[data-testid='stVegaLiteChart']").count()
            seen["sent"] = page.locator("[data-testid='stMetric']",
                                        has_text="Frames sent").inner_text()
            seen["text"] = check_no_epoch_times(page)
            page.screenshot(path=str(ARTIFACTS / f"{name}-verdict.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
            raise
        finally:
            context.close()
    after = studio.frame_files()
    seen["frames"] = {k: v for k, v in after.items() if k not in before}
    seen["console"] = console
    return seen


def _wait_for_verdict(page: Any, badge: Any, timeout_s: float) -> int:
    """Wait for the verdict badge, pressing "Retry verification" as a user would when the
    service answered that it is still analyzing (it waits ``verify_timeout_s``, 60 s by
    default, for the frames the verdict needs); returns how many retries it took."""
    retry = page.get_by_role("button", name="Retry verification")
    deadline = time.monotonic() + timeout_s
    retries = 0
    while time.monotonic() < deadline:
        if badge.is_visible():
            return retries
        if retry.count() and retry.first.is_visible() and retry.first.is_enabled():
            retry.first.click()
            retries += 1
        page.wait_for_timeout(500)
    raise AssertionError(f"no verdict in {timeout_s:g} s ({retries} retries)")


def check_run(seen: dict, challenge_type: str) -> None:
    assert len(seen["frames"]) == 1, seen["frames"]  # one new challenge
    stored = next(iter(seen["frames"].values()))
    assert stored >= 1, seen["frames"]  # frames reached the service
    assert seen["sent"].split()[-1] == str(stored), seen["sent"]  # the page counts them
    assert seen["sent_before_ready"] == 0  # nothing captured while the instructions show
    assert seen["charts"] >= 1
    # the result in plain words: the code's headline and next step, not the developer's reason
    words = explain({"success": seen["verdict"] == "PASS",
                     "decided": seen["verdict"] != "NO DECISION", "code": seen["code"]})
    assert (seen["headline"], seen["next_step"]) == (words.headline, words.next_step), seen
    assert plain_words(seen["code"]) is not None or seen["verdict"] == "PASS", seen["code"]
    # no test plugins offered; the profile in use is named
    assert "STILL" not in seen["offered"] and "CUSTOM" not in seen["offered"], seen["offered"]
    assert {"NOSE", "POSE", "BLINK", "HEAD_TURN"} <= set(seen["offered"]), seen["offered"]
    assert "Profile" in seen["profile_banner"]
    errors = [c for c in seen["console"] if c.startswith("error:") and "/component/" in c]
    assert not errors, errors  # nothing went wrong in the capture component

