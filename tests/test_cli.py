"""The `blocktrack` command run as a subprocess on a throwaway database; the keys it prints must work."""

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.db import make_engine
from api.migrate import head_revision
from api.settings import Settings
from tests.databases import throwaway_database


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    with throwaway_database(tmp_path) as url:
        yield url


def blocktrack(url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BLOCKTRACK_DATABASE_URL": url}
    command = [sys.executable, "-c", "from api.cli import main; main()", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def call(url: str, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to the app over `url`, as a client holding `key` would make it."""

    async def _go() -> httpx.Response:
        engine = make_engine(Settings(database_url=url).async_database_url)
        app = create_app(Settings(database_url=url, run_deliverer=False), engine=engine)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://cli", headers=headers
            ) as client:
                response = await client.request(method, path, **kwargs)
                await response.aread()
                return response
        finally:
            await engine.dispose()

    return asyncio.run(_go())


def test_migrate_brings_database_to_head(fresh_url: str) -> None:
    done = blocktrack(fresh_url, "migrate")
    assert "latest migration" in done.stdout
    ready = call(fresh_url, "none", "GET", "/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert head_revision() is not None


def test_create_clinic_json_prints_working_admin_key(fresh_url: str) -> None:
    made = json.loads(blocktrack(fresh_url, "clinic", "create", "Harbor Pain Clinic", "--json").stdout)
    assert set(made) == {"clinic_id", "api_key"}
    created = call(fresh_url, made["api_key"], "POST", "/v1/patients", json={"mrn": "CLI-1"})
    assert created.status_code == 201, created.text
    assert created.json()["mrn"] == "CLI-1"


def test_create_key_json_prints_working_key_with_its_role(fresh_url: str) -> None:
    clinic = json.loads(blocktrack(fresh_url, "clinic", "create", "Harbor Pain Clinic", "--json").stdout)
    args = (
        "key",
        "create",
        "--clinic",
        clinic["clinic_id"],
        "--role",
        "viewer",
        "--name",
        "front desk",
        "--json",
    )
    made = json.loads(blocktrack(fresh_url, *args).stdout)
    assert set(made) == {"key_id", "api_key"}
    listed = call(fresh_url, made["api_key"], "GET", "/v1/patients")
    assert (listed.status_code, listed.json()["items"]) == (200, [])
    refused = call(fresh_url, made["api_key"], "POST", "/v1/patients", json={"mrn": "CLI-2"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"


def test_create_key_unknown_clinic_fails_with_message(fresh_url: str) -> None:
    args = (
        "key",
        "create",
        "--clinic",
        "00000000-0000-4000-8000-000000000000",
        "--role",
        "ehr",
        "--name",
        "x",
    )
    done = blocktrack(fresh_url, *args, ok=False)
    assert done.returncode != 0
    assert "no clinic 00000000-0000-4000-8000-000000000000" in done.stderr


def _demo_key(stdout: str) -> str:
    match = re.search(r"Admin API key \(shown once\): (bt_\S+)", stdout)
    assert match, stdout
    return match.group(1)


def test_demo_loads_patient_at_each_level_status_and_reruns(fresh_url: str) -> None:
    first = blocktrack(fresh_url, "demo", "--base-url", "http://127.0.0.1:9999")
    key = _demo_key(first.stdout)
    assert "curl -s" in first.stdout and "http://127.0.0.1:9999/v1/referrals?status=open" in first.stdout
    patients = call(fresh_url, key, "GET", "/v1/patients").json()["items"]
    assert sorted(p["mrn"] for p in patients) == [f"DEMO-100{n}" for n in range(1, 6)]
    statuses = set()
    for patient in patients:
        levels = call(fresh_url, key, "GET", f"/v1/patients/{patient['id']}/levels").json()["items"]
        statuses |= {level["status"] for level in levels}
    assert statuses == {"pending", "awaiting_confirmation", "referral_recommended", "not_indicated"}
    referrals = call(fresh_url, key, "GET", "/v1/referrals", params={"status": "open"}).json()["items"]
    assert [(r["joint"], r["side"]) for r in referrals] == [("L4-L5", "right")]

    again = blocktrack(fresh_url, "demo")
    second_key = _demo_key(again.stdout)
    assert "reused" in again.stdout and second_key != key
    assert len(call(fresh_url, second_key, "GET", "/v1/patients").json()["items"]) == 5
