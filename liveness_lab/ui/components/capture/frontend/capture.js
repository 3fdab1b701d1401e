/*
 * liveness-lab capture component (Streamlit custom component, protocol v1, no build step).
 *
 * camera (getUserMedia) -> canvas (imageWidth x imageHeight, centre crop) -> JPEG (quality 0.7)
 * -> PUT {serviceUrl}/challenge/{id}/frame at up to `fps` frames per second, as the original
 * AWS Liveness Detection Framework's web client did. The challenge (NOSE area box and nose
 * target) and the latest analyzed landmarks are drawn over the video; live feedback comes from
 * GET {serviceUrl}/challenge/{id}/frames/latest. The run ends when the service's live replay
 * has decided, after a POSE burst, at the time or frame limit, or on Stop; the component then
 * returns a summary to Python, which verifies the challenge.
 */
(function () {
  "use strict";

  // -- Streamlit component protocol (what streamlit-component-lib does, in a few lines) -------
  function post(type, extra) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, extra || {}), "*");
  }
  function setFrameHeight() {
    post("streamlit:setFrameHeight", { height: Math.ceil(document.documentElement.scrollHeight) });
  }
  function setComponentValue(value) {
    post("streamlit:setComponentValue", { value: value, dataType: "json" });
  }

  var $ = function (id) { return document.getElementById(id); };
  var run = null;

  window.addEventListener("message", function (event) {
    var msg = event.data;
    if (!msg || msg.type !== "streamlit:render") return;
    var cfg = (msg.args || {}).config;
    if (!cfg || !cfg.challenge || !cfg.challenge.id) return;
    if (run && run.id === cfg.challenge.id) return; // a rerun of the page: keep going
    if (run) run.abort();
    run = new CaptureRun(cfg);
    run.start();
  });
  if (window.ResizeObserver) new ResizeObserver(setFrameHeight).observe(document.body);
  window.addEventListener("load", setFrameHeight);
  post("streamlit:componentReady", { apiVersion: 1 });

  // -- helpers ---------------------------------------------------------------------------------
  function num(v, d) { var x = Number(v); return isFinite(x) ? x : d; }

  function faceBoxPx(face, w, h) {
    var b = face && face.BoundingBox;
    if (!b) return null;
    return [b.Left * w, b.Top * h, (b.Left + b.Width) * w, (b.Top + b.Height) * h];
  }

  function drawCover(ctx, video, w, h) {
    var vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return false;
    var scale = Math.max(w / vw, h / vh);
    var sw = w / scale, sh = h / scale;
    ctx.drawImage(video, (vw - sw) / 2, (vh - sh) / 2, sw, sh, 0, 0, w, h);
    return true;
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // -- one capture run per challenge -----------------------------------------------------------
  function CaptureRun(cfg) {
    this.cfg = cfg;
    this.id = cfg.challenge.id;
    this.token = cfg.challenge.token;
    this.type = cfg.challenge.type;
    this.params = cfg.challenge.params || {};
    this.W = Math.round(num(cfg.width, num(this.params.imageWidth, 640)));
    this.H = Math.round(num(cfg.height, num(this.params.imageHeight, 480)));
    this.base = String(cfg.serviceUrl || "").replace(/\/+$/, "");
    this.fps = Math.min(Math.max(num(cfg.fps, 12), 1), 12);
    this.maxSeconds = num(cfg.maxSeconds, 30);
    this.maxFrames = num(cfg.maxFrames, 300);
    this.maxInFlight = num(cfg.maxInFlight, 4);
    this.mode = cfg.mode === "burst" ? "burst" : "continuous";
    this.burstFrames = num(cfg.burstFrames, 6);
    this.countdownS = num(cfg.countdownS, 3);
    this.quality = num(cfg.jpegQuality, 0.7);
    this.pollMs = num(cfg.pollMs, 300);
    this.mirror = cfg.mirror !== false;
    this.hints = cfg.hints || {};
    this.levels = cfg.hintLevels || {};
    this.steps = cfg.steps || [];
    this.keepFrames = !!cfg.keepFrames;
    this.readyS = num(cfg.readyS, 0);
    this.readyText = cfg.readyText || "";
    this.stepTimeoutS = num(cfg.stepTimeoutS, 0);
    this.behindWarn = num(cfg.behindWarn, 8);
    this.guideOval = cfg.guideOval !== false;
    this.stateName = null; this.stateSince = null;
    this.sent = 0; this.failed = 0; this.skipped = 0; this.burstTaken = 0; this.behind = 0;
    this.inFlight = new Set();
    this.errors = []; this.track = []; this.seen = {}; this.kept = [];
    this.latest = null; this.lastTs = 0; this.pollErrors = 0;
    this.capturing = false; this.stopping = false; this.finished = false;
    this.stopReason = null; this.startedAt = Date.now(); this.captureStart = null;
    this.timers = []; this.stream = null; this.countdownLeft = 0;
    this.video = $("video");
    this.view = $("view");
    this.grab = document.createElement("canvas");
  }

  CaptureRun.prototype.setPhase = function (phase) { $("app").setAttribute("data-phase", phase); };

  CaptureRun.prototype.setHint = function (key, fallback) {
    var el = $("hint");
    el.textContent = this.hints[key] || fallback || key;
    el.className = "hint " + (this.levels[key] || "info");
    el.setAttribute("data-hint", key);
  };

  CaptureRun.prototype.renderSteps = function () {
    var box = $("steps");
    box.innerHTML = "";
    var current = this.latest && this.latest.state ? this.latest.state.name : null;
    var idx = -1;
    for (var i = 0; i < this.steps.length; i++) if (this.steps[i].state === current) idx = i;
    var decided = this.latest && this.latest.decided;
    for (var j = 0; j < this.steps.length; j++) {
      var chip = document.createElement("span");
      chip.className = "step" + ((decided && this.latest.success) || j < idx ? " done" :
        (j === idx ? " active" : ""));
      chip.textContent = this.steps[j].label;
      chip.setAttribute("data-state", this.steps[j].state);
      box.appendChild(chip);
    }
  };

  CaptureRun.prototype.updateStats = function () {
    var analyzed = this.latest ? this.latest.analyzedCount : 0;
    var behind = Math.max(0, this.sent - (analyzed || 0));
    var txt = this.sent + " frames sent, " + (analyzed || 0) + " analyzed";
    if (behind >= this.behindWarn) txt += " (analyzing, " + behind + " frames behind)";
    if (this.failed) txt += ", " + this.failed + " refused";
    $("stats").textContent = txt;
    $("stats").setAttribute("data-sent", String(this.sent));
    $("stats").setAttribute("data-behind", String(behind));
    this.behind = behind;
    this.updateStepTimer();
    var frac;
    if (this.mode === "burst") {
      frac = this.captureStart === null ? 0 : this.burstTaken / Math.max(this.burstFrames, 1);
    } else {
      var elapsed = (Date.now() - (this.captureStart || Date.now())) / 1000;
      frac = Math.min(elapsed / this.maxSeconds, 1);
      if (this.latest && this.steps.length) {
        var cur = this.latest.state ? this.latest.state.name : null;
        for (var i = 0; i < this.steps.length; i++) {
          if (this.steps[i].state === cur) frac = Math.max(frac, i / this.steps.length);
        }
      }
    }
    if (this.finished || this.stopping) frac = 1;
    $("progress-fill").style.width = Math.round(100 * frac) + "%";
  };

  // Seconds left in the current state (its timeout counts from the first frame it sees).
  CaptureRun.prototype.updateStepTimer = function () {
    var el = $("step-timer");
    if (!this.stepTimeoutS || !this.capturing || this.stateSince === null || this.mode === "burst") {
      el.hidden = true;
      return;
    }
    var left = Math.max(0, this.stepTimeoutS - (Date.now() - this.stateSince) / 1000);
    el.hidden = false;
    el.textContent = "This step: " + Math.ceil(left) + " s left";
    el.className = "step-timer" + (left <= 3 ? " low" : "");
  };

  // Framing and light, from the latest face: the guide line above the video.
  CaptureRun.prototype.guideKey = function (faces) {
    if (!faces || faces.length !== 1) return null;
    var f = faces[0], b = f.BoundingBox;
    var q = f.Quality || {};
    if (typeof q.Brightness === "number" && q.Brightness < 30) return "guide.light";
    if (!b || this.params.areaWidth) return null; // NOSE: the white box and its hints guide
    if (b.Width < 0.22) return "guide.closer";
    if (b.Width > 0.7 || b.Height > 0.95) return "guide.farther";
    var cx = b.Left + b.Width / 2, cy = b.Top + b.Height / 2;
    if (Math.abs(cx - 0.5) > 0.15 || Math.abs(cy - 0.5) > 0.2) return "guide.centre";
    return null;
  };

  CaptureRun.prototype.setGuide = function (key) {
    var el = $("guide");
    if (!key || this.mode === "burst") { el.hidden = true; el.removeAttribute("data-guide"); return; }
    el.hidden = false;
    el.textContent = this.hints[key] || key;
    el.setAttribute("data-guide", key);
  };

  CaptureRun.prototype.start = async function () {
    var self = this;
    this.setPhase("starting");
    this.view.width = this.W; this.view.height = this.H;
    this.grab.width = this.W; this.grab.height = this.H;
    var pose = $("pose");
    if (this.cfg.poseSvg) {
      $("pose-picture").innerHTML = this.cfg.poseSvg;
      $("pose-text").textContent = this.cfg.instructions || "";
      pose.hidden = false;
    } else {
      pose.hidden = true;
    }
    $("stop").disabled = false;
    $("stop").onclick = function () { self.stop("user_stopped"); };
    this.renderSteps();
    this.setHint("starting");
    this.updateStats();
    setFrameHeight();
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error("this browser page has no camera access (getUserMedia needs https or localhost)");
      }
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { width: { ideal: this.W }, height: { ideal: this.H }, facingMode: "user" }
      });
      this.video.srcObject = this.stream;
      await this.video.play();
      var t0 = Date.now();
      while (!this.video.videoWidth && Date.now() - t0 < 5000) await sleep(30);
      if (!this.video.videoWidth) throw new Error("the camera delivers no frames");
    } catch (e) {
      this.fail("camera: " + (e && e.name ? e.name + ": " : "") + (e && e.message ? e.message : e));
      return;
    }
    if (this.finished) return;
    this.timers.push(setInterval(function () { self.draw(); }, 50));
    if (this.readyS > 0) {
      await this.ready();
      if (this.finished || this.stopping) return;
    }
    if (this.mode === "burst") {
      await this.countdown();
      if (this.finished || this.stopping) return;
    }
    this.beginCapture();
  };

  // The instructions, shown over the video and read before anything is captured.
  CaptureRun.prototype.ready = async function () {
    var self = this;
    this.setPhase("ready");
    this.setHint("ready");
    var box = $("ready");
    $("ready-text").textContent = this.readyText || this.hints.ready || "";
    box.hidden = false;
    var go = false;
    $("ready-go").onclick = function () { go = true; };
    for (var s = Math.ceil(this.readyS); s > 0 && !go && !this.finished && !this.stopping; s--) {
      $("ready-count").textContent = "Starting in " + s + " s";
      for (var k = 0; k < 10 && !go && !this.finished && !this.stopping; k++) await sleep(100);
    }
    box.hidden = true;
  };

  CaptureRun.prototype.countdown = async function () {
    this.setPhase("countdown");
    this.setHint("pose.get_ready");
    var el = $("countdown");
    el.hidden = false;
    for (var s = Math.ceil(this.countdownS); s > 0 && !this.finished && !this.stopping; s--) {
      el.textContent = String(s);
      this.countdownLeft = s;
      await sleep(1000);
    }
    el.hidden = true;
    this.countdownLeft = 0;
  };

  CaptureRun.prototype.beginCapture = function () {
    var self = this;
    this.setPhase("capturing");
    this.capturing = true;
    this.captureStart = Date.now();
    this.setHint(this.mode === "burst" ? "pose.capturing" : "waiting");
    this.timers.push(setInterval(function () { self.captureFrame(); }, Math.round(1000 / this.fps)));
    this.timers.push(setTimeout(function () { self.stop("time_limit"); }, this.maxSeconds * 1000));
    this.captureFrame();
    this.poll();
  };

  CaptureRun.prototype.captureFrame = function () {
    if (!this.capturing || this.finished) return;
    if (this.mode === "burst" && this.burstTaken >= this.burstFrames) {
      this.stop("burst_complete");
      return;
    }
    if (this.sent + this.failed + this.inFlight.size >= this.maxFrames) {
      this.stop("frame_limit");
      return;
    }
    if (this.inFlight.size >= this.maxInFlight) { this.skipped++; return; }
    var ctx = this.grab.getContext("2d");
    if (!drawCover(ctx, this.video, this.W, this.H)) { this.skipped++; return; }
    var ts = Date.now();
    if (ts <= this.lastTs) ts = this.lastTs + 1;
    this.lastTs = ts;
    if (this.firstTs === undefined) { this.firstTs = ts; this.scheduleCues(ts); }
    var url = this.grab.toDataURL("image/jpeg", this.quality);
    var b64 = url.slice(url.indexOf(",") + 1);
    if (this.keepFrames) this.kept.push({ timestamp: ts, jpeg: b64 });
    if (this.mode === "burst") this.burstTaken++;
    this.upload(ts, b64);
    this.updateStats();
  };

  // BLINK cues (params cuesMs: ms after the first frame the server receives, which is this
  // run's first frame): a visible flash at each cue time; before the first cue, the head turn
  // the params ask for (turn: the subject's own LEFT or RIGHT). #cue[data-shown] counts the
  // flashes shown, for tests.
  CaptureRun.prototype.scheduleCues = function (firstTs) {
    var cues = this.params.cuesMs, el = $("cue"), self = this;
    if (!Array.isArray(cues) || !cues.length || !el) return;
    var shown = 0;
    el.setAttribute("data-shown", "0");
    var turn = { LEFT: "to your left", RIGHT: "to your right" }[this.params.turn];
    if (turn) {
      el.textContent = "Turn your head a little " + turn + ", then back";
      el.className = "cue turn"; el.hidden = false;
      this.timers.push(setTimeout(function () { if (!shown) el.hidden = true; },
                                  Math.max(0, cues[0] - 800 - (Date.now() - firstTs))));
    }
    cues.forEach(function (c) {
      self.timers.push(setTimeout(function () {
        if (self.finished) return;
        shown++;
        el.textContent = "Blink now";
        el.className = "cue flash"; el.hidden = false;
        el.setAttribute("data-shown", String(shown));
        setTimeout(function () { el.hidden = true; }, 500);
      }, Math.max(0, Number(c) - (Date.now() - firstTs))));
    });
  };

  CaptureRun.prototype.upload = function (ts, b64) {
    var self = this;
    var p = fetch(this.base + "/challenge/" + encodeURIComponent(this.id) + "/frame", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: this.token, timestamp: ts, frameBase64: b64 })
    }).then(async function (resp) {
      if (resp.ok) { self.sent++; return; }
      var message = resp.statusText;
      try { message = (await resp.json()).message || message; } catch (e) { /* not JSON */ }
      self.failed++;
      self.noteError("frame at " + self.since(ts) + ": HTTP " + resp.status + ": " + message);
      if (resp.status === 401 || resp.status === 404 || resp.status === 409) self.stop("refused");
    }).catch(function (e) {
      self.failed++;
      self.noteError("frame at " + self.since(ts) + ": " + (e && e.message ? e.message : e) +
        " (is the service at " + self.base + " reachable from this browser, with CORS allowing this page?)");
      if (self.failed >= 5 && self.sent === 0) self.stop("unreachable");
    }).finally(function () {
      self.inFlight.delete(p);
      self.updateStats();
    });
    this.inFlight.add(p);
  };

  // "3.2 s": a timestamp as seconds since the capture started (no epoch times on screen).
  CaptureRun.prototype.since = function (ts) {
    var t0 = this.captureStart || this.startedAt;
    return ((ts - t0) / 1000).toFixed(1) + " s";
  };

  CaptureRun.prototype.noteError = function (text) {
    this.errors.push(text);
    if (this.errors.length > 10) this.errors.shift();
  };

  CaptureRun.prototype.poll = async function () {
    var self = this;
    if (this.finished) return;
    try {
      var resp = await fetch(this.base + "/challenge/" + encodeURIComponent(this.id) + "/frames/latest", {
        headers: { "X-Challenge-Token": this.token }
      });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      var data = await resp.json();
      this.pollErrors = 0;
      this.onFeedback(data);
    } catch (e) {
      this.pollErrors++;
      if (this.pollErrors === 3) this.noteError("live feedback: " + (e && e.message ? e.message : e));
    }
    if (!this.finished && !this.stopping) {
      this.timers.push(setTimeout(function () { self.poll(); }, this.pollMs));
    }
  };

  CaptureRun.prototype.onFeedback = function (data) {
    this.latest = data;
    var name = data.state ? data.state.name : null;
    if (name !== this.stateName) { this.stateName = name; this.stateSince = name ? Date.now() : null; }
    this.setGuide(this.stopping ? null : this.guideKey((data.frame && data.frame.faces) || []));
    if (data.frame && !this.seen[data.frame.index]) {
      this.seen[data.frame.index] = true;
      this.track.push({ index: data.frame.index, timestamp: data.frame.timestamp, faces: data.frame.faces });
    }
    this.renderSteps();
    this.updateStats();
    if (!this.stopping) {
      var key = this.hintKey(data);
      if (!data.decided && this.behind >= this.behindWarn * 2) {
        this.setHint("analyzing", (this.hints.analyzing || "Analyzing") + " (" + this.behind +
          " frames behind)");
      } else {
        this.setHint(key[0], key[1]);
      }
    }
    if (data.decided && this.capturing && this.mode === "continuous") this.stop("decided");
  };

  // The rules of liveness_lab.ui.hints.live_hint, on the latest feedback.
  CaptureRun.prototype.hintKey = function (data) {
    if (this.mode === "burst") return ["pose.capturing"];
    if (data.decided) return [data.success ? "decided.success" : "decided.fail"];
    var state = data.state;
    if (!state || !state.code) return ["waiting"];
    var code = state.code;
    var faces = (data.frame && data.frame.faces) || [];
    if (faces.length === 0 && /^(face|area|nose)\./.test(code)) return ["face.no_face"];
    if (faces.length > 1) return ["face.several_faces"];
    if (code === "area.outside") {
      var p = this.params, box = faceBoxPx(faces[0], p.imageWidth || this.W, p.imageHeight || this.H);
      if (box && p.areaWidth && ((box[2] - box[0]) > p.areaWidth || (box[3] - box[1]) > p.areaHeight)) {
        return ["area.too_close"];
      }
      return ["area.outside"];
    }
    if (this.hints[code]) return [code];
    return [code, state.message || this.hints.capturing];
  };

  CaptureRun.prototype.draw = function () {
    var ctx = this.view.getContext("2d");
    var W = this.W, H = this.H, p = this.params;
    ctx.save();
    if (this.mirror) { ctx.translate(W, 0); ctx.scale(-1, 1); }
    if (!drawCover(ctx, this.video, W, H)) { ctx.fillStyle = "#0b1220"; ctx.fillRect(0, 0, W, H); }
    var sx = W / num(p.imageWidth, W), sy = H / num(p.imageHeight, H);
    var state = this.latest && this.latest.state ? this.latest.state.name : "";
    if (p.areaWidth) {
      var inArea = state === "nose_state" || (this.latest && this.latest.decided);
      ctx.lineWidth = 3;
      ctx.setLineDash(inArea ? [] : [10, 6]);
      ctx.strokeStyle = inArea ? "#22c55e" : "#ffffff";
      ctx.strokeRect(p.areaLeft * sx, p.areaTop * sy, p.areaWidth * sx, p.areaHeight * sy);
      ctx.setLineDash([]);
    }
    if (!p.areaWidth && this.guideOval) {
      ctx.lineWidth = 3;
      ctx.setLineDash([10, 6]);
      ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
      ctx.beginPath();
      ctx.ellipse(W / 2, H / 2, W * 0.2, H * 0.38, 0, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (p.noseWidth) {
      ctx.fillStyle = "rgba(255, 214, 0, 0.55)";
      ctx.strokeStyle = "#ffd600";
      ctx.lineWidth = 3;
      ctx.fillRect(p.noseLeft * sx, p.noseTop * sy, p.noseWidth * sx, p.noseHeight * sy);
      ctx.strokeRect(p.noseLeft * sx, p.noseTop * sy, p.noseWidth * sx, p.noseHeight * sy);
    }
    var faces = this.latest && this.latest.frame ? this.latest.frame.faces || [] : [];
    for (var i = 0; i < faces.length; i++) {
      var f = faces[i], box = faceBoxPx(f, W, H);
      if (box) {
        ctx.strokeStyle = "rgba(0, 220, 255, 0.9)";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
      }
      var lms = f.Landmarks || [];
      for (var j = 0; j < lms.length; j++) {
        var lm = lms[j], nose = lm.Type === "nose";
        ctx.fillStyle = nose ? "#ff4040" : "#00dcff";
        ctx.beginPath();
        ctx.arc(lm.X * W, lm.Y * H, nose ? 6 : 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    ctx.restore();
  };

  CaptureRun.prototype.stop = async function (reason) {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    this.capturing = false;
    this.stopReason = reason;
    $("stop").disabled = true;
    $("ready").hidden = true;
    $("countdown").hidden = true;
    this.setGuide(null);
    if (this.captureStart === null) {
      this.setPhase("stopped");
      this.setHint("stopped"); // nothing was captured: no "verifying" over a countdown
    } else {
      this.setPhase("verifying");
      var decided = this.latest && this.latest.decided;
      if (!decided && this.behind >= this.behindWarn) {
        this.setHint("analyzing", (this.hints.analyzing || "Analyzing") + " (" + this.behind +
          " frames behind)");
      } else {
        this.setHint(decided ? (this.latest.success ? "decided.success" : "decided.fail") : "decided.fail");
      }
    }
    this.updateStats();
    await Promise.allSettled(Array.from(this.inFlight));
    this.finish("done", null);
  };

  CaptureRun.prototype.fail = function (message) {
    this.noteError(message);
    this.setPhase("error");
    var el = $("hint");
    el.textContent = message;
    el.className = "hint warn";
    this.finish("error", message);
  };

  CaptureRun.prototype.cleanup = function () {
    for (var i = 0; i < this.timers.length; i++) { clearInterval(this.timers[i]); clearTimeout(this.timers[i]); }
    this.timers = [];
    if (this.stream) this.stream.getTracks().forEach(function (t) { t.stop(); });
    this.stream = null;
  };

  CaptureRun.prototype.abort = function () {
    this.finished = true;
    this.cleanup();
  };

  CaptureRun.prototype.finish = function (status, error) {
    if (this.finished) return;
    this.draw();
    this.finished = true;
    this.cleanup();
    if (status === "done") this.setPhase("done");
    this.updateStats();
    var latest = this.latest || {};
    setComponentValue({
      challengeId: this.id,
      status: status,
      reason: error ? "error" : this.stopReason,
      error: error,
      framesSent: this.sent,
      framesFailed: this.failed,
      framesSkipped: this.skipped,
      errors: this.errors,
      live: { state: latest.state || null, decided: latest.decided === true, success: latest.success === true,
              analyzedCount: latest.analyzedCount || 0 },
      track: this.track,
      frames: this.keepFrames ? this.kept : null,
      startedAt: this.startedAt,
      captureStartedAt: this.captureStart,
      endedAt: Date.now(),
      video: { width: this.video.videoWidth || 0, height: this.video.videoHeight || 0 }
    });
  };
})();
