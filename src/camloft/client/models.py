"""Typed results of the client: devices, events, camera status, realtime messages.

Each is a frozen dataclass built from the server's JSON by a `from_json`
class method that checks the fields it needs and keeps the whole object in
`raw` (so fields this client does not know yet are not lost). A missing or
wrongly typed field raises `ProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from camloft.client.errors import BadRequestError, ProtocolError

_UIDD = re.compile(r"[1-9][0-9]{0,9}\.[1-9][0-9]{0,9}")


def check_uidd(uidd: str) -> str:
    """`uidd` if it looks like `<owner uid>.<device id>`, else `BadRequestError` (no request)."""
    if not isinstance(uidd, str) or not _UIDD.fullmatch(uidd):
        raise BadRequestError(0, "invalid_id", f"a device is '<uid>.<device id>', got {uidd!r}")
    return uidd


def _get(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise ProtocolError(f"field {name!r} is {value!r}, expected {kind}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _opt(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    return None if data.get(name) is None else _get(data, name, kind)


def _magnitude(value: Any) -> int | None:
    """`smx`/`aud`: two hex digits `00`..`0a`, or null."""
    if value is None:
        return None
    try:
        return int(str(value), 16)
    except ValueError as err:
        raise ProtocolError(f"magnitude {value!r} is not hex") from err


@dataclass(frozen=True, slots=True)
class Device:
    """A device the user may see (`/devices/viewerInfo`, reference 1.2.3)."""

    uidd: str
    name: str
    permissions: tuple[str, ...]
    owner_uid: int
    alias: str | None = None
    logger_url: str | None = None  # scheme://host[:port] of its logger
    wowza_url: str | None = None  # scheme://host[:port] of its live origin
    streamname: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def device_id(self) -> int:
        return int(self.uidd.split(".")[1])

    @property
    def admin(self) -> bool:
        """True with the admin right (`a`): triggerevent, PTZ, deleting events."""
        return "a" in self.permissions

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, alias: str | None = None) -> Device:
        uidd = check_uidd(_get(data, "uidd", str))
        permissions = tuple(str(p) for p in data.get("permissions") or ())
        return cls(
            uidd=uidd,
            name=_get(data, "phonename", str),
            permissions=permissions,
            owner_uid=int(uidd.split(".")[0]),
            alias=_opt(data, "alias", str) or alias,
            logger_url=_url(data, "loggerUrl", "logger"),
            wowza_url=_url(data, "wowzaUrl", "wowza"),
            streamname=_opt(data, "streamname", str),
            raw=dict(data),
        )


def _url(data: Mapping[str, Any], with_scheme: str, host: str) -> str | None:
    """camloft's `loggerUrl`; from a bare reference host, https (the reference's servers)."""
    url = _opt(data, with_scheme, str)
    if url:
        return str(url).rstrip("/")
    bare = _opt(data, host, str)
    return f"https://{bare}" if bare else None


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event (`/alert`, reference 1.3.1); times in ms, `id` its start second."""

    uidd: str
    id: int
    startt: int
    endt: int
    end: int | None
    type: str
    smx: int | None
    aud: int | None
    tz: float
    rom: int
    recording: bool
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.startt / 1000, tz=UTC)

    @property
    def duration(self) -> float:
        """Seconds of recording (to `endt`)."""
        return max(0, self.endt - self.startt) / 1000

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            uidd=_get(data, "uid", str),
            id=_get(data, "id", int),
            startt=_get(data, "startt", int),
            endt=_get(data, "endt", int),
            end=_opt(data, "end", int),
            type=str(data.get("type") or "motion"),
            smx=_magnitude(data.get("smx")),
            aud=_magnitude(data.get("aud")),
            tz=float(data.get("tz") or 0),
            rom=1 if data.get("rom") is None else _get(data, "rom", int),
            recording=bool(data.get("recording", False)),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A camera's state (`/cameras/status`, reference 1.3.6, and realtime `liveSession`)."""

    uidd: str
    status: str  # live, online, novideo, offline
    live: bool
    lastactivity: int | None  # ms
    lastthumb: int | None  # s, what /getthumb takes
    laststill: int | None  # s, what /getstill takes
    lastalert: int  # id of the newest event the logger created since it started
    lastchunkend: int | None
    battery: float | None
    queue_mb: float | None
    queue_sec: float | None
    wowza: str | None
    permissions: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def shown(self) -> tuple[object, ...]:
        """What a viewer notices change; a repeated liveSession with the same is a duplicate."""
        backlog = bool(self.queue_mb) or bool(self.queue_sec)
        return (
            self.status,
            self.live,
            self.battery,
            self.lastthumb,
            self.laststill,
            self.lastalert,
            backlog,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CameraStatus:
        uidd = data.get("uidd") or data.get("uid")
        if not isinstance(uidd, str):
            raise ProtocolError(f"a camera status without its uidd: {data!r}")
        return cls(
            uidd=uidd,
            status=_get(data, "status", str),
            live=bool(data.get("live")),
            lastactivity=_opt(data, "lastactivity", int),
            lastthumb=_opt(data, "lastthumb", int),
            laststill=_opt(data, "laststill", int),
            lastalert=int(data.get("lastalert") or 0),
            lastchunkend=_opt(data, "lastchunkend", int),
            battery=_opt(data, "battery", (int, float)),
            queue_mb=_opt(data, "queue_mb", (int, float)),
            queue_sec=_opt(data, "queue_sec", (int, float)),
            wowza=_opt(data, "wowza", str),
            permissions=tuple(str(p) for p in data.get("permissions") or ()),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class RealtimeMessage:
    """One message of `/cameras/realtime/live` (reference 1.3.9).

    `type` is `liveSession` (then `status` is set) or `alert` (then `event`
    is set). `backfilled` marks an alert the stream missed (during a
    reconnect, or dropped for a slow reader) that the client fetched from
    `/events` instead.
    """

    type: Literal["liveSession", "alert"]
    uidd: str
    status: CameraStatus | None = None
    event: Event | None = None
    backfilled: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, message: Mapping[str, Any]) -> RealtimeMessage | None:
        """The message, or None for a type this client does not know."""
        kind, data = message.get("type"), message.get("data")
        if not isinstance(data, Mapping):
            raise ProtocolError(f"a realtime message without data: {message!r}")
        if kind == "liveSession":
            status = CameraStatus.from_json(data)
            return cls("liveSession", status.uidd, status=status, raw=dict(message))
        if kind == "alert":
            event = Event.from_json(data)
            return cls("alert", event.uidd, event=event, raw=dict(message))
        return None


@dataclass(frozen=True, slots=True)
class Download:
    """A finished download: where it lies, its size, and whether it resumed a partial file."""

    path: str
    size: int
    resumed: bool
