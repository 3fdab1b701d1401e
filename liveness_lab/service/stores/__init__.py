"""Storage of the challenge service: challenge records and frame images.

Defaults for one machine: :class:`~.sqlite.SQLiteChallengeStore` and
:class:`~.filesystem.FilesystemFrameStore` under the data directory. On AWS:
:class:`~.dynamodb.DynamoDBChallengeStore` and :class:`~.s3.S3FrameStore`.
Both families are chosen by name through a :class:`liveness_lab.plugins.Registry`
(:data:`challenge_stores`, :data:`frame_stores`) whose entries build a store from
the settings; :func:`open_stores` builds the pair the settings name. The AWS
modules (and boto3) are imported only when selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ...errors import ConfigError
from ...plugins import Registry
from .base import (LISTS_UNANALYZED, OPEN, VERIFIED, VERIFYING, ChallengeRecord, ChallengeStore,
                   FrameRecord, FrameStore)

__all__ = ["ChallengeStore", "FrameStore", "ChallengeRecord", "FrameRecord", "OPEN", "VERIFYING",
           "VERIFIED", "LISTS_UNANALYZED", "open_stores", "StoreEntry", "challenge_stores",
           "frame_stores"]


@dataclass(frozen=True)
class StoreEntry:
    """A named store backend: ``build(settings, client)`` returns the store.

    ``local`` is true for backends that keep data in the data directory.
    """

    name: str
    build: Callable[[Any, Any], Any]
    local: bool = False


def _sqlite(settings: Any, client: Any) -> ChallengeStore:
    from .sqlite import SQLiteChallengeStore

    return SQLiteChallengeStore(settings.sqlite_file)


def _dynamodb(settings: Any, client: Any) -> ChallengeStore:
    from .dynamodb import DynamoDBChallengeStore

    return DynamoDBChallengeStore(settings.dynamodb_table, client=client,
                                  region_name=settings.aws_region,
                                  endpoint_url=settings.aws_endpoint_url, ttl_s=settings.retention)


def _filesystem(settings: Any, client: Any) -> FrameStore:
    from .filesystem import FilesystemFrameStore

    return FilesystemFrameStore(settings.frames_path, fsync=settings.frame_fsync)


def _s3(settings: Any, client: Any) -> FrameStore:
    from .s3 import S3FrameStore

    return S3FrameStore(settings.s3_bucket, prefix=settings.s3_prefix,
                        expected_bucket_owner=settings.s3_expected_bucket_owner,
                        client=client, region_name=settings.aws_region,
                        endpoint_url=settings.aws_endpoint_url)


def _registry(family: str) -> Registry[StoreEntry]:
    return Registry(family, entry_point_group=None, not_found=ConfigError,
                    name_of=lambda e: e.name, normalize=str.lower)


#: Challenge record stores by name (``Settings.challenge_store``).
challenge_stores: Registry[StoreEntry] = _registry("challenge store")
challenge_stores.register(StoreEntry("sqlite", _sqlite, local=True))
challenge_stores.register(StoreEntry("dynamodb", _dynamodb))

#: Frame image stores by name (``Settings.frame_store``).
frame_stores: Registry[StoreEntry] = _registry("frame store")
frame_stores.register(StoreEntry("filesystem", _filesystem, local=True))
frame_stores.register(StoreEntry("s3", _s3))


def open_stores(settings: Any, *, dynamodb_client: Any = None,
                s3_client: Any = None) -> tuple[ChallengeStore, FrameStore]:
    """The challenge store and frame store selected by ``settings``.

    AWS clients may be injected (tests pass moto-backed clients); by default
    they are created for ``settings.aws_region`` / ``settings.aws_endpoint_url``.
    A local backend creates the data directory private (``0700``) first.
    """
    challenge_entry = challenge_stores.get(settings.challenge_store)
    frame_entry = frame_stores.get(settings.frame_store)
    if challenge_entry.local or frame_entry.local:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    challenges = challenge_entry.build(settings, dynamodb_client)
    frames = frame_entry.build(settings, s3_client)
    return challenges, frames
