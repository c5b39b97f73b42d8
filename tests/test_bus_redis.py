"""The Redis bus: the same semantics as the in-process bus, between processes.

Two `RedisBus` objects on one Redis stand for two processes. Each test uses a
channel prefix of its own, so runs that share the Redis never hear each other.
Needs Redis on 127.0.0.1:6379 (`.ci/run` starts it).
"""

from __future__ import annotations

import inspect
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from camloft.bus import Delivery, Subscription, device_topic
from camloft.bus_redis import RedisBus
from camloft.ids import DeviceRef
from tests.conftest import start_deployment
from tests.logger.test_link import put_event
from tests.logger.test_realtime import realtime, run, session_of
from tests.logger.test_status import new_camera
from tests.support import Server

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"
A, B = device_topic(DeviceRef(1, 1)), device_topic(DeviceRef(1, 2))


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisConnectionError as err:
        await client.aclose()
        pytest.fail(f"these tests need Redis on {REDIS_URL} (`.ci/run` starts it): {err}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> str:
    return f"camloft-test-{secrets.token_hex(6)}:"


@pytest.fixture
async def buses(prefix: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two processes' buses: `first` publishes, `second` subscribes (or the other way)."""
    first, second = RedisBus(REDIS_URL, prefix=prefix), RedisBus(REDIS_URL, prefix=prefix)
    yield first, second
    await first.aclose()
    await second.aclose()


async def until(check: Callable[[], bool | Awaitable[bool]], seconds: float = 5.0) -> None:
    """Wait for `check()` to come true."""
    deadline = time.monotonic() + seconds
    while not await _result(check()):
        assert time.monotonic() < deadline, "timed out"
        await anyio.sleep(0.02)


async def _result(value: bool | Awaitable[bool]) -> bool:
    return await value if inspect.isawaitable(value) else bool(value)


async def get(subscription: Subscription, seconds: float = 5.0) -> Delivery | None:
    with anyio.fail_after(seconds):
        return await subscription.get()


async def test_a_message_crosses_to_every_subscriber_of_another_process(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    publisher, receiver = buses
    assert await publisher.publish(A, {"n": 0}) == 0  # nobody listens: a task would be a 409
    async with receiver.subscribe([A]) as first, receiver.subscribe([A]) as second:
        # One Redis subscriber connection per process: the message reached one process.
        assert await publisher.publish(A, {"type": "alert", "data": {"id": 1}}) == 1
        for subscription in (first, second):
            assert await get(subscription) == Delivery(A, {"type": "alert", "data": {"id": 1}})
        assert receiver.subscriber_count() == 2 and publisher.subscriber_count() == 0


async def test_a_subscriber_gets_only_its_topics_in_order(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    publisher, receiver = buses
    async with receiver.subscribe([A]) as only_a, receiver.subscribe([A, B]) as both:
        await publisher.publish(B, {"n": 1})
        await publisher.publish(A, {"n": 2})
        await publisher.publish("device.9.9", {"n": 3})
        await publisher.publish(A, {"n": 4})
        assert await get(only_a) == Delivery(A, {"n": 2})
        assert await get(only_a) == Delivery(A, {"n": 4})
        got = [await get(both) for _ in range(3)]
        assert got == [Delivery(B, {"n": 1}), Delivery(A, {"n": 2}), Delivery(A, {"n": 4})]
        assert only_a.queued == both.queued == 0


async def test_prefixes_keep_deployments_apart(prefix: str) -> None:
    ours, theirs = RedisBus(REDIS_URL, prefix=prefix), RedisBus(REDIS_URL, prefix="x" + prefix)
    try:
        async with ours.subscribe([A]) as subscription:
            await theirs.publish(A, {"n": 1})
            await ours.publish(A, {"n": 2})
            assert await get(subscription) == Delivery(A, {"n": 2})
    finally:
        await ours.aclose()
        await theirs.aclose()


async def test_a_slow_subscriber_is_bounded_loses_the_oldest_and_is_told(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    publisher, receiver = buses
    async with receiver.subscribe([A], max_queued=3) as slow:
        for n in range(500):
            await publisher.publish(A, {"n": n})
        await publisher.publish(B, {"n": "marker"})  # nobody listens; then wait for the tail
        await until(lambda: slow.dropped_total >= 497)
        assert slow.queued == 3 and slow.dropped_total == 497
        assert await get(slow) == Delivery(A, {"n": 497}, dropped=497)
        assert await get(slow) == Delivery(A, {"n": 498}, dropped=0)
        assert await get(slow) == Delivery(A, {"n": 499}, dropped=0)


async def test_a_waiting_subscriber_wakes_on_publish(buses: tuple[RedisBus, RedisBus]) -> None:
    publisher, receiver = buses
    got: list[Delivery | None] = []
    async with receiver.subscribe([A]) as subscription, anyio.create_task_group() as tasks:

        async def read() -> None:
            got.append(await subscription.get())

        tasks.start_soon(read)
        await anyio.sleep(0.05)
        assert got == []
        await publisher.publish(A, {"n": 1})
    assert got == [Delivery(A, {"n": 1})]


async def test_leaving_the_block_unsubscribes_here_and_on_redis(
    buses: tuple[RedisBus, RedisBus], redis: Redis
) -> None:
    publisher, receiver = buses
    channel = receiver.channel(A)
    async with receiver.subscribe([A, B]) as subscription:
        assert receiver.subscriber_count() == 1 and receiver.topic_count() == 2
        assert (await redis.pubsub_numsub(channel))[0][1] == 1
    assert receiver.subscriber_count() == 0 and receiver.topic_count() == 0
    assert subscription.closed and await subscription.get() is None

    async def unsubscribed() -> bool:
        return bool((await redis.pubsub_numsub(channel))[0][1] == 0)

    await until(unsubscribed)  # the reader lets go of the channel within a second or so
    async with receiver.subscribe([A]) as again:  # and takes it again when asked
        await publisher.publish(A, {"n": 1})
        assert await get(again) == Delivery(A, {"n": 1})


async def test_closing_the_bus_ends_its_subscriptions(buses: tuple[RedisBus, RedisBus]) -> None:
    publisher, receiver = buses
    async with receiver.subscribe([A]) as subscription:
        await publisher.publish(A, {"n": 1})
        await until(lambda: subscription.queued == 1)
        await receiver.aclose()
        assert [delivery async for delivery in subscription] == []
        assert receiver.subscriber_count() == 0
    async with receiver.subscribe([A]) as late:
        assert await get(late) is None
    await receiver.aclose()  # twice is harmless
    await publisher.aclose()
    await publisher.publish(A, {"n": 2})  # does nothing


async def test_messages_must_be_json(buses: tuple[RedisBus, RedisBus]) -> None:
    publisher, _ = buses
    with pytest.raises(TypeError):
        await publisher.publish(A, {"when": time})


async def test_messages_flow_again_after_redis_drops_the_connections(
    buses: tuple[RedisBus, RedisBus], redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A dropped connection costs the messages of the gap, and is logged once."""
    publisher, receiver = buses
    caplog.set_level(logging.INFO, logger="camloft.bus")
    async with receiver.subscribe([A]) as subscription:
        await publisher.publish(A, {"n": 1})
        assert await get(subscription) == Delivery(A, {"n": 1})
        # Both buses' connections, subscribing and publishing; nobody else's.
        clients = await redis.client_list()
        ours = [c["id"] for c in clients if c["name"] == receiver.client_name]
        assert len(ours) >= 2, clients
        for client_id in ours:
            await redis.client_kill_filter(_id=client_id)
        n = 2
        delivery = None
        with anyio.fail_after(10):
            while delivery is None:
                await publisher.publish(A, {"n": n})
                n += 1
                with anyio.move_on_after(0.2):
                    delivery = await subscription.get()
        assert delivery.topic == A and delivery.message["n"] >= 2
        assert not subscription.closed and receiver.subscriber_count() == 1
    lost = [r for r in caplog.records if "lost the Redis subscription" in r.getMessage()]
    assert len(lost) == 1, caplog.text
    assert any("subscribed to Redis again" in r.getMessage() for r in caplog.records)


async def test_a_bus_without_redis_neither_hangs_nor_fails(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on port 1: publishing drops, subscribing waits for messages."""
    bus = RedisBus("redis://127.0.0.1:1/0", prefix=prefix)
    try:
        with anyio.fail_after(5):
            await bus.publish(A, {"n": 1})
            await bus.publish(A, {"n": 2})
            async with bus.subscribe([A]) as subscription:
                assert bus.subscriber_count() == 1
                with anyio.move_on_after(0.3):
                    await subscription.get()
                    pytest.fail("a message from nowhere")
    finally:
        await bus.aclose()
    assert sum("cannot publish" in r.getMessage() for r in caplog.records) == 1, caplog.text


@pytest.mark.e2e
async def test_an_alert_on_one_server_reaches_a_realtime_client_of_another(
    redis: Redis, prefix: str, tmp_path: Path
) -> None:
    """Two `camloft serve` processes on one database and one Redis bus.

    Only bus messages cross: the camera is resident on server A (its event
    came there); server B shows it offline, yet relays A's alert.
    """
    first, _ = start_deployment("sqlite", tmp_path / "a", bus_url=REDIS_URL, bus_prefix=prefix)
    second = Server(tmp_path / "b", first.server.env)  # same database, secret and bus
    try:
        await anyio.to_thread.run_sync(second.start)
        camera = await run(lambda: new_camera(first))
        async with realtime(second.url, camera.token, uidd=camera.uidd) as feed:
            await feed.until(session_of(camera.uidd))
            created = await run(lambda: put_event(first, camera.uidd, camera.key))
            assert created.status_code == 201, created.text
            alert = await feed.until(lambda m: m.type == "alert")
            listed = await run(
                lambda: httpx.get(
                    f"{first.url}/alert", params={"uid": camera.uidd, "token": camera.token}
                ).json()["result"][0]
            )
            assert alert.data == {"type": "alert", "data": listed}
            newer = await feed.until(session_of(camera.uidd))
            assert newer.data is not None and newer.data["data"]["lastalert"] == listed["id"]
    finally:
        second.stop()
        first.server.stop()
    assert "Traceback" not in first.server.log() + second.log()
