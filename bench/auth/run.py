"""Benchmark of the authenticator's hot paths.

Measures, on this machine:

1. `camloft.tokens.verify_token` (and `issue_token`, for reference): µs per call,
   the median of several `timeit` runs of 100,000 calls. Target: verify < 20 µs.
2. `GET /devices` and `GET /devices/viewerInfo` (no `uidd`: every visible device)
   for a viewer granted owner-wide read on 500 owners with 10 devices each
   (5,000 devices), and `GET /devices/viewerInfo` naming 50 devices of 50 owners
   with `uidd=`. The real server runs as a subprocess (`camloft serve`), once on
   SQLite and once on a fresh PostgreSQL database; one keep-alive httpx client
   sends warm-up requests, then timed ones; medians and p95 are reported, and
   every answer's content is checked. Target: `/devices` median < 100 ms.
   For context, the same run times `GET /healthz` (the framework's floor) and
   `json.dumps` of the `/devices` and `viewerInfo` bodies as Starlette renders them.

Prints a table and writes the section "## bench/auth" of bench/RESULTS.md.
Run it with `make bench` (`.venv/bin/python bench/auth/run.py`). Servers are
killed and the PostgreSQL database is dropped even when a step fails.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

import httpx
from sqlalchemy import insert, select

from camloft.access import Grant, Right
from camloft.auth.passwords import Passwords
from camloft.store.accounts import AccountStore
from camloft.store.db import create_engine, migrate
from camloft.store.tables import DeviceRow, UserRow
from camloft.tokens import issue_token, verify_token
from common import (
    PG_URL,
    Children,
    abort_on_signals,
    base_env,
    device_row,
    machine,
    machine_text,
    pg_database,
    postgres_version,
    run_benchmark,
    start_serve,
    user_row,
    write_results,
)

SECTION = "## bench/auth"

OWNERS = 500
DEVICES_PER_OWNER = 10
DEVICES = OWNERS * DEVICES_PER_OWNER
ASKED_UIDDS = 50
VIEWER_EMAIL = "viewer@bench.camloft.test"
VIEWER_PASSWORD = "bench-viewer-password"

TOKEN_CALLS = 100_000
TOKEN_RUNS = 5
WARMUP = 5
TIMED = 30
HEALTHZ_TIMED = 200
DUMPS_RUNS = 7

VERIFY_TARGET_US = 20.0
DEVICES_TARGET_MS = 100.0


@dataclass
class Row:
    """One line of the results table."""

    what: str
    backend: str
    median: float
    p95: float | None
    unit: str
    target: str = ""
    met: bool | None = None


@dataclass
class Run:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        p95 = "" if row.p95 is None else f"  p95 {row.p95:8.2f}"
        verdict = "" if row.met is None else ("  met" if row.met else "  MISSED")
        print(
            f"  {row.what:<50} {row.backend:<10} median {row.median:8.2f} {row.unit}{p95}{verdict}",
            flush=True,
        )


# helpers


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def starlette_dumps(body: Any) -> bytes:
    """What `JSONResponse.render` does to a body."""
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


# 1. tokens


def bench_tokens(run: Run) -> None:
    print("tokens", flush=True)
    secret = secrets.token_urlsafe(36).encode("ascii")
    token = issue_token(secret, 123456, region="local")
    assert verify_token(secret, token).uid == 123456
    scope = {"verify_token": verify_token, "issue_token": issue_token, "secret": secret}
    scope["token"] = token
    for name, stmt, target in (
        ("verify_token", "verify_token(secret, token)", VERIFY_TARGET_US),
        ("issue_token", 'issue_token(secret, 123456, region="local")', None),
    ):
        times = timeit.repeat(stmt, globals=scope, number=TOKEN_CALLS, repeat=TOKEN_RUNS)
        per_call = [t / TOKEN_CALLS * 1e6 for t in times]
        median = statistics.median(per_call)
        run.add(
            Row(
                f"{name} ({TOKEN_RUNS} runs x {TOKEN_CALLS:,})",
                "-",
                median,
                None,
                "µs",
                f"< {target:.0f} µs" if target else "",
                None if target is None else median < target,
            )
        )


# 2. seeding


@dataclass
class Seeded:
    viewer_uid: int
    owner_uids: list[int]
    seconds: float


async def seed(url: str, viewer_hash: str) -> Seeded:
    """Viewer (real argon2 hash), 500 owners x 10 devices in bulk, grants via the store."""
    started = time.perf_counter()
    engine = create_engine(url)
    try:
        await migrate(engine)
        now_ms = int(time.time() * 1000)

        def user(email: str, password_hash: str, alias: str) -> dict[str, Any]:
            return user_row(email, password_hash, alias, max_age_days=30, now_ms=now_ms)

        async with engine.begin() as conn:
            await conn.execute(insert(UserRow), [user(VIEWER_EMAIL, viewer_hash, "Viewer")])
            await conn.execute(
                insert(UserRow),
                [
                    user(f"owner{n:04d}@bench.camloft.test", "not-a-real-hash", f"Owner {n}")
                    for n in range(OWNERS)
                ],
            )
            rows = (await conn.execute(select(UserRow.uid, UserRow.email))).all()
            uid_of = {email: uid for uid, email in rows}
            viewer_uid = uid_of[VIEWER_EMAIL]
            owner_uids = sorted(uid for email, uid in uid_of.items() if email != VIEWER_EMAIL)
            await conn.execute(
                insert(DeviceRow),
                [
                    device_row(
                        owner,
                        device,
                        hashlib.sha256(f"{owner}.{device}".encode()).hexdigest(),
                        now_ms=now_ms,
                    )
                    for owner in owner_uids
                    for device in range(1, DEVICES_PER_OWNER + 1)
                ],
            )
        store = AccountStore(engine)
        for owner in owner_uids:
            await store.put_grant(Grant(viewer_uid, owner, None, Right.READ))
        assert len(await store.grants_of_viewer(viewer_uid)) == OWNERS
    finally:
        await engine.dispose()
    return Seeded(viewer_uid, owner_uids, time.perf_counter() - started)


# the server


@contextmanager
def server(data_dir: Path, database_url: str | None) -> Iterator[str]:
    """`camloft serve` in a subprocess; yields its base URL; always killed."""
    # The caller's proxy variables and Python's buffered output, as this benchmark always ran.
    env = base_env(drop_proxies=False, unbuffered=False)
    if database_url is not None:
        env["CAMLOFT_DATABASE_URL"] = database_url
    children = Children()
    try:
        _process, base = start_serve(children, data_dir, env)
        yield base
    finally:
        children.stop_all()


# 2. HTTP


def timed_get(
    client: httpx.Client,
    path: str,
    params: httpx.QueryParams | None,
    check: Callable[[httpx.Response], Any],
    timed: int,
) -> tuple[list[float], Any]:
    """Warm up, then time `timed` GETs (ms, body received); every answer is checked."""
    body: Any = None
    for _ in range(WARMUP):
        body = check(client.get(path, params=params))
    times: list[float] = []
    for _ in range(timed):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        body = check(response)
    return times, body


def _json(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")
    return response.json()


def check_grouped(
    expected: set[str], *, details: bool
) -> Callable[[httpx.Response], dict[str, Any]]:
    def check(response: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = _json(response)
        if body.get("errors"):
            raise RuntimeError(f"unexpected errors: {body['errors'][:3]}")
        seen: set[str] = set()
        for uid, group in body["result"].items():
            for device_id, device in group["devices"].items():
                uidd = f"{uid}.{device_id}"
                if device["uidd"] != uidd or device["permissions"] != ["r"]:
                    raise RuntimeError(f"wrong device entry {device}")
                if details and device["streamname"] != f"{uidd}_bench-nr":
                    raise RuntimeError(f"wrong details {device}")
                seen.add(uidd)
            if not group["alias"].startswith("Owner "):
                raise RuntimeError(f"wrong alias {group['alias']!r}")
        if seen != expected:
            raise RuntimeError(f"{len(seen)} devices answered, {len(expected)} expected")
        return body

    return check


def check_healthz(response: httpx.Response) -> Any:
    body = _json(response)
    if body.get("status") != "ok":
        raise RuntimeError(f"healthz answered {body}")
    return body


def bench_http(run: Run, backend: str, base: str, seeded: Seeded) -> None:
    everything = {
        f"{owner}.{device}"
        for owner in seeded.owner_uids
        for device in range(1, DEVICES_PER_OWNER + 1)
    }
    # 50 devices of 50 different owners: one uidd per owner, spread over all of them.
    step = OWNERS // ASKED_UIDDS
    asked = [
        f"{seeded.owner_uids[i * step]}.{i % DEVICES_PER_OWNER + 1}" for i in range(ASKED_UIDDS)
    ]
    with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
        login = _json(
            client.get("/login", params={"email": VIEWER_EMAIL, "password": VIEWER_PASSWORD})
        )
        if login["result"]["uid"] != seeded.viewer_uid:
            raise RuntimeError(f"logged in as the wrong user: {login['result']['uid']}")
        client.headers["Authorization"] = f"ManythingToken {login['result']['authToken']}"

        times, _ = timed_get(client, "/healthz", None, check_healthz, HEALTHZ_TIMED)
        run.add(
            Row(
                f"GET /healthz (floor, {HEALTHZ_TIMED} req)",
                backend,
                statistics.median(times),
                p95(times),
                "ms",
            )
        )
        cases: list[tuple[str, str, httpx.QueryParams | None, set[str], bool]] = [
            (f"GET /devices ({DEVICES:,} devices)", "/devices", None, everything, False),
            (
                f"GET /devices/viewerInfo ({DEVICES:,} devices)",
                "/devices/viewerInfo",
                None,
                everything,
                True,
            ),
            (
                f"GET /devices/viewerInfo ({ASKED_UIDDS} uidd=)",
                "/devices/viewerInfo",
                httpx.QueryParams([("uidd", uidd) for uidd in asked]),
                set(asked),
                True,
            ),
        ]
        for label, path, params, expected, details in cases:
            check = check_grouped(expected, details=details)
            times, body = timed_get(client, path, params, check, TIMED)
            is_devices = path == "/devices"
            median = statistics.median(times)
            run.add(
                Row(
                    f"{label} ({TIMED} req)",
                    backend,
                    median,
                    p95(times),
                    "ms",
                    f"< {DEVICES_TARGET_MS:.0f} ms" if is_devices else "",
                    median < DEVICES_TARGET_MS if is_devices else None,
                )
            )
            if params is None:
                size = len(starlette_dumps(body))
                dumps = timeit.repeat(
                    functools.partial(starlette_dumps, body), number=1, repeat=DUMPS_RUNS
                )
                run.add(
                    Row(
                        f"  json.dumps of that body ({size / 1024:.0f} KiB)",
                        backend,
                        statistics.median(dumps) * 1000,
                        None,
                        "ms",
                    )
                )


def bench_backend(run: Run, backend: str, database_url: str | None, viewer_hash: str) -> None:
    with tempfile.TemporaryDirectory(prefix=f"camloft-bench-{backend}-") as tmp:
        data_dir = Path(tmp)
        url = database_url or f"sqlite+aiosqlite:///{data_dir / 'camloft.db'}"
        seeded = asyncio.run(seed(url, viewer_hash))
        print(
            f"{backend}: seeded {OWNERS} owners, {DEVICES:,} devices, {OWNERS} grants "
            f"in {seeded.seconds:.1f} s",
            flush=True,
        )
        with server(data_dir, database_url) as base:
            bench_http(run, backend, base, seeded)


# 3. report


def markdown(run: Run, info: dict[str, str], started: datetime, seconds: float) -> str:
    lines = [
        SECTION,
        "",
        f"Run: `bench/auth/run.py`, {started:%Y-%m-%d %H:%M} UTC, took {seconds:.0f} s.",
        "Command: `make bench` (runs `.venv/bin/python bench/auth/run.py`).",
        "",
        f"Machine: {machine_text(info)}.",
        "",
        f"Data: one viewer with owner-wide read grants on {OWNERS} owners x "
        f"{DEVICES_PER_OWNER} devices = {DEVICES:,} devices; `camloft serve` as a "
        f"subprocess, one keep-alive httpx client, {WARMUP} warm-up then {TIMED} timed "
        f"requests (healthz: {HEALTHZ_TIMED}); the `uidd=` case names {ASKED_UIDDS} devices "
        f"of {ASKED_UIDDS} different owners. Token timings: median of {TOKEN_RUNS} runs of "
        f"{TOKEN_CALLS:,} calls.",
        "",
        "| what | backend | median | p95 | target | met |",
        "|---|---|---:|---:|---|---|",
    ]
    for row in run.rows:
        p95_text = "" if row.p95 is None else f"{row.p95:.2f} {row.unit}"
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.what.strip()} | {row.backend} | {row.median:.2f} {row.unit} | {p95_text} "
            f"| {row.target} | {met} |"
        )
    if run.notes:
        lines += ["", *run.notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    abort_on_signals()

    started = datetime.now(UTC)
    clock = time.perf_counter()
    info = machine({"SQLite": sqlite3.sqlite_version, "PostgreSQL server": postgres_version()})
    print(f"machine: {machine_text(info)}", flush=True)
    run = Run()
    bench_tokens(run)
    viewer_hash = Passwords().hash(VIEWER_PASSWORD)
    bench_backend(run, "sqlite", None, viewer_hash)
    if args.no_postgres:
        run.notes.append("PostgreSQL was skipped (`--no-postgres`).")
    else:
        with pg_database() as database:
            bench_backend(run, "postgresql", PG_URL.format(db=database), viewer_hash)

    missed = [row for row in run.rows if row.met is False]
    run.notes.append(
        "All targets met."
        if not missed
        else "Targets missed: " + "; ".join(f"{r.what.strip()} on {r.backend}" for r in missed)
    )
    seconds = time.perf_counter() - clock
    section = markdown(run, info, started, seconds)
    print()
    print(section)
    if not args.no_write:
        write_results(section)
    return 0


if __name__ == "__main__":
    run_benchmark(main, "bench/auth: {stop}; servers stopped and databases dropped")
