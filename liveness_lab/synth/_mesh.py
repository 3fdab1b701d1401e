"""An approximate 3D head turn of a face photo (a 2.5D mesh warp).

A triangle mesh is built over the 68 dlib landmarks plus a forehead arc, a
head silhouette ring, a fixed background ring and the frame border. Face
vertices get a depth from a generic face depth model (nose tip in front,
eyes recessed, cheeks and jaw behind); they are rotated about a pivot behind
the face (near the ears) and re-projected with a pinhole camera. The
silhouette ring follows only the head's translation and roll (a round head
keeps its outline when it turns), the background ring and the border stay
put. Each pixel is then pulled from the photo through the affine map of the
front-most triangle covering it (one dense :func:`cv2.remap`).

Yaw convention: positive yaw moves the nose tip toward the image's right
(+x), positive pitch moves it up, positive roll is clockwise on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._camera import Camera, _finite, _positive, rotation_matrix

__all__ = ["HeadPose", "FacePlacement", "HeadRig", "NOSE_TIP", "landmark_depths",
           "MAX_YAW_DEG", "MAX_PITCH_DEG", "MAX_ROLL_DEG"]

#: index of the nose tip among the 68 dlib landmarks
NOSE_TIP = 30
MAX_YAW_DEG = 35.0
MAX_PITCH_DEG = 25.0
MAX_ROLL_DEG = 30.0

# Generic face depth: offset toward the camera from the nose tip, in units of the
# face width (distance between landmarks 0 and 16). Values follow the usual
# proportions of an adult head: the nose tip protrudes most, the eyes sit about
# 0.22 behind it, the jaw angles and the face outline near the ears about 0.5.
_JAW = [-0.50, -0.47, -0.42, -0.36, -0.29, -0.22, -0.16, -0.12, -0.10,
        -0.12, -0.16, -0.22, -0.29, -0.36, -0.42, -0.47, -0.50]
_BROWS = [-0.33, -0.25, -0.20, -0.18, -0.18, -0.18, -0.18, -0.20, -0.25, -0.33]
_NOSE = [-0.19, -0.13, -0.07, 0.0, -0.14, -0.10, -0.08, -0.10, -0.14]
_EYE = [-0.30, -0.23, -0.22, -0.24, -0.24, -0.25]  # outer corner, upper lid x2, inner, lower x2
_MOUTH_OUTER = [-0.23, -0.17, -0.13, -0.12, -0.13, -0.17, -0.23, -0.18, -0.14, -0.13, -0.14,
                -0.18]
_MOUTH_INNER = [-0.21, -0.15, -0.14, -0.15, -0.21, -0.16, -0.15, -0.16]
_EYE_RIGHT = [_EYE[3], _EYE[2], _EYE[1], _EYE[0], _EYE[5], _EYE[4]]  # mirrored order 42..47
_LANDMARK_DEPTH = np.array(_JAW + _BROWS + _NOSE + _EYE + _EYE_RIGHT + _MOUTH_OUTER
                           + _MOUTH_INNER, dtype=np.float64)
# forehead arc: from above landmark 0 over the brows to above landmark 16
_FOREHEAD_DEPTH = np.array([-0.45, -0.33, -0.24, -0.19, -0.24, -0.33, -0.45])
_PIVOT_DEPTH = -0.62       # rotation centre, behind the nose tip (near the ear line)
_SILHOUETTE_POINTS = 20
_BACKGROUND_POINTS = 16


def landmark_depths() -> np.ndarray:
    """The generic depth of the 68 landmarks (toward the camera, in face widths, nose tip 0)."""
    out = _LANDMARK_DEPTH.copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class HeadPose:
    """A head pose relative to the photo's own pose, plus a shift.

    Angles in degrees: positive ``yaw`` moves the nose toward the image's right,
    positive ``pitch`` moves it up (looking up), positive ``roll`` is clockwise
    on screen. ``shift_x`` / ``shift_y`` move the head parallel to the image
    plane, in frame pixels at the depth of the nose tip.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def __post_init__(self) -> None:
        for name, limit in (("yaw", MAX_YAW_DEG), ("pitch", MAX_PITCH_DEG),
                            ("roll", MAX_ROLL_DEG)):
            v = getattr(self, name)
            _finite(v, f"HeadPose.{name}")
            if abs(v) > limit:
                raise ValueError(f"HeadPose.{name} must be within +/-{limit:g} degrees "
                                 f"(a 2.5D warp breaks beyond), got {v!r}")
        _finite(self.shift_x, "HeadPose.shift_x")
        _finite(self.shift_y, "HeadPose.shift_y")

    def lerp(self, other: "HeadPose", s: float) -> "HeadPose":
        """The pose a fraction ``s`` (0..1) of the way from this one to ``other``."""
        return HeadPose(*(a + (b - a) * s for a, b in
                          zip((self.yaw, self.pitch, self.roll, self.shift_x, self.shift_y),
                              (other.yaw, other.pitch, other.roll, other.shift_x,
                               other.shift_y))))


@dataclass(frozen=True)
class FacePlacement:
    """Where the neutral face sits in the frame.

    The photo is scaled (no rotation) so that its face width (landmarks 0 to 16)
    is ``face_width`` frame pixels and the centre of its landmark box lands at
    (``x``, ``y``).
    """

    x: float
    y: float
    face_width: float

    def __post_init__(self) -> None:
        _finite(self.x, "FacePlacement.x")
        _finite(self.y, "FacePlacement.y")
        _positive(self.face_width, "FacePlacement.face_width")

    def similarity(self, landmarks: np.ndarray) -> tuple[float, np.ndarray]:
        """``(scale, offset)`` so that ``frame = scale * photo + offset``."""
        width = float(np.linalg.norm(landmarks[16] - landmarks[0]))
        if width <= 1:
            raise ValueError("the landmarks give a face width of less than one pixel")
        scale = self.face_width / width
        lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
        centre = (lo + hi) / 2
        return scale, np.array([self.x, self.y]) - scale * centre


def _ellipse(centre: np.ndarray, ax: float, ay: float, n: int, phase: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False) + phase
    return np.column_stack([centre[0] + ax * np.cos(t), centre[1] + ay * np.sin(t)])


def _affines(src_tri: np.ndarray, dst_tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the 2 x 3 affine map from ``dst`` to ``src`` coordinates, and validity."""
    m = np.concatenate([dst_tri, np.ones(dst_tri.shape[:2] + (1,))], axis=2)  # (T, 3, 3)
    det = np.linalg.det(m)
    ok = np.abs(det) > 1e-6
    m[~ok] = np.eye(3)
    coef = np.linalg.solve(m, src_tri)  # (T, 3, 2): [x y 1] @ coef = src
    return np.transpose(coef, (0, 2, 1)), ok


class HeadRig:
    """A face photo rigged for head turns in a frame of a given camera.

    Build once per (photo, camera, placement); :meth:`render` then draws any
    :class:`HeadPose` in a few milliseconds.

    Parameters
    ----------
    photo:
        RGB ``uint8`` image ``(H, W, 3)``.
    landmarks:
        Its 68 dlib landmarks, ``(68, 2)`` pixels.
    camera:
        The frame size and focal length.
    placement:
        Where the neutral face sits in the frame.
    """

    def __init__(self, photo: np.ndarray, landmarks: np.ndarray, camera: Camera,
                 placement: FacePlacement) -> None:
        from scipy.spatial import Delaunay

        lms = np.asarray(landmarks, dtype=np.float64)
        if lms.shape != (68, 2):
            raise ValueError(f"landmarks must have shape (68, 2), got {lms.shape}")
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise ValueError(f"photo must be an RGB uint8 array (H, W, 3), got {photo.dtype} "
                             f"{photo.shape}")
        self.photo = np.ascontiguousarray(photo)
        self.camera = camera
        self.placement = placement
        scale, offset = placement.similarity(lms)
        self._scale, self._offset = scale, offset
        face = lms * scale + offset                      # neutral frame coordinates
        width = float(np.linalg.norm(face[16] - face[0]))
        up = face[27] - face[8]
        height = float(np.linalg.norm(up))
        up /= height
        brow_mid = (face[21] + face[22]) / 2
        forehead = np.array([face[0] + 0.25 * height * up, face[17] + 0.38 * height * up,
                             face[19] + 0.48 * height * up, brow_mid + 0.52 * height * up,
                             face[24] + 0.48 * height * up, face[26] + 0.38 * height * up,
                             face[16] + 0.25 * height * up])
        contour = np.vstack([face[:17], forehead])
        centre = (contour.min(axis=0) + contour.max(axis=0)) / 2
        half = (contour.max(axis=0) - contour.min(axis=0)) / 2
        silhouette = _ellipse(centre, 1.32 * half[0], 1.2 * half[1], _SILHOUETTE_POINTS)
        ring = _ellipse(centre, 2.3 * half[0], 1.9 * half[1], _BACKGROUND_POINTS, 0.1)
        w, h = camera.width, camera.height
        inside = ((ring[:, 0] > 4) & (ring[:, 0] < w - 4) & (ring[:, 1] > 4) & (ring[:, 1] < h - 4))
        border = [(x, y) for x in np.linspace(-1, w, 5) for y in (-1, h)]
        border += [(x, y) for y in np.linspace(-1, h, 5)[1:-1] for x in (-1, w)]
        fixed = np.vstack([ring[inside], np.array(border)])

        self.n_face = 68 + len(forehead)
        self.n_silhouette = len(silhouette)
        self.neutral = np.vstack([face, forehead, silhouette, fixed])
        self.depth_px = np.concatenate([_LANDMARK_DEPTH, _FOREHEAD_DEPTH]) * width
        self.face_width = width
        #: distance from the nose tip back to the rotation pivot, in frame pixels
        self.pivot_depth_px = -_PIVOT_DEPTH * width
        self.pivot_2d = np.array([(face[0, 0] + face[16, 0]) / 2, face[NOSE_TIP, 1]])
        self.triangles = Delaunay(self.neutral).simplices.astype(np.int64)
        self._source = (self.neutral - offset) / scale   # photo coordinates of every vertex
        # 3D of the face vertices in the neutral pose (camera axes, nose tip at depth f)
        f = camera.focal_px
        z = f - self.depth_px
        c = np.array([camera.cx, camera.cy])
        self._face3d = np.column_stack([(self.neutral[:self.n_face] - c) * (z / f)[:, None], z])
        zp = f - _PIVOT_DEPTH * width
        self._pivot3d = np.array([*((self.pivot_2d - c) * (zp / f)), zp])
        gy, gx = np.mgrid[0:h, 0:w]
        self._gx = gx.astype(np.float32)
        self._gy = gy.astype(np.float32)
        orient = self._orientation(self.neutral)
        self._front = np.sign(orient)

    # -- geometry ---------------------------------------------------------------------------
    def _orientation(self, pts: np.ndarray) -> np.ndarray:
        a, b, c = (pts[self.triangles[:, i]] for i in range(3))
        return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])

    def project(self, pose: HeadPose) -> tuple[np.ndarray, np.ndarray]:
        """Frame positions ``(N, 2)`` of every mesh vertex for ``pose``, and their depth ``(N,)``.

        The first 68 vertices are the landmarks (``[NOSE_TIP]`` is the nose tip).
        Fixed vertices get an infinite depth.
        """
        cam = self.camera
        f = cam.focal_px
        c = np.array([cam.cx, cam.cy])
        r = rotation_matrix(pose.yaw, pose.pitch, pose.roll)
        shift = np.array([pose.shift_x, pose.shift_y, 0.0])
        p = (self._face3d - self._pivot3d) @ r.T + self._pivot3d + shift
        face2d = p[:, :2] * (f / p[:, 2:3]) + c
        # silhouette: the pivot's own shift, plus roll in the image plane
        piv = self._pivot3d + shift
        piv2d = piv[:2] * (f / piv[2]) + c
        cr, sr = math.cos(math.radians(pose.roll)), math.sin(math.radians(pose.roll))
        rel = self.neutral[self.n_face:self.n_face + self.n_silhouette] - self.pivot_2d
        sil = rel @ np.array([[cr, sr], [-sr, cr]]) + piv2d
        fixed = self.neutral[self.n_face + self.n_silhouette:]
        pts = np.vstack([face2d, sil, fixed])
        depth = np.concatenate([p[:, 2], np.full(self.n_silhouette, piv[2]),
                                np.full(len(fixed), np.inf)])
        return pts, depth

    def nose_tip(self, pose: HeadPose) -> np.ndarray:
        """Frame position (x, y) of the nose tip (landmark 30) for ``pose``."""
        return self.project(pose)[0][NOSE_TIP]

    def landmarks(self, pose: HeadPose) -> np.ndarray:
        """Frame positions ``(68, 2)`` of the 68 landmarks for ``pose``."""
        return self.project(pose)[0][:68]

    # -- rendering --------------------------------------------------------------------------
    def maps(self, pose: HeadPose) -> tuple[np.ndarray, np.ndarray]:
        """``(map_x, map_y)`` float32 frame-sized maps into the photo, for :func:`cv2.remap`."""
        import cv2

        dst, depth = self.project(pose)
        tri = self.triangles
        coef, ok = _affines(self._source[tri], dst[tri])
        orient = self._orientation(dst)
        visible = ok & (np.sign(orient) == self._front)
        tri_depth = depth[tri].mean(axis=1)                     # inf when touching the border
        order = np.argsort(-tri_depth, kind="stable")          # far first, near drawn last
        order = order[visible[order]]
        w, h = self.camera.width, self.camera.height
        index = np.zeros((h, w), np.int32)
        pts16 = np.round(dst * 16).astype(np.int32)
        table = np.empty((len(order) + 1, 6), np.float32)
        # index 0: the neutral placement (only where rounding leaves a pixel uncovered)
        table[0] = [1 / self._scale, 0, -self._offset[0] / self._scale,
                    0, 1 / self._scale, -self._offset[1] / self._scale]
        table[1:] = coef[order].reshape(-1, 6)
        for k, t in enumerate(order, start=1):
            cv2.fillConvexPoly(index, pts16[tri[t]], k, lineType=cv2.LINE_8, shift=4)
        a = table[index]
        map_x = a[..., 0] * self._gx + a[..., 1] * self._gy + a[..., 2]
        map_y = a[..., 3] * self._gx + a[..., 4] * self._gy + a[..., 5]
        return map_x, map_y

    def render(self, pose: HeadPose) -> np.ndarray:
        """The frame (RGB ``uint8``, camera size) of the face turned to ``pose``."""
        import cv2

        map_x, map_y = self.maps(pose)
        return cv2.remap(self.photo, map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT_101)
