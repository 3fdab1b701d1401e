"""POSE sessions of the trace simulator: the original one-photo client and the filming
client of the hardened protocol (neutral, transition, held pose), and the POSE attacks
(prints, a print in a random pose, photos of the victim swapped by hand). Used through
:func:`liveness_lab.synth.traces.simulate_session`."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ._head import Camera
from ._motion import (_HAND_SWAY, _HEAD_SWAY, _PITCH, _ROLL, _YAW, _Z, _HeadRig, _Plan, _PrintRig,
                      _Sway, _frame_times)
from ._subjects import (_eyelid, _expressive_track, _print_track, _reported_pose, _spontaneous_blinks, _Subject,
                        _Trace, _Track, _victim_print)

_POSE_EYES = ("OPEN", "CLOSED", "LOOKING_LEFT", "LOOKING_RIGHT")
_POSE_MOUTH = ("CLOSED", "SMILE")


def _pose_placement(rng: np.random.Generator) -> np.ndarray:
    z = float(rng.uniform(330.0, 600.0))
    return np.array([0.0, 0.0, 0.0, rng.normal(0, 30), rng.normal(10, 25), z])


def _pose_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
               params: Mapping[str, Any]) -> _Trace:
    """A bona fide user copies the requested pose and takes one photo (as the sample client)."""
    pose = params.get("pose") or {}
    eyes, mouth = pose.get("eyes", "OPEN"), pose.get("mouth", "CLOSED")
    rig = _HeadRig(subj.head, camera)
    state = _pose_placement(rng)
    state[_YAW] = rng.normal(0.0, 4.0)
    state[_PITCH] = rng.normal(-2.0, 4.0)
    state[_ROLL] = rng.normal(0.0, 3.0)
    if rng.random() < 0.01:
        state[_YAW] = rng.choice([-1, 1]) * rng.uniform(20.0, 26.0)
    mirrored = eyes in ("LOOKING_LEFT", "LOOKING_RIGHT") and rng.random() < 0.06
    direction = {"LOOKING_LEFT": -1.0, "LOOKING_RIGHT": 1.0}.get(eyes, 0.0)
    if mirrored:  # copies the drawing as in a mirror: pupils to the other side
        direction = -direction
    gaze_yaw = direction * rng.uniform(18.0, 35.0) if direction else rng.normal(0.0, 3.0)
    blink = eyes != "CLOSED" and rng.random() < 0.015
    eyes_closed = eyes == "CLOSED" or blink
    smiling = mouth == "SMILE" or rng.random() < 0.02
    mouth_open = mouth == "SMILE" and not subj.closed_smile
    t_photo = float(rng.uniform(1.5, 4.0) + rng.uniform(1.0, 3.0) * subj.speed)
    times = np.array([t_photo])
    lm = rig.landmarks(state[None], gaze_yaw=gaze_yaw, gaze_pitch=rng.normal(-3, 2),
                       eye_open=0.0 if eyes_closed else 1.0, smile=1.0 if smiling else 0.0,
                       mouth_open=1.0 if mouth_open else 0.0)
    eyes_truth = np.array([not eyes_closed])
    if eyes == "CLOSED" and rng.random() < 0.03:   # eyes not quite shut: seen open
        eyes_truth[:] = True
    track = _Track(landmarks=lm, pose=_reported_pose(subj, rig, state[None]),
                   eyes_open=eyes_truth, smile=np.array([smiling]),
                   mouth_open=np.array([mouth_open]), speed=np.zeros(1),
                   drop_rate=subj.drop_rate, brightness=subj.brightness,
                   sharpness=subj.sharpness)
    return _Trace(times, [track], metadata={
        "client": "single photo", "distance_mm": round(float(state[_Z]), 1),
        "gaze_yaw_deg": round(float(gaze_yaw), 2), "mirrored_gaze": mirrored,
        "blink": blink})


def _pose_print(rng: np.random.Generator, subj: _Subject, camera: Camera,
                params: Mapping[str, Any], species: str) -> _Trace:
    """A print held in front of the camera, photographed once."""
    if species == "print_random_pose":
        label = (str(rng.choice(_POSE_EYES)), str(rng.choice(_POSE_MOUTH)))
    elif species == "print_pose_set":  # the attacker holds photos of every pose: the right one
        pose = params.get("pose") or {}
        label = (pose.get("eyes", "OPEN"), pose.get("mouth", "CLOSED"))
    else:
        label = ("OPEN", "CLOSED")
    width_mm = float(rng.uniform(110.0, 160.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm, pose_label=label)
    rig = _PrintRig(sheet, camera, (0.0, 0.0))
    state = _pose_placement(rng)
    state[_YAW] = rng.normal(0.0, 8.0)
    state[_PITCH] = rng.normal(0.0, 8.0)
    state[_ROLL] = rng.normal(0.0, 4.0)
    tilt_gain = float(rng.uniform(0.1, 0.5))
    times = np.array([float(rng.uniform(2.0, 8.0))])
    plan = _Plan(state)
    track = _print_track(rng, subj, sheet, rig, plan, times, state[None], tilt_gain)
    return _Trace(times, [track], metadata={
        "client": "single photo", "photo_shows": {"eyes": label[0], "mouth": label[1]},
        "print_width_mm": round(width_mm, 1), "photo_pose": [round(v, 2) for v in sheet.pose],
        "reported_tilt_fraction": round(tilt_gain, 3)})


# -- POSE, multi-frame client (the recommended profile's protocol) -----------------------------

_GAZE_SIDE = {"LOOKING_LEFT": -1.0, "LOOKING_RIGHT": 1.0}


def _ramp(times: np.ndarray, t0: float, t1: float, width: float) -> np.ndarray:
    """0 before ``t0``, 1 from ``t0 + width`` to ``t1``, back to 0 at ``t1 + width`` (linear)."""
    up = np.clip((times - t0) / width, 0.0, 1.0)
    down = np.clip(1.0 - (times - t1) / width, 0.0, 1.0)
    return np.minimum(up, down)


def _pose_video_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
                     params: Mapping[str, Any]) -> _Trace:
    """A bona fide user filmed while copying the pose: neutral, the pose held, neutral again.

    The client records 8..15 fps: 1.2..1.8 s of neutral face, then shows the
    pose; once it sees the person start, it counts 1.2..2.2 s down, then asks
    to relax and keeps recording 1.0..1.8 s. The person reacts after their
    reaction time, changes expression over 0.15..0.35 s and blinks
    spontaneously (not while asked to close the eyes). Glances are 15..35
    degrees, and the head comes along by 0..30 % of the glance.
    """
    pose = params.get("pose") or {}
    eyes, mouth = pose.get("eyes", "OPEN"), pose.get("mouth", "CLOSED")
    rig = _HeadRig(subj.head, camera)
    fps = camera.frame_rate(float(rng.uniform(8.0, 15.0)))
    t_show = float(rng.uniform(1.2, 1.8))
    reaction = subj.reaction_s * float(np.exp(rng.normal(0.0, 0.2)))
    on = t_show + reaction
    off = on + float(rng.uniform(1.2, 2.2)) + float(rng.uniform(0.2, 0.5)) * subj.speed
    duration = off + float(rng.uniform(1.0, 1.8))
    times = _frame_times(rng, fps, duration)
    base = _pose_placement(rng)
    base[_YAW], base[_PITCH], base[_ROLL] = (rng.normal(0, 3.0), rng.normal(-2, 3.0),
                                             rng.normal(0, 2.5))
    plan = _Plan(base)
    states = plan.at(times) + _Sway(rng, *_HEAD_SWAY).at(times)
    level = _ramp(times, on, off, float(rng.uniform(0.15, 0.35)))
    mirrored = eyes in _GAZE_SIDE and rng.random() < 0.06
    side = _GAZE_SIDE.get(eyes, 0.0) * (-1.0 if mirrored else 1.0)
    gaze_amp = float(rng.uniform(15.0, 35.0))   # glances of 15-20 degrees barely move the pupil
    gaze_yaw = -0.85 * states[:, _YAW] + rng.normal(0.0, 2.0) + side * gaze_amp * level
    gaze_pitch = -0.85 * states[:, _PITCH] - 4.0 + rng.normal(0.0, 1.5, len(times))
    closing = eyes == "CLOSED"
    squint = closing and rng.random() < 0.03          # eyes not quite shut: seen open
    starts, durs = _spontaneous_blinks(rng, subj.blink_rate, duration)
    eye_open = _eyelid(times, starts, durs, np.ones(len(starts)))
    if closing:
        eye_open = np.minimum(eye_open, 1.0 - (0.45 if squint else 1.0) * level)
    smiling = mouth == "SMILE"
    smile = level if smiling else np.zeros(len(times))
    mouth_open = level if smiling and not subj.closed_smile else np.zeros(len(times))
    # eye-head coordination: asked to look aside, people bring the head along by 0-30 % of
    # the gaze shift; the eyes then turn in the head by the rest (drawn last: the earlier
    # draws, and so the rest of the session, are those of the previous revision)
    head_share = float(rng.uniform(0.0, 0.3)) if side else 0.0
    states[:, _YAW] += side * head_share * gaze_amp * level
    gaze_yaw = gaze_yaw - side * head_share * gaze_amp * level
    track = _expressive_track(subj, rig, plan, times, states, eye_open=eye_open,
                              gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, smile=smile,
                              mouth_open=mouth_open)
    return _Trace(times, [track], metadata={
        "client": "video", "fps": round(fps, 3), "distance_mm": round(float(base[_Z]), 1),
        "reaction_s": round(reaction, 3), "gaze_yaw_deg": round(side * gaze_amp, 2),
        "mirrored_gaze": mirrored, "squint": squint,
        "head_share_of_gaze": round(head_share, 3)})


def _pose_video_prints(rng: np.random.Generator, subj: _Subject, camera: Camera,
                       params: Mapping[str, Any], species: str) -> _Trace:
    """Photos held in front of the filming client.

    ``print_static``: a neutral photo; ``print_random_pose``: a photo of a
    random pose; ``print_pose_set``: the neutral photo, swapped for a photo of
    the requested pose, swapped back (each swap hides the face for 0.15..0.6 s,
    and sometimes shows both sheets at once).
    """
    pose = params.get("pose") or {}
    requested = (pose.get("eyes", "OPEN"), pose.get("mouth", "CLOSED"))
    fps = camera.frame_rate(float(rng.uniform(8.0, 15.0)))
    duration = float(rng.uniform(5.0, 6.5))
    times = _frame_times(rng, fps, duration)
    if species == "print_random_pose":
        labels = [(str(rng.choice(_POSE_EYES)), str(rng.choice(_POSE_MOUTH)))]
        spans = [(0.0, duration)]
    elif species == "print_pose_set":
        t1 = float(rng.uniform(1.3, 2.2))
        gap1 = float(rng.uniform(0.15, 0.6))
        t2 = t1 + gap1 + float(rng.uniform(1.2, 2.2))
        gap2 = float(rng.uniform(0.15, 0.6))
        labels = [("OPEN", "CLOSED"), requested, ("OPEN", "CLOSED")]
        spans = [(0.0, t1), (t1 + gap1, t2), (t2 + gap2, duration)]
    else:
        labels = [("OPEN", "CLOSED")]
        spans = [(0.0, duration)]
    width_mm = float(rng.uniform(110.0, 160.0))
    state = _pose_placement(rng)
    state[_YAW], state[_PITCH], state[_ROLL] = (rng.normal(0, 6.0), rng.normal(0, 6.0),
                                                rng.normal(0, 3.0))
    tilt_gain = float(rng.uniform(0.1, 0.5))
    sway = _Sway(rng, *_HAND_SWAY)
    states = state + sway.at(times)
    tracks = []
    both = rng.random() < 0.3       # during a swap, both sheets are seen for a moment
    for k, (label, (a, b)) in enumerate(zip(labels, spans)):
        sheet = _victim_print(rng, subj, width_mm=width_mm, pose_label=label)
        rig = _PrintRig(sheet, camera, (0.0, 0.0))
        track = _print_track(rng, subj, sheet, rig, _Plan(state), times, states, tilt_gain)
        track.medium = "print"
        shown = (times >= a) & (times < b)
        if both and k > 0:
            shown |= (times >= a - 0.15) & (times < a)
        track.visible = shown
        tracks.append(track)
    return _Trace(times, tracks, metadata={
        "client": "video", "fps": round(fps, 3), "print_width_mm": round(width_mm, 1),
        "photos": [{"eyes": e, "mouth": m} for e, m in labels],
        "photo_spans_s": [[round(a, 3), round(b, 3)] for a, b in spans],
        "reported_tilt_fraction": round(tilt_gain, 3)})
