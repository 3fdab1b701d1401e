"""NOSE: centre the face in the area box, then move the tip of the nose to a target box.

With the default configuration (the ``seed`` profile) this decides exactly as
the original AWS Liveness Detection Framework: same params keys and
generation rules, same checks, thresholds and order
(see ``docs/challenges.md``). Where the original crashed (no face in the
frame during the area or nose state, a trajectory too short to fit, a
missing pose), the run fails with a reason instead.

A profile with ``nose_targets`` > 1 gives clients that declare ``noseTargets``
a sequence of held targets (``nose_targets.py``); old clients keep one box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from ..faces import FaceDetail
from .checks import SessionChecksConfig, before_success, nose_parallax
from .framework import (image_size, ChallengeRandom, ChallengeType, Context, Continue, Fail, FrameInput, Next,
                        StepResult, Success)
from .framework import IMAGE_SIZE_SCHEMA, Param
from .nose_histogram import _histogram_distance_xy
from .nose_fit import fit_leg
from .nose_motion import area_toward_targets, observe_still, parallax_needed
from .nose_run import RUN_KEY, _NoseRun
from .one_face import one_face
from .nose_targets import (MAX_NOSE_TARGETS, box_beside_centre, client_target_count,
                           sequence_params, side_box, targets_of)

__all__ = ["NOSE", "NoseConfig", "nose_params", "area_box", "nose_box"]


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class NoseConfig(SessionChecksConfig):
    """Thresholds of the NOSE challenge (defaults: the original's values and behaviour)."""

    area_box_width_ratio: float = _f(0.75, "area box width as a ratio of the image width (cap)")
    area_box_height_ratio: float = _f(0.75, "area box height as a ratio of the image height")
    area_box_aspect_ratio: float = _f(0.75, "area box width as a ratio of its height (cap)")
    area_box_tolerance: float = _f(0.05, "nose state: the area box grows by this ratio of its "
                                         "size on each side before the face counts as outside")
    min_face_area_percent: int = _f(40, "face box area, % of the area box, written in params")
    min_face_area_percent_tolerance: float = _f(20, "percentage points added to the face area "
                                                    "before comparing with minFaceAreaPercent")
    nose_box_size: int = _f(20, "nose target box width and height, pixels")
    nose_box_center_min_h_dist: int = _f(45, "min horizontal distance, px, from the image "
                                             "centre to the near edge of the nose box")
    nose_box_center_max_h_dist: int = _f(75, "max (exclusive) horizontal distance, px")
    nose_box_center_max_v_dist: int = _f(40, "max (exclusive) vertical distance, px")
    nose_box_tolerance: float = _f(0.55, "the nose box grows by this ratio of its size on each "
                                         "side when testing the nose position")
    trajectory_error_threshold: float = _f(0.02, "max RMS residual of a degree-2 fit y(x) of "
                                                 "the nose trajectory, image ratios")
    histogram_bins: int = _f(3, "bins per axis of the landmark histograms")
    min_dist: float = _f(0.10, "base minimum distance between the first and last landmark "
                               "histograms")
    rotation_threshold: float = _f(5.0, "|yaw| above this (degrees) counts as a rotated head")
    min_dist_factor_rotated: float = _f(0.75, "min_dist factor when the head is rotated toward "
                                              "the nose box")
    min_dist_factor_not_rotated: float = _f(1.5, "min_dist factor when the head is not rotated")
    histogram_check: bool = _f(True, "require the landmark histogram distance (the original's "
                                     "check) at the target")
    multiple_faces: str = _f("first", "a frame with several faces: 'first' uses the first "
                                      "face (the original), 'fail' fails the run")
    max_missing_faces: int = _f(0, "frames without a face skipped in the area and nose states "
                                   "before the run fails (0: fail at once, as the original's "
                                   "crash did)")
    parallax_check: bool = _f(False, "require the nose to move against the face plane (3D "
                                     "consistency) between the nose state's first frame and "
                                     "the frame at the target")
    min_parallax: float = _f(0.035, "smallest nose parallax, in face widths along the nose's "
                                    "motion (a flat photo: 0 plus detector noise)")
    parallax_noise_z: float = _f(0.0, "the nose parallax must also reach this many times the "
                                      "session's own parallax noise, measured on the frames "
                                      "before the nose moves (0: min_parallax alone)")
    parallax_min_rotation: float = _f(0.0, "a parallax counts only between two faces whose "
                                           "reported head rotation (yaw and pitch) differs by "
                                           "at least this, degrees (beyond the detector's pose "
                                           "jitter); 0: any")
    parallax_still_fraction: float = _f(0.15, "a frame counts as still (for the noise) while "
                                              "the nose is within this fraction of its "
                                              "distance to the first target")
    nose_targets: int = _f(1, "targets in sequence for a client that declares it can show "
                              "them (noseTargets in its metadata); 1: the original's one target")
    sequence_min_h_dist: int = _f(30, "sequence targets: min horizontal distance, px, from the "
                                      "image centre to the near edge of the box")
    sequence_max_h_dist: int = _f(75, "sequence targets: max (exclusive) horizontal distance, px")
    sequence_max_v_dist: int = _f(45, "sequence targets: max (exclusive) vertical distance, px")
    sequence_area_tolerance: float = _f(0.15, "sequence: area_box_tolerance during its "
                                              "longer response (posture drifts, people "
                                              "translate part of each nose movement)")
    area_follows_nose: float = _f(0.0, "nose state: the area box also grows toward the "
                                       "target(s) by this multiple of the nose's displacement "
                                       "from its first position in the state to the far edge "
                                       "of the tolerant target box (a head turning about the "
                                       "neck carries the face box along with the nose); 0: "
                                       "the original's fixed area")
    hold_ms: int = _f(500, "sequence targets: the nose must stay in each target box this long "
                           "(client time, ms); a recording passing through a box does not")
    trajectory_after_pause: bool = _f(False, "fit the (one-target) trajectory from the end of "
                                             "the first pause of the nose state: the motion "
                                             "before it is the centring movement finishing, "
                                             "not the movement to the target")
    pause_ms: float = _f(150.0, "a pause: the nose slower than pause_speed for at least this "
                                "long (the shortest human reaction time)")
    three_point_fit: bool = _f(False, "a trajectory of exactly 3 points (a 0.4-0.6 s "
                                      "movement at 5 fps), which a degree-2 fit passes "
                                      "through exactly (no residual), counts as fitting "
                                      "(error 0) instead of failing nose.trajectory_unfit")
    pause_speed: float = _f(0.25, "nose speed, face widths per second, below which the nose "
                                  "counts as at rest")

    def validate(self) -> None:
        super().validate()
        if self.multiple_faces not in ("first", "fail"):
            raise ConfigError(f"multiple_faces must be 'first' or 'fail', got "
                              f"{self.multiple_faces!r}")
        self._require_non_negative("max_missing_faces")
        if not 1 <= self.nose_targets <= MAX_NOSE_TARGETS:
            raise ConfigError(f"nose_targets must be from 1 to {MAX_NOSE_TARGETS}, got "
                              f"{self.nose_targets!r}")
        if not self.sequence_max_h_dist > self.sequence_min_h_dist >= 0:
            raise ConfigError("sequence_max_h_dist must be > sequence_min_h_dist >= 0")
        if self.pause_ms < 0 or self.pause_speed <= 0:
            raise ConfigError(f"pause_ms must be >= 0 and pause_speed > 0, got "
                              f"{self.pause_ms!r} and {self.pause_speed!r}")
        if self.sequence_max_v_dist < 1 or self.hold_ms < 0:
            raise ConfigError("sequence_max_v_dist must be >= 1 and hold_ms >= 0")
        self._require_non_negative("parallax_min_rotation")
        if self.min_parallax < 0 or self.parallax_noise_z < 0:
            raise ConfigError(f"min_parallax and parallax_noise_z must be >= 0, got "
                              f"{self.min_parallax!r} and {self.parallax_noise_z!r}")
        if not 0 < self.parallax_still_fraction < 1:
            raise ConfigError(f"parallax_still_fraction must be in (0, 1), got "
                              f"{self.parallax_still_fraction!r}")
        if not self.nose_box_center_max_h_dist > self.nose_box_center_min_h_dist:
            raise ConfigError("nose_box_center_max_h_dist must be > nose_box_center_min_h_dist")
        if self.nose_box_center_max_v_dist < 1:
            raise ConfigError("nose_box_center_max_v_dist must be >= 1")
        if self.histogram_bins < 1:
            raise ConfigError("histogram_bins must be >= 1")
        for name in ("area_box_width_ratio", "area_box_height_ratio", "area_box_aspect_ratio"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0")
        for name in ("area_box_tolerance", "sequence_area_tolerance", "nose_box_tolerance", "trajectory_error_threshold",
                     "min_dist", "rotation_threshold", "area_follows_nose"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0")


NOSE = ChallengeType(
    "NOSE", config_class=NoseConfig,
    description="centre the face in the area box, then move the nose tip to the target box",
    params_schema={**IMAGE_SIZE_SCHEMA, "minFaceAreaPercent": Param(float, minimum=0, maximum=100),
                   **{f"{box}{key}": Param(float, minimum=0 if key in ("Width", "Height") else None)
                      for box in ("area", "nose") for key in ("Left", "Top", "Width", "Height")},
                   "noseTargets": Param(list, required=False, minimum=2, maximum=MAX_NOSE_TARGETS,
                                        items=Param(dict, fields={
                                            f"nose{key}": Param(float, minimum=0 if key in (
                                                "Width", "Height") else None)
                                            for key in ("Left", "Top", "Width", "Height")})),
                   "noseHoldMs": Param(float, required=False, minimum=0)})


# -- params ------------------------------------------------------------------------------------

def area_box(image_width: int, image_height: int, config: NoseConfig) -> tuple[float, ...]:
    """The centred face area box ``(left, top, width, height)`` in pixels (floats)."""
    height = image_height * config.area_box_height_ratio
    width = min(image_width * config.area_box_width_ratio, height * config.area_box_aspect_ratio)
    return (image_width / 2 - width / 2, image_height / 2 - height / 2, width, height)


def nose_box(image_width: int, image_height: int, config: NoseConfig,
             rng: ChallengeRandom) -> tuple[float, ...]:
    """A random nose target box ``(left, top, width, height)`` in pixels (floats).

    Left or right of the centre (fair coin) with its near edge
    ``min_h_dist + randbelow(max_h_dist - min_h_dist)`` px away; up or down
    (fair coin) with its near edge ``randbelow(max_v_dist)`` px away; the box
    extends away from the centre. The draws happen in the original's order.
    """
    side = rng.choice([1, -1])
    return box_beside_centre(image_width, image_height, config.nose_box_size, side,
                             (config.nose_box_center_min_h_dist,
                              config.nose_box_center_max_h_dist,
                              config.nose_box_center_max_v_dist), rng)


@NOSE.params
def nose_params(client_metadata: Mapping[str, Any], config: NoseConfig,
                rng: ChallengeRandom) -> dict[str, Any]:
    """Params of a new NOSE challenge, keys as in the original."""
    w, h = image_size(client_metadata)
    ax, ay, aw, ah = area_box(w, h, config)
    count = client_target_count(client_metadata, config)
    if count == 1:
        boxes = [nose_box(w, h, config, rng)]
    else:  # a sequence: each target's side a fair coin of its own
        boxes = [side_box(w, h, config, rng, rng.choice([1, -1])) for _ in range(count)]
    nx, ny, nw, nh = boxes[0]
    params = {"imageWidth": w, "imageHeight": h,
              "areaLeft": int(ax), "areaTop": int(ay), "areaWidth": int(aw),
              "areaHeight": int(ah), "minFaceAreaPercent": config.min_face_area_percent,
              "noseLeft": int(nx), "noseTop": int(ny), "noseWidth": int(nw), "noseHeight": int(nh)}
    if count > 1:
        params["noseTargets"] = sequence_params(boxes)
        params["noseHoldMs"] = config.hold_ms
    return params


# -- checks ------------------------------------------------------------------------------------

def _inside(box: tuple[float, float, float, float], face: tuple[float, float, float, float]) -> bool:
    return (box[0] <= face[0] and box[1] <= face[1] and
            box[0] + box[2] >= face[0] + face[2] and box[1] + box[3] >= face[1] + face[3])


def _face_box_px(face: FaceDetail, params: Mapping[str, Any], context: Context
                 ) -> tuple[float, float, float, float] | None:
    if face.bounding_box is None:
        return None
    box = face.bounding_box.to_pixels(params["imageWidth"], params["imageHeight"])
    if context.tracing:
        context.record(face_left=box[0], face_top=box[1], face_right=box[0] + box[2],
                       face_bottom=box[1] + box[3])
    return box


# The per-frame results, made once (StepResult is immutable).
_ONE_FACE = Next("face.one_face", "exactly one face")
_NO_FACE = Continue("face.no_face", "no face in the frame")
_AREA_OUTSIDE = Continue("area.outside", "the face is not inside the area box")
_AREA_OK = Next("area.ok", "the face fills the area box")
_NO_NOSE_LANDMARK = Continue("nose.missing_landmark", "the face has no nose landmark")
_NOT_IN_TARGET = Continue("nose.not_in_target",
                          "move the tip of your nose toward the target box")


@NOSE.state(first=True, next_state="area_state")
def face_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Wait for a frame with exactly one face."""
    n = len(frame.faces)
    if n == 1:
        return _ONE_FACE
    if n == 0:
        return _NO_FACE
    if context.config.multiple_faces == "fail":
        return Fail("face.several_faces", f"{n} faces in the frame; exactly one is allowed")
    return Continue("face.several_faces", f"{n} faces in the frame; one is needed")


def _the_face(frame: FrameInput, cfg: "NoseConfig", context: Context, state: str
              ) -> tuple[FaceDetail | None, StepResult | None]:
    """The frame's face to check, or the step to return instead (no face, several faces, or a
    failed per-face check such as identity or PAD)."""
    return one_face(frame, context, state, max_missing_faces=cfg.max_missing_faces,
                    several="fail" if cfg.multiple_faces == "fail" else "first",
                    no_face_text=f"no face in the frame during the {state} state "
                                 "(the original crashed here)")


@NOSE.state(next_state="nose_state")
def area_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Wait until the face box is inside the area box and large enough."""
    cfg: NoseConfig = context.config
    face, result = _the_face(frame, cfg, context, "area")
    if result is not None:
        return result
    box = _face_box_px(face, params, context)
    if box is None:
        return Fail("area.missing_bounding_box", "the face has no bounding box "
                                                 "(the original crashed here)")
    area = (params["areaLeft"], params["areaTop"], params["areaWidth"], params["areaHeight"])
    inside = _inside(area, box)
    if context.tracing:
        context.record(inside_area=inside)
    if not inside:
        return _AREA_OUTSIDE
    percent = box[2] * box[3] * 100 / (area[2] * area[3])
    if context.tracing:
        context.record(face_area_percent=percent)
    if percent + cfg.min_face_area_percent_tolerance >= params["minFaceAreaPercent"]:
        return _AREA_OK
    return Continue("area.too_small", f"the face covers {percent:.0f}% of the area box; "
                                      "move closer")


@NOSE.state()
def nose_state(params: Mapping[str, Any], frame: FrameInput, context: Context) -> StepResult:
    """Follow the nose to the target; then check trajectory, histograms and rotation."""
    cfg: NoseConfig = context.config
    face, result = _the_face(frame, cfg, context, "nose")
    if result is not None:
        return result
    run: _NoseRun | None = context.get(RUN_KEY)
    if run is None:  # the first face's landmarks are read at the target, if ever
        run = context[RUN_KEY] = _NoseRun(face)
        # the original framework's context key, which plugins read (a reference: no cost)
        context["original_landmarks"] = face.landmarks
    width, height = params["imageWidth"], params["imageHeight"]

    box = _face_box_px(face, params, context)
    if box is None:
        return Fail("nose.missing_bounding_box", "the face has no bounding box")
    area = run.area
    if area is None:
        grow = cfg.sequence_area_tolerance if "noseTargets" in params else cfg.area_box_tolerance
        tol_w = params["areaWidth"] * grow
        tol_h = params["areaHeight"] * grow
        area = run.area = (params["areaLeft"] - tol_w, params["areaTop"] - tol_h,
                                     params["areaWidth"] + 2 * tol_w,
                                     params["areaHeight"] + 2 * tol_h)
    if cfg.area_follows_nose:
        area = area_toward_targets(area, params, run, cfg)
    inside = _inside(area, box)
    tracing = context.tracing
    if tracing:
        context.record(inside_area=inside)
    if not inside:
        return Fail("nose.face_left_area", "the face left the area box")

    nose = face.landmark_point("nose")
    if nose is None:
        return _NO_NOSE_LANDMARK
    nx, ny = nose[0] * width, nose[1] * height
    run.trajectory.append(nose)
    targets = run.targets
    if targets is None:
        targets = run.targets = targets_of(params)
    if cfg.trajectory_after_pause:
        run.motion.append((frame.timestamp, box[2], face))
    if cfg.parallax_check and cfg.parallax_noise_z:
        observe_still(run, face, (nx, ny), targets[0], (width, height), cfg)
    k = run.target_index
    tolerant = run.tolerant
    if tolerant is None or tolerant[0] != k:
        tolerant = run.tolerant = (k, _tolerant(targets[k], cfg))
    in_target = _in_box(tolerant[1], nx, ny)
    if tracing:
        context.record(nose_x=nx, nose_y=ny, inside_nose_box=in_target)
    if len(targets) > 1:
        context.record(nose_target=k)
        held = _held(in_target, frame.timestamp, params, run, context)
        if held is not None:
            return held
    if not in_target:
        return _NOT_IN_TARGET
    if k + 1 < len(targets):
        return _next_target(targets, k, face, (width, height), run, context)

    error, trajectory = fit_leg(run, (width, height), cfg, context, sequence=len(targets) > 1)
    context.record(trajectory_points=len(trajectory), trajectory_error=error)
    if error is None:
        return Fail("nose.trajectory_unfit",
                    f"the nose trajectory ({len(trajectory)} points) is too short or degenerate "
                    "for a degree-2 fit (the original crashed here)")
    if error > cfg.trajectory_error_threshold:
        context.score = cfg.trajectory_error_threshold - error
        return Fail("nose.trajectory_error", f"nose trajectory RMS error {error:.4f} > "
                                             f"{cfg.trajectory_error_threshold:g}")
    if cfg.parallax_check:
        parallax = _best_parallax(run, face, width, height, cfg)
        context.record(parallax=parallax)
        if parallax is None:
            return Fail("nose.parallax_unavailable", "the faces lack the landmarks needed to "
                                                     "measure the nose parallax")
        need = parallax_needed(run, context, cfg)
        context.score = parallax - need
        if parallax < need:
            return Fail("nose.parallax", f"nose parallax {parallax:.3f} < {need:.3f} "
                                         "face widths: the face moved like a flat picture")
    if len(targets) > 1:
        turned = _turned_away(face, run, cfg)
        if turned is not None:
            return turned
        final = before_success(context)
        if final is not None:
            return final
        return Success("nose.ok", f"the nose held each of the {len(targets)} targets in turn")
    if not cfg.histogram_check:
        return _decide_without_histogram(params, targets[k], face, cfg, context)

    dist = _histogram_distance_xy(run.original_face.landmark_xy(), face.landmark_xy(),
                                  width, height, cfg.histogram_bins)
    yaw = face.pose.yaw if face.pose is not None else None
    context.record(histogram_distance=dist, yaw=yaw)
    if yaw is None:
        return Fail("nose.missing_pose", "the face has no yaw estimate")
    rotated_right = yaw > cfg.rotation_threshold
    rotated_left = yaw < -cfg.rotation_threshold
    target_right = _target_right(targets[k], width, cfg)
    if (rotated_right and target_right) or (rotated_left and not target_right):
        min_dist = cfg.min_dist * cfg.min_dist_factor_rotated
    elif not (rotated_left or rotated_right):
        min_dist = cfg.min_dist * cfg.min_dist_factor_not_rotated
    else:
        return Fail("nose.wrong_rotation", f"the head turned away from the target (yaw {yaw:.1f})")
    context.record(min_dist=min_dist)
    if math.isnan(dist):
        return Fail("nose.missing_landmarks", "no landmarks to compare")
    context.score = dist - min_dist
    if dist > min_dist:
        final = before_success(context)
        if final is not None:
            return final
        return Success("nose.ok", f"landmark histogram distance {dist:.3f} > {min_dist:.3f}")
    return Fail("nose.histogram_distance", f"landmark histogram distance {dist:.3f} <= "
                                           f"{min_dist:.3f}: the face did not change as a "
                                           "turning head does")


def _decide_without_histogram(params: Mapping[str, Any], target: tuple[float, ...],
                              face: FaceDetail, cfg: NoseConfig, context: Context) -> StepResult:
    """The decision when the histogram check is off: the rotation rule, then the session checks."""
    yaw = face.pose.yaw if face.pose is not None else None
    context.record(yaw=yaw)
    if yaw is None:
        return Fail("nose.missing_pose", "the face has no yaw estimate")
    target_right = _target_right(target, params["imageWidth"], cfg)
    if (yaw < -cfg.rotation_threshold and target_right) or \
            (yaw > cfg.rotation_threshold and not target_right):
        return Fail("nose.wrong_rotation", f"the head turned away from the target (yaw {yaw:.1f})")
    final = before_success(context)
    if final is not None:
        return final
    if cfg.parallax_check:
        return Success("nose.ok", "the nose reached the target with a head's parallax")
    return Success("nose.ok", "the nose reached the target with the head turned toward it")


def _tolerant(box: tuple[float, ...], cfg: NoseConfig) -> tuple[float, float, float, float]:
    tol_w, tol_h = box[2] * cfg.nose_box_tolerance, box[3] * cfg.nose_box_tolerance
    return (box[0] - tol_w, box[1] - tol_h, box[2] + 2 * tol_w, box[3] + 2 * tol_h)


def _in_box(box: tuple[float, ...], x: float, y: float) -> bool:
    return box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]


def _target_right(box: tuple[float, ...], width: float, cfg: NoseConfig) -> bool:
    """Whether the target is in the image's right half (the original's test, on its box)."""
    return box[0] + cfg.nose_box_size / 2 > width / 2


def _held(in_target: bool, timestamp: int, params: Mapping[str, Any], run: _NoseRun,
          context: Context) -> StepResult | None:
    """A sequence: the nose must stay in the box for ``noseHoldMs``; ``None`` once it has."""
    if not in_target:
        run.hold_since = None
        return None
    since = run.hold_since
    if since is None:
        since = run.hold_since = timestamp
    held_ms = timestamp - since
    need = float(params.get("noseHoldMs", 0))
    context.record(hold_ms=held_ms)
    if held_ms < need:
        return Continue("nose.holding", f"hold the tip of your nose in the target box "
                                        f"({held_ms:.0f} of {need:.0f} ms)")
    return None


def _next_target(targets: list, k: int, face: FaceDetail, size: tuple[int, int],
                 run: _NoseRun, context: Context) -> StepResult:
    """Target ``k`` of a sequence held: check this leg's trajectory and rotation, go on."""
    cfg: NoseConfig = context.config
    error, trajectory = fit_leg(run, size, cfg, context, sequence=True)
    context.record(trajectory_points=len(trajectory), trajectory_error=error)
    if error is None:
        return Fail("nose.trajectory_unfit", f"the nose trajectory to target {k + 1} "
                                             f"({len(trajectory)} points) is too short for a "
                                             "degree-2 fit")
    if error > cfg.trajectory_error_threshold:
        context.score = cfg.trajectory_error_threshold - error
        return Fail("nose.trajectory_error", f"nose trajectory RMS error {error:.4f} > "
                                             f"{cfg.trajectory_error_threshold:g} on the way "
                                             f"to target {k + 1}")
    turned = _turned_away(face, run, cfg)
    if turned is not None:
        return turned
    if cfg.parallax_check:
        _best_parallax(run, face, *size, cfg)
    run.target_index = k + 1
    run.leg_start_face = face
    run.trajectory = [run.trajectory[-1]]
    run.motion = run.motion[-1:]
    run.hold_since = None
    return Continue("nose.next_target", f"target {k + 1} of {len(targets)} reached; move the "
                                        "tip of your nose to the next one")


#: face widths the nose must have moved within its face box before its direction is judged
#: (a 5 degree turn moves it ~0.02 face widths: the nose tip is ~30 mm in front of the box)
_TURN_OFFSET_MARGIN = 0.02


def _nose_offset(face: FaceDetail) -> float | None:
    """The nose tip's horizontal offset from the face box's centre, in face widths."""
    nose, box = face.landmark("nose"), face.bounding_box
    if nose is None or box is None or box.width <= 0:
        return None
    return (nose.x - (box.left + box.width / 2)) / box.width


def _turn_explains(reference: FaceDetail, face: FaceDetail, cfg: NoseConfig) -> bool:
    """Whether DetectFaces reports a head rotation (yaw and pitch) of more than
    ``parallax_min_rotation`` degrees between ``reference`` and ``face``: a nose leads a
    head's *turn*; a print rolled, moved or tilted in the hand keeps its printed pose (within
    the detector's jitter) while perspective and landmark noise fake a little parallax."""
    if not cfg.parallax_min_rotation:
        return True
    a, b = reference.pose, face.pose
    if a is None or b is None or None in (a.yaw, a.pitch, b.yaw, b.pitch):
        return False
    turn = math.hypot(b.yaw - a.yaw, b.pitch - a.pitch)  # type: ignore[operator]
    return turn >= cfg.parallax_min_rotation


def _turned_away(face: FaceDetail, run: _NoseRun, cfg: NoseConfig) -> StepResult | None:
    """A sequence's leg: the yaw must not have changed against the nose's horizontal motion
    (by more than ``rotation_threshold``) since the leg began - relative, as a head still
    turned toward the last target is not turned away from the next. The nose's motion is
    measured within its face box, so that moving the whole head sideways (translation,
    which changes no yaw) is not read as a turn."""
    start = run.leg_start_face if run.leg_start_face is not None else run.original_face
    if face.pose is None or start.pose is None:
        return Fail("nose.missing_pose", "the face has no yaw estimate")
    off0, off1 = _nose_offset(start), _nose_offset(face)
    if off0 is None or off1 is None:
        return Fail("nose.missing_pose", "the face has no nose landmark or bounding box")
    d_yaw = face.pose.yaw - start.pose.yaw
    dx = off1 - off0
    margin = _TURN_OFFSET_MARGIN
    if (dx > margin and d_yaw < -cfg.rotation_threshold) or \
            (dx < -margin and d_yaw > cfg.rotation_threshold):
        return Fail("nose.wrong_rotation", f"the head turned away from the target (yaw changed "
                                           f"by {d_yaw:.1f} while the nose moved the other way)")
    return None


def _best_parallax(run: _NoseRun, face: FaceDetail, width: int, height: int,
                   cfg: NoseConfig) -> float | None:
    """The largest nose parallax against the nose state's first frame (and, with
    ``trajectory_after_pause``, the frame the movement after the first pause started from)
    over the targets reached so far (a flat picture shows none at any of them), counting
    only those that came with a head turn (:func:`_turn_explains`)."""
    value = None
    for reference in (run.original_face, run.parallax_reference):
        if reference is None:
            continue
        other = nose_parallax(reference, face, width, height)
        if other is not None and not _turn_explains(reference, face, cfg):
            other = 0.0  # measured, but no head turn came with it: no head's parallax
        if other is not None and (value is None or other > value):
            value = other
    best = run.best_parallax
    if value is not None and (best is None or value > best):
        run.best_parallax = best = value
    return best
