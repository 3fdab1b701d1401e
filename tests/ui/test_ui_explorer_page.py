"""Streamlit ``AppTest`` tests of the Session explorer page (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

import ui_helpers
from liveness_lab.sessions import write_dataset
from page_helpers import no_exception, now_ms, page, verdicts

# -- session explorer --------------------------------------------------------------------------

def _dataset(root: Path) -> Path:
    from liveness_lab.challenges import SeededRandom, default_registry
    from liveness_lab.sessions import Frame, Session

    nose = default_registry().get("NOSE")
    params = nose.generate_params({"imageWidth": 640, "imageHeight": 480}, rng=SeededRandom(3))
    sessions = []
    for sid, species in (("bf-1", None), ("at-1", "print_moved")):
        frames = ui_helpers.simulated_frames("NOSE", params, start_ms=1_700_000_000_000,
                                             species=species)
        sessions.append(Session(sid, "NOSE", params, tuple(Frame(ts, faces) for ts, faces in
                                                           frames),
                                "attack" if species else "bona_fide", species))
    return write_dataset(root / "datasets" / "sim", sessions)


def test_explorer_reruns_the_verifier_with_edited_thresholds(service, project):
    _dataset(project)
    at = page("explorer")
    at.run()
    no_exception(at)
    assert at.selectbox(key="explorer.dataset_choice").value.endswith("sim")
    assert at.selectbox(key="explorer.session_id").value == "bf-1"
    assert verdicts(at) == ["PASS", "PASS"]  # seed profile, and the same unedited
    assert len(at.get("vega_lite_chart")) >= 3
    key = "explorer.cfg.seed.NOSE.min_dist"
    assert at.number_input(key=key).value == pytest.approx(0.1)
    at.number_input(key=key).set_value(5.0).run()
    no_exception(at)
    assert verdicts(at) == ["PASS", "FAIL"]
    assert any("changes the decision" in i.value for i in at.info)
    # the first frame: landmarks on a blank canvas (no image) and the verifier's steps there
    assert "blank canvas" in at.image[0].captions[0]
    assert any("`face_state` → **next**" in m.value for m in at.markdown)
    slider = at.slider(key="explorer.frame")
    slider.set_value(slider.max).run()
    assert at.image[0].captions[0].startswith(f"frame {int(slider.max)} ")
    assert " s · " in at.image[0].captions[0]  # seconds since the start, not epoch ms
    at.button(key="explorer.prev").click().run()
    assert at.image[0].captions[0].startswith(f"frame {int(slider.max) - 1} ")
    # thresholds by step, typed: the enumeration is a choice, not free text
    assert at.selectbox(key="explorer.cfg.seed.NOSE.multiple_faces").options == ["first", "fail"]
    # the edited thresholds over the whole dataset: the bona fide session is now rejected
    at.button(key="explorer.rerun").click().run()
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sessions"] == "2" and metrics["Bona fide rejected"] == "1"
    table = next(d.value for d in at.dataframe if "misclassified" in d.value.columns)
    assert list(table["session_id"]) == ["bf-1"] and bool(table["misclassified"].iloc[0])
    # filter the manifest to the attack
    at.multiselect(key="explorer.f_label").set_value(["attack"]).run()
    assert at.selectbox(key="explorer.session_id").value == "at-1"


def test_explorer_opens_a_session_file_and_analyzes_image_frames(service, project, monkeypatch):
    from liveness_lab.sessions import Frame, Session, write_session

    folder = project / "one"
    (folder / "frames").mkdir(parents=True)
    (folder / "frames" / "1.jpg").write_bytes(ui_helpers.jpeg(32, 24))
    params = {"imageWidth": 32, "imageHeight": 24, "pose": {"eyes": "OPEN", "mouth": "CLOSED"}}
    write_session(Session("img-1", "POSE", params, (Frame(1000, None, "frames/1.jpg"),),
                          "bona_fide"), folder / "session.json")
    at = page("explorer")
    at.run()
    at.button_group(key="explorer.source").set_value("Session file").run()
    at.text_input(key="explorer.file_path").set_value(str(folder / "session.json")).run()
    no_exception(at)
    assert any("have no recorded faces" in w.value for w in at.warning)
    assert at.image[0].captions[0].endswith("image with landmarks")

    class NoFace:
        def analyze(self, image):
            return []

        def close(self):
            pass

    monkeypatch.setattr("liveness_lab.analyzers.create_analyzer", lambda name, **kw: NoFace())
    at.button(key="explorer.analyze").click().run()
    no_exception(at)
    assert verdicts(at) == ["FAIL", "FAIL"]  # analyzed: no face in the picture


def test_explorer_opens_a_live_challenge(service, project):
    ch = ui_helpers.create_challenge(service.url, "NOSE")
    frames = ui_helpers.simulated_frames("NOSE", ch["params"], start_ms=now_ms())
    ui_helpers.push_frames(service.url, ch, frames)
    at = page("explorer")
    at.session_state["studio.history"] = [{"id": ch["id"], "token": ch["token"], "type": "NOSE",
                                           "params": ch["params"], "in_process": True,
                                           "verdict": {"success": True}}]
    at.session_state["explorer.open_live"] = ch["id"]
    at.run()
    no_exception(at)
    assert at.button_group(key="explorer.source").value == "Live challenge"
    assert verdicts(at) == ["PASS", "PASS"]
    assert at.image[0].captions[0].endswith("image with landmarks")


def test_explorer_opens_a_recording_from_the_record_page(service, project):
    folder = _dataset(project)
    at = page("explorer")
    at.session_state["explorer.open_dataset"] = {"folder": str(folder), "session": "at-1"}
    at.run()
    no_exception(at)
    assert at.button_group(key="explorer.source").value == "Dataset"
    assert at.selectbox(key="explorer.session_id").value == "at-1"
    assert at.session_state["explorer.session"].id == "at-1"


def test_an_edit_reverifies_the_session_only_and_rebuilds_no_face_track_chart(
        service, project, monkeypatch):
    """What a threshold edit re-runs: the edited verdict and what follows it, nothing else
    (the unedited verdict, the face track and its charts are computed once per session)."""
    from liveness_lab.ui import charts, explorer_data
    from liveness_lab.ui.pages import explorer

    _dataset(project)
    calls: dict[str, int] = {}

    def counting(module, name):
        real = getattr(module, name)

        def wrapper(*a, **kw):
            calls[name] = calls.get(name, 0) + 1
            return real(*a, **kw)
        monkeypatch.setattr(module, name, wrapper)

    for name in ("nose_path_chart", "nose_vs_target_chart", "head_pose_chart",
                 "attributes_chart", "state_timeline_chart"):
        counting(charts, name)
    counting(explorer_data, "verify_with")
    monkeypatch.setattr(explorer, "verify_with", explorer_data.verify_with)
    at = page("explorer")
    at.run()
    no_exception(at)
    assert calls == {"verify_with": 1, "nose_path_chart": 1, "nose_vs_target_chart": 1,
                     "head_pose_chart": 1, "attributes_chart": 1, "state_timeline_chart": 1}
    key = "explorer.cfg.seed.NOSE.min_dist"
    at.number_input(key=key).set_value(5.0).run()
    assert verdicts(at) == ["PASS", "FAIL"]
    at.number_input(key=key).set_value(0.2).run()
    at.number_input(key=key).set_value(5.0).run()   # an edit seen before: nothing re-runs
    no_exception(at)
    assert verdicts(at) == ["PASS", "FAIL"]
    # one verification per new edit (the unedited one is kept), face-track charts unchanged
    assert calls["verify_with"] == 3, calls
    assert calls["state_timeline_chart"] == 4, calls  # follows the edited trace
    assert all(calls[n] == 1 for n in ("nose_path_chart", "nose_vs_target_chart",
                                       "head_pose_chart", "attributes_chart")), calls
    assert len(at.get("vega_lite_chart")) >= 3
    # a threshold a chart draws rebuilds that chart
    at.number_input(key="explorer.cfg.seed.NOSE.rotation_threshold").set_value(12.0).run()
    no_exception(at)
    assert calls["head_pose_chart"] == 2 and calls["nose_path_chart"] == 1, calls
