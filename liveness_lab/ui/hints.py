"""Plain-word hints for people taking a challenge, from the service's live feedback.

The service's per-frame analysis (``GET /challenge/{id}/frames/latest``) says
which state the challenge is in and the code of the last check
(``area.too_small``, ``nose.not_in_target``...). :func:`live_hint` turns that,
the faces of the latest frame and the challenge params into one short
sentence. The capture component (JavaScript) applies the same rules with the
:data:`HINTS` table it receives from Python; the photo fallback and the tests
use this module.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["HINTS", "HINT_LEVELS", "live_hint", "face_box_px", "challenge_instructions",
           "plain_text", "READY_SECONDS"]

#: Seconds the instructions stay over the video before the capture starts, by type (the
#: user may start sooner); HEAD_TURN's sequence takes longer to read.
READY_SECONDS = {"NOSE": 4, "POSE": 3, "BLINK": 4, "HEAD_TURN": 6}

#: Hint per state code (or pseudo-code), in plain words.
HINTS: dict[str, str] = {
    "starting": "Starting the camera…",
    "waiting": "Look at the camera: the first frames are being analyzed",
    "face.no_face": "No face found: look straight at the camera, in good light",
    "face.several_faces": "More than one face: make sure only you are in view",
    "face.one_face": "Face found: now centre it in the white box",
    "area.outside": "Centre your face in the white box",
    "area.too_close": "Too close: move back a little",
    "area.too_small": "Too far: move closer to the camera",
    "area.ok": "Good: your face is in the box",
    "area.no_face": "No face found: look straight at the camera",
    "nose.not_in_target": "Move the tip of your nose toward the yellow box",
    "nose.holding": "Hold your nose in the yellow box",
    "nose.next_target": "Now move your nose to the next yellow box",
    "nose.missing_landmark": "Keep your face turned toward the camera",
    "nose.no_face": "Your face was lost: look at the camera",
    "pose.get_ready": "Copy the pose in the picture: frames are taken at the end of the "
                      "countdown",
    "pose.capturing": "Hold the pose",
    "decided.success": "Done: verifying…",
    "decided.fail": "The challenge is over: verifying…",
    "capturing": "Follow the instructions on the screen",
    "ready": "Read the instructions: the capture starts when you are ready",
    "stopped": "Stopped before the capture began",
    "analyzing": "Analyzing your frames",
    "guide.closer": "Move closer: fill the oval with your face",
    "guide.farther": "Move back a little: your face should fit the oval",
    "guide.centre": "Centre your face in the oval",
    "guide.light": "More light on your face, please (face a window or a lamp)",
}

#: Level of each hint: "ok" (green), "warn" (amber); any other key is "info".
HINT_LEVELS = {"face.no_face": "warn", "face.several_faces": "warn", "area.outside": "warn",
           "area.too_close": "warn", "area.too_small": "warn", "area.no_face": "warn",
           "nose.no_face": "warn", "nose.missing_landmark": "warn", "area.ok": "ok",
           "face.one_face": "ok", "decided.success": "ok", "decided.fail": "info",
           "guide.closer": "warn", "guide.farther": "warn", "guide.centre": "warn",
           "guide.light": "warn"}


def face_box_px(face: Mapping[str, Any], width: float, height: float
                ) -> tuple[float, float, float, float] | None:
    """``(left, top, right, bottom)`` in pixels of a Rekognition ``FaceDetail`` dict's box."""
    box = face.get("BoundingBox") if isinstance(face, Mapping) else None
    if not isinstance(box, Mapping):
        return None
    try:
        left, top = float(box["Left"]) * width, float(box["Top"]) * height
        return left, top, left + float(box["Width"]) * width, top + float(box["Height"]) * height
    except (KeyError, TypeError, ValueError):
        return None


def _area(params: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    try:
        return (float(params["areaLeft"]), float(params["areaTop"]),
                float(params["areaLeft"]) + float(params["areaWidth"]),
                float(params["areaTop"]) + float(params["areaHeight"]))
    except (KeyError, TypeError, ValueError):
        return None


def live_hint(state: Mapping[str, Any] | None, faces: Sequence[Mapping[str, Any]] | None,
              params: Mapping[str, Any], *, decided: bool | None = None,
              success: bool | None = None) -> tuple[str, str, str]:
    """The hint for the latest feedback: ``(key, level, text)``.

    Parameters
    ----------
    state:
        The ``state`` object of the live feedback (``name``, ``result``, ``code``,
        ``message``), or ``None`` before the first frame is analyzed.
    faces:
        The latest analyzed frame's faces (Rekognition ``FaceDetail`` dicts).
    params:
        The challenge params (pixels); NOSE's area box refines ``area.outside``
        into "too close" when the face is larger than the box.
    decided, success:
        From the live feedback: once decided, the hint says the challenge is over.

    Returns
    -------
    (key, level, text)
        ``key`` is a key of :data:`HINTS`, ``level`` one of ``ok``, ``warn``, ``info``.

    Examples
    --------
    >>> live_hint(None, None, {})[2]
    'Look at the camera: the first frames are being analyzed'
    >>> live_hint({"code": "nose.not_in_target"}, [{}], {})[0]
    'nose.not_in_target'
    """
    if decided:
        key = "decided.success" if success else "decided.fail"
        return key, HINT_LEVELS[key], HINTS[key]
    faces = list(faces or [])
    code = (state or {}).get("code") if state is not None else None
    if state is None or not code:
        key = "waiting"
    elif len(faces) == 0 and code.startswith(("face.", "area.", "nose.")):
        key = "face.no_face"
    elif len(faces) > 1:
        key = "face.several_faces"
    elif code == "area.outside":
        key = "area.outside"
        area = _area(params)
        box = face_box_px(faces[0], params.get("imageWidth", 0) or 0,
                          params.get("imageHeight", 0) or 0) if faces else None
        if area is not None and box is not None:
            if (box[2] - box[0]) > (area[2] - area[0]) or (box[3] - box[1]) > (area[3] - area[1]):
                key = "area.too_close"
    elif code in HINTS:
        key = code
    else:
        return code, "info", str((state or {}).get("message") or HINTS["capturing"])
    return key, HINT_LEVELS.get(key, "info"), HINTS[key]


_DIRECTION_WORDS = {"LEFT": "to your left", "RIGHT": "to your right", "UP": "up",
                    "DOWN": "down"}


def challenge_instructions(challenge_type: str, params: Mapping[str, Any],
                           description: str = "") -> str:
    """What to do for a challenge, in one or two sentences (Markdown).

    Known types get instructions from their params (NOSE, POSE, BLINK,
    HEAD_TURN, CUSTOM); any other type shows its ``description``.

    >>> challenge_instructions("BLINK", {"blinks": 2, "windowMs": 6000})
    'Look at the camera and **blink 2 times** within 6 s.'
    >>> challenge_instructions("BLINK", {"blinks": 3, "cuesMs": [3500, 5600, 7400], "turn": "LEFT"})
    'Look at the camera, turn your head a little **to your left** and back, then **blink slowly each time the screen flashes** (3 flashes); keep your eyes open between them.'
    >>> challenge_instructions("HEAD_TURN", {"sequence": ["LEFT", "UP"]})
    'Face the camera, then turn your head **to your left**, back to the centre, then **up**, back to the centre.'
    """
    t = str(challenge_type).upper()
    if t == "NOSE":
        return ("Fit your face in the **white box**, hold still a moment, then move the **tip "
                "of your nose** toward the **yellow box** by turning your head.")
    if t == "POSE":
        pose = params.get("pose") if isinstance(params, Mapping) else None
        words = ""
        if isinstance(pose, Mapping):
            from .drawing import pose_instructions
            try:
                words = " " + pose_instructions(pose["eyes"], pose["mouth"])
            except (KeyError, ValueError):
                words = ""
        hold = params.get("holdFrames", 1)
        if params.get("transition") or (isinstance(hold, int) and hold > 1):
            first = "Start with a neutral face (eyes open, looking ahead, mouth closed), " \
                if params.get("transition") else ""
            back = ", then come back to the neutral face" if params.get("transition") else ""
            text = f"{first}make the pose in the picture and hold it{back}.{words}"
            return text[0].upper() + text[1:]
        return f"Make the pose in the picture before the countdown ends.{words}"
    if t == "BLINK" and isinstance(params.get("cuesMs"), (list, tuple)):
        turn = _DIRECTION_WORDS.get(str(params.get("turn", "")).upper())
        first = f"turn your head a little **{turn}** and back, then " if turn else ""
        return (f"Look at the camera, {first}**blink slowly each time the screen flashes** "
                f"({len(params['cuesMs'])} flashes); keep your eyes open between them.")
    if t == "BLINK" and "blinks" in params:
        window = params.get("windowMs")
        within = f" within {float(window) / 1000:g} s" if isinstance(window, (int, float)) else ""
        return f"Look at the camera and **blink {params['blinks']} times**{within}."
    if t == "HEAD_TURN" and isinstance(params.get("sequence"), (list, tuple)):
        steps = [f"**{_DIRECTION_WORDS.get(str(d).upper(), str(d).lower())}**"
                 for d in params["sequence"]]
        return ("Face the camera, then turn your head " +
                ", then ".join(f"{s}, back to the centre" for s in steps) + ".")
    if t == "CUSTOM":
        return "Look at the camera for a moment (the CUSTOM example type passes on any frames)."
    return description or "Look at the camera and follow the hints."


def plain_text(markdown: str) -> str:
    """The instructions without Markdown emphasis (for the capture component's overlay).

    >>> plain_text("turn **to your left**, then **up**.")
    'turn to your left, then up.'
    """
    return str(markdown).replace("**", "").replace("__", "")
