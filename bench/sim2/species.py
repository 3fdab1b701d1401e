"""Bona fide sessions and presentation attacks, per challenge type.

Every builder takes a :class:`Trial` (the challenge's params, the capture camera, the victim,
an attacker and a random generator) and returns the uploaded frames plus a few facts of how
the session was made. Attacks are built from the same parts as genuine sessions - people,
cameras, prints, screens, masks - never from the challenge's decision rules:

* prints (one photo of the victim on a plane held by hand): static, moved toward the target,
  tilted about the vertical axis, rolled in plane; with the eyes cut out and the attacker's
  real eyelids blinking behind;
* screens showing a video of the victim (an everyday clip: looking around, blinking), or a
  live video of the victim performing this very challenge;
* injected replays of the victim's genuine recording made for another challenge of the same
  type (other params);
* photos of the victim in several poses swapped by hand (gaps while a photo leaves and the
  next one enters, jumps in position);
* a second face (the victim's print) entering the frame while the attacker performs;
* a rigid mask of the victim's face worn by the attacker (3D, but lids, gaze and mouth fixed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .blink_protocol import TURN_SIGN, blink_span, perform_cued_blinks, plan_turn
from .camera import Camera, sample_camera
from .face import INDEX
from .motion import BlinkTrack
from .people import LiveHead, Person
from .protocols import (HEAD_TURN_LEAD_MS, HEAD_TURN_PERIOD_MS, NOSE_CLIENT, centre_face,
                        fit_distance,
                        nose_in_box, perform_head_turn, perform_nose,
                        perform_pose, pose_phases)
from .scene import Frame, Hand, Planar, Windowed, film

__all__ = ["Trial", "SPECIES", "species_for", "client_camera"]

T_MAX = 16000.0


def _t_max(trial: "Trial") -> float:
    """How long the people and hands of a session are simulated (ms): BLINK's cue-timed
    windows run up to ~27 s."""
    if trial.kind == "BLINK":
        return max(T_MAX, float(trial.params["windowMs"]) + 3000.0)
    return T_MAX


@dataclass(frozen=True)
class Trial:
    """Everything one session is built from.

    ``kind`` is the simulated protocol: ``NOSE``, ``POSE`` (filmed), ``POSE_PHOTO`` (the
    original single photo), ``BLINK``, ``HEAD_TURN``. ``other_params`` draws params of another
    challenge of the same type (for replays).
    """

    kind: str
    params: dict
    camera: Camera
    victim: Person
    attacker: Person
    rng: np.random.Generator
    other_params: Callable[[], dict]


def client_camera(kind: str, camera: Camera) -> Camera:
    """The camera as the client of ``kind`` uses it (the NOSE web client caps size and rate)."""
    if kind == "NOSE":
        return camera.scaled_to(*NOSE_CLIENT)
    return camera


def _area_fraction(rng: np.random.Generator) -> float:
    return 0.75 * float(rng.uniform(0.6, 0.8))


def _seat(kind: str, person: Person, camera: Camera, rng: np.random.Generator) -> Person:
    """Where the user sits: NOSE users fit the face in the client's area; others sit as they are."""
    if kind == "NOSE":
        return fit_distance(person, camera, _area_fraction(rng))
    return fit_distance(person, camera, float(rng.uniform(0.3, 0.6)))


def _perform(kind: str, head: LiveHead, camera: Camera, params: dict, rng: np.random.Generator,
             nose_target: np.ndarray | None = None) -> tuple[float, float]:
    if kind == "NOSE":
        return perform_nose(head, camera, params, rng, nose_target)
    if kind in ("POSE", "POSE_PHOTO"):
        return perform_pose(head, camera, params, rng, filmed=kind == "POSE")
    if kind == "BLINK":
        return perform_cued_blinks(head, params, rng)
    return perform_head_turn(head, camera, params, rng)


def _client_frames(kind: str, sources: list, camera: Camera, span: tuple[float, float],
                   params: dict, rng: np.random.Generator, glare: list[float],
                   order: list[int] | None = None) -> list[Frame]:
    t0, t1 = span
    times = np.array([t1]) if kind == "POSE_PHOTO" else None
    if kind == "BLINK":  # the cues' clock starts with the client's first frame
        times = camera.frame_times(rng, t0, t1, first_at_start=True)
    frames = film(sources, camera, t0, t1 if times is None else t1 + 1, rng, glare=glare,
                  order=order, times=times)
    return _nose_client_stop(frames, params, rng) if kind == "NOSE" else frames


def _nose_client_stop(frames: list[Frame], params: dict, rng: np.random.Generator
                      ) -> list[Frame]:
    """The web client stops uploading once its own detector sees the nose in the target."""
    for i, f in enumerate(frames):
        seen = None if f.true_nose_px is None else tuple(np.asarray(f.true_nose_px)
                                                          + rng.normal(0, 2.0, 2))
        if nose_in_box(seen, params):
            return frames[: i + 1 + int(rng.integers(0, 2))]
    return frames


def _live(trial: Trial, person: Person, params: dict, *, frozen: bool = False,
          camera: Camera | None = None, nose_target=None) -> tuple[LiveHead, tuple[float, float]]:
    cam = camera or trial.camera
    seated = _seat(trial.kind, person, cam, trial.rng)
    blink = trial.kind == "BLINK"  # BLINK's people blink spontaneously at a screen's rate
    head = LiveHead(seated, trial.rng, _t_max(trial), frozen_face=frozen, spontaneous=not blink)
    span = _perform(trial.kind, head, cam, params, trial.rng, nose_target)
    return head, span


# -- bona fide -------------------------------------------------------------------------------

def bona_fide(trial: Trial) -> tuple[list[Frame], dict]:
    head, span = _live(trial, trial.victim, trial.params)
    frames = _client_frames(trial.kind, [head], trial.camera, span, trial.params, trial.rng,
                            [trial.victim.glare])
    return frames, {"distance_mm": round(head.person.distance_mm), **head.script}


# -- planar presentations ---------------------------------------------------------------------

def _recording_camera(trial: Trial) -> Camera:
    return client_camera(trial.kind, sample_camera(trial.rng))


def _photo_of(trial: Trial, person: Person, *, yaw: float = 0.0, pitch: float = 0.0,
              pose: dict | None = None, eyes_open: bool = True
              ) -> tuple[LiveHead, Camera]:
    """A photo (a still head) of ``person`` with the given pose offsets and face."""
    rng = trial.rng
    cam = _recording_camera(trial)
    # a photo taken to be used: the person faces the camera more or less
    p = replace(person, resting_yaw=float(np.clip(rng.normal(0, 5), -15, 15)),
                resting_pitch=float(np.clip(rng.normal(0, 4), -12, 12)))
    p = fit_distance(p, cam, float(rng.uniform(0.4, 0.6)))
    head = LiveHead(p, rng, 4000.0, spontaneous=False)
    head.yaw.step(0, 10, yaw)
    head.pitch.step(0, 10, pitch)
    if pose is not None:
        perform_pose(head, cam, {"pose": pose}, rng, filmed=False)
    if not eyes_open:
        head.eyes.level.move_to(0, 10, 0.0)
    return head, cam


def _hold(trial: Trial, rec_head: LiveHead, rec_cam: Camera, *, screen: bool,
          time_map: Callable[[np.ndarray], np.ndarray], steady: float = 1.0,
          eyelids: BlinkTrack | None = None) -> Planar:
    """Put the recorded face on a print / screen, held where a face would be for this client."""
    rng = trial.rng
    cam = trial.camera
    iod_on_plane = float(rng.uniform(30.0, 60.0) if screen else rng.uniform(55.0, 68.0))
    rec = rec_head.states(np.array([time_map(np.array([0.0]))[0]]))
    px = rec_cam.project(rec.points[0])
    iod_px = float(np.hypot(*(px[INDEX["eyeRight"]] - px[INDEX["eyeLeft"]])))
    mm_per_px = iod_on_plane / iod_px
    # hold the plane at the distance where the face looks as large as a seated user's face
    seated = _seat(trial.kind, trial.victim, cam, rng)
    dist = seated.distance_mm * iod_on_plane / trial.victim.geometry.interocular_mm
    # the recorded face centre sits on the optical axis
    face_c = (px[INDEX["eyeLeft"]] + px[INDEX["eyeRight"]]) / 2 + np.array(
        [0.0, 0.45 * (px[INDEX["chinBottom"], 1] - px[INDEX["eyeLeft"], 1])])
    off = (face_c - np.array([rec_cam.width / 2, rec_cam.height / 2])) * mm_per_px
    hand = Hand(rng, _t_max(trial), dist, steady=(0.4 if screen else 1.0) * steady)
    hand.x.rest, hand.y.rest = -off[0], -off[1]
    return Planar(rec_head, rec_cam, hand, mm_per_px, time_map, eyelids)


def _const(t_rec: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.full(np.shape(t), t_rec)


def _shift(offset: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.asarray(t, float) + offset


def _span(trial: Trial) -> tuple[float, float]:
    """The client's filming window when the user does nothing in particular."""
    p = trial.params
    if trial.kind == "NOSE":
        return 0.0, 12000.0
    if trial.kind == "POSE_PHOTO":
        t = float(trial.rng.uniform(1500.0, 3000.0))
        return t, t
    if trial.kind == "POSE":
        neutral, hold = pose_phases(p, trial.camera)
        return 0.0, 2 * neutral + hold
    if trial.kind == "BLINK":
        return blink_span(p, trial.rng)
    return 0.0, HEAD_TURN_LEAD_MS + len(p["sequence"]) * HEAD_TURN_PERIOD_MS + 800.0


def _nose_target_px(params: dict) -> np.ndarray:
    return np.array([params["noseLeft"] + params["noseWidth"] / 2,
                     params["noseTop"] + params["noseHeight"] / 2])


def print_static(trial: Trial) -> tuple[list[Frame], dict]:
    head, cam = _photo_of(trial, trial.victim)
    plane = _hold(trial, head, cam, screen=False, time_map=_const(1000.0))
    return _client_frames(trial.kind, [plane], trial.camera, _span(trial), trial.params,
                          trial.rng, [0.0]), {}


def _print_moved(trial: Trial, mode: str) -> tuple[list[Frame], dict]:
    """A print moved (``move``), tilted (``tilt``) or rolled (``roll``) toward the nose target,
    or, for HEAD_TURN, tilted like the requested turns."""
    rng = trial.rng
    head, cam = _photo_of(trial, trial.victim)
    plane = _hold(trial, head, cam, screen=False, time_map=_const(1000.0))
    hand = plane.hand
    meta: dict = {}
    if trial.kind == "HEAD_TURN":
        for k, d in enumerate(trial.params["sequence"]):
            t = HEAD_TURN_LEAD_MS + k * HEAD_TURN_PERIOD_MS + rng.uniform(300, 700)
            a = rng.uniform(20.0, 40.0)
            ch = hand.yaw if d in ("LEFT", "RIGHT") else hand.pitch
            sign = 1.0 if d in ("LEFT", "UP") else -1.0
            ch.step(t, rng.uniform(400, 800), sign * a)
            ch.step(t + rng.uniform(1000, 1500), rng.uniform(400, 800), -sign * a)
        span = _span(trial)
    else:
        cam_c = trial.camera
        target = _nose_target_px(trial.params)
        start = np.array([cam_c.width / 2, cam_c.height / 2])
        shift_mm = (target - start) * hand.distance_mm / cam_c.focal_px
        t0, dur = rng.uniform(300, 800), rng.uniform(500, 1200)
        side = 1.0 if target[0] > start[0] else -1.0
        frac = 1.0 if mode == "move" else float(rng.uniform(0.3, 1.0))
        hand.x.step(t0, dur, shift_mm[0] * frac)
        hand.y.step(t0, dur, shift_mm[1] * frac)
        if mode == "tilt":
            a = side * rng.uniform(15.0, 35.0)
            hand.yaw.step(t0, dur, a)
            meta["tilt_deg"] = round(a, 1)
        elif mode == "roll":
            a = side * rng.uniform(8.0, 25.0) * (1 if rng.random() < 0.5 else -1)
            hand.roll.step(t0, dur, a)
            meta["roll_deg"] = round(a, 1)
        span = _span(trial)
    return _client_frames(trial.kind, [plane], trial.camera, span, trial.params, rng,
                          [0.0]), meta


def print_moved(trial: Trial):
    return _print_moved(trial, "move")


def print_tilted(trial: Trial):
    return _print_moved(trial, "tilt")


def print_rolled(trial: Trial):
    return _print_moved(trial, "roll")


def print_eye_holes(trial: Trial) -> tuple[list[Frame], dict]:
    """The victim's print with the eyes cut out; the attacker's own eyelids blink behind, on
    the cues, and the attacker turns the print the asked way (a plane turning: a homography)."""
    rng = trial.rng
    head, cam = _photo_of(trial, trial.victim)
    attacker = LiveHead(trial.attacker, rng, _t_max(trial), spontaneous=False)
    span = perform_cued_blinks(attacker, trial.params, rng, turn=False)
    plane = _hold(trial, head, cam, screen=False, time_map=_const(1000.0), eyelids=attacker.eyes)
    meta = dict(attacker.script)
    if trial.params.get("turn") in TURN_SIGN:
        plan = plan_turn(trial.attacker, trial.params["turn"], rng, float(attacker.script["lag_ms"]))
        hand = plane.hand
        hand.yaw.step(plan.start, plan.duration, plan.yaw)
        hand.pitch.step(plan.start, plan.duration, plan.pitch)
        back = plan.start + plan.duration + plan.hold
        hand.yaw.step(back, plan.back_duration, -plan.yaw + plan.return_error)
        hand.pitch.step(back, plan.back_duration, -plan.pitch)
        meta["print_turn_deg"] = round(plan.yaw, 1)
    return _client_frames(trial.kind, [plane], trial.camera, span, trial.params, rng,
                          [0.0]), meta


def _idle_video(trial: Trial, person: Person, cam: Camera) -> LiveHead:
    """An everyday clip of ``person``: blinking, glancing, turning the head now and then."""
    rng = trial.rng
    p = fit_distance(person, cam, float(rng.uniform(0.35, 0.6)))
    head = LiveHead(p, rng, T_MAX + 4000)
    t = rng.uniform(0, 1500)
    while t < T_MAX + 3000:
        dur = rng.uniform(400, 900)
        head.yaw.move_to(t, dur, p.resting_yaw + rng.uniform(-30, 30))
        head.pitch.move_to(t, dur, p.resting_pitch + rng.uniform(-15, 15))
        if rng.random() < 0.3:
            head.smile.move_to(t, 400, rng.uniform(0, 1) * (rng.random() < 0.5))
        t += dur + rng.uniform(500, 2500)
    return head


def _blinking_video(trial: Trial, person: Person, cam: Camera) -> tuple[LiveHead, dict]:
    """A clip of ``person`` facing the camera, blinking on his own (10-20 a minute), with a
    slight turn (8-40 degrees, either way, and back) in half of the clips."""
    rng = trial.rng
    p = fit_distance(person, cam, float(rng.uniform(0.35, 0.6)))
    t_end = _t_max(trial) + 4000.0
    head = LiveHead(p, rng, t_end)
    meta: dict = {}
    if rng.random() < 0.5:
        plan = plan_turn(p, "LEFT" if rng.random() < 0.5 else "RIGHT", rng,
                         float(rng.uniform(0.0, t_end - 4000.0)))
        head.yaw.step(plan.start, plan.duration, plan.yaw)
        head.yaw.step(plan.start + plan.duration + plan.hold, plan.back_duration, -plan.yaw)
        meta["clip_turn_deg"] = round(plan.yaw, 1)
    return head, meta


def screen_replay(trial: Trial) -> tuple[list[Frame], dict]:
    cam = _recording_camera(trial)
    if trial.kind == "BLINK":
        video, meta = _blinking_video(trial, trial.victim, cam)
        plane = _hold(trial, video, cam, screen=True, time_map=_shift(trial.rng.uniform(0, 3000)))
        return _client_frames(trial.kind, [plane], trial.camera, _span(trial), trial.params,
                              trial.rng, [0.0]), meta
    video = _idle_video(trial, trial.victim, cam)
    plane = _hold(trial, video, cam, screen=True, time_map=_shift(trial.rng.uniform(0, 3000)))
    return _client_frames(trial.kind, [plane], trial.camera, _span(trial), trial.params,
                          trial.rng, [0.0]), {}


def live_video_response(trial: Trial) -> tuple[list[Frame], dict]:
    """A screen showing the victim, live, performing this very challenge."""
    rng = trial.rng
    cam = _recording_camera(trial)
    seated = _seat(trial.kind, trial.victim, cam, rng)
    if trial.kind == "BLINK":
        head = LiveHead(seated, rng, _t_max(trial), spontaneous=False)
    else:
        head = LiveHead(seated, rng, T_MAX)
    if trial.kind == "NOSE":
        centre_face(head, cam, rng)
    delay = float(rng.uniform(100.0, 400.0))  # relay latency
    plane = _hold(trial, head, cam, screen=True, time_map=_shift(-delay))
    if trial.kind == "BLINK":  # the cues reach the victim one relay later, his face one more
        span = perform_cued_blinks(head, trial.params, rng, extra_lag_ms=delay)
        return _client_frames(trial.kind, [plane], trial.camera, span, trial.params, rng,
                              [0.0]), {"relay_delay_ms": round(delay), **head.script}
    target = None
    if trial.kind == "NOSE":  # the victim sees the attacker's preview: aims through the screen
        target = plane.recording_pixel(trial.camera, tuple(_nose_target_px(trial.params)))
    span = _perform(trial.kind, head, cam, trial.params, rng, target)
    span = (span[0] + delay, span[1] + delay)
    return _client_frames(trial.kind, [plane], trial.camera, span, trial.params, rng,
                          [0.0]), {"relay_delay_ms": round(delay)}


def replay_other_challenge(trial: Trial) -> tuple[list[Frame], dict]:
    """The victim's genuine recording for other params of the same type, injected as the camera."""
    other = trial.other_params()
    rec = replace(trial, params=other)
    head, span = _live(rec, trial.victim, other)
    frames = _client_frames(trial.kind, [head], trial.camera, span, other, trial.rng,
                            [trial.victim.glare])
    if trial.kind == "NOSE":
        frames = _nose_client_stop(frames, trial.params, trial.rng)
    return frames, {"recorded_params": other}


def _swap_windows(trial: Trial, switch_times: list[float]) -> list[tuple[float, float]]:
    """Visible windows of consecutive photos, with a hand-swap gap at each switch."""
    windows, start = [], -1e9
    for t in switch_times:
        gap = float(trial.rng.uniform(0.0, 900.0)) if trial.rng.random() < 0.8 else 0.0
        windows.append((start, t))
        start = t + gap
    windows.append((start, 1e9))
    return windows


def photo_swap(trial: Trial) -> tuple[list[Frame], dict]:
    """Photos of the victim in several poses, swapped by hand as the challenge asks."""
    rng = trial.rng
    p = trial.params
    react = lambda: trial.attacker.reaction(rng) + rng.uniform(200.0, 600.0)  # noqa: E731
    if trial.kind == "POSE_PHOTO":
        head, cam = _photo_of(trial, trial.victim, pose=p["pose"])
        plane = _hold(trial, head, cam, screen=False, time_map=_const(3000.0))
        return _client_frames(trial.kind, [plane], trial.camera, _span(trial), p, rng, [0.0]), {}
    if trial.kind == "POSE":
        neutral, hold = pose_phases(p, trial.camera)
        shots = [dict(), dict(pose=p["pose"]), dict()]
        switches = [neutral + react(), neutral + hold + react()]
    else:  # HEAD_TURN
        shots, switches = [dict()], []
        for k, d in enumerate(p["sequence"]):
            yaw = {"LEFT": 30.0, "RIGHT": -30.0}.get(d, 0.0) * rng.uniform(0.8, 1.2)
            pitch = {"UP": 20.0, "DOWN": -20.0}.get(d, 0.0) * rng.uniform(0.8, 1.2)
            cue = HEAD_TURN_LEAD_MS + k * HEAD_TURN_PERIOD_MS
            shots += [dict(yaw=yaw, pitch=pitch), dict()]
            switches += [cue + react(), cue + 1200.0 + react()]
    windows = _swap_windows(trial, switches)
    sources = []
    for k, shot in enumerate(shots):
        head, cam = _photo_of(trial, trial.victim, **shot)
        plane = _hold(trial, head, cam, screen=False, time_map=_const(3000.0))
        plane.hand.x.rest += rng.normal(0, 12.0)  # each photo lands somewhere else
        plane.hand.y.rest += rng.normal(0, 10.0)
        plane.hand.z.rest += rng.normal(0, 30.0)
        sources.append(Windowed(plane, [windows[k]]))
    frames = film(sources, trial.camera, *_span(trial), rng, glare=[0.0] * len(sources))
    gaps = [round(b - a) for (_, a), (b, _) in zip(windows[:-1], windows[1:])]
    return frames, {"swap_gaps_ms": gaps}


def multiple_faces(trial: Trial) -> tuple[list[Frame], dict]:
    """The attacker performs; the victim's print enters the frame from one side."""
    rng = trial.rng
    head, span = _live(trial, trial.attacker, trial.params)
    photo, cam = _photo_of(trial, trial.victim)
    plane = _hold(trial, photo, cam, screen=False, time_map=_const(1000.0))
    side = 1.0 if rng.random() < 0.5 else -1.0
    c = trial.camera
    x_px = side * c.width * rng.uniform(0.3, 0.42)
    plane.hand.x.rest += x_px * plane.hand.distance_mm / c.focal_px
    plane.hand.z.rest += rng.uniform(0, 150)
    # NOSE responses last 1-3 s (the client stops at the target): the face is there from the
    # start or enters during the response; other clients film a fixed window
    length = 2000.0 if trial.kind == "NOSE" else span[1] - span[0]
    t_enter = float(span[0] + rng.uniform(0.0, 0.8) * length)
    second = Windowed(plane, [(t_enter, 1e9)])
    order = [0, 1] if rng.random() < 0.5 else [1, 0]
    frames = _client_frames(trial.kind, [head, second], trial.camera, span, trial.params, rng,
                            [trial.attacker.glare, 0.0], order=order)
    return frames, {"second_face_enters_ms": round(t_enter), "victim_listed_first": order[0] == 1}


def rigid_mask(trial: Trial) -> tuple[list[Frame], dict]:
    """The attacker wears a rigid 3D mask of the victim's face and performs the challenge."""
    wearer = replace(trial.attacker, geometry=replace(
        trial.victim.geometry, points=trial.victim.geometry.points * 1.03))
    head, span = _live(trial, wearer, trial.params, frozen=True)
    return _client_frames(trial.kind, [head], trial.camera, span, trial.params, trial.rng,
                          [0.0]), dict(head.script)


_COMMON = {"print_static": print_static, "screen_replay": screen_replay,
           "replay_other_challenge": replay_other_challenge,
           "live_video_response": live_video_response}

#: Attack species simulated for each protocol (bona fide is ``None``).
SPECIES: dict[str, dict[str | None, Callable[[Trial], tuple[list[Frame], dict]]]] = {
    "NOSE": {None: bona_fide, **_COMMON, "print_moved": print_moved,
             "print_tilted": print_tilted, "print_rolled": print_rolled,
             "multiple_faces": multiple_faces, "rigid_mask": rigid_mask},
    "POSE": {None: bona_fide, **_COMMON, "photo_swap": photo_swap},
    "POSE_PHOTO": {None: bona_fide, **_COMMON, "photo_swap": photo_swap},
    "BLINK": {None: bona_fide, **_COMMON, "print_eye_holes": print_eye_holes,
              "rigid_mask": rigid_mask},
    "HEAD_TURN": {None: bona_fide, **_COMMON, "print_tilted": print_tilted,
                  "photo_swap": photo_swap, "multiple_faces": multiple_faces,
                  "rigid_mask": rigid_mask},
}


def species_for(kind: str) -> list[str | None]:
    """Bona fide (``None``) then the attack species of ``kind``."""
    try:
        return list(SPECIES[kind])
    except KeyError:
        raise ValueError(f"unknown protocol {kind!r}; known: {', '.join(SPECIES)}") from None
