"""Per-frame tables behind the studio's charts: the face track and the verifier trace.

* :func:`face_track` - one row per frame from the faces themselves (nose, face
  box, yaw / pitch / roll, eyes and mouth, quality), whatever the challenge
  measured;
* :func:`trace_table` - the verifier's trace (one row per frame and state) with
  a time axis aligned on the face track's.

Times are seconds since the first frame (``t_s``); positions are pixels of the
challenge's ``imageWidth`` x ``imageHeight`` frame. No Streamlit here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..faces import FaceDetail

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FACE_TRACK_COLUMNS", "face_track", "trace_table", "attribute_probability",
           "as_faces", "state_summary"]

#: Columns of :func:`face_track`.
FACE_TRACK_COLUMNS = ("frame_index", "timestamp", "t_s", "n_faces", "nose_x", "nose_y",
                      "face_left", "face_top", "face_right", "face_bottom", "yaw", "pitch",
                      "roll", "eyes_open", "mouth_open", "smile", "left_pupil", "right_pupil",
                      "confidence", "brightness", "sharpness")


def as_faces(faces: Iterable[FaceDetail | Mapping[str, Any]] | None) -> tuple[FaceDetail, ...]:
    """FaceDetail objects from FaceDetail objects or Rekognition dicts (``None``: no face)."""
    out = []
    for f in faces or ():
        out.append(f if isinstance(f, FaceDetail) else FaceDetail.from_rekognition(f))
    return tuple(out)


def attribute_probability(attr: Any) -> float | None:
    """Probability (0..1) that a Rekognition boolean attribute is true.

    ``Value`` true with ``Confidence`` c gives c / 100; false gives 1 - c / 100; a
    missing confidence counts as 100.

    >>> from liveness_lab.faces import BoolAttribute
    >>> attribute_probability(BoolAttribute(False, 80.0))
    0.2
    """
    if attr is None:
        return None
    conf = 100.0 if attr.confidence is None else float(attr.confidence)
    p = conf / 100.0 if attr.value else 1.0 - conf / 100.0
    return round(min(max(p, 0.0), 1.0), 6)


def _pupil_position(face: FaceDetail, side: str) -> float | None:
    names = {"left": ("leftEyeLeft", "leftEyeRight", "leftPupil"),
             "right": ("rightEyeLeft", "rightEyeRight", "rightPupil")}[side]
    a, b, p = (face.landmark(n) for n in names)
    if a is None or b is None or p is None or b.x == a.x:
        return None
    return (p.x - a.x) / (b.x - a.x)


def face_track(frames: Iterable[tuple[int, Sequence[FaceDetail | Mapping[str, Any]] | None]],
               width: float, height: float, *, t0: int | None = None) -> "pd.DataFrame":
    """One row per frame, from the first face of each frame.

    Parameters
    ----------
    frames:
        ``(timestamp_ms, faces)`` pairs in replay order; ``faces`` FaceDetail
        objects or Rekognition dicts, ``None`` for a frame not analyzed (its
        row has ``n_faces`` missing).
    width, height:
        Frame size in pixels (the challenge's ``imageWidth`` / ``imageHeight``).
    t0:
        Timestamp of ``t_s = 0`` (default: the first frame's).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FACE_TRACK_COLUMNS`; ``eyes_open``, ``mouth_open`` and
        ``smile`` are probabilities 0..1 (:func:`attribute_probability`),
        ``left_pupil`` / ``right_pupil`` the pupil's position between the eye
        corners (0 = the image-left corner, 1 = the image-right one).
    """
    import pandas as pd

    rows = []
    for i, (ts, faces) in enumerate(frames):
        if t0 is None:
            t0 = int(ts)
        row: dict[str, Any] = {"frame_index": i, "timestamp": int(ts),
                               "t_s": (int(ts) - t0) / 1000.0}
        if faces is None:
            rows.append(row)
            continue
        fs = as_faces(faces)
        row["n_faces"] = len(fs)
        if fs:
            f = fs[0]
            if f.bounding_box is not None:
                left, top, w, h = f.bounding_box.to_pixels(width, height)
                row.update(face_left=left, face_top=top, face_right=left + w,
                           face_bottom=top + h)
            nose = f.landmark("nose")
            if nose is not None:
                row["nose_x"], row["nose_y"] = nose.x * width, nose.y * height
            if f.pose is not None:
                row.update(yaw=f.pose.yaw, pitch=f.pose.pitch, roll=f.pose.roll)
            row.update(eyes_open=attribute_probability(f.eyes_open),
                       mouth_open=attribute_probability(f.mouth_open),
                       smile=attribute_probability(f.smile),
                       left_pupil=_pupil_position(f, "left"),
                       right_pupil=_pupil_position(f, "right"), confidence=f.confidence)
            if f.quality is not None:
                row.update(brightness=f.quality.brightness, sharpness=f.quality.sharpness)
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(FACE_TRACK_COLUMNS))
    for c in FACE_TRACK_COLUMNS:
        if c not in ("frame_index", "timestamp"):
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def trace_table(records: Sequence[Mapping[str, Any]], *, t0: int | None = None
                ) -> "pd.DataFrame":
    """The verifier's trace rows as a DataFrame with ``t_s`` (seconds since ``t0``).

    ``t0`` defaults to the first row's timestamp; pass the face track's to align both.
    """
    import pandas as pd

    df = pd.DataFrame([dict(r) for r in records])
    if not len(df):
        return pd.DataFrame(columns=["frame_index", "timestamp", "t_s", "state", "result",
                                     "code", "message"])
    ts = pd.to_numeric(df["timestamp"], errors="coerce")
    start = int(ts.min()) if t0 is None else int(t0)
    df.insert(2, "t_s", (ts - start) / 1000.0)
    return df


def state_summary(trace: "pd.DataFrame") -> list[dict[str, Any]]:
    """The states a run went through, in order: name, first and last frame, last code.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"frame_index": [0, 1, 1], "state": ["face", "face", "area"],
    ...                    "result": ["continue", "next", "continue"],
    ...                    "code": ["face.no_face", "face.one_face", "area.outside"]})
    >>> [s["state"] for s in state_summary(df)]
    ['face', 'area']
    """
    out: list[dict[str, Any]] = []
    for row in trace.to_dict("records"):
        if not out or out[-1]["state"] != row.get("state"):
            out.append({"state": row.get("state"), "first_frame": row.get("frame_index"),
                        "last_frame": row.get("frame_index"), "frames": 0,
                        "result": row.get("result"), "code": row.get("code")})
        cur = out[-1]
        if cur["last_frame"] != row.get("frame_index") or cur["frames"] == 0:
            cur["frames"] += 1
        cur.update(last_frame=row.get("frame_index"), result=row.get("result"),
                   code=row.get("code"))
    return out
