"""The fleet's table and the allocator on SQLite and PostgreSQL: heartbeats, placement by
load and region, moves off dead servers, and two allocators that never disagree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from camloft.config import Settings
from camloft.fleet import Allocator, Heartbeat
from camloft.ids import DeviceRef
from camloft.store.accounts import AccountStore
from camloft.store.db import create_engine, migrate
from camloft.store.fleet import FleetStore

pytestmark = pytest.mark.anyio
SETTINGS = Settings(heartbeat_seconds=0.2, heartbeat_timeout_seconds=1, bus_url="redis://x")
L1, L2, L3 = "http://logger-1:8080", "http://logger-2:8080", "http://logger-3:8080"
O1 = "http://live-1:8080"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def devices(accounts: AccountStore, count: int, region: str = "eu") -> list[DeviceRef]:
    owner = await accounts.create_user(f"{region}{count}@example.com", "h", alias="o",
                                       region=region, max_age_days=7, max_devices=1000)
    return [(await accounts.add_device(owner.uid, f"c{n}", key_hash="k",
                                       stream_suffix=f"{region}{n}")).ref for n in range(count)]


async def placed(accounts: AccountStore, refs: list[DeviceRef]) -> list[str | None]:
    return [d.logger_url for d in await accounts.devices(refs=refs)]


async def test_devices_go_to_the_least_loaded_alive_logger(engine: AsyncEngine) -> None:
    fleet, accounts = FleetStore(engine), AccountStore(engine)
    refs = await devices(accounts, 6)
    await fleet.beat(L1, "logger", "eu", 0, 1)
    await fleet.beat(L2, "logger", "eu", 0, 1)
    assert await Allocator(fleet, SETTINGS).place() == 6
    assert sorted(await placed(accounts, refs)) == [L1, L1, L1, L2, L2, L2]
    # Nothing to do the second time; a new logger takes the next new devices.
    assert await Allocator(fleet, SETTINGS).place() == 0
    await fleet.beat(L3, "logger", "eu", 0, 1)
    more = await devices(accounts, 2, region="eu-2")
    await Allocator(fleet, SETTINGS).place()
    assert await placed(accounts, more) == [L3, L3]


async def test_a_dead_loggers_devices_move_and_a_pinned_device_stays(
    engine: AsyncEngine,
) -> None:
    fleet, accounts = FleetStore(engine), AccountStore(engine)
    refs = await devices(accounts, 4)
    await fleet.beat(L1, "logger", "eu", 0, 1)
    await Allocator(fleet, SETTINGS).place()
    elsewhere = "http://outside-the-fleet:9000"  # placed by hand on a server that never beats
    await accounts.move_device(refs[3], logger_url=elsewhere, wowza_url=None)
    await asyncio.sleep(SETTINGS.heartbeat_timeout_seconds + 0.2)
    # Neither has beaten for longer than the timeout: nothing to move to.
    assert await Allocator(fleet, SETTINGS).place() == 0
    await fleet.beat(L2, "logger", "eu", 0, 1)  # L2 is back; L1 stays silent
    allocator = Allocator(fleet, SETTINGS)
    assert await allocator.place() == 3
    assert await placed(accounts, refs) == [L2, L2, L2, elsewhere]
    report = {(s["url"], s["alive"], s["devices"]) for s in await allocator.report()}
    assert (L1, False, 0) in report and (L2, True, 3) in report


async def test_a_clean_leave_moves_devices_at_once(engine: AsyncEngine) -> None:
    fleet, accounts = FleetStore(engine), AccountStore(engine)
    refs = await devices(accounts, 2)
    origin = SETTINGS.model_copy(update={"public_url": O1, "region": "eu"})
    heartbeat = Heartbeat(fleet, origin, {"live": lambda: 7})
    await heartbeat.beat()
    await fleet.beat("http://live-2:8080", "live", "eu", 0, 1)
    allocator = Allocator(fleet, SETTINGS)
    await allocator.place()
    on_first = [d.ref for d in await accounts.devices(refs=refs) if d.wowza_url == O1]
    assert len(on_first) == 1
    assert {(s["url"], s["load"]) for s in await allocator.report()} >= {(O1, 7)}
    await heartbeat.leave()
    assert await allocator.place() == 1
    assert {d.wowza_url for d in await accounts.devices(refs=refs)} == {"http://live-2:8080"}


async def test_devices_prefer_a_logger_of_their_owners_region(engine: AsyncEngine) -> None:
    fleet, accounts = FleetStore(engine), AccountStore(engine)
    await fleet.beat(L1, "logger", "eu", 0, 1)
    await fleet.beat(L2, "logger", "us", 0, 1)
    eu = await devices(accounts, 3, region="eu")
    us = await devices(accounts, 1, region="us")
    asia = await devices(accounts, 1, region="asia")
    await Allocator(fleet, SETTINGS).place()
    assert await placed(accounts, eu) == [L1, L1, L1]
    assert await placed(accounts, us) == [L2]
    assert await placed(accounts, asia) == [L2]  # no logger of its own: the least loaded


async def test_two_allocators_at_once_place_each_device_once(engine: AsyncEngine) -> None:
    fleet, accounts = FleetStore(engine), AccountStore(engine)
    refs = await devices(accounts, 40)
    await fleet.beat(L1, "logger", "eu", 0, 1)
    await fleet.beat(L2, "logger", "eu", 0, 1)
    moved = await asyncio.gather(
        Allocator(fleet, SETTINGS).place(), Allocator(fleet, SETTINGS).place()
    )
    assert sum(moved) == 40  # every device moved by exactly one of them
    assert None not in await placed(accounts, refs)
