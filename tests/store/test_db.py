"""Migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from camloft.store.db import MIGRATIONS, create_engine, migrate, only_one
from camloft.store.tables import Base

pytestmark = pytest.mark.anyio


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrations_match_the_models_and_rerun_cleanly(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        await migrate(engine)  # a restart migrates again: nothing to do, no error
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            assert version == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/wal.db")
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()


async def test_only_one_process_runs_a_job_at_a_time(database_url: str) -> None:
    """Two engines stand for two processes of a fleet (PostgreSQL); SQLite serves one."""
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        async with only_one(first, "retention") as mine:
            assert mine
            async with only_one(second, "retention") as theirs:
                assert theirs is database_url.startswith("sqlite")
            async with only_one(second, "another job") as other:
                assert other
        async with only_one(second, "retention") as now_theirs:
            assert now_theirs  # released at the end of the block
    finally:
        await first.dispose()
        await second.dispose()
