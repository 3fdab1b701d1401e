"""The columnar dataset cache: exact sessions, same results, invalidation, parsed once."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from builders import make_face
from liveness_lab import sessions as sessions_module
from liveness_lab.engines import ProcessEngine
from liveness_lab.evaluation.dataset_cache import (DatasetCache, dataset_cache_fingerprint,
                                                   ensure_dataset_cache)
from liveness_lab.evaluation.evidence_check import EVIDENCE_SAMPLE
from liveness_lab.evaluation.replay import ReplaySpec, evaluate_dataset, replay_many
from liveness_lab.faces import FaceDetail, Landmark, Pose
from liveness_lab.sessions import (Frame, Session, load_dataset_session, read_manifest,
                                   write_dataset)


@pytest.fixture()
def dataset(tmp_path, small_dataset):
    ds = tmp_path / "ds"
    shutil.copytree(small_dataset, ds)
    return ds


def _cached_sessions(ds, cache_dir):
    entries = read_manifest(ds)
    cache = DatasetCache.for_dataset(ds, cache_dir, entries)
    assert cache.exists()
    return entries, cache.read(range(len(entries)), [str(ds / e.path) for e in entries])


def _odd_sessions(folder):
    """Sessions with what float columns cannot hold as is: ints, extras, odd landmarks."""
    descriptor = {"LivenessLab": {"Descriptor": [0.5] * 128, "PadScore": 0.75}}
    plain = make_face()
    faces = [
        plain,
        FaceDetail.from_rekognition({**plain.to_rekognition(), "Pose": {"Yaw": 12}}),  # int
        FaceDetail.from_rekognition({**plain.to_rekognition(), **descriptor,
                                     "Emotions": [{"Type": "CALM", "Confidence": 90.5}]}),
        FaceDetail(landmarks=(Landmark("nose", 0.5, 0.5), Landmark("nose", 0.6, 0.4),
                              Landmark("myPoint", 0.1, 0.2)), pose=Pose(None, 3.0, None)),
        FaceDetail.from_rekognition({"Confidence": 50.0}),  # no Landmarks key at all
        FaceDetail.from_rekognition({"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1,
                                                     "Top": 0.1}, "Landmarks": []}),
    ]
    frames = [Frame(1000 + 100 * i, (f,)) for i, f in enumerate(faces)]
    frames += [Frame(2000, ()), Frame(2100, faces[:2]), Frame(2200, None, "img.jpg"),
               Frame(2300, (faces[0],), extra={"note": "ünïcode ✓", "n": [1, 2]})]
    params = {"imageWidth": 640, "imageHeight": 480, "pose": {"eyes": "OPEN",
                                                              "mouth": "CLOSED"}}
    yield Session("odd-1", "POSE", params, tuple(frames), "attack", "print_static", "subj-1",
                  "dev", {"camera": {"fps": 12.5}, "big": 2 ** 70}, {"vendor": {"x": None}},
                  source=str(folder / "odd-1.json"))
    nose = {"imageWidth": 640, "imageHeight": 480, "minFaceAreaPercent": 40, "areaLeft": 170,
            "areaTop": 40, "areaWidth": 300, "areaHeight": 400, "noseLeft": 200, "noseTop": 200,
            "noseWidth": 20, "noseHeight": 20}
    yield Session("odd-2", "NOSE", nose, (), "bona_fide", source=str(
        folder / "odd-2.json"))


def test_cached_sessions_equal_the_json_ones_exactly(tmp_path, dataset):
    odd = tmp_path / "odd"
    (odd / "sessions").mkdir(parents=True)
    write_dataset(odd, _odd_sessions(odd / "sessions"))
    for ds in (dataset, odd):
        assert ensure_dataset_cache(ds, tmp_path / "c", engine=ProcessEngine(2),
                                    chunk_size=7) is not None
        entries, cached = _cached_sessions(ds, tmp_path / "c")
        assert len(cached) == len(entries)
        for e, s in zip(entries, cached):
            original = load_dataset_session(ds, e)
            assert s == original and s.source == original.source
            assert s.to_dict() == original.to_dict()
            assert json.dumps(s.to_dict()) == json.dumps(original.to_dict())
            for fa, fb in zip(s.frames, original.frames):
                assert fa.extra == fb.extra
                for x, y in zip(fa.faces or (), fb.faces or ()):
                    assert x.landmark("nose") == y.landmark("nose")
                    for t in ("nose", "myPoint", "chinBottom"):
                        lm = y.landmark(t)
                        assert x.landmark_point(t) == (None if lm is None else (lm.x, lm.y))
                    assert x.landmark_xy() == y.landmark_xy() == (
                        [lm.x for lm in y.landmarks], [lm.y for lm in y.landmarks])
                    assert dict(x.extra) == dict(y.extra)
    assert len(list((tmp_path / "c").glob("*.arrow"))) == 2  # one per dataset


@pytest.mark.parametrize("profile", ["seed", "rekognition"])
def test_results_are_identical_with_and_without_the_cache(tmp_path, dataset, profile):
    plain = evaluate_dataset(dataset, profile=profile, workers=1)
    first = evaluate_dataset(dataset, profile=profile, workers=2, dataset_cache=tmp_path / "c")
    again = evaluate_dataset(dataset, profile=profile, workers=1, dataset_cache=tmp_path / "c")
    assert first.equals(plain) and again.equals(plain)
    assert len(list((tmp_path / "c").glob("*.arrow"))) == 1


def _results_of(ds, cache_dir):
    return evaluate_dataset(ds, profile="seed", workers=1, dataset_cache=cache_dir)


def _flip_a_verdict(ds) -> str:
    """Rewrite one session so that its verdict changes; return its id."""
    base = evaluate_dataset(ds, profile="seed", workers=1)
    sid = base[base.success].session_id.iloc[0]
    entry = next(e for e in read_manifest(ds) if e.session_id == sid)
    path = ds / entry.path
    doc = json.loads(path.read_text())
    for fr in doc["frames"]:
        fr["faces"] = []  # no face in any frame: the session cannot pass
    path.write_text(json.dumps(doc))
    return sid


def test_a_changed_session_file_invalidates_the_cache(tmp_path, dataset):
    cache_dir = tmp_path / "c"
    before = _results_of(dataset, cache_dir)
    old_files = set(cache_dir.glob("*.arrow"))
    sid = _flip_a_verdict(dataset)
    after = _results_of(dataset, cache_dir)
    assert after.equals(evaluate_dataset(dataset, profile="seed", workers=1))  # the JSON's
    assert bool(before.set_index("session_id").success[sid])
    assert not bool(after.set_index("session_id").success[sid])
    new_files = set(cache_dir.glob("*.arrow"))
    assert len(new_files) == 1 and not new_files & old_files  # the stale cache is gone


def test_a_same_size_rewrite_with_the_old_mtime_is_still_detected(tmp_path, dataset):
    entries = read_manifest(dataset)
    path = dataset / entries[0].path
    fp = dataset_cache_fingerprint(dataset, entries)
    st = os.stat(path)
    text = path.read_text()
    swapped = text.replace('"split":"train"', '"split":"test!"', 1) \
        if '"split":"train"' in text else text[:-1] + " "
    assert len(swapped.encode()) == st.st_size
    path.write_text(swapped)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # what cp -p / rsync -t do
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert dataset_cache_fingerprint(dataset, entries) != fp


def test_a_sweep_of_fifty_configurations_parses_each_session_once(tmp_path, dataset,
                                                                  monkeypatch):
    calls = []
    real = sessions_module.session_from_dict
    monkeypatch.setattr(sessions_module, "session_from_dict",
                        lambda d, **kw: calls.append(d["id"]) or real(d, **kw))
    n = len(read_manifest(dataset))
    specs = [ReplaySpec("seed", sets=(f"nose.min_dist={0.05 + i / 500:.4f}",)) for i in range(50)]
    with ProcessEngine(1) as engine:
        dev = replay_many(dataset, specs, engine=engine, splits=["dev"],
                          dataset_cache=tmp_path / "c", check_evidence=False)
        test = replay_many(dataset, specs[:1], engine=engine, splits=["test"],
                           dataset_cache=tmp_path / "c", check_evidence=False)
        again = replay_many(dataset, specs, engine=engine, dataset_cache=tmp_path / "c",
                            check_evidence=False)
        assert sorted(calls) == sorted(e.session_id for e in read_manifest(dataset))
        assert len(calls) == n
        # the evidence check reads its bounded sample from the warm cache: no JSON at all
        calls.clear()
        replay_many(dataset, specs, engine=engine, dataset_cache=tmp_path / "c")
        assert calls == []
        # without a cache it reads a bounded sample of JSON documents, not the dataset
        replay_many(dataset, specs[:1], engine=engine, splits=["dev"])
    types = {e.challenge_type for e in read_manifest(dataset)}
    replayed = sum(e.split == "dev" for e in read_manifest(dataset))
    assert 0 < len(calls) - replayed <= EVIDENCE_SAMPLE * len(types)
    assert all(len(df) == len(dev[0]) for df in dev) and len(test[0]) and len(again[0]) == n
    plain = replay_many(dataset, specs[:3], engine=ProcessEngine(1), splits=["dev"])
    assert all(a.equals(b) for a, b in zip(plain, dev[:3]))


def test_the_evidence_check_still_refuses_a_profile_when_it_reads_the_cache(tmp_path,
                                                                          dataset):
    from liveness_lab.evidence import MissingEvidenceError
    evaluate_dataset(dataset, profile="seed", workers=1, dataset_cache=tmp_path / "c")
    with pytest.raises(MissingEvidenceError, match="PadScore|PAD"):
        evaluate_dataset(dataset, profile="seed", sets=("nose.pad_check=true",), workers=1,
                         dataset_cache=tmp_path / "c")


def test_a_broken_cache_file_is_rebuilt(tmp_path, dataset):
    reference = _results_of(dataset, tmp_path / "c")
    (cache_file,) = (tmp_path / "c").glob("*.arrow")
    cache_file.write_bytes(cache_file.read_bytes()[:100])
    from liveness_lab.evaluation import dataset_cache
    dataset_cache._TABLES.clear()
    assert _results_of(dataset, tmp_path / "c").equals(reference)
    assert cache_file.stat().st_size > 100


def test_a_malformed_session_fails_the_build_and_leaves_no_cache(tmp_path, dataset):
    victim = sorted((dataset / "sessions").glob("*.json"))[2]
    doc = json.loads(victim.read_text())
    doc["frames"][1]["faces"][0]["BoundingBox"]["Width"] = "wide"
    victim.write_text(json.dumps(doc))
    from liveness_lab.errors import SessionFormatError
    with pytest.raises(SessionFormatError, match="Width must be a number"):
        _results_of(dataset, tmp_path / "c")
    assert not list((tmp_path / "c").glob("*.arrow"))


def test_an_unwritable_cache_folder_warns_and_reads_the_json(tmp_path, dataset):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="cannot write the dataset cache"):
        df = _results_of(dataset, blocker / "c")
    assert df.equals(evaluate_dataset(dataset, profile="seed", workers=1))


def test_the_evaluate_command_uses_the_cache_folder_it_is_given(tmp_path, dataset, capsys):
    from liveness_lab.cli import main
    base = ["evaluate", str(dataset), "--profile", "seed", "--workers", "1", "--quiet"]
    assert main(base + ["--dataset-cache", str(tmp_path / "c"), "-o", str(tmp_path / "a.csv")]) == 0
    assert len(list((tmp_path / "c").glob("*.arrow"))) == 1
    assert main(base + ["--dataset-cache", str(tmp_path / "c"), "-o", str(tmp_path / "b.csv")]) == 0
    assert main(base + ["--no-dataset-cache", "-o", str(tmp_path / "n.csv")]) == 0
    a, b, n = ((tmp_path / f).read_text() for f in ("a.csv", "b.csv", "n.csv"))
    assert a == b == n


@pytest.mark.parametrize("root", ["/a/b", "a", ".", "/", "a/b/.."])
@pytest.mark.parametrize("rel", ["s/x.json", "x.json", "./x.json", "s//x.json", "s/./x.json",
                                 "/abs/x.json", "s/x.json/", "../x.json", "s/..", ".", "s/."])
def test_session_paths_are_the_pathlib_strings(root, rel):
    from pathlib import Path

    from liveness_lab.evaluation.replay import _session_path
    normalised = str(Path(root))
    assert _session_path(normalised, rel) == str(Path(normalised) / rel)
