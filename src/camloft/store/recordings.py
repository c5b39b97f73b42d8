"""The logger's records of recorded video: segments and events, by device and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from camloft.events import EventRecord, EventType
from camloft.ids import DeviceRef
from camloft.store.accounts import now_ms
from camloft.store.tables import DeletedEventRow, DeviceRow, EventRow, SegmentRow

EventPut = Literal["created", "updated", "deleted"]


@dataclass(frozen=True, slots=True)
class StoredSegment:
    device: DeviceRef
    start_ms: int
    duration_ms: int
    size: int
    blob_key: str

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms


def segment_key(device: DeviceRef, start_ms: int) -> str:
    """Where a segment's bytes live: one folder per device and day-ish bucket."""
    return f"video/{device.uid}/{device.device_id}/{start_ms // 86_400_000}/{start_ms}.ts"


class RecordingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add_segment(self, segment: StoredSegment) -> bool:
        """Index a segment whose bytes are stored; False if it was indexed already."""
        async with self._sessions() as session:
            session.add(
                SegmentRow(
                    owner_uid=segment.device.uid,
                    device_id=segment.device.device_id,
                    start_ms=segment.start_ms,
                    duration_ms=segment.duration_ms,
                    size=segment.size,
                    blob_key=segment.blob_key,
                    received_ms=now_ms(),
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                return False
            return True

    async def segment(self, device: DeviceRef, start_ms: int) -> StoredSegment | None:
        async with self._sessions() as session:
            row = await session.get(SegmentRow, (device.uid, device.device_id, start_ms))
            return None if row is None else _stored(row)

    async def segments(self, device: DeviceRef, start_ms: int, end_ms: int) -> list[StoredSegment]:
        """Segments of `device` that overlap [start_ms, end_ms), oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SegmentRow)
                .where(
                    SegmentRow.owner_uid == device.uid,
                    SegmentRow.device_id == device.device_id,
                    SegmentRow.start_ms < end_ms,
                    # A segment is never longer than a minute: bounds the index scan.
                    SegmentRow.start_ms >= start_ms - 60_000,
                )
                .order_by(SegmentRow.start_ms)
            )
            return [s for s in map(_stored, rows) if s.end_ms > start_ms]

    async def put_event(self, device: DeviceRef, record: EventRecord) -> EventPut:
        """Record an event's newest state: "created" when the event is new, "updated"
        when it was known, "deleted" when a viewer deleted it (then nothing changes).

        An update never moves an event backwards: a late, older copy of a
        finished event (a retried upload) cannot reopen it. A deleted event
        stays deleted, though its adapter, still recording it, sends more.
        """
        key = (device.uid, device.device_id, record.id)
        async with self._sessions() as session:
            row = await session.get(EventRow, key)
            if row is None:
                if await session.get(DeletedEventRow, key) is not None:
                    return "deleted"
                session.add(
                    EventRow(
                        owner_uid=device.uid,
                        device_id=device.device_id,
                        id=record.id,
                        created_ms=now_ms(),
                        updated_ms=now_ms(),
                        **_event_columns(record),
                    )
                )
                try:
                    await session.commit()
                except IntegrityError:
                    return "updated"  # the same event arrived twice at once: one row
                return "created"
            if not row.recording and record.recording:
                return "updated"
            if record.endt >= row.endt or not record.recording:
                for name, value in _event_columns(record).items():
                    setattr(row, name, value)
                row.updated_ms = now_ms()
                await session.commit()
            return "updated"

    async def event_deleted(self, device: DeviceRef, event_id: int) -> bool:
        """Whether a viewer deleted this event (see `put_event`)."""
        async with self._sessions() as session:
            key = (device.uid, device.device_id, event_id)
            return await session.get(DeletedEventRow, key) is not None

    async def event(self, device: DeviceRef, event_id: int) -> EventRecord | None:
        async with self._sessions() as session:
            row = await session.get(EventRow, (device.uid, device.device_id, event_id))
            return None if row is None else _event(row)

    async def events(
        self,
        device: DeviceRef,
        *,
        from_ms: int = 0,
        to_ms: int = 2**62,
        known_by_ms: int | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> list[EventRecord]:
        """Events of `device` starting in [from_ms, to_ms), newest first, a page at a time.

        `known_by_ms` leaves out events the logger heard of later: a client paging
        through the list sees the same list on every page while new events arrive.
        """
        query = (
            select(EventRow)
            .where(
                EventRow.owner_uid == device.uid,
                EventRow.device_id == device.device_id,
                # An event's id is its start second: the same window on the primary key
                # lets SQLite's planner walk that index in id order, rather than pick the
                # retention index on startt and sort (measured 1.4 ms against ~750 ms at
                # a million events, bench/logger).
                EventRow.id >= from_ms // 1000,
                EventRow.id <= max(0, to_ms - 1) // 1000,
                EventRow.startt >= from_ms,
                EventRow.startt < to_ms,
            )
            .order_by(EventRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        if known_by_ms is not None:
            query = query.where(EventRow.created_ms <= known_by_ms)
        async with self._sessions() as session:
            return [_event(row) for row in await session.scalars(query)]

    async def delete_event(
        self, device: DeviceRef, event_id: int
    ) -> tuple[EventRecord, list[StoredSegment]] | None:
        """Remove an event and the index of its segments; answers what went, so the
        caller can delete the bytes (index first: a reader never finds a missing file)."""
        async with self._sessions() as session:
            row = await session.get(EventRow, (device.uid, device.device_id, event_id))
            if row is None:
                return None
            event = _event(row)
            in_event = (
                SegmentRow.owner_uid == device.uid,
                SegmentRow.device_id == device.device_id,
                SegmentRow.start_ms >= event.startt,
                SegmentRow.start_ms < max(event.endt, event.startt + 1),
            )
            segments = [
                _stored(s) for s in await session.scalars(select(SegmentRow).where(*in_event))
            ]
            await session.execute(delete(SegmentRow).where(*in_event))
            await session.delete(row)
            await session.merge(
                DeletedEventRow(
                    owner_uid=device.uid,
                    device_id=device.device_id,
                    id=event_id,
                    deleted_ms=now_ms(),
                )
            )
            await session.commit()
            return event, segments

    async def oldest_segments(
        self,
        *,
        device: DeviceRef | None = None,
        owner_uid: int | None = None,
        before_ms: int | None = None,
        limit: int = 500,
    ) -> list[StoredSegment]:
        """The oldest segments of a device, of an owner, or of everyone."""
        query = select(SegmentRow).order_by(SegmentRow.start_ms).limit(limit)
        if device is not None:
            query = query.where(
                SegmentRow.owner_uid == device.uid, SegmentRow.device_id == device.device_id
            )
        if owner_uid is not None:
            query = query.where(SegmentRow.owner_uid == owner_uid)
        if before_ms is not None:
            query = query.where(SegmentRow.start_ms < before_ms)
        async with self._sessions() as session:
            return [_stored(row) for row in await session.scalars(query)]

    async def forget_segments(self, segments: list[StoredSegment]) -> None:
        """Drop segments from the index (the caller deletes their bytes afterwards)."""
        async with self._sessions() as session:
            for segment in segments:
                await session.execute(
                    delete(SegmentRow).where(
                        SegmentRow.owner_uid == segment.device.uid,
                        SegmentRow.device_id == segment.device.device_id,
                        SegmentRow.start_ms == segment.start_ms,
                    )
                )
            await session.commit()

    async def delete_events_before(
        self, owner_uid: int, before_ms: int
    ) -> list[tuple[DeviceRef, int]]:
        """Remove an owner's events that started before `before_ms`; answers (device, id)."""
        where = (EventRow.owner_uid == owner_uid, EventRow.startt < before_ms)
        async with self._sessions() as session:
            gone = [
                (DeviceRef(row.owner_uid, row.device_id), row.id)
                for row in await session.execute(
                    select(EventRow.owner_uid, EventRow.device_id, EventRow.id).where(*where)
                )
            ]
            await session.execute(delete(EventRow).where(*where))
            # Deleted events as old as that need no guard: their adapter is long done.
            await session.execute(
                delete(DeletedEventRow).where(
                    DeletedEventRow.owner_uid == owner_uid,
                    DeletedEventRow.id < before_ms // 1000,
                )
            )
            await session.commit()
            return gone

    async def removed_devices(self) -> list[DeviceRef]:
        """Devices that still have video or events but are no longer in the account store
        (the device, or its owner, was removed). Device ids are never reused."""
        found: set[DeviceRef] = set()
        async with self._sessions() as session:
            for table in (SegmentRow, EventRow):
                gone = ~exists().where(
                    DeviceRow.owner_uid == table.owner_uid,
                    DeviceRow.device_id == table.device_id,
                )
                rows = await session.execute(
                    select(table.owner_uid, table.device_id).where(gone).distinct()
                )
                found.update(DeviceRef(uid, device_id) for uid, device_id in rows)
        return sorted(found)

    async def event_ids(self, device: DeviceRef) -> list[int]:
        """The ids of every event of a device."""
        async with self._sessions() as session:
            of_device = (EventRow.owner_uid == device.uid, EventRow.device_id == device.device_id)
            return list(await session.scalars(select(EventRow.id).where(*of_device)))

    async def delete_device_events(self, device: DeviceRef) -> None:
        """Remove every event of a device, and its delete guards."""
        async with self._sessions() as session:
            of_device = (EventRow.owner_uid == device.uid, EventRow.device_id == device.device_id)
            await session.execute(delete(EventRow).where(*of_device))
            await session.execute(
                delete(DeletedEventRow).where(
                    DeletedEventRow.owner_uid == device.uid,
                    DeletedEventRow.device_id == device.device_id,
                )
            )
            await session.commit()

    async def disk_use(self, owner_uid: int | None = None) -> dict[DeviceRef, int]:
        """Bytes of video stored per device."""
        query = select(
            SegmentRow.owner_uid, SegmentRow.device_id, func.sum(SegmentRow.size)
        ).group_by(SegmentRow.owner_uid, SegmentRow.device_id)
        if owner_uid is not None:
            query = query.where(SegmentRow.owner_uid == owner_uid)
        async with self._sessions() as session:
            return {
                DeviceRef(uid, device_id): int(total or 0)
                for uid, device_id, total in await session.execute(query)
            }


def _event_columns(record: EventRecord) -> dict[str, object]:
    return {
        "startt": record.startt,
        "endt": record.endt,
        "end_ms": record.end,
        "type": record.type.value,
        "smx": record.smx,
        "aud": record.aud,
        "rom": record.rom,
        "recording": record.recording,
        "tz": record.tz,
    }


def _event(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        startt=row.startt,
        endt=row.endt,
        end=row.end_ms,
        type=EventType(row.type),
        smx=row.smx,
        aud=row.aud,
        rom=row.rom,
        recording=row.recording,
        tz=row.tz,
    )


def _stored(row: SegmentRow) -> StoredSegment:
    return StoredSegment(
        DeviceRef(row.owner_uid, row.device_id),
        row.start_ms,
        row.duration_ms,
        row.size,
        row.blob_key,
    )
