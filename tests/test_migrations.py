"""Migrations: upgrade, downgrade to base, upgrade again; models and migrations agree (`alembic check`)."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from api.db import make_engine
from api.migrate import downgrade, head_revision, upgrade
from api.settings import async_url
from models import Base
from tests.databases import throwaway_database


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    with throwaway_database(tmp_path) as url:
        yield url


def _inspect(url: str, probe: Any) -> Any:
    """Run `probe(sync_connection)` on its own engine (asyncio.run: the migrations run their own loop)."""

    async def _go() -> Any:
        engine = make_engine(async_url(url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(probe)
        finally:
            await engine.dispose()

    return asyncio.run(_go())


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _differences(connection: Connection) -> list[Any]:
    # The same comparison `alembic check` makes, with the options migrations/env.py uses.
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _upgrade(url: str) -> None:
    # Alembic's env runs asyncio.run() itself, so it cannot be called from inside the test's event loop.
    upgrade(url)


def test_upgrade_head_creates_every_model_table(fresh_url: str) -> None:
    _upgrade(fresh_url)
    assert _inspect(fresh_url, _tables) == set(Base.metadata.tables)
    assert _inspect(fresh_url, _revision) == head_revision()


def test_downgrade_base_drops_every_table_then_upgrade_again(fresh_url: str) -> None:
    _upgrade(fresh_url)
    downgrade(fresh_url, "base")
    assert _inspect(fresh_url, _tables) == set()
    assert _inspect(fresh_url, _revision) is None
    _upgrade(fresh_url)
    assert _inspect(fresh_url, _tables) == set(Base.metadata.tables)
    assert _inspect(fresh_url, _revision) == head_revision()


def test_check_models_and_migrations_agree(fresh_url: str) -> None:
    _upgrade(fresh_url)
    assert _inspect(fresh_url, _differences) == []
