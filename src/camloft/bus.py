"""Publish/subscribe between the parts of a deployment: in-process, or over Redis.

A message is a JSON object published on a topic; every subscription to that
topic gets it. Topics name what the message is about, two per device:
`device.<uidd>` (`device_topic`: its realtime messages, for viewers) and
`task.<uidd>` (`task_topic`: tasks for the camera, for the process that holds
its adapter's link). `publish` answers how many listeners got the message, so
a task nobody took is known at once.

Publishing never waits for a subscriber. Each subscription has its own
bounded queue; when a slow subscriber lets it fill up, the oldest message is
dropped and the subscriber is told how many it lost (`Delivery.dropped`) with
the next message it gets, so that it can catch up another way (for example by
reading the current state again).

    bus = InProcessBus()
    async with bus.subscribe([device_topic(device)]) as subscription:
        async for delivery in subscription:
            ...  # delivery.topic, delivery.message, delivery.dropped
    await bus.publish(device_topic(device), {"type": "liveSession", "data": {...}})

`InProcessBus` serves one process (`camloft serve`); `RedisBus`
(`camloft.bus_redis`) behind the same `Bus` protocol joins processes.
Messages must be JSON: the in-process bus checks that too, so nothing works
here that could not cross Redis. A message is shared by every subscriber
that gets it: treat it as read-only. Everything here runs on the event
loop's thread; publish from there.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from camloft.ids import DeviceRef

Message = Mapping[str, Any]

DEFAULT_MAX_QUEUED = 256
"""Messages a subscription holds for its reader before the oldest are dropped."""


def device_topic(device: DeviceRef) -> str:
    """The topic of a device's realtime messages: `device.<uidd>`."""
    return f"device.{device}"


def task_topic(device: DeviceRef) -> str:
    """The topic of tasks for a device's camera: `task.<uidd>`."""
    return f"task.{device}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as a subscriber gets it."""

    topic: str
    message: Message
    dropped: int = 0
    """Messages this subscription lost just before this one because its queue was full."""


class Subscription:
    """The messages of some topics, queued for one reader.

    Read with `await get()` or `async for`. The queue holds at most
    `max_queued` messages; a message that arrives when it is full pushes out
    the oldest. A bus closes its subscriptions when it closes: `get()` then
    answers None and iteration ends.
    """

    def __init__(self, topics: Iterable[str], max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError("a subscription must hold at least one message")
        self.topics = frozenset(topics)
        self.max_queued = max_queued
        self.dropped_total = 0
        self._queue: deque[tuple[str, Message]] = deque()
        self._dropped = 0
        self._ready = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued(self) -> int:
        """Messages waiting for the reader."""
        return len(self._queue)

    def deliver(self, topic: str, message: Message) -> None:
        """Queue one message; never blocks. For bus implementations."""
        if self._closed:
            return
        if len(self._queue) >= self.max_queued:
            self._queue.popleft()
            self._dropped += 1
            self.dropped_total += 1
        self._queue.append((topic, message))
        self._ready.set()

    def close(self) -> None:
        """Stop taking messages and wake the reader. For bus implementations."""
        self._closed = True
        self._queue.clear()
        self._ready.set()

    async def get(self) -> Delivery | None:
        """The next message, waiting for one; None once the subscription is closed."""
        while not self._queue:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        topic, message = self._queue.popleft()
        dropped, self._dropped = self._dropped, 0
        return Delivery(topic, message, dropped)

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Delivery]:
        while (delivery := await self.get()) is not None:
            yield delivery


class Bus(Protocol):
    """What the roles need of a bus: `InProcessBus`, or `RedisBus` between processes."""

    async def publish(self, topic: str, message: Message) -> int:
        """Send `message` to every current subscription of `topic`; never waits for them.

        Answers how many listeners got it: subscriptions (in process) or
        subscribed processes (Redis); 0 when nobody listens or the bus is down.
        """
        ...

    def subscribe(
        self, topics: Iterable[str], *, max_queued: int = DEFAULT_MAX_QUEUED
    ) -> AbstractAsyncContextManager[Subscription]:
        """A subscription to `topics` for the duration of an `async with` block."""
        ...

    def subscriber_count(self) -> int:
        """Subscriptions open in this process."""
        ...

    async def aclose(self) -> None:
        """Close every subscription of this process; publishing afterwards does nothing."""
        ...


class LocalSubscriptions:
    """This process's subscriptions, by topic: what every bus delivers to in the end."""

    def __init__(self) -> None:
        self.by_topic: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()

    def add(self, subscription: Subscription) -> None:
        self._all.add(subscription)
        for topic in subscription.topics:
            self.by_topic.setdefault(topic, set()).add(subscription)

    def remove(self, subscription: Subscription) -> None:
        """Close `subscription` and forget it."""
        subscription.close()
        self._all.discard(subscription)
        for topic in subscription.topics:
            subscribers = self.by_topic.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self.by_topic[topic]

    def remove_all(self) -> None:
        for subscription in list(self._all):
            self.remove(subscription)

    def deliver(self, topic: str, message: Message) -> int:
        """Hand `message` to each subscription of `topic`; how many there were."""
        subscribers = self.by_topic.get(topic, ())
        for subscription in subscribers:
            subscription.deliver(topic, message)
        return len(subscribers)

    def __len__(self) -> int:
        return len(self._all)


class InProcessBus:
    """The bus of one process: a publish hands the message to each subscription's queue."""

    def __init__(self) -> None:
        self._local = LocalSubscriptions()
        self._closed = False

    async def publish(self, topic: str, message: Message) -> int:
        if self._closed:
            return 0
        if topic not in self._local.by_topic:
            return 0
        # One JSON round trip: refuses what Redis could not carry, and gives the
        # subscribers a copy the publisher can no longer change.
        return self._local.deliver(topic, json.loads(json.dumps(message)))

    def subscribe(
        self, topics: Iterable[str], *, max_queued: int = DEFAULT_MAX_QUEUED
    ) -> AbstractAsyncContextManager[Subscription]:
        return self._subscription(Subscription(topics, max_queued))

    @asynccontextmanager
    async def _subscription(self, subscription: Subscription) -> AsyncIterator[Subscription]:
        self._add(subscription)
        try:
            yield subscription
        finally:
            self._remove(subscription)

    def _add(self, subscription: Subscription) -> None:
        if self._closed:
            subscription.close()
            return
        self._local.add(subscription)

    def _remove(self, subscription: Subscription) -> None:
        self._local.remove(subscription)

    def subscriber_count(self) -> int:
        return len(self._local)

    def topic_count(self) -> int:
        """Topics with at least one subscription."""
        return len(self._local.by_topic)

    async def aclose(self) -> None:
        self._closed = True
        self._local.remove_all()
