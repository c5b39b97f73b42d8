"""Deleting old video so recording never stops: by age, by owner quota, by free disk.

As the reference describes plans: an owner with a plan of N days keeps N + 2
days of video and N + 3 days of event rows (rows outlive the video a day, so
a client that asks with `maxage` never lists an event whose video is gone).
Beyond age, an owner over `owner_quota_gb` loses their oldest video first,
and when the disk holding the data dir has less than `keep_free_percent`
free, the oldest video of everyone goes first, so a full disk never stops
recording. The index row goes before the file: nothing is listed that is gone.
Periodic thumbs and stills go with the video of their time (they have no
index: the blob store lists them by name, which is their second); an event's
thumb goes with its event. A device that was removed, or whose owner was,
loses all of it at the next run.

The keep-free rule is for video on a local disk. With the S3 blob store there
is no disk of ours to fill (`no_disk_to_fill`): age and quota (counted from
the index's sizes) still apply, and the bucket's own limits are the store's.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

from camloft.ids import DeviceRef
from camloft.logger.link import image_folder, image_key
from camloft.store.accounts import AccountStore, now_ms
from camloft.store.blobs import BlobStore
from camloft.store.periodic import run_every
from camloft.store.recordings import RecordingStore, StoredSegment

log = logging.getLogger("camloft.logger.retention")
DAY_MS = 86_400_000
VIDEO_EXTRA_DAYS = 2
ROWS_EXTRA_DAYS = 3
BATCH = 500
PICTURE_KINDS = ("thumb", "still")  # event thumbs ("alert") go with their event
EVERY_NAME = "~"  # sorts after every picture's name (digits)


@dataclass
class RetentionReport:
    segments_by_age: int = 0
    segments_by_quota: int = 0
    segments_for_space: int = 0
    events: int = 0
    pictures: int = 0
    removed_devices: int = 0
    owners: list[int] = field(default_factory=list)


def free_fraction_of(path: Path) -> Callable[[], float]:
    def free_fraction() -> float:
        usage = shutil.disk_usage(path)
        return usage.free / usage.total

    return free_fraction


def no_disk_to_fill() -> float:
    """The free fraction of an object store: all of it, as far as retention knows."""
    return 1.0


class Retention:
    def __init__(
        self,
        accounts: AccountStore,
        recordings: RecordingStore,
        blobs: BlobStore,
        *,
        keep_free_percent: float,
        owner_quota_bytes: int,
        free_fraction: Callable[[], float],
        exclusive: Callable[[], AbstractAsyncContextManager[bool]] | None = None,
    ) -> None:
        self.accounts = accounts
        self.recordings = recordings
        self.blobs = blobs
        self.keep_free = keep_free_percent / 100
        self.owner_quota_bytes = owner_quota_bytes
        self.free_fraction = free_fraction
        # In a fleet every logger runs retention; one at a time does the work
        # (`store.db.only_one`), or they would all delete the same oldest video.
        self.exclusive = exclusive

    async def run_once(self, now: int | None = None) -> RetentionReport:
        now = now_ms() if now is None else now
        report = RetentionReport()
        for user in await self.accounts.users():
            report.owners.append(user.uid)
            video_cutoff = now - (user.max_age_days + VIDEO_EXTRA_DAYS) * DAY_MS
            while batch := await self.recordings.oldest_segments(
                owner_uid=user.uid, before_ms=video_cutoff, limit=BATCH
            ):
                report.segments_by_age += await self._delete(batch)
            for owned in await self.accounts.devices(owners=[user.uid]):
                report.pictures += await self._delete_pictures(
                    owned.ref, below=str(video_cutoff // 1000)
                )
            rows_cutoff = now - (user.max_age_days + ROWS_EXTRA_DAYS) * DAY_MS
            for device, event_id in await self.recordings.delete_events_before(
                user.uid, rows_cutoff
            ):
                await self.blobs.delete(image_key(device, "alert", event_id))
                report.events += 1
            if self.owner_quota_bytes:
                report.segments_by_quota += await self._enforce_quota(user.uid)
        for device in await self.recordings.removed_devices():
            await self._delete_removed(device)
            report.removed_devices += 1
        while self.free_fraction() < self.keep_free:
            batch = await self.recordings.oldest_segments(limit=50)
            if not batch:
                log.error("the disk is short of space and no video is left to delete")
                break
            report.segments_for_space += await self._delete(batch)
        if (
            report.segments_by_age
            or report.segments_by_quota
            or report.segments_for_space
            or report.pictures
            or report.removed_devices
        ):
            log.info("retention: %s", report)
        return report

    async def _enforce_quota(self, owner_uid: int) -> int:
        deleted = 0
        over = sum((await self.recordings.disk_use(owner_uid)).values()) - self.owner_quota_bytes
        while over > 0:
            batch = await self.recordings.oldest_segments(owner_uid=owner_uid, limit=50)
            if not batch:
                break
            taken: list[StoredSegment] = []
            for segment in batch:
                if over <= 0:
                    break
                taken.append(segment)
                over -= segment.size
            deleted += await self._delete(taken)
        return deleted

    async def _delete_removed(self, device: DeviceRef) -> None:
        """Everything of a device that was removed (or whose owner was): video, events,
        pictures. Its owner asked for it to go; nobody can see it any more anyway."""
        # Pictures and event thumbs before the rows that find this device again if
        # a blob store's hiccup stops this half-way.
        await self._delete_pictures(device, below=EVERY_NAME)
        for event_id in await self.recordings.event_ids(device):
            await self.blobs.delete(image_key(device, "alert", event_id))
        await self.recordings.delete_device_events(device)
        while batch := await self.recordings.oldest_segments(device=device, limit=BATCH):
            await self._delete(batch)
        log.info("retention: deleted the recordings of removed device %s", device)

    async def _delete_pictures(self, device: DeviceRef, *, below: str) -> int:
        """The periodic thumbs and the stills named (by their second) below `below`."""
        deleted = 0
        for kind in PICTURE_KINDS:
            folder = image_folder(device, kind)
            while keys := await self.blobs.keys_below(folder, below, BATCH):
                for key in keys:
                    await self.blobs.delete(key)
                deleted += len(keys)
                if len(keys) < BATCH:
                    break
        return deleted

    async def _delete(self, segments: list[StoredSegment]) -> int:
        await self.recordings.forget_segments(segments)
        for segment in segments:
            await self.blobs.delete(segment.blob_key)
        return len(segments)

    async def run_forever(self, interval_seconds: float) -> None:
        await run_every(interval_seconds, self.run_if_mine, what="retention")

    async def run_if_mine(self) -> RetentionReport | None:
        """`run_once`, unless another process of the fleet is running it now."""
        if self.exclusive is None:
            return await self.run_once()
        async with self.exclusive() as mine:
            return await self.run_once() if mine else None
