"""Database engines and schema migrations (Alembic, run at start)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Sized for many adapters uploading at once: a smaller pool made PostgreSQL open and
    # close a connection every few segments (bench/logger measured it).
    return create_async_engine(url, pool_size=32, max_overflow=32, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


MIGRATION_LOCK = 0x63616D6C6F6674  # "camloft": the advisory lock every process migrates under


@asynccontextmanager
async def only_one(engine: AsyncEngine, job: str) -> AsyncIterator[bool]:
    """Whether this process may run `job` now, and no other of the fleet meanwhile.

    On PostgreSQL a session advisory lock named after the job, held until the
    block ends (or the connection dies with the process); answers False at once
    when another process holds it. SQLite serves one machine: always True.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.sha256(f"camloft:{job}".encode()).digest()[:8], "big", signed=True)
    async with engine.connect() as connection:
        mine = bool(await connection.scalar(text(f"SELECT pg_try_advisory_lock({key})")))
        try:
            yield mine
        finally:
            if mine:
                await connection.execute(text(f"SELECT pg_advisory_unlock({key})"))


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration.

    On PostgreSQL the processes of a fleet that start together take turns
    (a transaction-scoped advisory lock), so only the first one migrates.
    """
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        await connection.run_sync(_upgrade)
