"""The logger's index of recorded segments, by device and time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from camloft.ids import DeviceRef
from camloft.store.accounts import now_ms
from camloft.store.tables import SegmentRow


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


def _stored(row: SegmentRow) -> StoredSegment:
    return StoredSegment(
        DeviceRef(row.owner_uid, row.device_id),
        row.start_ms,
        row.duration_ms,
        row.size,
        row.blob_key,
    )
