"""Benchmark of the logger: `/alert` paging, segment ingest, event playlists and MP4 export.

Measures, once on SQLite and once on a fresh PostgreSQL database (issue 4 item 10):

1. `GET /alert` for a device with 1,000,000 events in a database of 10,000
   devices (1,000 owners x 10 devices; the other devices hold 5 events each,
   about 50,000): pages at offset 0, 20, 100 and 1000 (limit 20), a warm-up,
   then 200 timed requests per offset from one keep-alive httpx client; every
   answer is checked (20 events, the expected ids, newest first); `/healthz`
   is timed alone and between the pages (the floor under the same load), and
   the server's CPU per request is shown. Target: p99 under 20 ms. For the
   reasons, the same query is also timed in-process through
   `RecordingStore.events` (and at offset 100,000, to show how the cost grows)
   and its plan is shown (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN (ANALYZE,
   BUFFERS)` on PostgreSQL); when the target is missed (or with `--profile`),
   the pages run again under py-spy.
2. Segment ingest: one real 2 s MPEG-TS segment of a 2 Mbit/s stream (made
   with PyAV, ~500 KB), uploaded again and again with
   `PUT /adapter/v1/segments/{uidd}/{start_ms}` by 16 concurrent keep-alive
   httpx clients (one device each) for 20 s. The server's CPU time (user +
   system, all its threads, from /proc/<pid>/stat) per stored segment becomes
   "camera streams one logger core takes" = 2 s / CPU seconds per segment.
   Target: at least 300. On PostgreSQL the database backends' CPU and the
   connections opened meanwhile are shown beside it (not the logger's core).
   Where a segment's CPU goes: the blob store and the recording store are also
   called in-process; when the target is missed (or with `--profile`), a
   second burst runs under py-spy.
3. If `camloft.media.playlist`, `camloft.media.mp4` and `camloft.logger.video`
   exist: `GET /alerturl.m3u8` for a one-hour event (1800 segments of 2 s with
   continuous timestamps) p50, and the same with `buildmp4=1` (the whole MP4
   downloaded and checked with ffprobe) as a real-time factor, against
   `ffmpeg -f concat -safe 0 -i list.txt -c copy out.mp4` over the same files
   (each export twice, the faster counts; CPU shown too). Target: at least 200x
   real time. Otherwise the rows say why they were not measured.

`camloft serve` runs as a subprocess. Prints tables and writes the section
"## bench/logger" of bench/RESULTS.md (`--no-write` to skip). Run it with
`make bench` or `.venv/bin/python bench/logger/run.py`. Servers, py-spy and
ffmpeg are stopped, temporary folders removed and the PostgreSQL database
dropped even when a step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import importlib.util
import io
import itertools
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

import asyncpg
import av
import httpx
import numpy as np
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Connection

from camloft.auth.passwords import Passwords
from camloft.ids import DeviceRef
from camloft.store.blobs import FileBlobStore
from camloft.store.db import create_engine, migrate
from camloft.store.recordings import RecordingStore, StoredSegment, segment_key
from camloft.store.tables import DeviceRow, EventRow, GrantRow, SegmentRow, UserRow
from camloft.tokens import sha256_hex
from common import (
    CLOCK_TICK,
    PG_ADMIN_DSN,
    PG_URL,
    Children,
    Tone,
    abort_on_signals,
    add_h264,
    base_env,
    beside_python,
    device_row,
    ffmpeg_version,
    load_average,
    machine,
    machine_text,
    pg_database,
    postgres_version,
    proc_cpu,
    proc_cpu_times,
    proc_stat,
    run_benchmark,
    start_serve,
    user_row,
    write_results,
)

SECTION = "## bench/logger"
PG_DSN = "postgresql://root@127.0.0.1:5432/{db}"

# The data set.
OWNERS = 1_000
DEVICES_PER_OWNER = 10
DEVICES = OWNERS * DEVICES_PER_OWNER
BIG_EVENTS = 1_000_000
EVENT_EVERY_S = 30  # 1,000,000 events x 30 s = 347 days
PLAN_DAYS = 365  # every owner's plan: the server's retention keeps all those rows
OTHER_EVENTS = 5  # per other device
SEED_CHUNK = 50_000
OWNER_EMAIL = "owner0000@bench.camloft.test"
OWNER_PASSWORD = "bench-owner-password"
BIG_DEVICE_ID = 1  # owner 0's device with 1,000,000 events
HOUR_DEVICE_ID = 2  # owner 0's device with the one-hour event
PARTS_DEVICE_ID = 3  # owner 0's device for the in-process ingest breakdown

# 1. /alert
OFFSETS = (0, 20, 100, 1000)
PAGE = 20
ALERT_WARMUP = 20  # rounds of the four offsets
ALERT_TIMED = 200  # per offset
HEALTHZ_TIMED = 200
STORE_TIMED = 50  # in-process RecordingStore.events calls per offset
DEEP_OFFSET, DEEP_CALLS = 100_000, 5  # for context: how the cost grows with the offset
ALERT_TARGET_MS = 20.0

# 2. ingest
SEGMENT_MS = 2_000
BIT_RATE = 2_000_000
WIDTH, HEIGHT, FPS, SAMPLE_RATE, AUDIO_FRAME = 1280, 720, 15, 48_000, 1024
CLIENTS = 16
INGEST_SECONDS = 20.0
INGEST_WARMUP = 2  # uploads per client before the clock starts
PROFILE_SECONDS = 10.0
PART_CALLS = 100  # in-process calls of each store, for the breakdown
STREAMS_TARGET = 300.0

# 3. playlists and MP4
HOUR_SEGMENTS = 1800
PLAYLIST_WARMUP = 2
PLAYLIST_TIMED = 20
MP4_TIMEOUT_S = 90.0
EXPORT_RUNS = 2  # the MP4 exports (ffmpeg's and camloft's): the fastest run counts
RTF_TARGET = 200.0
VIDEO_MODULES = ("camloft.media.playlist", "camloft.media.mp4", "camloft.logger.video")


# results


@dataclass
class Latency:
    """Timed requests of one kind: p50 and p99 in ms."""

    what: str
    backend: str
    times_ms: list[float]
    target_ms: float | None = None
    cpu_ms: float | None = None  # the server's CPU per request

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.times_ms, n=100, method="inclusive")[98]

    @property
    def met(self) -> bool | None:
        return None if self.target_ms is None else self.p99 < self.target_ms


@dataclass
class Ingest:
    backend: str
    segments: int
    seconds: float
    bytes_sent: int
    user_s: float
    system_s: float
    database_s: float | None  # PostgreSQL backends' CPU, not the logger's

    @property
    def cpu_per_segment_ms(self) -> float:
        return (self.user_s + self.system_s) / self.segments * 1000

    @property
    def streams_per_core(self) -> float:
        return SEGMENT_MS / self.cpu_per_segment_ms

    @property
    def met(self) -> bool:
        return self.streams_per_core >= STREAMS_TARGET


@dataclass
class Video:
    what: str
    backend: str
    result: str
    target: str = ""
    met: bool | None = None


@dataclass
class Results:
    alert: list[Latency] = field(default_factory=list)
    store: list[Latency] = field(default_factory=list)
    ingest: list[Ingest] = field(default_factory=list)
    video: list[Video] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)
    parts: dict[str, Parts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    segment_bytes: int = 0

    def latency(self, row: Latency, *, store: bool = False) -> None:
        (self.store if store else self.alert).append(row)
        verdict = "" if row.met is None else ("  met" if row.met else "  MISSED")
        cpu = "" if row.cpu_ms is None else f"  server CPU {row.cpu_ms:.2f} ms/req"
        print(
            f"  {row.what:<50} {row.backend:<10} p50 {row.p50:7.2f} ms  p99 {row.p99:7.2f} ms"
            f"{cpu}{verdict}",
            flush=True,
        )

    def video_row(self, row: Video) -> None:
        self.video.append(row)
        verdict = "" if row.met is None else ("  met" if row.met else "  MISSED")
        print(f"  {row.what:<44} {row.backend:<10} {row.result}{verdict}", flush=True)


# helpers


def wait_idle(pid: int, timeout: float = 90.0) -> tuple[float, float]:
    """Wait until the server spends (almost) no CPU for a second: its start-up work
    (migrations, the first retention pass over every owner) is done. Answers the
    wall seconds waited and the CPU seconds spent meanwhile."""
    started, cpu_at_start = time.monotonic(), proc_cpu(pid)
    quiet = 0
    last = cpu_at_start
    while time.monotonic() - started < timeout:
        time.sleep(0.25)
        now = proc_cpu(pid)
        quiet = quiet + 1 if now - last <= 0.01 else 0
        last = now
        if quiet >= 4:
            break
    return time.monotonic() - started, last - cpu_at_start


def device_key(device: DeviceRef) -> str:
    return f"bench-key-{device.uid}-{device.device_id}"


# the data set


@dataclass
class Seeded:
    owner_uids: list[int]
    newest_id: int  # the big device's newest event id (s)
    hour_start_ms: int
    seconds: float

    @property
    def big(self) -> DeviceRef:
        return DeviceRef(self.owner_uids[0], BIG_DEVICE_ID)

    @property
    def hour_device(self) -> DeviceRef:
        return DeviceRef(self.owner_uids[0], HOUR_DEVICE_ID)

    def ingest_devices(self) -> list[DeviceRef]:
        return [DeviceRef(uid, 1) for uid in self.owner_uids[1 : CLIENTS + 1]]


EVENT_COLUMNS = (
    "owner_uid",
    "device_id",
    "id",
    "startt",
    "endt",
    "end_ms",
    "type",
    "smx",
    "aud",
    "rom",
    "recording",
    "tz",
    "created_ms",
    "updated_ms",
)


def _event(device: DeviceRef, event_id: int, n: int) -> tuple[Any, ...]:
    startt = event_id * 1000 + 250
    kind = ("motion", "motion", "audio", "trigger")[n % 4]
    return (
        device.uid,
        device.device_id,
        event_id,
        startt,
        startt + 25_000,
        startt + 10_000,
        kind,
        n % 11,
        None if kind == "motion" else 3,
        True,
        False,
        0.0,
        startt + 1_000,  # the logger heard of it a second in
        startt + 26_000,
    )


def events_in_time_order(
    owner_uids: list[int], newest_id: int, hour: DeviceRef, hour_start_ms: int
) -> Iterator[tuple[Any, ...]]:
    """Every event, oldest first across devices (as a logger receives them): the big
    device's 1,000,000, 5 for each other device, and the one-hour event."""
    big = DeviceRef(owner_uids[0], BIG_DEVICE_ID)
    oldest_id = newest_id - EVENT_EVERY_S * (BIG_EVENTS - 1)
    rng = random.Random(7)
    others: list[tuple[Any, ...]] = []
    for owner in owner_uids:
        for device_id in range(1, DEVICES_PER_OWNER + 1):
            device = DeviceRef(owner, device_id)
            if device in (big, hour):
                continue
            for n, event_id in enumerate(sorted(rng.sample(range(oldest_id, newest_id), 5))):
                others.append(_event(device, event_id, n))
    others.sort(key=lambda row: row[2])
    hour_id = hour_start_ms // 1000
    hour_row = (
        hour.uid,
        hour.device_id,
        hour_id,
        hour_start_ms,
        hour_start_ms + 3_600_000,  # recording ran the whole hour
        hour_start_ms + 3_595_000,
        "motion",
        7,
        None,
        True,
        False,
        0.0,
        hour_start_ms + 1_000,
        hour_start_ms + 3_601_000,
    )
    big_events = (_event(big, oldest_id + EVENT_EVERY_S * n, n) for n in range(BIG_EVENTS))
    yield from heapq.merge(big_events, others, [hour_row], key=lambda row: row[2])


def chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


async def seed(
    url: str, owner_hash: str, hour_dir: Path, data_dir: Path, pg_dsn: str | None
) -> Seeded:
    """Users, devices and grants with SQLAlchemy Core; events with Core executemany in
    chunks (SQLite) or COPY (PostgreSQL); the hour's segment rows, and their files
    hard-linked into the server's blob store."""
    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    newest_id = now_ms // 1000 - 60
    hour_start_ms = (now_ms // 1000 - 3 * 3600) * 1000
    engine = create_engine(url)
    try:
        await migrate(engine)

        def user(n: int, password_hash: str) -> dict[str, Any]:
            return user_row(
                f"owner{n:04d}@bench.camloft.test",
                password_hash,
                f"Owner {n}",
                max_age_days=PLAN_DAYS,
                now_ms=now_ms,
                last_device_id=DEVICES_PER_OWNER,
            )

        async with engine.begin() as conn:
            await conn.execute(insert(UserRow), [user(0, owner_hash)])
            await conn.execute(
                insert(UserRow), [user(n, "not-a-real-hash") for n in range(1, OWNERS)]
            )
            rows = (await conn.execute(select(UserRow.uid, UserRow.email))).all()
            owner_uids = [uid for uid, _email in sorted(rows, key=lambda row: row[1])]
            assert len(owner_uids) == OWNERS
            await conn.execute(
                insert(DeviceRow),
                [
                    device_row(
                        owner,
                        device,
                        sha256_hex(device_key(DeviceRef(owner, device))),
                        now_ms=now_ms,
                    )
                    for owner in owner_uids
                    for device in range(1, DEVICES_PER_OWNER + 1)
                ],
            )
            # Each owner lets the next one watch all their devices: a grants table
            # of realistic size for the access check every request makes.
            await conn.execute(
                insert(GrantRow),
                [
                    {
                        "viewer_uid": owner_uids[(n + 1) % OWNERS],
                        "owner_uid": owner,
                        "device_id": None,
                        "right": "r",
                    }
                    for n, owner in enumerate(owner_uids)
                ],
            )
        seeded = Seeded(owner_uids, newest_id, hour_start_ms, 0.0)
        events = events_in_time_order(owner_uids, newest_id, seeded.hour_device, hour_start_ms)
        if pg_dsn is None:
            async with engine.begin() as conn:
                for batch in chunks(events, SEED_CHUNK):
                    await conn.execute(
                        insert(EventRow),
                        [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in batch],
                    )
        else:
            pg = await asyncpg.connect(pg_dsn)
            try:
                for batch in chunks(events, SEED_CHUNK * 4):
                    await pg.copy_records_to_table("events", records=batch, columns=EVENT_COLUMNS)
            finally:
                await pg.close()
        async with engine.begin() as conn:
            await conn.execute(
                insert(SegmentRow),
                [
                    {
                        "owner_uid": seeded.hour_device.uid,
                        "device_id": seeded.hour_device.device_id,
                        "start_ms": hour_start_ms + SEGMENT_MS * n,
                        "duration_ms": SEGMENT_MS,
                        "size": (hour_dir / f"{n:04d}.ts").stat().st_size,
                        "blob_key": segment_key(seeded.hour_device, hour_start_ms + SEGMENT_MS * n),
                        "received_ms": hour_start_ms + SEGMENT_MS * (n + 1) + 500,
                    }
                    for n in range(HOUR_SEGMENTS)
                ],
            )
        for n in range(HOUR_SEGMENTS):
            target = data_dir / segment_key(seeded.hour_device, hour_start_ms + SEGMENT_MS * n)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(hour_dir / f"{n:04d}.ts", target)
        async with engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(EventRow))
        assert count == BIG_EVENTS + OTHER_EVENTS * (DEVICES - 2) + 1, count
    finally:
        await engine.dispose()
    if pg_dsn is not None:
        # What autovacuum does soon after such a load; done now so that it does not
        # run in the middle of the timings.
        pg = await asyncpg.connect(pg_dsn)
        try:
            await pg.execute("VACUUM ANALYZE")
        finally:
            await pg.close()
    seeded.seconds = time.perf_counter() - started
    return seeded


# PostgreSQL


async def pg_sessions(database: str) -> int:
    """Connections ever opened to `database` (pg_stat_database.sessions: a connection
    that ended is counted for sure, a live one once its backend reported)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        sessions = await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = $1", database
        )
        return int(sessions or 0)
    finally:
        await conn.close()


async def pg_backend_pids(database: str) -> list[int]:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return [int(row["pid"]) for row in rows]
    finally:
        await conn.close()


@dataclass
class PgCpu:
    """CPU seconds of the PostgreSQL backends of one database (same machine), and of the
    backends the postmaster reaped so far (of any database: they end up in its
    cutime/cstime), so that connections opened and closed meanwhile are counted too."""

    backends: dict[int, float]
    reaped: float

    def since(self, before: PgCpu) -> float:
        live = sum(cpu - before.backends.get(pid, 0.0) for pid, cpu in self.backends.items())
        return live + self.reaped - before.reaped


async def pg_cpu_async(database: str) -> PgCpu:
    backends: dict[int, float] = {}
    postmaster = 0
    for pid in await pg_backend_pids(database):
        with contextlib.suppress(OSError, ValueError):  # gone meanwhile
            fields = proc_stat(pid)
            backends[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICK
            postmaster = int(fields[1])
    reaped = 0.0
    if postmaster:
        fields = proc_stat(postmaster)
        reaped = (int(fields[13]) + int(fields[14])) / CLOCK_TICK  # cutime + cstime
    return PgCpu(backends, reaped)


def pg_cpu(database: str) -> PgCpu:
    return asyncio.run(pg_cpu_async(database))


# the server


@dataclass
class Server:
    base: str
    pid: int
    log: Path


@contextmanager
def server(data_dir: Path, database_url: str | None) -> Iterator[Server]:
    """`camloft serve` in a subprocess; yields it; always stopped."""
    # The caller's proxy variables and Python's buffered output, as this benchmark always ran.
    env = base_env(drop_proxies=False, unbuffered=False)
    env["CAMLOFT_LOG_LEVEL"] = "warning"  # no access log line per request
    if database_url is not None:
        env["CAMLOFT_DATABASE_URL"] = database_url
    children = Children()
    try:
        process, base = start_serve(children, data_dir, env)
        yield Server(base, process.pid, data_dir / "server.log")
    finally:
        children.stop_all()


def ok_json(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()


def login(client: httpx.Client, seeded: Seeded) -> str:
    body = ok_json(client.get("/login", params={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}))
    if body["result"]["uid"] != seeded.owner_uids[0]:
        raise RuntimeError(f"logged in as the wrong user: {body['result']['uid']}")
    token: str = body["result"]["authToken"]
    client.headers["Authorization"] = f"ManythingToken {token}"
    return token


# 1. /alert


def check_page(seeded: Seeded, offset: int) -> Callable[[httpx.Response], None]:
    expected = [seeded.newest_id - EVENT_EVERY_S * (offset + n) for n in range(PAGE)]
    uid = str(seeded.big)

    def check(response: httpx.Response) -> None:
        events = ok_json(response)["result"]
        ids = [item["id"] for item in events]
        if ids != expected or any(item["uid"] != uid for item in events):
            raise RuntimeError(
                f"/alert offset={offset}: {len(ids)} events {ids[:3]}..., "
                f"expected {expected[:3]}..."
            )

    return check


def bench_alert(results: Results, backend: str, srv: Server, seeded: Seeded, profile: bool) -> None:
    with httpx.Client(base_url=srv.base, timeout=30, trust_env=False) as client:
        login(client, seeded)
        # The framework's floor alone, and its server CPU per request.
        alone: list[float] = []
        for n in range(HEALTHZ_TIMED + 10):
            if n == 10:
                healthz_cpu = proc_cpu(srv.pid)
            started = time.perf_counter()
            response = client.get("/healthz")
            if n >= 10:
                alone.append((time.perf_counter() - started) * 1000)
            ok_json(response)
        healthz_cpu = (proc_cpu(srv.pid) - healthz_cpu) / HEALTHZ_TIMED * 1000
        results.latency(
            Latency(f"GET /healthz alone ({HEALTHZ_TIMED} req)", backend, alone, cpu_ms=healthz_cpu)
        )

        checks = {offset: check_page(seeded, offset) for offset in OFFSETS}
        params: dict[int, dict[str, str | int]] = {
            offset: {"uidd": str(seeded.big), "offset": offset, "limit": PAGE} for offset in OFFSETS
        }
        by_offset: dict[int, list[float]] = {offset: [] for offset in OFFSETS}
        floor: list[float] = []
        load_before = load_average()
        # A client pages from offset 0 on: each round asks the four pages in order, and
        # /healthz once, so that the floor is measured under the same conditions.
        for n in range(ALERT_WARMUP + ALERT_TIMED):
            if n == ALERT_WARMUP:
                cpu_before = proc_cpu(srv.pid)
            for offset in OFFSETS:
                started = time.perf_counter()
                response = client.get("/alert", params=params[offset])
                elapsed = (time.perf_counter() - started) * 1000
                checks[offset](response)
                if n >= ALERT_WARMUP:
                    by_offset[offset].append(elapsed)
            started = time.perf_counter()
            response = client.get("/healthz")
            if n >= ALERT_WARMUP:
                floor.append((time.perf_counter() - started) * 1000)
            ok_json(response)
        spent = (proc_cpu(srv.pid) - cpu_before) * 1000 - healthz_cpu * ALERT_TIMED
        alert_cpu = spent / (ALERT_TIMED * len(OFFSETS))
        results.notes.append(
            f"{backend}: 1-minute load average {load_before:.2f} before the /alert rounds, "
            f"{load_average():.2f} after (2 cores shared with whatever else runs)."
        )
        results.latency(
            Latency(f"GET /healthz between the /alert pages ({ALERT_TIMED} req)", backend, floor)
        )
        for offset in OFFSETS:
            results.latency(
                Latency(
                    f"GET /alert offset={offset} ({ALERT_TIMED} req)",
                    backend,
                    by_offset[offset],
                    ALERT_TARGET_MS,
                )
            )
        every = [t for offset in OFFSETS for t in by_offset[offset]]
        results.latency(
            Latency(
                f"GET /alert, all four ({len(every)} req)",
                backend,
                every,
                ALERT_TARGET_MS,
                cpu_ms=alert_cpu,
            )
        )
        if profile or any(row.met is False for row in results.alert if row.backend == backend):

            def pages() -> None:
                deadline = time.monotonic() + PROFILE_SECONDS - 1
                while time.monotonic() < deadline:
                    for offset in OFFSETS:
                        checks[offset](client.get("/alert", params=params[offset]))

            results.profiles[f"/alert on {backend}"] = profile_server(
                srv, "alert", pages, ALERT_FOCUS
            )


async def inspect_query(results: Results, backend: str, url: str, seeded: Seeded) -> None:
    """`RecordingStore.events` in-process (no HTTP), and the plan of the very SQL it sends."""
    engine = create_engine(url)
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    store = RecordingStore(engine)
    known_by = int(time.time() * 1000)
    plans: list[str] = []
    sql = ""
    try:
        for offset in (*OFFSETS, DEEP_OFFSET):
            calls = STORE_TIMED if offset in OFFSETS else DEEP_CALLS
            times: list[float] = []
            for n in range(calls + 2):
                started = time.perf_counter()
                found = await store.events(
                    seeded.big, from_ms=1, known_by_ms=known_by if offset else None, offset=offset
                )
                if n >= 2:
                    times.append((time.perf_counter() - started) * 1000)
                if [e.id for e in found] != [
                    seeded.newest_id - EVENT_EVERY_S * (offset + k) for k in range(PAGE)
                ]:
                    raise RuntimeError(f"RecordingStore.events offset={offset}: wrong events")
            results.latency(
                Latency(f"RecordingStore.events offset={offset} ({calls} calls)", backend, times),
                store=True,
            )
            if offset in (0, 1000):
                statement, parameters = captured[-1]
                sql = " ".join(statement.split())
                explain = (
                    "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
                )
                async with engine.connect() as conn:
                    rows = (await conn.exec_driver_sql(explain + statement, parameters)).all()
                plans.append(f"offset={offset}:")
                plans += [
                    "    " + (str(row[-1]) if backend == "sqlite" else str(row[0])) for row in rows
                ]
        plans.insert(0, "SQL: " + sql)
    finally:
        await engine.dispose()
    results.plans[backend] = plans


# 2. ingest


def make_segment() -> bytes:
    """One real 2 s MPEG-TS segment: 1280x720 15 fps H.264 (a key frame per segment) +
    AAC, padded to a constant 2 Mbit/s by the muxer, so ~500 KB."""
    rng = np.random.default_rng(7)
    chroma = np.full((HEIGHT // 2, WIDTH), 128, np.uint8)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts", options={"muxrate": str(BIT_RATE)}) as output:
        video = add_h264(
            output, width=WIDTH, height=HEIGHT, fps=FPS, gop=2 * FPS, bit_rate=1_200_000
        )
        tone = Tone(output, 2, sample_rate=SAMPLE_RATE, frame=AUDIO_FRAME)
        for index in range(2 * FPS):
            luma = np.full((HEIGHT, WIDTH), 90, np.uint8)
            x = (index * 30) % (WIDTH - 100)
            luma[:, x : x + 100] = 230
            luma[: HEIGHT // 6, : WIDTH // 6] = rng.integers(0, 256, (HEIGHT // 6, WIDTH // 6))
            frame = av.VideoFrame.from_ndarray(np.concatenate([luma, chroma]), format="yuv420p")
            frame.pts = index
            output.mux(video.encode(frame))
            tone.after_frame(index, FPS)
        output.mux(video.encode())
        tone.flush()
    data = buffer.getvalue()
    if len(data) % 188 or data[0] != 0x47:
        raise RuntimeError("PyAV made no MPEG-TS")
    return data


def make_hour(segment: bytes, folder: Path) -> None:
    """1800 copies of `segment` with timestamps moved on 2 s each: one continuous hour."""
    with av.open(io.BytesIO(segment), "r", format="mpegts") as source:
        streams = list(source.streams)
        packets = [
            (p.stream.index, bytes(p), p.pts, p.dts, p.is_keyframe)
            for p in source.demux()
            if p.size
        ]
        for n in range(HOUR_SEGMENTS):
            buffer = io.BytesIO()
            with av.open(
                buffer, "w", format="mpegts", options={"muxrate": str(BIT_RATE)}
            ) as output:
                targets = [output.add_stream_from_template(s) for s in streams]
                for index, data, pts, dts, key in packets:
                    base = streams[index].time_base
                    assert base is not None and pts is not None and dts is not None
                    shift = int(n * SEGMENT_MS / 1000 / base)
                    packet = av.Packet(data)
                    packet.stream = targets[index]
                    packet.time_base = base
                    packet.pts, packet.dts, packet.is_keyframe = pts + shift, dts + shift, key
                    output.mux(packet)
            (folder / f"{n:04d}.ts").write_bytes(buffer.getvalue())


@dataclass
class Parts:
    """CPU ms per segment of the ingest path's two stores, called in this process."""

    blob_user: float
    blob_system: float
    index_user: float
    index_system: float
    index_database: float | None  # PostgreSQL backends

    @property
    def blob(self) -> float:
        return self.blob_user + self.blob_system

    @property
    def index(self) -> float:
        return self.index_user + self.index_system


async def ingest_parts(
    url: str, data_dir: Path, device: DeviceRef, data: bytes, database: str | None
) -> Parts:
    """What `Ingest.store_segment` does, without HTTP: `FileBlobStore.put` of the segment
    (write, fsync, rename), then `RecordingStore.segment` + `add_segment`; CPU from
    os.times() (this process, all threads), which runs nothing else meanwhile."""
    blobs = FileBlobStore(data_dir)
    first = 1_000_000_000_000  # 2001: out of the way of every other segment
    starts = [first + SEGMENT_MS * n for n in range(PART_CALLS)]
    await blobs.put(segment_key(device, first - SEGMENT_MS), data)  # warm-up
    before = os.times()
    for start_ms in starts:
        await blobs.put(segment_key(device, start_ms), data)
    after = os.times()
    blob = (after.user - before.user, after.system - before.system)
    engine = create_engine(url)
    store = RecordingStore(engine)
    try:

        async def index(start_ms: int) -> None:
            if await store.segment(device, start_ms) is not None:
                raise RuntimeError(f"segment {start_ms} indexed already")
            stored = StoredSegment(
                device, start_ms, SEGMENT_MS, len(data), segment_key(device, start_ms)
            )
            if not await store.add_segment(stored):
                raise RuntimeError(f"segment {start_ms} not indexed")

        for n in range(1, 6):  # warm-up: the pool's connection, SQLAlchemy's caches
            await index(first - SEGMENT_MS * n)
        db_before = await pg_cpu_async(database) if database else None
        before = os.times()
        for start_ms in starts:
            await index(start_ms)
        after = os.times()
        db = None
        if database and db_before is not None:
            db = (await pg_cpu_async(database)).since(db_before)
    finally:
        await engine.dispose()
    per = 1000 / PART_CALLS
    return Parts(
        blob[0] * per,
        blob[1] * per,
        (after.user - before.user) * per,
        (after.system - before.system) * per,
        None if db is None else db * per,
    )


async def upload(
    base: str,
    devices: list[DeviceRef],
    starts: Mapping[DeviceRef, Iterator[int]],
    data: bytes,
    *,
    each: int | None = None,
    seconds: float | None = None,
) -> int:
    """Every device's client PUTs segments (`each` of them, or for `seconds`)."""
    deadline = time.monotonic() + (seconds or 0.0)

    async def client_of(device: DeviceRef) -> int:
        headers = {
            "Authorization": f"CamloftDevice {device_key(device)}",
            "Content-Type": "video/mp2t",
        }
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=60, trust_env=False, limits=limits
        ) as client:
            done = 0
            while (done < each) if each is not None else (time.monotonic() < deadline):
                start_ms = next(starts[device])
                response = await client.put(
                    f"/adapter/v1/segments/{device}/{start_ms}",
                    params={"duration_ms": SEGMENT_MS},
                    content=data,
                )
                if ok_json(response, 201) != {"result": "stored"}:
                    raise RuntimeError(f"segment {device}/{start_ms}: {response.text[:200]}")
                done += 1
            return done

    return sum(await asyncio.gather(*(client_of(device) for device in devices)))


async def count_segments(url: str, devices: list[DeviceRef]) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            total = 0
            for device in devices:
                total += (
                    await conn.scalar(
                        select(func.count())
                        .select_from(SegmentRow)
                        .where(
                            SegmentRow.owner_uid == device.uid,
                            SegmentRow.device_id == device.device_id,
                        )
                    )
                    or 0
                )
            return total
    finally:
        await engine.dispose()


def bench_ingest(
    results: Results,
    backend: str,
    srv: Server,
    url: str,
    database: str | None,
    seeded: Seeded,
    data: bytes,
    profile: bool,
    data_dir: Path,
) -> None:
    devices = seeded.ingest_devices()
    day_ago = (int(time.time()) - 86_400) * 1000
    starts = {device: itertools.count(day_ago, SEGMENT_MS) for device in devices}
    warm = asyncio.run(upload(srv.base, devices, starts, data, each=INGEST_WARMUP))
    wait_idle(srv.pid, timeout=10)
    db_before = pg_cpu(database) if database else None
    sessions_before = asyncio.run(pg_sessions(database)) if database else 0
    user0, system0 = proc_cpu_times(srv.pid)
    started = time.perf_counter()
    stored = asyncio.run(upload(srv.base, devices, starts, data, seconds=INGEST_SECONDS))
    seconds = time.perf_counter() - started
    user1, system1 = proc_cpu_times(srv.pid)
    database_s = None
    if database and db_before is not None:
        db_after = pg_cpu(database)
        database_s = db_after.since(db_before)
        opened = len(db_after.backends.keys() - db_before.backends.keys())
        time.sleep(1.5)  # ended backends report their session at exit; let it land
        sessions = asyncio.run(pg_sessions(database)) - sessions_before
        results.notes.append(
            f"{backend}: the server's PostgreSQL connections during the {INGEST_SECONDS:.0f} s "
            f"ingest burst with {CLIENTS} clients: {len(db_before.backends)} open before, "
            f"{len(db_after.backends)} after, {opened} of them new; "
            f"pg_stat_database counts {sessions} connections opened meanwhile "
            f"({sessions / stored:.2f} per segment)."
        )
    # Every upload is indexed and its bytes are on disk, whole.
    indexed = asyncio.run(count_segments(url, devices))
    if indexed != warm + stored:
        raise RuntimeError(f"{indexed} segments indexed, {warm + stored} uploaded")
    sample = data_dir / segment_key(devices[-1], day_ago)
    if sample.read_bytes() != data:
        raise RuntimeError(f"{sample} differs from the uploaded segment")
    row = Ingest(
        backend, stored, seconds, stored * len(data), user1 - user0, system1 - system0, database_s
    )
    results.ingest.append(row)
    db = "" if database_s is None else f", PostgreSQL backends {database_s / stored * 1000:.2f} ms"
    print(
        f"  ingest {backend:<10} {stored} segments in {seconds:.1f} s "
        f"({stored / seconds:.0f}/s, {stored * len(data) * 8 / seconds / 1e6:.0f} Mbit/s): "
        f"server CPU {row.cpu_per_segment_ms:.2f} ms/segment "
        f"(user {row.user_s:.2f} s, system {row.system_s:.2f} s){db} "
        f"-> {row.streams_per_core:.0f} streams per core" + ("  met" if row.met else "  MISSED"),
        flush=True,
    )
    if profile or not row.met:
        results.profiles[f"ingest on {backend}"] = profile_server(
            srv,
            "ingest",
            lambda: asyncio.run(
                upload(srv.base, devices, starts, data, seconds=PROFILE_SECONDS - 1)
            ),
            INGEST_FOCUS,
        )


def profile_server(
    srv: Server, name: str, load: Callable[[], object], focus: tuple[tuple[str, str], ...]
) -> list[str]:
    """Run `load` (about PROFILE_SECONDS long) under `py-spy record --gil` (100 Hz, raw
    stacks of the thread holding the GIL: the server's Python CPU, C code that keeps
    the GIL included, time in C with the GIL released, such as sqlite3 queries or
    writes, not); answers a summary of where that time goes."""
    py_spy = beside_python("py-spy")
    if py_spy is None:
        return ["py-spy is not installed (`.venv/bin/pip install py-spy`): no profile."]
    output = Path(tempfile.gettempdir()) / f"camloft-bench-{name}-{srv.pid}.pyspy.txt"
    command = [
        str(py_spy), "record", "--pid", str(srv.pid), "--duration", str(int(PROFILE_SECONDS)),
        "--rate", "100", "--gil", "--format", "raw", "--nonblocking", "--output", str(output),
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)  # py-spy attaches
        load()
        spy_out, _ = spy.communicate(timeout=30)
        if spy.returncode != 0 or not output.exists():
            return [f"py-spy failed ({spy.returncode}): {spy_out.decode(errors='replace')[-300:]}"]
        return summarize_profile(output.read_text(encoding="utf-8", errors="replace"), focus)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait(timeout=10)
        output.unlink(missing_ok=True)


CATEGORIES = (
    ("camloft/store/blobs.py", "blob file write (open, write, fsync, rename)"),
    ("sqlalchemy/", "SQLAlchemy (ORM session, Core, pool)"),
    ("aiosqlite/", "aiosqlite / sqlite3"),
    ("sqlite3/", "aiosqlite / sqlite3"),
    ("asyncpg/", "asyncpg"),
    ("uvicorn/", "uvicorn (HTTP parsing, transport)"),
    ("httptools/", "uvicorn (HTTP parsing, transport)"),
    ("starlette/", "Starlette (request body, routing, responses)"),
    ("fastapi/", "FastAPI (dependencies, validation)"),
    ("pydantic", "pydantic"),
    ("anyio/", "anyio (threads)"),
    ("asyncio/", "asyncio event loop"),
    ("uvloop", "asyncio event loop"),
    ("threading.py", "threads (idle pool workers)"),
    ("concurrent/", "threads (idle pool workers)"),
    ("camloft/", "camloft's own code"),
)
# (label, function's qualified name) of the frames whose inclusive time is shown.
INGEST_FOCUS = (
    ("put_segment (the route)", "put_segment"),
    ("reading the body", "_body"),
    ("device key check", "DeviceKeys.verify"),
    ("Ingest.store_segment", "Ingest.store_segment"),
    ("RecordingStore.segment (exists?)", "RecordingStore.segment"),
    ("RecordingStore.add_segment", "RecordingStore.add_segment"),
    ("FileBlobStore.put", "FileBlobStore.put"),
    ("pool checkout's pre-ping", "_do_ping_w_event"),
    ("opening database connections", "connect"),
)
ALERT_FOCUS = (
    ("alerts (the route)", "alerts"),
    ("token check (claims_of)", "claims_of"),
    ("AccountStore.access_map", "AccountStore.access_map"),
    ("RecordingStore.events", "RecordingStore.events"),
    ("  of which: row to EventRecord", "_event"),
    ("alert_json", "alert_json"),
    ("pool checkout's pre-ping", "_do_ping_w_event"),
    ("FastAPI serialize_response", "serialize_response"),
    ("JSONResponse.render", "JSONResponse.render"),
)


def summarize_profile(raw: str, focus: tuple[tuple[str, str], ...]) -> list[str]:
    """Self time by layer (the innermost frame's package), inclusive time of `focus`,
    and the hottest innermost frames, from py-spy's raw (collapsed) stacks."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            stacks.append((stack.split(";"), int(samples)))
    total = sum(n for _, n in stacks)
    if not total:
        return ["py-spy recorded no samples."]
    by_layer: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    for frames, count in stacks:
        leaf = frames[-1]
        by_leaf[re.sub(r":\d+\)$", ")", leaf)] += count
        layer = next(
            (name for needle, name in CATEGORIES if needle in leaf),
            "other: " + leaf.split(" (")[0],
        )
        by_layer[layer] += count

    def named(frame: str, name: str) -> bool:
        qualified = frame.split(" (", 1)[0]
        return qualified == name or qualified.endswith("." + name)

    seconds = total / 100
    lines = [
        f"{total} samples at 100 Hz with the GIL held: {seconds:.1f} s of "
        f"{PROFILE_SECONDS - 1:.0f} s.",
        "",
        "Self time by layer:",
    ]
    lines += [f"    {100 * n / total:5.1f} %  {name}" for name, n in by_layer.most_common(10)]
    lines += ["", "Inclusive time:"]
    for label, name in focus:
        n = sum(count for frames, count in stacks if any(named(f, name) for f in frames))
        lines.append(f"    {100 * n / total:5.1f} %  {label}")
    lines += ["", "Hottest innermost frames:"]
    lines += [f"    {100 * n / total:5.1f} %  {name}" for name, n in by_leaf.most_common(12)]
    return lines


# 3. playlists and MP4


@dataclass
class Baseline:
    """ffmpeg's own export of the hour: wall and CPU seconds."""

    wall_s: float
    cpu_s: float
    user_s: float
    system_s: float
    runs: list[float] = field(default_factory=list)  # wall s of every run


def ffmpeg_concat(hour_dir: Path, work: Path) -> tuple[Baseline, float]:
    """`ffmpeg -f concat -safe 0 -i list.txt -c copy out.mp4` over the hour's files:
    its times, and the duration of the MP4 it made."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("no ffmpeg (apt-get install ffmpeg)")
    listing = work / "list.txt"
    listing.write_text(
        "".join(f"file '{hour_dir / f'{n:04d}.ts'}'\n" for n in range(HOUR_SEGMENTS)),
        encoding="utf-8",
    )
    out = work / "ffmpeg-out.mp4"
    runs: list[Baseline] = []
    duration = 0.0
    for _ in range(EXPORT_RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
             "-i", str(listing), "-c", "copy", str(out)],
            check=True, timeout=300,
        )  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        runs.append(Baseline(wall, user + system, user, system))
        duration = probe_duration(out)
        out.unlink()
    best = min(runs, key=lambda run: run.wall_s)
    best.runs = [run.wall_s for run in runs]
    return best, duration


def probe_duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    try:
        return float(done.stdout.strip())
    except ValueError:
        raise RuntimeError(
            f"ffprobe cannot read {path.name}: {done.stderr.strip()[:300]}"
        ) from None


def missing_video_modules() -> list[str]:
    return [name for name in VIDEO_MODULES if importlib.util.find_spec(name) is None]


def bench_video(
    results: Results,
    backend: str,
    srv: Server,
    seeded: Seeded,
    work: Path,
    baseline: Baseline | None,
) -> None:
    missing = missing_video_modules()
    if missing:
        for what in ("GET /alerturl.m3u8 (1800 segments)", "MP4 export buildmp4=1 (1 h)"):
            results.video_row(
                Video(what, backend, f"not measured yet: {', '.join(missing)} missing")
            )
        return
    start_s = seeded.hour_start_ms // 1000
    params: dict[str, str | int] = {
        "uid": str(seeded.hour_device),
        "startt": start_s,
        "endt": start_s + 3600,
        "rom": 1,
        "id": start_s,
        "buildmp4": 0,
    }
    with httpx.Client(base_url=srv.base, timeout=MP4_TIMEOUT_S, trust_env=False) as client:
        login(client, seeded)
        try:
            times: list[float] = []
            for n in range(PLAYLIST_WARMUP + PLAYLIST_TIMED):
                started = time.perf_counter()
                response = client.get("/alerturl.m3u8", params=params)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code} {response.text[:200]}")
                entries = response.text.count("#EXTINF")
                if not response.text.startswith("#EXTM3U") or entries != HOUR_SEGMENTS:
                    raise RuntimeError(
                        f"a playlist of {entries} segments, {HOUR_SEGMENTS} expected"
                    )
                if n >= PLAYLIST_WARMUP:
                    times.append(elapsed)
            row = Latency(f"GET /alerturl.m3u8 ({HOUR_SEGMENTS} segments)", backend, times)
            results.video_row(
                Video(
                    row.what,
                    backend,
                    f"p50 {row.p50:.1f} ms, p99 {row.p99:.1f} ms ({PLAYLIST_TIMED} req)",
                )
            )
        except (RuntimeError, httpx.HTTPError) as err:
            results.video_row(
                Video(f"GET /alerturl.m3u8 ({HOUR_SEGMENTS} segments)", backend, f"failed: {err}")
            )
        out = work / f"camloft-{backend}.mp4"
        try:
            runs: list[tuple[float, float]] = []  # (wall s, server CPU s)
            for _ in range(EXPORT_RUNS):
                cpu_before = proc_cpu(srv.pid)
                started = time.perf_counter()
                size = 0
                with client.stream(
                    "GET", "/alerturl.m3u8", params={**params, "buildmp4": 1}
                ) as answer:
                    if answer.status_code != 200:
                        answer.read()
                        raise RuntimeError(f"{answer.status_code} {answer.text[:200]}")
                    with out.open("wb") as sink:
                        for chunk in answer.iter_bytes(1 << 20):
                            sink.write(chunk)
                            size += len(chunk)
                runs.append((time.perf_counter() - started, proc_cpu(srv.pid) - cpu_before))
                duration = probe_duration(out)
                if abs(duration - 3600) > 5:
                    raise RuntimeError(f"the MP4 lasts {duration:.1f} s, not 3600 s")
                out.unlink()
            seconds, cpu = min(runs)
            rtf = 3600 / seconds
            versus = ""
            if baseline is not None:
                versus = (
                    f"; {rtf * baseline.wall_s / 3600:.2f}x ffmpeg's wall speed, "
                    f"{baseline.cpu_s / cpu:.2f}x its CPU speed"
                )
            every = ", ".join(f"{wall:.1f}" for wall, _ in runs)
            results.video_row(
                Video(
                    "MP4 export buildmp4=1 (1 h)",
                    backend,
                    f"{rtf:.0f}x real time (best of {EXPORT_RUNS}: {every} s wall; "
                    f"{size / 1e6:.0f} MB, {duration:.0f} s of video; server CPU {cpu:.1f} s "
                    f"= {3600 / cpu:.0f}x real time per core{versus})",
                    f">= {RTF_TARGET:.0f}x",
                    rtf >= RTF_TARGET,
                )
            )
        except (RuntimeError, httpx.HTTPError) as err:
            results.video_row(Video("MP4 export buildmp4=1 (1 h)", backend, f"failed: {err}"))
        finally:
            out.unlink(missing_ok=True)


# one backend


def bench_backend(
    results: Results,
    backend: str,
    database: str | None,
    owner_hash: str,
    segment: bytes,
    hour_dir: Path,
    baseline: Baseline | None,
    profile: bool,
) -> None:
    with tempfile.TemporaryDirectory(prefix=f"camloft-bench-logger-{backend}-") as tmp:
        data_dir = Path(tmp)
        if database is None:
            url, pg_dsn = f"sqlite+aiosqlite:///{data_dir / 'camloft.db'}", None
        else:
            url, pg_dsn = PG_URL.format(db=database), PG_DSN.format(db=database)
        seeded = asyncio.run(seed(url, owner_hash, hour_dir, data_dir, pg_dsn))
        print(
            f"{backend}: seeded {OWNERS:,} owners, {DEVICES:,} devices, "
            f"{BIG_EVENTS + OTHER_EVENTS * (DEVICES - 2) + 1:,} events, "
            f"{HOUR_SEGMENTS} segments in {seeded.seconds:.1f} s",
            flush=True,
        )
        results.notes.append(f"{backend}: seeding took {seeded.seconds:.0f} s.")
        asyncio.run(inspect_query(results, backend, url, seeded))
        parts_device = DeviceRef(seeded.owner_uids[0], PARTS_DEVICE_ID)
        parts = asyncio.run(ingest_parts(url, data_dir, parts_device, segment, database))
        results.parts[backend] = parts
        print(
            f"  in-process, per segment: blob write {parts.blob:.2f} ms CPU, "
            f"index {parts.index:.2f} ms CPU",
            flush=True,
        )
        with server(data_dir, url if database else None) as srv:
            waited, cpu = wait_idle(srv.pid)
            results.notes.append(
                f"{backend}: after /healthz answered, the server kept busy {waited:.1f} s "
                f"({cpu:.2f} CPU-s: its first retention pass over {OWNERS:,} owners) "
                "before the timings started."
            )
            bench_alert(results, backend, srv, seeded, profile)
            bench_ingest(results, backend, srv, url, database, seeded, segment, profile, data_dir)
            bench_video(results, backend, srv, seeded, data_dir, baseline)


# report


def machine_info() -> dict[str, str]:
    return machine(
        {
            "SQLite": sqlite3.sqlite_version,
            "PostgreSQL server": postgres_version(),
            "PyAV": av.__version__,
            "ffmpeg": ffmpeg_version(),
        }
    )


def _met(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "**no**")


def markdown(results: Results, info: dict[str, str], started: datetime, seconds: float) -> str:
    lines = [
        SECTION,
        "",
        f"Run: `bench/logger/run.py`, {started:%Y-%m-%d %H:%M} UTC, took {seconds:.0f} s.",
        "Command: `make bench` (runs `.venv/bin/python bench/logger/run.py`).",
        "",
        f"Machine: {machine_text(info)}.",
        "",
        f"Data: {OWNERS:,} owners x {DEVICES_PER_OWNER} devices = {DEVICES:,} devices, "
        f"{OWNERS:,} owner-wide grants; one device with {BIG_EVENTS:,} events (one every "
        f"{EVENT_EVERY_S} s), every other device {OTHER_EVENTS}; events inserted oldest first "
        "across devices, as a logger receives them (SQLite: SQLAlchemy Core executemany in "
        f"chunks of {SEED_CHUNK:,}; PostgreSQL: COPY, then `VACUUM ANALYZE` as autovacuum "
        "would). `camloft serve` runs as a subprocess (log level warning), timings start "
        "once it is idle.",
        "",
        f"### /alert (1,000,000 events; limit {PAGE}; target p99 < {ALERT_TARGET_MS:.0f} ms)",
        "",
        f"One keep-alive httpx client, logged in as the device's owner; {ALERT_WARMUP} warm-up "
        f"rounds, then {ALERT_TIMED} rounds of the four pages in order (offset 0 first, as a "
        "client pages); every answer checked (20 events, the expected ids, newest first).",
        "",
        "| what | backend | p50 | p99 | server CPU per request | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in results.alert + results.store:
        target = "" if row.target_ms is None else f"p99 < {row.target_ms:.0f} ms"
        cpu = "" if row.cpu_ms is None else f"{row.cpu_ms:.2f} ms"
        lines.append(
            f"| {row.what} | {row.backend} | {row.p50:.2f} ms | {row.p99:.2f} ms | {cpu} "
            f"| {target} | {_met(row.met)} |"
        )
    for backend, plan in results.plans.items():
        kind = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
        lines += ["", f"Plan of `RecordingStore.events` on {backend} ({kind}):", "", "```"]
        lines += plan
        lines += ["```"]
    for what, profile in results.profiles.items():
        if what.startswith("/alert"):
            lines += [
                "",
                f"Where the server's time goes for {what} (py-spy --gil, "
                f"{PROFILE_SECONDS - 1:.0f} s of the same pages, one client):",
                "",
                "```",
                *profile,
                "```",
            ]
    lines += [
        "",
        f"### Segment ingest (target >= {STREAMS_TARGET:.0f} camera streams per logger core)",
        "",
        f"One real MPEG-TS segment (2 s, 1280x720 15 fps H.264 + AAC, muxed at a constant "
        f"{BIT_RATE // 1_000_000} Mbit/s: {results.segment_bytes:,} bytes) PUT by {CLIENTS} "
        f"concurrent keep-alive httpx clients, one device each, for {INGEST_SECONDS:.0f} s after "
        f"{INGEST_WARMUP} warm-up uploads each; every answer checked (201 stored), then "
        "every upload found indexed and a stored file compared byte for byte. Server CPU = "
        "user + system of the `camloft serve` process (all threads) from /proc/<pid>/stat; "
        "streams per core = 2 s / CPU seconds per segment.",
        "",
        "| backend | segments | rate | server CPU per segment (user + system) "
        "| PostgreSQL backends' CPU per segment | streams per core | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for ingest in results.ingest:
        n = ingest.segments
        db = "" if ingest.database_s is None else f"{ingest.database_s / n * 1000:.2f} ms"
        mbit = ingest.bytes_sent * 8 / ingest.seconds / 1e6
        lines.append(
            f"| {ingest.backend} | {n:,} in {ingest.seconds:.1f} s "
            f"| {n / ingest.seconds:.0f}/s ({mbit:.0f} Mbit/s) "
            f"| {ingest.cpu_per_segment_ms:.2f} ms ({ingest.user_s / n * 1000:.2f}"
            f" + {ingest.system_s / n * 1000:.2f}) | {db} "
            f"| {ingest.streams_per_core:.0f} | >= {STREAMS_TARGET:.0f} | {_met(ingest.met)} |"
        )
    if results.parts:
        lines += [
            "",
            f"Where a segment's CPU goes: the two stores `Ingest.store_segment` calls, called "
            f"{PART_CALLS} times in the benchmark's own process on the same data dir and database "
            "(CPU from os.times(), user + system); the rest of the server's CPU per segment is "
            "HTTP, the framework and the event loop.",
            "",
            "| backend | `FileBlobStore.put` (write, fsync, rename) | `RecordingStore.segment` + "
            "`add_segment` | PostgreSQL backends for those | rest of the server's CPU |",
            "|---|---:|---:|---:|---:|",
        ]
        served = {row.backend: row.cpu_per_segment_ms for row in results.ingest}
        for backend, parts in results.parts.items():
            db = "" if parts.index_database is None else f"{parts.index_database:.2f} ms"
            rest = (
                f"{served[backend] - parts.blob - parts.index:.2f} ms" if backend in served else ""
            )
            lines.append(
                f"| {backend} | {parts.blob:.2f} ms ({parts.blob_user:.2f} + "
                f"{parts.blob_system:.2f}) | {parts.index:.2f} ms ({parts.index_user:.2f} + "
                f"{parts.index_system:.2f}) | {db} | {rest} |"
            )
    for what, profile in results.profiles.items():
        if not what.startswith("ingest"):
            continue
        lines += [
            "",
            f"Where the server's time goes during {what} (py-spy --gil, "
            f"{PROFILE_SECONDS - 1:.0f} s of the same load):",
            "",
            "```",
            *profile,
            "```",
        ]
    lines += [
        "",
        f"### Event playlist and MP4 export (one hour: {HOUR_SEGMENTS} segments of 2 s; "
        f"target >= {RTF_TARGET:.0f}x real time)",
        "",
        "The hour's segments carry continuous timestamps (one PyAV-made segment, re-muxed "
        "1800 times with its timestamps moved on); the server reads them as hard links in its "
        "blob store. The MP4 is downloaded whole and its duration checked with ffprobe; "
        "real-time factor = 3600 s / wall seconds of the download; each export runs "
        f"{EXPORT_RUNS} times and the fastest counts (on a shared machine, other work only "
        "slows a run down). Server CPU: the `camloft serve` process during the download.",
        "",
        "| what | backend | result | target | met |",
        "|---|---|---|---|---|",
    ]
    for video in results.video:
        lines.append(
            f"| {video.what} | {video.backend} | {video.result} | {video.target} "
            f"| {_met(video.met)} |"
        )
    verdicts = [
        *((f"/alert p99 ({r.what}) on {r.backend}", r.met) for r in results.alert),
        *((f"ingest on {r.backend}", r.met) for r in results.ingest),
        *((f"{v.what} on {v.backend}", v.met) for v in results.video),
    ]
    missed = [what for what, met in verdicts if met is False]
    unmeasured = [v for v in results.video if v.met is None and v.target == ""]
    lines += ["", *results.notes, ""]
    lines.append(
        "Targets missed: " + "; ".join(missed) + "." if missed else "All measured targets met."
    )
    if any(v.what.startswith("MP4") and v.met is None for v in unmeasured):
        lines.append("The MP4 export target is not measured yet (see its rows).")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument(
        "--profile", action="store_true", help="profile ingest with py-spy even when it is fast"
    )
    args = parser.parse_args()
    abort_on_signals()

    started = datetime.now(UTC)
    clock = time.perf_counter()
    info = machine_info()
    print(f"machine: {machine_text(info)}", flush=True)
    results = Results()
    owner_hash = Passwords().hash(OWNER_PASSWORD)
    segment = make_segment()
    results.segment_bytes = len(segment)
    print(f"segment: {len(segment):,} bytes of MPEG-TS", flush=True)
    with tempfile.TemporaryDirectory(prefix="camloft-bench-logger-hour-") as tmp:
        work = Path(tmp)
        hour_dir = work / "hour"
        hour_dir.mkdir()
        make_hour(segment, hour_dir)
        baseline: Baseline | None = None
        try:
            baseline, ffmpeg_duration = ffmpeg_concat(hour_dir, work)
            results.video_row(
                Video(
                    "ffmpeg -f concat -c copy out.mp4 (1 h)",
                    "-",
                    f"{3600 / baseline.wall_s:.0f}x real time (best of {EXPORT_RUNS}: "
                    + ", ".join(f"{wall:.1f}" for wall in baseline.runs)
                    + f" s wall; {ffmpeg_duration:.0f} s of video; CPU {baseline.cpu_s:.1f} s "
                    f"(user {baseline.user_s:.1f} + system {baseline.system_s:.1f}) = "
                    f"{3600 / baseline.cpu_s:.0f}x real time per core)",
                )
            )
        except (RuntimeError, subprocess.SubprocessError, OSError) as err:
            results.video_row(
                Video("ffmpeg -f concat -c copy out.mp4 (1 h)", "-", f"failed: {err}")
            )
        bench_backend(
            results, "sqlite", None, owner_hash, segment, hour_dir, baseline, args.profile
        )
        if args.no_postgres:
            results.notes.append("PostgreSQL was skipped (`--no-postgres`).")
        else:
            with pg_database() as database:
                bench_backend(
                    results,
                    "postgresql",
                    database,
                    owner_hash,
                    segment,
                    hour_dir,
                    baseline,
                    args.profile,
                )

    seconds = time.perf_counter() - clock
    section = markdown(results, info, started, seconds)
    print()
    print(section)
    if not args.no_write:
        write_results(section)
    return 0


if __name__ == "__main__":
    run_benchmark(main, "bench/logger: {stop}; servers stopped and databases dropped")
