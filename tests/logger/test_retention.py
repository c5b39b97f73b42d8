"""Retention: plan days + 2 of video, + 3 of event rows; owner quotas; a full disk never
stops recording. Runs the job in-process on a real store (SQLite and PostgreSQL) and
real files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from camloft.events import EventRecord, EventType
from camloft.ids import DeviceRef
from camloft.logger.link import image_key
from camloft.logger.retention import DAY_MS, Retention
from camloft.store.accounts import AccountStore
from camloft.store.blobs import FileBlobStore
from camloft.store.db import create_engine, migrate
from camloft.store.recordings import RecordingStore, StoredSegment, segment_key

pytestmark = pytest.mark.anyio
NOW = 1_800_000_000_000
SIZE = 1000


class Stores:
    def __init__(self, accounts: AccountStore, recordings: RecordingStore,
                 blobs: FileBlobStore) -> None:
        self.accounts, self.recordings, self.blobs = accounts, recordings, blobs

    async def owner_with_device(self, email: str, days: int) -> DeviceRef:
        user = await self.accounts.create_user(email, "h", alias="a", region="local",
                                               max_age_days=days, max_devices=5)
        device = await self.accounts.add_device(user.uid, "cam", key_hash="k",
                                                stream_suffix=email[:6])
        return device.ref

    async def segment(self, device: DeviceRef, start_ms: int) -> None:
        key = segment_key(device, start_ms)
        await self.blobs.put(key, b"\x47" * SIZE)
        await self.recordings.add_segment(StoredSegment(device, start_ms, 2000, SIZE, key))

    async def event(self, device: DeviceRef, start_ms: int) -> None:
        await self.recordings.put_event(device, EventRecord(
            id=start_ms // 1000, startt=start_ms, endt=start_ms + 4000, end=start_ms + 2000,
            type=EventType.MOTION, smx=5, aud=None, rom=True, recording=False))
        await self.blobs.put(image_key(device, "alert", start_ms // 1000), b"\xff\xd8jpeg")

    async def starts(self, device: DeviceRef) -> list[int]:
        return [s.start_ms for s in await self.recordings.oldest_segments(device=device)]


@pytest.fixture
async def stores(database_url: str, tmp_path: Path) -> AsyncIterator[Stores]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield Stores(AccountStore(engine), RecordingStore(engine), FileBlobStore(tmp_path / "blobs"))
    await engine.dispose()


def retention(stores: Stores, *, quota: int = 0, free: list[float] | None = None,
              keep_free: float = 5.0) -> Retention:
    readings = iter(free or [])
    return Retention(stores.accounts, stores.recordings, stores.blobs,
                     keep_free_percent=keep_free, owner_quota_bytes=quota,
                     free_fraction=lambda: next(readings, 1.0))


async def test_plan_days_plus_two_of_video_plus_three_of_rows(stores: Stores) -> None:
    device = await stores.owner_with_device("seven@example.com", days=7)
    ages = [1, 8, 9.5, 10.5]  # days old
    for age in ages:
        await stores.segment(device, int(NOW - age * DAY_MS))
        await stores.event(device, int(NOW - age * DAY_MS))
    report = await retention(stores).run_once(NOW)
    assert report.segments_by_age == 2  # older than 9 days
    assert await stores.starts(device) == [int(NOW - 8 * DAY_MS), int(NOW - 1 * DAY_MS)]
    assert report.events == 1  # only the one older than 10 days
    left = await stores.recordings.events(device)
    assert sorted(e.startt for e in left) == sorted(int(NOW - a * DAY_MS) for a in ages[:3])
    video = stores.blobs.root / "video"
    assert len(list(video.rglob("*.ts"))) == 2
    assert not stores.blobs.path(image_key(device, "alert", int(NOW - 10.5 * DAY_MS) // 1000)
                                 ).exists()


async def test_thumbs_and_stills_go_with_the_video_of_their_time(stores: Stores) -> None:
    device = await stores.owner_with_device("pics@example.com", days=7)
    ages = {"thumb": [0.5, 8.5, 9.5, 12], "still": [1, 9.2]}  # days old
    for kind, days in ages.items():
        for age in days:
            await stores.blobs.put(image_key(device, kind, int(NOW - age * DAY_MS) // 1000),
                                   b"\xff\xd8jpeg")
    report = await retention(stores).run_once(NOW)
    assert report.pictures == 3  # older than 9 days: two thumbs and a still
    left = {kind: sorted(int(p.stem) for p in (stores.blobs.root / "images").rglob(f"{kind}/*"))
            for kind in ages}
    assert left == {"thumb": sorted(int(NOW - a * DAY_MS) // 1000 for a in (0.5, 8.5)),
                    "still": [int(NOW - DAY_MS) // 1000]}


async def test_removed_devices_and_users_lose_their_recordings(stores: Stores) -> None:
    kept = await stores.owner_with_device("kept@example.com", days=30)
    removed = await stores.accounts.add_device(kept.uid, "gone", key_hash="k", stream_suffix="g")
    leaving = await stores.owner_with_device("leaving@example.com", days=30)
    for device in (kept, removed.ref, leaving):
        for n in range(3):
            await stores.segment(device, NOW - n * 60_000)
            await stores.event(device, NOW - n * 60_000)
        await stores.blobs.put(image_key(device, "thumb", NOW // 1000), b"\xff\xd8jpeg")
    await stores.accounts.remove_device(removed.ref)
    await stores.accounts.remove_user(leaving.uid)
    report = await retention(stores).run_once(NOW)
    assert report.removed_devices == 2
    for gone in (removed.ref, leaving):
        assert await stores.starts(gone) == []
        assert await stores.recordings.events(gone) == []
        pictures = stores.blobs.root / "images" / str(gone.uid) / str(gone.device_id)
        assert list(pictures.rglob("*.jpg")) == []
    assert len(await stores.starts(kept)) == 3 and len(await stores.recordings.events(kept)) == 3
    assert len(list((stores.blobs.root / "images" / str(kept.uid)).rglob("*.jpg"))) == 4
    assert (await retention(stores).run_once(NOW)).removed_devices == 0  # nothing left over


async def test_owner_quota_drops_that_owners_oldest(stores: Stores) -> None:
    small = await stores.owner_with_device("small@example.com", days=30)
    other = await stores.owner_with_device("other@example.com", days=30)
    for n in range(10):
        await stores.segment(small, NOW - (10 - n) * 60_000)
        await stores.segment(other, NOW - (10 - n) * 60_000)
    report = await retention(stores, quota=4 * SIZE).run_once(NOW)
    assert report.segments_by_quota == 12  # 6 of each owner
    assert await stores.starts(small) == [NOW - n * 60_000 for n in (4, 3, 2, 1)]
    assert len(await stores.starts(other)) == 4
    assert (await stores.recordings.disk_use())[small] == 4 * SIZE


async def test_low_disk_drops_the_oldest_video_of_all(stores: Stores) -> None:
    """A full disk cannot be made safely on this shared machine: the free-space reading
    is the one stand-in here; deletion runs on the real store and files."""
    first = await stores.owner_with_device("a@example.com", days=30)
    second = await stores.owner_with_device("b@example.com", days=30)
    for n in range(60):
        await stores.segment(first if n % 2 else second, NOW - (60 - n) * 1000)
    report = await retention(stores, free=[0.01, 0.2]).run_once(NOW)
    assert report.segments_for_space == 50  # one batch, then the disk had room again
    remaining = sorted(await stores.starts(first) + await stores.starts(second))
    assert remaining == [NOW - (60 - n) * 1000 for n in range(50, 60)]  # the newest stay
    assert len(list((stores.blobs.root / "video").rglob("*.ts"))) == 10
