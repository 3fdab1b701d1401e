"""Trace-level synthetic challenge sessions: face detections without images.

A deterministic simulator of people (and presentation attacks) answering NOSE,
POSE, BLINK and HEAD_TURN challenges, at the level of what Amazon Rekognition
``DetectFaces`` reports for each frame (plus, for the hardened bench, simulated
face descriptors and PAD scores, :mod:`._extras`). A generic 3D head (30 Rekognition landmarks, in mm) or
a flat printed photo is moved by a behaviour model, projected through a
pinhole camera and "measured" with detector noise into Rekognition-shaped
``FaceDetail`` JSON. :func:`generate_dataset` writes labelled datasets in the
session format; ``docs/synthetic-traces.md`` describes the model and its limits.

Coordinates and sign conventions
--------------------------------
Camera frame: ``x`` toward the image's right, ``y`` down, ``z`` forward (away
from the camera), millimetres. Frames are the unmirrored camera images that
the client uploads. The head frame has the same axes when the head faces the
camera; a point ``p`` of the head is at ``position + R @ (p - pivot)`` in the
camera frame, ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (:func:`rotation_matrix`).
Landmark names follow Rekognition: ``...Left`` points are on the image's
left for a frontal face (``eyeLeft.X < eyeRight.X``, ``leftEyeLeft.X <
leftEyeRight.X``).

* **Yaw** is positive when the nose tip moves toward the image's **right**
  side (the subject turns toward their own left). This is what the original
  NOSE rule implies: ``rotated_right = yaw > 5`` is the "good" rotation when
  the nose box is in the right half of the image (``noseLeft + 10 >
  imageWidth / 2``), so a live user who brings the nose tip to a target on
  the right of the unmirrored image must report positive yaw. (This differs
  from the wording of :class:`liveness_lab.faces.Pose`; see the dataset docs.)
* **Pitch** is positive when the face looks up (the nose tip moves up).
* **Roll** is positive for a clockwise in-plane rotation in the image.
* Gaze: a positive eye yaw moves the pupils toward the image's right.

A flat photo is a plane: its landmarks are the images of fixed points of the
plane ``z = 0`` of the print, so between two frames they move exactly by a 2D
homography (no parallax between the nose and the face outline). A live head
is not planar: turning it moves the nose tip (about 12 cm in front of the neck
pivot) much more than the face outline, which is computed as the silhouette
of elliptic cross-sections of the head and slides over the surface.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ._head import (_NOSE, Camera, FlatPrint, HeadModel, face_box, head_landmarks,
                    print_landmarks, rotation_matrix)
from ._motion import (_HAND_SWAY, _HEAD_SWAY, _PITCH, _ROLL, _X, _Y, _YAW, _Z, _HeadRig, _Plan,
                      _PrintRig, _Sway, _box_of, _centre_in_area, _frame_times, _solve_nose)
from ._blink_turn import BLINK_SPECIES, HEAD_TURN_SPECIES, _attacker, simulate_blink, \
    simulate_head_turn
from ._extras import add_extras
from ._subjects import (_eyelid, _expressive_track, _live_track, _measure, _print_track, _splice,
                        _spontaneous_blinks, _Subject, _Trace, _Track, _victim_print)

if TYPE_CHECKING:  # pragma: no cover
    from ..sessions import Session

__all__ = [
    "SIMULATOR", "SPECIES", "ALL_SPECIES", "TYPES", "Camera", "HeadModel", "FlatPrint",
    "rotation_matrix",
    "head_landmarks", "print_landmarks", "face_box", "simulate_session", "dataset_size",
    "generate_dataset", "add_synth_command", "run_synth_command",
]

SIMULATOR = "liveness-lab/traces@1"

#: attack species of the original bench (what ``generate_dataset(profile="seed")`` writes)
SPECIES: Mapping[str, tuple[str, ...]] = {
    "NOSE": ("print_static", "print_moved", "print_tilted", "print_rolled",
             "replay_other_challenge", "multiple_faces"),
    "POSE": ("print_static", "print_random_pose", "replay_other_challenge"),
}

#: the challenge types the simulator knows
TYPES: tuple[str, ...] = ("NOSE", "POSE", "BLINK", "HEAD_TURN")

#: every attack species simulated for each type: :data:`SPECIES`, then the ones added with
#: the hardened challenges (identity continuity, photo sets, BLINK and HEAD_TURN attacks)
ALL_SPECIES: Mapping[str, tuple[str, ...]] = {
    "NOSE": SPECIES["NOSE"] + ("face_swap",),
    "POSE": SPECIES["POSE"] + ("print_pose_set",),
    "BLINK": BLINK_SPECIES,
    "HEAD_TURN": HEAD_TURN_SPECIES,
}

# =============================================================================================
# NOSE: behaviour
# =============================================================================================

_CLIENT_NOSE_TIMEOUT_S = 10.0      # the sample client's nose-state duration
_CLIENT_AREA_TOLERANCE = 0.20      # the sample client's FACE_AREA_TOLERANCE_PERCENT / 100
_CLIENT_MIN_FACE_AREA = 0.40       # the client's (MIN_FACE_AREA_PERCENT - tolerance) / 100
_CLIENT_HOLD_MARGIN_S = 0.25       # a sequence client: shows the next target this long after
_CLIENT_TAIL_S = 0.5               # the hold, and uploads this long after the last one


@dataclass
class _NoseGeometry:
    area: np.ndarray        # left, top, width, height px
    target: np.ndarray      # nose box left, top, width, height px (the current target)
    aim: np.ndarray         # nose box centre px
    #: every target of a sequence (one: the original's single box), and the hold in each, s
    targets: tuple = ()
    hold_s: float = 0.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "_NoseGeometry":
        from ..challenges.nose_targets import targets_of
        area = np.array([params["areaLeft"], params["areaTop"], params["areaWidth"],
                         params["areaHeight"]], dtype=float)
        boxes = tuple(np.array(b, dtype=float) for b in targets_of(params))
        hold = float(params.get("noseHoldMs", 0)) / 1000 if len(boxes) > 1 else 0.0
        return cls(area, boxes[0], boxes[0][:2] + boxes[0][2:] / 2, boxes, hold)

    def at(self, k: int) -> "_NoseGeometry":
        """The geometry with target ``k`` of the sequence as the current one."""
        t = self.targets[k]
        return replace(self, target=t, aim=t[:2] + t[2:] / 2)

    def inside_area(self, box: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        a = self.area
        if tolerance:  # the sample client's way of growing the area
            lo = a[:2] * (1 - tolerance)
            hi = a[:2] + a[2:] * (1 + tolerance)
        else:
            lo, hi = a[:2], a[:2] + a[2:]
        return ((box[..., 0] >= lo[0]) & (box[..., 1] >= lo[1]) &
                (box[..., 0] + box[..., 2] <= hi[0]) & (box[..., 1] + box[..., 3] <= hi[1]))

    def big_enough(self, box: np.ndarray) -> np.ndarray:
        return box[..., 2] * box[..., 3] >= _CLIENT_MIN_FACE_AREA * self.area[2] * self.area[3]

    def in_target(self, nose: np.ndarray) -> np.ndarray:
        t = self.target
        return ((nose[..., 0] >= t[0]) & (nose[..., 0] <= t[0] + t[2]) &
                (nose[..., 1] >= t[1]) & (nose[..., 1] <= t[1] + t[3]))


def _desired_box_width(geo: _NoseGeometry, rng: np.random.Generator, aspect: float) -> float:
    """The face box width a user settles at: just large enough for the client, in the area."""
    need = math.sqrt(_CLIENT_MIN_FACE_AREA * geo.area[2] * geo.area[3] / aspect)
    return float(min(need * rng.uniform(1.02, 1.14), geo.area[2] * 0.95))


def _approach(rng: np.random.Generator, rig: Any, subj_speed: float, geo: _NoseGeometry,
              lateral_sd: float = 35.0, angle_sd: float = 4.0) -> tuple[_Plan, np.ndarray]:
    """Start somewhere off-centre and farther, then centre the face in the area box."""
    centre = geo.area[:2] + geo.area[2:] / 2 + rng.normal(0.0, [3.0, 4.0])
    start = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 450.0])
    probe = _box_of(rig, start)
    width = _desired_box_width(geo, rng, probe[3] / probe[2])
    centred = _centre_in_area(rig, start, centre, width)
    a = angle_sd
    start = centred + np.array([rng.normal(0, a), rng.normal(-a / 2, a), rng.normal(0, 0.75 * a),
                                rng.normal(0, lateral_sd), rng.normal(0, lateral_sd * 0.7),
                                centred[_Z] * rng.uniform(0.1, 0.5)])
    a = angle_sd * 0.375
    target = centred + np.array([rng.normal(0, a), rng.normal(-a / 1.5, a), rng.normal(0, a / 1.5),
                                 rng.normal(0, 2.0), rng.normal(0, 2.0), rng.normal(0, 3.0)])
    plan = _Plan(start)
    plan.add(rng.uniform(0.2, 0.8), rng.uniform(0.8, 1.4) * subj_speed, target - start)
    return plan, centred


def _recording_start(rng: np.random.Generator, rig: Any, plan: _Plan, sway: _Sway,
                     times: np.ndarray, geo: _NoseGeometry, centred: np.ndarray,
                     subj_speed: float) -> int:
    """Index of the first frame the client uploads: the face is big enough and inside the area."""
    for attempt in range(4):
        horizon = plan.end_time() + 1.5
        idx = np.nonzero(times <= horizon)[0]
        if len(idx):
            states = plan.at(times[idx]) + sway.at(times[idx])
            boxes = face_box(rig.landmarks(states)) + rng.normal(0, 1.5, (len(idx), 4))
            ok = geo.inside_area(boxes) & geo.big_enough(boxes) & (idx >= 3)
            hits = np.nonzero(ok)[0]
            if len(hits):
                return int(idx[hits[0]])
        # still not centred: the user corrects toward the centre
        exact = centred if attempt < 3 else centred * np.array([1, 1, 1, 1, 1, 0.97])
        plan.add(horizon - 1.2, 0.6 * subj_speed, exact - plan.end())
    return int(np.nonzero(times > plan.end_time())[0][0]) if (times > plan.end_time()).any() else 0


def _aim_movements(rng: np.random.Generator, rig: Any, plan: _Plan, t_start: float, aim: np.ndarray,
                   geo: _NoseGeometry, *, speed: float, gain: float, share: float,
                   roll_coupling: float, free: tuple[int, int], t_limit: float,
                   mirror_first: bool = False) -> int:
    """Plan a primary movement of the nose tip toward ``aim`` and corrective submovements.

    The displacement is split between translation (``share``) and the two
    ``free`` degrees of freedom (solved exactly for the nose to land where the
    person aims). Returns the number of submovements.
    """
    f = rig.camera.focal_px
    t = t_start
    count = 0
    targets = []
    if mirror_first:
        here = rig.nose(plan.end())
        targets.append((np.array([2 * here[0] - aim[0], aim[1]]), rng.uniform(0.3, 0.7)))
    targets.append((aim, gain * rng.normal(1.0, 0.08)))
    for goal, g in targets:
        state = plan.end()
        here = rig.nose(state)
        want = here + g * (goal - here) + rng.normal(0.0, 3.0, 2)
        amplitude = float(np.hypot(*(want - here)))
        new = state.copy()
        move = (want - here) * share * rig.nose_depth(state) / f
        new[_X] += move[0]
        new[_Y] += move[1]
        new = _solve_nose(rig, new, want, free)
        new[_ROLL] += roll_coupling * (new[_YAW] - state[_YAW])
        # Fitts-like duration; the client asks to move "slowly"
        duration = (0.6 + 0.35 * math.log2(1 + amplitude / 20.0)) * speed * rng.uniform(0.8, 1.25)
        plan.add(t, duration, new - state)
        count += 1
        t += duration + rng.uniform(0.25, 0.6) * speed
    # corrections while the nose is visibly outside the target box
    while t < t_limit and count < 12:
        state = plan.end()
        here = rig.nose(state)
        err = aim - here
        if np.all(np.abs(err) <= geo.target[2:] / 2 - 2.0):
            break
        want = here + rng.normal(1.0, 0.12) * err + rng.normal(0.0, 1.5, 2)
        new = _solve_nose(rig, state, want, free)
        duration = (0.25 + 0.1 * math.log2(1 + float(np.hypot(*err)) / 20.0)) * speed
        plan.add(t, duration, new - state)
        count += 1
        t += duration + rng.uniform(0.12, 0.3) * speed
    return count


def _aim_sequence(rng: np.random.Generator, rig: Any, plan: _Plan, t_start: float,
                  geo: _NoseGeometry, reaction: float, *, mirror_first: bool = False,
                  **kw: Any) -> int:
    """:func:`_aim_movements` to each target in turn: after reaching one, the person holds
    still until the client shows the next (the hold, then a reaction time)."""
    moves = 0
    t = t_start
    for k in range(len(geo.targets)):
        g = geo.at(k)
        moves += _aim_movements(rng, rig, plan, t, g.aim, g, mirror_first=mirror_first and k == 0,
                                **kw)
        t = max(t, plan.end_time()) + geo.hold_s + 0.1 + reaction * float(rng.uniform(0.8, 1.2))
    return moves


def _sequence_end(nose: np.ndarray, out: np.ndarray, times: np.ndarray,
                  geo: _NoseGeometry) -> int:
    """Frames a sequence client uploads: it shows target k until its nose has stayed in it
    (with the server's 55 % tolerance) for the hold plus a margin (its nose estimate is not
    the server's), then the next; it stops half a second after the last."""
    k, since = 0, None
    for i in range(len(times)):
        if out[i]:
            return i + 1
        t = geo.targets[k]
        tol = t[2:] * 0.55
        inside = bool(np.all(nose[i] >= t[:2] - tol) and np.all(nose[i] <= t[:2] + t[2:] + tol))
        if not inside:
            since = None
            continue
        since = times[i] if since is None else since
        if times[i] - since >= geo.hold_s + _CLIENT_HOLD_MARGIN_S:
            k, since = k + 1, None
            if k == len(geo.targets):  # a last half second for the server's own count
                return int(np.searchsorted(times, times[i] + _CLIENT_TAIL_S, side="right"))
    return len(times)


def _client_end(rng: np.random.Generator, rig: Any, plan: _Plan, sway: _Sway, times: np.ndarray,
                k0: int, geo: _NoseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Frames the sample client uploads from ``k0``: until its own nose check succeeds,
    the face leaves its (tolerant) area, or its 10 s nose-state timeout."""
    t_rec = times[k0]
    sel = times[k0:]
    sel = sel[sel - t_rec <= _CLIENT_NOSE_TIMEOUT_S * len(geo.targets)]
    states = plan.at(sel) + sway.at(sel)
    lm = rig.landmarks(states)
    boxes = face_box(lm) + rng.normal(0.0, 1.5, (len(sel), 4))
    client_nose = lm[:, _NOSE] + rng.normal(0.0, 1.5, 2) + rng.normal(0.0, 1.0, (len(sel), 2))
    out = ~geo.inside_area(boxes, _CLIENT_AREA_TOLERANCE)
    if len(geo.targets) > 1:
        n = max(1, _sequence_end(client_nose, out, sel, geo))
        return sel[:n], states[:n]
    hit = geo.in_target(client_nose) & ~out
    n = len(sel)
    first_out = int(np.argmax(out)) if out.any() else n
    first_hit = int(np.argmax(hit)) + 1 if hit.any() else n
    n = max(1, min(n, first_hit, first_out))
    return sel[:n], states[:n]


# =============================================================================================
# NOSE: sessions
# =============================================================================================

def _nose_live(rng: np.random.Generator, subj: _Subject, camera: Camera,
               params: Mapping[str, Any]) -> _Trace:
    """A bona fide user: centre the face, then turn the head so the nose tip reaches the box."""
    geo = _NoseGeometry.from_params(params)
    rig = _HeadRig(subj.head, camera)
    fps = float(rng.uniform(5.0, 15.0))
    times = _frame_times(rng, fps, 40.0)
    sway = _Sway(rng, *_HEAD_SWAY)
    plan, centred = _approach(rng, rig, subj.speed, geo)
    k0 = _recording_start(rng, rig, plan, sway, times, geo, centred, subj.speed)
    t_rec = float(times[k0])
    reaction = subj.reaction_s * float(np.exp(rng.normal(0.0, 0.2)))
    if subj.style == "drifter":
        drift = np.zeros(6)
        if rng.random() < 0.5:
            drift[_Z] = -rng.uniform(10.0, 25.0) * 6.0   # leaning in
        else:
            drift[_X] = rng.choice([-1, 1]) * rng.uniform(6.0, 14.0) * 6.0
        plan.add(t_rec + reaction * 0.5, 6.0, drift)
    mirror = bool(rng.random() < subj.mirror_prone)
    moves = _aim_sequence(rng, rig, plan, t_rec + reaction, geo, reaction, speed=subj.speed,
                          gain=subj.gain, share=subj.translation_share,
                          roll_coupling=subj.roll_coupling, free=(_YAW, _PITCH),
                          t_limit=t_rec + _CLIENT_NOSE_TIMEOUT_S * len(geo.targets),
                          mirror_first=mirror)
    sel, states = _client_end(rng, rig, plan, sway, times, k0, geo)
    track = _live_track(rng, subj, rig, plan, sel, states)
    return _Trace(sel, [track], metadata={
        "fps": round(fps, 3), "style": subj.style, "distance_mm": round(float(centred[_Z]), 1),
        "reaction_s": round(reaction, 3), "translation_share": round(subj.translation_share, 3),
        "wrong_way_first": mirror, "submovements": moves})


def _nose_print(rng: np.random.Generator, subj: _Subject, camera: Camera,
                params: Mapping[str, Any], species: str) -> _Trace:
    """A print held in front of the camera: still, moved, tilted or rolled toward the target."""
    geo = _NoseGeometry.from_params(params)
    width_mm = float(rng.uniform(110.0, 160.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm)
    hold = (float(rng.normal(0.0, 15.0)), float(rng.uniform(90.0, 150.0)))
    if species != "print_rolled" and rng.random() < 0.5:
        hold = (0.0, 0.0)  # pinched at the face's level / held by both sides
    rig = _PrintRig(sheet, camera, hold)
    fps = float(rng.uniform(5.0, 15.0))
    times = _frame_times(rng, fps, 40.0)
    sway = _Sway(rng, *_HAND_SWAY)
    speed = float(np.exp(rng.normal(0.0, 0.2)))
    plan, centred = _approach(rng, rig, speed, geo, lateral_sd=25.0, angle_sd=2.0)
    k0 = _recording_start(rng, rig, plan, sway, times, geo, centred, speed)
    t_rec = float(times[k0])
    reaction = float(np.exp(rng.normal(math.log(0.7), 0.3)))
    tilt_gain = 0.0
    meta: dict[str, Any] = {"fps": round(fps, 3), "print_width_mm": round(width_mm, 1),
                            "hold_point_mm": [round(hold[0], 1), round(hold[1], 1)],
                            "photo_pose": [round(v, 2) for v in sheet.pose]}
    side = 1.0 if geo.aim[0] > camera.width / 2 else -1.0
    if species == "print_static":
        t_stop = t_rec + float(rng.uniform(4.0, 11.0))
        sel = times[(times >= t_rec) & (times <= t_stop)]
        states = plan.at(sel) + sway.at(sel)
    else:
        if species == "print_moved":
            free = (_X, _Y)
        elif species == "print_tilted":
            tilt_gain = float(rng.uniform(0.1, 0.5))
            tilt = np.zeros(6)
            tilt[_YAW] = side * rng.uniform(15.0, 45.0)
            tilt[_PITCH] = -np.sign(geo.aim[1] - camera.height / 2) * rng.uniform(0.0, 20.0)
            plan.add(t_rec + reaction, rng.uniform(0.6, 1.2) * speed, tilt)
            free = (_X, _Y)
            meta["tilt_deg"] = [round(float(tilt[_YAW]), 2), round(float(tilt[_PITCH]), 2)]
            meta["reported_tilt_fraction"] = round(tilt_gain, 3)
        else:  # print_rolled: rotate in the image plane about the holding hand
            free = (_ROLL, _Y)
        moves = _aim_sequence(rng, rig, plan, t_rec + reaction, geo, reaction, speed=speed,
                              gain=float(rng.normal(0.95, 0.05)), share=0.0, roll_coupling=0.0,
                              free=free,
                              t_limit=t_rec + _CLIENT_NOSE_TIMEOUT_S * len(geo.targets))
        meta["submovements"] = moves
        sel, states = _client_end(rng, rig, plan, sway, times, k0, geo)
    track = _print_track(rng, subj, sheet, rig, plan, sel, states, tilt_gain)
    return _Trace(sel, [track], metadata=meta)


def _nose_multiple_faces(rng: np.random.Generator, subj: _Subject, camera: Camera,
                         params: Mapping[str, Any]) -> _Trace:
    """An attacker answers the challenge live while holding the victim's photo beside the head.

    The attacker is a person outside the subject pool; the photo shows the
    session's subject. It is raised at a random moment (sometimes before the
    first uploaded frame). Rekognition's face order is not specified: each
    frame lists the live face first with a per-session probability.
    """
    attacker = _Subject.sample("attacker", rng)
    attacker = replace(attacker, style="typical", drop_rate=0.001, mirror_prone=0.0,
                       translation_share=0.1, gain=max(attacker.gain, 0.9))
    live = _nose_live(rng, attacker, camera, params)
    times = live.times
    live_box = face_box(live.tracks[0].landmarks[:1])[0]
    side = float(rng.choice([-1.0, 1.0]))
    width_mm = float(rng.uniform(90.0, 130.0))
    sheet = _victim_print(rng, subj, width_mm=width_mm)
    rig = _PrintRig(sheet, camera, (0.0, 0.0))
    distance = float(live.metadata["distance_mm"]) * rng.uniform(0.95, 1.15)
    probe = _box_of(rig, np.array([0, 0, 0, 0, 0, distance]))
    gap = float(rng.uniform(5.0, 30.0))
    u = live_box[0] + live_box[2] / 2 + side * (live_box[2] / 2 + probe[2] / 2 + gap)
    u = float(np.clip(u, probe[2] / 2 + 2, camera.width - probe[2] / 2 - 2))
    v = float(live_box[1] + live_box[3] / 2 + rng.uniform(0.0, 0.25) * live_box[3])
    f = camera.focal_px
    centre = np.array([0.0, 0.0, rng.normal(0, 4), (u - camera.width / 2) * distance / f,
                       (v - camera.height / 2) * distance / f, distance])
    plan = _Plan(centre)
    sway = _Sway(rng, *_HAND_SWAY)
    states = plan.at(times) + sway.at(times)
    t_show = float(times[0] + rng.uniform(-1.0, 2.0)) if len(times) else 0.0
    track = _print_track(rng, subj, sheet, rig, plan, times, states, 0.0)
    track.visible = times >= t_show
    p_live_first = float(rng.uniform(0.2, 0.8))
    order = [[0, 1] if rng.random() < p_live_first else [1, 0] for _ in times]
    meta = dict(live.metadata)
    meta.update({"second_face": "print", "second_face_side": "right" if side > 0 else "left",
                 "second_face_visible_from_s": round(t_show - float(times[0]), 3)
                 if len(times) else None,
                 "live_face_first_probability": round(p_live_first, 3)})
    return _Trace(times, [live.tracks[0], track], order, meta)


def _nose_face_swap(rng: np.random.Generator, subj: _Subject, camera: Camera,
                    params: Mapping[str, Any]) -> _Trace:
    """The victim's photo is centred in the area box, then the attacker's own face takes over.

    The photo (held still, as in ``print_static``) is uploaded for the first
    2..8 frames, enough for the face and area states; then it is pulled away
    and the attacker, a person outside the subject pool, brings the nose to
    the target live. Nothing is uploaded during the swap (0.1..0.6 s).
    """
    photo = _nose_print(rng, subj, camera, params, "print_static")
    attacker, key = _attacker(rng)
    attacker = replace(attacker, style="typical", drop_rate=0.001, mirror_prone=0.0,
                       translation_share=0.1, gain=max(attacker.gain, 0.9))
    live = _nose_live(rng, attacker, camera, params)
    live.tracks[0].identity = key
    k = int(rng.integers(2, 9))
    trace = _splice(photo, k, live, float(rng.uniform(0.1, 0.6)))
    trace.metadata = {**live.metadata, "photo_frames": k, "swap": "photo, then attacker",
                      "print_width_mm": photo.metadata["print_width_mm"]}
    return trace


# =============================================================================================
# POSE
# =============================================================================================

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
    track = _Track(landmarks=lm, pose=np.array([[state[_YAW] + subj.yaw_bias,
                                                 state[_PITCH] + subj.pitch_bias, state[_ROLL]]]),
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
    spontaneously (not while asked to close the eyes).
    """
    pose = params.get("pose") or {}
    eyes, mouth = pose.get("eyes", "OPEN"), pose.get("mouth", "CLOSED")
    rig = _HeadRig(subj.head, camera)
    fps = float(rng.uniform(8.0, 15.0))
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
    gaze_amp = float(rng.uniform(18.0, 35.0))
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
    track = _expressive_track(subj, rig, plan, times, states, eye_open=eye_open,
                              gaze_yaw=gaze_yaw, gaze_pitch=gaze_pitch, smile=smile,
                              mouth_open=mouth_open)
    return _Trace(times, [track], metadata={
        "client": "video", "fps": round(fps, 3), "distance_mm": round(float(base[_Z]), 1),
        "reaction_s": round(reaction, 3), "gaze_yaw_deg": round(side * gaze_amp, 2),
        "mirrored_gaze": mirrored, "squint": squint})


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
    fps = float(rng.uniform(8.0, 15.0))
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


# =============================================================================================
# sessions
# =============================================================================================

def _params_for(ctype: str, image_size: tuple[int, int], seed: int, registry: Any = None,
                configs: Any = None) -> dict[str, Any]:
    from ..challenges import SeededRandom, default_registry
    reg = registry or default_registry()
    ct = reg.get(ctype)
    metadata = {"imageWidth": image_size[0], "imageHeight": image_size[1]}
    if ctype == "NOSE":  # the simulated client shows a sequence when the profile draws one
        metadata["noseTargets"] = 3
    return ct.generate_params(metadata,
                              None if configs is None else configs.for_type(ct),
                              rng=SeededRandom(seed))


def _differs(ctype: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if ctype == "POSE":
        return a.get("pose") != b.get("pose")
    if ctype == "BLINK":
        keys = ("blinks", "cuesMs", "turn")
        return tuple(str(a.get(k)) for k in keys) != tuple(str(b.get(k)) for k in keys)
    if ctype == "HEAD_TURN":
        return a.get("sequence") != b.get("sequence")
    return (a.get("noseLeft"), a.get("noseTop")) != (b.get("noseLeft"), b.get("noseTop"))


def _pose_multi_frame(params: Mapping[str, Any]) -> bool:
    """Whether POSE params ask for the filming client (the hardened, multi-frame protocol)."""
    return bool(params.get("transition")) or int(params.get("holdFrames", 1) or 1) > 1


def _simulate(rng: np.random.Generator, ctype: str, species: str | None, subj: _Subject,
              camera: Camera, params: Mapping[str, Any], registry: Any,
              configs: Any = None) -> _Trace:
    if species == "replay_other_challenge":
        for _ in range(50):
            other = _params_for(ctype, (camera.width, camera.height),
                                int(rng.integers(2 ** 62)), registry, configs)
            if _differs(ctype, other, params):
                break
        trace = _simulate(rng, ctype, None, subj, camera, other, registry, configs)
        trace.metadata = {**trace.metadata, "replayed_params": other,
                          "replay_delay_s": round(float(rng.uniform(60.0, 86400.0)), 1)}
        for track in trace.tracks:
            track.medium = "screen"
        return trace
    if ctype == "NOSE":
        if species is None:
            return _nose_live(rng, subj, camera, params)
        if species == "multiple_faces":
            return _nose_multiple_faces(rng, subj, camera, params)
        if species == "face_swap":
            return _nose_face_swap(rng, subj, camera, params)
        return _nose_print(rng, subj, camera, params, species)
    if ctype == "BLINK":
        return simulate_blink(rng, species, subj, camera, params)
    if ctype == "HEAD_TURN":
        return simulate_head_turn(rng, species, subj, camera, params)
    if _pose_multi_frame(params):
        if species is None:
            return _pose_video_live(rng, subj, camera, params)
        return _pose_video_prints(rng, subj, camera, params, species)
    if species is None:
        return _pose_live(rng, subj, camera, params)
    return _pose_print(rng, subj, camera, params, species)


def _check_species(ctype: str, species: str | None) -> None:
    if ctype not in ALL_SPECIES:
        raise ValueError(f"challenge type must be one of {', '.join(TYPES)}, got {ctype!r}")
    if species is not None and species not in ALL_SPECIES[ctype]:
        raise ValueError(f"pai_species for {ctype} must be None (bona fide) or one of "
                         f"{', '.join(ALL_SPECIES[ctype])}, got {species!r}")


def _document(challenge_type: str, params: Mapping[str, Any], *, species: str | None,
              seed: int | Sequence[int], session_id: str,
              subject_seed: int | Sequence[int] | None, subject_id: str | None,
              split: str | None, hfov_deg: float | None, registry: Any,
              metadata: Mapping[str, Any] | None, configs: Any = None,
              descriptors: bool = False) -> dict[str, Any]:
    """The session document (session-format JSON object) of one simulated session."""
    from ..sessions import FORMAT
    ctype = str(challenge_type).upper()
    _check_species(ctype, species)
    width, height = int(params["imageWidth"]), int(params["imageHeight"])
    rng = np.random.default_rng(seed)
    subj = _Subject.sample(subject_id or "subject",
                           np.random.default_rng(seed if subject_seed is None else subject_seed))
    fov = float(hfov_deg) if hfov_deg is not None else float(rng.uniform(58.0, 72.0))
    camera = Camera(width, height, fov)
    trace = _simulate(rng, ctype, species, subj, camera, params, registry, configs)
    measured = [_measure(rng, tr, width, height) for tr in trace.tracks]
    if descriptors:  # own random stream: the rest of the session is unchanged
        add_extras(np.random.default_rng(_seed_key(seed) + [0xE7]), measured, trace.tracks,
                   _seed_key(seed if subject_seed is None else subject_seed))
    base_ms = 1_700_000_000_000 + int(rng.integers(0, 180 * 86_400_000))
    if species == "replay_other_challenge":
        base_ms += int(trace.metadata["replay_delay_s"] * 1000)
    frames = []
    last = -1
    for k, t in enumerate(trace.times):
        ts = max(base_ms + int(round(float(t) * 1000.0)), last + 1)
        last = ts
        order = trace.order[k] if trace.order is not None else range(len(measured))
        frames.append({"timestamp": ts,
                       "faces": [measured[j][k] for j in order if measured[j][k] is not None]})
    meta = {"simulator": SIMULATOR, "seed": _jsonable_seed(seed), "hfov_deg": round(fov, 2)}
    meta.update(trace.metadata)
    if metadata:
        meta.update(metadata)
    doc: dict[str, Any] = {"format": FORMAT, "id": session_id,
                           "challenge": {"type": ctype, "params": dict(params)},
                           "label": "bona_fide" if species is None else "attack",
                           "pai_species": species}
    if subject_id is not None:
        doc["subject_id"] = subject_id
    if split is not None:
        doc["split"] = split
    doc["frames"] = frames
    doc["metadata"] = meta
    return doc


def simulate_session(challenge_type: str, params: Mapping[str, Any], *,
                     species: str | None = None, seed: int | Sequence[int] = 0,
                     session_id: str = "s-000000", subject_seed: int | Sequence[int] | None = None,
                     subject_id: str | None = None, split: str | None = None,
                     hfov_deg: float | None = None, registry: Any = None,
                     metadata: Mapping[str, Any] | None = None, profile: str | None = None,
                     descriptors: bool | None = None) -> "Session":
    """Simulate one labelled session against given challenge params.

    Parameters
    ----------
    challenge_type:
        One of :data:`TYPES` (``"NOSE"``, ``"POSE"``, ``"BLINK"``, ``"HEAD_TURN"``).
    params:
        The challenge's params, as its challenge type generated them (pixels).
        POSE params with ``transition`` or ``holdFrames > 1`` (the multi-frame
        protocol) are answered by a filming client, others by the original's
        single photo.
    species:
        ``None`` for a bona fide session, else one of :data:`ALL_SPECIES` for the type.
    seed:
        Seed (or seed sequence) of everything random in the session.
    session_id, subject_id, split:
        Written as such in the session.
    subject_seed:
        Seed of the simulated subject (head shape, habits, face descriptor);
        default: ``seed``. Sessions with the same subject seed show the same person.
    hfov_deg:
        Camera horizontal field of view; default: drawn in 58..72 degrees.
    registry:
        Challenge registry used to draw other params for ``replay_other_challenge``.
    metadata:
        Extra entries for the session's ``metadata``.
    profile:
        Configuration profile whose challenge configs draw the params of
        replayed recordings, and whose checks decide the two defaults below
        (``None``: the types' default configs, no extensions).
    descriptors:
        Add simulated ``LivenessLab.Descriptor`` to every face (default: when the
        profile's configs check identity). The simulator never assigns PAD scores:
        a score that depends on the class would grade the simulator, not the rules.

    Returns
    -------
    Session
        Frames with Rekognition-shaped faces (no images), label, species and
        ``metadata`` describing the simulation (``"simulator"``, ``"seed"``,
        ``"fps"``, camera field of view, behaviour or attack parameters).
    """
    from ..sessions import session_from_dict
    configs = None
    if profile is not None:
        from ..config import resolve_configs
        configs = resolve_configs(profile, registry=registry)
    want_desc = _extras_of(configs)
    return session_from_dict(_document(
        challenge_type, params, species=species, seed=seed, session_id=session_id,
        subject_seed=subject_seed, subject_id=subject_id, split=split, hfov_deg=hfov_deg,
        registry=registry, metadata=metadata, configs=configs,
        descriptors=want_desc if descriptors is None else bool(descriptors)))


def _extras_of(configs: Any) -> bool:
    """Whether sessions for ``configs`` need face descriptors."""
    if configs is None:
        return False
    return any(getattr(c, "identity_check", False) for c in configs.by_type.values())


def _seed_key(seed: Any) -> list[int]:
    if isinstance(seed, (int, np.integer)):
        return [int(seed)]
    return [int(v) for v in seed]


def _jsonable_seed(seed: Any) -> Any:
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    return [int(s) for s in seed]


# =============================================================================================
# datasets
# =============================================================================================

@dataclass(frozen=True)
class _Bench:
    """What a dataset for a profile holds: its types, species, configs and face extensions."""

    profile: str
    types: tuple[str, ...]           # allowed types
    default_types: tuple[str, ...]
    species: Mapping[str, tuple[str, ...]]
    configs: Any
    descriptors: bool


def _bench(profile: str | None) -> _Bench:
    """``seed``: the original bench (NOSE, POSE, :data:`SPECIES`, no extensions); any other
    profile: every type and species, params from its configs, the extensions its checks need."""
    from ..config import DEFAULT_PROFILE, get_profile, resolve_configs
    name = profile or DEFAULT_PROFILE
    get_profile(name)  # an unknown name raises, listing the known ones
    if name == "seed":
        return _Bench("seed", ("NOSE", "POSE"), ("NOSE", "POSE"), SPECIES, None, False)
    configs = resolve_configs(name)
    default = tuple(t for t in (configs.challenge_types or TYPES) if t in TYPES) or TYPES
    return _Bench(name, TYPES, default, ALL_SPECIES, configs, _extras_of(configs))


def _classes(challenge_types: Sequence[str],
             species: Mapping[str, tuple[str, ...]] = SPECIES) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for ctype in challenge_types:
        out.append((ctype, None))
        out.extend((ctype, sp) for sp in species[ctype])
    return out


def _normalise_types(challenge_types: Sequence[str] | str | None,
                     bench: _Bench | None = None) -> tuple[str, ...]:
    allowed = bench.types if bench is not None else ("NOSE", "POSE")
    if challenge_types is None:
        return bench.default_types if bench is not None else allowed
    if isinstance(challenge_types, str):
        challenge_types = [t for t in challenge_types.split(",") if t.strip()]
    types = tuple(dict.fromkeys(str(t).strip().upper() for t in challenge_types))
    if not types:
        raise ValueError(f"challenge_types must name at least one of {', '.join(allowed)}")
    for t in types:
        if t not in allowed:
            where = f" with the {bench.profile} profile" if bench is not None else ""
            raise ValueError(f"challenge type must be one of {', '.join(allowed)}{where}, "
                             f"got {t!r}")
    return types


def dataset_size(sessions_per_class: int, challenge_types: Sequence[str] | None = None,
                 profile: str | None = None) -> int:
    """Number of sessions :func:`generate_dataset` writes for these arguments (``profile``
    ``None``: :data:`~liveness_lab.config.DEFAULT_PROFILE`, as there)."""
    bench = _bench(profile)
    return sessions_per_class * len(_classes(_normalise_types(challenge_types, bench),
                                             bench.species))


def _subject_splits(n: int, seed: int) -> list[str]:
    perm = np.random.default_rng([seed, 2]).permutation(n)
    n_train = max(1, int(round(0.5 * n)))
    n_dev = max(1, int(round(0.25 * n)))
    splits = [""] * n
    for rank, idx in enumerate(perm):
        splits[idx] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    return splits


def generate_dataset(out_dir: str | os.PathLike, *, sessions_per_class: int, seed: int,
                     challenge_types: Sequence[str] | None = None,
                     image_size: tuple[int, int] = (640, 480),
                     progress: Callable[[int], Any] | None = None,
                     profile: str | None = None) -> Path:
    """Write a labelled synthetic dataset (session format) and return its directory.

    Parameters
    ----------
    out_dir:
        Target directory; created if missing, must be empty if it exists.
    sessions_per_class:
        Bona fide sessions per challenge type, and attack sessions per species
        of each type.
    seed:
        Everything is determined by it: the same seed writes identical files.
        Session ``i`` of a class draws from ``(seed, type, class, i)``, so
        results do not depend on generation order.
    challenge_types:
        Types to simulate; default: the profile's (``seed``: NOSE and POSE).
    image_size:
        ``(width, height)`` of the simulated client's frames, pixels.
    progress:
        Called with ``1`` after each session (for instance ``tqdm(...).update``).
    profile:
        The deployment the sessions are recorded against (default ``None``:
        :data:`liveness_lab.config.DEFAULT_PROFILE`, the default of
        ``evaluate_dataset`` and the CLI too). ``"seed"`` writes the original
        bench: NOSE and POSE, the species of :data:`SPECIES`, the original
        clients (POSE decided on a single photo, NOSE frames uploaded only in
        the nose step), faces as Rekognition returns them. Any other profile
        (e.g. ``"recommended"``) allows every type of
        :data:`TYPES` and writes every species of :data:`ALL_SPECIES`; params
        come from its configs (so POSE asks for the multi-frame protocol and
        is filmed), and faces carry the simulated ``LivenessLab`` descriptor
        and PAD score when its checks need them. A session of a class has the
        same content under every profile except for those differences.

    Notes
    -----
    Subjects ``subj-000``... (``max(4, ceil(sessions_per_class / 2))`` of
    them) each get sessions of every class; an attack session's subject is
    the person whose face is presented (the photo's or the replayed video's
    subject). Subjects are split 50/25/25 into train/dev/test, so a subject's
    sessions all share one split. Challenge params are drawn from the
    registered challenge types with :class:`~liveness_lab.challenges.SeededRandom`.
    """
    spc = sessions_per_class
    if isinstance(spc, bool) or not isinstance(spc, (int, np.integer)) or spc < 1:
        raise ValueError(f"sessions_per_class must be a positive integer, got {spc!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        width, height = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError("image_size must be (width, height) in pixels, "
                         f"got {image_size!r}") from None
    if width < 160 or height < 120:
        raise ValueError(f"image_size must be at least 160 x 120 pixels, got {width} x {height}")
    bench = _bench(profile)
    types = _normalise_types(challenge_types, bench)
    out = Path(out_dir)
    _check_out_dir(out)
    from ..challenges import default_registry
    from ..sessions import ManifestEntry, write_manifest
    registry = default_registry()
    n_subjects = max(4, math.ceil(sessions_per_class / 2))
    splits = _subject_splits(n_subjects, int(seed))
    (out / "sessions").mkdir(parents=True)
    entries = []
    for ctype, species in _classes(types, bench.species):
        type_idx = TYPES.index(ctype)
        class_idx = 0 if species is None else 1 + ALL_SPECIES[ctype].index(species)
        for i in range(sessions_per_class):
            key = [int(seed), 3, type_idx, class_idx, i]
            subj_idx = (i + class_idx) % n_subjects
            params_seed = int(np.random.default_rng(key + [1]).integers(2 ** 62))
            params = _params_for(ctype, (width, height), params_seed, registry, bench.configs)
            sid = f"{ctype.lower()}-{species or 'bona_fide'}-{i:05d}"
            extra_meta: dict[str, Any] = {"dataset_seed": int(seed), "session_index": i}
            if bench.profile != "seed":
                extra_meta["bench_profile"] = bench.profile
            doc = _document(ctype, params, species=species, seed=key, session_id=sid,
                            subject_seed=[int(seed), 1, subj_idx],
                            subject_id=f"subj-{subj_idx:03d}", split=splits[subj_idx],
                            hfov_deg=None, registry=registry, metadata=extra_meta,
                            configs=bench.configs, descriptors=bench.descriptors)
            rel = f"sessions/{sid}.json"
            _write_json(out / rel, doc)
            entries.append(ManifestEntry(sid, rel, doc["label"], species, doc["subject_id"],
                                         doc["split"], ctype))
            if progress is not None:
                progress(1)
    write_manifest(out, entries)
    return out


def _check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty directory; choose a new "
                         "output directory")


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` compactly, as :func:`liveness_lab.sessions.write_session` would (no fsync:
    a dataset is written in bulk, and the manifest, written last, lists only complete files)."""
    import json
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


# =============================================================================================
# command line
# =============================================================================================

def add_synth_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``synth --out DIR --sessions-per-class N --seed S [--profile P] [--types ...]``."""
    p = subparsers.add_parser(
        "synth", help="generate a synthetic trace-level dataset (no images)",
        description="Simulate bona fide and attack sessions as Rekognition-shaped face "
                    "detections and write them as a dataset (manifest.csv + session JSON).")
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--sessions-per-class", type=int, default=50,
                   help="bona fide sessions per type and attacks per species (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--profile", default=None,
                   help="the deployment simulated: 'seed' writes the original bench (NOSE, POSE, "
                        "original clients); other profiles every type and species, with the "
                        "simulated face descriptors their identity check needs (never PAD "
                        "scores; default: the default profile)")
    p.add_argument("--types", default=None,
                   help="challenge types, comma-separated (default: the profile's)")
    p.add_argument("--images", type=int, default=0, metavar="N",
                   help="also render N image-level NOSE sessions from the packaged photos "
                        "(frames as JPEG, no faces: run `liveness-lab analyze` or let "
                        "`evaluate` analyze them)")
    p.add_argument("--image-size", default="640x480",
                   help="frame size WIDTHxHEIGHT (default 640x480)")
    p.set_defaults(func=run_synth_command)
    return p


def run_synth_command(args: argparse.Namespace) -> int:
    """Handler of ``synth``: returns the process exit code (0 on success, 2 on bad arguments)."""
    import sys

    from tqdm import tqdm
    try:
        width, height = (int(v) for v in str(args.image_size).lower().split("x"))
    except ValueError:
        print(f"liveness-lab synth: error: --image-size must look like 640x480, got "
              f"{args.image_size!r}", file=sys.stderr)
        return 2
    from ..config import DEFAULT_PROFILE
    from ..errors import ConfigError
    profile = getattr(args, "profile", None) or DEFAULT_PROFILE
    try:
        bench = _bench(profile)
        types = _normalise_types(getattr(args, "types", None), bench)
        _check_out_dir(Path(args.out))
        total = (dataset_size(args.sessions_per_class, types, profile)
                 if args.sessions_per_class > 0 else 0)
        with tqdm(total=total, unit="session", desc="synth") as bar:
            out = generate_dataset(args.out, sessions_per_class=args.sessions_per_class,
                                   seed=args.seed, challenge_types=types,
                                   image_size=(width, height), progress=bar.update,
                                   profile=profile)
        if getattr(args, "images", 0):
            from .render import add_image_sessions
            with tqdm(total=args.images, unit="session", desc="render images") as bar:
                add_image_sessions(out, args.images, seed=args.seed, progress=bar.update)
            total += args.images
    except (ValueError, ConfigError) as e:
        print(f"liveness-lab synth: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {total} sessions to {out}")
    return 0
