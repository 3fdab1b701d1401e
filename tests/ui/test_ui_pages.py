"""Streamlit ``AppTest`` tests of the studio's pages (no browser).

The capture component only runs in a browser (``test_ui_browser.py``); here its
part is played by the test: frames (with simulated faces) are sent to the
service as the component would, and the component's end-of-run summary is put
in the page's state. Everything after that - verification, the verdict, the
traces, saving a recording - runs as in the app. The Session explorer's tests are in
``test_ui_explorer_page.py``; the fixtures in ``conftest.py``.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from builders import make_face
from streamlit.testing.v1 import AppTest

import ui_helpers
from liveness_lab.sessions import read_manifest
from liveness_lab.ui.flow import apply_capture_summary
from liveness_lab.ui.navigation import PAGE_SPECS
from liveness_lab.ui.service_link import InProcessService
from page_helpers import TIMEOUT, no_exception, now_ms, page, verdicts


# -- the app ---------------------------------------------------------------------------------

def test_app_assembles_the_pages(service, project, monkeypatch):
    monkeypatch.setenv("LIVENESS_APP_SERVICE_URL", service.url)
    at = AppTest.from_file(str(ui_helpers.REPO / "app.py"), default_timeout=TIMEOUT)
    at.run()
    no_exception(at)
    assert [t.value for t in at.title] == ["Live challenge"]  # the default page
    assert [s.name for s in PAGE_SPECS] == ["live", "record", "explorer", "evaluation", "about"]
    assert len({s.url_path for s in PAGE_SPECS}) == 5
    app_py = (ui_helpers.REPO / "app.py").read_text()
    assert "st.navigation(" in app_py and "def " not in app_py  # it only assembles pages


@pytest.mark.parametrize("name, title", [("live", "Live challenge"),
                                         ("record", "Record dataset"),
                                         ("explorer", "Session explorer"),
                                         ("evaluation", "Evaluation dashboard"),
                                         ("about", "About & settings")])
def test_every_page_renders(service, project, name, title):
    at = page(name)
    at.run()
    no_exception(at)
    assert at.title[0].value == title
    assert at.caption[0].value  # an introduction under the title


# -- live challenge ----------------------------------------------------------------------------

def _start(at: AppTest, prefix: str, start_key: str) -> dict:
    at.button(key=start_key).click().run()
    no_exception(at)
    state = at.session_state[prefix]
    assert state["phase"] == "capturing"
    return state


def _finish_capture(at: AppTest, state: dict, url: str, species: str | None = None,
                    keep: bool = False) -> list:
    """Play the capture component: send the frames, report the end of the run."""
    ch = state["challenge"]
    frames = ui_helpers.simulated_frames(ch["type"], ch["params"], start_ms=now_ms(),
                                         species=species)
    kept = ui_helpers.push_frames(url, ch, frames)
    assert apply_capture_summary(state, ui_helpers.capture_summary(ch, frames,
                                                                   kept if keep else None))
    assert state["phase"] == "verifying"
    at.run()
    no_exception(at)
    return frames


@pytest.mark.parametrize("species, expected", [(None, "PASS"), ("print_moved", "FAIL")])
def test_live_nose_challenge_to_verdict_and_traces(service, project, species, expected):
    at = page("live")
    at.run()
    assert at.button(key="live.start").label == "Start challenge"
    state = _start(at, "live", "live.start")
    assert state["challenge"]["type"] == "NOSE"  # the default choice, honoured by the service
    frames = _finish_capture(at, state, service.url, species)
    state = at.session_state["live"]
    assert state["phase"] == "done"
    assert verdicts(at) == [expected]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Frames sent"] == str(len(frames))
    assert metrics["Frames analyzed"] == str(len(frames))
    # faces of every frame come from the in-process store; charts drawn
    result = state["result"]
    assert result["faces_source"].startswith("every frame")
    assert len(result["faces"]) == len(frames)
    assert result["trace"] and result["trace"][0]["state"] == "face_state"
    assert len(at.get("vega_lite_chart")) >= 4
    # the run is in the history, for the Session explorer
    assert at.session_state["studio.history"][-1]["id"] == state["challenge"]["id"]
    at.button(key="live.again").click().run()
    assert at.session_state["live"]["phase"] == "idle"


def test_live_pose_with_a_remote_service(service, project, monkeypatch):
    monkeypatch.setenv("LIVENESS_APP_SERVICE_URL", service.url)
    at = page("live", in_process=False)
    at.run()
    at.selectbox(key="live.type").set_value("POSE").run()
    state = _start(at, "live", "live.start")
    assert state["challenge"]["type"] == "POSE"
    _finish_capture(at, state, service.url)
    state = at.session_state["live"]
    assert state["phase"] == "done" and verdicts(at) == ["PASS"]
    assert at.selectbox(key="live.type").value == "POSE"  # the choice survives the run
    # remote: the faces are those the live feedback showed (a sample)
    assert state["result"]["faces_source"].startswith("the frames seen")
    assert 0 < len(state["result"]["faces"]) <= state["capture"]["framesSent"]


def test_capture_summary_moves_the_run_on():
    state = {"phase": "capturing", "challenge": {"id": "a"}}
    assert not apply_capture_summary(state, None)
    assert not apply_capture_summary(state, {"challengeId": "b", "framesSent": 3})
    assert state["phase"] == "capturing"
    assert apply_capture_summary(state, {"challengeId": "a", "status": "error",
                                         "error": "camera: NotAllowedError", "framesSent": 0})
    assert state == {"phase": "error", "challenge": {"id": "a"}, "error":
                     "camera: NotAllowedError", "capture": {"challengeId": "a",
                                                            "status": "error",
                                                            "error": "camera: NotAllowedError",
                                                            "framesSent": 0}}
    state = {"phase": "capturing", "challenge": {"id": "a"}}
    apply_capture_summary(state, {"challengeId": "a", "status": "done", "framesSent": 0,
                                  "errors": ["frame 1: HTTP 400: bad"]})
    assert state["phase"] == "error" and "HTTP 400" in state["error"]
    state = {"phase": "capturing", "challenge": {"id": "a"}}
    apply_capture_summary(state, {"challengeId": "a", "status": "done", "framesSent": 4,
                                  "reason": "user_stopped"})
    assert state["phase"] == "verifying"
    assert not apply_capture_summary(state, {"challengeId": "a", "framesSent": 4})


def test_a_busy_service_gives_a_retry_not_a_dead_end(service, project, monkeypatch):
    """Verification answered 503 (a slow analyzer): plain hint, Retry, then the verdict."""
    import liveness_lab.ui.flow as flow
    from liveness_lab.service.client import ApiError

    real = flow.collect_result
    calls = []

    def busy_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ApiError(503, "analysis still running")
        return real(*args, **kwargs)

    monkeypatch.setattr(flow, "collect_result", busy_once)
    at = page("live")
    at.run()
    state = _start(at, "live", "live.start")
    _finish_capture(at, state, service.url)
    assert at.session_state["live"]["phase"] == "error"
    assert any("still analyzing" in e.value for e in at.error)
    assert not any("camera is allowed" in e.value for e in at.error)
    at.button(key="live.retry").click().run()
    no_exception(at)
    assert at.session_state["live"]["phase"] == "done" and verdicts(at) == ["PASS"]


def test_live_error_when_the_service_refuses(service, project, monkeypatch):
    monkeypatch.setenv("LIVENESS_APP_SERVICE_URL", "http://127.0.0.1:9")
    at = page("live", in_process=False)
    at.run()
    at.button(key="live.start").click().run()
    no_exception(at)
    assert at.session_state["live"]["phase"] == "error"
    assert any("refused to create a challenge" in e.value for e in at.error)


def test_photo_fallback_sends_photos_and_verifies(tmp_path, project):
    """st.camera_input photos go through the app to a service that analyzes images."""
    from liveness_lab.challenges import default_registry
    from liveness_lab.ui.pages.live import submit_photo
    from liveness_lab.ui.service_link import ServiceLink
    from liveness_lab.verify import run_challenge

    name = ui_helpers.register_digest_analyzer()
    settings = ui_helpers.recorded_settings(tmp_path / "data", analyzer=name)
    with InProcessService(settings) as svc:
        ui_helpers.IN_PROCESS_PHOTO = svc
        at = AppTest.from_string(ui_helpers.page_script("live", in_process="IN_PROCESS_PHOTO"),
                                 default_timeout=TIMEOUT)
        at.run()
        assert not at.camera_input  # the instructions come first
        at.button(key="live.photo.start").click().run()
        no_exception(at)
        ch = at.session_state["live.photo"]["challenge"]
        assert ch["type"] == "POSE" and ch["params"]["imageWidth"] == 640
        # the pose is shown before the photo that decides it: as a picture and in words
        assert any("Make this pose, then take the photo" in m.value for m in at.markdown)
        assert at.image and at.camera_input[0].label == "Take a photo"
        from liveness_lab.ui.drawing import cover_resize, decode_jpeg, encode_jpeg
        photo = ui_helpers.jpeg(320, 240, seed=7)
        sent = encode_jpeg(cover_resize(decode_jpeg(photo), 640, 480))
        face = make_face(eyes_open=True, mouth_open=False, smile=False, pupils=(0.5, 0.5))
        # the photo is scaled and cropped to the challenge's 640 x 480 before it is sent
        ui_helpers.FACES_BY_DIGEST[hashlib.sha256(sent).hexdigest()] = (face,)
        at.camera_input[0].set_value(("shot.jpg", photo, "image/jpeg")).run()
        no_exception(at)
        state = at.session_state["live.photo"]
        assert state["challenge"] == ch
        assert len(state["photos"]) == 1 and state["photos"][0]["faces"]
        assert state["photos"][0]["jpeg"] == sent
        assert at.image[-1].captions[0].startswith("photo 1:")
        at.button(key="live.photo.verify").click().run()
        no_exception(at)
        offline = run_challenge(default_registry().get("POSE"), ch["params"], [(now_ms(), (face,))])
        assert verdicts(at) == ["PASS" if offline.success else "FAIL"]
        # the helper used by the page, on its own: an unknown face gives the no-face feedback
        feedback = submit_photo(ServiceLink(svc.url, svc),
                                ui_helpers.create_challenge(svc.url, "NOSE", 64, 48),
                                ui_helpers.jpeg(seed=99))
        assert feedback["frame"]["faces"] == [] and feedback["analyzedCount"] == 1
        ui_helpers.IN_PROCESS_PHOTO = None


# -- record dataset ----------------------------------------------------------------------------

def test_record_attack_needs_a_species(service, project):
    at = page("record")
    at.run()
    assert not at.button(key="record.start").disabled
    at.radio(key="record.label").set_value("attack").run()
    at.selectbox(key="record.species").set_value("other…").run()
    assert at.button(key="record.start").disabled
    assert any("Name the PAI species" in w.value for w in at.warning)
    at.text_input(key="record.species_other").set_value("paper_mask").run()
    assert not at.button(key="record.start").disabled


@pytest.mark.parametrize("remote", [False, True])
def test_record_saves_a_labelled_session(service, project, monkeypatch, remote):
    if remote:
        monkeypatch.setenv("LIVENESS_APP_SERVICE_URL", service.url)
    at = page("record", in_process=not remote)
    at.run()
    folder = project / "datasets" / "mine"
    at.text_input(key="record.folder").set_value(str(folder)).run()
    at.radio(key="record.label").set_value("attack").run()
    at.selectbox(key="record.species").set_value("print_moved").run()
    at.text_input(key="record.subject").set_value("subj-9").run()
    at.selectbox(key="record.split").set_value("dev").run()
    state = _start(at, "record", "record.start")
    assert state["options"]["keep_frames"] is remote
    frames = _finish_capture(at, state, service.url, species="print_moved", keep=remote)
    state = at.session_state["record"]
    assert state["phase"] == "done" and "saved" in state, state.get("save_error")
    assert any("Saved session" in s.value for s in at.success)
    entries = read_manifest(folder)
    assert [(e.label, e.pai_species, e.subject_id, e.split, e.challenge_type)
            for e in entries] == [("attack", "print_moved", "subj-9", "dev", "NOSE")]
    from liveness_lab.sessions import load_dataset_session
    session = load_dataset_session(folder, entries[0])
    assert len(session.frames) == len(frames)
    assert all(session.image_path(f).is_file() for f in session.frames)
    assert session.metadata["challenge_id"] == state["challenge"]["id"]
    if remote:  # the component's JPEGs, no faces (analyze the dataset later)
        assert all(f.faces is None for f in session.frames)
    else:  # frames and faces from the service's store
        assert [f.faces for f in session.frames] == [faces for _, faces in frames]
    at.run()  # a rerun does not save twice
    assert len(read_manifest(folder)) == 1
    assert any(c.value == "1 session in this dataset" for c in at.caption)  # counted after saving
    assert len(at.get("vega_lite_chart")) >= 2  # the recording's traces
    # record a second one: the count is fresh on the page that saves it
    at.button(key="record.again").click().run()
    state = _start(at, "record", "record.start")
    _finish_capture(at, state, service.url, species="print_moved", keep=remote)
    at.run()
    assert any(c.value == "2 sessions in this dataset" for c in at.caption)
    second = at.session_state["record"]["saved"]["id"]
    # discard the second: its row and folder go, the first stays intact
    at.button(key="record.discard").click().run()
    no_exception(at)
    assert [e.session_id for e in read_manifest(folder)] == [entries[0].session_id]
    assert not (folder / "sessions" / second).exists()
    assert load_dataset_session(folder, read_manifest(folder)[0]).id == entries[0].session_id
    assert any(c.value == "1 session in this dataset" for c in at.caption)
    # the labels stay for the next recording
    assert at.radio(key="record.label").value == "attack"
    assert at.selectbox(key="record.species").value == "print_moved"


# -- evaluation dashboard ----------------------------------------------------------------------

def _results_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for split in ("dev", "test"):
        for i in range(20):
            bf = i < 10
            score = rng.normal(0.1 if bf else -0.05, 0.05)
            species = "" if bf else ("print_moved" if i % 2 else "screen_replay")
            rows.append({"session_id": f"{split}-{i}", "label": "bona_fide" if bf else "attack",
                         "pai_species": species, "challenge_type": "NOSE",
                         "success": bool(score > 0), "reason": "r", "code": "c",
                         "decided": True, "score": score, "final_state": "nose_state",
                         "frames": 30, "subject_id": f"p{i % 5}", "split": split})
    return pd.DataFrame(rows)


def test_evaluation_results_file_and_threshold_slider(service, project):
    from liveness_lab.evaluation.replay import write_results

    write_results(_results_table(), project / "reports" / "demo" / "results-seed.csv")
    at = page("evaluation")
    at.run()
    no_exception(at)
    assert at.selectbox(key="eval.file").value.endswith("results-seed.csv")
    metrics = {m.label: m.value for m in at.metric}
    assert {"APCER (max)", "BPCER", "ACER", "Non-response", "EER",
            "APCER at threshold", "BPCER at threshold"} <= set(metrics)
    slider = at.slider(key="eval.fileview.threshold")
    slider.set_value(slider.min).run()
    low = {m.label: m.value for m in at.metric}
    assert low["APCER at threshold"] == "100.0 %" and low["BPCER at threshold"] == "0.0 %"
    slider.set_value(slider.max).run()
    high = {m.label: m.value for m in at.metric}
    assert high["APCER at threshold"] == "0.0 %"
    assert high["BPCER at threshold"] != "0.0 %"
    species = {r["species"] for r in at.dataframe[0].value.to_dict("records")}
    assert species == {"print_moved", "screen_replay"}
    assert len(at.get("vega_lite_chart")) >= 2  # species bars, rates against the threshold


def test_evaluation_lists_and_shows_reports(service, project):
    rep = project / "reports" / "r1"
    rep.mkdir(parents=True)
    (rep / "plot.png").write_bytes(b"\x89PNG")
    (rep / "report.html").write_text("<h1>Accuracy</h1><img src='plot.png'>"
                                     '<img src="plot.png">', encoding="utf-8")
    at = page("evaluation")
    at.run()
    no_exception(at)
    assert at.selectbox(key="eval.report").value == str(rep / "report.html")
    assert any(b.label == "Download report.html" for b in at.get("download_button"))


def test_evaluation_mlflow_runs(service, project):
    from liveness_lab.evaluation.replay import write_results
    from liveness_lab.evaluation.tracking import Tracker

    tracker = Tracker(project_dir=project)
    exp = tracker.experiment("ui-test")
    results = project / "tmp" / "results.csv"
    write_results(_results_table(), results)
    run_ids = []
    for name, bpcer in (("seed", 0.1), ("tuned", 0.05)):
        with tracker.run(exp, name, tags={"liveness_lab.role": "profile"}) as rid:
            tracker.log_params(rid, {"profile": "seed"})
            tracker.log_metrics(rid, {"test.max_apcer": 0.2, "test.bpcer": bpcer,
                                      "test.acer": 0.15})
            tracker.log_artifact(rid, results)
            run_ids.append(rid)
    at = page("evaluation")
    at.run()
    no_exception(at)
    assert at.multiselect(key="eval.experiments").value == ["ui-test"]
    runs = at.dataframe[0].value
    assert set(runs["run_name"]) == {"seed", "tuned"}
    assert "metric.test.bpcer" in runs.columns
    compare = at.dataframe[1].value
    assert "test.bpcer" in compare.index
    assert sorted(compare.loc["test.bpcer"].tolist()) == [0.05, 0.1]
    assert any(m.label == "APCER (max)" for m in at.metric)  # the run's results analyzed


def test_evaluation_without_a_store_says_how_to_make_one(service, project):
    at = page("evaluation")
    at.run()
    assert any("No MLflow store" in i.value for i in at.info)
    assert any("No report under" in i.value for i in at.info)


# -- about -------------------------------------------------------------------------------------

def test_about_shows_the_service_and_types(service, project):
    at = page("about")
    at.run()
    no_exception(at)
    settings = {r["setting"]: r["value"] for r in at.dataframe[0].value.to_dict("records")}
    assert settings["URL"] == service.url and settings["mode"] == "in-process"
    types = at.dataframe[1].value
    assert {"NOSE", "POSE"} <= set(types["type"])
    assert "seed" in set(at.dataframe[-2].value["profile"])


def test_the_studio_names_the_missing_evidence_instead_of_starting(project, monkeypatch):
    """Issue 10: a profile whose check can never get its evidence stops the studio with the
    check and the fix (the real start-up check of the in-process service)."""
    data = project / "svc-data"
    script = "\n".join([
        "import liveness_lab.ui.common as _common",
        "from liveness_lab.ui.service_link import InProcessService, in_process_settings",
        "_common._in_process_service = lambda origins, profile=None: InProcessService(",
        f"    in_process_settings(origins, data_dir={str(data)!r}, analyzer='local',",
        "                        profile='rekognition', config_sets=['nose.pad_check=true'],",
        "                        env='test', test_seed=1)).start()",
        "from liveness_lab.ui.pages import live",
        "live.render()"]) + "\n"
    at = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("cannot start" in e.value for e in at.error)
    text = "\n".join(c.value for c in at.code)
    assert "nose.pad_check (passive PAD) needs a PAD score" in text
    assert "--set nose.pad_check=false" in text
