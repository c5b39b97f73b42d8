"""/cameras/realtime/live (reference 1.3.9): Server-Sent Events of camera status and new events.

The end-to-end tests drive a real server, real adapter links (LinkClient) and
a real HTTP client; the stream's timing rules (keep-alives, the catch-up after
a slow reader) are checked on `realtime_stream` itself, where time is short.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from camloft.adapter.home import Home
from camloft.adapter.link import LinkClient
from camloft.bus import InProcessBus
from camloft.ids import DeviceRef
from camloft.logger.cameras import CameraLinks
from camloft.logger.status import realtime_stream
from tests.conftest import Deployment, drop_database, start_deployment
from tests.logger.test_link import put_event
from tests.logger.test_status import Camera, new_camera
from tests.support import auth_header, login

pytestmark = pytest.mark.anyio
PASSWORD = "pw-12345"


@dataclass
class Message:
    at: float  # time.monotonic() when read
    data: dict[str, Any] | None = None  # a `data:` message
    comment: str | None = None  # a `:` line

    @property
    def type(self) -> str | None:
        return None if self.data is None else self.data["type"]


@dataclass
class Feed:
    """The messages of one realtime stream, read as the test asks for them."""

    response: httpx.Response
    lines: AsyncIterator[str]
    seen: list[Message] = field(default_factory=list)
    ended: bool = False

    async def next(self, seconds: float = 10.0) -> Message | None:
        """The next message or comment; None when the server ended the stream."""
        with anyio.fail_after(seconds):
            async for line in self.lines:
                if line.startswith("data: "):
                    message = Message(time.monotonic(), data=json.loads(line[6:]))
                elif line.startswith(":"):
                    message = Message(time.monotonic(), comment=line[1:].strip())
                else:
                    assert line == "", line  # nothing else is ever sent
                    continue
                self.seen.append(message)
                return message
        self.ended = True
        return None

    async def until(self, check: Callable[[Message], bool], seconds: float = 10.0) -> Message:
        deadline = time.monotonic() + seconds
        while True:
            message = await self.next(max(0.01, deadline - time.monotonic()))
            assert message is not None, "the stream ended"
            if check(message):
                return message


@asynccontextmanager
async def realtime(url: str, token: str, **params: Any) -> AsyncIterator[Feed]:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client,
        client.stream(
            "GET", f"{url}/cameras/realtime/live", params=params, headers=auth_header(token)
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        yield Feed(response, response.aiter_lines())


def session_of(uidd: str) -> Callable[[Message], bool]:
    return lambda m: (
        m.type == "liveSession" and m.data is not None and m.data["data"]["uidd"] == uidd
    )


async def run(function: Callable[[], Any]) -> Any:
    """A blocking call (the synchronous LinkClient, httpx) off the event loop."""
    return await anyio.to_thread.run_sync(function)


@asynccontextmanager
async def adapter_link(
    deployment: Deployment,
    camera: Camera,
    status: Callable[[], dict[str, Any]] | None = None,
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A real adapter link for the camera; the block gets a function that unplugs it early."""
    stop = threading.Event()
    client = LinkClient(
        DeviceRef.parse(camera.uidd),
        camera.key,
        Home(DeviceRef.parse(camera.uidd), camera.key, logger_url=deployment.url, auth_url=None),
        on_task=lambda action: None,
        status=status or (lambda: {"status": "online"}),
    )
    client.start(stop)

    async def unplug() -> None:
        stop.set()
        await run(lambda: client.join(5))

    try:
        assert await run(lambda: client.connected.wait(10))
        yield unplug
    finally:
        await unplug()


async def test_initial_session_then_an_alert_within_a_second_then_offline(
    deployment: Deployment,
) -> None:
    camera, stranger = new_camera(deployment), new_camera(deployment)
    missing = f"{camera.uid}.999"
    async with (
        adapter_link(deployment, camera, lambda: {"status": "online", "queue_mb": 0.0}) as unplug,
        realtime(deployment.url, camera.token, uidd=[camera.uidd, stranger.uidd, missing]) as feed,
    ):
        first = await feed.next()
        assert first is not None and first.data is not None, first
        session = first.data["data"]
        assert first.type == "liveSession" and session["uidd"] == camera.uidd
        assert session["status"] == "online" and session["live"] is False
        assert session["wowza"] and session["device"] is True
        assert "permissions" not in session and "uid" not in session

        started = time.monotonic()
        created = await run(lambda: put_event(deployment, camera.uidd, camera.key))
        assert created.status_code == 201
        alert = await feed.until(lambda m: m.type == "alert")
        assert alert.at - started < 1.0, f"the alert took {alert.at - started:.3f} s"
        listed = await run(
            lambda: httpx.get(
                f"{deployment.url}/alert", params={"uid": camera.uidd, "token": camera.token}
            ).json()["result"][0]
        )
        assert alert.data == {"type": "alert", "data": listed}
        # ... and the camera's lastalert moves with it.
        newer = await feed.until(session_of(camera.uidd))
        assert newer.data is not None and newer.data["data"]["lastalert"] == listed["id"]

        # An update of the same event is not a new alert.
        assert (
            await run(
                lambda: put_event(deployment, camera.uidd, camera.key, endt=1_800_000_006_000)
            )
        ).status_code == 200

        await unplug()
        offline = await feed.until(session_of(camera.uidd))
        assert offline.data is not None and offline.data["data"]["status"] == "offline"
        assert [m.type for m in feed.seen if m.type == "alert"] == ["alert"]
        # Devices the token may not see, or that do not exist, are left out.
        assert {
            m.data["data"]["uidd"]
            for m in feed.seen
            if m.data is not None and m.type == "liveSession"
        } == {camera.uidd}


async def test_without_uidds_every_visible_resident_device(deployment: Deployment) -> None:
    owner = deployment.new_user()
    watched, idle = new_camera(deployment, owner), new_camera(deployment, owner)
    other = new_camera(deployment)
    viewer = deployment.new_user()
    await run(
        lambda: httpx.post(
            f"{deployment.url}/sharing",
            json={"email": viewer["email"], "right": "r"},
            headers=auth_header(watched.token),
        ).raise_for_status()
    )
    viewer_token = await run(lambda: login(deployment.url, str(viewer["email"]), PASSWORD))
    async with (
        adapter_link(deployment, watched),
        adapter_link(deployment, other),
        realtime(deployment.url, viewer_token) as feed,
    ):
        await run(lambda: put_event(deployment, watched.uidd, watched.key))
        await feed.until(lambda m: m.type == "alert")
        initial = {
            m.data["data"]["uidd"]
            for m in feed.seen
            if m.data is not None and m.type == "liveSession"
        }
        assert initial == {watched.uidd}  # not idle (never linked), not another owner's
        assert idle.uidd not in initial


async def test_with_nothing_to_watch_the_stream_ends_at_once(deployment: Deployment) -> None:
    camera, stranger = new_camera(deployment), new_camera(deployment)
    for params in ({}, {"uidd": stranger.uidd}):
        started = time.monotonic()
        async with realtime(deployment.url, camera.token, **params) as feed:
            message = await feed.next()
            assert message is not None and message.comment == "no device to watch"
            assert await feed.next() is None
        assert time.monotonic() - started < 5


async def test_refusals_come_before_the_stream(deployment: Deployment) -> None:
    camera = new_camera(deployment)
    async with httpx.AsyncClient() as client:
        url = f"{deployment.url}/cameras/realtime/live"
        bad = await client.get(url, params={"uidd": "1.x", "token": camera.token})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_id"
        assert (await client.get(url, params={"token": "forged"})).status_code == 401
        assert (await client.get(url)).status_code == 401


def subscriptions(deployment: Deployment) -> int:
    answer = httpx.get(
        f"{deployment.url}/admin/realtime", headers=auth_header(deployment.admin_token)
    )
    answer.raise_for_status()
    count: int = answer.json()["result"]["subscriptions"]
    return count


async def test_a_client_that_goes_frees_its_subscription(deployment: Deployment) -> None:
    camera = new_camera(deployment)
    refused = await run(
        lambda: httpx.get(f"{deployment.url}/admin/realtime", headers=auth_header(camera.token))
    )
    assert refused.status_code == 403
    before = await run(lambda: subscriptions(deployment))
    # A device the token may see but whose adapter never came: watched, shown offline.
    async with realtime(deployment.url, camera.token, uidd=camera.uidd) as feed:
        first = await feed.next()
        assert first is not None and first.data is not None
        assert first.data["data"]["status"] == "offline"
        assert await run(lambda: subscriptions(deployment)) == before + 1
    deadline = time.monotonic() + 5
    while (now := await run(lambda: subscriptions(deployment))) != before:
        assert time.monotonic() < deadline, f"{now} subscriptions, {before} expected"
        await anyio.sleep(0.05)


@pytest.fixture
def short_lived(backend: str, tmp_path: Path) -> Iterator[Deployment]:
    """A server that closes realtime streams after 2 s instead of 5 minutes."""
    deployed, db_name = start_deployment(backend, tmp_path, realtime_max_seconds="2")
    yield deployed
    deployed.server.stop()
    drop_database(db_name)


async def test_the_server_closes_the_stream_after_realtime_max_seconds(
    short_lived: Deployment,
) -> None:
    camera = await run(lambda: new_camera(short_lived))
    async with adapter_link(short_lived, camera):
        linked = await run(lambda: subscriptions(short_lived))  # the link's, for its tasks
        started = time.monotonic()
        async with realtime(short_lived.url, camera.token, uidd=camera.uidd) as feed:
            while await feed.next() is not None:
                pass
        assert 1.9 < time.monotonic() - started < 5
        assert feed.seen[0].type == "liveSession"
        assert await run(lambda: subscriptions(short_lived)) == linked


# The stream itself, in process: keep-alives and the catch-up of a slow reader.

DEVICE = DeviceRef(5, 1)


class Channel:
    async def send_json(self, data: Any) -> None:
        pass

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        pass


def parse(chunk: str) -> list[dict[str, Any] | str]:
    """The messages (dicts) and comments (str) of a chunk of the stream."""
    found: list[dict[str, Any] | str] = []
    for block in filter(None, chunk.split("\n\n")):
        assert block.count("\n") == 0, block  # one line per message
        found.append(json.loads(block[6:]) if block.startswith("data: ") else block[2:])
    return found


async def test_silence_gets_keepalives_until_the_end() -> None:
    bus = InProcessBus()
    links = CameraLinks(bus)
    await links.attach(DEVICE, Channel())
    chunks: list[tuple[float, str]] = []
    started = time.monotonic()
    async with aclosing(
        realtime_stream(bus, links, {DEVICE: "origin:443"}, max_seconds=0.55, keepalive_seconds=0.1)
    ) as stream:
        async for chunk in stream:
            chunks.append((time.monotonic() - started, chunk))
    assert 0.5 < time.monotonic() - started < 1.5
    (_, first), *rest = chunks
    assert parse(first) == [
        {
            "type": "liveSession",
            "data": {**links.state(DEVICE).fields(), "wowza": "origin:443", "uidd": "5.1"},
        }
    ]
    assert [chunk for _, chunk in rest] == [": keepalive\n\n"] * len(rest)
    assert 4 <= len(rest) <= 5
    assert bus.subscriber_count() == 0


async def test_a_slow_reader_is_told_and_gets_every_session_again() -> None:
    bus = InProcessBus()
    links = CameraLinks(bus)
    other = DeviceRef(5, 2)
    await links.attach(DEVICE, Channel())
    watched = {DEVICE: "origin:443", other: "origin:443"}
    async with aclosing(realtime_stream(bus, links, watched, max_seconds=10)) as stream:
        initial = parse(await stream.__anext__())
        assert [m["data"]["status"] for m in initial if isinstance(m, dict)] == [
            "online",
            "offline",
        ]
        for n in range(300):  # the reader reads nothing meanwhile
            await links.event_created(DEVICE, 1_800_000_000 + n, {"id": 1_800_000_000 + n})
        await links.report(other, {"status": "novideo"})  # pushes out one more
        comment = await stream.__anext__()
        assert comment == ": dropped 345\n\n"  # 300 alerts, 300 + 1 sessions; 256 kept
        received: list[dict[str, Any] | str] = []
        while len(received) < 256 + 2:
            received.extend(parse(await stream.__anext__()))
        *queued, again_device, again_other = received
        # Kept: the newest 256 of alert, session, alert, ..., session, the other's session.
        assert len(queued) == 256 and isinstance(queued[0], dict)
        assert queued[0]["data"]["lastalert"] == 1_800_000_172
        assert queued[1] == {"type": "alert", "data": {"id": 1_800_000_173}}
        assert queued[-1] == {
            "type": "liveSession",
            "data": {**links.state(other).fields(), "wowza": "origin:443", "uidd": "5.2"},
        }
        assert isinstance(again_device, dict) and isinstance(again_other, dict)
        assert again_device["data"]["lastalert"] == 1_800_000_299
        assert again_other["data"]["status"] == "novideo"
    assert bus.subscriber_count() == 0


async def test_the_stream_ends_when_the_bus_closes() -> None:
    bus = InProcessBus()
    links = CameraLinks(bus)
    async with aclosing(realtime_stream(bus, links, {DEVICE: "o"}, max_seconds=10)) as stream:
        await stream.__anext__()
        await bus.aclose()
        with anyio.fail_after(1):
            assert [chunk async for chunk in stream] == []
