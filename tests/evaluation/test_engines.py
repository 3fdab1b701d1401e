"""Engines: the process pool and Dask (a local cluster) give the same results as replay."""

from __future__ import annotations

import json
import shutil

import pytest

from liveness_lab.errors import ConfigError, SessionFormatError
from liveness_lab.analysis import analyze_dataset
from liveness_lab.engines import DaskEngine, ProcessEngine, make_engine
from liveness_lab.evaluation.replay import ReplaySpec, evaluate_dataset, replay_many


@pytest.fixture(scope="module")
def dask_engine():
    engine = DaskEngine(n_workers=2)  # LocalCluster(processes=True, threads_per_worker=1)
    yield engine
    engine.close()


def test_process_engine_equals_evaluate_dataset(small_dataset, small_results):
    df = evaluate_dataset(small_dataset, profile="seed", engine="process", workers=2)
    assert df.equals(small_results)


def test_dask_engine_equals_process_pool(small_dataset, small_results, dask_engine):
    df = evaluate_dataset(small_dataset, profile="seed", engine=dask_engine)
    assert df.equals(small_results)
    assert dask_engine.describe().startswith("dask (local cluster")


def test_replay_many_equals_separate_evaluations(small_dataset, dask_engine):
    specs = [ReplaySpec("seed", sets=("nose.min_dist=0.05",)),
             ReplaySpec("seed", sets=("nose.min_dist=0.2",)),
             ReplaySpec("seed", overrides={"POSE": {"max_rotation": 10}})]
    with ProcessEngine(2) as pool:
        on_pool = replay_many(small_dataset, specs, engine=pool, splits=["dev"])
    on_dask = replay_many(small_dataset, specs, engine=dask_engine, splits=["dev"])
    for spec, a, b in zip(specs, on_pool, on_dask):
        ref = evaluate_dataset(small_dataset, profile="seed", sets=spec.sets,
                               overrides=spec.overrides, workers=1)
        ref = ref[ref["split"] == "dev"].reset_index(drop=True)
        assert a.equals(ref) and b.equals(ref)
    assert on_pool[0]["success"].sum() >= on_pool[1]["success"].sum()


def test_errors_cross_the_engines(tmp_path, small_dataset, dask_engine):
    ds = tmp_path / "broken"
    shutil.copytree(small_dataset, ds)
    victim = sorted((ds / "sessions").glob("*.json"))[3]
    doc = json.loads(victim.read_text())
    doc["frames"][0]["timestamp"] = -5
    victim.write_text(json.dumps(doc))
    for engine in (ProcessEngine(2), dask_engine):
        with pytest.raises(SessionFormatError, match="timestamp"):
            evaluate_dataset(ds, engine=engine, chunk_size=4)
    with pytest.raises(ConfigError, match="unknown key"):
        replay_many(small_dataset, [ReplaySpec(sets=("nose.nope=1",))], engine=ProcessEngine(1))


def test_make_engine():
    assert isinstance(make_engine(None), ProcessEngine)
    assert make_engine("process", workers=3).parallelism == 3
    assert make_engine("tcp://127.0.0.1:1").address == "tcp://127.0.0.1:1"
    with pytest.raises(ConfigError, match="unknown engine 'ray'"):
        make_engine("ray")
    with pytest.raises(ConfigError, match="positive integer"):
        ProcessEngine(0)


def test_analyze_with_engine_fills_image_only_frames(tmp_path):
    from builders import make_face
    from liveness_lab.analyzers import FaceAnalyzer, register_analyzer
    from liveness_lab.sessions import Frame, Session, iter_dataset, write_dataset

    class Fake(FaceAnalyzer):
        name = "fake-eval"

        def analyze(self, image):
            return [make_face()] if image == b"face" else []

    register_analyzer("fake-eval", Fake, replace=True)
    ds = tmp_path / "imgs"
    sessions = []
    for i in range(3):
        folder = ds / "sessions"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.jpg").write_bytes(b"face" if i else b"none")
        sessions.append(Session(f"s{i}", "POSE", {"imageWidth": 640, "imageHeight": 480,
                                                  "pose": {"eyes": "OPEN", "mouth": "CLOSED"}},
                                (Frame(1000, None, f"f{i}.jpg"),), "bona_fide",
                                source=str(folder / f"s{i}.json")))
    write_dataset(ds, sessions)
    stats = analyze_dataset(ds, engine=ProcessEngine(1), analyzer="fake-eval",
                                cache_path=None)
    assert (stats.sessions, stats.sessions_changed, stats.frames_analyzed) == (3, 3, 3)
    faces = [s.frames[0].faces for s in iter_dataset(ds)]
    assert [len(f) for f in faces] == [0, 1, 1]


def test_evaluate_dataset_delegates_to_an_engine(small_dataset, small_results, dask_engine):
    assert evaluate_dataset(small_dataset, profile="seed", engine=dask_engine).equals(small_results)
    assert evaluate_dataset(small_dataset, profile="seed", engine="process", workers=1).equals(small_results)
