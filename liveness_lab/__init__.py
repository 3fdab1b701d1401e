"""liveness-lab: challenge-response face liveness detection for research and demos.

The public API::

    from liveness_lab import (FaceDetail, Session, read_session, verify_session,
                              resolve_configs, default_registry, ChallengeType)

    session = read_session("session.json")
    verdict = verify_session(session, configs=resolve_configs("seed"))
    verdict.success, verdict.reason, verdict.trace.to_dataframe()
"""

__version__ = "0.1.0"

from .challenges import (CHALLENGE_FAIL, CHALLENGE_SUCCESS, STATE_CONTINUE, STATE_NEXT,
                         ChallengeConfig, ChallengeType, Continue, Fail, Next, SecretsRandom,
                         SeededRandom, Success, default_registry, select_challenge_type)
from .config import Configs, Profile, get_profile, profile_names, register_profile, resolve_configs
from .errors import (ConfigError, FaceFormatError, LivenessLabError, SessionFormatError,
                     UnknownChallengeType)
from .faces import (LANDMARK_TYPES, BoolAttribute, BoundingBox, FaceDetail, Landmark, LandmarkType,
                    Pose, Quality)
from .sessions import (Frame, Session, iter_dataset, read_manifest, read_session, write_dataset,
                       write_session)
from .verify import Trace, Verdict, run_challenge, verify_session

__all__ = [
    "__version__",
    "FaceDetail", "BoundingBox", "Landmark", "LandmarkType", "LANDMARK_TYPES", "Pose", "Quality",
    "BoolAttribute",
    "ChallengeType", "ChallengeConfig", "Continue", "Next", "Success", "Fail", "STATE_CONTINUE",
    "STATE_NEXT", "CHALLENGE_SUCCESS", "CHALLENGE_FAIL", "SecretsRandom", "SeededRandom",
    "default_registry", "select_challenge_type",
    "Profile", "Configs", "resolve_configs", "get_profile", "profile_names", "register_profile",
    "Session", "Frame", "read_session", "write_session", "read_manifest", "iter_dataset",
    "write_dataset",
    "Verdict", "Trace", "verify_session", "run_challenge",
    "LivenessLabError", "SessionFormatError", "FaceFormatError", "ConfigError",
    "UnknownChallengeType",
]
