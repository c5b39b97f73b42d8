"""Servers for the client tests: SQLite only (the client does not care which database).

`demo`: `camloft serve --demo` with its three synthetic cameras recording, and a
realtime stream that the server closes every 4 s (so reconnects happen).
`short_tokens`: the demo accounts without cameras, tokens living 5 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from camloft.client import Client, Event, NotFoundError
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Deployment
from tests.support import Server, camloft_env, new_secret, run_cli

T = TypeVar("T")
REALTIME_MAX_SECONDS = 4
TOKEN_TTL_SECONDS = 5


def start_demo(data_dir: Path, **settings: str) -> Deployment:
    """`camloft serve --demo`, then a server admin: the demo owner is uid 1 as in `make run`
    (so the docs' `1.1` is the Front Door here too)."""
    secret = new_secret()
    env = camloft_env(secret, f"sqlite+aiosqlite:///{data_dir / 'camloft.db'}", **settings)
    server = Server(data_dir, env, ["--demo"]).start()
    added = run_cli(
        [
            "admin",
            "--data-dir",
            str(data_dir),
            "user",
            "add",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
            "--admin",
        ],
        env,
    )
    if added.returncode != 0:
        server.stop()
        raise RuntimeError(added.stderr)
    return Deployment(server, secret)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployed = start_demo(
        tmp_path_factory.mktemp("client-demo"),
        demo_cameras="true",
        realtime_max_seconds=str(REALTIME_MAX_SECONDS),
    )
    yield deployed
    deployed.server.stop()


@pytest.fixture(scope="session")
def short_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployed = start_demo(
        tmp_path_factory.mktemp("client-short"),
        demo_cameras="false",
        token_ttl_seconds=str(TOKEN_TTL_SECONDS),
    )
    yield deployed
    deployed.server.stop()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments and CLI logins of each test under its own tmp dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def wait_for(check: Callable[[], T | None], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {seconds} s")


def event_with_video(
    client: Client, uidd: str, *, age_s: float = 6.0, seconds: float = 90.0
) -> Event:
    """The newest event of `uidd` at least `age_s` old whose playlist already has video."""

    def ready() -> Event | None:
        events = client.events(uidd, limit=5)
        if not events or time.time() * 1000 - events[0].startt < age_s * 1000:
            return None
        try:
            client.playlist(uidd, events[0].id)
        except NotFoundError:
            return None
        return events[0]

    return wait_for(ready, seconds, f"recorded event of {uidd}")
