"""Tests of the content-addressed analysis cache and the cached analyzer."""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import pickle
import sqlite3
import sys
import threading

import numpy as np
import pytest

from liveness_lab.analyzers.base import FaceAnalyzer
from liveness_lab.analyzers.cache import (DEFAULT_CACHE_PATH, AnalysisCache, CachedAnalyzer,
                                          CacheKey, add_cache_command, image_digest)
from liveness_lab.errors import AnalysisCacheError, AnalyzerError
from liveness_lab.faces import (BoolAttribute, BoundingBox, FaceDetail, Landmark, Pose,
                                faces_to_rekognition)


def make_face(yaw: float = 0.0, left: float = 0.3) -> FaceDetail:
    return FaceDetail(bounding_box=BoundingBox(left, 0.2, 0.3, 0.5),
                      landmarks=(Landmark("nose", left + 0.15, 0.5),
                                 Landmark("eyeLeft", left + 0.08, 0.38)),
                      pose=Pose(roll=0.5, yaw=yaw, pitch=-2.0),
                      eyes_open=BoolAttribute(True, 97.5), confidence=99.9,
                      extra={"Gender": {"Value": "Female", "Confidence": 99.1}})


def faces_for(n: int) -> list[FaceDetail]:
    """The analysis the fake analyzer (and the multiprocess workers) give for item ``n``."""
    return [make_face(yaw=float(n) + k / 10, left=0.1 * k) for k in range(n % 3)]


def key_for(n: int, analyzer: str = "fake", fingerprint: str = "v1") -> CacheKey:
    return CacheKey(hashlib.sha256(f"image {n}".encode()).hexdigest(), analyzer, fingerprint)


class FakeAnalyzer(FaceAnalyzer):
    """Deterministic analyzer: the image's first byte ``n`` gives ``faces_for(n)``."""

    name = "fake"

    def __init__(self, fingerprint: str = "v1") -> None:
        self.fingerprint = fingerprint
        self.analyzed: list[bytes] = []
        self.batches: list[int] = []
        self.closed = False

    def analyze(self, image):
        data = bytes(image) if not isinstance(image, np.ndarray) else image.tobytes()
        self.analyzed.append(data)
        return faces_for(data[0])

    def analyze_batch(self, images):
        images = list(images)
        self.batches.append(len(images))
        return [self.analyze(img) for img in images]

    def config_fingerprint(self) -> str:
        return self.fingerprint

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def cache(tmp_path):
    with AnalysisCache(tmp_path / "nested" / "analysis-cache.sqlite") as c:
        yield c


# -- keys --------------------------------------------------------------------------------------

def test_digest_of_bytes_is_plain_sha256():
    data = b"\xff\xd8\xff some jpeg"
    assert image_digest(data) == hashlib.sha256(data).hexdigest()
    assert image_digest(bytearray(data)) == image_digest(memoryview(data)) == image_digest(data)


def test_digest_of_arrays_covers_dtype_shape_and_pixels():
    a = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert image_digest(a) == image_digest(a.copy())
    assert image_digest(a) != image_digest(a.reshape(4, 2, 3))  # same bytes, other shape
    assert image_digest(a) != image_digest(a.astype(np.int8))  # same bytes, other dtype
    b = a.copy()
    b[1, 2, 0] += 1
    assert image_digest(a) != image_digest(b)
    view = np.arange(48, dtype=np.uint8).reshape(2, 8, 3)[:, ::2]  # not contiguous
    assert image_digest(view) == image_digest(np.ascontiguousarray(view))
    assert image_digest(a) != image_digest(a.tobytes())


def test_key_digest_depends_on_every_part():
    base = key_for(1)
    assert base.digest == key_for(1).digest
    assert len({base.digest, key_for(2).digest, key_for(1, analyzer="local").digest,
                key_for(1, fingerprint="v2").digest}) == 4


@pytest.mark.parametrize("args, match", [
    (("abc", "fake", ""), "64 lowercase hex"),
    (("A" * 64, "fake", ""), "64 lowercase hex"),
    (("a" * 64, "", ""), "analyzer"),
    (("a" * 64, "fake", None), "fingerprint"),
])
def test_key_is_validated(args, match):
    with pytest.raises(ValueError, match=match):
        CacheKey(*args)


# -- the cache ---------------------------------------------------------------------------------

def test_put_get_round_trip_and_miss(cache):
    assert cache.get(key_for(5)) is None
    assert cache.put(key_for(5), faces_for(5)) is True
    assert cache.get(key_for(5)) == faces_for(5)
    assert cache.put(key_for(3), []) is True  # "analyzed, no face" is cached too
    assert cache.get(key_for(3)) == []


def test_put_is_idempotent_and_first_writer_wins(cache):
    assert cache.put(key_for(4), faces_for(4))
    assert cache.put(key_for(4), faces_for(7)) is False
    assert cache.get(key_for(4)) == faces_for(4)
    assert cache.put_many([(key_for(4), faces_for(4)), (key_for(8), faces_for(8))]) == 1
    assert len(cache) == 2


def test_value_is_the_compact_face_details_json(cache):
    cache.put(key_for(5), faces_for(5))
    with sqlite3.connect(cache.path) as conn:
        text, analyzer, fingerprint = conn.execute(
            "SELECT faces, analyzer, fingerprint FROM analyses").fetchone()
    assert json.loads(text) == faces_to_rekognition(faces_for(5))
    assert ", " not in text and ": " not in text
    assert (analyzer, fingerprint) == ("fake", "v1")


def test_stats_count_hits_misses_and_entries(cache):
    cache.put(key_for(1), faces_for(1))
    cache.put(key_for(2, analyzer="local"), faces_for(2))
    cache.get(key_for(1))
    cache.get(key_for(9))
    found = cache.get_many([key_for(1), key_for(1), key_for(2, analyzer="local"), key_for(10)])
    assert set(found) == {key_for(1), key_for(2, analyzer="local")}
    stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses) == (2, 3, 2)
    assert dict(stats.by_analyzer) == {"fake": 1, "local": 1}
    assert stats.hit_rate == pytest.approx(3 / 5)
    assert stats.size_bytes > 0 and stats.path == str(cache.path)


def test_clear_all_or_one_analyzer(cache):
    cache.put_many([(key_for(i), faces_for(i)) for i in range(5)]
                   + [(key_for(i, analyzer="local"), faces_for(i)) for i in range(3)])
    assert cache.clear("local") == 3
    assert dict(cache.stats().by_analyzer) == {"fake": 5}
    assert cache.clear() == 5
    assert len(cache) == 0 and cache.get(key_for(1)) is None
    with pytest.raises(ValueError, match="analyzer"):
        cache.clear("")


def test_survives_reopening(tmp_path):
    path = tmp_path / "cache.sqlite"
    with AnalysisCache(path) as first:
        first.put(key_for(7), faces_for(7))
    second = AnalysisCache(path)
    assert second.get(key_for(7)) == faces_for(7)
    assert second.stats().entries == 1
    second.close()


def test_database_runs_in_wal_mode_with_normal_sync(cache):
    cache.put(key_for(1), faces_for(1))
    conn = cache._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_one_connection_per_thread(cache):
    errors = []
    done = threading.Barrier(7)  # six workers and this thread
    release = threading.Event()

    def work() -> None:
        try:
            for i in range(20):
                cache.put(key_for(i), faces_for(i))
                assert cache.get(key_for(i)) == faces_for(i)
        except Exception as e:  # collected and checked in the main thread
            errors.append(e)
        done.wait(timeout=30)
        release.wait(timeout=30)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    done.wait(timeout=30)
    open_while_alive = [c for _, _, c in cache._connections]
    release.set()
    for t in threads:
        t.join()
    assert errors == []
    assert len(open_while_alive) == len(set(map(id, open_while_alive))) == 6
    assert len(cache) == 20  # this thread opens a 7th and closes those of the ended threads
    assert len(cache._connections) == 1


def test_a_pickled_cache_opens_its_own_connection(cache):
    cache.put(key_for(2), faces_for(2))
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.path == cache.path and copy.get(key_for(2)) == faces_for(2)
    assert copy.stats().hits == 1 and cache.stats().hits == 0
    copy.close()


@pytest.mark.parametrize("content", [b"this is not a database\n" * 200,
                                     b"SQLite format 3\x00" + b"\x00\x01\xff" * 300])
def test_corrupt_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(content)
    cache = AnalysisCache(path)
    with pytest.raises(AnalysisCacheError, match="cache.sqlite.*(not a database|malformed)"
                       ) as excinfo:
        cache.get(key_for(1))
    assert not isinstance(excinfo.value, sqlite3.Error)
    assert "delete it" in str(excinfo.value)


def test_unopenable_path_is_a_clear_error(tmp_path):
    path = tmp_path / "a-directory"
    path.mkdir()
    with pytest.raises(AnalysisCacheError, match="a-directory.*unable to open"):
        AnalysisCache(path).put(key_for(1), [])


def test_another_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(AnalysisCacheError, match="something else.*users"):
        AnalysisCache(path).get(key_for(1))
    with sqlite3.connect(path) as conn:  # and left untouched
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["users"]


def test_corrupt_entry_is_a_clear_error(cache):
    cache.put(key_for(1), faces_for(1))
    with sqlite3.connect(cache.path) as conn:
        conn.execute("UPDATE analyses SET faces = '[{\"BoundingBox\": 3}]'")
    with pytest.raises(AnalysisCacheError, match="corrupt.*BoundingBox"):
        cache.get(key_for(1))


@pytest.mark.parametrize("path", ["", ":memory:"])
def test_path_must_be_a_file(path):
    with pytest.raises(ValueError, match="file"):
        AnalysisCache(path)


def test_put_checks_the_faces(cache):
    with pytest.raises(TypeError, match="FaceDetail"):
        cache.put(key_for(1), [{"BoundingBox": {}}])
    assert len(cache) == 0


# -- several processes at once -----------------------------------------------------------------

WORKERS = 4
SPAN = 30  # worker w writes items w*15 .. w*15+29: each item is written by one or two workers


def _worker(path: str, worker: int, barrier, results) -> None:
    """Runs in a spawned process: write its items, then read them back."""
    try:
        cache = AnalysisCache(path)
        items = list(range(worker * 15, worker * 15 + SPAN))
        barrier.wait(timeout=60)  # every process starts on the (still missing) file together
        added = 0
        for n in items[::2]:
            added += cache.put(key_for(n), faces_for(n))
        for start in range(1, SPAN, 6):  # the odd items, in batches of three
            batch = items[start:start + 6:2]
            added += cache.put_many([(key_for(n), faces_for(n)) for n in batch])
        wrong = [n for n in items if cache.get(key_for(n)) != faces_for(n)]
        cache.close()
        results.put((worker, added, wrong, None))
    except Exception as e:  # reported to the parent
        results.put((worker, 0, [], f"{type(e).__name__}: {e}"))


def test_several_processes_share_one_cache_file(tmp_path):
    path = tmp_path / "shared" / "analysis-cache.sqlite"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(path), w, barrier, results))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [r[3] for r in reports] == [None] * WORKERS
    assert [r[2] for r in reports] == [[]] * WORKERS
    expected = {n for w in range(WORKERS) for n in range(w * 15, w * 15 + SPAN)}
    # every item was inserted by exactly one process; the others saw it already there
    assert sum(r[1] for r in reports) == len(expected)

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT key, faces FROM analyses").fetchall()
    assert len(rows) == len({k for k, _ in rows}) == len(expected)
    by_key = dict(rows)
    for n in expected:
        assert json.loads(by_key[key_for(n).digest]) == faces_to_rekognition(faces_for(n))


def _use_inherited_cache(cache: AnalysisCache) -> None:
    """Runs in a forked child, on the parent's cache object (connection already open)."""
    ok = cache.get(key_for(1)) == faces_for(1) and cache.put(key_for(2), faces_for(2))
    parent_conn = [c for pid, _, c in cache._connections if pid != os.getpid()]
    raise SystemExit(0 if ok and parent_conn and cache._connection() is not parent_conn[0]
                     else 1)


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_a_forked_child_opens_its_own_connection(cache):
    cache.put(key_for(1), faces_for(1))  # the parent's connection is open before fork
    child = multiprocessing.get_context("fork").Process(target=_use_inherited_cache,
                                                        args=(cache,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert cache.get(key_for(2)) == faces_for(2)
    with sqlite3.connect(cache.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# -- the cached analyzer -------------------------------------------------------------------------

def test_cached_analyzer_hits_after_the_first_miss(cache):
    inner = FakeAnalyzer()
    analyzer = CachedAnalyzer(inner, cache)
    assert analyzer.name == "fake" and analyzer.config_fingerprint() == "v1"
    assert isinstance(analyzer, FaceAnalyzer)
    image = bytes([5]) + b"jpeg"
    assert analyzer.analyze(image) == faces_for(5)
    assert analyzer.analyze(image) == faces_for(5)
    assert len(inner.analyzed) == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 1, 1)


def test_another_analyzer_config_is_a_miss(cache):
    image = bytes([4]) + b"jpeg"
    CachedAnalyzer(FakeAnalyzer("v1"), cache).analyze(image)
    other = FakeAnalyzer("v2")
    CachedAnalyzer(other, cache).analyze(image)
    assert len(other.analyzed) == 1
    assert cache.stats().entries == 2 and cache.stats().misses == 2


def test_cached_analyzer_hashes_arrays(cache):
    inner = FakeAnalyzer()
    analyzer = CachedAnalyzer(inner, cache)
    frame = np.full((4, 4, 3), 2, dtype=np.uint8)
    assert analyzer.analyze(frame) == faces_for(2)
    assert analyzer.analyze(frame.copy()) == faces_for(2)
    assert analyzer.analyze(frame.reshape(4, 12)) == faces_for(2)  # other shape: a miss
    assert len(inner.analyzed) == 2


def test_batch_sends_only_the_distinct_misses(cache):
    inner = FakeAnalyzer()
    analyzer = CachedAnalyzer(inner, cache)
    images = [bytes([n]) + b"img" for n in range(6)]
    analyzer.analyze(images[1])
    analyzer.analyze(images[4])
    batch = [images[0], images[1], images[2], images[0], images[4], images[5], images[2]]
    results = analyzer.analyze_batch(batch)
    assert results == [faces_for(img[0]) for img in batch]
    assert inner.batches == [3]  # images 0, 2, 5: each once
    assert analyzer.analyze_batch(batch) == results
    assert inner.batches == [3]  # everything cached now
    assert analyzer.analyze_batch([]) == []


def test_batch_result_count_is_checked(cache):
    class Short(FakeAnalyzer):
        def analyze_batch(self, images):
            return []

    with pytest.raises(AnalyzerError, match="0 results for 2 images"):
        CachedAnalyzer(Short(), cache).analyze_batch([b"\x01a", b"\x02b"])


def test_cached_analyzer_close_closes_the_inner_analyzer_only(cache):
    inner = FakeAnalyzer()
    with CachedAnalyzer(inner, cache) as analyzer:
        analyzer.analyze(b"\x01x")
    assert inner.closed
    assert cache.get(CacheKey(image_digest(b"\x01x"), "fake", "v1")) == faces_for(1)


def test_cached_analyzer_checks_its_arguments(cache):
    with pytest.raises(TypeError, match="face analyzer"):
        CachedAnalyzer(object(), cache)
    with pytest.raises(TypeError, match="AnalysisCache"):
        CachedAnalyzer(FakeAnalyzer(), "cache.sqlite")


# -- command line --------------------------------------------------------------------------------

def test_cache_command_stats_and_clear(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="liveness-lab")
    add_cache_command(parser.add_subparsers(dest="command"))
    path = tmp_path / "c.sqlite"
    with AnalysisCache(path) as cache:
        cache.put_many([(key_for(i), faces_for(i)) for i in range(3)]
                       + [(key_for(0, analyzer="local"), [])])

    args = parser.parse_args(["cache", "--path", str(path), "stats"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "4 cached analyses" in out and "fake: 3" in out and "local: 1" in out

    args = parser.parse_args(["cache", "--path", str(path), "clear", "--analyzer", "local"])
    assert args.func(args) == 0
    assert "deleted 1 cached analyses of analyzer 'local'" in capsys.readouterr().out
    args = parser.parse_args(["cache", "--path", str(path), "clear"])
    assert args.func(args) == 0
    assert "deleted 3 cached analyses" in capsys.readouterr().out

    args = parser.parse_args(["cache", "--path", str(tmp_path / "none.sqlite"), "stats"])
    assert args.func(args) == 0
    assert "no analysis cache" in capsys.readouterr().out
    assert not (tmp_path / "none.sqlite").exists()
    assert parser.parse_args(["cache", "stats"]).path == str(DEFAULT_CACHE_PATH)
