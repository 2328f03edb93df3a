"""A real `blocktrack serve`: its log names routes and request ids, never an MRN or a SQL parameter."""

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from api.settings import async_url
from tests.databases import throwaway_database
from tests.servers import wait_ready
from tests.webhooks.processes import CLI, ROOT, cli, env
from tests.webhooks.receiver import free_port

MRN = "SECRET-MRN-123"
NAME = "Secretia Nameless"


@contextmanager
def serving(database_url: str, log: Path) -> Iterator[str]:
    """`blocktrack serve` in its own process group, its output into `log`; the group is killed after."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", "1"],
            env=env(database_url),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def rename_table(database_url: str, table: str, new_name: str) -> None:
    """Under the running server: its next statement on `table` fails in the database, as a fault would."""

    async def rename() -> None:
        engine = create_async_engine(async_url(database_url))
        try:
            async with engine.begin() as connection:
                await connection.execute(text(f"ALTER TABLE {table} RENAME TO {new_name}"))
        finally:
            await engine.dispose()

    asyncio.run(rename())


def test_serve_logs_routes_not_mrns_or_sql_parameters(tmp_path: Path) -> None:
    with throwaway_database(tmp_path) as url:
        made = json.loads(cli(url, "clinic", "create", "Log Clinic", "--json").stdout)
        auth = {"Authorization": f"Bearer {made['api_key']}"}
        log = tmp_path / "server.log"
        with serving(url, log) as base, httpx.Client(base_url=base, timeout=10) as client:
            created = client.post(
                "/v1/patients", json={"mrn": MRN, "name": NAME}, headers=auth | {"X-Request-ID": "log-create"}
            )
            assert created.status_code == 201, created.text
            found = client.get(
                "/v1/patients", params={"mrn": MRN}, headers=auth | {"X-Request-ID": "log-find"}
            )
            assert [p["mrn"] for p in found.json()["items"]] == [MRN]
            # The same search when the database fails: its statement's parameter is the MRN.
            rename_table(url, "patient", "patient_moved")
            failed = client.get(
                "/v1/patients", params={"mrn": MRN}, headers=auth | {"X-Request-ID": "log-fail"}
            )
            assert failed.status_code == 500, failed.text
            assert failed.headers["content-type"] == "application/problem+json"
            assert MRN not in failed.text
        written = log.read_text()
    assert MRN not in written and NAME not in written
    assert "mrn=" not in written and "parameters" not in written.lower()
    assert "POST /v1/patients 201" in written and "request_id=log-create" in written
    assert "GET /v1/patients 200" in written and "request_id=log-find" in written
    assert "GET /v1/patients 500" in written and "request_id=log-fail" in written
    # The error itself: its type and request id, where it was raised, not its message.
    assert "unexpected sqlalchemy.exc." in written and "(request log-fail)" in written
    assert "patient_moved" not in written and "SELECT" not in written
