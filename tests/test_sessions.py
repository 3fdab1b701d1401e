"""Session and dataset format: read/write exactly per the spec, errors name file/session/field."""

from __future__ import annotations

import json

import pytest

from builders import NOSE_PARAMS, T0, make_face
from liveness_lab.errors import SessionFormatError
from liveness_lab.sessions import (FORMAT, Frame, Session, read_manifest, read_session,
                                   write_dataset, write_session)


def doc(**changes):
    d = {"format": FORMAT, "id": "s-000123",
         "challenge": {"type": "NOSE", "params": dict(NOSE_PARAMS)},
         "label": "bona_fide", "pai_species": None, "subject_id": "subj-017", "split": "test",
         "frames": [{"timestamp": T0 + 100, "image": "frames/000002.jpg",
                     "faces": [make_face().to_rekognition()]},
                    {"timestamp": T0, "image": "frames/000001.jpg"}],
         "metadata": {"camera": "fake"}}
    d.update(changes)
    return d


def test_round_trip_preserves_the_document(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc(extra_field={"kept": True})))
    s = read_session(p)
    assert s.frames[1].faces is None and s.frames[0].faces[0].confidence == 99.9
    assert [f.timestamp for f in s.sorted_frames()] == [T0, T0 + 100]
    assert s.image_path(s.frames[1]) == (tmp_path / "frames/000001.jpg").resolve()
    out = tmp_path / "out.json"
    write_session(s, out)
    assert json.loads(out.read_text()) == doc(extra_field={"kept": True})


def test_empty_faces_means_analyzed_no_face(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc(frames=[{"timestamp": T0, "faces": []}])))
    assert read_session(p).frames[0].faces == ()


@pytest.mark.parametrize("changes,field", [
    ({"format": "other@2"}, "format"),
    ({"label": "live"}, "label"),
    ({"pai_species": "print"}, "pai_species"),
    ({"split": "validation"}, "split"),
    ({"challenge": {"type": "NOSE"}}, "challenge.params"),
    ({"frames": [{"timestamp": "soon", "faces": []}]}, "frames[0].timestamp"),
    ({"frames": [{"timestamp": 1.5, "faces": []}]}, "frames[0].timestamp"),
    ({"frames": [{"timestamp": T0}]}, "frames[0]"),
    ({"frames": [{"timestamp": T0, "faces": [{"Pose": {"Yaw": "left"}}]}]}, "frames[0].faces"),
    ({"metadata": []}, "metadata"),
])
def test_malformed_session_names_file_session_and_field(tmp_path, changes, field):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc(**changes)))
    with pytest.raises(SessionFormatError) as e:
        read_session(p)
    assert e.value.field == field and str(p) in str(e.value) and "s-000123" in str(e.value)


def test_invalid_json_names_the_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"id": "x",\n  oops}')
    with pytest.raises(SessionFormatError, match=r"bad.json.*line 2"):
        read_session(p)


def test_dataset_write_and_manifest(tmp_path):
    sessions = [Session(f"s-{i}", "NOSE", dict(NOSE_PARAMS),
                        (Frame(T0, (make_face(),)),), "attack" if i % 2 else "bona_fide",
                        "print_static" if i % 2 else None, f"subj-{i // 2}", "dev")
                for i in range(4)]
    root = write_dataset(tmp_path / "ds", sessions)
    header = (root / "manifest.csv").read_text().splitlines()[0]
    assert header == "session_id,path,label,pai_species,subject_id,split,challenge_type"
    entries = read_manifest(root)
    assert [e.session_id for e in entries] == ["s-0", "s-1", "s-2", "s-3"]
    assert entries[1].pai_species == "print_static" and entries[0].pai_species is None
    assert read_session(root / entries[3].path) == sessions[3]


@pytest.mark.parametrize("manifest,field", [
    ("session_id,path,label\n", "header"),
    ("session_id,path,label,pai_species,subject_id,split,challenge_type\n"
     "s-1,missing.json,bona_fide,,,,NOSE\n", "path"),
    ("session_id,path,label,pai_species,subject_id,split,challenge_type\n"
     "s-1,s.json,maybe,,,,NOSE\n", "label"),
])
def test_malformed_manifest(tmp_path, manifest, field):
    (tmp_path / "s.json").write_text(json.dumps(doc()))
    (tmp_path / "manifest.csv").write_text(manifest)
    with pytest.raises(SessionFormatError) as e:
        read_manifest(tmp_path)
    assert e.value.field == field and "manifest.csv" in str(e.value)


def test_atomic_write_never_replaces_a_device(tmp_path):
    import os
    import stat

    from liveness_lab.sessions import atomic_write_text
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        atomic_write_text(fifo, "hello")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        assert os.read(fd, 10) == b"hello"
    finally:
        os.close(fd)
    atomic_write_text(tmp_path / "f.txt", "x")
    assert (tmp_path / "f.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dataset_writer_refuses_a_subject_in_two_splits(tmp_path):
    def session(i, subject, split):
        return Session(f"s-{i}", "NOSE", dict(NOSE_PARAMS), (Frame(T0, (make_face(),)),),
                       "bona_fide", None, subject, split)
    leaky = [session(0, "subj-1", "dev"), session(1, "subj-2", "test"),
             session(2, "subj-1", "test")]
    with pytest.raises(ValueError, match=r"subject 'subj-1' is in split 'dev' \(session 's-0'\) "
                                         r"and in split 'test' \(session 's-2'\)"):
        write_dataset(tmp_path / "ds", leaky)
    assert not (tmp_path / "ds").exists()  # refused before anything was written
    ok = [session(0, "subj-1", "dev"), session(1, "subj-1", "dev"), session(2, None, "test"),
          session(3, "subj-2", None), session(4, "subj-2", "test")]
    write_dataset(tmp_path / "ok", ok)
    assert len(read_manifest(tmp_path / "ok")) == 5
