"""The e7c1d2e3f4a5 migration carries data forward: duplicate active readings voided with their history (their
clinic re-evaluated later), MRNs normalised unless that would merge two patients, in-flight idempotency
records held as possibly applied."""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.migrate import MIGRATIONS_DIR, downgrade, upgrade
from api.services.clinics import create_clinic
from api.settings import Settings, async_url
from models import Clinic, Patient, Reading, ReadingVersion
from tests.api.records import block_body, diary
from tests.databases import throwaway_database

REVISION = "e7c1d2e3f4a5"


def _before() -> str:
    down = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


async def _records(url: str) -> dict[str, Any]:
    """A clinic, a patient with MRN M-1 and a block with a diary, through the API (at head)."""
    engine = make_engine(Settings(database_url=url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            clinic, _key, token = await create_clinic(session, "Migrating Clinic")
        app = create_app(Settings(database_url=url, run_deliverer=False), engine=engine)
        headers = {"Authorization": f"Bearer {token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
            patient = (await client.post("/v1/patients", json={"mrn": "M-1"})).json()
            block = (await client.post(f"/v1/patients/{patient['id']}/blocks", json=block_body())).json()
            diary_answer = await client.post(f"/v1/blocks/{block['id']}/readings", json={"readings": diary()})
        return {"clinic_id": clinic.id, "reading": diary_answer.json()["readings"][0]}
    finally:
        await engine.dispose()


async def _seed_old_data(url: str, made: dict[str, Any]) -> Any:
    """What the earlier schema allowed: a second active reading at one instant, MRNs with invisibles."""
    engine = make_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            row = (
                await connection.execute(
                    sa.select(Reading).where(Reading.id == uuid.UUID(made["reading"]["id"]))
                )
            ).one()
            copy = dict(row._mapping) | {
                "id": uuid.uuid4(),
                "score": 3,
                "created_at": row.created_at + timedelta(seconds=1),
            }
            await connection.execute(sa.insert(Reading), copy)
            clinic_id = made["clinic_id"]
            for mrn in ("\u200bM-1", "M-e\u0301\ufeff"):  # collides with M-1; becomes M-é
                patient = {"id": uuid.uuid4(), "clinic_id": clinic_id, "mrn": mrn}
                await connection.execute(sa.insert(Patient), patient)
            return copy["id"]
    finally:
        await engine.dispose()


async def _after(url: str, duplicate_id: Any) -> dict[str, Any]:
    engine = make_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            status = (
                await connection.execute(
                    sa.select(Reading.status, Reading.version).where(Reading.id == duplicate_id)
                )
            ).one()
            history = (
                await connection.execute(
                    sa.select(ReadingVersion.status, ReadingVersion.reason).where(
                        ReadingVersion.reading_id == duplicate_id
                    )
                )
            ).all()
            mrns = sorted((await connection.execute(sa.select(Patient.mrn))).scalars().all())
            rules = (await connection.execute(sa.select(Clinic.rules_version))).scalars().all()
        return {"status": tuple(status), "history": [tuple(h) for h in history], "mrns": mrns, "rules": rules}
    finally:
        await engine.dispose()


def test_upgrade_reading_uniqueness_voids_duplicates_normalises_mrns(tmp_path: Path) -> None:
    with throwaway_database(tmp_path) as url:
        upgrade(url)
        made = asyncio.run(_records(url))
        downgrade(url, _before())
        duplicate_id = asyncio.run(_seed_old_data(url, made))

        upgrade(url)
        after = asyncio.run(_after(url, duplicate_id))
        downgrade(url, _before())  # and back down again
        upgrade(url)

    assert after["status"] == ("entered_in_error", 2)
    assert [h[0] for h in after["history"]] == ["entered_in_error"]
    assert "e7c1d2e3f4a5" in after["history"][0][1]
    assert after["mrns"] == sorted(["M-1", "\u200bM-1", "M-\u00e9"])  # the collision is left as stored
    assert after["rules"] == [1]  # re-evaluated by `blocktrack migrate` / serve without the duplicate
