"""The fleet's table: loggers and live origins, their heartbeats, and device placement.

Each logger and live origin process writes its own row (`beat`, `leave`);
authenticators read the rows to place devices (`camloft.fleet.Allocator`)
and move devices with `move`, a conditional update: when two authenticators
move the same device at once, the first wins and the second sees it did not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from camloft.ids import DeviceRef
from camloft.store.tables import DeviceRow, ServerRow, UserRow

FLEET_ROLES = ("logger", "live")
MOVE_CHUNK = 500  # devices per UPDATE when moving many


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    role: str
    region: str
    load: int
    started_ms: int
    seen_ms: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a device is placed for one role, and its owner's region."""

    ref: DeviceRef
    url: str | None
    owner_region: str


def _column(role: str) -> InstrumentedAttribute[str | None]:
    if role == "logger":
        return DeviceRow.logger_url
    if role == "live":
        return DeviceRow.wowza_url
    raise ValueError(f"fleet roles are {', '.join(FLEET_ROLES)}, not {role!r}")


class FleetStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def beat(self, url: str, role: str, region: str, load: int, started_ms: int) -> None:
        """Say that `url` plays `role` and is alive now (the database's now), carrying `load`."""
        _column(role)
        async with self._sessions() as session:
            values = {
                "region": region,
                "load": load,
                "started_ms": started_ms,
                "seen_ms": await self._now_ms(session),
            }
            result = await session.execute(
                update(ServerRow)
                .where(ServerRow.url == url, ServerRow.role == role)
                .values(**values)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                session.add(ServerRow(url=url, role=role, **values))
            try:
                await session.commit()
            except IntegrityError:  # another process of the same URL inserted first
                await session.rollback()

    async def leave(self, url: str, role: str) -> None:
        """`url` stops cleanly: dead from now on, so its devices move at once."""
        async with self._sessions() as session:
            await session.execute(
                update(ServerRow)
                .where(ServerRow.url == url, ServerRow.role == role)
                .values(seen_ms=0, load=0)
            )
            await session.commit()

    async def servers(self) -> tuple[list[Server], int]:
        """Every server that ever beat, and the database's now (ms) to judge them by."""
        async with self._sessions() as session:
            rows = await session.scalars(select(ServerRow).order_by(ServerRow.role, ServerRow.url))
            found = [Server(r.url, r.role, r.region, r.load, r.started_ms, r.seen_ms) for r in rows]
            return found, await self._now_ms(session)

    @staticmethod
    async def _now_ms(session: AsyncSession) -> int:
        """The database's clock, the one clock every process of a fleet shares: a machine
        whose own clock is off must not look dead, nor make others look dead."""
        if session.get_bind().dialect.name == "postgresql":
            now = select(func.extract("epoch", func.clock_timestamp()) * 1000)
        else:  # SQLite: Julian days
            now = select((func.julianday("now") - 2440587.5) * 86_400_000)
        return int(await session.scalar(now) or 0)

    async def placed_counts(self, role: str) -> dict[str, int]:
        """How many devices each server of `role` has been given."""
        column = _column(role)
        async with self._sessions() as session:
            rows = await session.execute(
                select(column, func.count()).where(column.is_not(None)).group_by(column)
            )
            return {str(url): int(count) for url, count in rows}

    async def misplaced(
        self, role: str, dead: Iterable[str], refs: Iterable[DeviceRef] | None = None
    ) -> list[Placement]:
        """Devices of `role` placed nowhere or on one of the `dead` servers (of `refs` only,
        if given), with their owner's region."""
        column = _column(role)
        condition: ColumnElement[bool] = column.is_(None)
        dead_urls = sorted(set(dead))
        if dead_urls:
            condition = condition | column.in_(dead_urls)
        query = (
            select(DeviceRow.owner_uid, DeviceRow.device_id, column, UserRow.region)
            .join(UserRow, UserRow.uid == DeviceRow.owner_uid)
            .where(condition)
            .order_by(DeviceRow.owner_uid, DeviceRow.device_id)
        )
        async with self._sessions() as session:
            rows = await session.execute(query)
            found = [
                Placement(DeviceRef(uid, device_id), url, region)
                for uid, device_id, url, region in rows
            ]
        if refs is None:
            return found
        wanted = set(refs)
        return [placement for placement in found if placement.ref in wanted]

    async def move(self, role: str, old: str | None, new: str, refs: Sequence[DeviceRef]) -> int:
        """Place `refs` on `new`, each only if it is still on `old`; how many moved
        (fewer when someone moved some first). In chunks of `MOVE_CHUNK`."""
        column = _column(role)
        still_there = column.is_(None) if old is None else column == old
        moved = 0
        async with self._sessions() as session:
            for start in range(0, len(refs), MOVE_CHUNK):
                pairs = [(ref.uid, ref.device_id) for ref in refs[start : start + MOVE_CHUNK]]
                result = await session.execute(
                    update(DeviceRow)
                    .where(tuple_(DeviceRow.owner_uid, DeviceRow.device_id).in_(pairs))
                    .where(still_there)
                    .values({column: new})
                )
                moved += int(result.rowcount)  # type: ignore[attr-defined]
            await session.commit()
        return moved
