"""The in-process bus: fan-out, topics, bounded queues that never hold up a publisher."""

from __future__ import annotations

import time

import anyio
import pytest

from camloft.bus import Delivery, InProcessBus, device_topic
from camloft.ids import DeviceRef

pytestmark = pytest.mark.anyio

A, B = device_topic(DeviceRef(1, 1)), device_topic(DeviceRef(1, 2))


def test_device_topics_name_the_uidd() -> None:
    assert device_topic(DeviceRef(12, 3)) == "device.12.3"


async def test_every_subscriber_of_a_topic_gets_each_message() -> None:
    bus = InProcessBus()
    async with bus.subscribe([A]) as first, bus.subscribe([A]) as second:
        message = {"type": "alert", "data": {"id": 1}}
        await bus.publish(A, message)
        message["data"]["id"] = 2  # the publisher changing its dict afterwards changes nothing
        for subscription in (first, second):
            assert await subscription.get() == Delivery(A, {"type": "alert", "data": {"id": 1}})
        assert first.queued == second.queued == 0


async def test_a_subscriber_gets_only_its_topics_in_order() -> None:
    bus = InProcessBus()
    async with bus.subscribe([A]) as only_a, bus.subscribe([A, B]) as both:
        assert await bus.publish(B, {"n": 1}) == 1  # publish says how many got it
        assert await bus.publish(A, {"n": 2}) == 2
        assert await bus.publish("device.9.9", {"n": 3}) == 0  # nobody listens: nothing happens
        assert only_a.queued == 1
        assert await only_a.get() == Delivery(A, {"n": 2})
        got = [await both.get(), await both.get()]
        assert got == [Delivery(B, {"n": 1}), Delivery(A, {"n": 2})]


async def test_a_waiting_subscriber_wakes_on_publish() -> None:
    bus = InProcessBus()
    got: list[Delivery | None] = []
    async with bus.subscribe([A]) as subscription, anyio.create_task_group() as tasks:

        async def read() -> None:
            got.append(await subscription.get())

        tasks.start_soon(read)
        await anyio.sleep(0.05)
        assert got == []
        await bus.publish(A, {"n": 1})
    assert got == [Delivery(A, {"n": 1})]


async def test_a_slow_subscriber_is_bounded_loses_the_oldest_and_is_told() -> None:
    bus = InProcessBus()
    async with bus.subscribe([A], max_queued=3) as slow, bus.subscribe([A]) as fast:
        started = time.monotonic()
        for n in range(10_000):
            await bus.publish(A, {"n": n})  # never waits for the slow reader
        assert time.monotonic() - started < 5
        assert slow.queued == 3 and slow.dropped_total == 9_997
        assert await slow.get() == Delivery(A, {"n": 9_997}, dropped=9_997)
        assert await slow.get() == Delivery(A, {"n": 9_998}, dropped=0)
        await bus.publish(A, {"n": 10_000})
        assert [d.message["n"] for d in (await slow.get(), await slow.get())] == [9_999, 10_000]
        assert fast.queued == 256  # the default bound
        assert (await fast.get()).dropped == 10_001 - 256


async def test_leaving_the_block_unsubscribes() -> None:
    bus = InProcessBus()
    async with bus.subscribe([A, B]) as subscription:
        assert bus.subscriber_count() == 1 and bus.topic_count() == 2
    assert bus.subscriber_count() == 0 and bus.topic_count() == 0
    assert subscription.closed
    await bus.publish(A, {"n": 1})
    assert subscription.queued == 0 and await subscription.get() is None


async def test_closing_the_bus_ends_its_subscriptions() -> None:
    bus = InProcessBus()
    async with bus.subscribe([A]) as subscription:
        await bus.publish(A, {"n": 1})
        await bus.aclose()
        assert [delivery async for delivery in subscription] == []
        assert bus.subscriber_count() == 0
    async with bus.subscribe([A]) as late:
        await bus.publish(A, {"n": 2})
        assert await late.get() is None


async def test_messages_must_be_json() -> None:
    bus = InProcessBus()
    async with bus.subscribe([A]):
        with pytest.raises(TypeError):
            await bus.publish(A, {"when": time})


def test_a_subscription_holds_at_least_one_message() -> None:
    with pytest.raises(ValueError, match="at least one"):
        InProcessBus().subscribe([A], max_queued=0)
