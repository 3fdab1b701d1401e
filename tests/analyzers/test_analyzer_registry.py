"""The analyzer registry, the recorded analyzer and the ``detect`` CLI hook."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from importlib.metadata import EntryPoint

import cv2
import numpy as np
import pytest

import liveness_lab.analyzers as analyzers
import liveness_lab.plugins as plugins
from liveness_lab.analyzers import (AnalyzerEntry, FaceAnalyzer, analyzer_descriptions,
                                    analyzer_names, create_analyzer, make_analyzer_registry,
                                    register_analyzer)
from liveness_lab.analyzers.cli import add_detect_command
from liveness_lab.errors import AnalyzerUnavailableError, UnknownAnalyzer
from liveness_lab.faces import FaceDetail


class _Fixed(FaceAnalyzer):
    """Always the same face (a test double)."""

    name = "fixed"

    def __init__(self, confidence: float = 99.0) -> None:
        self.confidence = confidence

    def analyze(self, image):
        return [FaceDetail(confidence=self.confidence)]


@pytest.fixture
def cleanup():
    added: list[str] = []
    yield added
    for name in added:
        analyzers.analyzer_registry.unregister(name)


# -- registry ------------------------------------------------------------------------------------

def test_built_ins_are_registered_with_descriptions():
    assert {"local", "rekognition", "recorded"} <= set(analyzer_names())
    descriptions = analyzer_descriptions()
    assert "dlib" in descriptions["local"] and "Rekognition" in descriptions["rekognition"]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownAnalyzer, match="unknown analyzer 'dlib-cnn'; known: .*local.*"
                                              "recorded.*rekognition"):
        create_analyzer("dlib-cnn")
    with pytest.raises(KeyError):  # UnknownAnalyzer is also a KeyError
        create_analyzer("nope")


def test_names_are_case_insensitive_and_options_reach_the_analyzer():
    a = create_analyzer(" Local ", landmarks="5", redetect_interval=3)
    assert a.name == "local"
    assert (a.config.landmarks, a.config.redetect_interval) == ("5", 3)
    assert a._models is None  # creating an analyzer loads no model


def test_bad_options_are_value_errors():
    with pytest.raises(ValueError, match="unknown local analyzer setting"):
        create_analyzer("local", landmark="5")
    with pytest.raises(ValueError, match="takes no options"):
        create_analyzer("recorded", anything=1)


def test_recorded_analyzer_explains_that_it_has_no_model():
    recorded = create_analyzer("recorded")
    assert recorded.config_fingerprint() == "recorded"
    with pytest.raises(AnalyzerUnavailableError, match="only replays the faces stored in session"):
        recorded.analyze(np.zeros((10, 10, 3), np.uint8))


def test_rekognition_factory_passes_the_injected_client():
    client = types.SimpleNamespace(meta=types.SimpleNamespace(region_name="eu-west-1"))
    a = create_analyzer("rekognition", client=client, max_workers=3)
    assert type(a).__name__ == "RekognitionAnalyzer"
    assert a.client is client and a.max_workers == 3


def test_register_and_replace(cleanup):
    entry = register_analyzer("fixed", _Fixed, "a test double")
    cleanup.append("fixed")
    assert isinstance(entry, AnalyzerEntry) and "fixed" in analyzer_names()
    assert create_analyzer("FIXED", confidence=50.0).analyze(b"")[0].confidence == 50.0
    with pytest.raises(ValueError, match="already registered"):
        register_analyzer("fixed", _Fixed)
    register_analyzer("fixed", lambda **kw: _Fixed(12.0), replace=True)
    assert create_analyzer("fixed").analyze(b"")[0].confidence == 12.0


def test_a_factory_must_return_an_analyzer(cleanup):
    register_analyzer("broken", lambda **kw: "not an analyzer")
    cleanup.append("broken")
    with pytest.raises(TypeError, match="no analyze"):
        create_analyzer("broken")


def test_entries_are_validated():
    with pytest.raises(ValueError, match="non-empty"):
        AnalyzerEntry("", _Fixed)
    with pytest.raises(ValueError, match="callable"):
        AnalyzerEntry("x", "not callable")  # type: ignore[arg-type]


def test_entry_points_add_analyzers_and_a_broken_one_only_warns(monkeypatch):
    module = types.ModuleType("fake_analyzer_plugin")
    module.FixedAnalyzer = _Fixed
    module.ENTRIES = [AnalyzerEntry("other", lambda **kw: _Fixed(1.0), "another one")]
    monkeypatch.setitem(sys.modules, "fake_analyzer_plugin", module)
    group = analyzers.ENTRY_POINT_GROUP
    eps = [EntryPoint("fixed", "fake_analyzer_plugin:FixedAnalyzer", group),
           EntryPoint("others", "fake_analyzer_plugin:ENTRIES", group),
           EntryPoint("bad", "fake_analyzer_plugin:missing", group),
           EntryPoint("clash", "fake_analyzer_plugin:ENTRIES", group)]
    monkeypatch.setattr(plugins, "entry_points",
                        lambda group=None: [ep for ep in eps if ep.group == group])
    registry = make_analyzer_registry()
    with pytest.warns(plugins.PluginWarning) as warned:
        added = registry.discover()
    assert added == ["fixed", "other"]
    assert any("'bad'" in str(w.message) for w in warned)
    assert any("redefines 'other'" in str(w.message) for w in warned)
    assert registry.get("fixed").factory is _Fixed
    assert registry.get("fixed").description == "Always the same face (a test double)."
    assert "fixed" not in analyzers.analyzer_registry  # the shared registry is untouched


def test_importing_the_package_loads_no_model_sdk_or_opencv():
    code = ("import sys, liveness_lab.analyzers as a; a.analyzer_names(); "
            "print(sorted(m for m in ('cv2', 'dlib', 'boto3', 'botocore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_analyzer_classes_are_importable_lazily_from_the_package():
    from liveness_lab.analyzers import LocalAnalyzer, RecordedAnalyzer
    from liveness_lab.analyzers.local import LocalAnalyzer as Direct

    assert LocalAnalyzer is Direct and RecordedAnalyzer.name == "recorded"
    with pytest.raises(AttributeError):
        analyzers.NoSuchAnalyzer  # noqa: B018


# -- the detect command -------------------------------------------------------------------------

def _run(argv, capsys):
    parser = argparse.ArgumentParser(prog="liveness-lab")
    sub = parser.add_subparsers(dest="command")
    add_detect_command(sub)
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("detect") / "astronaut.png"
    ok, buf = cv2.imencode(".png", cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    path.write_bytes(buf.tobytes())
    return path


def test_detect_prints_rekognition_json(astronaut_png, capsys):
    code, out, err = _run(["detect", str(astronaut_png)], capsys)
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert list(doc) == ["FaceDetails"] and len(doc["FaceDetails"]) == 1
    face = doc["FaceDetails"][0]
    assert {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence", "EyesOpen", "MouthOpen",
            "Smile"} <= set(face)
    assert out.startswith('{\n    "FaceDetails": [\n        {\n            "BoundingBox"')
    assert FaceDetail.from_rekognition(face).to_rekognition() == face


def test_detect_with_5_landmarks_omits_the_attributes(astronaut_png, capsys):
    code, out, _ = _run(["detect", str(astronaut_png), "--landmarks", "5"], capsys)
    face = json.loads(out)["FaceDetails"][0]
    assert code == 0 and "EyesOpen" not in face and "Pose" in face


def test_detect_no_face_is_an_empty_list(tmp_path, capsys):
    path = tmp_path / "blank.png"
    ok, buf = cv2.imencode(".png", np.full((120, 160, 3), 128, np.uint8))
    path.write_bytes(buf.tobytes())
    code, out, _ = _run(["detect", str(path)], capsys)
    assert code == 0 and json.loads(out) == {"FaceDetails": []}


@pytest.mark.parametrize("content", [b"plain text, not a picture\n", b"\xff\xd8\xff\xe0\x00\x10JF",
                                     None])
def test_detect_bad_or_missing_file_is_one_line_and_exit_2(tmp_path, capsys, content):
    path = tmp_path / "frame.jpg"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(["detect", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("liveness-lab detect: error:") and "frame.jpg" in err


@pytest.mark.parametrize("argv, message", [
    (["--analyzer", "rekognition", "--landmarks", "5"], "local analyzer only"),
    (["--analyzer", "cnn"], "unknown analyzer 'cnn'; use one of: local, mesh, rekognition"),
    (["--analyzer", "recorded"], "unknown analyzer 'recorded'"),
])
def test_detect_usage_errors(astronaut_png, capsys, argv, message):
    code, out, err = _run(["detect", str(astronaut_png), *argv], capsys)
    assert code == 2 and out == "" and message in err


def test_detect_is_wired_into_the_main_cli(astronaut_png, capsys):
    from liveness_lab.cli import main

    assert main(["detect", str(astronaut_png), "--landmarks", "5"]) == 0
    assert len(json.loads(capsys.readouterr().out)["FaceDetails"]) == 1
