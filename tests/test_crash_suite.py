"""kill -9 a real server under a diary load, restart it, and check what was acknowledged and what is stored.

Clients post diary batches (each to a block of its own, each with an Idempotency-Key) to a `blocktrack
serve --workers 1` process, which is killed with SIGKILL mid-load, twice. Then:
- every batch answered 201 is wholly present, with one reading_version per reading (nothing lost);
- every block holds all of its batch or none of it (nothing partial);
- a batch whose answer was lost in the kill, retried with its key once the lease is over, ends up stored
  exactly once: run now if it had written nothing, refused as applied if it had (nothing twice).

The database is a throwaway one (a SQLite file, or a PostgreSQL database with BLOCKTRACK_TEST_DATABASE_URL).
The server runs in a process group of its own, killed at the end whatever happens.
"""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import func, select

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from models import Reading, ReadingVersion
from tests.api.records import BLOCK_AT, block_body, diary
from tests.databases import throwaway_database
from tests.servers import wait_ready
from tests.webhooks.receiver import free_port

pytestmark = [pytest.mark.crash, pytest.mark.race]

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 4
KILLS = 2
LEASE_SECONDS = 1.0
ENTRIES = len(diary())  # per target; blocks are bilateral: two targets


@dataclass
class Batch:
    block_id: str
    key: str
    status: int | None = None  # None: sent, no answer (the kill)
    reading_ids: list[str] = field(default_factory=list)


@dataclass
class Load:
    batches: list[Batch] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def acknowledged(self) -> list[Batch]:
        return [b for b in self.batches if b.status == 201]


@contextmanager
def server(database_url: str, port: int, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """`blocktrack serve --workers 1` in its own process group; the whole group is SIGKILLed on exit."""
    env = os.environ | {
        "BLOCKTRACK_DATABASE_URL": database_url,
        "BLOCKTRACK_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    command = [sys.executable, "-c", "import sys; from api.cli import main; main(sys.argv[1:])"]
    process = subprocess.Popen(
        [*command, "serve", "--workers", "1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", 60)
        yield process
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # start_new_session: its group id is its pid
    except ProcessLookupError:
        pass
    process.wait(timeout=15)


def _post_batch(api: httpx.Client, load: Load, patient_id: str) -> None:
    block = api.post(f"/v1/patients/{patient_id}/blocks", json=block_body())
    if block.status_code != 201:
        return
    batch = Batch(block.json()["id"], str(uuid.uuid4()))
    with load.lock:
        load.batches.append(batch)
    answer = api.post(
        f"/v1/blocks/{batch.block_id}/readings",
        json={"readings": diary(BLOCK_AT)},
        headers={"Idempotency-Key": batch.key},
    )
    batch.status = answer.status_code
    if answer.status_code == 201:
        batch.reading_ids = [r["id"] for r in answer.json()["readings"]]


def _client(base: str, token: str, load: Load) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        try:
            patient_id = api.post("/v1/patients", json={"mrn": f"CRASH-{uuid.uuid4().hex[:10]}"}).json()["id"]
            while not load.stop.is_set():
                _post_batch(api, load, patient_id)
        except (httpx.TransportError, KeyError):
            return  # the server was killed under us


def _kill_under_load(database_url: str, token: str, load: Load, log: IO[bytes]) -> None:
    port = free_port()
    with server(database_url, port, log) as process:
        load.stop.clear()
        threads = [
            threading.Thread(target=_client, args=(f"http://127.0.0.1:{port}", token, load))
            for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        acked_before = len(load.acknowledged())
        deadline = time.monotonic() + 20
        while len(load.acknowledged()) < acked_before + 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        kill_group(process)  # SIGKILL mid-load: no shutdown hook, requests cut off anywhere
        load.stop.set()
        for thread in threads:
            thread.join(timeout=20)


async def _clinic(database_url: str) -> str:
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            _clinic, _key, token = await create_clinic(session, "Crash Clinic")
        return token
    finally:
        await engine.dispose()


async def _stored(database_url: str) -> tuple[dict[str, set[str]], dict[str, int]]:
    """The reading ids of every block, and how many reading_version rows each reading has."""
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (await session.execute(select(Reading.block_id, Reading.id))).all()
            versions = (
                await session.execute(
                    select(ReadingVersion.reading_id, func.count()).group_by(ReadingVersion.reading_id)
                )
            ).all()
    finally:
        await engine.dispose()
    blocks: dict[str, set[str]] = {}
    for block_id, reading_id in rows:
        blocks.setdefault(str(block_id), set()).add(str(reading_id))
    return blocks, {str(reading_id): count for reading_id, count in versions}


def _retry_unanswered(database_url: str, token: str, load: Load, log: IO[bytes]) -> dict[int, int]:
    """After the lease, every batch whose answer was lost is posted again with its key."""
    time.sleep(LEASE_SECONDS + 0.5)
    port, statuses = free_port(), {}
    with server(database_url, port, log):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as api:
            for batch in load.batches:
                if batch.status is None:
                    answer = api.post(
                        f"/v1/blocks/{batch.block_id}/readings",
                        json={"readings": diary(BLOCK_AT)},
                        headers={"Idempotency-Key": batch.key},
                    )
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    assert answer.status_code in (201, 409), answer.text
    return statuses


def test_kill_server_under_diary_load_acknowledged_present_nothing_partial(tmp_path: Path) -> None:
    started = time.monotonic()
    with throwaway_database(tmp_path) as database_url, open(tmp_path / "server.log", "wb") as log:
        upgrade(database_url)
        token, load = asyncio.run(_clinic(database_url)), Load()
        for _ in range(KILLS):
            _kill_under_load(database_url, token, load, log)
        blocks, versions = asyncio.run(_stored(database_url))
        lost = [b for b in load.acknowledged() if blocks.get(b.block_id, set()) != set(b.reading_ids)]
        partial = [ids for ids in blocks.values() if len(ids) != 2 * ENTRIES]
        unversioned = [r for ids in blocks.values() for r in ids if versions.get(r) != 1]
        unanswered = [b for b in load.batches if b.status is None]
        retried = _retry_unanswered(database_url, token, load, log)
        after, _ = asyncio.run(_stored(database_url))
        stored_once = [
            b
            for b in load.batches
            if b.status in (None, 201) and len(after.get(b.block_id, ())) == 2 * ENTRIES
        ]
    acknowledged = len(load.acknowledged())
    print(  # the figures for the closing note (pytest -s)
        f"\ncrash suite on {database_url.split(':')[0]}: {KILLS} kills, {len(load.batches)} batches sent, "
        f"{acknowledged} acknowledged, {len(lost)} lost, {len(partial)} partial, "
        f"{len(unanswered)} unanswered (retried with their key: {retried}), "
        f"{time.monotonic() - started:.1f} s"
    )
    assert acknowledged >= 2 * 12, "the load never got going"
    assert lost == [] and partial == [] and unversioned == []
    assert [b.status for b in load.batches if b.status not in (None, 201)] == []
    assert len(stored_once) == acknowledged + len(unanswered)  # every unanswered batch stored once in the end
