"""Verdicts in plain words: a headline and what to do next for every result code.

The verifier's codes (``nose.histogram_distance``, ``nose_state.timeout``...) and
reasons ("landmark histogram distance 0.183 <= 0.225...") are written for
developers. The studio shows people a short **headline** and a **next step**
(as Amplify's FaceLivenessDetector result screen does) and keeps the technical
reason one click away. Epoch timestamps in reasons are rewritten as seconds
since the first frame (:func:`humanize_times`).

Codes come in two kinds:

* fixed codes of a challenge type or a shared check (:data:`PLAIN_TEXT`);
* codes built from a state name by the framework or a shared helper,
  ``{state}.timeout``, ``{state}.no_decision``, ``{state}.no_face``...
  (:data:`SUFFIX_TEXT`), plus ``state_error`` and ``no_frames``.

:func:`known_codes` enumerates every code the studio's challenge types can
produce (read from their sources), and the tests check that each has plain
words. No Streamlit here.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["Plain", "PlainResult", "PLAIN_TEXT", "SUFFIX_TEXT", "plain_words", "explain",
           "humanize_times", "known_codes", "PASS_TEXT"]


@dataclass(frozen=True)
class Plain:
    """A headline and the next step for one result code (both plain sentences)."""

    headline: str
    next_step: str

    def __post_init__(self) -> None:
        if not self.headline.strip() or not self.next_step.strip():
            raise ValueError("a plain-words entry needs a non-empty headline and next step")


_TURN = "Turn your head slowly, as you would to look at something beside the screen"
_ONE = Plain("More than one face was in view",
             "Make sure only you are in front of the camera, then start again.")
_NOFACE = Plain("We lost sight of your face",
                "Keep your whole face in view and in good light, then start again.")
_DATA = "The face analyzer did not provide what this check needs: try again; if it keeps " \
        "happening, the service's analyzer or profile needs changing (see About)."

#: Plain words per fixed code.
PLAIN_TEXT: dict[str, Plain] = {
    # -- NOSE ---------------------------------------------------------------------------------
    "face.no_face": Plain("No face found", "Look straight at the camera in good light."),
    "face.one_face": Plain("Face found", "Centre your face in the white box."),
    "face.several_faces": _ONE,
    # the verifier's one-face-to-the-end check (frames sent after the states decided)
    "session.several_faces": Plain("Someone else came into view",
                                   "Stay alone in front of the camera until the capture ends, "
                                   "then start again."),
    "area.outside": Plain("Your face was not inside the white box",
                          "Centre your face in the white box and hold still a moment."),
    "area.too_small": Plain("You were too far from the camera",
                            "Move closer until your face fills most of the white box."),
    "area.ok": Plain("Your face was in the box", "Now move your nose toward the yellow box."),
    "area.missing_bounding_box": Plain("Your face could not be located", _DATA),
    "nose.not_in_target": Plain("Your nose did not reach the yellow box",
                                f"{_TURN}, until the red dot on your nose is in the yellow box."),
    "nose.holding": Plain("Your nose did not stay in the yellow box long enough",
                          "Hold the red dot on your nose in each yellow box for half a second."),
    "nose.next_target": Plain("You did not reach every yellow box",
                              "After each box, move your nose on to the next yellow box."),
    "nose.missing_landmark": Plain("Your nose could not be located",
                                   "Keep your face turned toward the camera, in good light."),
    "nose.missing_landmarks": Plain("Your face could not be measured", _DATA),
    "nose.missing_bounding_box": Plain("Your face could not be located", _DATA),
    "nose.missing_pose": Plain("The turn of your head could not be measured", _DATA),
    "nose.face_left_area": Plain("Your face left the white box",
                                 "Turn your head rather than moving it sideways, and keep your "
                                 "face inside the white box."),
    "nose.trajectory_error": Plain("Your nose moved in an unusual way",
                                   "Move your nose toward the yellow box in one smooth turn."),
    "nose.trajectory_unfit": Plain("Your nose moved in an unusual way",
                                   "Move your nose toward the yellow box in one smooth turn."),
    "nose.histogram_distance": Plain("Your face did not turn like a real head",
                                     "Turn your head toward the yellow box rather than sliding "
                                     "it; a moved photo or screen is rejected here."),
    "nose.wrong_rotation": Plain("Your head turned the wrong way",
                                 "Turn toward the side of the yellow box on the screen."),
    "nose.parallax": Plain("Your face turned like a flat picture",
                           "Turn your head (not the camera or a picture) toward the yellow box."),
    "nose.parallax_unavailable": Plain("The turn of your head could not be measured", _DATA),
    "nose.ok": Plain("You passed", "Your nose reached the target with a head turn."),
    # -- POSE ---------------------------------------------------------------------------------
    "pose.face_count": Plain("Exactly one face is needed",
                             "Make sure only you are in view, facing the camera."),
    "pose.confidence": Plain("Your face was not seen clearly",
                             "Face the camera in good, even light and hold still."),
    "pose.missing_confidence": Plain("Your face could not be measured", _DATA),
    "pose.missing_pose": Plain("The turn of your head could not be measured", _DATA),
    "pose.missing_eyes_open": Plain("Your eyes could not be measured", _DATA),
    "pose.missing_landmark": Plain("Your eyes could not be located", _DATA),
    "pose.missing_mouth": Plain("Your mouth could not be measured", _DATA),
    "pose.rotation": Plain("Your head was turned or tilted",
                           "Face the camera straight on while making the pose."),
    "pose.eyes_open": Plain("Your eyes did not match the pose",
                            "Look at the pose picture again: open or close your eyes as shown."),
    # issue 11: face-track continuity and blinks during a pose
    "pose.track_jump": Plain("Your face jumped from one place to another",
                             "Stay in view and keep your face in one place while making the "
                             "pose; do not hold up pictures."),
    "pose.track_gap": Plain("Your face left the camera's view",
                            "Keep your face in view for the whole pose."),
    "pose.eyes_blinked": Plain("Your eyes closed during the pose",
                               "Keep your eyes open as the pose picture shows."),
    "pose.gaze": Plain("Your eyes looked the wrong way",
                       "Look toward the side the pose picture shows, keeping your head still."),
    # photo swaps: a change of pose right after the face vanished, or with a jump
    "pose.swap_gap": Plain("Your face disappeared just as the pose changed",
                           "Stay in view and change your expression in front of the camera; "
                           "do not hold up pictures."),
    "pose.swap_turn": Plain("Your head jumped to another direction as the pose changed",
                            "Keep your head still and change only your expression."),
    "pose.swap_shift": Plain("Your face jumped to another place as the pose changed",
                             "Keep your head still and change only your expression."),
    "pose.counter_turn": Plain("Your head turned the other way",
                               "Move only your eyes toward the side the pose picture shows; "
                               "do not turn your head away from it."),
    "pose.mouth": Plain("Your mouth did not match the pose",
                        "Smile with your mouth open, or keep it closed, as the picture shows."),
    "pose.neutral_requested": Plain("This pose cannot be checked",
                                    "Start a new challenge: a different pose will be drawn."),
    "pose.multi_frame": Plain("Deciding over several frames", "Follow the instructions."),
    "pose.no_transition": Plain("No neutral face needed", "Make the pose in the picture."),
    "pose.neutral": Plain("Neutral face seen", "Now make the pose in the picture."),
    "pose.waiting_neutral": Plain("We did not see a neutral face first",
                                  "Start with eyes open, looking ahead, mouth closed."),
    "pose.held": Plain("Pose held", "Come back to a neutral face."),
    "pose.waiting_pose": Plain("The pose was not held long enough",
                               "Make the pose in the picture and hold it for a second."),
    "pose.waiting_return": Plain("We did not see you come back to a neutral face",
                                 "After the pose, relax: eyes open, looking ahead, mouth closed."),
    "pose.ok": Plain("You passed", "You made the requested pose."),
    # -- BLINK --------------------------------------------------------------------------------
    "blink.no_face": Plain("No face found", "Look straight at the camera in good light."),
    "blink.one_face": Plain("Face found", "Keep your eyes open for a moment."),
    "blink.several_faces": _ONE,
    "blink.missing_landmark": Plain("Your eyes could not be located", _DATA),
    "blink.rotated": Plain("Your head was turned too far to see your eyes",
                           "Face the camera straight on."),
    "blink.baseline": Plain("Measuring your open eyes", "Keep your eyes open for a moment."),
    "blink.eyes_not_open": Plain("We could not see your eyes open",
                                 "Open your eyes fully, face the light, and remove glasses that "
                                 "reflect it."),
    "blink.baseline_done": Plain("Open eyes measured", "Now blink."),
    "blink.closed": Plain("Eyes closed", "Open them again to finish the blink."),
    "blink.long_closure": Plain("Your eyes stayed closed too long",
                                "Blink normally: close and open your eyes quickly."),
    "blink.counted": Plain("Blink counted", "Keep blinking until the count is reached."),
    "blink.open": Plain("Not enough blinks", "Blink the number of times asked, naturally."),
    "blink.window": Plain("Not enough blinks in time",
                          "Blink the number of times asked, naturally, within the time shown."),
    "blink.ok": Plain("You passed", "You blinked as asked."),
    # hardened BLINK (issue 11): cues, frame rate, head turn
    "blink.frame_rate": Plain("Your camera sends too few pictures per second",
                              "Close other programs using the camera, or use a faster camera."),
    "blink.no_cues": Plain("This challenge was not set up for blinking on cue", _DATA),
    "blink.no_turn_param": Plain("This challenge was not set up with a head turn", _DATA),
    "blink.missed_cue": Plain("A blink did not follow its signal",
                              "Blink slowly right after each flash, not before it."),
    "blink.uncued": Plain("A blink with no signal", "Blink only when the flash appears."),
    "blink.uncued_blinks": Plain("Too many blinks without a signal",
                                 "Keep your eyes open between the flashes; blink after each."),
    "blink.no_turn": Plain("We did not see your head turn",
                           "Before the flashes, turn your head a little to the side shown "
                           "and back."),
    "blink.parallax": Plain("Your face turned like a flat picture",
                            "Turn your own head a little to the side shown, then back."),
    "blink.parallax_unavailable": Plain("The turn of your head could not be measured", _DATA),
    # BLINK for real cameras (issue 11c)
    "blink.rebaselined": Plain("Your open eyes measured again",
                               "Keep your eyes open and look at the screen."),
    "blink.before_cues": Plain("A blink before the first signal", "Wait for the flash."),
    "blink.reopening": Plain("Eyes opening", "Keep them open until the next flash."),
    "blink.reaction_spread": Plain("Your blinks did not follow the signals evenly",
                                   "Blink right after each flash, every time."),
    "blink.inconsistent": Plain("Your blinks so far followed the signals unevenly",
                                "Blink right after the next flash."),
    # -- HEAD_TURN ----------------------------------------------------------------------------
    "head_turn.no_face": Plain("No face found", "Look straight at the camera in good light."),
    "head_turn.several_faces": _ONE,
    "head_turn.missing_pose": Plain("The turn of your head could not be measured", _DATA),
    "head_turn.not_centred": Plain("You were not facing the camera",
                                   "Start facing the camera straight on."),
    "head_turn.centring": Plain("Facing the camera", "Hold still a moment."),
    "head_turn.centred": Plain("Facing the camera", "Now make the first turn."),
    "head_turn.centred_early": Plain("Facing the camera", "Your first turn was seen; keep going."),
    "head_turn.turning": Plain("A turn was not completed",
                               "Turn your head clearly in the direction shown, and hold it."),
    "head_turn.holding": Plain("A turn was not held long enough",
                               "Hold each turn for about half a second."),
    "head_turn.wrong_direction": Plain("Your head turned the wrong way",
                                       "Read the whole sequence before starting and follow it in "
                                       "order; come back to the centre between turns."),
    "head_turn.parallax": Plain("Your face turned like a flat picture",
                                "Turn your head itself, not a photo or a screen."),
    "head_turn.parallax_unavailable": Plain("The turn of your head could not be measured", _DATA),
    "head_turn.turned": Plain("Turn held", "Come back to the centre."),
    "head_turn.returning": Plain("You did not come back to the centre",
                                 "After each turn, face the camera again."),
    "head_turn.back": Plain("Back at the centre", "Make the next turn."),
    "head_turn.ok": Plain("You passed", "You made every turn in order."),
    # -- session checks (identity, presentation attack) ---------------------------------------
    "identity.changed": Plain("The face changed during the challenge",
                              "Take the challenge alone, from start to end."),
    "identity.geometry_changed": Plain("The face changed during the challenge",
                                       "Take the challenge alone, from start to end, and keep "
                                       "your face in view."),
    "identity.descriptor_mismatch": Plain("Your face could not be compared across frames", _DATA),
    "identity.missing": Plain("Your face could not be compared across frames",
                              "The service's analyzer gives no face descriptors or similarity, "
                              "which this profile needs: ask its operator (see About)."),
    "pad.attack": Plain("This looked like a photo or a screen",
                        "Use your live face in front of the camera, in good light."),
    "pad.missing_score": Plain("The photo-or-screen check could not run",
                               "The service's analyzer gives no presentation-attack score, "
                               "which this profile needs: ask its operator (see About)."),
    # -- framework ----------------------------------------------------------------------------
    "state_error": Plain("Something went wrong while checking",
                         "Start again; if it keeps happening, report it with the technical "
                         "details below."),
    "no_frames": Plain("No picture reached the service",
                       "Allow camera access for this page and check the connection."),
}

#: Plain words for codes built from a state name: ``{state}.SUFFIX`` (the framework's
#: timeouts and default codes, the shared missing-face helpers).
SUFFIX_TEXT: dict[str, Plain] = {
    "timeout": Plain("Time ran out on a step",
                     "Each step has a few seconds: follow the hint over the video promptly."),
    "no_decision": Plain("The challenge ended before a decision",
                         "Keep following the hints until the challenge ends on its own."),
    "no_next_state": Plain("Something went wrong while checking",
                           "This challenge type is misconfigured: report it."),
    "no_face": _NOFACE,
    "no_face_skipped": Plain("Your face was out of view for a moment",
                             "Keep your whole face in view."),
    "several_faces": _ONE,
    # face-track continuity of any type (liveness_lab.challenges.one_face)
    "track_jump": Plain("Your face jumped from one place to another",
                        "Stay in view and keep your face in one place; do not hold up "
                        "pictures."),
    "track_gap": Plain("Your face left the camera's view",
                       "Keep your face in view until the challenge ends."),
    "continue": Plain("The challenge was not finished", "Keep following the hints."),
    "next": Plain("A step was passed", "Keep following the hints."),
    "success": Plain("You passed", "Nothing more to do."),
    "fail": Plain("The challenge was not passed", "Start again and follow the hints."),
}

#: Headlines of timeouts in the NOSE states (more precise than the generic one).
_TIMEOUT_BY_STATE = {
    "face_state": Plain("We could not find your face in time",
                        "Look straight at the camera in good light, alone in view."),
    "area_state": Plain("Your face did not fit the white box in time",
                        "Move so that your face fills most of the white box, centred."),
    "nose_state": Plain("Your nose did not reach the yellow box in time",
                        f"{_TURN}; you have 10 s once your face is in the box."),
    "baseline_state": Plain("We could not see your eyes open in time",
                            "Face the camera with your eyes open, in good light."),
}

#: The generic words of a pass (any code).
PASS_TEXT = Plain("You passed", "Nothing more to do.")
_UNKNOWN_FAIL = Plain("The challenge was not passed",
                      "Start again and follow the instructions and hints.")
_UNDECIDED = Plain("No decision", "The capture ended before the challenge could decide: start "
                                  "again and follow the hints until it ends on its own.")


def plain_words(code: str | None) -> Plain | None:
    """The plain words of ``code``, or ``None`` when no entry covers it.

    >>> plain_words("nose.histogram_distance").headline
    'Your face did not turn like a real head'
    >>> plain_words("turn_2.timeout").headline
    'Time ran out on a step'
    >>> plain_words("nose_state.timeout").headline
    'Your nose did not reach the yellow box in time'
    >>> plain_words("made.up") is None
    True
    """
    if not code:
        return None
    code = str(code)
    if code in PLAIN_TEXT:
        return PLAIN_TEXT[code]
    prefix, _, suffix = code.rpartition(".")
    if suffix == "timeout" and prefix in _TIMEOUT_BY_STATE:
        return _TIMEOUT_BY_STATE[prefix]
    if prefix and suffix in SUFFIX_TEXT:
        return SUFFIX_TEXT[suffix]
    return None


# 13-digit millisecond timestamps (years 2001..2286), as the verifier's reasons carry them
_EPOCH_MS = re.compile(r"\b(1\d{12})(\s*ms)?\b")


def humanize_times(text: str, t0_ms: int | None) -> str:
    """Replace epoch-millisecond timestamps in ``text`` by seconds since ``t0_ms``.

    Without ``t0_ms`` the number is replaced by "a frame" wording-neutral ``later``.

    >>> humanize_times("frame at 1796626667429 ms is late", 1796626660000)
    'frame at 7.4 s is late'
    >>> humanize_times("frame at 1796626667429 ms is late", None)
    'frame at a later time is late'
    """
    def repl(m: re.Match[str]) -> str:
        if t0_ms is None:
            return "a later time"
        return f"{(int(m.group(1)) - int(t0_ms)) / 1000:.1f} s"

    return _EPOCH_MS.sub(repl, str(text))


@dataclass(frozen=True)
class PlainResult:
    """What the studio shows for a verdict: label, headline, next step, technical details."""

    label: str  # PASS, FAIL, NO DECISION
    headline: str
    next_step: str
    code: str
    technical: str


def explain(verdict: Mapping[str, Any], *, t0_ms: int | None = None) -> PlainResult:
    """The plain-words view of a verdict dict (``success``, ``decided``, ``code``, ``reason``).

    ``t0_ms`` (the first frame's timestamp) turns epoch times in the reason into
    seconds since the start.

    >>> r = explain({"success": False, "decided": True, "code": "nose_state.timeout",
    ...              "reason": "frame at 1700000012000 ms is more than 10 s after"},
    ...             t0_ms=1700000000000)
    >>> r.label, r.headline, r.technical
    ('FAIL', 'Your nose did not reach the yellow box in time', 'frame at 12.0 s is more than 10 s after')
    """
    success = bool(verdict.get("success"))
    decided = bool(verdict.get("decided", True))
    code = str(verdict.get("code") or "")
    label = "PASS" if success else ("FAIL" if decided else "NO DECISION")
    words = plain_words(code)
    if success:
        words = words if words is not None and words.headline == "You passed" else PASS_TEXT
    elif not decided:
        found = plain_words(code)
        words = _UNDECIDED if found is None or code.endswith(".no_decision") else Plain(
            _UNDECIDED.headline + ": " + found.headline[0].lower() + found.headline[1:],
            found.next_step)
    elif words is None:
        words = _UNKNOWN_FAIL
    technical = humanize_times(str(verdict.get("reason") or ""), t0_ms)
    if "LOOKING_" in technical:
        technical += ("\n(POSE directions are in camera-image terms: LOOKING_LEFT means eyes "
                      "toward the right edge of your screen, LOOKING_RIGHT toward its left "
                      "edge, as the pose picture and its words show.)")
    return PlainResult(label, words.headline, words.next_step, code, technical)


# -- enumeration of the codes -------------------------------------------------------------------

_FIXED = re.compile(r"\b(?:Continue|Next|Success|Fail)\(\s*\"([a-z_]+\.[a-z_]+)\"")
_BUILT = re.compile(r"\b(?:Continue|Next|Success|Fail)\(\s*f\"\{[a-z_]+\}\.([a-z_]+)\"")
_FRAMEWORK_SUFFIXES = ("timeout", "no_decision", "no_next_state")


def _original(func: Any) -> Any:
    """The state function behind the framework's call adapter (a lambda closing over it)."""
    for _ in range(3):
        try:
            inner = inspect.getclosurevars(func).nonlocals.get("func")
        except TypeError:
            return func
        if not callable(inner):
            return func
        func = inner
    return func


_RELATIVE_IMPORT = re.compile(r"^from \.(\w+) import", re.MULTILINE)


def _sources(ctype: Any) -> set[Path]:
    """The files of the type's state functions and the sibling modules they import, in
    turn (``from .pose_run import ...``: a type's rules often live in helper modules)."""
    files = set()
    for state in ctype.states.values():
        func = _original(inspect.unwrap(state.func))
        try:
            files.add(Path(inspect.getsourcefile(func) or ""))
        except TypeError:
            continue
    todo = [f for f in files if f.is_file()]
    seen = set(todo)
    while todo:
        f = todo.pop()
        for name in _RELATIVE_IMPORT.findall(f.read_text(encoding="utf-8")):
            sibling = f.with_name(f"{name}.py")
            if sibling.is_file() and sibling not in seen:
                seen.add(sibling)
                todo.append(sibling)
    return seen


def known_codes(ctypes: Iterable[Any]) -> set[str]:
    """Every result code the challenge types ``ctypes`` can produce.

    Read from the sources of their state functions and of the shared checks
    (``liveness_lab/challenges/checks.py``): fixed codes, codes built from a
    state name (``{state}.no_face``...) for each of the type's states, and the
    framework's ``{state}.timeout``, ``{state}.no_decision``,
    ``{state}.no_next_state``, ``{state}.continue`` (a state returning no code), and the
    verifier's own :data:`~liveness_lab.verify.VERIFIER_CODES` (``state_error``,
    ``no_frames``, ``session.several_faces``).
    """
    from ..challenges import checks
    from ..verify import VERIFIER_CODES

    codes = set(VERIFIER_CODES)
    shared = Path(inspect.getsourcefile(checks) or "")
    for ctype in ctypes:
        files = _sources(ctype) | ({shared} if shared.is_file() else set())
        suffixes = set(_FRAMEWORK_SUFFIXES) | {"continue"}
        for f in files:
            text = f.read_text(encoding="utf-8")
            codes.update(_FIXED.findall(text))
            suffixes.update(_BUILT.findall(text))
        for state in ctype.states:
            codes.update(f"{state}.{s}" for s in suffixes)
    return codes
