"""Benchmark of the bus over Redis (issue 8 item 2): pub/sub or streams, by measurement.

All on this machine's Redis (127.0.0.1:6379, database 0) under a channel and
key prefix of this run's own, which is removed afterwards. One process, one
event loop: the publisher and the subscriber each have their own connection,
as two camloft processes would. The message is a `liveSession` of ~300 bytes
of JSON, as the logger publishes.

1. Latency, publish -> deliver: one message at a time (the next is published
   once the last arrived), `LATENCY_MESSAGES` after `WARMUP` unmeasured; the
   time from before the publish call until the subscriber has the decoded
   message. Median and p95.
2. Throughput: `THROUGHPUT_MESSAGES` published one after another as fast as
   the publisher goes (each publish awaited, as the logger does), timed from
   the first publish until the subscriber has the last; messages per second,
   median of `RUNS` runs. Redis's own CPU for them (`INFO cpu`, user + system,
   whole server) per message, median of the runs.

Compared: raw pub/sub (PUBLISH / SUBSCRIBE), raw streams (XADD with an
approximate MAXLEN / XREAD BLOCK from the last id), `RedisBus` (pub/sub,
two instances), and `InProcessBus` as the floor.

Prints the numbers and writes the section "## bench/bus" of bench/RESULTS.md
(`--no-write` to skip). Run: `.venv/bin/python bench/bus/run.py` (~1 minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

from redis.asyncio import Redis

from camloft.bus import Bus, InProcessBus
from camloft.bus_redis import RedisBus
from common import machine, machine_text, med, write_results

SECTION = "## bench/bus"
REDIS_URL = "redis://127.0.0.1:6379/0"
WARMUP, LATENCY_MESSAGES = 200, 2000
THROUGHPUT_MESSAGES, RUNS = 10_000, 5
STREAM_MAXLEN = 1000
TOPIC = "device.1000.1"
MESSAGE: dict[str, Any] = {
    "type": "liveSession",
    "data": {
        "uidd": "1000.1",
        "status": "online",
        "live": False,
        "device": True,
        "wowza": "live-1.example.com:443",
        "lastactivity": 1_800_000_000_000,
        "lastthumb": 1_800_000_000,
        "laststill": 1_800_000_000,
        "lastalert": 1_800_000_000,
        "lastchunkend": 1_800_000_000_000,
        "queue_mb": 0.0,
        "queue_sec": 0,
        "battery": None,
        "stillmode": "video_only",
        "livesession": None,
    },
}


@dataclass
class Result:
    name: str
    latency_ms: list[float]
    rates: list[float]  # messages per second, one per run
    redis_us: list[float]  # Redis server CPU per message, µs, one per run


class Transport:
    """One way of carrying messages: `send` publishes, `receive` waits for the next."""

    name = ""

    async def start(self) -> None: ...

    async def send(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def receive(self) -> dict[str, Any]:
        raise NotImplementedError

    async def stop(self) -> None: ...


class PubSub(Transport):
    name = "Redis pub/sub (raw)"

    def __init__(self, prefix: str) -> None:
        self.channel = prefix + TOPIC
        self.publisher = Redis.from_url(REDIS_URL)
        self.subscriber = Redis.from_url(REDIS_URL)
        self.pubsub = self.subscriber.pubsub(ignore_subscribe_messages=True)

    async def start(self) -> None:
        await self.pubsub.subscribe(self.channel)
        confirmed = await self.pubsub.get_message(timeout=5)  # the subscribe confirmation
        assert confirmed is None or confirmed["type"] == "subscribe"

    async def send(self, message: dict[str, Any]) -> None:
        await self.publisher.publish(self.channel, json.dumps(message, separators=(",", ":")))

    async def receive(self) -> dict[str, Any]:
        while True:
            got = await self.pubsub.get_message(timeout=None)
            if got is not None and got["type"] == "message":
                decoded: dict[str, Any] = json.loads(got["data"])
                return decoded

    async def stop(self) -> None:
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.publisher.aclose()
        await self.subscriber.aclose()


class Streams(Transport):
    name = "Redis streams (raw)"

    def __init__(self, prefix: str) -> None:
        self.key = prefix + TOPIC
        self.publisher = Redis.from_url(REDIS_URL)
        self.subscriber = Redis.from_url(REDIS_URL)
        self.last_id: bytes | str = "$"
        self.pending: list[dict[str, Any]] = []

    async def start(self) -> None:
        # Read from the stream's first entry on, so that nothing sent after it is missed.
        self.last_id = await self.publisher.xadd(
            self.key, {"m": "{}"}, maxlen=STREAM_MAXLEN, approximate=True
        )

    async def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"))
        await self.publisher.xadd(self.key, {"m": data}, maxlen=STREAM_MAXLEN, approximate=True)

    async def receive(self) -> dict[str, Any]:
        while not self.pending:
            streams: dict[Any, Any] = {self.key: self.last_id}
            answer: Any = await self.subscriber.xread(streams, count=500, block=5000)
            # RESP3 answers {key: [[id, fields], ...]}, RESP2 [[key, [(id, fields), ...]], ...].
            by_key = answer.values() if isinstance(answer, dict) else [e for _, e in answer]
            for entries in by_key:
                for entry_id, fields in entries:
                    self.last_id = entry_id
                    self.pending.append(json.loads(fields[b"m"]))
        return self.pending.pop(0)

    async def stop(self) -> None:
        await self.publisher.delete(self.key)
        await self.publisher.aclose()
        await self.subscriber.aclose()


class OnBus(Transport):
    """A camloft `Bus`: publish on one, subscribe on another (or the same, in process)."""

    def __init__(self, name: str, publisher: Bus, receiver: Bus) -> None:
        self.name = name
        self.publisher, self.receiver = publisher, receiver
        self.context = receiver.subscribe([TOPIC], max_queued=THROUGHPUT_MESSAGES + 10)

    async def start(self) -> None:
        self.subscription = await self.context.__aenter__()

    async def send(self, message: dict[str, Any]) -> None:
        await self.publisher.publish(TOPIC, message)

    async def receive(self) -> dict[str, Any]:
        delivery = await self.subscription.get()
        assert delivery is not None and delivery.dropped == 0
        return dict(delivery.message)

    async def stop(self) -> None:
        await self.context.__aexit__(None, None, None)
        await self.publisher.aclose()
        if self.receiver is not self.publisher:
            await self.receiver.aclose()


async def redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def measure(transport: Transport, redis: Redis) -> Result:
    await transport.start()
    try:
        latencies: list[float] = []
        for n in range(WARMUP + LATENCY_MESSAGES):
            started = time.perf_counter()
            await transport.send({**MESSAGE, "n": n})
            got = await transport.receive()
            if n >= WARMUP:
                latencies.append((time.perf_counter() - started) * 1000)
            assert got["n"] == n
        rates, cpu_us = [], []
        for _ in range(RUNS):
            cpu_before = await redis_cpu(redis)
            started = time.perf_counter()

            async def drain() -> None:
                for n in range(THROUGHPUT_MESSAGES):
                    assert (await transport.receive())["n"] == n

            reader = asyncio.create_task(drain())
            for n in range(THROUGHPUT_MESSAGES):
                await transport.send({**MESSAGE, "n": n})
            await asyncio.wait_for(reader, 60)
            rates.append(THROUGHPUT_MESSAGES / (time.perf_counter() - started))
            cpu_us.append((await redis_cpu(redis) - cpu_before) / THROUGHPUT_MESSAGES * 1e6)
        return Result(transport.name, latencies, rates, cpu_us)
    finally:
        await transport.stop()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def main(write: bool) -> None:
    began = time.monotonic()
    prefix = f"camloft-bench-{secrets.token_hex(4)}:"
    redis = Redis.from_url(REDIS_URL)
    try:
        version = str((await redis.info("server"))["redis_version"])
        in_process = InProcessBus()
        makers: list[Callable[[], Transport]] = [
            lambda: PubSub(prefix),
            lambda: Streams(prefix),
            lambda: OnBus(
                "camloft RedisBus (pub/sub, 2 instances)",
                RedisBus(REDIS_URL, prefix=prefix),
                RedisBus(REDIS_URL, prefix=prefix),
            ),
            lambda: OnBus("camloft InProcessBus (floor)", in_process, in_process),
        ]
        results = []
        for make in makers:
            transport = make()
            print(f"{transport.name} ...", flush=True)
            result = await measure(transport, redis)
            print(
                f"  latency median {med(result.latency_ms):.3f} ms, p95 "
                f"{p95(result.latency_ms):.3f} ms; {med(result.rates):,.0f} msg/s; "
                f"Redis CPU {med(result.redis_us):.1f} µs/msg",
                flush=True,
            )
            results.append(result)
    finally:
        await redis.aclose()
    took = time.monotonic() - began
    if write:
        write_results(section(results, version, took))


def section(results: list[Result], redis_version: str, took: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    size = len(json.dumps({**MESSAGE, "n": 0}, separators=(",", ":")))
    rows = []
    for r in results:
        cpu = "-" if "InProcess" in r.name else f"{med(r.redis_us):.1f}"
        rows.append(
            f"| {r.name} | {med(r.latency_ms):.3f} ms | {p95(r.latency_ms):.3f} ms "
            f"| {med(r.rates):,.0f} | {', '.join(f'{v:,.0f}' for v in r.rates)} | {cpu} |"
        )
    pubsub, streams = results[0], results[1]
    data = (
        f"Data: a `liveSession` message of {size} bytes of JSON on one topic; one process, one "
        "event loop, publisher and subscriber on connections of their own to Redis on "
        "127.0.0.1:6379. Latency: publish -> decoded at the subscriber, one message at a time, "
        f"{LATENCY_MESSAGES:,} after {WARMUP} unmeasured. Throughput: {THROUGHPUT_MESSAGES:,} "
        "messages published back to back (each publish awaited) until the subscriber has the "
        f"last, {RUNS} runs. Redis CPU: the server's `used_cpu_user + used_cpu_sys` over a "
        "throughput run / messages (the whole server: noisy). Streams: "
        f"`XADD ... MAXLEN ~ {STREAM_MAXLEN}` / `XREAD BLOCK` from the last id seen."
    )
    choice = (
        f"Choice: pub/sub. It delivers in {med(pubsub.latency_ms):.3f} ms against "
        f"{med(streams.latency_ms):.3f} ms for streams (median), carries "
        f"{med(pubsub.rates) / med(streams.rates):.2f}x the messages per second, and costs "
        f"Redis {med(pubsub.redis_us):.1f} against {med(streams.redis_us):.1f} µs of CPU per "
        "message. What streams add (history, replay after a gap, consumer groups) realtime "
        "messages do not need: they are ephemeral, and a realtime stream sends the current "
        "state first."
    )
    versions = {"redis-py": _redis_py(), "Redis server": redis_version}
    return "\n".join(
        [
            SECTION,
            "",
            f"Run: `bench/bus/run.py`, {now}, took {took:.0f} s.",
            "Command: `.venv/bin/python bench/bus/run.py`.",
            "",
            f"Machine: {machine_text(machine(versions))}.",
            "",
            data,
            "",
            "| transport | latency median | latency p95 | msg/s (median) | runs (msg/s) "
            "| Redis CPU µs/msg |",
            "|---|---:|---:|---:|---|---:|",
            *rows,
            "",
            choice,
            "",
        ]
    )


def _redis_py() -> str:
    import redis

    return str(redis.__version__)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    asyncio.run(main(write=not args.no_write))


if __name__ == "__main__":
    cli()
