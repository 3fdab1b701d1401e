"""Fast construction of faces, for readers that have validated their input.

Datasets hold millions of landmarks. Readers that have validated their input (the JSON
fast path below, used by :meth:`FaceDetail.from_rekognition`; the columnar dataset cache)
build faces with these helpers: no re-validation, and the landmarks and ``extra`` fields
stay packed until first read (a NOSE replay reads one landmark per frame and all of them
in two frames per session). Private to the package.
"""

from __future__ import annotations

import math
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Mapping

from .faces import (_MODELED_KEYS, LANDMARK_TYPES, BoolAttribute, BoundingBox, FaceDetail,
                    Landmark, Pose, Quality, _freeze)

_new = object.__new__


def _setters(cls: type, *names: str) -> tuple[Any, ...]:
    return tuple(cls.__dict__[n].__set__ for n in names)


_BB_SET = _setters(BoundingBox, "left", "top", "width", "height")
_LM_SET = _setters(Landmark, "type", "x", "y")
_POSE_SET = _setters(Pose, "roll", "yaw", "pitch")
_Q_SET = _setters(Quality, "brightness", "sharpness")
_BA_SET = _setters(BoolAttribute, "value", "confidence")
_FACE_SET = _setters(FaceDetail, "bounding_box", "pose", "quality", "eyes_open", "mouth_open",
                     "smile", "confidence", "_has_landmarks", "_packed")
_FACE_LMS, _FACE_EXTRA, _FACE_BY_TYPE = _setters(FaceDetail, "landmarks", "extra", "_by_type")
_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: position of each type in :data:`~liveness_lab.faces.LANDMARK_TYPES` (first occurrence)
_LANDMARK_INDEX = {t: i for i, t in reversed(list(enumerate(LANDMARK_TYPES)))}


def _trusted_bbox(left: float, top: float, width: float, height: float) -> BoundingBox:
    b = _new(BoundingBox)
    s0, s1, s2, s3 = _BB_SET
    s0(b, left), s1(b, top), s2(b, width), s3(b, height)
    return b


def _trusted_landmark(type: str, x: float, y: float) -> Landmark:
    lm = _new(Landmark)
    s0, s1, s2 = _LM_SET
    s0(lm, type), s1(lm, x), s2(lm, y)
    return lm


def _trusted_pose(roll: float | None, yaw: float | None, pitch: float | None) -> Pose:
    p = _new(Pose)
    s0, s1, s2 = _POSE_SET
    s0(p, roll), s1(p, yaw), s2(p, pitch)
    return p


def _trusted_quality(brightness: float | None, sharpness: float | None) -> Quality:
    q = _new(Quality)
    _Q_SET[0](q, brightness), _Q_SET[1](q, sharpness)
    return q


def _trusted_bool(value: bool, confidence: float | None) -> BoolAttribute:
    a = _new(BoolAttribute)
    _BA_SET[0](a, value), _BA_SET[1](a, confidence)
    return a


class _PackedParts:
    """A face's landmarks (types + coordinates ``xs[start:stop]``) and raw ``extra``.

    ``types`` may be shared between faces; ``xs`` / ``ys`` may be lists of a whole block of
    faces. ``raw_extra`` is a dict of JSON values, UTF-8 JSON bytes, or ``None``. For a face
    of :func:`_lazy_face`, ``source.field(name, row)`` builds its other fields.
    """

    __slots__ = ("types", "xs", "ys", "start", "raw_extra", "source", "row")

    def __init__(self, types: Any, xs: Any, ys: Any, start: int, raw_extra: Any,
                 source: Any = None, row: int = 0) -> None:
        self.types, self.xs, self.ys, self.start, self.raw_extra = types, xs, ys, start, raw_extra
        self.source, self.row = source, row

    def landmarks(self) -> tuple[Landmark, ...]:
        a, b = self.start, self.start + len(self.types)
        return tuple(map(_trusted_landmark, self.types, self.xs[a:b], self.ys[a:b]))

    def landmark_xy(self) -> tuple[list[float], list[float]]:
        a, b = self.start, self.start + len(self.types)
        return list(self.xs[a:b]), list(self.ys[a:b])

    def landmark_point(self, type: str) -> tuple[float, float] | None:
        types = self.types
        if types is LANDMARK_TYPES:
            i = _LANDMARK_INDEX.get(type)
            if i is None:
                return None
        else:
            try:
                i = types.index(type)
            except ValueError:
                return None
        i += self.start
        return self.xs[i], self.ys[i]

    def landmark(self, type: str) -> Landmark | None:
        point = self.landmark_point(type)
        return None if point is None else _trusted_landmark(type, point[0], point[1])

    def extra(self) -> Mapping[str, Any]:
        raw = self.raw_extra
        if raw is None:
            return _EMPTY
        if isinstance(raw, (bytes, bytearray, memoryview)):
            import orjson
            raw = orjson.loads(raw)
        return _freeze(raw)


def _trusted_face(bounding_box: BoundingBox | None, pose: Pose | None, quality: Quality | None,
                  eyes_open: BoolAttribute | None, mouth_open: BoolAttribute | None,
                  smile: BoolAttribute | None, confidence: float | None,
                  packed: _PackedParts | None, has_landmarks: bool = True) -> FaceDetail:
    """A face from already-validated values; ``packed`` holds landmarks and extra (lazy).

    With ``packed=None`` the face has no landmarks and no extra fields.
    """
    f = _new(FaceDetail)
    s = _FACE_SET
    s[0](f, bounding_box), s[1](f, pose), s[2](f, quality), s[3](f, eyes_open)
    s[4](f, mouth_open), s[5](f, smile), s[6](f, confidence), s[7](f, has_landmarks)
    if packed is None:
        s[8](f, None)
        _FACE_LMS(f, ()), _FACE_EXTRA(f, _EMPTY), _FACE_BY_TYPE(f, {})
    else:
        s[8](f, packed)
        if not packed.types:
            _FACE_LMS(f, ())
        if packed.raw_extra is None:
            _FACE_EXTRA(f, _EMPTY)
    return f


_UNSET: Any = object()


def _lazy_face(packed: _PackedParts, has_landmarks: bool = True,
               bounding_box: BoundingBox | None = _UNSET) -> FaceDetail:
    """A face whose fields are all built on first read, from ``packed`` and its ``source``.

    For readers of validated columnar data (the dataset cache): a replay reads a few fields
    of each face (NOSE: the pose once), so the rest is never built. ``bounding_box``, when
    given, is set now: the states read it on almost every frame, and a field built on
    first read costs a failed slot lookup more.
    """
    f = _new(FaceDetail)
    _FACE_SET[7](f, has_landmarks), _FACE_SET[8](f, packed)
    if bounding_box is not _UNSET:
        _FACE_SET[0](f, bounding_box)
    if not packed.types:
        _FACE_LMS(f, ())
    if packed.raw_extra is None:
        _FACE_EXTRA(f, _EMPTY)
    return f


_isfinite = math.isfinite
_get_type, _get_x, _get_y = itemgetter("Type"), itemgetter("X"), itemgetter("Y")
_FLOAT, _DICT, _STR = frozenset({float}), frozenset({dict}), frozenset({str})


_NUMBER_OR_NONE = frozenset({float, int, type(None)})
_NO_DICT: Mapping[str, Any] = {}


def _face_from_json(d: Any) -> FaceDetail | None:
    """:meth:`FaceDetail.from_rekognition` for plainly valid JSON, else ``None``.

    Checks what the full path checks (finite non-bool numbers, a complete box of
    non-negative size, boolean attribute values, non-empty landmark types) in bulk, and
    returns ``None`` (so the full, message-producing path runs) on anything unusual.
    """
    if type(d) is not dict:
        return None
    get = d.get
    bb, pose, quality = get("BoundingBox"), get("Pose"), get("Quality")
    eyes, mouth, smile = get("EyesOpen"), get("MouthOpen"), get("Smile")
    for part in (bb, pose, quality, eyes, mouth, smile):
        if part is not None and type(part) is not dict:
            return None
    bg = (bb or _NO_DICT).get
    pg = (pose or _NO_DICT).get
    qg = (quality or _NO_DICT).get
    eg, mg, sg = (eyes or _NO_DICT).get, (mouth or _NO_DICT).get, (smile or _NO_DICT).get
    box = (bg("Left"), bg("Top"), bg("Width"), bg("Height"))
    angles = (pg("Roll"), pg("Yaw"), pg("Pitch"))
    qual = (qg("Brightness"), qg("Sharpness"))
    values = (eg("Value"), mg("Value"), sg("Value"))
    confs = (eg("Confidence"), mg("Confidence"), sg("Confidence"), get("Confidence"))
    numbers = box + angles + qual + confs
    if (not _NUMBER_OR_NONE.issuperset(map(type, numbers))
            or not _isfinite(sum(filter(None, numbers)))):
        return None
    if bb is not None:
        if None in box or box[2] < 0 or box[3] < 0:
            return None
        bb = _trusted_bbox(*box)
    attrs = []
    for part, value, conf in zip((eyes, mouth, smile), values, confs):
        if part is None:
            attrs.append(None)
        elif type(value) is bool:
            attrs.append(_trusted_bool(value, conf))
        else:
            return None
    lms = get("Landmarks")
    if lms is None or (type(lms) is list and not lms):
        types: Any = ()
        xs = ys = ()
    else:
        if type(lms) is not list or not _DICT.issuperset(map(type, lms)):
            return None
        try:
            types, xs, ys = (list(map(_get_type, lms)), list(map(_get_x, lms)),
                             list(map(_get_y, lms)))
        except KeyError:
            return None
        if (not _STR.issuperset(map(type, types)) or "" in types
                or not _FLOAT.issuperset(map(type, xs)) or not _FLOAT.issuperset(map(type, ys))
                or not _isfinite(sum(xs) + sum(ys))):
            return None
    extra = None if _MODELED_KEYS.issuperset(d) else \
        {k: v for k, v in d.items() if k not in _MODELED_KEYS}
    packed = None if not types and extra is None else _PackedParts(types, xs, ys, 0, extra)
    return _trusted_face(bb, None if pose is None else _trusted_pose(*angles),
                         None if quality is None else _trusted_quality(*qual),
                         attrs[0], attrs[1], attrs[2], confs[3], packed, lms is not None)
