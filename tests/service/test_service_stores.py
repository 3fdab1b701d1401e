"""Store contracts: SQLite and DynamoDB (moto) challenge stores, local and S3 (moto) frames."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from builders import make_face

from liveness_lab.service.errors import Conflict, NotFound, ServiceUnavailable
from liveness_lab.service.stores.base import (OPEN, VERIFIED, VERIFYING, ChallengeRecord,
                                              FrameRecord)
from liveness_lab.service.stores.filesystem import FilesystemFrameStore
from liveness_lab.service.stores.sqlite import SQLiteChallengeStore

REGION = "eu-west-1"


@pytest.fixture
def aws():
    from moto import mock_aws

    with mock_aws():
        yield


def dynamodb_store(ttl_s=None):
    import boto3

    from liveness_lab.service.stores.dynamodb import DynamoDBChallengeStore

    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(TableName="challenges", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    return DynamoDBChallengeStore("challenges", client=client, ttl_s=ttl_s)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteChallengeStore(tmp_path / "c.sqlite3")
        yield s
        s.close()
    else:
        from moto import mock_aws

        with mock_aws():
            yield dynamodb_store()


def record(cid="c-1", created=None, **kw):
    created = time.time() if created is None else created
    return ChallengeRecord(id=cid, type="NOSE", params={"imageWidth": 640, "imageHeight": 480,
                                                          "nested": {"a": [1, 2.5]}},
                           created_at=created, expires_at=created + 600, client="ip:1", **kw)


def frame(ts, faces=None):
    return FrameRecord(0, ts, f"c-1/{ts}-ab.jpg", 1234, "0" * 64, time.time(), faces)


def allow(_record):
    return None


# -- challenge store contract ---------------------------------------------------------------------

def test_create_get_and_conflict(store):
    store.create(record())
    got = store.get("c-1")
    assert got.type == "NOSE" and got.status == OPEN and got.frames == ()
    assert got.params == {"imageWidth": 640, "imageHeight": 480, "nested": {"a": [1, 2.5]}}
    assert got.client == "ip:1" and got.expires_at - got.created_at == pytest.approx(600)
    with pytest.raises(Conflict):
        store.create(record())
    assert store.get("c-2") is None


def test_append_assigns_indices_and_keeps_analyses(store):
    store.create(record())
    face = make_face(yaw=7.0)
    a = store.append_frame("c-1", frame(100), allow)
    b = store.append_frame("c-1", frame(200, faces=(face,)), allow)
    assert (a.index, b.index) == (0, 1)
    store.set_analysis("c-1", 0, (), "invalid image: test")
    got = store.get("c-1")
    assert [f.timestamp for f in got.frames] == [100, 200]
    assert got.frames[0].faces == () and got.frames[0].analysis_error == "invalid image: test"
    assert got.frames[1].faces == (face,)
    with pytest.raises(NotFound):
        store.append_frame("c-9", frame(1), allow)


def test_admission_sees_the_current_record(store):
    store.create(record())
    seen = []

    def admit(rec):
        seen.append(len(rec.frames))
        if len(rec.frames) >= 2:
            raise Conflict("full")
    store.append_frame("c-1", frame(1), admit)
    store.append_frame("c-1", frame(2), admit)
    with pytest.raises(Conflict, match="full"):
        store.append_frame("c-1", frame(3), admit)
    assert seen == [0, 1, 2] and len(store.get("c-1").frames) == 2


def test_concurrent_appends_lose_nothing(store, request):
    if "dynamodb" in request.node.name:
        pytest.skip("moto applies conditional writes without a per-item lock (real DynamoDB is "
                    "atomic); the interleaving is tested deterministically below")
    store.create(record())
    threads_n, per_thread = 6, 10
    errors = []

    def worker(t):
        try:
            for i in range(per_thread):
                store.append_frame("c-1", frame(t * 1000 + i), allow)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    frames = store.get("c-1").frames
    assert len(frames) == threads_n * per_thread
    assert sorted(f.index for f in frames) == list(range(threads_n * per_thread))
    assert len({f.timestamp for f in frames}) == threads_n * per_thread


def test_dynamodb_append_retries_when_another_append_wins_the_race(aws):
    store = dynamodb_store()
    store.create(record())
    calls = []

    def admit(rec):  # runs between the read and the conditional write
        calls.append(len(rec.frames))
        if len(calls) == 1:
            store.append_frame("c-1", frame(50), allow)  # a concurrent upload slips in
    stored = store.append_frame("c-1", frame(60), admit)
    assert calls == [0, 1]  # the first conditional write failed and was retried
    assert stored.index == 1
    assert [f.timestamp for f in store.get("c-1").frames] == [50, 60]


def test_dynamodb_a_frame_racing_a_verify_is_refused(aws):
    store = dynamodb_store()
    store.create(record())
    claimed = []

    def admit(rec):  # a verification claims the challenge between the read and the write
        if rec.status != OPEN:
            raise Conflict("closed")
        if not claimed:
            claimed.append(store.claim_verification("c-1", "a", time.time(), 300))
    with pytest.raises(Conflict, match="closed"):
        store.append_frame("c-1", frame(1), admit)
    assert store.get("c-1").frames == () and claimed[0].frames == ()


def test_verification_is_claimed_once(store):
    store.create(record())
    store.append_frame("c-1", frame(1, faces=()), allow)
    now = time.time()
    claimed = store.claim_verification("c-1", "claim-a", now, 300)
    assert claimed.status == VERIFYING and len(claimed.frames) == 1
    with pytest.raises(Conflict, match="being verified"):
        store.claim_verification("c-1", "claim-b", now + 1, 300)
    store.finish_verification("c-1", "claim-a", {"success": True, "reason": "ok"},
                              [{"frame_index": 0, "x": float("nan")}], now + 2)
    got = store.get("c-1", with_trace=True)
    assert got.status == VERIFIED and got.verdict == {"success": True, "reason": "ok"}
    assert got.trace == ({"frame_index": 0, "x": None},)
    with pytest.raises(Conflict, match="single-use"):
        store.claim_verification("c-1", "claim-c", now + 3, 300)
    with pytest.raises(NotFound):
        store.claim_verification("c-9", "claim-d", now, 300)


def test_a_stale_claim_can_be_taken_over_and_the_loser_cannot_finish(store):
    store.create(record())
    now = time.time()
    store.claim_verification("c-1", "dead", now, 300)
    store.claim_verification("c-1", "alive", now + 301, 300)
    with pytest.raises(Conflict, match="taken over"):
        store.finish_verification("c-1", "dead", {"success": True}, [], now + 302)
    store.release_verification("c-1", "dead")  # no effect: not the holder
    assert store.get("c-1").status == VERIFYING
    store.release_verification("c-1", "alive")
    assert store.get("c-1").status == OPEN


def test_delete_and_listing_by_age(store):
    now = time.time()
    store.create(record("old-1", created=now - 1000))
    store.create(record("old-2", created=now - 900))
    store.create(record("new-1", created=now))
    store.append_frame("old-1", FrameRecord(0, 1, "old-1/1-ab.jpg", 1, "0" * 64, now, ()), allow)
    assert store.ids_created_before(now - 500) == ["old-1", "old-2"]
    assert store.ids_created_before(now - 500, limit=1) == ["old-1"]
    assert store.delete("old-1") is True and store.delete("old-1") is False
    assert store.get("old-1") is None and store.get("new-1") is not None


def test_sqlite_file_is_wal_and_sound(tmp_path):
    s = SQLiteChallengeStore(tmp_path / "c.sqlite3")
    s.create(record())
    assert s.integrity_check() == "ok"
    mode = sqlite3.connect(tmp_path / "c.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    s.close()


def test_sqlite_refuses_a_foreign_file(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ServiceUnavailable, match="cannot open"):
        SQLiteChallengeStore(path).get("x")


def test_dynamodb_items_carry_a_ttl_and_use_list_append(aws):
    store = dynamodb_store(ttl_s=3600)
    store.create(record(created=1000.0))
    store.append_frame("c-1", frame(5), allow)
    item = store._client.get_item(TableName="challenges", Key={"id": {"S": "c-1"}})["Item"]
    assert item["ttl"] == {"N": "4600"}
    assert item["frameCount"] == {"N": "1"} and len(item["frames"]["L"]) == 1


def test_dynamodb_missing_table_is_a_503(aws):
    import boto3

    from liveness_lab.service.stores.dynamodb import DynamoDBChallengeStore

    store = DynamoDBChallengeStore("nope", client=boto3.client("dynamodb", region_name=REGION))
    with pytest.raises(ServiceUnavailable, match="does not exist"):
        store.get("c-1")


# -- frame store contract -------------------------------------------------------------------

OWNER = "123456789012"


def s3_store(owner=OWNER):
    import boto3

    from liveness_lab.service.stores.s3 import S3FrameStore

    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket="liveness-frames",
                         CreateBucketConfiguration={"LocationConstraint": REGION})
    return S3FrameStore("liveness-frames", prefix="frames", expected_bucket_owner=owner,
                        client=client)


@pytest.fixture(params=["filesystem", "s3"])
def frames(request, tmp_path):
    if request.param == "filesystem":
        yield FilesystemFrameStore(tmp_path / "frames")
    else:
        from moto import mock_aws

        with mock_aws():
            yield s3_store()


def test_frame_store_contract(frames):
    frames.put("c-1/1-aa.jpg", b"one")
    frames.put("c-1/2-bb.jpg", b"two")
    frames.put("c-2/1-cc.jpg", b"three")
    frames.put("c-1/1-aa.jpg", b"one again")  # replaced atomically
    assert frames.get("c-1/1-aa.jpg") == b"one again"
    assert sorted(frames.challenge_ids()) == ["c-1", "c-2"]
    frames.delete("c-2/1-cc.jpg")
    frames.delete("c-2/1-cc.jpg")  # absent: no error
    with pytest.raises(NotFound):
        frames.get("c-2/1-cc.jpg")
    assert frames.delete_prefix("c-1") == 2
    with pytest.raises(NotFound):
        frames.get("c-1/2-bb.jpg")
    frames.ping()


@pytest.mark.parametrize("key", ["../x.jpg", "/etc/passwd", "c-1/../../x", "c-1/.hidden.tmp",
                                 "c-1", "a/b/c.jpg"])
def test_frame_keys_cannot_escape(frames, key):
    with pytest.raises(ValueError):
        frames.put(key, b"x")


def test_filesystem_writes_are_atomic_and_temp_files_are_cleaned(tmp_path):
    store = FilesystemFrameStore(tmp_path / "frames")
    store.put("c-1/1-aa.jpg", b"x" * 1000)
    folder = tmp_path / "frames" / "c-1"
    assert [p.name for p in folder.iterdir()] == ["1-aa.jpg"]  # no temporary file left
    stale = folder / ".2-bb.jpg.0123.tmp"
    stale.write_bytes(b"half")
    assert store.remove_stale_temp_files(older_than_s=3600) == 0  # too recent
    assert store.remove_stale_temp_files(older_than_s=-1) == 1 and not stale.exists()


def test_s3_passes_the_expected_bucket_owner_on_every_call(aws):
    store = s3_store()
    seen = []
    store._client.meta.events.register(
        "provide-client-params.s3.*",
        lambda params, model, **kw: seen.append((model.name, params.get("ExpectedBucketOwner"))))
    store.put("c-1/1-aa.jpg", b"x")
    store.get("c-1/1-aa.jpg")
    store.delete("c-1/1-aa.jpg")
    list(store.challenge_ids())
    store.delete_prefix("c-1")
    store.ping()
    assert {name for name, _ in seen} >= {"PutObject", "GetObject", "DeleteObject",
                                          "ListObjectsV2", "HeadBucket"}
    assert all(owner == OWNER for _, owner in seen)


def test_s3_access_denied_is_a_503(aws):
    from botocore.stub import Stubber

    store = s3_store()
    with Stubber(store._client) as stub:
        stub.add_client_error("put_object", service_error_code="AccessDenied",
                              http_status_code=403)
        with pytest.raises(ServiceUnavailable, match="denied"):
            store.put("c-1/1-aa.jpg", b"x")


def test_the_service_runs_on_dynamodb_s3_and_secrets_manager(aws, tmp_path):
    import boto3
    from svc_helpers import b64, jpeg, now_ms, simulated_frames, test_settings

    from liveness_lab.service.core import ChallengeService
    from liveness_lab.service.views import challenge_body

    dynamodb_store()  # creates the table
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="liveness-frames", CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="liveness/token", SecretString="t" * 48)
    settings = test_settings(tmp_path, challenge_store="dynamodb", dynamodb_table="challenges",
                             frame_store="s3", s3_bucket="liveness-frames",
                             s3_expected_bucket_owner=OWNER, token_secret_id="liveness/token",
                             aws_region=REGION, challenge_types=("NOSE",))
    with ChallengeService(settings) as svc:
        ch = svc.create_challenge({"imageWidth": 640, "imageHeight": 480})
        for ts, faces in simulated_frames("NOSE", ch.params, start_ms=now_ms()):
            svc.put_frame(ch.id, ch.token, ts, b64(jpeg()), [f.to_rekognition() for f in faces])
        assert svc.verify(ch.id, ch.token)["success"] is True
        result = challenge_body(svc.get_challenge(ch.id, ch.token))
        assert result["status"] == "verified" and len(result["trace"]) > 3
        keys = [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(
            Bucket="liveness-frames")["Contents"]]
        assert len(keys) == result["frameCount"] and all(k.startswith(f"{ch.id}/") for k in keys)
        assert svc.purge(1e-6)["challenges"] == 1
        assert svc.challenges.get(ch.id) is None
        assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(
            Bucket="liveness-frames")
