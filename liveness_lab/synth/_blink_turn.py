"""Trace-level behaviour for the BLINK and HEAD_TURN challenges, bona fide and attacks.

The client of both records the camera at 8..15 fps from the moment the
challenge is shown until the person should be done, and uploads every frame
(the server decides). Attack species:

* BLINK ``print_static``: the victim's photo held by hand (it cannot blink);
  ``video_replay``: a screen plays a video of the victim with natural,
  spontaneous blinks (not made for this challenge); ``replay_other_challenge``:
  a bona fide BLINK recording made for other params is played on a screen;
  ``face_swap``: the victim's photo during the first frames (the open-eye
  baseline), then the attacker's own face blinks.
* HEAD_TURN ``print_tilted``: the victim's photo tilted by hand in the
  requested directions, in order (the attacker knows the sequence);
  ``replay_other_challenge``: a bona fide recording of another sequence played
  on a screen; ``face_swap``: the victim's photo while the face must be
  centred, then the attacker turns their own head.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ._head import _IDX, Camera
from ._motion import (_HAND_SWAY, _HEAD_SWAY, _PITCH, _ROLL, _X, _Y, _YAW, _Z, _HeadRig, _Plan,
                      _PrintRig, _Sway, _frame_times)
from ._subjects import (_eyelid, _expressive_track, _print_track, _splice, _spontaneous_blinks,
                        _Subject, _Trace, _victim_print)

__all__ = ["BLINK_SPECIES", "HEAD_TURN_SPECIES", "simulate_blink", "simulate_head_turn"]

HEAD_TURN_SPECIES = ("print_tilted", "replay_other_challenge", "face_swap")

#: tag of the seed keys of attackers' identities (they are not subjects of the dataset)
_ATTACKER_TAG = 0xA77AC


def _facing(rng: np.random.Generator) -> np.ndarray:
    """A face in front of the camera, looking at it (small angles), 33..60 cm away."""
    return np.array([rng.normal(0.0, 3.0), rng.normal(-2.0, 3.0), rng.normal(0.0, 2.5),
                     rng.normal(0.0, 30.0), rng.normal(10.0, 25.0), rng.uniform(330.0, 600.0)])


def _attacker(rng: np.random.Generator) -> tuple[_Subject, list[int]]:
    """A person outside the subject pool, and the seed key of their identity."""
    key = [_ATTACKER_TAG, *(int(v) for v in rng.integers(0, 2 ** 31, 2))]
    return _Subject.sample("attacker", rng), key


def _looking_at_screen(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return -0.85 * states[:, _YAW], -0.85 * states[:, _PITCH] - 4.0


# -- BLINK -----------------------------------------------------------------------------------

#: BLINK species; ``print_eye_holes`` needs the hardened (cue-timed) params
BLINK_SPECIES = ("print_static", "video_replay", "replay_other_challenge", "face_swap",
                 "print_eye_holes")
_LIDS = tuple((_IDX[f"{s}EyeUp"], _IDX[f"{s}EyeDown"], _IDX[f"eye{s.capitalize()}"])
              for s in ("left", "right"))


def _cue_timed(params: Mapping[str, Any]) -> bool:
    """Whether BLINK params ask for the hardened client (cues shown, a head turn)."""
    return bool(params.get("cuesMs"))


def _camera_rate(rng: np.random.Generator, camera: Camera) -> tuple[float, float]:
    """A webcam of the hardened protocol: 5..30 fps, exposure 8..66 ms (at most one interval);
    the camera's fixed rate and exposure when it has them (a stress condition)."""
    fps = camera.frame_rate(float(rng.uniform(5.0, 30.0)))
    exposure = camera.exposure_s(float(rng.uniform(0.008, min(0.066, 1.0 / fps))))
    return fps, exposure


def _exposed_lids(times: np.ndarray, exposure: float, starts: Any, durs: Any,
                  depths: Any) -> np.ndarray:
    """Lid openness averaged over each frame's exposure (the frame time is its end)."""
    offsets = np.linspace(0.0, exposure, 5)
    return np.mean([_eyelid(times - o, starts, durs, depths) for o in offsets], axis=0)


def _cue_blinks(rng: np.random.Generator, subj: _Subject, t_first: float,
                params: Mapping[str, Any]) -> tuple[list, list, list, dict]:
    """Voluntary blinks answering each cue after a visual simple reaction time.

    A person's median reaction to a visual cue is ~0.15-0.6 s (lognormal around 0.32 s, spread
    0.3; slow people 1.5 x, so some answer after 0.7-0.9 s), each blink varying by 20 %. The
    client asks for a slow blink ("close your eyes for a moment"): 0.3-0.6 s in all, 5 % of
    them incomplete. 0.5 % of cues are missed (the person looked away).
    """
    median = float(np.exp(rng.normal(np.log(0.32), 0.3))) * (1.5 if subj.style == "slow"
                                                             else 1.0)
    starts, durs, depths, reactions = [], [], [], []
    for cue in params["cuesMs"]:
        if rng.random() < 0.005:
            continue
        r = median * float(np.exp(rng.normal(0.0, 0.2)))
        reactions.append(round(r, 3))
        starts.append(t_first + cue / 1000.0 + r)
        durs.append(float(rng.uniform(0.3, 0.6)))
        depths.append(1.0 if rng.random() >= 0.05 else float(rng.uniform(0.4, 0.7)))
    return starts, durs, depths, {"cue_reaction_median_s": round(median, 3),
                                  "cue_reactions_s": reactions}


def _eye_looks(rng: np.random.Generator, n: int) -> tuple[float, np.ndarray]:
    """How the detector sees this person's eyes: narrow eyes (20 % of people: the lid fissure
    55-75 % of the model's, so the EAR and its dip shrink) and glasses with glare (15 %: in
    5-30 % of the frames the lids are washed out and the detector reports an average open eye,
    EyesOpen true)."""
    narrow = float(rng.uniform(0.55, 0.75)) if rng.random() < 0.2 else 1.0
    glare = np.zeros(n, bool)
    if rng.random() < 0.15:
        glare = rng.random(n) < float(rng.uniform(0.05, 0.3))
    return narrow, glare


def _narrow_lids(track: Any, factor: float) -> None:
    """Scale the lid landmarks' distance from each eye's centre by ``factor`` (in place)."""
    if factor == 1.0:
        return
    lm = track.landmarks.copy()
    for up, down, centre in _LIDS:
        for i in (up, down):
            lm[:, i] = lm[:, centre] + (lm[:, i] - lm[:, centre]) * factor
    track.landmarks = lm


def _turn_move(rng: np.random.Generator, plan: _Plan, t_first: float, direction: str,
               scale: float = 1.0) -> dict:
    """The slight head turn asked before the first cue: 12-28 degrees, held, then back."""
    amp = float(rng.uniform(12.0, 28.0)) * scale * (1.0 if direction == "LEFT" else -1.0)
    t0 = t_first + float(rng.uniform(1.0, 1.6))
    dur = float(rng.uniform(0.4, 0.7))
    hold = float(rng.uniform(0.4, 0.9))
    delta = np.zeros(6)
    delta[_YAW] = amp
    delta[_X] = -0.6 * amp  # the head pivots on the neck: the face also shifts sideways (mm)
    plan.add(t0, dur, delta)
    plan.add(t0 + dur + hold, dur, -delta)
    return {"turn_deg": round(amp, 1), "turn_at_s": round(t0, 3)}


def _blink_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
                params: Mapping[str, Any], *, deliberate: bool = True) -> _Trace:
    """A person blinking ``params['blinks']`` times on request (or only spontaneously).

    With cue-timed params the person follows the hardened client: looks at the camera,
    turns the head slightly toward ``turn`` and back, then blinks after each cue; the camera
    runs at 5-30 fps with 8-66 ms exposures (lids averaged over the exposure).
    """
    if _cue_timed(params):
        return _blink_cued(rng, subj, camera, params, deliberate=deliberate)
    rig = _HeadRig(subj.head, camera)
    fps = camera.frame_rate(float(rng.uniform(8.0, 15.0)))
    wanted = int(params["blinks"])
    window = float(params["windowMs"]) / 1000.0
    t_instr = float(rng.uniform(0.6, 1.2))
    duration = t_instr + window + 0.8
    times = _frame_times(rng, fps, duration)
    plan = _Plan(_facing(rng))
    sway = _Sway(rng, *_HEAD_SWAY)
    states = plan.at(times) + sway.at(times)
    starts, durs = _spontaneous_blinks(rng, subj.blink_rate, duration)
    depths = list(np.ones(len(starts)))
    starts, durs = list(starts), list(durs)
    reaction = subj.reaction_s * float(np.exp(rng.normal(0.0, 0.2)))
    partial = 0
    if deliberate:
        t = t_instr + reaction
        extra = int(rng.random() < 0.1)          # one blink too many, now and then
        for _ in range(wanted + extra):
            d = float(rng.uniform(0.2, 0.4))
            q = 1.0 if rng.random() >= 0.05 else float(rng.uniform(0.4, 0.7))
            partial += q < 1.0
            starts.append(t)
            durs.append(d)
            depths.append(q)
            t += d + float(rng.uniform(0.25, 0.7)) * subj.speed
    eye_open = _eyelid(times, starts, durs, depths)
    gaze_yaw, gaze_pitch = _looking_at_screen(states)
    n = len(times)
    track = _expressive_track(subj, rig, plan, times, states, eye_open=eye_open,
                              gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, smile=np.zeros(n),
                              mouth_open=np.zeros(n))
    return _Trace(times, [track], metadata={
        "fps": round(fps, 3), "distance_mm": round(float(plan.start[_Z]), 1),
        "reaction_s": round(reaction, 3), "deliberate_blinks": wanted if deliberate else 0,
        "partial_blinks": int(partial), "spontaneous_blink_rate": round(subj.blink_rate, 3)})


def _blink_cued(rng: np.random.Generator, subj: _Subject, camera: Camera,
                params: Mapping[str, Any], *, deliberate: bool) -> _Trace:
    """The hardened BLINK client (see :func:`_blink_live`); not ``deliberate``: an everyday
    video of the person (spontaneous blinks, a few glances aside), for a screen replay."""
    rig = _HeadRig(subj.head, camera)
    fps, exposure = _camera_rate(rng, camera)
    duration = float(params["windowMs"]) / 1000.0 + 0.8
    times = _frame_times(rng, fps, duration)
    t_first = float(times[0]) if len(times) else 0.0
    plan = _Plan(_facing(rng))
    # people on a screen task blink less: a third of the resting rate between cues
    starts, durs = _spontaneous_blinks(rng, subj.blink_rate * (0.35 if deliberate else 1.0),
                                       duration)
    starts, durs, depths = list(starts), list(durs), list(np.ones(len(starts)))
    meta: dict[str, Any] = {}
    if deliberate:
        meta.update(_turn_move(rng, plan, t_first, str(params.get("turn", "LEFT"))))
        s2, d2, q2, m2 = _cue_blinks(rng, subj, t_first, params)
        starts += s2
        durs += d2
        depths += q2
        meta.update(m2)
    else:
        for _ in range(int(rng.integers(1, 4))):   # glances and turns of an everyday video
            delta = np.zeros(6)
            delta[_YAW] = float(rng.choice([-1.0, 1.0]) * rng.uniform(5.0, 30.0))
            t0 = float(rng.uniform(0.0, duration))
            plan.add(t0, 0.5, delta)
            plan.add(t0 + float(rng.uniform(0.5, 2.0)), 0.5, -delta)
    states = plan.at(times) + _Sway(rng, *_HEAD_SWAY).at(times)
    eye_open = _exposed_lids(times, exposure, starts, durs, depths)
    gaze_yaw, gaze_pitch = _looking_at_screen(states)
    n = len(times)
    narrow, glare = _eye_looks(rng, n)
    track = _expressive_track(subj, rig, plan, times, states,
                              eye_open=np.where(glare, 1.0, eye_open), gaze_yaw=gaze_yaw,
                              gaze_pitch=gaze_pitch, smile=np.zeros(n), mouth_open=np.zeros(n),
                              eyes_seen_open=(eye_open > 0.5) | glare)
    _narrow_lids(track, narrow)
    meta.update({"narrow_eyes": round(narrow, 3), "glare_frames": int(glare.sum())})
    return _Trace(times, [track], metadata={
        "fps": round(fps, 3), "exposure_ms": round(1000 * exposure, 1),
        "distance_mm": round(float(plan.start[_Z]), 1), "cue_timed": True,
        "deliberate_blinks": len(params["cuesMs"]) if deliberate else 0,
        "spontaneous_blink_rate": round(subj.blink_rate, 3), **meta})


def _held_print(rng: np.random.Generator, subj: _Subject, camera: Camera, duration: float,
                *, tilts: list[tuple[float, float, np.ndarray]] | None = None
                ) -> tuple[_Trace, Any]:
    """The victim's neutral photo held in front of the camera (optionally tilted on a schedule)."""
    width_mm = float(rng.uniform(110.0, 160.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm)
    rig = _PrintRig(sheet, camera, (0.0, 0.0))
    fps = camera.frame_rate(float(rng.uniform(8.0, 15.0)))
    times = _frame_times(rng, fps, duration)
    start = _facing(rng)
    start[_YAW] = rng.normal(0.0, 4.0)
    start[_PITCH] = rng.normal(0.0, 4.0)
    plan = _Plan(start)
    for t0, dur, delta in tilts or []:
        plan.add(t0, dur, delta)
    states = plan.at(times) + _Sway(rng, *_HAND_SWAY).at(times)
    tilt_gain = float(rng.uniform(0.1, 0.5))
    track = _print_track(rng, subj, sheet, rig, plan, times, states, tilt_gain)
    track.medium = "print"
    return _Trace(times, [track], metadata={
        "fps": round(fps, 3), "print_width_mm": round(width_mm, 1),
        "photo_pose": [round(v, 2) for v in sheet.pose],
        "reported_tilt_fraction": round(tilt_gain, 3)}), rig


def simulate_blink(rng: np.random.Generator, species: str | None, subj: _Subject,
                   camera: Camera, params: Mapping[str, Any]) -> _Trace:
    """One BLINK session: bona fide (``species=None``) or an attack of :data:`BLINK_SPECIES`.

    ``replay_other_challenge`` is simulated by the caller (a bona fide session
    for other params, shown on a screen).
    """
    if species is None:
        return _blink_live(rng, subj, camera, params)
    window = float(params["windowMs"]) / 1000.0
    if species == "print_static":
        trace, _ = _held_print(rng, subj, camera, window + 2.0)
        return trace
    if species == "video_replay":
        trace = _blink_live(rng, subj, camera, params, deliberate=False)
        trace.tracks[0].medium = "screen"
        trace.metadata["replayed"] = "video with spontaneous blinks"
        return trace
    if species == "face_swap":
        return _face_swap(rng, subj, camera, lambda who: _blink_live(rng, who, camera, params),
                          max_photo_frames=6)
    if species == "print_eye_holes":
        if not _cue_timed(params):  # the count-only protocol: blink every 1.5 s
            wanted = int(params["blinks"])
            params = {**params, "cuesMs": [1500 * (k + 1) for k in range(wanted)],
                      "windowMs": max(int(params["windowMs"]), 1500 * wanted + 1500)}
        return _eye_holes(rng, subj, camera, params)
    raise ValueError(f"unknown BLINK species {species!r}")


def _eye_holes(rng: np.random.Generator, subj: _Subject, camera: Camera,
               params: Mapping[str, Any]) -> _Trace:
    """The victim's print with the eyes cut out: the attacker's real lids blink on cue in the
    print's plane, and the attacker tilts the print like the requested turn."""
    _, exposure = _camera_rate(rng, camera)
    duration = float(params["windowMs"]) / 1000.0 + 0.8
    t_first = 0.1
    sign = 1.0 if params.get("turn", "LEFT") == "LEFT" else -1.0
    amp = sign * float(rng.uniform(15.0, 35.0))
    t0 = t_first + float(rng.uniform(1.0, 1.6))
    delta = np.zeros(6)
    delta[_YAW] = amp
    tilts = [(t0, 0.6, delta), (t0 + 1.2, 0.6, -delta)]
    trace, _ = _held_print(rng, subj, camera, duration, tilts=tilts)
    times = trace.times
    attacker, _ = _attacker(rng)
    starts, durs, depths, meta = _cue_blinks(rng, attacker, float(times[0]) if len(times) else 0.0,
                                             params)
    s0, d0 = _spontaneous_blinks(rng, attacker.blink_rate * 0.35, duration)
    openness = _exposed_lids(times, exposure, list(s0) + starts, list(d0) + durs,
                             [1.0] * len(s0) + depths)
    track = trace.tracks[0]
    lm = track.landmarks.copy()
    for up, down, centre in _LIDS:     # the lids move in the print's plane, around the hole
        for i in (up, down):
            lm[:, i] = lm[:, centre] + (lm[:, i] - lm[:, centre]) * openness[:, None]
    track.landmarks = lm
    track.eyes_open = openness > 0.5
    trace.metadata.update({"exposure_ms": round(1000 * exposure, 1),
                           "tilt_deg": round(amp, 1), **meta})
    return trace


# -- HEAD_TURN -------------------------------------------------------------------------------

_AXIS = {"LEFT": (_YAW, 1.0), "RIGHT": (_YAW, -1.0), "UP": (_PITCH, 1.0), "DOWN": (_PITCH, -1.0)}


def _turn_delta(rng: np.random.Generator, direction: str, amplitude: float) -> np.ndarray:
    axis, sign = _AXIS[direction]
    delta = np.zeros(6)
    delta[axis] = sign * amplitude
    other = _PITCH if axis == _YAW else _YAW
    delta[other] = rng.normal(0.0, 3.0)
    delta[_ROLL] = rng.normal(0.0, 2.0) + (0.1 * delta[_YAW] if axis == _YAW else 0.0)
    delta[_X] = rng.normal(0.0, 4.0) + (0.3 * delta[_YAW] if axis == _YAW else 0.0)
    delta[_Y] = rng.normal(0.0, 4.0)
    return delta


#: the angles (degrees, as the detector reports them) the client guides a person beyond: the
#: HEAD_TURN defaults; the client shows its own estimate of the pose until it is reached
_CLIENT_TURN = {_YAW: 20.0, _PITCH: 15.0}


def _head_turn_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
                    params: Mapping[str, Any]) -> _Trace:
    """A person turning the head in the requested directions, each held briefly.

    The client first asks to face the camera (a person seen more than 6
    degrees of yaw or 8 of pitch off-centre corrects). It shows a progress
    cue, so people turn until its estimate, relative to their centred pose, passes the
    thresholds (by 4..18 degrees of yaw, 3..12 of pitch), hold 0.4..0.9 s and come back. Slips: a
    mirrored first sideways turn (the subject's ``mirror_prone`` rate) and,
    for 2 % of sessions, a stiff neck that stops a few degrees short of the
    pitch threshold.
    """
    sequence = list(params["sequence"])
    rig = _HeadRig(subj.head, camera)
    fps = camera.frame_rate(float(rng.uniform(8.0, 15.0)))
    plan = _Plan(_facing(rng))
    bias = {_YAW: subj.yaw_bias, _PITCH: subj.pitch_bias}
    # the client asks to face the camera first: a person seen off-centre corrects
    centre = plan.start.copy()
    for axis, limit in ((_YAW, 6.0), (_PITCH, 8.0)):
        if abs(centre[axis] + bias[axis]) > limit:
            centre[axis] = float(rng.normal(0.0, 2.0)) - bias[axis]
    if not np.array_equal(centre, plan.start):
        plan.add(0.2, 0.5, centre - plan.start)
    t = 0.8 + subj.reaction_s * float(np.exp(rng.normal(0.0, 0.2)))
    stiff = rng.random() < 0.02
    mirror = rng.random() < subj.mirror_prone
    mirrored = False
    amplitudes = []
    for direction in sequence:
        if mirror and not mirrored and direction in ("LEFT", "RIGHT"):
            direction = "RIGHT" if direction == "LEFT" else "LEFT"
            mirrored = True
        axis, sign = _AXIS[direction]
        if axis == _YAW:
            margin = float(rng.uniform(4.0, 18.0))
        else:
            margin = float(rng.uniform(-6.0, -1.0) if stiff else rng.uniform(3.0, 12.0))
        start = plan.end()
        # the client guides on its estimate relative to the user's centred pose (the
        # hardened protocol's resting-pose baseline; near the camera axis for most people)
        amp = sign * (_CLIENT_TURN[axis] + margin) - (start[axis] - centre[axis])
        delta = _turn_delta(rng, direction, abs(amp))
        delta[axis] = amp
        amplitudes.append(round(float(amp), 2))
        dur = float(rng.uniform(0.5, 0.9)) * subj.speed
        plan.add(t, dur, delta)
        t += dur + float(rng.uniform(0.4, 0.9))
        back = float(rng.uniform(0.4, 0.8)) * subj.speed
        home = centre - plan.end() + rng.normal(0.0, 1.0, 6) * [1, 1, 0.5, 2, 2, 2]
        plan.add(t, back, home)
        t += back + float(rng.uniform(0.2, 0.5)) * subj.speed
    times = _frame_times(rng, fps, t + 0.6)
    states = plan.at(times) + _Sway(rng, *_HEAD_SWAY).at(times)
    starts, durs = _spontaneous_blinks(rng, subj.blink_rate, t + 0.6)
    eye_open = _eyelid(times, starts, durs, np.ones(len(starts)))
    gaze_yaw, gaze_pitch = _looking_at_screen(states)
    n = len(times)
    track = _expressive_track(subj, rig, plan, times, states, eye_open=eye_open,
                              gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, smile=np.zeros(n),
                              mouth_open=np.zeros(n))
    return _Trace(times, [track], metadata={
        "fps": round(fps, 3), "distance_mm": round(float(plan.start[_Z]), 1),
        "amplitudes_deg": amplitudes, "stiff_neck": bool(stiff),
        "mirrored_first_turn": mirrored})


def simulate_head_turn(rng: np.random.Generator, species: str | None, subj: _Subject,
                       camera: Camera, params: Mapping[str, Any]) -> _Trace:
    """One HEAD_TURN session: bona fide (``species=None``) or an attack of
    :data:`HEAD_TURN_SPECIES` (``replay_other_challenge`` is simulated by the caller)."""
    if species is None:
        return _head_turn_live(rng, subj, camera, params)
    if species == "print_tilted":
        tilts = []
        t = 0.9 + float(rng.uniform(0.3, 0.9))
        for direction in params["sequence"]:
            axis, sign = _AXIS[direction]
            delta = np.zeros(6)
            delta[axis] = sign * float(rng.uniform(40.0, 70.0))
            dur = float(rng.uniform(0.5, 1.0))
            tilts.append((t, dur, delta))
            t += dur + float(rng.uniform(0.4, 0.9))
            tilts.append((t, dur, -delta))
            t += dur + float(rng.uniform(0.2, 0.5))
        trace, _ = _held_print(rng, subj, camera, t + 0.6, tilts=tilts)
        trace.metadata["tilts_deg"] = [round(float(d[2][_AXIS[s][0]]), 1)
                                       for d, s in zip(tilts[::2], params["sequence"])]
        return trace
    if species == "face_swap":
        return _face_swap(rng, subj, camera,
                          lambda who: _head_turn_live(rng, who, camera, params),
                          max_photo_frames=8)
    raise ValueError(f"unknown HEAD_TURN species {species!r}")


def _face_swap(rng, subj, camera, perform, *, max_photo_frames: int):
    """The victim's photo for a few frames, then the attacker performing live (``perform``)."""
    photo, _ = _held_print(rng, subj, camera, 3.0)
    attacker, key = _attacker(rng)
    live = perform(attacker)
    live.tracks[0].identity = key
    k = int(rng.integers(3, max_photo_frames + 1))
    trace = _splice(photo, k, live, float(rng.uniform(0.1, 0.5)))
    trace.metadata = {**live.metadata, "photo_frames": k, "swap": "photo, then attacker"}
    return trace

