"""STILL: a tiny third-party challenge type - keep the nose still for a few frames.

It uses only liveness-lab's public plugin API and is discovered through the
``liveness_lab.challenges`` entry point declared in this package's pyproject.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from liveness_lab.challenges import ChallengeConfig, ChallengeType, Continue, Fail, Next, Success


@dataclass(frozen=True)
class StillConfig(ChallengeConfig):
    frames_required: int = field(default=3, metadata={"help": "consecutive still frames"})
    max_motion: float = field(default=0.01, metadata={"help": "max nose motion, image ratios"})


STILL = ChallengeType("STILL", config_class=StillConfig, random_selection=False,
                      description="hold the nose still for a few frames",
                      listed=False)  # a test fixture: not shown to users


@STILL.params
def still_params(client_metadata, config, rng):
    return {"imageWidth": int(client_metadata["imageWidth"]),
            "imageHeight": int(client_metadata["imageHeight"]),
            "framesRequired": config.frames_required}


@STILL.state(first=True, next_state="hold")
def find_face(params, frame, context):
    if len(frame.faces) != 1:
        return Continue("still.face_count", "need exactly one face")
    return Next()


@STILL.state()
def hold(params, frame, context):
    if len(frame.faces) != 1:
        return Fail("still.face_count", "need exactly one face")
    nose = frame.faces[0].landmark("nose")
    if nose is None:
        return Fail("still.missing_landmark", "no nose landmark")
    last = context.get("last")
    context["last"] = (nose.x, nose.y)
    if last is None:
        context["count"] = 1
        return Continue()
    motion = max(abs(nose.x - last[0]), abs(nose.y - last[1]))
    context.record(motion=motion)
    if motion > context.config.max_motion:
        return Fail("still.moved", f"the nose moved by {motion:.3f}")
    context["count"] += 1
    if context["count"] >= context.config.frames_required:
        return Success("still.ok", "held still")
    return Continue()
