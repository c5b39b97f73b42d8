"""The client's logic, written once without I/O; `Client` and `AsyncClient` run it.

Each operation is a generator that yields `Call`s (an HTTP request to make)
and `Sleep`s, and is sent back the answers; it returns the typed result. The
sync client drives it with `httpx.Client` and `time.sleep`, the async one
with `httpx.AsyncClient` and `asyncio.sleep`, so the rules of the reference
live here only:

- **viewerInfo** (logger and live origin of each device) is cached for
  `viewer_info_seconds` (10 minutes, as the reference asks), and fetched
  again at once when a logger answers that a device is `not resident`
  (`/cameras/status` errors) or that the camera is offline (`409
  camera_offline`, which is also what a logger says of a camera that moved
  away): if the device now has another logger, the call goes there.
- **maxage** of `/alert` comes from the login's `accountInfo.maxAge` days.
- Errors come back as exceptions (`camloft.client.errors`); an operation
  may catch one and try again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import httpx

from camloft.client._auth import Credentials, Session, TokenAuth
from camloft.client._responses import json_body, json_value
from camloft.client.cache import SegmentCache, playlist_segments
from camloft.client.errors import (
    CameraOfflineError,
    NotFoundError,
    NotLoggedInError,
    ProtocolError,
)
from camloft.client.models import CameraStatus, Device, Event, check_uidd

T = TypeVar("T")

VIEWER_INFO_SECONDS = 600.0  # the reference: viewerInfo every 10 minutes
LIVE_INTERVAL = 30.0  # livecommand every 30 s (1.3.4)
RECORD_INTERVAL = 15.0  # triggerevent every 15 s (1.3.5)
REALTIME_RECONNECT = 240.0  # reconnect the realtime stream every 4 minutes (1.3.9)
REALTIME_READ_TIMEOUT = 60.0  # the logger sends a keepalive every 15 s of silence
PAGE_SIZE = 20
MAX_PAGE = 100  # what /alert answers at most
DAY_MS = 86_400_000
NOT_RESIDENT = "not resident"
PTZ_DIRECTIONS = ("up", "down", "left", "right", "in", "out")


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request an operation wants made."""

    method: str
    url: str
    params: Sequence[tuple[str, str | int]] | None = None
    json: Any = None
    authenticated: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    check: bool = True  # raise the APIError of an error answer

    @classmethod
    def of(cls, request: httpx.Request) -> Call:
        """A request built by the auth flow (a login or refresh: no token of its own)."""
        return cls(
            request.method,
            str(request.url),
            authenticated=False,
            headers={"Content-Type": request.headers.get("Content-Type", "")},
            content=request.content,
            check=False,
        )


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Step = Call | Sleep
Op = Generator[Step, Any, T]


def fetch(call: Call) -> Generator[Step, Any, httpx.Response]:
    """Make one call (inside an operation: `response = yield from fetch(call)`)."""
    response = yield call
    assert isinstance(response, httpx.Response)
    return response


def group_devices(result: Any) -> tuple[list[Device], list[str]]:
    """Devices of a `/devices` or `/devices/viewerInfo` answer, and the uidds in `errors`."""
    if not isinstance(result, dict) or not isinstance(result.get("result"), dict):
        raise ProtocolError("a devices answer without result")
    devices: list[Device] = []
    for group in result["result"].values():
        if not isinstance(group, dict) or not isinstance(group.get("devices"), dict):
            raise ProtocolError("a devices group without devices")
        alias = group.get("alias") if isinstance(group.get("alias"), str) else None
        devices.extend(Device.from_json(d, alias=alias) for d in group["devices"].values())
    errors = [
        uidd for entry in result.get("errors") or [] if isinstance(entry, dict) for uidd in entry
    ]
    return sorted(devices, key=_uidd_key), errors


def _uidd_key(device: Device) -> tuple[int, int]:
    return device.owner_uid, device.device_id


def filename_of(response: httpx.Response) -> str | None:
    """The file name of a `Content-Disposition` header, without any directory part."""
    header = response.headers.get("Content-Disposition")
    if not header:
        return None
    message = Message()
    message["Content-Disposition"] = header
    name = message.get_filename()
    return Path(name).name if name else None


def resume_offset(response: httpx.Response, have: int) -> int:
    """Where the body of a download answer starts in the file: `have` or 0.

    206 with a `Content-Range` that starts at `have` continues the partial
    file; anything else (a server that ignores `Range`, as the logger's
    streamed MP4 does) is the whole file again, so the partial one is dropped.
    """
    if have and response.status_code == 206:
        unit, _, spec = response.headers.get("Content-Range", "").partition(" ")
        start = spec.split("-", 1)[0]
        if unit == "bytes" and start.isdigit() and int(start) == have:
            return have
        raise ProtocolError(f"the server resumed at {spec!r}, not at byte {have}")
    return 0


def total_size(response: httpx.Response, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


ProgressCallback = Callable[[int, int | None], None]


class BaseClient:
    """State and operations shared by `Client` and `AsyncClient` (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        session: Session | None = None,
        timeout: float = 30.0,
        viewer_info_seconds: float = VIEWER_INFO_SECONDS,
        cache: SegmentCache | None = None,
        on_session: Callable[[Session], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.viewer_info_seconds = viewer_info_seconds
        self.cache = cache or SegmentCache()
        self._auth = TokenAuth(self.url, on_session, timeout=timeout)
        self._auth.session = session
        self._devices: dict[str, tuple[float, Device]] = {}

    # --- session -------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The login session (token, expiry, refresh credential), or None before login."""
        return self._auth.session

    @property
    def token(self) -> str:
        """The current token (it may be due for refresh; calls refresh it themselves)."""
        if self._auth.session is None:
            raise NotLoggedInError("log in first")
        return self._auth.session.token

    @property
    def authenticator(self) -> str:
        """The user's own authenticator (the login's `authenticator`), else the entry URL."""
        return self._auth.session.authenticator if self._auth.session else self.url

    def _op_login(self, email: str, password: str, remember_password: bool) -> Op[Session]:
        self._auth.session = None
        self._auth.credentials = Credentials(email, password)
        self._devices.clear()
        try:
            flow = self._auth.login_requests()
            request = next(flow)
            while True:
                response = yield from fetch(Call.of(request))
                try:
                    request = flow.send(response)
                except StopIteration:
                    break
        finally:
            if not remember_password:
                self._auth.credentials = None
        assert self._auth.session is not None
        return self._auth.session

    def _op_refresh(self) -> Op[Session]:
        """Get a fresh token now (the clients do it by themselves before it runs out)."""
        flow = self._auth.refresh_requests()
        try:
            request = next(flow)
            while True:
                response = yield from fetch(Call.of(request))
                request = flow.send(response)
        except StopIteration:
            pass
        assert self._auth.session is not None
        return self._auth.session

    def _op_logout(self) -> Op[None]:
        session = self._auth.session
        if session is not None and session.web_login:
            yield from fetch(
                Call(
                    "POST",
                    f"{session.authenticator}/logout",
                    json={"webLogin": session.web_login},
                    authenticated=False,
                )
            )
        self._auth.session = None
        self._auth.credentials = None
        self._devices.clear()

    # --- the authenticator: devices and viewerInfo -----------------------------------------

    def _op_devices(self) -> Op[list[Device]]:
        response = yield from fetch(Call("GET", f"{self.authenticator}/devices"))
        devices, _ = group_devices(json_body(response))
        return devices

    def _op_viewer_info(
        self, uidds: Sequence[str] | None = None, *, force: bool = False
    ) -> Op[list[Device]]:
        """Details (logger, live origin, stream name) of `uidds`, or of every device.

        Served from the cache while younger than `viewer_info_seconds`.
        A uidd the user may not see raises `NotFoundError`.
        """
        now = time.monotonic()
        if uidds is not None:
            uidds = [check_uidd(u) for u in uidds]
            cached = [self._devices.get(u) for u in uidds]
            if not force and all(c and now - c[0] < self.viewer_info_seconds for c in cached):
                return [c[1] for c in cached if c]
        params = [("uidd", u) for u in uidds] if uidds is not None else None
        response = yield from fetch(
            Call("GET", f"{self.authenticator}/devices/viewerInfo", params=params)
        )
        devices, errors = group_devices(json_body(response))
        if errors:
            raise NotFoundError(404, "not_found", f"no visible device {', '.join(errors)}")
        for device in devices:
            self._devices[device.uidd] = (time.monotonic(), device)
        if uidds is None:
            return devices
        by_uidd = {d.uidd: d for d in devices}
        return [by_uidd[u] for u in uidds if u in by_uidd]

    def _op_device(self, uidd: str, *, force: bool = False) -> Op[Device]:
        devices = yield from self._op_viewer_info([uidd], force=force)
        if not devices:
            raise NotFoundError(404, "not_found", f"no visible device {uidd}")
        return devices[0]

    def _logger(self, device: Device) -> str:
        return device.logger_url or self.authenticator

    # --- the logger ------------------------------------------------------------------------

    def _op_task(self, uidd: str, action: str) -> Op[str]:
        """`/sendcameratask` (1.3.4, 1.3.5, 1.3.7, 1.5.1) on the device's logger."""
        device = yield from self._op_device(uidd)
        for attempt in range(2):
            call = Call(
                "GET",
                f"{self._logger(device)}/sendcameratask",
                params=[("uid", uidd), ("action", action)],
            )
            try:
                response = yield from fetch(call)
            except CameraOfflineError:
                moved = yield from self._op_device(uidd, force=True)
                if attempt or moved.logger_url == device.logger_url:
                    raise
                device = moved
                continue
            result = json_body(response).get("result")
            return str(result)
        raise AssertionError("unreachable")

    def _op_status(self, uidds: Sequence[str] | None = None) -> Op[list[CameraStatus]]:
        """Camera status from each device's logger; devices not resident are left out.

        A device a logger calls `not resident` has its viewerInfo fetched
        again at once; if it moved to another logger, that one is asked.
        """
        devices = yield from self._op_viewer_info(uidds)
        found: dict[str, CameraStatus] = {}
        missing = yield from self._status_from(devices, found)
        if missing:
            moved = yield from self._op_viewer_info(missing, force=True)
            before = {d.uidd: d.logger_url for d in devices}
            again = [d for d in moved if d.logger_url != before.get(d.uidd)]
            if again:
                yield from self._status_from(again, found)
        order = [d.uidd for d in devices]
        return [found[u] for u in order if u in found]

    def _status_from(
        self, devices: Sequence[Device], found: dict[str, CameraStatus]
    ) -> Generator[Step, Any, list[str]]:
        by_logger: dict[str, list[str]] = {}
        for device in devices:
            by_logger.setdefault(self._logger(device), []).append(device.uidd)
        not_resident: list[str] = []
        for logger, uidds in by_logger.items():
            response = yield from fetch(
                Call("GET", f"{logger}/cameras/status", params=[("uidd", u) for u in uidds])
            )
            body = json_body(response)
            result = body.get("result")
            if not isinstance(result, dict):
                raise ProtocolError("/cameras/status answered no result")
            for group in result.values():
                for data in (group or {}).get("devices", {}).values():
                    status = CameraStatus.from_json(data)
                    found[status.uidd] = status
            for entry in body.get("errors") or []:
                not_resident.extend(u for u, why in entry.items() if why == NOT_RESIDENT)
        return not_resident

    def _maxage(self, maxage: int | None) -> int | None:
        if maxage is not None:
            return maxage
        session = self._auth.session
        return session.max_age_days * DAY_MS if session and session.max_age_days else None

    def _op_events(
        self,
        uidd: str,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        maxage: int | None = None,
        startt: int = 1,
    ) -> Op[list[Event]]:
        """One page of `/alert` (1.3.1): newest first, `offset` skipped."""
        device = yield from self._op_device(uidd)
        params: list[tuple[str, str | int]] = [
            ("uid", uidd),
            ("startt", startt),
            ("offset", offset),
            ("limit", limit),
        ]
        if (age := self._maxage(maxage)) is not None:
            params.append(("maxage", age))
        response = yield from fetch(Call("GET", f"{self._logger(device)}/alert", params=params))
        result = json_body(response).get("result")
        if not isinstance(result, list):
            raise ProtocolError("/alert answered no list")
        return [Event.from_json(e) for e in result]

    def _op_events_between(
        self, uidd: str, startt: int, endt: int | None = None
    ) -> Op[list[Event]]:
        """`/events`: events that started in [startt, endt) ms, newest first."""
        device = yield from self._op_device(uidd)
        params: list[tuple[str, str | int]] = [("uidd", uidd), ("startt", startt)]
        if endt is not None:
            params.append(("endt", endt))
        response = yield from fetch(Call("GET", f"{self._logger(device)}/events", params=params))
        result = json_value(response)
        if not isinstance(result, list):
            raise ProtocolError("/events answered no list")
        return [Event.from_json(e) for e in result]

    def _op_delete_event(self, uidd: str, event_id: int) -> Op[None]:
        device = yield from self._op_device(uidd)
        yield from fetch(Call("DELETE", f"{self._logger(device)}/alert/{uidd}/{int(event_id)}"))

    def _op_image(self, uidd: str, kind: str, second: int) -> Op[bytes]:
        """`/alertthumb`, `/getthumb` or `/getstill` (1.3.2, 1.3.8), token in the header."""
        device = yield from self._op_device(uidd)
        response = yield from fetch(
            Call("GET", f"{self._logger(device)}/{kind}/{uidd}/{int(second)}")
        )
        return response.content

    def _op_capture(self, uidd: str, kind: str, within: float) -> Op[tuple[int, bytes]]:
        """Ask for a still (or thumb), wait for `laststill` to move, fetch it (1.3.7, 1.3.8)."""
        field_name = "laststill" if kind == "still" else "lastthumb"
        before = yield from self._op_status([uidd])
        old = getattr(before[0], field_name) if before else None
        asked = time.time()
        yield from self._op_task(uidd, f"capture{kind}")
        deadline = time.monotonic() + within
        while True:
            now = yield from self._op_status([uidd])
            second = getattr(now[0], field_name) if now else None
            if second is not None and second != old and second >= int(asked) - 1:
                data = yield from self._op_image(uidd, f"get{kind}", second)
                return second, data
            if time.monotonic() >= deadline:
                raise NotFoundError(404, "no_image", f"the camera sent no {kind} in {within} s")
            yield Sleep(0.5)

    def _op_playlist(self, uidd: str, event_id: int) -> Op[str]:
        device = yield from self._op_device(uidd)
        response = yield from fetch(
            Call(
                "GET",
                f"{self._logger(device)}/alerturl.m3u8",
                params=[("uid", uidd), ("id", int(event_id))],
            )
        )
        return response.text

    def _op_segment(self, uidd: str, start_ms: int) -> Op[Path]:
        """A recorded segment from the local cache, fetched once."""
        cached = self.cache.get(uidd, start_ms)
        if cached is not None:
            return cached
        device = yield from self._op_device(uidd)
        response = yield from fetch(
            Call("GET", f"{self._logger(device)}/seg_{uidd}_{int(start_ms)}.ts")
        )
        return self.cache.put(uidd, start_ms, response.content)

    def _op_cache_event(self, uidd: str, event_id: int) -> Op[Path]:
        """Every segment of an event in the cache, and a playlist of the cached files."""
        text = yield from self._op_playlist(uidd, event_id)
        for seg_uidd, start_ms in playlist_segments(text):
            yield from self._op_segment(seg_uidd, start_ms)
        return self.cache.local_playlist(text, f"event_{int(event_id)}.m3u8", uidd)

    def _op_live_url(self, uidd: str) -> Op[str]:
        """The live playlist (1.4.1): `<wowzaUrl>/manything/<streamname>/playlist.m3u8?userToken=`.

        Built from viewerInfo no older than 10 minutes (cameras move between
        live origins) and a token with life left in it.
        """
        device = yield from self._op_device(uidd)
        if not device.streamname:
            raise ProtocolError(f"viewerInfo of {uidd} names no live stream")
        if self._auth.session is None or self._auth.session.refresh_due():
            yield from self._op_refresh()
        wowza = device.wowza_url or self.authenticator
        return str(
            httpx.URL(
                f"{wowza}/manything/{device.streamname}/playlist.m3u8",
                params={"userToken": self.token},
            )
        )

    def _op_mp4_call(self, uidd: str, event_id: int) -> Op[Call]:
        device = yield from self._op_device(uidd)
        return Call(
            "GET",
            f"{self._logger(device)}/alerturl.m3u8",
            params=[("uid", uidd), ("id", int(event_id)), ("buildmp4", 1)],
        )

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        return http.build_request(
            call.method,
            call.url,
            params=list(call.params) if call.params else None,
            json=call.json,
            content=call.content,
            headers=dict(call.headers),
            timeout=self.timeout,
        )


def ptz_action(direction: str, mode: str = "step") -> str:
    """`ptz_<dir>` (1 s), `ptzstart_<dir>` (until stopped) or `ptzstop` (1.5.1)."""
    if mode == "stop":
        return "ptzstop"
    if direction not in PTZ_DIRECTIONS:
        raise ValueError(f"a PTZ direction is one of {', '.join(PTZ_DIRECTIONS)}")
    return f"ptzstart_{direction}" if mode == "start" else f"ptz_{direction}"


class EventPager:
    """Paging state of `/alert` newest first (1.1.4: "call /alert again with an offset").

    The logger keeps pages of one pass stable while new events arrive, but
    only for the token that asked `offset=0`; a token refreshed mid-pass
    loses that, so events already passed on (an id not older than the last
    one) are dropped here too.
    """

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        self.limit = max(1, min(page_size, MAX_PAGE))
        self.offset = 0
        self.done = False
        self._last_id: int | None = None

    def accept(self, events: list[Event]) -> list[Event]:
        if len(events) < self.limit:
            self.done = True
        self.offset += len(events)
        fresh = [e for e in events if self._last_id is None or e.id < self._last_id]
        if fresh:
            self._last_id = fresh[-1].id
        return fresh


def download_paths(dest: Path | None, part_name: str) -> tuple[Path, Path | None]:
    """(the partial file, the final path or None to name it from the answer)."""
    if dest is None or dest.is_dir():
        folder = dest or Path.cwd()
        return folder / part_name, None
    return dest.with_name(dest.name + ".part"), dest
