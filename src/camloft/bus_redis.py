"""The bus between processes: Redis pub/sub behind the same `Bus` protocol.

Each topic is the Redis channel `<prefix><topic>` (the prefix keeps
deployments and test runs that share a Redis apart); a message crosses as
compact JSON. Pub/sub, not streams: realtime messages are ephemeral, a late
subscriber needs no history (a realtime stream sends the current state
first), and pub/sub delivers with less work per message (bench/bus/run.py,
bench/RESULTS.md).

One process holds one publishing connection (a pool) and one subscribing
connection, read by one task that hands each message to the local
subscriptions of its topic, with the bounded drop-oldest queues of
`camloft.bus.Subscription`. A Redis channel is subscribed while this process
has at least one subscription to its topic; `subscribe` returns once Redis
has confirmed it, so a message published after that reaches the subscriber.

When Redis restarts or drops a connection the reader logs it once, reconnects
with a growing pause (up to 2 s) and subscribes again to every topic it
needs; a publish that fails is dropped and logged once per outage. Messages
published during the gap are lost, as pub/sub gives no replay: a subscriber
neither hangs nor fails, and catches up by reading the current state again
as it does after `Delivery.dropped`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from camloft.bus import DEFAULT_MAX_QUEUED, LocalSubscriptions, Message, Subscription

log = logging.getLogger("camloft.bus")

DEFAULT_PREFIX = "camloft:"
CONNECT_SECONDS = 2.0
"""How long connecting to Redis may take before it counts as down."""
COMMAND_SECONDS = 5.0
"""How long a publish (or a ping) may wait for Redis's answer."""
CONFIRM_SECONDS = 2.0
"""How long `subscribe` waits for Redis to confirm a new channel before going on anyway."""
POLL_SECONDS = 1.0
"""The reader wakes at least this often when idle, to unsubscribe unused channels and ping."""
PING_SECONDS = 5.0
"""After this long without a word from Redis the reader pings it ..."""
SILENCE_SECONDS = 15.0
"""... and after this long it takes the connection for dead and reconnects."""
MAX_PAUSE_SECONDS = 2.0

_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBus:
    """The bus of several processes, over the Redis at `url` (`redis://host:port/db`).

    Nothing connects until the first publish or subscription.
    """

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"a bus prefix is one word, got {prefix!r}")
        options: dict[str, Any] = {
            "socket_connect_timeout": CONNECT_SECONDS,
            "socket_keepalive": True,
            "client_name": self.client_name,  # as CLIENT LIST shows this bus's connections
        }
        # Publishing retries once on a fresh connection (a restart leaves the pool's dead).
        self._publisher = Redis.from_url(
            url, retry=Retry(NoBackoff(), 1), socket_timeout=COMMAND_SECONDS, **options
        )
        # The reader owns its reconnects: no retry hidden in the client.
        self._subscriber = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
        self._local = LocalSubscriptions()
        self._pubsub: PubSub | None = None  # set while the reader is connected
        self._on_redis: set[str] = set()  # channels subscribed on the current connection
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()  # one writer at a time on the subscribing connection
        self._reader: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()  # the reader has tried to connect once
        self._reader_down = False
        self._publisher_down = False
        self._closed = False

    @property
    def client_name(self) -> str:
        return f"camloft-bus-{self.prefix}"

    def channel(self, topic: str) -> str:
        return self.prefix + topic

    async def publish(self, topic: str, message: Message) -> int:
        if self._closed:
            return 0
        data = json.dumps(message, separators=(",", ":"))  # refuses what is not JSON
        try:
            # PUBLISH answers how many subscribed connections got it: one per process.
            receivers = int(await self._publisher.publish(self.channel(topic), data))
        except _LOST as err:
            if not self._publisher_down:
                self._publisher_down = True
                log.warning("bus: cannot publish to Redis (%s); dropping until it is back", err)
            return 0
        if self._publisher_down:
            self._publisher_down = False
            log.info("bus: publishing to Redis again")
        return receivers

    def subscribe(
        self, topics: Iterable[str], *, max_queued: int = DEFAULT_MAX_QUEUED
    ) -> AbstractAsyncContextManager[Subscription]:
        return self._subscription(Subscription(topics, max_queued))

    @asynccontextmanager
    async def _subscription(self, subscription: Subscription) -> AsyncIterator[Subscription]:
        try:
            await self._add(subscription)
            yield subscription
        finally:
            # Local only and never awaits: this runs when a cancelled client goes. The
            # reader unsubscribes channels nobody here needs within POLL_SECONDS.
            self._remove(subscription)

    async def _add(self, subscription: Subscription) -> None:
        if self._closed:
            subscription.close()
            return
        self._local.add(subscription)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="camloft-redis-bus")
        await self._first_attempt.wait()  # at most CONNECT_SECONDS
        channels = [self.channel(topic) for topic in subscription.topics]
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return  # Redis is down: the reader subscribes to everything when it is back
            missing = [channel for channel in channels if channel not in self._on_redis]
            for channel in missing:
                self._confirmed.setdefault(channel, asyncio.Event())
            # Channels of this subscription still unconfirmed (by this call or another).
            waits = [self._confirmed[ch].wait() for ch in channels if ch in self._confirmed]
            if missing:
                try:
                    await pubsub.subscribe(*missing)
                except _LOST:
                    return  # the reader sees it too, reconnects and subscribes again
                self._on_redis.update(missing)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONFIRM_SECONDS):
                await asyncio.gather(*waits)

    def _remove(self, subscription: Subscription) -> None:
        self._local.remove(subscription)

    def subscriber_count(self) -> int:
        return len(self._local)

    def topic_count(self) -> int:
        """Topics with at least one subscription in this process."""
        return len(self._local.by_topic)

    async def aclose(self) -> None:
        self._closed = True
        self._local.remove_all()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
        await self._publisher.aclose()
        await self._subscriber.aclose()

    # The reader: one task per bus, for the life of the bus.

    async def _read_forever(self) -> None:
        pause = 0.1
        while not self._closed:
            pubsub = self._subscriber.pubsub()
            try:
                try:
                    await self._connect(pubsub)
                finally:
                    self._first_attempt.set()
                if self._reader_down:
                    self._reader_down = False
                    log.info("bus: subscribed to Redis again")
                pause = 0.1
                await self._read(pubsub)
            except _LOST as err:
                if not self._reader_down:
                    self._reader_down = True
                    log.warning(
                        "bus: lost the Redis subscription (%s); reconnecting, "
                        "messages meanwhile are lost",
                        err,
                    )
            finally:
                self._pubsub = None
                self._on_redis.clear()
                for waiting in self._confirmed.values():
                    waiting.set()  # nobody waits for a confirmation that cannot come
                self._confirmed.clear()
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)

    async def _connect(self, pubsub: PubSub) -> None:
        async with self._lock:
            channels = [self.channel(topic) for topic in self._local.by_topic]
            if channels:
                for channel in channels:
                    self._confirmed.setdefault(channel, asyncio.Event())
                await pubsub.subscribe(*channels)
            else:
                await pubsub.ping()  # connects, so that an outage shows here
            self._on_redis = set(channels)
            self._pubsub = pubsub

    async def _read(self, pubsub: PubSub) -> None:
        heard = swept = time.monotonic()
        while True:
            got = await pubsub.get_message(timeout=POLL_SECONDS)
            now = time.monotonic()
            if got is not None:
                heard = now
                self._handle(got)
            elif now - heard > SILENCE_SECONDS:
                raise RedisTimeoutError(f"no answer from Redis in {SILENCE_SECONDS:.0f} s")
            elif now - heard > PING_SECONDS:
                async with self._lock:
                    await pubsub.ping()
            if now - swept >= POLL_SECONDS:
                swept = now
                await self._unsubscribe_unused(pubsub)

    def _handle(self, got: dict[str, Any]) -> None:
        kind = got["type"]
        channel = _text(got["channel"]) if got.get("channel") is not None else ""
        if kind == "message":
            if not channel.startswith(self.prefix):
                return
            topic = channel.removeprefix(self.prefix)
            if topic not in self._local.by_topic:
                return
            try:
                message: Message = json.loads(got["data"])
            except ValueError:
                log.warning("bus: dropped a message on %s that is not JSON", channel)
                return
            self._local.deliver(topic, message)
        elif kind == "subscribe":
            confirmed = self._confirmed.pop(channel, None)
            if confirmed is not None:
                confirmed.set()

    async def _unsubscribe_unused(self, pubsub: PubSub) -> None:
        async with self._lock:  # so that no `subscribe` counts on a channel going now
            needed = self._local.by_topic
            unused = [c for c in self._on_redis if c.removeprefix(self.prefix) not in needed]
            if unused:
                await pubsub.unsubscribe(*unused)
                self._on_redis.difference_update(unused)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
