"""Frame images in Amazon S3 (for deployments on AWS).

Objects are ``PREFIX + CHALLENGE_ID/FILE_NAME``. An S3 ``PutObject`` is atomic
(an object is visible complete or not at all). Every call passes
``ExpectedBucketOwner`` when the owner's account id is configured, so a
bucket name taken over by another account is refused (the original's
"bucket sniping" protection). boto3 is imported lazily; the client is
injectable (tests use moto).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..errors import NotFound, ServiceUnavailable
from .base import FrameStore, check_challenge_id, check_frame_key

__all__ = ["S3FrameStore"]


class S3FrameStore(FrameStore):
    """Frames as objects of ``bucket`` under ``prefix``.

    Parameters
    ----------
    bucket:
        Bucket name.
    prefix:
        Key prefix (e.g. ``"frames/"``); empty by default.
    expected_bucket_owner:
        Account id that must own the bucket; passed with every request.
    client:
        A boto3 S3 client (default: ``boto3.client("s3", ...)``).
    """

    def __init__(self, bucket: str, *, prefix: str = "", expected_bucket_owner: str | None = None,
                 client: Any = None, region_name: str | None = None,
                 endpoint_url: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region_name, endpoint_url=endpoint_url)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.expected_bucket_owner = expected_bucket_owner
        self._client = client

    def __repr__(self) -> str:
        return f"S3FrameStore({self.bucket!r}, prefix={self.prefix!r})"

    def _owner(self) -> dict[str, str]:
        return {"ExpectedBucketOwner": self.expected_bucket_owner} \
            if self.expected_bucket_owner else {}

    def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(Bucket=self.bucket, **self._owner(), **kwargs)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404"):
                raise NotFound("frame not found") from None
            if code in ("AccessDenied", "403"):
                raise ServiceUnavailable(f"access to the S3 bucket {self.bucket!r} was denied "
                                         "(wrong owner or missing permission)") from None
            if code == "NoSuchBucket":
                raise ServiceUnavailable(f"the S3 bucket {self.bucket!r} does not exist") \
                    from None
            raise ServiceUnavailable(f"S3 {method} failed: {code or e}", retry_after=1) from None
        except BotoCoreError as e:
            raise ServiceUnavailable(f"S3 is unreachable: {e}", retry_after=1) from None

    def put(self, key: str, data: bytes) -> None:
        self._call("put_object", Key=self.prefix + check_frame_key(key), Body=data,
                   ContentType="image/jpeg")

    def get(self, key: str) -> bytes:
        response = self._call("get_object", Key=self.prefix + check_frame_key(key))
        return response["Body"].read()

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self.prefix + check_frame_key(key))

    def delete_prefix(self, challenge_id: str) -> int:
        prefix = self.prefix + check_challenge_id(challenge_id) + "/"
        deleted = 0
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            response = self._call("list_objects_v2", **kwargs)
            keys = [{"Key": o["Key"]} for o in response.get("Contents", [])]
            if keys:
                self._call("delete_objects", Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
            if not response.get("IsTruncated"):
                return deleted
            token = response.get("NextContinuationToken")

    def challenge_ids(self) -> Iterator[str]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": self.prefix, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            response = self._call("list_objects_v2", **kwargs)
            for common in response.get("CommonPrefixes", []):
                yield common["Prefix"][len(self.prefix):].rstrip("/")
            if not response.get("IsTruncated"):
                return
            token = response.get("NextContinuationToken")

    def ping(self) -> None:
        self._call("head_bucket")
