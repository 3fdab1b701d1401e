"""The project's exception types.

Every error a user can cause derives from :class:`LivenessLabError`, so entry
points (CLI, REST API, Streamlit app) can turn it into a clear message instead
of a traceback. Input validation errors also derive from :class:`ValueError`
so library users can catch them the usual way.
"""

from __future__ import annotations


class LivenessLabError(Exception):
    """Base class of every error raised on purpose by liveness-lab."""


class FaceFormatError(LivenessLabError, ValueError):
    """A face detection does not follow the Rekognition ``FaceDetail`` shape."""


class SessionFormatError(LivenessLabError, ValueError):
    """A session document or dataset does not follow the session format.

    The message names the file, the session and the field that is wrong.
    """

    def __init__(self, message: str, *, path: str | None = None,
                 session_id: str | None = None, field: str | None = None):
        self.path = path
        self.session_id = session_id
        self.field = field
        where = []
        if path:
            where.append(f"file {path}")
        if session_id:
            where.append(f"session {session_id!r}")
        if field:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.detail = message


class ParamsError(LivenessLabError, ValueError):
    """Challenge params that do not follow their challenge type's params schema.

    ``field`` is the dotted path of the offending param (``"pose.eyes"``) and
    ``detail`` the message without it (``"must be an integer, got 'wide'"``).
    """

    def __init__(self, detail: str, *, field: str):
        super().__init__(f"params field {field!r} {detail}")
        self.field = field
        self.detail = detail


class ConfigError(LivenessLabError, ValueError):
    """An unknown profile, an unknown configuration key or a badly typed value."""


class UnknownChallengeType(LivenessLabError, KeyError):
    """A challenge type name that no registry knows.

    The message lists the names that are known.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; we want a sentence
        return str(self.args[0]) if self.args else ""


class ChallengeDefinitionError(LivenessLabError, ValueError):
    """A challenge type plugin is defined inconsistently (no first state, unknown next state...)."""


class AnalyzerError(LivenessLabError):
    """A face analyzer could not analyze an image."""


class InvalidImageError(AnalyzerError, ValueError):
    """The bytes given are not a decodable image of an accepted kind."""


class AnalyzerUnavailableError(AnalyzerError):
    """The analyzer cannot run here (missing model, credentials, service)."""


class ThrottlingError(AnalyzerError):
    """The remote analyzer kept throttling after all retries."""


class UnknownAnalyzer(LivenessLabError, KeyError):
    """An analyzer name that the registry does not know; lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidS3ObjectError(AnalyzerError, ValueError):
    """The remote analyzer could not read an S3 object (missing, other region, no access)."""


class AnalysisCacheError(LivenessLabError):
    """The analysis cache file cannot be opened, read or written (corrupt, not SQLite...)."""
