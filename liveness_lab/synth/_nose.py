"""NOSE sessions of the trace simulator: a client that shows nose boxes, people who centre
the face and turn the nose tip into each box, and the NOSE attacks (prints, a second face,
a face swap). Used through :func:`liveness_lab.synth.traces.simulate_session`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np

from ._blink_turn import _attacker
from ._head import _NOSE, Camera, face_box
from ._motion import (_HAND_SWAY, _HEAD_SWAY, _PITCH, _ROLL, _X, _Y, _YAW, _Z, _HeadRig, _Plan,
                      _PrintRig, _Sway, _box_of, _centre_in_area, _frame_times, _solve_nose)
from ._subjects import _live_track, _print_track, _splice, _Subject, _Trace, _victim_print

_CLIENT_NOSE_TIMEOUT_S = 10.0      # the sample client's nose-state duration
_CLIENT_AREA_TOLERANCE = 0.20      # the sample client's FACE_AREA_TOLERANCE_PERCENT / 100
_CLIENT_MIN_FACE_AREA = 0.40       # the client's (MIN_FACE_AREA_PERCENT - tolerance) / 100
_CLIENT_HOLD_MARGIN_S = 0.25       # a sequence client: shows the next target this long after
_CLIENT_TAIL_S = 0.5               # the hold, and uploads this long after the last one
_MAX_FACE_OVER_MIN = 1.30          # face box width over the client's minimum: up to ~0.85 of
                                   # the area's width, 80 % of its height (640x480: 176 px)


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
    """The face box width a user settles at: anywhere from just large enough for the client
    to filling the area box (the client sets a floor only; people sit where they sit, and a
    laptop user at 40 cm fills the area that one at 60 cm just reaches). A face filling the
    area leaves little room for the head to carry the face box toward the target."""
    need = math.sqrt(_CLIENT_MIN_FACE_AREA * geo.area[2] * geo.area[3] / aspect)
    return float(min(need * rng.uniform(1.02, _MAX_FACE_OVER_MIN), geo.area[2] * 0.95))


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
        first = len(plan.moves)
        moves += _aim_movements(rng, rig, plan, t, g.aim, g, mirror_first=mirror_first and k == 0,
                                **kw)
        # the next leg answers the next target, shown once this one is held: a slow drift
        # of the whole body (a drifter's lean) goes on meanwhile and does not delay it
        aimed = max((t0 + d for t0, d, _ in plan.moves[first:]), default=t)
        t = max(t, aimed) + geo.hold_s + 0.1 + reaction * float(rng.uniform(0.8, 1.2))
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
    fps = camera.frame_rate(float(rng.uniform(5.0, 15.0)))
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
    fps = camera.frame_rate(float(rng.uniform(5.0, 15.0)))
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
