"""A slow, literal model of the original AWS framework's verification, for equivalence tests.

Written from the facts in ``shared/design/seed-behaviour.md`` in the original's own style:
plain dicts of Rekognition JSON, integer state codes, exceptions for crashes. A crash of
the original (IndexError, KeyError, numpy errors) is an HTTP 500 there; the observable
outcome is a failed verification, which ``verify`` returns as ``False``.
"""

from __future__ import annotations

import math

import numpy as np

CONTINUE, NEXT, FAIL, SUCCESS = 0, 1, -1, 2


def _inside(area, face):
    return (area[0] <= face[0] and area[1] <= face[1] and
            area[0] + area[2] >= face[0] + face[2] and area[1] + area[3] >= face[1] + face[3])


def _face_px(p, face):
    bb = face["BoundingBox"]
    return [p["imageWidth"] * bb["Left"], p["imageHeight"] * bb["Top"],
            p["imageWidth"] * bb["Width"], p["imageHeight"] * bb["Height"]]


def nose_face(p, frame, ctx):
    return NEXT if len(frame["rekMetadata"]) == 1 else CONTINUE


def nose_area(p, frame, ctx):
    face = frame["rekMetadata"][0]
    area = (p["areaLeft"], p["areaTop"], p["areaWidth"], p["areaHeight"])
    box = _face_px(p, face)
    if not _inside(area, box):
        return CONTINUE
    percent = box[2] * box[3] * 100 / (area[2] * area[3])
    return NEXT if percent + 20 >= p["minFaceAreaPercent"] else CONTINUE


def nose_nose(p, frame, ctx):
    face0 = frame["rekMetadata"][0]
    ctx.setdefault("orig", face0["Landmarks"])
    ctx.setdefault("traj", [])
    w, h = p["imageWidth"], p["imageHeight"]
    tw, th = p["areaWidth"] * 0.05, p["areaHeight"] * 0.05
    area = (p["areaLeft"] - tw, p["areaTop"] - th, p["areaWidth"] + 2 * tw, p["areaHeight"] + 2 * th)
    if not _inside(area, _face_px(p, face0)):
        return FAIL
    nw, nh = p["noseWidth"] * 0.55, p["noseHeight"] * 0.55
    box = (p["noseLeft"] - nw, p["noseTop"] - nh, p["noseWidth"] + 2 * nw, p["noseHeight"] + 2 * nh)
    inside = False
    for lm in face0["Landmarks"]:
        if lm["Type"] == "nose":
            ctx["traj"].append((lm["X"], lm["Y"]))
            x, y = w * lm["X"], h * lm["Y"]
            inside = box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]
    if not inside:
        return CONTINUE
    xs = [t[0] for t in ctx["traj"]]
    ys = [t[1] for t in ctx["traj"]]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = np.polyfit(xs, ys, 2, full=True)[1]
    err = math.sqrt(res[0] / len(ctx["traj"]))  # IndexError when numpy gives no residual
    if err > 0.02:
        return FAIL

    def hist(lms):
        hh, _, _ = np.histogram2d([w * lm["X"] for lm in lms], [h * lm["Y"] for lm in lms], bins=3)
        return hh.reshape(9) / len(lms)

    dist = np.linalg.norm(hist(ctx["orig"]) - hist(face0["Landmarks"]))
    yaw = face0["Pose"]["Yaw"]
    right, left = yaw > 5, yaw < -5
    target_right = p["noseLeft"] + 10 > w / 2
    if (right and target_right) or (left and not target_right):
        min_dist = 0.075
    elif not (right or left):
        min_dist = 0.15
    else:
        return FAIL
    return SUCCESS if dist > min_dist else FAIL


def pose_first(p, frame, ctx):
    faces = frame["rekMetadata"]
    if len(faces) != 1:
        return FAIL
    face = faces[0]
    if face["Confidence"] < 90:
        return FAIL
    pose = face["Pose"]
    if abs(pose["Roll"]) > 20 or abs(pose["Yaw"]) > 20 or abs(pose["Pitch"]) > 20:
        return FAIL
    expected = p["pose"]["eyes"]
    is_open = face["EyesOpen"]["Value"]
    if (expected == "CLOSED" and is_open) or (expected != "CLOSED" and not is_open):
        return FAIL
    lms = {lm["Type"]: lm for lm in face["Landmarks"]}
    for side in ("left", "right"):
        lc, rc, pu = lms[f"{side}EyeLeft"]["X"], lms[f"{side}EyeRight"]["X"], lms[f"{side}Pupil"]["X"]
        third = (rc - lc) / 3
        d = ("LOOKING_LEFT" if pu <= lc + third * 1.2 else
             "LOOKING_RIGHT" if pu >= rc - third * 1.2 else "OPEN")
        if (d, expected) in (("LOOKING_LEFT", "LOOKING_RIGHT"), ("LOOKING_RIGHT", "LOOKING_LEFT")):
            return FAIL
    smile, mouth_open = face["Smile"]["Value"], face["MouthOpen"]["Value"]
    should = p["pose"]["mouth"] == "SMILE"
    ok = (should and smile and mouth_open) or (not should and not smile and not mouth_open)
    return SUCCESS if ok else FAIL


MACHINES = {
    "NOSE": ({"face": (nose_face, "area"), "area": (nose_area, "nose"), "nose": (nose_nose, None)},
             "face"),
    "POSE": ({"first": (pose_first, None)}, "first"),
}


def verify(challenge_type, params, frames):
    """``frames``: list of ``{"timestamp": ms, "rekMetadata": [FaceDetail JSON]}``."""
    states, current = MACHINES[challenge_type]
    ctx, end_times = {}, {}
    try:
        for frame in sorted(frames, key=lambda f: f["timestamp"]):
            while True:
                ts = frame["timestamp"]
                if current not in end_times:
                    end_times[current] = ts + 10 * 1000
                elif ts > end_times[current]:
                    return False
                func, nxt = states[current]
                res = func(params, frame, ctx)
                if res == SUCCESS:
                    return True
                if res == FAIL:
                    return False
                if res == NEXT and nxt != current:
                    current = nxt
                    continue
                break
    except Exception:  # the original answered 500: the verification did not succeed
        return False
    return False
