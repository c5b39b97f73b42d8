"""The realtime stream: reconnects (server closes every 4 s here), de-duplication, backfill."""

from __future__ import annotations

import asyncio
import contextlib
import time

from camloft.client import AsyncClient, CameraStatus, Event, RealtimeMessage
from camloft.client.realtime import Comment, RealtimeTracker, SSEParser
from tests.client.conftest import REALTIME_MAX_SECONDS
from tests.conftest import Deployment


async def collect(client: AsyncClient, seconds: float, **kwargs: float) -> list[RealtimeMessage]:
    got: list[RealtimeMessage] = []

    async def run() -> None:
        async for message in client.realtime(**kwargs):  # type: ignore[arg-type]
            got.append(message)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run(), seconds)
    return got


def assert_no_repeats(messages: list[RealtimeMessage]) -> None:
    shown: dict[str, tuple[object, ...]] = {}
    alerts = []
    for message in messages:
        if message.status is not None:
            assert shown.get(message.uidd) != message.status.shown(), "a repeated liveSession"
            shown[message.uidd] = message.status.shown()
        else:
            assert message.event is not None
            alerts.append((message.uidd, message.event.id))
    assert len(alerts) == len(set(alerts)), "a repeated alert"


def test_reconnects_when_the_server_closes_and_repeats_nothing(demo: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(demo.url) as client:
            await client.login("demo@example.com", "demo")
            started = time.monotonic()
            messages = await collect(client, 3 * REALTIME_MAX_SECONDS + 2)
            assert time.monotonic() - started >= 3 * REALTIME_MAX_SECONDS
            assert client.realtime_connections >= 3  # closed by the server every 4 s
            first_round = {m.uidd for m in messages[:3]}
            assert first_round == {"1.1", "1.2", "1.3"}
            assert_no_repeats(messages)

    asyncio.run(run())


def test_reconnects_by_itself_before_the_server_would(demo: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(demo.url) as client:
            await client.login("viewer@example.com", "viewer")
            messages = await collect(client, 3.5, reconnect_after=1.0)
            assert client.realtime_connections >= 2
            assert_no_repeats(messages)

    asyncio.run(run())


def status(uidd: str, lastalert: int, state: str = "online") -> RealtimeMessage:
    data = {
        "uidd": uidd,
        "status": state,
        "live": False,
        "lastalert": lastalert,
        "lastactivity": int(time.time() * 1000),
    }
    return RealtimeMessage("liveSession", uidd, status=CameraStatus.from_json(data))


def event(uidd: str, event_id: int) -> Event:
    return Event.from_json(
        {
            "uid": uidd,
            "id": event_id,
            "startt": event_id * 1000,
            "endt": event_id * 1000 + 5000,
            "type": "motion",
        }
    )


def test_tracker_drops_repeats_and_asks_for_missed_alerts() -> None:
    tracker = RealtimeTracker()
    first = status("1.1", 100)
    assert tracker.accept(first) and tracker.missed_since(first) is None  # the baseline
    again = status("1.1", 100)  # a reconnect's first round: only lastactivity moved
    assert not tracker.accept(again) and tracker.missed_since(again) is None
    alert = RealtimeMessage("alert", "1.1", event=event("1.1", 110))
    assert tracker.accept(alert) and not tracker.accept(alert)
    assert tracker.missed_since(status("1.1", 110)) is None  # the alert came first
    after_gap = status("1.1", 130)  # two events while disconnected
    assert tracker.missed_since(after_gap) == 110
    backfilled = tracker.accept_backfill([event("1.1", 130), event("1.1", 120), event("1.1", 110)])
    assert [(m.event.id, m.backfilled) for m in backfilled if m.event] == [(120, True), (130, True)]
    assert tracker.accept(after_gap)
    assert not tracker.accept(RealtimeMessage("alert", "1.1", event=event("1.1", 130)))


def test_sse_parser() -> None:
    parser = SSEParser()
    assert parser.feed(": keepalive") == Comment("keepalive")
    assert parser.feed('data: {"type":"alert",') is None
    assert parser.feed('data: "data":{}}') is None
    assert parser.feed("") == {"type": "alert", "data": {}}
    assert parser.feed("") is None
