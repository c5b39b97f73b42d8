"""Fixtures: a database per backend, and real servers on free ports.

Every test that talks to a server runs once on SQLite and once on PostgreSQL
(127.0.0.1:5432, which `.ci/run` starts if it is down).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.s3 import MotoServer, moto_server
from tests.support import Server, auth_header, camloft_env, login, new_secret, run_cli

PG_ADMIN_DSN = "postgresql://root@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "root-password"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _pg(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_database_url(backend: str, data_dir: Path) -> tuple[str, str | None]:
    """A fresh database: (SQLAlchemy URL, the PostgreSQL database to drop afterwards)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{data_dir / 'camloft.db'}", None
    name = f"camloft_test_{secrets.token_hex(6)}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    return f"postgresql+asyncpg://root@127.0.0.1:5432/{name}", name


def drop_database(name: str | None) -> None:
    if name is not None:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url, name = make_database_url(backend, tmp_path)
    yield url
    drop_database(name)


@dataclass
class Deployment:
    """A running demo server, with a server admin to create what each test needs."""

    server: Server
    secret: str
    _admin_token: str = ""
    _admin_since: float = 0.0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin_token(self) -> str:
        """Logs in again before the 20 minutes of a token run out in a long session."""
        if not self._admin_token or time.monotonic() - self._admin_since > 600:
            self._admin_token = login(self.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            self._admin_since = time.monotonic()
        return self._admin_token

    def new_user(self, password: str = "pw-12345", **fields: object) -> dict[str, object]:
        email = f"u{uuid.uuid4().hex[:12]}@example.com"
        response = httpx.post(
            f"{self.url}/admin/users", headers=auth_header(self.admin_token),
            json={"email": email, "password": password, **fields},
        )
        response.raise_for_status()
        user: dict[str, object] = response.json()["result"]
        return user

    def new_device(self, owner_email: str, name: str = "Camera") -> str:
        response = httpx.post(
            f"{self.url}/admin/devices", headers=auth_header(self.admin_token),
            json={"owner": owner_email, "name": name},
        )
        response.raise_for_status()
        uidd: str = response.json()["result"]["uidd"]
        return uidd


def fleet_env(data_dir: Path, database_url: str, *, admin_region: str | None = None,
              **settings: str) -> dict[str, str]:
    """What every process of a test fleet shares: a secret, one database, the Redis bus
    (127.0.0.1:6379) under a prefix of its own, heartbeats every second (dead after 4 s),
    and `settings`; the server admin is added to the database."""
    env = camloft_env(
        new_secret(),
        database_url,
        **({"bus_url": "redis://127.0.0.1:6379/0",
            "bus_prefix": f"camloft-test-{secrets.token_hex(4)}:",
            "heartbeat_seconds": "1", "heartbeat_timeout_seconds": "4"} | settings),
    )
    region = ["--region", admin_region] if admin_region else []
    added = run_cli(["admin", "--data-dir", str(data_dir), "user", "add", ADMIN_EMAIL,
                     "--password", ADMIN_PASSWORD, "--admin", *region], env)
    assert added.returncode == 0, added.stderr
    return env


def start_deployment(
    backend: str, data_dir: Path, *, args: tuple[str, ...] = ("--demo",), **settings: str
) -> tuple[Deployment, str | None]:
    url, db_name = make_database_url(backend, data_dir)
    secret = new_secret()
    # The demo's in-process cameras would load the machine under every other test.
    env = camloft_env(secret, url, **({"demo_cameras": "false"} | settings))
    added = run_cli(["admin", "--data-dir", str(data_dir), "user", "add", ADMIN_EMAIL,
                     "--password", ADMIN_PASSWORD, "--admin"], env)
    assert added.returncode == 0, added.stderr
    server = Server(data_dir, env, list(args)).start()
    return Deployment(server, secret), db_name


@pytest.fixture(scope="session")
def deployment(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One demo server per backend for the whole session."""
    deployed, db_name = start_deployment(backend, tmp_path_factory.mktemp(f"camloft-{backend}"))
    yield deployed
    deployed.server.stop()
    drop_database(db_name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's S3 API server on loopback (tests/s3.py), for the whole session."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server
