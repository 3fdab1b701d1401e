"""Face detections in the shape of Amazon Rekognition ``FaceDetail``.

Every producer of faces (Rekognition, the local analyzer, the simulators) and
every consumer (challenge types, the app, the evaluation) speaks these types.
They are immutable and validated on construction, and convert losslessly
from and to Rekognition JSON::

    face = FaceDetail.from_rekognition(response["FaceDetails"][0])
    assert face.to_rekognition() == response["FaceDetails"][0]

Coordinates are ratios of the image width / height (0..1, slightly beyond at
the borders), angles are degrees, scores are 0..100, as in Rekognition.
Optional fields that a producer cannot estimate are ``None``; fields this
module does not model (``Emotions``, ``AgeRange``, ``EyeDirection``...) are
kept unchanged in :attr:`FaceDetail.extra`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from .errors import FaceFormatError

__all__ = [
    "LandmarkType",
    "LANDMARK_TYPES",
    "BoundingBox",
    "Landmark",
    "Pose",
    "Quality",
    "BoolAttribute",
    "FaceDetail",
    "LIVENESS_LAB_KEY",
    "with_extension",
    "faces_from_rekognition",
    "faces_to_rekognition",
]


class LandmarkType(str, Enum):
    """The 30 landmark types of Rekognition ``DetectFaces``.

    Left / right are the *subject's* left and right as Rekognition names them
    (``eyeLeft`` appears on the left of the image for a frontal face).
    """

    eyeLeft = "eyeLeft"
    eyeRight = "eyeRight"
    mouthLeft = "mouthLeft"
    mouthRight = "mouthRight"
    nose = "nose"
    leftEyeBrowLeft = "leftEyeBrowLeft"
    leftEyeBrowRight = "leftEyeBrowRight"
    leftEyeBrowUp = "leftEyeBrowUp"
    rightEyeBrowLeft = "rightEyeBrowLeft"
    rightEyeBrowRight = "rightEyeBrowRight"
    rightEyeBrowUp = "rightEyeBrowUp"
    leftEyeLeft = "leftEyeLeft"
    leftEyeRight = "leftEyeRight"
    leftEyeUp = "leftEyeUp"
    leftEyeDown = "leftEyeDown"
    rightEyeLeft = "rightEyeLeft"
    rightEyeRight = "rightEyeRight"
    rightEyeUp = "rightEyeUp"
    rightEyeDown = "rightEyeDown"
    noseLeft = "noseLeft"
    noseRight = "noseRight"
    mouthUp = "mouthUp"
    mouthDown = "mouthDown"
    leftPupil = "leftPupil"
    rightPupil = "rightPupil"
    upperJawlineLeft = "upperJawlineLeft"
    midJawlineLeft = "midJawlineLeft"
    chinBottom = "chinBottom"
    midJawlineRight = "midJawlineRight"
    upperJawlineRight = "upperJawlineRight"

    def __str__(self) -> str:
        return self.value


LANDMARK_TYPES: tuple[str, ...] = tuple(t.value for t in LandmarkType)


def _number(value: Any, what: str) -> float:
    """Validate a finite real number; return it unchanged (int stays int, for lossless JSON)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaceFormatError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise FaceFormatError(f"{what} must be finite, got {value!r}")
    return value


def _mapping(d: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise FaceFormatError(f"{what} must be a JSON object, got {type(d).__name__}")
    return d


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def _freeze(value: Any) -> Any:
    """A deep, read-only copy of a JSON value (dicts become mapping proxies, lists tuples)."""
    t = type(value)
    if t in _SCALAR_TYPES:
        return value
    if t is list or t is tuple:
        if _SCALAR_TYPES.issuperset(map(type, value)):  # e.g. a 128-float descriptor
            return tuple(value)
        return tuple(map(_freeze, value))
    if t is dict or isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(map(_freeze, value))
    return value


def _thaw(value: Any) -> Any:
    """The JSON value back from :func:`_freeze`."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A face box, as ratios of the image width (left, width) and height (top, height)."""

    left: float
    top: float
    width: float
    height: float

    def __post_init__(self) -> None:
        for name in ("left", "top", "width", "height"):
            _number(getattr(self, name), f"BoundingBox.{name.capitalize()}")
        if self.width < 0 or self.height < 0:
            raise FaceFormatError(
                f"BoundingBox Width and Height must be >= 0, got {self.width!r} x {self.height!r}")

    @classmethod
    def from_rekognition(cls, d: Mapping[str, Any]) -> "BoundingBox":
        d = _mapping(d, "BoundingBox")
        try:
            return cls(d["Left"], d["Top"], d["Width"], d["Height"])
        except KeyError as e:
            raise FaceFormatError(f"BoundingBox is missing {e.args[0]!r}") from None

    def to_rekognition(self) -> dict[str, float]:
        return {"Width": self.width, "Height": self.height, "Left": self.left, "Top": self.top}

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def to_pixels(self, image_width: int, image_height: int) -> tuple[float, float, float, float]:
        """``(left, top, width, height)`` in pixels of an ``image_width`` x ``image_height`` image."""
        return (self.left * image_width, self.top * image_height,
                self.width * image_width, self.height * image_height)


@dataclass(frozen=True, slots=True)
class Landmark:
    """One landmark: its Rekognition type name and position as image ratios."""

    type: str
    x: float
    y: float

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise FaceFormatError(f"Landmark Type must be a non-empty string, got {self.type!r}")
        _number(self.x, f"Landmark {self.type} X")
        _number(self.y, f"Landmark {self.type} Y")

    @classmethod
    def from_rekognition(cls, d: Mapping[str, Any]) -> "Landmark":
        d = _mapping(d, "Landmark")
        try:
            return cls(d["Type"], d["X"], d["Y"])
        except KeyError as e:
            raise FaceFormatError(f"Landmark is missing {e.args[0]!r}") from None

    def to_rekognition(self) -> dict[str, Any]:
        return {"Type": self.type, "X": self.x, "Y": self.y}


    def to_pixels(self, image_width: int, image_height: int) -> tuple[float, float]:
        """``(x, y)`` in pixels of an ``image_width`` x ``image_height`` image."""
        return self.x * image_width, self.y * image_height


def _optional_numbers(cls, d: Mapping[str, Any], keys: Mapping[str, str], what: str):
    d = _mapping(d, what)
    values = {}
    for attr, key in keys.items():
        v = d.get(key)
        values[attr] = None if v is None else _number(v, f"{what}.{key}")
    return cls(**values)


@dataclass(frozen=True, slots=True)
class Pose:
    """Head pose in degrees with Rekognition's conventions; a missing angle is ``None``.

    Yaw is positive when the nose tip turns toward the image's **right** side
    (in an unmirrored camera image: the subject turning to their own left) -
    the convention the original NOSE rule relies on, where ``yaw > 5`` counts
    as "rotated toward" a target in the right half of the image. Pitch is
    positive when the face looks up; roll is positive for a clockwise in-plane
    rotation of the face in the image. See ``docs/analyzers.md``.
    """

    roll: float | None = None
    yaw: float | None = None
    pitch: float | None = None

    _KEYS = {"roll": "Roll", "yaw": "Yaw", "pitch": "Pitch"}

    @classmethod
    def from_rekognition(cls, d: Mapping[str, Any]) -> "Pose":
        return _optional_numbers(cls, d, cls._KEYS, "Pose")

    def to_rekognition(self) -> dict[str, float]:
        return {k: getattr(self, a) for a, k in self._KEYS.items() if getattr(self, a) is not None}


@dataclass(frozen=True, slots=True)
class Quality:
    """Image quality of the face, 0..100 each; a missing value is ``None``."""

    brightness: float | None = None
    sharpness: float | None = None

    @classmethod
    def from_rekognition(cls, d: Mapping[str, Any]) -> "Quality":
        return _optional_numbers(cls, d, {"brightness": "Brightness", "sharpness": "Sharpness"},
                                 "Quality")

    def to_rekognition(self) -> dict[str, float]:
        out = {}
        if self.brightness is not None:
            out["Brightness"] = self.brightness
        if self.sharpness is not None:
            out["Sharpness"] = self.sharpness
        return out


@dataclass(frozen=True, slots=True)
class BoolAttribute:
    """A boolean face attribute (``EyesOpen``, ``MouthOpen``, ``Smile``) with its confidence 0..100."""

    value: bool
    confidence: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.value, bool):
            raise FaceFormatError(f"attribute Value must be true or false, got {self.value!r}")
        if self.confidence is not None:
            _number(self.confidence, "attribute Confidence")

    @classmethod
    def from_rekognition(cls, d: Mapping[str, Any], what: str = "attribute") -> "BoolAttribute":
        d = _mapping(d, what)
        if "Value" not in d:
            raise FaceFormatError(f"{what} is missing 'Value'")
        try:
            return cls(d["Value"], d.get("Confidence"))
        except FaceFormatError as e:
            raise FaceFormatError(f"{what}: {e}") from None

    def to_rekognition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Value": self.value}
        if self.confidence is not None:
            out["Confidence"] = self.confidence
        return out


_ATTRS = (("eyes_open", "EyesOpen"), ("mouth_open", "MouthOpen"), ("smile", "Smile"))
_MODELED_KEYS = frozenset({"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence",
                           "EyesOpen", "MouthOpen", "Smile"})
# Rekognition's key order, used when writing JSON so our output reads like its output.
_KEY_ORDER = ("BoundingBox", "AgeRange", "Smile", "Eyeglasses", "Sunglasses", "Gender", "Beard",
              "Mustache", "EyesOpen", "MouthOpen", "Emotions", "Landmarks", "Pose", "Quality",
              "Confidence", "FaceOccluded", "EyeDirection")


#: fields a face of ``_face_build._lazy_face`` builds on first read
_COLUMN_FIELDS = frozenset({"bounding_box", "pose", "quality", "eyes_open", "mouth_open",
                            "smile", "confidence"})


@dataclass(frozen=True, slots=True)
class FaceDetail:
    """One detected face, as one element of Rekognition ``DetectFaces`` ``FaceDetails``.

    Every field but :attr:`landmarks` (which may be empty) is optional, because a
    producer may not estimate it. A challenge check that needs a missing field
    must fail with a reason, never pass.
    """

    bounding_box: BoundingBox | None = None
    landmarks: tuple[Landmark, ...] = ()
    pose: Pose | None = None
    quality: Quality | None = None
    eyes_open: BoolAttribute | None = None
    mouth_open: BoolAttribute | None = None
    smile: BoolAttribute | None = None
    confidence: float | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    _by_type: Mapping[str, Landmark] = field(default=None, init=False, repr=False,  # type: ignore
                                             compare=False)
    _has_landmarks: bool = field(default=True, init=False, repr=False, compare=False)
    #: packed landmarks / raw extra of a face read by a trusted reader (see _PackedParts)
    _packed: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.landmarks, tuple):
            object.__setattr__(self, "landmarks", tuple(self.landmarks))
        by_type: dict[str, Landmark] = {}
        for lm in self.landmarks:
            if not isinstance(lm, Landmark):
                raise FaceFormatError(f"landmarks must be Landmark objects, got {type(lm).__name__}")
            by_type.setdefault(lm.type, lm)
        object.__setattr__(self, "_by_type", by_type)
        if self.confidence is not None:
            _number(self.confidence, "Confidence")
        if not isinstance(self.extra, MappingProxyType):
            object.__setattr__(self, "extra", _freeze(dict(self.extra)))

    # -- conversion -------------------------------------------------------------------------
    @classmethod
    def from_rekognition(cls, d: Mapping[str, Any]) -> "FaceDetail":
        """Build from one element of a Rekognition ``FaceDetails`` list (a JSON object).

        Raises :class:`~liveness_lab.errors.FaceFormatError` naming the field that is wrong.
        """
        face = _face_from_json(d)
        if face is not None:
            return face
        d = _mapping(d, "FaceDetail")
        bb = d.get("BoundingBox")
        lms = d.get("Landmarks")
        if lms is not None and not isinstance(lms, list | tuple):
            raise FaceFormatError(f"Landmarks must be a list, got {type(lms).__name__}")
        pose = d.get("Pose")
        quality = d.get("Quality")
        attrs = {}
        for attr, key in _ATTRS:
            v = d.get(key)
            attrs[attr] = None if v is None else BoolAttribute.from_rekognition(v, key)
        face = cls(
            bounding_box=None if bb is None else BoundingBox.from_rekognition(bb),
            landmarks=() if lms is None else tuple(map(Landmark.from_rekognition, lms)),
            pose=None if pose is None else Pose.from_rekognition(pose),
            quality=None if quality is None else Quality.from_rekognition(quality),
            confidence=d.get("Confidence"),
            extra={k: v for k, v in d.items() if k not in _MODELED_KEYS},
            **attrs,
        )
        if lms is None:
            object.__setattr__(face, "_has_landmarks", False)
        return face

    def to_rekognition(self) -> dict[str, Any]:
        """The Rekognition JSON object; ``from_rekognition(x).to_rekognition() == x``."""
        out: dict[str, Any] = {}
        if self.bounding_box is not None:
            out["BoundingBox"] = self.bounding_box.to_rekognition()
        for attr, key in _ATTRS:
            v = getattr(self, attr)
            if v is not None:
                out[key] = v.to_rekognition()
        if self.landmarks or self._has_landmarks:
            out["Landmarks"] = [lm.to_rekognition() for lm in self.landmarks]
        if self.pose is not None:
            out["Pose"] = self.pose.to_rekognition()
        if self.quality is not None:
            out["Quality"] = self.quality.to_rekognition()
        if self.confidence is not None:
            out["Confidence"] = self.confidence
        for k, v in self.extra.items():
            out[k] = _thaw(v)
        order = {k: i for i, k in enumerate(_KEY_ORDER)}
        return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))

    # -- helpers --------------------------------------------------------------------------
    def landmark(self, type: str | LandmarkType) -> Landmark | None:
        """The first landmark of ``type``, or ``None`` when the producer did not give it."""
        packed = self._packed
        if packed is not None:
            return packed.landmark(str(type))
        return self._by_type.get(str(type))

    def landmark_point(self, type: str | LandmarkType) -> tuple[float, float] | None:
        """``(x, y)`` (image ratios) of :meth:`landmark`, or ``None``; for a face read from
        JSON or a dataset cache, from its packed coordinates (no :class:`Landmark` built)."""
        packed = self._packed
        if packed is not None:
            return packed.landmark_point(str(type))
        lm = self._by_type.get(str(type))
        return None if lm is None else (lm.x, lm.y)

    def landmark_xy(self) -> tuple[list[float], list[float]]:
        """The landmarks' X and Y (image ratios) as two new lists, in landmark order.

        For a face read from JSON or a dataset cache, from its packed coordinates without
        building :class:`Landmark` objects.
        """
        packed = self._packed
        if packed is not None:
            return packed.landmark_xy()
        lms = self.landmarks
        return [lm.x for lm in lms], [lm.y for lm in lms]

    def landmark_px(self, type: str | LandmarkType, image_width: int,
                    image_height: int) -> tuple[float, float] | None:
        """The landmark in pixels, or ``None`` when it is missing."""
        lm = self.landmark(type)
        return None if lm is None else lm.to_pixels(image_width, image_height)

    def __getattr__(self, name: str) -> Any:
        # Reached only for a slot left unset: the lazily built fields of a face made by
        # _trusted_face (landmarks, extra, _by_type) or _lazy_face (every field), built
        # here on first read and kept.
        if name == "landmarks":
            value: Any = self._packed.landmarks()
        elif name == "extra":
            value = self._packed.extra()
        elif name == "_by_type":
            value = {}
            for lm in self.landmarks:
                value.setdefault(lm.type, lm)
        elif name in _COLUMN_FIELDS and self._packed is not None \
                and self._packed.source is not None:
            value = self._packed.source.field(name, self._packed.row)
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        object.__setattr__(self, name, value)
        return value

    def replace(self, **changes: Any) -> "FaceDetail":
        """A copy with some fields changed (``face.replace(pose=Pose(0, 12, 0))``)."""
        values = {f: getattr(self, f) for f in ("bounding_box", "landmarks", "pose", "quality",
                                                 "eyes_open", "mouth_open", "smile", "confidence",
                                                 "extra")}
        values.update(changes)
        return FaceDetail(**values)

    def __deepcopy__(self, memo: dict) -> "FaceDetail":
        return self  # immutable

    def __reduce__(self):  # pickle through the JSON form (extra holds read-only mappings)
        return (FaceDetail.from_rekognition, (self.to_rekognition(),))


def faces_from_rekognition(items: Iterable[Mapping[str, Any]]) -> tuple[FaceDetail, ...]:
    """Convert a ``FaceDetails`` list; an error names the index of the bad face."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise FaceFormatError(f"faces must be a list of FaceDetail objects, got {type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(FaceDetail.from_rekognition(item))
        except FaceFormatError as e:
            raise FaceFormatError(f"face {i}: {e}") from None
    return tuple(out)


def faces_to_rekognition(faces: Iterable[FaceDetail]) -> list[dict[str, Any]]:
    """The ``FaceDetails`` JSON list of ``faces``."""
    return [f.to_rekognition() for f in faces]


#: Key of the liveness-lab extension object in a face's Rekognition JSON
#: (``"LivenessLab": {"Descriptor": [...], "Similarity": 99.1, "PadScore": 0.93}``).
LIVENESS_LAB_KEY = "LivenessLab"


def with_extension(face: FaceDetail, **values: Any) -> FaceDetail:
    """A copy of ``face`` whose ``LivenessLab`` extension object also holds ``values``."""
    extra = dict(face.extra)
    current = extra.get(LIVENESS_LAB_KEY)
    ext = dict(current) if isinstance(current, Mapping) else {}
    ext.update(values)
    extra[LIVENESS_LAB_KEY] = ext
    return face.replace(extra=extra)


# the fast readers need the classes above; FaceDetail.from_rekognition calls _face_from_json
from ._face_build import _face_from_json  # noqa: E402
