"""Storage of the challenge service: challenge records and frame images.

Defaults for one machine: :class:`~.sqlite.SQLiteChallengeStore` and
:class:`~.filesystem.FilesystemFrameStore` under the data directory. On AWS:
:class:`~.dynamodb.DynamoDBChallengeStore` and :class:`~.s3.S3FrameStore`.
:func:`open_stores` builds the pair the settings name; the AWS modules (and
boto3) are imported only when selected.
"""

from __future__ import annotations

from typing import Any

from .base import (OPEN, VERIFIED, VERIFYING, ChallengeRecord, ChallengeStore, FrameRecord,
                   FrameStore)

__all__ = ["ChallengeStore", "FrameStore", "ChallengeRecord", "FrameRecord", "OPEN", "VERIFYING",
           "VERIFIED", "open_stores"]


def open_stores(settings: Any, *, dynamodb_client: Any = None,
                s3_client: Any = None) -> tuple[ChallengeStore, FrameStore]:
    """The challenge store and frame store selected by ``settings``.

    AWS clients may be injected (tests pass moto-backed clients); by default
    they are created for ``settings.aws_region`` / ``settings.aws_endpoint_url``.
    """
    challenges: ChallengeStore
    frames: FrameStore
    if settings.challenge_store == "dynamodb":
        from .dynamodb import DynamoDBChallengeStore

        challenges = DynamoDBChallengeStore(settings.dynamodb_table, client=dynamodb_client,
                                            region_name=settings.aws_region,
                                            endpoint_url=settings.aws_endpoint_url,
                                            ttl_s=settings.retention)
    else:
        from .sqlite import SQLiteChallengeStore

        challenges = SQLiteChallengeStore(settings.sqlite_file)
    if settings.frame_store == "s3":
        from .s3 import S3FrameStore

        frames = S3FrameStore(settings.s3_bucket, prefix=settings.s3_prefix,
                              expected_bucket_owner=settings.s3_expected_bucket_owner,
                              client=s3_client, region_name=settings.aws_region,
                              endpoint_url=settings.aws_endpoint_url)
    else:
        from .filesystem import FilesystemFrameStore

        frames = FilesystemFrameStore(settings.frames_path, fsync=settings.frame_fsync)
    return challenges, frames
