"""Throwaway test databases: a temporary SQLite file, or a fresh PostgreSQL database dropped afterwards."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from api.settings import async_url

SERVER_URL = os.environ.get("BLOCKTRACK_TEST_DATABASE_URL")


async def _admin(server_url: str, statement: str) -> None:
    engine = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def throwaway_database(tmp_dir: Path) -> Iterator[str]:
    """Yield the plain URL of an empty database that is removed on exit."""
    if not SERVER_URL:
        yield f"sqlite:///{tmp_dir / f'blocktrack-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"blocktrack_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(SERVER_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(SERVER_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
