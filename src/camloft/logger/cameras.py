"""The cameras connected to this logger: one adapter link each, and their live state.

An adapter holds one websocket per device. Tasks for a camera go down it;
status comes up it. When the link drops the camera is `offline`. State lives
in this process (the many-machines issue moves it to the bus).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from camloft.errors import Conflict
from camloft.ids import DeviceRef

log = logging.getLogger("camloft.logger.cameras")

STATUS_VALUES = frozenset({"online", "novideo", "live"})
NUMBER_FIELDS = ("queue_mb", "queue_sec", "lastthumb", "laststill", "battery")


class TaskChannel(Protocol):
    async def send_json(self, data: Any) -> None: ...


@dataclass
class CameraState:
    status: str = "offline"
    lastactivity: int | None = None  # ms of the last message from the adapter
    lastthumb: int | None = None  # s, as /getthumb takes it
    laststill: int | None = None
    queue_mb: float | None = None
    queue_sec: float | None = None
    battery: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class CameraLinks:
    def __init__(self) -> None:
        self._channels: dict[DeviceRef, TaskChannel] = {}
        self._states: dict[DeviceRef, CameraState] = {}

    def attach(self, device: DeviceRef, channel: TaskChannel) -> None:
        """A newer link of the same device replaces the older one."""
        self._channels[device] = channel
        state = self._states.setdefault(device, CameraState())
        state.status = "online"
        state.lastactivity = int(time.time() * 1000)

    def detach(self, device: DeviceRef, channel: TaskChannel) -> None:
        if self._channels.get(device) is channel:
            del self._channels[device]
            self.state(device).status = "offline"

    def is_connected(self, device: DeviceRef) -> bool:
        return device in self._channels

    def state(self, device: DeviceRef) -> CameraState:
        return self._states.setdefault(device, CameraState())

    def report(self, device: DeviceRef, message: dict[str, Any]) -> None:
        """Take a status message from the adapter; unknown or bad values are ignored."""
        state = self.state(device)
        state.lastactivity = int(time.time() * 1000)
        status = message.get("status")
        if status in STATUS_VALUES:
            state.status = str(status)
        for name in NUMBER_FIELDS:
            value = message.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                setattr(state, name, int(value) if name in ("lastthumb", "laststill") else value)

    async def send_task(self, device: DeviceRef, action: str) -> None:
        channel = self._channels.get(device)
        if channel is None:
            raise Conflict(
                f"camera {device} is offline: its adapter is not connected", code="camera_offline"
            )
        await channel.send_json({"type": "task", "action": action})
