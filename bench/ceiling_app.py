"""The ceiling of the stack: a minimal endpoint that inserts one row per request.

FastAPI, async SQLAlchemy with the same driver and engine settings as the service (api.db.make_engine:
the same pool, and on SQLite the same WAL and BEGIN IMMEDIATE), served by bench/diary_write.py with the
same uvicorn options. What a diary batch costs beyond this is the service's own work.

    uvicorn bench.ceiling_app:create_app --factory   # with BLOCKTRACK_DATABASE_URL set
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid, func, insert

from api.db import make_engine
from api.settings import get_settings

metadata = MetaData()
bench_row = Table(
    "bench_ceiling_row",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("score", Integer, nullable=False),
    Column("note", String(200)),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)


class RowIn(BaseModel):
    score: int
    note: str | None = None


def create_app() -> FastAPI:
    engine = make_engine(get_settings().async_database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/rows", status_code=201)
    async def add_row(row: RowIn) -> dict[str, Any]:
        row_id = uuid.uuid4()
        async with engine.begin() as connection:
            await connection.execute(insert(bench_row).values(id=row_id, **row.model_dump()))
        return {"id": str(row_id)}

    return app
