"""Reading the dataset cache's columns back into sessions (see :mod:`.dataset_cache`).

:func:`decode_sessions` turns a record batch of the cache into
:class:`~liveness_lab.sessions.Session` objects: frames at once, faces in one loop with
their box, every other face field built on first read from the columns (:class:`_FaceRef`,
:class:`_FaceColumns`). Private to :mod:`liveness_lab.evaluation.dataset_cache`, which
re-exports :func:`decode_sessions`.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Sequence

from .._face_build import (_BB_SET, _EMPTY, _FACE_EXTRA, _FACE_LMS, _FACE_SET,
                          _LANDMARK_INDEX, _LM_SET, _trusted_bbox, _trusted_bool,
                          _trusted_landmark, _trusted_pose, _trusted_quality)
from ..faces import LANDMARK_TYPES, BoundingBox, FaceDetail, Landmark, _freeze
from ..sessions import _NO_EXTRA, Frame, Session

# presence bits of a face
_BB, _POSE, _QUALITY, _LMS_KEY = 1, 2, 4, 8


def _json_value(data: bytes) -> Any:
    import orjson
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _offsets(list_array: Any) -> list[int]:
    off = list_array.offsets.to_numpy()
    return (off - off[0]).tolist()


def _floats(struct: Any, name: str) -> list[Any]:
    return _array(struct, name).tolist()


def _array(struct: Any, name: str) -> Any:
    return struct.field(name).to_numpy(zero_copy_only=False)


class _FaceRef:
    """Where a cached face's fields are: row ``row`` of the face columns ``source``.

    The ``_packed`` part of a face built by :meth:`_FaceColumns.build_faces`: its
    landmarks, ``extra`` and other fields are built from the columns on first read.
    """

    __slots__ = ("source", "row")

    def landmark_point(self, type: str) -> tuple[float, float] | None:
        c, j = self.source, self.row
        a = c.lm_start[j]
        if a == c.lm_start[j + 1]:
            return None
        if c.lm_layout[j] == 0:  # the standard layout: LANDMARK_TYPES
            i = _LANDMARK_INDEX.get(type)
            if i is None:
                return None
        else:
            try:
                i = c.types[j].index(type)
            except ValueError:
                return None
        return c.xs.item(a + i), c.ys.item(a + i)

    def landmark(self, type: str) -> Any:
        point = self.landmark_point(type)
        if point is None:
            return None
        lm = _new(Landmark)  # _face_build._trusted_landmark, inline
        _LM_TYPE(lm, type), _LM_X(lm, point[0]), _LM_Y(lm, point[1])
        return lm

    def landmarks(self) -> tuple[Any, ...]:
        return self.source.landmarks(self.row)

    def landmark_xy(self) -> tuple[list[float], list[float]]:
        _, xs, ys = self.source.landmark_columns(self.row)
        return xs, ys

    def extra(self) -> Any:
        return self.source.extra_of(self.row)


_REF_SOURCE, _REF_ROW = _FaceRef.source.__set__, _FaceRef.row.__set__  # type: ignore[attr-defined]
_LM_TYPE, _LM_X, _LM_Y = _LM_SET
_new = object.__new__


class _FaceColumns:
    """The face columns of a block of faces.

    The columns every face needs (presence bits, the box, landmark offsets and layout)
    become Python lists at once; the others, landmark coordinates included (a NOSE replay reads one
    landmark in most frames), stay numpy arrays read element by element on first use.
    :meth:`field` builds one field of one face (see ``_face_build._lazy_face``).
    """

    def __init__(self, faces: Any) -> None:
        n = len(faces)
        self.raw = faces.field("raw").to_pylist() if faces.field("raw").null_count < n \
            else None
        for name in ("present", "bb_left", "bb_top", "bb_width", "bb_height", "lm_layout"):
            setattr(self, name, _floats(faces, name))
        for name in ("roll", "yaw", "pitch", "brightness", "sharpness", "eyes_open",
                     "eyes_open_conf", "mouth_open", "mouth_open_conf", "smile", "smile_conf",
                     "confidence"):
            setattr(self, name, _array(faces, name))
        types = faces.field("lm_types")
        self.types = types.to_pylist() if types.null_count < n else None
        lx, ly = faces.field("lm_x"), faces.field("lm_y")
        self.lm_start = _offsets(lx)
        self.xs = lx.flatten().to_numpy(zero_copy_only=False)
        self.ys = ly.flatten().to_numpy(zero_copy_only=False)
        extra = faces.field("extra")
        self.extra = extra.to_pylist() if extra.null_count < n else None

    def build_faces(self) -> list[Any]:
        """Every face of the block: its box built now, its other fields on first read."""
        raw, present, starts, extra = self.raw, self.present, self.lm_start, self.extra
        set_bb, set_has, set_ref = _FACE_SET[0], _FACE_SET[7], _FACE_SET[8]
        b0, b1, b2, b3 = _BB_SET
        new, face_cls, bbox_cls, ref_cls = _new, FaceDetail, BoundingBox, _FaceRef
        out = []
        for j, (p, left, top, width, height) in enumerate(zip(
                present, self.bb_left, self.bb_top, self.bb_width, self.bb_height)):
            if raw is not None and raw[j] is not None:
                out.append(FaceDetail.from_rekognition(_json_value(raw[j])))
                continue
            f = new(face_cls)
            ref = new(ref_cls)
            _REF_SOURCE(ref, self), _REF_ROW(ref, j)
            set_has(f, p & _LMS_KEY != 0), set_ref(f, ref)
            if p & _BB:
                b = new(bbox_cls)
                b0(b, left), b1(b, top), b2(b, width), b3(b, height)
                set_bb(f, b)
            else:
                set_bb(f, None)
            if starts[j] == starts[j + 1]:
                _FACE_LMS(f, ())
            if extra is None or extra[j] is None:
                _FACE_EXTRA(f, _EMPTY)
            out.append(f)
        return out

    def landmark_types(self, j: int) -> Sequence[str]:
        if self.lm_start[j] == self.lm_start[j + 1]:
            return ()
        return LANDMARK_TYPES if self.lm_layout[j] == 0 else tuple(self.types[j])

    def landmark_columns(self, j: int) -> tuple[Sequence[str], list[float], list[float]]:
        a, b = self.lm_start[j], self.lm_start[j + 1]
        return self.landmark_types(j), self.xs[a:b].tolist(), self.ys[a:b].tolist()

    def landmarks(self, j: int) -> tuple[Any, ...]:
        return tuple(map(_trusted_landmark, *self.landmark_columns(j)))

    def raw_extra(self, j: int) -> bytes | None:
        return self.extra[j] if self.extra is not None else None

    def extra_of(self, j: int) -> Any:
        raw = self.raw_extra(j)
        return _EMPTY if raw is None else _freeze(_json_value(raw))

    def field(self, name: str, j: int) -> Any:
        present = self.present[j]
        if name == "bounding_box":
            return _trusted_bbox(self.bb_left[j], self.bb_top[j], self.bb_width[j],
                                 self.bb_height[j]) if present & _BB else None
        if name == "pose":
            return _trusted_pose(_number(self.roll[j]), _number(self.yaw[j]),
                                 _number(self.pitch[j])) if present & _POSE else None
        if name == "quality":
            return _trusted_quality(_number(self.brightness[j]), _number(self.sharpness[j])) \
                if present & _QUALITY else None
        if name == "confidence":
            return _number(self.confidence[j])
        value = int(getattr(self, name)[j])  # eyes_open, mouth_open, smile
        return None if value < 0 else _trusted_bool(value == 1,
                                                   _number(getattr(self, name + "_conf")[j]))


def _number(v: Any) -> float | None:
    """A float column's element as a Python float; NaN stands for None (stored values are
    finite)."""
    v = float(v)
    return None if v != v else v


def decode_sessions(batch: Any, sources: Sequence[str | None]) -> list[Any]:
    """The :class:`~liveness_lab.sessions.Session` objects of a table or record batch.

    ``sources`` gives each session's file path (its ``source``, used to find frame images).
    """
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else None
    if batch is None:
        return []
    cols = {name: batch.column(name) for name in batch.schema.names}
    frames = cols["frames"]
    f_start = _offsets(frames)
    fs = frames.flatten()
    ts = fs.field("timestamp").to_numpy().tolist()
    images = fs.field("image").to_pylist()
    fextra = fs.field("extra").to_pylist()
    faces = fs.field("faces")
    has_faces = faces.is_valid().to_numpy(zero_copy_only=False).tolist()
    face_start = _offsets(faces)
    built = _FaceColumns(faces.flatten()).build_faces()
    all_frames = []
    new, frame_cls = _new, Frame  # Frame objects as sessions._new_frame makes them, inline
    for k, (timestamp, image, extra, faces_valid) in enumerate(zip(ts, images, fextra,
                                                                    has_faces)):
        fr = new(frame_cls)
        d = fr.__dict__
        d["timestamp"] = timestamp
        d["faces"] = tuple(built[face_start[k]:face_start[k + 1]]) if faces_valid else None
        d["image"] = image
        d["extra"] = MappingProxyType(_json_value(extra)) if extra is not None else _NO_EXTRA
        all_frames.append(fr)
    text = {k: cols[k].to_pylist() for k in ("id", "challenge_type", "label", "pai_species",
                                             "subject_id", "split", "params", "metadata",
                                             "extra")}
    out = []
    for i in range(batch.num_rows):
        extra = text["extra"][i]
        s = object.__new__(Session)
        s.__dict__.update(
            id=text["id"][i], challenge_type=text["challenge_type"][i],
            params=_json_value(text["params"][i]),
            frames=tuple(all_frames[f_start[i]:f_start[i + 1]]), label=text["label"][i],
            pai_species=text["pai_species"][i], subject_id=text["subject_id"][i],
            split=text["split"][i], metadata=_json_value(text["metadata"][i]),
            extra=_json_value(extra) if extra is not None else {}, source=sources[i])
        out.append(s)
    return out
