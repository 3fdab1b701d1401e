"""Challenge records in Amazon DynamoDB (for deployments on AWS).

One table with a string hash key ``id`` (the original framework's layout)
holds three kinds of items:

* the challenge (``id = CHALLENGE_ID``): type, params (JSON), lifetime,
  status, ``frameCount`` and ``frames``, the frame list grown with
  ``list_append`` as in the original, plus the verdict once verified;
* one analysis per frame (``id = CHALLENGE_ID#a#INDEX``): the faces as JSON
  (kept out of the challenge item, whose size DynamoDB caps at 400 KB);
* the trace (``id = CHALLENGE_ID#trace``), gzip-compressed JSON.

Every state change is a conditional write: a frame is appended only if
``frameCount`` is still the value the admission check saw and the challenge
is still open (a concurrent append makes the condition fail and the append is
retried on the fresh record); a verification is claimed once. boto3 is
imported lazily and the client is injectable (tests use moto).
"""

from __future__ import annotations

import gzip
import json
import random
import time
from typing import Any, Mapping, Sequence

from ...faces import FaceDetail
from ..errors import Conflict, NotFound, ServiceUnavailable
from .base import (OPEN, VERIFIED, VERIFYING, Admit, ChallengeRecord, ChallengeStore, FrameRecord,
                   claim_decision, faces_from_json, faces_to_json, jsonable)

__all__ = ["DynamoDBChallengeStore"]

_MAX_APPEND_ATTEMPTS = 50


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(int(value))}


def _num(attr: Mapping[str, str] | None) -> float | None:
    if attr is None or "NULL" in attr:
        return None
    text = attr["N"]
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _str(attr: Mapping[str, str] | None) -> str | None:
    return None if attr is None or "NULL" in attr else attr["S"]


class DynamoDBChallengeStore(ChallengeStore):
    """Challenge records in the DynamoDB table ``table``.

    Parameters
    ----------
    table:
        Table name; its key schema must be a single string hash key ``id``.
    client:
        A boto3 DynamoDB client (default: ``boto3.client("dynamodb", ...)``).
    ttl_s:
        When given, items carry ``ttl = created_at + ttl_s`` (epoch seconds)
        so that DynamoDB's Time To Live on attribute ``ttl`` expires them.
    """

    def __init__(self, table: str, *, client: Any = None, region_name: str | None = None,
                 endpoint_url: str | None = None, ttl_s: float | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb", region_name=region_name, endpoint_url=endpoint_url)
        self.table = table
        self.ttl_s = ttl_s
        self._client = client

    def __repr__(self) -> str:
        return f"DynamoDBChallengeStore({self.table!r})"

    # -- helpers ----------------------------------------------------------------------------
    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(**kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
            if code == "ResourceNotFoundException":
                raise ServiceUnavailable(f"the DynamoDB table {self.table!r} does not exist") \
                    from None
            raise ServiceUnavailable(f"DynamoDB {method} failed: {code or e}",
                                     retry_after=1) from None
        except BotoCoreError as e:
            raise ServiceUnavailable(f"DynamoDB is unreachable: {e}", retry_after=1) from None

    @staticmethod
    def _failed_condition(error: Exception) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(error, ClientError):
            return False
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            return True
        if code == "TransactionCanceledException":
            reasons = error.response.get("CancellationReasons") or []
            return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
        return False

    @staticmethod
    def _analysis_id(challenge_id: str, index: int) -> str:
        return f"{challenge_id}#a#{int(index)}"

    @staticmethod
    def _trace_id(challenge_id: str) -> str:
        return f"{challenge_id}#trace"

    def _item(self, challenge_id: str) -> dict[str, Any] | None:
        response = self._call("get_item", TableName=self.table, Key={"id": _s(challenge_id)},
                              ConsistentRead=True)
        item = response.get("Item")
        if item is None or item.get("kind", {}).get("S") != "challenge":
            return None
        return item

    def _analyses(self, challenge_id: str, count: int) -> dict[int, tuple[str | None, str | None]]:
        """``{index: (faces_json, error)}`` of the analysis items of frames ``0..count-1``."""
        out: dict[int, tuple[str | None, str | None]] = {}
        keys = [{"id": _s(self._analysis_id(challenge_id, i))} for i in range(count)]
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self.table: {"Keys": keys[start:start + 100],
                                                    "ConsistentRead": True}}
            for attempt in range(20):
                response = self._call("batch_get_item", RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table, []):
                    index = int(item["id"]["S"].rsplit("#", 1)[1])
                    out[index] = (_str(item.get("faces")), _str(item.get("error")))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            else:
                raise ServiceUnavailable("DynamoDB kept throttling the analysis reads",
                                         retry_after=1)
        return out

    def _record(self, item: Mapping[str, Any],
                analyses: Mapping[int, tuple[str | None, str | None]] | None,
                trace: tuple[Mapping[str, Any], ...] | None = None) -> ChallengeRecord:
        frames = []
        for entry in item.get("frames", {}).get("L", []):
            m = entry["M"]
            index = int(_num(m["index"]))  # type: ignore[arg-type]
            faces_json, error = (analyses or {}).get(index, (None, None))
            frames.append(FrameRecord(
                index, int(_num(m["timestamp"])), m["key"]["S"],  # type: ignore[arg-type]
                int(_num(m["size"])), m["sha256"]["S"],  # type: ignore[arg-type]
                float(_num(m["receivedAt"])),  # type: ignore[arg-type]
                None if faces_json is None else faces_from_json(faces_json), error))
        verdict = _str(item.get("verdict"))
        return ChallengeRecord(
            id=item["id"]["S"], type=item["type"]["S"], params=json.loads(item["params"]["S"]),
            created_at=float(_num(item["createdAt"])),  # type: ignore[arg-type]
            expires_at=float(_num(item["expiresAt"])),  # type: ignore[arg-type]
            client=_str(item.get("client")) or "anonymous", status=item["status"]["S"],
            frames=tuple(frames), claim_id=_str(item.get("claimId")),
            claimed_at=_num(item.get("claimedAt")), verified_at=_num(item.get("verifiedAt")),
            verdict=None if verdict is None else json.loads(verdict), trace=trace)

    def _ttl(self, created_at: float) -> dict[str, dict[str, str]]:
        return {} if self.ttl_s is None else {"ttl": _n(int(created_at + self.ttl_s))}

    # -- interface --------------------------------------------------------------------------
    def create(self, record: ChallengeRecord) -> None:
        item = {"id": _s(record.id), "kind": _s("challenge"), "type": _s(record.type),
                "params": _s(json.dumps(jsonable(record.params))), "client": _s(record.client),
                "status": _s(OPEN), "createdAt": _n(float(record.created_at)),
                "expiresAt": _n(float(record.expires_at)), "frameCount": _n(0),
                "frames": {"L": []}, **self._ttl(record.created_at)}
        try:
            self._call("put_item", TableName=self.table, Item=item,
                       ConditionExpression="attribute_not_exists(id)")
        except Exception as e:
            if self._failed_condition(e):
                raise Conflict(f"challenge {record.id} already exists") from None
            raise

    def get(self, challenge_id: str, *, with_trace: bool = False) -> ChallengeRecord | None:
        item = self._item(challenge_id)
        if item is None:
            return None
        count = len(item.get("frames", {}).get("L", []))
        analyses = self._analyses(challenge_id, count) if count else {}
        trace = None
        if with_trace and item["status"]["S"] == VERIFIED:
            response = self._call("get_item", TableName=self.table,
                                  Key={"id": _s(self._trace_id(challenge_id))},
                                  ConsistentRead=True)
            blob = response.get("Item", {}).get("trace", {}).get("B")
            if blob is not None:
                trace = tuple(json.loads(gzip.decompress(blob)))
        return self._record(item, analyses, trace)

    def append_frame(self, challenge_id: str, frame: FrameRecord, admit: Admit) -> FrameRecord:
        for attempt in range(_MAX_APPEND_ATTEMPTS):
            item = self._item(challenge_id)
            if item is None:
                raise NotFound("challenge not found")
            record = self._record(item, None)
            admit(record)
            count = int(_num(item.get("frameCount")) or 0)
            stored = FrameRecord(count, frame.timestamp, frame.key, frame.size, frame.sha256,
                                 frame.received_at, frame.faces, frame.analysis_error)
            entry = {"M": {"index": _n(count), "timestamp": _n(stored.timestamp),
                           "key": _s(stored.key), "size": _n(stored.size),
                           "sha256": _s(stored.sha256),
                           "receivedAt": _n(float(stored.received_at))}}
            update = {
                "TableName": self.table, "Key": {"id": _s(challenge_id)},
                "UpdateExpression": "SET #frames = list_append(if_not_exists(#frames, :empty), "
                                    ":frame), frameCount = :next",
                "ConditionExpression": "attribute_exists(id) AND frameCount = :count "
                                       "AND #status = :open",
                "ExpressionAttributeNames": {"#frames": "frames", "#status": "status"},
                "ExpressionAttributeValues": {":empty": {"L": []}, ":frame": {"L": [entry]},
                                              ":next": _n(count + 1), ":count": _n(count),
                                              ":open": _s(OPEN)}}
            try:
                if stored.faces is None:
                    self._call("update_item", **update)
                else:  # the frame and its recorded analysis, atomically
                    analysis = {"id": _s(self._analysis_id(challenge_id, count)),
                                "kind": _s("analysis"), "faces": _s(faces_to_json(stored.faces)),
                                **self._ttl(record.created_at)}
                    self._call("transact_write_items", TransactItems=[
                        {"Update": update},
                        {"Put": {"TableName": self.table, "Item": analysis}}])
                return stored
            except Exception as e:
                if not self._failed_condition(e):
                    raise
            time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.05)))
        raise ServiceUnavailable("too many concurrent uploads to this challenge; retry",
                                 retry_after=1)

    def set_analysis(self, challenge_id: str, index: int, faces: Sequence[FaceDetail] | None,
                     error: str | None = None) -> None:
        item: dict[str, Any] = {"id": _s(self._analysis_id(challenge_id, index)),
                                "kind": _s("analysis")}
        if faces is not None:
            item["faces"] = _s(faces_to_json(faces))
        if error is not None:
            item["error"] = _s(error)
        if self.ttl_s is not None:
            item["ttl"] = _n(int(time.time() + self.ttl_s))
        self._call("put_item", TableName=self.table, Item=item)

    def claim_verification(self, challenge_id: str, claim_id: str, now: float,
                           stale_after_s: float) -> ChallengeRecord:
        try:
            self._call(
                "update_item", TableName=self.table, Key={"id": _s(challenge_id)},
                UpdateExpression="SET #status = :verifying, claimId = :claim, claimedAt = :now",
                ConditionExpression="attribute_exists(id) AND (#status = :open OR "
                                    "(#status = :verifying AND claimedAt < :stale))",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":verifying": _s(VERIFYING), ":open": _s(OPEN),
                                           ":claim": _s(claim_id), ":now": _n(float(now)),
                                           ":stale": _n(float(now - stale_after_s))})
        except Exception as e:
            if not self._failed_condition(e):
                raise
            current = self.get(challenge_id)
            if current is None:
                raise NotFound("challenge not found") from None
            claim_decision(current, now, stale_after_s)
            raise Conflict("the challenge is being verified by another request") from None
        record = self.get(challenge_id)
        if record is None:
            raise NotFound("challenge not found")
        return record

    def release_verification(self, challenge_id: str, claim_id: str) -> None:
        try:
            self._call("update_item", TableName=self.table, Key={"id": _s(challenge_id)},
                       UpdateExpression="SET #status = :open REMOVE claimId, claimedAt",
                       ConditionExpression="#status = :verifying AND claimId = :claim",
                       ExpressionAttributeNames={"#status": "status"},
                       ExpressionAttributeValues={":open": _s(OPEN), ":verifying": _s(VERIFYING),
                                                  ":claim": _s(claim_id)})
        except Exception as e:
            if not self._failed_condition(e):
                raise

    def finish_verification(self, challenge_id: str, claim_id: str, verdict: Mapping[str, Any],
                            trace: Sequence[Mapping[str, Any]], now: float) -> None:
        blob = gzip.compress(json.dumps(jsonable(list(trace)), separators=(",", ":")).encode())
        self._call("put_item", TableName=self.table,
                   Item={"id": _s(self._trace_id(challenge_id)), "kind": _s("trace"),
                         "trace": {"B": blob}, **self._ttl(now)})
        try:
            self._call("update_item", TableName=self.table, Key={"id": _s(challenge_id)},
                       UpdateExpression="SET #status = :verified, verdict = :verdict, "
                                        "verifiedAt = :now",
                       ConditionExpression="#status = :verifying AND claimId = :claim",
                       ExpressionAttributeNames={"#status": "status"},
                       ExpressionAttributeValues={
                           ":verified": _s(VERIFIED), ":verifying": _s(VERIFYING),
                           ":claim": _s(claim_id), ":now": _n(float(now)),
                           ":verdict": _s(json.dumps(jsonable(verdict)))})
        except Exception as e:
            if self._failed_condition(e):
                raise Conflict("the verification was taken over by another request") from None
            raise

    def ids_created_before(self, cutoff: float, limit: int = 1000) -> list[str]:
        found: list[tuple[float, str]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ProjectionExpression": "id, createdAt",
            "FilterExpression": "kind = :challenge AND createdAt < :cutoff",
            "ExpressionAttributeValues": {":challenge": _s("challenge"),
                                          ":cutoff": _n(float(cutoff))}}
        while True:
            response = self._call("scan", **kwargs)
            for item in response.get("Items", []):
                found.append((float(_num(item["createdAt"])), item["id"]["S"]))  # type: ignore
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        found.sort()
        return [cid for _, cid in found[:limit]]

    def delete(self, challenge_id: str) -> bool:
        item = self._item(challenge_id)
        if item is None:
            return False
        count = max(int(_num(item.get("frameCount")) or 0),
                    len(item.get("frames", {}).get("L", [])))
        keys = [self._analysis_id(challenge_id, i) for i in range(count)]
        keys.append(self._trace_id(challenge_id))
        for start in range(0, len(keys), 25):
            requests = {self.table: [{"DeleteRequest": {"Key": {"id": _s(k)}}}
                                     for k in keys[start:start + 25]]}
            for attempt in range(20):
                response = self._call("batch_write_item", RequestItems=requests)
                requests = response.get("UnprocessedItems") or {}
                if not requests:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
        self._call("delete_item", TableName=self.table, Key={"id": _s(challenge_id)})
        return True

    def ping(self) -> None:
        self._call("describe_table", TableName=self.table)
