"""`blocktrack serve`: the server's own processes claim and finish a policy job (api/app.py lifespan), two
of them on PostgreSQL, one on SQLite."""

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from tests.databases import SERVER_URL, throwaway_database
from tests.webhooks.processes import running_server
from tests.webhooks.receiver import free_port

PATIENTS = 3
DIARY = [{"phase": "pre", "minutes_after_block": 0, "score": 10}] + [
    {"phase": "post", "minutes_after_block": m, "score": s} for m, s in ((15, 4), (30, 3), (60, 3))
]


async def _new_clinic(database_url: str) -> str:
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return (await create_clinic(session, "Jobs Server Clinic"))[2]
    finally:
        await engine.dispose()


def _moderate_patient(api: httpx.Client, n: int) -> str:
    """Two lidocaine blocks of 60-70% relief: not indicated under medicare, a referral under consensus."""
    patient = api.post("/v1/patients", json={"mrn": f"JS-{n}"}).json()
    for day in (5, 12):
        block = api.post(
            f"/v1/patients/{patient['id']}/blocks",
            json={
                "performed_at": f"2026-10-{day:02d}T09:00:00+00:00",
                "agent": "lidocaine",
                "targets": [{"joint": "L4-L5", "side": "left"}],
            },
        ).json()
        answer = api.post(f"/v1/blocks/{block['id']}/readings", json={"readings": DIARY})
        assert answer.status_code == 201, answer.text
    return str(patient["id"])


def _finished(api: httpx.Client, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = dict(api.get(location).json())
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the job at {location} did not finish")


def test_serve_workers_finish_an_async_policy_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOCKTRACK_JOB_POLL_SECONDS", "0.1")
    monkeypatch.setenv("BLOCKTRACK_JOB_BATCH_PATIENTS", "1")
    workers = "2" if SERVER_URL else "1"
    with throwaway_database(tmp_path) as database_url, open(tmp_path / "server.log", "wb") as log:
        upgrade(database_url)
        token = asyncio.run(_new_clinic(database_url))
        port = free_port()
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as api,
            running_server(database_url, port, log, "--workers", workers),
        ):
            patients = [_moderate_patient(api, n) for n in range(PATIENTS)]
            accepted = api.put(
                "/v1/policy", json={"profile": "consensus"}, headers={"Prefer": "respond-async"}
            )
            assert accepted.status_code == 202, accepted.text
            job = _finished(api, accepted.headers["location"])
            levels = [api.get(f"/v1/patients/{p}/levels").json()["items"][0] for p in patients]
    assert (job["status"], job["result"], job["done"]) == ("succeeded", {"policy_version": 2}, PATIENTS)
    assert {(level["status"], level["policy_version"]) for level in levels} == {("referral_recommended", 2)}
