"""`Client` and `AsyncClient`: the I/O of the client, on httpx.

Both run the operations of `BaseClient` (`_base.py`), which hold every rule
of the reference; here are only the drivers (sync and async), the helpers
that run in the background (live keepalive, recording), downloads that stream
to disk, and, async only, the realtime stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

from camloft.client._auth import Session
from camloft.client._base import (
    LIVE_INTERVAL,
    PAGE_SIZE,
    REALTIME_READ_TIMEOUT,
    REALTIME_RECONNECT,
    RECORD_INTERVAL,
    BaseClient,
    Call,
    EventPager,
    Op,
    ProgressCallback,
    Sleep,
    download_paths,
    filename_of,
    ptz_action,
    resume_offset,
    total_size,
)
from camloft.client._responses import raise_for_status
from camloft.client.cache import SegmentCache
from camloft.client.errors import (
    CamloftClientError,
    RequestTimeoutError,
    TransportError,
)
from camloft.client.models import CameraStatus, Device, Download, Event, RealtimeMessage
from camloft.client.realtime import RealtimeTracker, SSEParser

log = logging.getLogger("camloft.client")

T = TypeVar("T")
NO_AUTH = httpx.Auth()  # the base class adds nothing: for login calls
DOWNLOAD_ATTEMPTS = 5


def _wrap(err: httpx.HTTPError) -> TransportError:
    if isinstance(err, httpx.TimeoutException):
        return RequestTimeoutError(f"no answer in time from {_where(err)}")
    return TransportError(f"{type(err).__name__} talking to {_where(err)}: {err}")


def _where(err: httpx.HTTPError) -> str:
    try:
        return str(err.request.url.copy_with(query=None))
    except RuntimeError:
        return "the server"


def _retry_delay(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 10.0))


class Client(BaseClient):
    """The synchronous client. Use as a context manager, or call `close()`.

    - `url`: the entry authenticator; after login the user's own
      (`authenticator` of the login answer) is used.
    - `email`, `password`: log in at once. The password stays in memory (never
      on disk) to log in again should the `webLogin` refresh be refused;
      `remember_password=False` forgets it after the login.
    - `session`: a stored `Session` (token and `webLogin`) instead of a password.
    - `on_session`: called with each new session (login, every refresh), e.g. to store it.
    - `viewer_info_seconds`: how long viewerInfo is trusted (600: the reference's 10 min).
    - `cache`: where recorded segments are cached (`SegmentCache`).
    - `transport`: an httpx transport (tests, proxies).

    ```python
    with Client("http://127.0.0.1:8080", email="demo@example.com", password="demo") as c:
        for device in c.devices():
            print(device.uidd, device.name)
    ```
    """

    def __init__(
        self,
        url: str,
        *,
        email: str | None = None,
        password: str | None = None,
        session: Session | None = None,
        remember_password: bool = True,
        timeout: float = 30.0,
        viewer_info_seconds: float = 600.0,
        cache: SegmentCache | None = None,
        on_session: Callable[[Session], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            session=session,
            timeout=timeout,
            viewer_info_seconds=viewer_info_seconds,
            cache=cache,
            on_session=on_session,
        )
        self._http = httpx.Client(timeout=timeout, transport=transport)
        if email is not None and password is not None:
            try:
                self.login(email, password, remember_password=remember_password)
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the driver ------------------------------------------------------------------------

    def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = op.send(None)
                    continue
                try:
                    response = self._send(step)
                except CamloftClientError as err:
                    step = op.throw(err)
                else:
                    step = op.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _send(self, call: Call) -> httpx.Response:
        request = self._request(self._http, call)
        try:
            response = self._http.send(request, auth=self._auth if call.authenticated else NO_AUTH)
        except httpx.HTTPError as err:
            raise _wrap(err) from err
        if call.check:
            raise_for_status(response)
        return response

    # --- session ---------------------------------------------------------------------------

    def login(self, email: str, password: str, *, remember_password: bool = True) -> Session:
        """`POST /login` (following a region's `location`); keeps the token and `webLogin`."""
        return self._run(self._op_login(email, password, remember_password))

    def refresh(self) -> Session:
        """A fresh token now (`/login/refresh`, else the password). Calls do it by themselves."""
        return self._run(self._op_refresh())

    def logout(self) -> None:
        """End the `webLogin` credential on the server and forget the session."""
        self._run(self._op_logout())

    # --- devices ---------------------------------------------------------------------------

    def devices(self) -> list[Device]:
        """`/devices` (1.2.2): every device the user may see, with its owner's alias."""
        return self._run(self._op_devices())

    def viewer_info(
        self, uidds: Sequence[str] | None = None, *, force: bool = False
    ) -> list[Device]:
        """`/devices/viewerInfo` (1.2.3), cached for 10 minutes unless `force`."""
        return self._run(self._op_viewer_info(uidds, force=force))

    def device(self, uidd: str) -> Device:
        """One device with its logger and live origin (cached viewerInfo)."""
        return self._run(self._op_device(uidd))

    # --- logger ----------------------------------------------------------------------------

    def status(self, uidds: Sequence[str] | None = None) -> list[CameraStatus]:
        """`/cameras/status` (1.3.6) of `uidds` (default: every device), resident ones only."""
        return self._run(self._op_status(uidds))

    def events(
        self, uidd: str, *, offset: int = 0, limit: int = PAGE_SIZE, maxage: int | None = None
    ) -> list[Event]:
        """One page of `/alert` (1.3.1), newest first; `maxage` defaults to the plan's days."""
        return self._run(self._op_events(uidd, offset=offset, limit=limit, maxage=maxage))

    def iter_events(
        self, uidd: str, *, page_size: int = PAGE_SIZE, maxage: int | None = None
    ) -> Iterator[Event]:
        """Every event, newest first, fetched a page at a time with `offset`."""
        pager = EventPager(page_size)
        while not pager.done:
            page = self.events(uidd, offset=pager.offset, limit=pager.limit, maxage=maxage)
            yield from pager.accept(page)

    def events_between(self, uidd: str, startt: int, endt: int | None = None) -> list[Event]:
        """`/events`: events that started in [startt, endt) ms, newest first."""
        return self._run(self._op_events_between(uidd, startt, endt))

    def delete_event(self, uidd: str, event_id: int) -> None:
        """Delete an event with its video (admin right)."""
        self._run(self._op_delete_event(uidd, event_id))

    def alert_thumb(self, uidd: str, event_id: int) -> bytes:
        """The event's thumb, JPEG (`/alertthumb`, 1.3.2)."""
        return self._run(self._op_image(uidd, "alertthumb", event_id))

    def thumb(self, uidd: str, second: int) -> bytes:
        """The thumb of second `second` (`/getthumb`, 1.3.8; `lastthumb` of the status)."""
        return self._run(self._op_image(uidd, "getthumb", second))

    def still(self, uidd: str, second: int) -> bytes:
        """The still of second `second` (`/getstill`, 1.3.8; `laststill` of the status)."""
        return self._run(self._op_image(uidd, "getstill", second))

    def send_task(self, uidd: str, action: str) -> str:
        """`/sendcameratask` with any action; answers the logger's result text."""
        return self._run(self._op_task(uidd, action))

    def ptz(self, uidd: str, direction: str = "", mode: str = "step") -> str:
        """PTZ (1.5.1): mode `step` (1 s), `start` (until `stop`), or `stop`."""
        return self.send_task(uidd, ptz_action(direction, mode))

    def snapshot(
        self, uidd: str, *, kind: str = "still", within: float = 15.0
    ) -> tuple[int, bytes]:
        """Ask the camera for a still (or thumb), wait for it, fetch it: (second, JPEG)."""
        return self._run(self._op_capture(uidd, kind, within))

    def playlist(self, uidd: str, event_id: int) -> str:
        """An event's HLS playlist text (`/alerturl.m3u8`, 1.3.3)."""
        return self._run(self._op_playlist(uidd, event_id))

    def playlist_url(self, uidd: str, event_id: int) -> str:
        """The playlist URL for a player: the token in the query (players send no headers)."""
        device = self.device(uidd)
        if self.session is None or self.session.refresh_due():
            self.refresh()
        return str(
            httpx.URL(
                f"{self._logger(device)}/alerturl.m3u8",
                params={"uid": uidd, "id": event_id, "token": self.token},
            )
        )

    def segment(self, uidd: str, start_ms: int) -> Path:
        """A recorded segment, from the local cache or fetched into it."""
        return self._run(self._op_segment(uidd, start_ms))

    def cache_event(self, uidd: str, event_id: int) -> Path:
        """Cache every segment of an event; answers a local playlist of the cached files."""
        return self._run(self._op_cache_event(uidd, event_id))

    def live_url(self, uidd: str) -> str:
        """The live HLS playlist URL (1.4.1), from fresh viewerInfo and token."""
        return self._run(self._op_live_url(uidd))

    # --- long-running helpers --------------------------------------------------------------

    def keep_live(self, uidd: str, *, interval: float = LIVE_INTERVAL) -> Repeater:
        """Context manager: `livecommand` now and every 30 s while open (1.3.4)."""
        return Repeater(self, uidd, "livecommand", interval)

    def recording(self, uidd: str, *, interval: float = RECORD_INTERVAL) -> Repeater:
        """Context manager: `triggerevent` now and every 15 s while open (1.3.5)."""
        return Repeater(self, uidd, "triggerevent", interval)

    def download_event(
        self,
        uidd: str,
        event_id: int,
        dest: Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        attempts: int = DOWNLOAD_ATTEMPTS,
    ) -> Download:
        """An event as one MP4 (`buildmp4=1`), into `dest` (a file, or a folder: the
        server's file name). A broken transfer is resumed where the server
        supports `Range`, otherwise started again from byte 0."""
        call = self._run(self._op_mp4_call(uidd, event_id))
        return self._download(call, dest, f".{uidd}-{event_id}.mp4.part", progress, attempts)

    def download_file(
        self,
        path: str,
        dest: Path,
        *,
        progress: ProgressCallback | None = None,
        attempts: int = DOWNLOAD_ATTEMPTS,
        uidd: str | None = None,
    ) -> Download:
        """Any logger path (e.g. `/seg_1.1_<ms>.ts`) to `dest`, resuming as `download_event`."""
        base = self._logger(self.device(uidd)) if uidd else self.authenticator
        return self._download(
            Call("GET", f"{base}{path}"), dest, f".{Path(path).name}.part", progress, attempts
        )

    def _download(
        self,
        call: Call,
        dest: Path | None,
        part_name: str,
        progress: ProgressCallback | None,
        attempts: int,
    ) -> Download:
        part, final = download_paths(dest, part_name)
        have = part.stat().st_size if part.exists() else 0
        resumed, name, failure = False, None, None
        for attempt in range(attempts):
            headers = {"Range": f"bytes={have}-"} if have else {}
            request = self._request(self._http, replace(call, headers=headers))
            try:
                response = self._http.send(request, auth=self._auth, stream=True)
                try:
                    if response.status_code == 416 and have:
                        break  # the partial file is already whole
                    if response.status_code >= 400:
                        response.read()
                        raise_for_status(response)
                    offset = resume_offset(response, have)
                    resumed = resumed or offset > 0
                    name = filename_of(response) or name
                    total = total_size(response, offset)
                    with part.open("r+b" if offset else "wb") as out:
                        out.seek(offset)
                        out.truncate()
                        have = offset
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                            have += len(chunk)
                            if progress:
                                progress(have, total)
                finally:
                    response.close()
                break
            except httpx.TransportError as err:
                failure = err
                log.info("download cut short at %d bytes (%s); trying again", have, err)
                time.sleep(_retry_delay(attempt))
        else:
            assert failure is not None
            raise _wrap(failure) from failure
        target = final or part.with_name(name or part.name.strip(".").removesuffix(".part"))
        os.replace(part, target)
        return Download(str(target), target.stat().st_size, resumed)


class Repeater:
    """Sends one camera task now and then every `interval` seconds on a thread, until closed.

    The first send happens in `__enter__` and raises (no right, camera
    offline, ...). Later failures are logged and kept in `last_error`; the
    repeating goes on (a network blip must not end a live view).
    """

    def __init__(self, client: Client, uidd: str, action: str, interval: float) -> None:
        self.client, self.uidd, self.action, self.interval = client, uidd, action, interval
        self.sent = 0
        self.last_error: CamloftClientError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.client.send_task(self.uidd, self.action)
        self.sent = 1
        self._thread = threading.Thread(
            target=self._loop, name=f"camloft-{self.action}-{self.uidd}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.client.send_task(self.uidd, self.action)
                self.sent += 1
                self.last_error = None
            except CamloftClientError as err:
                self.last_error = err
                log.warning("%s to %s failed: %s", self.action, self.uidd, err)


class AsyncClient(BaseClient):
    """The asynchronous client: the same methods as `Client`, awaited.

    Adds `realtime()`, the realtime stream as an async iterator, and the
    keepalive as a task (`keepalive_task`). Use `async with`, or `aclose()`.
    """

    def __init__(
        self,
        url: str,
        *,
        session: Session | None = None,
        timeout: float = 30.0,
        viewer_info_seconds: float = 600.0,
        cache: SegmentCache | None = None,
        on_session: Callable[[Session], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            session=session,
            timeout=timeout,
            viewer_info_seconds=viewer_info_seconds,
            cache=cache,
            on_session=on_session,
        )
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self.realtime_connections = 0  # realtime streams opened, reconnects included

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = op.send(None)
                    continue
                try:
                    response = await self._send(step)
                except CamloftClientError as err:
                    step = op.throw(err)
                else:
                    step = op.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _send(self, call: Call) -> httpx.Response:
        request = self._request(self._http, call)
        try:
            response = await self._http.send(
                request, auth=self._auth if call.authenticated else NO_AUTH
            )
        except httpx.HTTPError as err:
            raise _wrap(err) from err
        if call.check:
            raise_for_status(response)
        return response

    async def login(self, email: str, password: str, *, remember_password: bool = True) -> Session:
        """`POST /login`; see `Client.login`."""
        return await self._run(self._op_login(email, password, remember_password))

    async def refresh(self) -> Session:
        return await self._run(self._op_refresh())

    async def logout(self) -> None:
        await self._run(self._op_logout())

    async def devices(self) -> list[Device]:
        return await self._run(self._op_devices())

    async def viewer_info(
        self, uidds: Sequence[str] | None = None, *, force: bool = False
    ) -> list[Device]:
        return await self._run(self._op_viewer_info(uidds, force=force))

    async def device(self, uidd: str) -> Device:
        return await self._run(self._op_device(uidd))

    async def status(self, uidds: Sequence[str] | None = None) -> list[CameraStatus]:
        return await self._run(self._op_status(uidds))

    async def events(
        self, uidd: str, *, offset: int = 0, limit: int = PAGE_SIZE, maxage: int | None = None
    ) -> list[Event]:
        return await self._run(self._op_events(uidd, offset=offset, limit=limit, maxage=maxage))

    async def iter_events(
        self, uidd: str, *, page_size: int = PAGE_SIZE, maxage: int | None = None
    ) -> AsyncIterator[Event]:
        """Every event, newest first, a page at a time (see `Client.iter_events`)."""
        pager = EventPager(page_size)
        while not pager.done:
            page = await self.events(uidd, offset=pager.offset, limit=pager.limit, maxage=maxage)
            for event in pager.accept(page):
                yield event

    async def events_between(self, uidd: str, startt: int, endt: int | None = None) -> list[Event]:
        return await self._run(self._op_events_between(uidd, startt, endt))

    async def delete_event(self, uidd: str, event_id: int) -> None:
        await self._run(self._op_delete_event(uidd, event_id))

    async def alert_thumb(self, uidd: str, event_id: int) -> bytes:
        return await self._run(self._op_image(uidd, "alertthumb", event_id))

    async def thumb(self, uidd: str, second: int) -> bytes:
        return await self._run(self._op_image(uidd, "getthumb", second))

    async def still(self, uidd: str, second: int) -> bytes:
        return await self._run(self._op_image(uidd, "getstill", second))

    async def send_task(self, uidd: str, action: str) -> str:
        return await self._run(self._op_task(uidd, action))

    async def ptz(self, uidd: str, direction: str = "", mode: str = "step") -> str:
        return await self.send_task(uidd, ptz_action(direction, mode))

    async def snapshot(
        self, uidd: str, *, kind: str = "still", within: float = 15.0
    ) -> tuple[int, bytes]:
        return await self._run(self._op_capture(uidd, kind, within))

    async def playlist(self, uidd: str, event_id: int) -> str:
        return await self._run(self._op_playlist(uidd, event_id))

    async def segment(self, uidd: str, start_ms: int) -> Path:
        return await self._run(self._op_segment(uidd, start_ms))

    async def cache_event(self, uidd: str, event_id: int) -> Path:
        return await self._run(self._op_cache_event(uidd, event_id))

    async def live_url(self, uidd: str) -> str:
        return await self._run(self._op_live_url(uidd))

    # --- long-running helpers --------------------------------------------------------------

    def keep_live(self, uidd: str, *, interval: float = LIVE_INTERVAL) -> AsyncRepeater:
        """Async context manager: `livecommand` now and every 30 s while open."""
        return AsyncRepeater(self, uidd, "livecommand", interval)

    def recording(self, uidd: str, *, interval: float = RECORD_INTERVAL) -> AsyncRepeater:
        """Async context manager: `triggerevent` now and every 15 s while open."""
        return AsyncRepeater(self, uidd, "triggerevent", interval)

    def keepalive_task(self, uidd: str, *, interval: float = LIVE_INTERVAL) -> asyncio.Task[None]:
        """The live keepalive as a task: cancel it to stop."""
        return asyncio.create_task(AsyncRepeater(self, uidd, "livecommand", interval).run())

    async def download_event(
        self,
        uidd: str,
        event_id: int,
        dest: Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        attempts: int = DOWNLOAD_ATTEMPTS,
    ) -> Download:
        """See `Client.download_event`."""
        call = await self._run(self._op_mp4_call(uidd, event_id))
        part, final = download_paths(dest, f".{uidd}-{event_id}.mp4.part")
        have = part.stat().st_size if part.exists() else 0
        resumed, name, failure = False, None, None
        for attempt in range(attempts):
            headers = {"Range": f"bytes={have}-"} if have else {}
            request = self._request(self._http, replace(call, headers=headers))
            try:
                response = await self._http.send(request, auth=self._auth, stream=True)
                try:
                    if response.status_code == 416 and have:
                        break
                    if response.status_code >= 400:
                        await response.aread()
                        raise_for_status(response)
                    offset = resume_offset(response, have)
                    resumed = resumed or offset > 0
                    name = filename_of(response) or name
                    total = total_size(response, offset)
                    with part.open("r+b" if offset else "wb") as out:
                        out.seek(offset)
                        out.truncate()
                        have = offset
                        async for chunk in response.aiter_bytes():
                            out.write(chunk)
                            have += len(chunk)
                            if progress:
                                progress(have, total)
                finally:
                    await response.aclose()
                break
            except httpx.TransportError as err:
                failure = err
                await asyncio.sleep(_retry_delay(attempt))
        else:
            assert failure is not None
            raise _wrap(failure) from failure
        target = final or part.with_name(name or part.name.strip(".").removesuffix(".part"))
        os.replace(part, target)
        return Download(str(target), target.stat().st_size, resumed)

    # --- realtime --------------------------------------------------------------------------

    async def realtime(
        self,
        uidds: Sequence[str] | None = None,
        *,
        reconnect_after: float = REALTIME_RECONNECT,
        backfill: bool = True,
    ) -> AsyncIterator[RealtimeMessage]:
        """`/cameras/realtime/live` (1.3.9) as an endless async iterator.

        Reconnects every `reconnect_after` seconds (4 minutes: the server
        closes after 5) and after a drop (0.5 s, doubling to 10 s), one
        stream per logger. Repeated liveSessions and alerts are dropped, and
        alerts missed in between are fetched from `/events` (`backfilled`).
        """
        devices = await self.viewer_info(uidds)
        groups: dict[str, list[str]] = {}
        for device in devices:
            groups.setdefault(self._logger(device), []).append(device.uidd)
        tracker = RealtimeTracker()
        streams: list[AsyncGenerator[RealtimeMessage, None]] = [
            self._realtime_stream(group, tracker, reconnect_after, backfill)
            for group in groups.values()
        ]
        if len(streams) == 1:
            async with contextlib.aclosing(streams[0]) as stream:
                async for message in stream:
                    yield message
            return
        queue: asyncio.Queue[RealtimeMessage | Exception] = asyncio.Queue(maxsize=256)

        async def pump(stream: AsyncGenerator[RealtimeMessage, None]) -> None:
            try:
                async for message in stream:
                    await queue.put(message)
            except Exception as err:  # handed to the reader, who raises it
                await queue.put(err)

        tasks = [asyncio.create_task(pump(s)) for s in streams]
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _realtime_stream(
        self, uidds: list[str], tracker: RealtimeTracker, reconnect_after: float, backfill: bool
    ) -> AsyncGenerator[RealtimeMessage, None]:
        attempt = 0
        while True:
            device = await self.device(uidds[0])  # viewerInfo younger than 10 minutes
            call = Call(
                "GET",
                f"{self._logger(device)}/cameras/realtime/live",
                params=[("uidd", u) for u in uidds],
            )
            request = self._request(self._http, call)
            request.extensions["timeout"] = httpx.Timeout(
                self.timeout, read=REALTIME_READ_TIMEOUT
            ).as_dict()
            started, messages = time.monotonic(), 0
            try:
                response = await self._http.send(request, auth=self._auth, stream=True)
                self.realtime_connections += 1
                try:
                    if response.status_code >= 400:
                        await response.aread()
                        raise_for_status(response)
                    parser = SSEParser()
                    lines = response.aiter_lines()
                    while (left := reconnect_after - (time.monotonic() - started)) > 0:
                        try:  # time to reconnect even while the stream is silent
                            line = await asyncio.wait_for(anext(lines), left)
                        except (TimeoutError, StopAsyncIteration):
                            break
                        item = parser.feed(line)
                        if not isinstance(item, dict):
                            continue
                        message = RealtimeMessage.from_json(item)
                        if message is None:
                            continue
                        messages += 1
                        async for missed in self._backfill(tracker, message, backfill):
                            yield missed
                        if tracker.accept(message):
                            yield message
                finally:
                    await response.aclose()
            except (httpx.TransportError, TransportError) as err:
                log.info("realtime stream dropped (%s); reconnecting", err)
                await asyncio.sleep(_retry_delay(attempt))
                attempt += 1
                continue
            if messages or time.monotonic() - started >= 1.0:
                attempt = 0
            else:  # closed at once: nothing to watch yet; do not hammer the logger
                await asyncio.sleep(_retry_delay(attempt))
                attempt += 1

    async def _backfill(
        self, tracker: RealtimeTracker, message: RealtimeMessage, enabled: bool
    ) -> AsyncIterator[RealtimeMessage]:
        since = tracker.missed_since(message)
        if not enabled or since is None:
            return
        events = await self.events_between(message.uidd, (since + 1) * 1000)
        for missed in tracker.accept_backfill(events):
            yield missed


class AsyncRepeater:
    """`Repeater` for asyncio: a task that sends the camera task every `interval` seconds."""

    def __init__(self, client: AsyncClient, uidd: str, action: str, interval: float) -> None:
        self.client, self.uidd, self.action, self.interval = client, uidd, action, interval
        self.sent = 0
        self.last_error: CamloftClientError | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self._send_first()
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Send now (raising on failure), then repeat until cancelled."""
        await self._send_first()
        await self._loop()

    async def _send_first(self) -> None:
        await self.client.send_task(self.uidd, self.action)
        self.sent = 1

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.client.send_task(self.uidd, self.action)
                self.sent += 1
                self.last_error = None
            except CamloftClientError as err:
                self.last_error = err
                log.warning("%s to %s failed: %s", self.action, self.uidd, err)
