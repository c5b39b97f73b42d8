"""The realtime stream's text, read without I/O: Server-Sent Events and de-duplication.

`SSEParser` turns the lines of `/cameras/realtime/live` into JSON messages
and comments. `RealtimeTracker` decides which messages are news across
reconnects (the server starts every connection with a `liveSession` of each
device, and repeats them after `: dropped <n>`):

- a `liveSession` is passed on only when what a viewer notices changed
  (`CameraStatus.shown()`: status, live, battery, lastthumb, laststill,
  lastalert, a backlog), so the round at each reconnect repeats nothing;
- an `alert` is passed on once per (uidd, id);
- an alert missed while disconnected (or dropped for a slow reader) shows as
  a `liveSession` whose `lastalert` is newer than any alert seen for that
  device: `missed_since` says so, and the client fetches those events from
  `/events` and passes them on marked `backfilled`.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from camloft.client.errors import ProtocolError
from camloft.client.models import Event, RealtimeMessage

SEEN_ALERTS = 1000  # alerts remembered per device for de-duplication


@dataclass(frozen=True, slots=True)
class Comment:
    """An SSE comment line (`: keepalive`, `: dropped 3`, `: no device to watch`)."""

    text: str


class SSEParser:
    """Feed lines (without their line ending); get JSON messages and comments."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> dict[str, Any] | Comment | None:
        if line.startswith(":"):
            return Comment(line[1:].strip())
        if line == "":
            if not self._data:
                return None
            text, self._data = "\n".join(self._data), []
            try:
                message = json.loads(text)
            except ValueError as err:
                raise ProtocolError(f"a realtime message that is not JSON: {text[:80]!r}") from err
            if not isinstance(message, dict):
                raise ProtocolError("a realtime message that is not a JSON object")
            return message
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None  # event:, id:, retry: are not used by this API


class RealtimeTracker:
    """What has been passed on, per device, across reconnects (see the module docstring)."""

    def __init__(self) -> None:
        self._shown: dict[str, tuple[object, ...]] = {}
        self._alerts: dict[str, deque[int]] = {}
        self._newest: dict[str, int] = {}  # newest alert id accounted for, per device

    def accept(self, message: RealtimeMessage) -> bool:
        """True if `message` is news and should be passed on."""
        if message.type == "alert":
            assert message.event is not None
            return self._accept_alert(message.event)
        assert message.status is not None
        shown = message.status.shown()
        if self._shown.get(message.uidd) == shown:
            return False
        self._shown[message.uidd] = shown
        return True

    def missed_since(self, message: RealtimeMessage) -> int | None:
        """For a liveSession announcing an alert not seen: the newest alert id seen before it.

        The first liveSession of a device only sets the baseline: history
        before the stream began is not replayed.
        """
        if message.type != "liveSession" or message.status is None:
            return None
        lastalert = message.status.lastalert
        known = self._newest.get(message.uidd)
        if known is None:
            self._newest[message.uidd] = lastalert
            return None
        if lastalert > known:
            self._newest[message.uidd] = lastalert
            return known
        return None

    def accept_backfill(self, events: list[Event]) -> list[RealtimeMessage]:
        """Events fetched for a gap, oldest first, less those already passed on."""
        fresh = [e for e in sorted(events, key=lambda e: e.id) if self._accept_alert(e)]
        return [
            RealtimeMessage(
                "alert",
                e.uidd,
                event=e,
                backfilled=True,
                raw={"type": "alert", "data": dict(e.raw)},
            )
            for e in fresh
        ]

    def _accept_alert(self, event: Event) -> bool:
        seen = self._alerts.setdefault(event.uidd, deque(maxlen=SEEN_ALERTS))
        if event.id in seen:
            return False
        seen.append(event.id)
        self._newest[event.uidd] = max(self._newest.get(event.uidd, 0), event.id)
        return True
