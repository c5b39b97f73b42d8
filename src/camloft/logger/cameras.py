"""The cameras connected to this logger: one adapter link each, and their live state.

An adapter holds one websocket per device. Tasks for a camera go down it;
status comes up it. When the link drops the camera is `offline`. A task is
published on the bus's `task.<uidd>` topic, which the process holding the
link listens to (`camloft.logger.link`), so any logger of a fleet can send
it; nobody listening means the camera is offline. The camera's state lives in
the process that holds its link: that is the device's logger, the one
viewerInfo names.

A device is *resident* on this logger once its adapter has linked or uploaded
to it since the logger started: from then on it has a `CameraState` here
(`offline` while its link is down). Each change a viewer would notice is
published on the bus as the realtime `liveSession` message (reference 1.3.9)
on the device's topic: a change of `status` (and so `live`), of the live
session or its origin, `battery`,
`lastthumb`, `laststill` or `lastalert`, or an upload backlog that appears or
clears. `lastactivity`, `lastchunkend` and the size of a backlog move every
few seconds and are not published on their own: /cameras/status shows them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from camloft.bus import Bus, device_topic, task_topic
from camloft.errors import Conflict
from camloft.ids import DeviceRef

log = logging.getLogger("camloft.logger.cameras")

STATUS_VALUES = frozenset({"online", "novideo", "live"})
NUMBER_FIELDS = ("queue_mb", "queue_sec", "lastthumb", "laststill", "battery")
STILL_MODE = "video_only"  # the reference's `stillmode`: stills are frames of the video


class TaskChannel(Protocol):
    async def send_json(self, data: Any) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass
class CameraState:
    status: str = "offline"
    lastactivity: int | None = None  # ms of the last message from the adapter
    lastthumb: int | None = None  # s, as /getthumb takes it
    laststill: int | None = None
    lastchunkend: int | None = None  # ms: end of the newest segment received
    lastalert: int = 0  # s: start (the id) of the newest event created; 0 before any
    queue_mb: float | None = None
    queue_sec: float | None = None
    battery: float | None = None
    live_session: int | None = None  # ms: start of the live session while streaming
    live_origin: str | None = None  # host of the live origin it streams to
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.status == "live"

    def fields(self) -> dict[str, Any]:
        """The camera's fields of /cameras/status (reference 1.3.6), in the reference's order.

        Without `uid` and `permissions`; `wowza` is None unless live: whoever
        shows the fields fills in the device's assigned live origin.
        """
        live = self.live
        return {
            "session": self.live_session if live else None,
            "live": live,
            "startt": (self.live_session or 0) if live else 0,
            "lastchunkend": self.lastchunkend,
            "endt": None,
            "lastactivity": self.lastactivity,
            "lastthumb": self.lastthumb,
            "laststill": self.laststill,
            "stillmode": STILL_MODE,
            "wowza": self.live_origin if live else None,
            "device": True,
            "status": self.status,
            "lastalert": self.lastalert,
            "battery": self.battery,
            "power": None,
            "stalepower": 1,
            "facebookStreamId": None,
            "queue_mb": self.queue_mb,
            "queue_sec": self.queue_sec,
        }

    def shown(self) -> tuple[object, ...]:
        """What a realtime viewer sees change (see the module docstring)."""
        backlog = bool(self.queue_mb) or bool(self.queue_sec)
        return (
            self.status,
            self.live_session,
            self.live_origin,
            self.battery,
            self.lastthumb,
            self.laststill,
            self.lastalert,
            backlog,
        )


def live_session(device: DeviceRef, state: CameraState) -> dict[str, Any]:
    """A camera's realtime `liveSession` message (reference 1.3.9); `wowza` left to the reader."""
    return {"type": "liveSession", "data": state.fields() | {"uidd": str(device)}}


class CameraLinks:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._channels: dict[DeviceRef, TaskChannel] = {}
        self._states: dict[DeviceRef, CameraState] = {}

    async def attach(self, device: DeviceRef, channel: TaskChannel) -> None:
        """A newer link of the same device replaces the older one."""
        self._channels[device] = channel
        state = self.state(device)
        before = state.shown()
        state.status = "online"
        state.lastactivity = int(time.time() * 1000)
        await self._publish_if_changed(device, state, before)

    async def detach(self, device: DeviceRef, channel: TaskChannel) -> None:
        if self._channels.get(device) is channel:
            del self._channels[device]
            state = self.state(device)
            before = state.shown()
            state.status = "offline"
            state.live_session = state.live_origin = None
            await self._publish_if_changed(device, state, before)

    def connected(self) -> list[DeviceRef]:
        """The devices whose adapter is linked to this process now."""
        return sorted(self._channels)

    async def disconnect(self, device: DeviceRef, code: int, reason: str) -> None:
        """Close the device's link (the adapter dials again, and learns why from `code`)."""
        channel = self._channels.get(device)
        if channel is not None:
            await channel.close(code=code, reason=reason)

    def state(self, device: DeviceRef) -> CameraState:
        """The device's state, making it resident here if it was not."""
        return self._states.setdefault(device, CameraState())

    def resident(self, device: DeviceRef) -> CameraState | None:
        """The device's state if it is resident here (see the module docstring)."""
        return self._states.get(device)

    def residents(self) -> list[DeviceRef]:
        return sorted(self._states)

    async def report(self, device: DeviceRef, message: dict[str, Any]) -> None:
        """Take a status message from the adapter; unknown or bad values are ignored."""
        state = self.state(device)
        before = state.shown()
        state.lastactivity = int(time.time() * 1000)
        status = message.get("status")
        if status in STATUS_VALUES:
            state.status = str(status)
        live = message.get("live") is True and state.status == "live"
        session, origin = message.get("live_session"), message.get("live_origin")
        valid = isinstance(session, int) and isinstance(origin, str) and len(origin) <= 300
        state.live_session = session if live and valid else None
        state.live_origin = origin if live and valid else None
        for name in NUMBER_FIELDS:
            value = message.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                setattr(state, name, int(value) if name in ("lastthumb", "laststill") else value)
        await self._publish_if_changed(device, state, before)

    async def image_stored(self, device: DeviceRef, kind: str, second: int) -> None:
        """A thumb or still of `second` arrived: it may be the newest."""
        state = self.state(device)
        before = state.shown()
        if kind == "thumb":
            state.lastthumb = max(state.lastthumb or 0, second)
        elif kind == "still":
            state.laststill = max(state.laststill or 0, second)
        await self._publish_if_changed(device, state, before)

    def segment_stored(self, device: DeviceRef, end_ms: int) -> None:
        """A segment ending at `end_ms` arrived (not published: it happens every 2 s)."""
        state = self.state(device)
        state.lastchunkend = max(state.lastchunkend or 0, end_ms)

    async def event_created(self, device: DeviceRef, event_id: int, alert: dict[str, Any]) -> None:
        """A new event: its realtime `alert` message goes out, then the new `lastalert`."""
        await self._bus.publish(device_topic(device), {"type": "alert", "data": alert})
        state = self.state(device)
        before = state.shown()
        state.lastalert = max(state.lastalert, event_id)
        await self._publish_if_changed(device, state, before)

    async def _publish_if_changed(
        self, device: DeviceRef, state: CameraState, before: tuple[object, ...]
    ) -> None:
        if state.shown() != before:
            await self._bus.publish(device_topic(device), live_session(device, state))

    async def send_task(self, device: DeviceRef, action: str, **details: str) -> None:
        """Send `{"type": "task", "action": action, **details}` to the device's link,
        wherever in the fleet it is held."""
        task = {"type": "task", "action": action} | details
        channel = self._channels.get(device)
        if channel is not None:  # linked here: no need of the bus
            await channel.send_json(task)
            return
        if not await self._bus.publish(task_topic(device), task):
            raise Conflict(
                f"camera {device} is offline: its adapter is not connected", code="camera_offline"
            )
