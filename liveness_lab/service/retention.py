"""Retention of the challenge service: delete old challenges with their frames.

:func:`purge_stores` is the one deletion routine (used by ``liveness-lab purge``
and by the service's background :class:`Purger`). Retention is on by default
(``Settings.retention``, 24 hours): results and frames are readable until then,
deleted within ``purge_interval_s`` after.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .stores.base import ChallengeStore, FrameStore, check_challenge_id

__all__ = ["purge_stores", "Purger"]

log = logging.getLogger("liveness_lab.service")


def purge_stores(challenges: ChallengeStore, frames: FrameStore, older_than_s: float, *,
                 now: float | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete the challenges created more than ``older_than_s`` seconds before ``now``.

    Each record is deleted before its frames, so a crash in between leaves
    unlisted files, never a listed frame without its file; such leftovers
    (frame folders whose challenge no longer exists) are deleted as orphans,
    here and by every later purge. Returns ``{"challenges", "frames",
    "orphanFrameFolders"}`` counts.
    """
    if not older_than_s > 0:
        raise ValueError(f"older_than_s must be > 0, got {older_than_s!r}")
    cutoff = (time.time() if now is None else now) - older_than_s
    counts = {"challenges": 0, "frames": 0, "orphanFrameFolders": 0}
    seen: set[str] = set()
    while True:
        ids = [i for i in challenges.ids_created_before(cutoff, limit=500) if i not in seen]
        if not ids:
            break
        for challenge_id in ids:
            seen.add(challenge_id)
            counts["challenges"] += 1
            if dry_run:
                continue
            challenges.delete(challenge_id)
            counts["frames"] += frames.delete_prefix(challenge_id)
    for challenge_id in list(frames.challenge_ids()):
        if challenge_id in seen:
            continue
        try:
            check_challenge_id(challenge_id)
        except ValueError:
            continue  # not a folder the service created: leave it alone
        if challenges.get(challenge_id) is None:
            counts["orphanFrameFolders"] += 1
            if not dry_run:
                counts["frames"] += frames.delete_prefix(challenge_id)
    if not dry_run:
        frames.remove_stale_temp_files()
    return counts


class Purger:
    """A daemon thread running ``purge()`` every ``interval_s`` seconds until :meth:`stop`."""

    def __init__(self, purge: Callable[[], dict[str, int]], interval_s: float) -> None:
        self._purge = purge
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="liveness-purge", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                counts = self._purge()
                if counts["challenges"] or counts["orphanFrameFolders"]:
                    log.info("retention purge: %s", counts)
            except Exception:
                log.exception("retention purge failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
