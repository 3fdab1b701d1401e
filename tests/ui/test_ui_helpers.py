"""Tests of the studio's non-Streamlit modules: settings, service link, hints, tracks, drawing,
recording, evaluation data, the capture component's configuration and the ``app`` command."""

from __future__ import annotations

import argparse
import base64
import json
import math
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import make_face

import ui_helpers
from liveness_lab.errors import ConfigError, SessionFormatError
from liveness_lab.faces import BoolAttribute
from liveness_lab.sessions import load_dataset_session, read_manifest
from liveness_lab.ui import hints, tracks
from liveness_lab.ui.components.capture import (FRONTEND_DIR, MAX_FPS, capture_config,
                                                steps_for)
from liveness_lab.ui.drawing import (blank_canvas, decode_jpeg, draw_frame, encode_jpeg,
                                     pose_instructions, pose_svg)
from liveness_lab.ui.recording import (CapturedFrame, dataset_table, frames_from_component,
                                       frames_from_service, new_session_id, record_session,
                                       session_from_service)
from liveness_lab.ui.service_link import (InProcessService, ServiceLink, app_origins,
                                          in_process_settings)
from liveness_lab.ui.settings import get_app_settings

NOSE_PARAMS = {"imageWidth": 640, "imageHeight": 480, "areaLeft": 185, "areaTop": 60,
               "areaWidth": 270, "areaHeight": 360, "minFaceAreaPercent": 40, "noseLeft": 383,
               "noseTop": 256, "noseWidth": 20, "noseHeight": 20}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """An in-process challenge service (recorded analyzer) on a free port."""
    svc = InProcessService(ui_helpers.recorded_settings(tmp_path_factory.mktemp("svc"))).start()
    yield svc
    svc.stop()


# -- settings ----------------------------------------------------------------------------------

def test_app_settings_from_environment(tmp_path):
    s = get_app_settings({"LIVENESS_APP_SERVICE_URL": "http://127.0.0.1:8000/",
                          "LIVENESS_APP_PROJECT_DIR": str(tmp_path), "LIVENESS_APP_API_KEY": " ",
                          "LIVENESS_PROFILE": "seed", "PATH": "/bin"})
    assert s.service_url == "http://127.0.0.1:8000"
    assert s.api_key is None
    assert s.reports_dir == tmp_path / "reports"
    assert s.recordings_dir == tmp_path / "datasets" / "recorded"
    assert s.mlflow_uri == "sqlite:///" + str((tmp_path / "mlflow.db").resolve())
    assert get_app_settings({}, tracking_uri="http://mlflow:5000").mlflow_uri == \
        "http://mlflow:5000"
    assert get_app_settings({}, recordings=tmp_path / "r").recordings_dir == tmp_path / "r"


@pytest.mark.parametrize("env, message", [
    ({"LIVENESS_APP_SERVICE_URL": "ftp://x"}, "http"),
    ({"LIVENESS_APP_SERVICE_URL": "127.0.0.1:8000"}, "http"),
    ({"LIVENESS_APP_PORT": "1"}, "unknown setting LIVENESS_APP_PORT"),
])
def test_app_settings_refuse_bad_values(env, message):
    with pytest.raises(ConfigError, match=message):
        get_app_settings(env)


def test_app_settings_refuse_unknown_override():
    with pytest.raises(ConfigError, match="unknown app setting 'port'"):
        get_app_settings({}, port=1)


# -- service link ------------------------------------------------------------------------------

def test_app_origins():
    assert app_origins(8501, ["0.0.0.0", "", "10.0.0.5", "fe80::1", "localhost"]) == (
        "http://localhost:8501", "http://127.0.0.1:8501", "http://[::1]:8501",
        "http://10.0.0.5:8501", "http://[fe80::1]:8501")
    for bad in (0, 70000, True, "8501"):
        with pytest.raises(ValueError, match="port"):
            app_origins(bad)


def test_in_process_settings_allow_the_app_and_client_selection(tmp_path):
    env = {"LIVENESS_DATA_DIR": str(tmp_path), "LIVENESS_CORS_ORIGINS": "https://a.example",
           "LIVENESS_APP_SERVICE_URL": "http://x:1", "LIVENESS_APP_PROJECT_DIR": "/p"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # LIVENESS_APP_* must not reach the service's settings
        s = in_process_settings(["http://localhost:8501"], env, analyzer="recorded")
    assert s.cors_origins == ("https://a.example", "http://localhost:8501")
    assert s.client_challenge_selection is True
    assert s.analyzer == "recorded"
    assert s.data_dir == tmp_path


def test_in_process_service_serves_the_api(service):
    link = ServiceLink(service.url + "/", service)
    assert link.url == service.url and link.mode == "in-process"
    assert link.challenge_service is service.service
    assert link.health()["status"] == "ok"
    ch = ui_helpers.create_challenge(link.url, "POSE")
    assert ch["type"] == "POSE" and ch["params"]["imageWidth"] == 640
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", service.url)
    with pytest.raises(RuntimeError, match="already started"):
        service.start()


def test_in_process_service_cors_allows_the_app_origin(tmp_path):
    import httpx

    settings = ui_helpers.recorded_settings(tmp_path, cors_origins=("http://localhost:8501",))
    with InProcessService(settings) as svc:
        r = httpx.options(f"{svc.url}/challenge/abc/frame", headers={
            "Origin": "http://localhost:8501", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type"})
        assert r.headers.get("access-control-allow-origin") == "http://localhost:8501"
        r = httpx.options(f"{svc.url}/challenge/abc/frame", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"})
        assert "access-control-allow-origin" not in r.headers
    assert not svc.running


def test_service_link_validation_and_unreachable_health():
    with pytest.raises(ConfigError, match="http"):
        ServiceLink("127.0.0.1:1")
    link = ServiceLink("http://127.0.0.1:9")  # discard port: nothing listens
    assert link.mode == "remote" and link.challenge_service is None
    health = link.health()
    assert health["status"] == "unreachable" and health["problems"]


def test_not_started_service_says_so(tmp_path):
    svc = InProcessService(ui_helpers.recorded_settings(tmp_path))
    for attr in ("port", "service"):
        with pytest.raises(RuntimeError, match="not started"):
            getattr(svc, attr)
    assert not svc.running


# -- hints ---------------------------------------------------------------------------------------

FACE = make_face(box=(0.35, 0.2, 0.3, 0.5)).to_rekognition()
BIG_FACE = make_face(box=(0.1, 0.0, 0.8, 0.95)).to_rekognition()


@pytest.mark.parametrize("state, faces, decided, success, key, level", [
    (None, None, None, None, "waiting", "info"),
    ({"code": "face.no_face"}, [], None, None, "face.no_face", "warn"),
    ({"code": "face.several_faces"}, [FACE, FACE], None, None, "face.several_faces", "warn"),
    ({"code": "area.outside"}, [FACE], None, None, "area.outside", "warn"),
    ({"code": "area.outside"}, [BIG_FACE], None, None, "area.too_close", "warn"),
    ({"code": "area.too_small"}, [FACE], None, None, "area.too_small", "warn"),
    ({"code": "nose.not_in_target"}, [FACE], None, None, "nose.not_in_target", "info"),
    ({"code": "nose.not_in_target"}, [], None, None, "face.no_face", "warn"),
    ({"code": "nose.ok"}, [FACE], True, True, "decided.success", "ok"),
    ({"code": "nose.trajectory_error"}, [FACE], True, False, "decided.fail", "info"),
])
def test_live_hint(state, faces, decided, success, key, level):
    got = hints.live_hint(state, faces, NOSE_PARAMS, decided=decided, success=success)
    assert got == (key, level, hints.HINTS[key])


def test_live_hint_of_an_unknown_code_is_its_message():
    assert hints.live_hint({"code": "blink.counting", "message": "2 blinks to go"}, [FACE],
                           {}) == ("blink.counting", "info", "2 blinks to go")


def test_face_box_px():
    assert hints.face_box_px({"BoundingBox": {"Left": 0.5, "Top": 0.25, "Width": 0.25,
                                              "Height": 0.5}}, 640, 480) == (320, 120, 480, 360)
    assert hints.face_box_px({}, 640, 480) is None
    assert hints.face_box_px({"BoundingBox": {"Left": "x"}}, 640, 480) is None


def test_every_hint_level_names_a_hint():
    assert set(hints.HINT_LEVELS) <= set(hints.HINTS)
    assert set(hints.HINT_LEVELS.values()) <= {"ok", "warn", "info"}


@pytest.mark.parametrize("ctype, params, expected", [
    ("NOSE", NOSE_PARAMS, "yellow box"),
    ("POSE", {"pose": {"eyes": "CLOSED", "mouth": "SMILE"}}, "Eyes closed; a big smile"),
    ("POSE", {}, "countdown"),
    ("POSE", {"pose": {"eyes": "OPEN", "mouth": "SMILE"}, "holdFrames": 3, "transition": True},
     "Start with a neutral face"),
    ("POSE", {"holdFrames": 3}, "Make the pose in the picture and hold it."),
    ("BLINK", {"blinks": 3}, "blink 3 times"),
    ("HEAD_TURN", {"sequence": ["RIGHT"]}, "**to your right**"),
    ("CUSTOM", {}, "CUSTOM"),
    ("MY_PLUGIN", {}, "my description"),
])
def test_challenge_instructions(ctype, params, expected):
    assert expected in hints.challenge_instructions(ctype, params, "my description")


# -- tracks ------------------------------------------------------------------------------------

def test_face_track_measures_every_frame():
    faces = [make_face(yaw=-3.0, pitch=2.0, roll=1.0, nose=(0.5, 0.5)),
             make_face(yaw=12.0, eyes_open=False, mouth_open=True, smile=True,
                       pupils=(0.2, 0.2)).to_rekognition()]
    df = tracks.face_track([(1000, [faces[0]]), (1250, [faces[1], faces[0]]), (1500, None),
                            (1750, [])], 640, 480)
    assert list(df.columns) == list(tracks.FACE_TRACK_COLUMNS)
    assert df["t_s"].tolist() == [0.0, 0.25, 0.5, 0.75]
    assert df["n_faces"].tolist()[:2] == [1, 2] and math.isnan(df["n_faces"][2])
    assert df["n_faces"][3] == 0
    assert df.loc[0, "nose_x"] == pytest.approx(320) and df.loc[0, "nose_y"] == pytest.approx(240)
    assert df.loc[0, "yaw"] == -3.0 and df.loc[1, "yaw"] == 12.0
    assert df.loc[0, "eyes_open"] == pytest.approx(0.98)
    assert df.loc[1, "eyes_open"] == pytest.approx(0.02)
    assert df.loc[1, "smile"] == pytest.approx(0.95)
    assert df.loc[1, "left_pupil"] == pytest.approx(0.2)
    assert df.loc[0, "face_right"] - df.loc[0, "face_left"] == pytest.approx(0.375 * 640)


def test_face_track_of_no_frames_is_empty():
    df = tracks.face_track([], 640, 480)
    assert len(df) == 0 and list(df.columns) == list(tracks.FACE_TRACK_COLUMNS)


@pytest.mark.parametrize("attr, p", [(None, None), (BoolAttribute(True, 90.0), 0.9),
                                     (BoolAttribute(False, 90.0), 0.1),
                                     (BoolAttribute(True, None), 1.0)])
def test_attribute_probability(attr, p):
    assert tracks.attribute_probability(attr) == (None if p is None else pytest.approx(p))


def test_trace_table_aligns_time_and_summarises_states():
    rows = [{"frame_index": 0, "timestamp": 2000, "state": "face_state", "result": "next",
             "code": "face.one_face", "message": "m"},
            {"frame_index": 0, "timestamp": 2000, "state": "area_state", "result": "continue",
             "code": "area.outside", "message": "m"},
            {"frame_index": 1, "timestamp": 2500, "state": "area_state", "result": "next",
             "code": "area.ok", "message": "m"}]
    df = tracks.trace_table(rows, t0=1000)
    assert df["t_s"].tolist() == [1.0, 1.0, 1.5]
    summary = tracks.state_summary(df)
    assert [(s["state"], s["first_frame"], s["last_frame"], s["frames"], s["code"])
            for s in summary] == [("face_state", 0, 0, 1, "face.one_face"),
                                  ("area_state", 0, 1, 2, "area.ok")]
    assert len(tracks.trace_table([])) == 0


# -- drawing -----------------------------------------------------------------------------------

def test_draw_frame_draws_boxes_and_landmarks():
    face = make_face(box=(0.3, 0.2, 0.4, 0.6), nose=(0.5, 0.5))
    img = draw_frame(None, [face], NOSE_PARAMS)
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    # nose target: yellow fill inside, white area box edge, red nose dot
    r, g, b = img[266, 393].tolist()  # 45 % yellow over the dark canvas
    assert (r, g, b) == pytest.approx((0.45 * 255 + 0.55 * 28, 0.45 * 214 + 0.55 * 28,
                                       0.55 * 28), abs=2)
    assert img[240, 185].tolist() == [255, 255, 255]
    assert img[240, 320].tolist()[0] > 200 and img[240, 320].tolist()[2] < 120
    # the same on a photo-sized JPEG, scaled to it
    photo = encode_jpeg(np.full((240, 320, 3), 90, np.uint8))
    small = draw_frame(photo, [face], NOSE_PARAMS)
    assert small.shape == (240, 320, 3)
    assert small[120, 92].tolist()[0] > 200  # area box at half scale


def test_draw_frame_without_faces_or_params():
    img = draw_frame(np.zeros((48, 64, 3), np.uint8), None, {})
    assert img.shape == (48, 64, 3) and not img.any()
    assert blank_canvas(80, 40).shape == (40, 80, 3)
    with pytest.raises(ValueError, match="positive"):
        blank_canvas(0, 10)
    with pytest.raises(ValueError, match="decode"):
        decode_jpeg(b"not an image")


@pytest.mark.parametrize("eyes", ["OPEN", "CLOSED", "LOOKING_LEFT", "LOOKING_RIGHT"])
@pytest.mark.parametrize("mouth", ["CLOSED", "SMILE"])
def test_pose_svg_is_valid_and_mirrored(eyes, mouth):
    svg = pose_svg(eyes, mouth)
    root = ET.fromstring(svg)
    assert root.get("aria-label") == pose_instructions(eyes, mouth)
    pupils = [float(c.get("cx")) for c in root.iter("{http://www.w3.org/2000/svg}circle")
              if c.get("r") == "7"]
    if eyes == "CLOSED":
        assert pupils == []
    else:
        shift = pupils[0] - 68
        # LOOKING_LEFT (pupils at the image's left) appears on the right of a mirrored preview
        assert shift == {"OPEN": 0, "LOOKING_LEFT": 9, "LOOKING_RIGHT": -9}[eyes]
        unmirrored = [float(c.get("cx")) for c in ET.fromstring(pose_svg(eyes, mouth,
                                                                         mirror=False)).iter(
            "{http://www.w3.org/2000/svg}circle") if c.get("r") == "7"]
        assert unmirrored[0] - 68 == -shift


def test_pose_instructions_refuse_unknown_poses():
    with pytest.raises(ValueError, match="unknown pose"):
        pose_instructions("WINK", "CLOSED")


# -- recording ---------------------------------------------------------------------------------

def _frames(n: int = 3) -> list[CapturedFrame]:
    return [CapturedFrame(1_700_000_000_000 + 100 * i, ui_helpers.jpeg(seed=i),
                          (make_face(),) if i else ()) for i in range(n)]


def test_record_session_writes_the_dataset_format(tmp_path):
    s1 = record_session(tmp_path / "ds", session_id="rec-1", challenge_type="NOSE",
                        params=NOSE_PARAMS, frames=_frames(), label="bona_fide",
                        subject_id="subj-1", split="test", metadata={"k": "v"})
    s2 = record_session(tmp_path / "ds", session_id="rec-2", challenge_type="NOSE",
                        params=NOSE_PARAMS, frames=_frames(2), label="attack",
                        pai_species=" print_moved ")
    entries = read_manifest(tmp_path / "ds")
    assert [(e.session_id, e.label, e.pai_species, e.subject_id, e.split) for e in entries] == [
        ("rec-1", "bona_fide", None, "subj-1", "test"), ("rec-2", "attack", "print_moved", None,
                                                          None)]
    back = load_dataset_session(tmp_path / "ds", entries[0])
    assert back.to_dict() == s1.to_dict()
    assert back.frames[0].faces == () and back.frames[1].faces == (make_face(),)
    assert back.image_path(back.frames[2]).read_bytes() == ui_helpers.jpeg(seed=2)
    assert back.metadata == {"k": "v"}
    assert Path(s2.source) == tmp_path / "ds" / "sessions" / "rec-2" / "session.json"
    table = dataset_table(tmp_path / "ds")
    assert table["session_id"].tolist() == ["rec-1", "rec-2"]
    assert len(dataset_table(tmp_path / "empty")) == 0


@pytest.mark.parametrize("kw, message", [
    ({"label": "live"}, "label must be one of"),
    ({"label": "bona_fide", "pai_species": "print_moved"}, "no PAI species"),
    ({"label": "attack"}, "needs a PAI species"),
    ({"label": "attack", "pai_species": "a,b"}, "without commas"),
    ({"label": "bona_fide", "split": "eval"}, "split must be"),
    ({"label": "bona_fide", "session_id": "../x"}, "session_id"),
    ({"label": "bona_fide", "frames": []}, "at least one frame"),
    ({"label": "bona_fide", "subject_id": "a,b"}, "subject_id"),
])
def test_record_session_refuses_bad_input(tmp_path, kw, message):
    args = {"session_id": "rec-x", "challenge_type": "NOSE", "params": NOSE_PARAMS,
            "frames": _frames(1)}
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        record_session(tmp_path, **args)
    assert not (tmp_path / "manifest.csv").exists()


def test_record_session_refuses_a_listed_id_and_a_broken_manifest(tmp_path):
    record_session(tmp_path, session_id="rec-1", challenge_type="NOSE", params=NOSE_PARAMS,
                   frames=_frames(1), label="bona_fide")
    with pytest.raises(ValueError, match="already in"):
        record_session(tmp_path, session_id="rec-1", challenge_type="NOSE", params=NOSE_PARAMS,
                       frames=_frames(1), label="bona_fide")
    (tmp_path / "manifest.csv").write_text("session_id,path\n")
    with pytest.raises(SessionFormatError, match="missing column"):
        record_session(tmp_path, session_id="rec-2", challenge_type="NOSE", params=NOSE_PARAMS,
                       frames=_frames(1), label="bona_fide")


def test_captured_frame_validation():
    with pytest.raises(ValueError, match="timestamp"):
        CapturedFrame(-1, b"x")
    with pytest.raises(ValueError, match="image or its faces"):
        CapturedFrame(1)


def test_frames_from_component_skips_what_does_not_decode():
    good = base64.b64encode(ui_helpers.jpeg()).decode()
    frames = frames_from_component([{"timestamp": 20, "jpeg": good}, {"timestamp": 10,
                                                                       "jpeg": good},
                                    {"timestamp": 30, "jpeg": "%%%"},
                                    {"timestamp": 40, "jpeg": base64.b64encode(b"GIF89a").decode()},
                                    {"jpeg": good}])
    assert [f.timestamp for f in frames] == [10, 20] and frames[0].faces is None


def test_new_session_id_is_safe():
    sid = new_session_id("0f8e2a1c-7b7b-4c4c-9d9d-aaaaaaaaaaaa")
    assert re.fullmatch(r"rec-\d{8}-\d{6}-0f8e2a1c", sid)
    assert new_session_id("///").endswith("-session")


def test_frames_and_session_from_the_service_store(service):
    ch = ui_helpers.create_challenge(service.url, "NOSE")
    frames = ui_helpers.simulated_frames("NOSE", ch["params"],
                                         start_ms=int(__import__("time").time() * 1000))
    ui_helpers.push_frames(service.url, ch, frames[:5])
    record, captured = frames_from_service(service.service, ch["id"])
    assert record.id == ch["id"] and len(captured) == 5
    assert [f.timestamp for f in captured] == [ts for ts, _ in frames[:5]]
    assert captured[0].faces == frames[0][1]
    assert captured[0].jpeg == ui_helpers.jpeg(seed=0)
    session, images = session_from_service(service.service, ch["id"])
    assert session.challenge_type == "NOSE" and len(session.frames) == 5
    assert images[4] == ui_helpers.jpeg(seed=4)
    with pytest.raises(KeyError, match="no challenge"):
        frames_from_service(service.service, "00000000-0000-4000-8000-000000000000")


# -- evaluation data ---------------------------------------------------------------------------

def _results() -> pd.DataFrame:
    return pd.DataFrame({
        "session_id": [f"s{i}" for i in range(8)],
        "label": ["bona_fide"] * 4 + ["attack"] * 4,
        "pai_species": [""] * 4 + ["print", "print", "replay", "replay"],
        "challenge_type": ["NOSE"] * 8,
        "success": [True, True, True, False, False, True, False, False],
        "score": [0.3, 0.2, 0.1, -0.1, -0.2, 0.05, np.nan, -0.3],
        "decided": [True] * 8, "split": [""] * 8})


def test_score_set_and_rates():
    from liveness_lab.ui.evaluation_data import rate_curve, rates_at, score_set

    scores = score_set(_results(), "NOSE")
    assert scores.usable and sorted(scores.attacks) == ["print", "replay"]
    r = rates_at(scores, 0.0)
    # accepted: score >= 0; bona fide 0.3, 0.2, 0.1 accepted, -0.1 rejected
    assert r["bpcer"] == pytest.approx(0.25)
    assert r["species"] == {"print": pytest.approx(0.5), "replay": 0.0}  # nan: rejected
    assert r["apcer"] == pytest.approx(0.5)
    curve = rate_curve(scores)
    assert list(curve.columns) == ["threshold", "apcer", "bpcer"]
    assert curve["apcer"].is_monotonic_decreasing and curve["bpcer"].is_monotonic_increasing
    empty = score_set(_results(), "POSE")
    assert not empty.usable and not empty.has_scores


def test_inline_report_embeds_local_images_only(tmp_path):
    from liveness_lab.ui.evaluation_data import find_reports, inline_report

    rep = tmp_path / "reports" / "a"
    rep.mkdir(parents=True)
    (rep / "det.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "reports" / "secret.png").write_bytes(b"secret")
    (rep / "report.html").write_text(
        '<img src="det.png"><img alt="x" src="missing.png"><img src="https://x/y.png">'
        '<img src="../secret.png"><IMG SRC="/abs.png">', encoding="utf-8")
    out = inline_report(rep / "report.html")
    assert 'src="data:image/png;base64,' + base64.b64encode(b"\x89PNG fake").decode() in out
    for kept in ('src="missing.png"', 'src="https://x/y.png"', 'src="../secret.png"',
                 'SRC="/abs.png"'):
        assert kept in out
    assert find_reports(tmp_path / "reports") == [rep / "report.html"]
    assert find_reports(tmp_path / "nowhere") == []


def test_find_results_files_newest_first(tmp_path):
    import os

    from liveness_lab.ui.evaluation_data import find_results_files

    a, b = tmp_path / "x" / "results-seed.csv", tmp_path / "results.csv"
    a.parent.mkdir()
    for i, p in enumerate((a, b)):
        p.write_text("x")
        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "other.csv").write_text("x")
    assert find_results_files(tmp_path) == [b, a]


def test_tracking_store_exists(tmp_path):
    from liveness_lab.ui.evaluation_data import tracking_store_exists

    assert not tracking_store_exists(f"sqlite:///{tmp_path}/mlflow.db")
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert tracking_store_exists(f"sqlite:///{tmp_path}/mlflow.db")
    assert tracking_store_exists("http://mlflow.example:5000")


# -- capture component -------------------------------------------------------------------------

CHALLENGE = {"id": "c1", "token": "t", "type": "NOSE", "params": NOSE_PARAMS}


def test_capture_config_for_nose_and_pose():
    cfg = capture_config("http://127.0.0.1:1/", CHALLENGE, steps=steps_for(["face_state"]))
    assert cfg["serviceUrl"] == "http://127.0.0.1:1"
    assert (cfg["width"], cfg["height"], cfg["mode"], cfg["fps"]) == (640, 480, "continuous", 12)
    assert cfg["hints"] == hints.HINTS and cfg["steps"][0]["label"] == "1. Face found"
    json.dumps(cfg)  # the component receives JSON
    pose = capture_config("http://h", {**CHALLENGE, "type": "POSE",
                                       "params": {"imageWidth": 320, "imageHeight": 240,
                                                  "pose": {"eyes": "OPEN", "mouth": "SMILE"}}},
                          pose_svg="<svg/>", burst_frames=4)
    assert (pose["mode"], pose["burstFrames"], pose["width"]) == ("burst", 4, 320)
    multi = capture_config("http://h", {**CHALLENGE, "type": "POSE",
                                        "params": {"imageWidth": 320, "imageHeight": 240,
                                                   "holdFrames": 3, "transition": True,
                                                   "pose": {"eyes": "OPEN", "mouth": "SMILE"}}})
    assert multi["mode"] == "continuous"  # the multi-frame protocol runs until decided
    guided = capture_config("http://h", CHALLENGE, ready_s=4, ready_text="Fit your face",
                            step_timeout_s=10)
    assert (guided["readyS"], guided["readyText"], guided["stepTimeoutS"]) == \
        (4.0, "Fit your face", 10.0)
    assert cfg["readyS"] == 0 and cfg["stepTimeoutS"] == 0  # no guide unless asked
    for key in ("ready", "stopped", "analyzing", "guide.closer", "guide.farther",
                "guide.centre", "guide.light"):
        assert key in cfg["hints"]  # the component's guided-capture words come from Python


@pytest.mark.parametrize("kw, message", [
    ({"challenge": {"id": "x"}}, "missing 'token'"),
    ({"challenge": {**CHALLENGE, "params": {}}}, "imageWidth"),
    ({"fps": 13}, "fps"),
    ({"fps": 0}, "fps"),
    ({"max_seconds": 0}, "positive"),
    ({"jpeg_quality": 1.5}, "jpeg_quality"),
    ({"ready_s": -1}, "ready_s"),
    ({"step_timeout_s": 0}, "step_timeout_s"),
])
def test_capture_config_refuses_bad_values(kw, message):
    args = {"challenge": CHALLENGE}
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        capture_config("http://h", args.pop("challenge"), **args)


def test_frontend_files_and_hint_keys_agree():
    html = (FRONTEND_DIR / "index.html").read_text()
    assert 'src="capture.js"' in html and 'href="capture.css"' in html
    js = (FRONTEND_DIR / "capture.js").read_text()
    assert "streamlit:componentReady" in js and "streamlit:setComponentValue" in js
    assert "/frames/latest" in js and 'method: "PUT"' in js
    # every hint key the JavaScript can show has its words in Python's table
    used = set(re.findall(r'"((?:face|area|nose|pose|decided)\.[a-z_]+|waiting|starting)"', js))
    assert used and used <= set(hints.HINTS)
    assert f"Math.min(Math.max(num(cfg.fps, 12), 1), {MAX_FPS})" in js


# -- the app command ---------------------------------------------------------------------------

def _app_args(*argv: str) -> argparse.Namespace:
    from liveness_lab.ui.cli import add_app_command

    parser = argparse.ArgumentParser()
    add_app_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["app", *argv])


def test_app_command_line_and_environment(tmp_path):
    from liveness_lab.ui.cli import app_command_line, app_env, app_script

    assert app_script() == ui_helpers.REPO / "app.py"
    args = _app_args("--port", "8600", "--service-url", "http://127.0.0.1:8000",
                     "--project-dir", str(tmp_path))
    cmd = app_command_line(args)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(ui_helpers.REPO / "app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    env = app_env(args, {"PATH": "/bin"})
    assert env["LIVENESS_APP_SERVICE_URL"] == "http://127.0.0.1:8000"
    assert env["LIVENESS_APP_PROJECT_DIR"] == str(tmp_path.resolve())
    assert "LIVENESS_APP_SERVICE_URL" not in app_env(_app_args(), {"PATH": "/bin"})
    with pytest.raises(ConfigError, match="http"):
        app_env(_app_args("--service-url", "localhost:8000"), {})
    with pytest.raises(ValueError, match="port"):
        app_command_line(_app_args("--port", "0"))


def test_app_command_reports_a_bad_url(capsys):
    from liveness_lab.ui.cli import main

    assert main(["app", "--service-url", "nope"]) == 2
    assert "error" in capsys.readouterr().err


def test_helper_modules_do_not_import_streamlit():
    import subprocess
    import sys

    code = ("import sys\n"
            "import liveness_lab.ui, liveness_lab.ui.cli, liveness_lab.ui.settings, "
            "liveness_lab.ui.service_link, liveness_lab.ui.hints, liveness_lab.ui.tracks, "
            "liveness_lab.ui.drawing, liveness_lab.ui.recording, liveness_lab.ui.evaluation_data, "
            "liveness_lab.ui.components.capture\n"
            "assert 'streamlit' not in sys.modules, 'streamlit imported'\n"
            "assert 'mlflow' not in sys.modules, 'mlflow imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ui_helpers.REPO)
    assert out.returncode == 0, out.stderr


def test_the_capture_outlasts_a_challenges_own_window():
    # a cue-timed BLINK declares its window: a 30 s time limit must not cut its last cue off
    from liveness_lab.challenges import SeededRandom, default_registry
    from liveness_lab.config import resolve_configs
    from liveness_lab.ui.flow import CAPTURE_MARGIN_S, capture_seconds
    ct = default_registry().get("BLINK")
    cfg = resolve_configs("rekognition").for_type(ct)
    windows = [ct.generate_params({"imageWidth": 640, "imageHeight": 480}, cfg,
                                  rng=SeededRandom(i))["windowMs"] for i in range(200)]
    longest = max(windows)
    assert longest > 30_000                       # some draws need more than the default
    params = {"windowMs": longest}
    assert capture_seconds(params, 30) == longest / 1000 + CAPTURE_MARGIN_S
    assert capture_seconds(params, 60) == 60      # a longer limit chosen by the user stays
    assert capture_seconds({"pose": {}}, 30) == 30 and capture_seconds(None, 12) == 12
    assert capture_seconds({"windowMs": "soon"}, 30) == 30
