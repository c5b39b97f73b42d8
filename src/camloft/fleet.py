"""The fleet: loggers and live origins that beat, and where each device is placed.

With a shared bus (`Settings.fleet`), every logger and live origin process
writes a heartbeat to the database every `heartbeat_seconds`, carrying its
load (cameras linked, streams live), and marks itself gone when it stops
cleanly. A server not heard of for `heartbeat_timeout_seconds` is dead.

Authenticators place devices (`Allocator`): a device with no logger (or live
origin) yet, or one whose server is dead, goes to the alive server with the
fewest devices, one of its owner's region where there is one. They do it
every `heartbeat_seconds` for every device, and at once for the devices a
`viewerInfo` is about to name. A device placed by hand on a server that does
not beat (`camloft admin device move` to a server outside the fleet) is left
where it is. Without alive servers of a role nothing moves: the device keeps
its place, or the deployment's default.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from camloft.config import Settings
from camloft.ids import DeviceRef
from camloft.store.accounts import Device
from camloft.store.fleet import FLEET_ROLES, FleetStore, Placement, Server
from camloft.store.periodic import STORE_ERRORS, run_every

log = logging.getLogger("camloft.fleet")

SERVERS_FRESH_SECONDS = 1.0
"""How long an allocator trusts its last read of the servers table for a viewerInfo."""


class Heartbeat:
    """This process's heartbeats, for the fleet roles it plays."""

    def __init__(
        self, store: FleetStore, settings: Settings, loads: Mapping[str, Callable[[], int]]
    ) -> None:
        self._store = store
        self._settings = settings
        self._loads = dict(loads)
        self._started_ms = int(time.time() * 1000)

    async def beat(self) -> None:
        for role, load in self._loads.items():
            await self._store.beat(
                self._settings.base_url, role, self._settings.region, load(), self._started_ms
            )

    async def run_forever(self) -> None:
        await run_every(self._settings.heartbeat_seconds, self.beat, what="the heartbeat")

    async def leave(self) -> None:
        for role in self._loads:
            try:
                await self._store.leave(self._settings.base_url, role)
            except STORE_ERRORS as err:
                log.error("could not say %s leaves the fleet: %s", role, err)


def is_alive(server: Server, timeout_seconds: float, now_ms: float) -> bool:
    return server.seen_ms >= now_ms - timeout_seconds * 1000


class Allocator:
    """Places devices on the fleet's alive loggers and live origins."""

    def __init__(self, store: FleetStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._servers: list[Server] = []
        self._db_now_ms = 0  # the database's clock when the servers were read ...
        self._read_at = float("-inf")  # ... and this process's monotonic clock then

    async def servers(self, *, fresh: bool = False) -> list[Server]:
        if fresh or time.monotonic() - self._read_at > SERVERS_FRESH_SECONDS:
            self._servers, self._db_now_ms = await self._store.servers()
            self._read_at = time.monotonic()
        return self._servers

    def _now_ms(self) -> float:
        """Now by the database's clock (heartbeats are stamped with it)."""
        return self._db_now_ms + (time.monotonic() - self._read_at) * 1000

    def _split(self, servers: Iterable[Server], role: str) -> tuple[list[Server], set[str]]:
        """The alive servers of `role`, and the URLs of its dead ones."""
        now = self._now_ms()
        timeout = self._settings.heartbeat_timeout_seconds
        alive = [s for s in servers if s.role == role and is_alive(s, timeout, now)]
        alive_urls = {s.url for s in alive}
        dead = {s.url for s in servers if s.role == role and s.url not in alive_urls}
        return alive, dead

    async def misplaced(self, devices: Iterable[Device]) -> list[DeviceRef]:
        """Those of `devices` that `place` would move (read from a recent view of the fleet)."""
        devices = list(devices)  # gone through once per role
        servers = await self.servers()
        wrong: list[DeviceRef] = []
        for role in FLEET_ROLES:
            alive, dead = self._split(servers, role)
            if not alive:
                continue
            for device in devices:
                url = device.logger_url if role == "logger" else device.wowza_url
                if url is None or url in dead:
                    wrong.append(device.ref)
        return list(dict.fromkeys(wrong))

    async def place(self, refs: Iterable[DeviceRef] | None = None) -> int:
        """Place every device (or those of `refs`) that needs a server; how many moved."""
        servers = await self.servers(fresh=True)
        wanted = None if refs is None else list(refs)
        moved = 0
        for role in FLEET_ROLES:
            alive, dead = self._split(servers, role)
            if not alive:
                continue
            todo = await self._store.misplaced(role, dead, wanted)
            if not todo:
                continue
            counts = await self._store.placed_counts(role)
            plan: dict[tuple[str | None, str], list[DeviceRef]] = {}
            for placement in todo:
                chosen = _least_loaded(alive, counts, placement)
                counts[chosen.url] = counts.get(chosen.url, 0) + 1
                plan.setdefault((placement.url, chosen.url), []).append(placement.ref)
            for (old, new), refs in plan.items():
                done = await self._store.move(role, old, new, refs)
                moved += done
                log.info(
                    "%d devices placed on %s %s (were %s)%s",
                    done,
                    role,
                    new,
                    old or "unplaced",
                    f": {', '.join(map(str, refs))}" if len(refs) <= 10 else "",
                )
        return moved

    async def report(self) -> list[dict[str, Any]]:
        """Every server that ever beat: what `GET /admin/fleet` shows."""
        servers = await self.servers(fresh=True)
        placed = {role: await self._store.placed_counts(role) for role in FLEET_ROLES}
        now = self._now_ms()
        timeout = self._settings.heartbeat_timeout_seconds
        return [
            {
                "url": server.url,
                "role": server.role,
                "region": server.region,
                "alive": is_alive(server, timeout, now),
                "load": server.load,
                "devices": placed[server.role].get(server.url, 0),
                "startedMs": server.started_ms,
                "seenMs": server.seen_ms or None,
            }
            for server in servers
        ]

    async def run_forever(self) -> None:
        await run_every(self._settings.heartbeat_seconds, self.place, what="placing devices")


def _least_loaded(alive: list[Server], counts: Mapping[str, int], placement: Placement) -> Server:
    home = [server for server in alive if server.region == placement.owner_region]
    return min(home or alive, key=lambda server: (counts.get(server.url, 0), server.url))
