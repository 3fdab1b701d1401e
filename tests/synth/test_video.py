"""Y4M and MJPEG writers for Chromium's fake webcam."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from liveness_lab.synth.video import (CHROMIUM_MJPEG_FPS, read_y4m, write_mjpeg, write_y4m)


def make_frames(n: int = 4, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Smooth colour ramps that move a little per frame (chroma subsampling is near lossless)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for k in range(n):
        r = 40 + 170 * xx / width
        g = 30 + 180 * yy / height
        b = 120 + 60 * np.sin((xx + 3 * k) / 9.0)
        out.append(np.clip(np.dstack([r, g, b]) + 0.5, 0, 255).astype(np.uint8))
    return out


def bt601_limited_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Reference conversion, written out: upsample chroma by 2 and apply BT.601 (studio swing)."""
    u = np.repeat(np.repeat(u, 2, axis=0), 2, axis=1).astype(np.float64) - 128
    v = np.repeat(np.repeat(v, 2, axis=0), 2, axis=1).astype(np.float64) - 128
    c = 1.164 * (y.astype(np.float64) - 16)
    rgb = np.dstack([c + 1.596 * v, c - 0.392 * u - 0.813 * v, c + 2.017 * u])
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def test_y4m_layout_is_what_chromium_reads(tmp_path):
    frames = make_frames(5, 640, 480)
    path = write_y4m(tmp_path / "face.y4m", frames, 10)
    data = path.read_bytes()
    header = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
    assert data.startswith(header)
    plane_bytes = 640 * 480 * 3 // 2
    assert len(data) == len(header) + 5 * (6 + plane_bytes)
    for k in range(5):
        start = len(header) + k * (6 + plane_bytes)
        assert data[start:start + 6] == b"FRAME\n"
    # decode frame 3 by hand: Y plane, then U and V at quarter size
    start = len(header) + 3 * (6 + plane_bytes) + 6
    y = np.frombuffer(data, np.uint8, 640 * 480, start).reshape(480, 640)
    u = np.frombuffer(data, np.uint8, 320 * 240, start + 640 * 480).reshape(240, 320)
    v = np.frombuffer(data, np.uint8, 320 * 240, start + 640 * 480 + 320 * 240).reshape(240, 320)
    assert 16 <= y.min() and y.max() <= 235                        # limited range
    rgb = bt601_limited_to_rgb(y, u, v)
    diff = np.abs(rgb.astype(int) - frames[3].astype(int))
    assert diff.mean() < 2.0 and diff.max() <= 12


def test_read_y4m_round_trips(tmp_path):
    frames = make_frames(3)
    header, back = read_y4m(write_y4m(tmp_path / "a.y4m", frames, Fraction(30000, 1001)))
    assert header.width == 64 and header.height == 48
    assert header.fps == Fraction(30000, 1001) and header.colorspace == "420jpeg"
    assert len(back) == 3
    for src, got in zip(frames, back):
        assert got.shape == src.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - src.astype(int)).mean() < 2.0
    assert (tmp_path / "a.y4m").read_bytes().startswith(b"YUV4MPEG2 W64 H48 F30000:1001 ")


def test_read_y4m_accepts_frame_parameters_and_rejects_other_chroma(tmp_path):
    frames = make_frames(2, 8, 4)
    data = write_y4m(tmp_path / "b.y4m", frames, 5).read_bytes()
    (tmp_path / "c.y4m").write_bytes(data.replace(b"FRAME\n", b"FRAME Ixyz\n"))
    assert len(read_y4m(tmp_path / "c.y4m")[1]) == 2
    (tmp_path / "d.y4m").write_bytes(data.replace(b"C420jpeg", b"C444"))
    with pytest.raises(ValueError, match="4:2:0"):
        read_y4m(tmp_path / "d.y4m")
    (tmp_path / "e.y4m").write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated"):
        read_y4m(tmp_path / "e.y4m")


@pytest.mark.parametrize("frames, fps, message", [
    ([np.zeros((5, 8, 3), np.uint8)], 10, "even width and height"),
    ([np.zeros((4, 8, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)], 10, "differs"),
    ([np.zeros((4, 8), np.uint8)], 10, "RGB uint8"),
    ([], 10, "no frames"),
    ([np.zeros((4, 8, 3), np.uint8)], 0, "fps"),
])
def test_writers_reject_bad_input(tmp_path, frames, fps, message):
    with pytest.raises(ValueError, match=message):
        write_y4m(tmp_path / "x.y4m", frames, fps)
    assert list(tmp_path.iterdir()) == []                     # nothing left behind


@pytest.mark.parametrize("frames, kwargs, message", [
    ([np.zeros((4, 8, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)], {}, "differs"),
    ([], {}, "no frames"),
    ([np.zeros((4, 8, 3), np.uint8)], {"quality": 0}, "quality"),
    ([np.zeros((4, 8, 3), np.uint8)], {"playback_fps": -1}, "playback_fps"),
])
def test_mjpeg_writer_rejects_bad_input(tmp_path, frames, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_mjpeg(tmp_path / "x.mjpeg", frames, 10, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_mjpeg_repeats_frames_to_keep_the_session_pace(tmp_path):
    frames = make_frames(4, 64, 48)
    data = write_mjpeg(tmp_path / "face.mjpeg", frames, 10).read_bytes()
    starts = [i for i in range(len(data) - 1) if data[i:i + 3] == b"\xff\xd8\xff"]
    assert len(starts) == 4 * CHROMIUM_MJPEG_FPS // 10
    first = cv2.imdecode(np.frombuffer(data[:starts[1]], np.uint8), cv2.IMREAD_COLOR)
    first = cv2.cvtColor(first, cv2.COLOR_BGR2RGB)
    assert np.abs(first.astype(int) - frames[0].astype(int)).mean() < 3
    once = write_mjpeg(tmp_path / "once.mjpeg", frames, 10, playback_fps=10).read_bytes()
    assert once.count(b"\xff\xd8\xff") == 4
    assert data.startswith(once[:starts[1]])
