"""Benchmark of the fleet's placement (issue 8): how fast devices move off a dead server.

When a logger dies, an authenticator moves every device placed on it
(`camloft.fleet.Allocator.place`); until then its cameras record into their
adapters' spools and viewerInfo names a dead logger. So the time to move them
bounds the outage a logger's death causes, beyond the heartbeat timeout.

In process, against PostgreSQL (a fresh database, migrated as the server does):
`DEVICES` devices of `DEVICES / 10` owners, seeded by bulk insert; `LOGGERS`
loggers and as many live origins beating (`FleetStore.beat`).

1. First placement: every device unplaced -> placed on the least loaded logger
   and origin (two moves per device).
2. A logger dies (`FleetStore.leave`: dead at once): its devices, a quarter of
   all, move to the others.

`TRIALS` trials each (placements reset in between); medians and devices per
second. The same `place()` runs every `heartbeat_seconds` in every
authenticator; a second authenticator racing it only loses conditional updates.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from camloft.config import load_settings
from camloft.fleet import Allocator
from camloft.store.db import create_engine, migrate
from camloft.store.fleet import FleetStore
from camloft.store.tables import DeviceRow, UserRow
from common import (
    device_row,
    machine,
    machine_text,
    med,
    pg_database,
    postgres_version,
    run_benchmark,
    runs_text,
    user_row,
    write_results,
)

DEVICES = 10_000
LOGGERS = 4
TRIALS = 3
SETTINGS = load_settings(
    env={}, heartbeat_seconds=1, heartbeat_timeout_seconds=60, bus_url="redis://unused"
)


@dataclass
class Trial:
    first_s: float
    first_moves: int
    failover_s: float
    failover_moves: int


async def seed(engine: AsyncEngine) -> None:
    now = int(time.time() * 1000)
    owners = DEVICES // 10
    async with engine.begin() as connection:
        await connection.execute(
            sa.insert(UserRow),
            [user_row(f"o{n}@bench.example", "x", f"Owner {n}", max_age_days=7, now_ms=now,
                      last_device_id=10) for n in range(owners)],
        )
        uids = list(await connection.scalars(sa.select(UserRow.uid).order_by(UserRow.uid)))
        await connection.execute(
            sa.insert(DeviceRow),
            [device_row(uid, device, "k", now_ms=now) for uid in uids for device in range(1, 11)],
        )


async def trial(engine: AsyncEngine, fleet: FleetStore) -> Trial:
    async with engine.begin() as connection:
        await connection.execute(sa.update(DeviceRow).values(logger_url=None, wowza_url=None))
    loggers = [f"http://logger-{n}.bench:8080" for n in range(LOGGERS)]
    for n, url in enumerate(loggers):
        await fleet.beat(url, "logger", "local", 0, 1)
        await fleet.beat(f"http://live-{n}.bench:8080", "live", "local", 0, 1)
    allocator = Allocator(fleet, SETTINGS)
    started = time.perf_counter()
    first_moves = await allocator.place()
    first_s = time.perf_counter() - started
    await fleet.leave(loggers[0], "logger")
    started = time.perf_counter()
    failover_moves = await allocator.place()
    failover_s = time.perf_counter() - started
    for url in loggers:
        await fleet.leave(url, "logger")
    return Trial(first_s, first_moves, failover_s, failover_moves)


async def measure(database: str) -> list[Trial]:
    engine = create_engine(f"postgresql+asyncpg://root@127.0.0.1:5432/{database}")
    try:
        await migrate(engine)
        await seed(engine)
        fleet = FleetStore(engine)
        return [await trial(engine, fleet) for _ in range(TRIALS)]
    finally:
        await engine.dispose()


def main() -> int:
    info = machine({"PostgreSQL": postgres_version()})
    with pg_database() as database:
        trials = asyncio.run(measure(database))
    first = [t.first_s for t in trials]
    failover = [t.failover_s for t in trials]
    moved = trials[0].failover_moves
    first_row = (
        f"| first placement (logger and origin of every device) | {trials[0].first_moves:,} "
        f"| {runs_text(first, 2)} | {med(first):.2f} | {DEVICES / med(first):,.0f} |"
    )
    failover_row = (
        f"| a logger dies: its devices move | {moved:,} | {runs_text(failover, 2)} "
        f"| {med(failover):.2f} | {moved / med(failover):,.0f} |"
    )
    for t in trials:
        print(f"first placement {t.first_moves} moves in {t.first_s:.2f} s; "
              f"failover {t.failover_moves} moves in {t.failover_s:.2f} s")
    section = f"""## bench/fleet

`python bench/fleet/run.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.
Machine: {machine_text(info)}.

Placing devices with `Allocator.place` (in process, PostgreSQL on loopback):
{DEVICES:,} devices of {DEVICES // 10:,} owners, {LOGGERS} loggers and {LOGGERS} live origins
beating. {TRIALS} trials each; medians.

| step | moves | seconds (runs) | median | devices per second |
|---|---|---|---|---|
{first_row}
{failover_row}

A logger's death costs its cameras the heartbeat timeout (15 s by default)
plus the move above, plus their adapters' next try (at most 10 s of backoff):
the spool holds their video meanwhile. Moves are conditional UPDATEs of up to
500 devices each. (The first version moved one device per UPDATE: 1,002
devices a second, 10 s for the first placement of 10,000.)
"""
    print(section)
    write_results(section)
    return 0


if __name__ == "__main__":
    run_benchmark(main)
