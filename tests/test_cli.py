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
from api.demo import demo_key_file
from api.migrate import head_revision
from api.settings import Settings
from tests.databases import throwaway_database


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    with throwaway_database(tmp_path) as url:
        yield url


def blocktrack(
    url: str, *args: str, ok: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BLOCKTRACK_DATABASE_URL": url}
    command = [sys.executable, "-c", "from api.cli import main; main()", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=cwd)
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


def test_create_clinic_with_time_zone(fresh_url: str) -> None:
    made = json.loads(
        blocktrack(
            fresh_url, "clinic", "create", "Alpine Pain", "--time-zone", "america/denver", "--json"
        ).stdout
    )
    clinic = call(fresh_url, made["api_key"], "GET", "/v1/clinic")
    assert (clinic.status_code, clinic.json()["time_zone"]) == (200, "America/Denver")
    refused = blocktrack(fresh_url, "clinic", "create", "Nowhere", "--time-zone", "Mars/Olympus", ok=False)
    assert refused.returncode != 0 and "IANA" in refused.stderr


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
    match = re.search(r"Admin API key \(kept in [^)]*\): (bt_\S+)", stdout)
    assert match, stdout
    return match.group(1)


def test_demo_loads_patient_at_each_level_status_and_reruns(fresh_url: str, tmp_path: Path) -> None:
    first = blocktrack(fresh_url, "demo", "--base-url", "http://127.0.0.1:9999", cwd=tmp_path)
    key = _demo_key(first.stdout)
    assert "curl -s" in first.stdout and "http://127.0.0.1:9999/v1/referrals?status=open" in first.stdout
    patients = call(fresh_url, key, "GET", "/v1/patients", params={"limit": 200}).json()["items"]
    assert sorted(p["mrn"] for p in patients) == [f"DEMO-100{n}" for n in range(1, 10)]
    statuses, reasons = set(), set()
    for patient in patients:
        levels = call(fresh_url, key, "GET", f"/v1/patients/{patient['id']}/levels").json()["items"]
        statuses |= {level["status"] for level in levels}
        reasons |= {r["code"] for level in levels for r in level["reasons"]}
    assert statuses == {
        "pending",
        "awaiting_confirmation",
        "referral_recommended",
        "not_indicated",
        "ablated",
        "repeat_rfa_eligible",
    }
    assert "coverage_criteria_not_met" in reasons
    fulfilled = call(fresh_url, key, "GET", "/v1/referrals", params={"status": "fulfilled"}).json()["items"]
    assert sorted(r["joint"] for r in fulfilled) == ["L4-L5", "L5-S1"]
    assert (
        "RFA plan, lumbar_sacral: 2 session(s): L3-L4 + L4-L5 (64635-50, 64636-50); L5-S1 (64635-50)"
        in first.stdout
    )
    assert "awaiting_confirmation [awaiting_second_block, coverage_criteria_not_met]" in first.stdout
    assert call(fresh_url, key, "GET", "/v1/clinic").json()["time_zone"] == "America/New_York"

    again = blocktrack(fresh_url, "demo", cwd=tmp_path)
    assert "reused" in again.stdout and _demo_key(again.stdout) == key  # the kept key, no new one
    assert len(call(fresh_url, key, "GET", "/v1/patients").json()["items"]) == 9
    assert len(call(fresh_url, key, "GET", "/v1/api-keys").json()["items"]) == 1


def test_demo_key_file_lost_replaces_and_revokes_demo_key(fresh_url: str, tmp_path: Path) -> None:
    first = _demo_key(blocktrack(fresh_url, "demo", cwd=tmp_path).stdout)
    key_file = demo_key_file(fresh_url)
    if not key_file.is_absolute():
        key_file = tmp_path / key_file
    assert key_file.read_text().strip() == first and key_file.stat().st_mode & 0o077 == 0
    key_file.unlink()  # nobody holds the old secret any more: it is revoked, not left valid
    second = _demo_key(blocktrack(fresh_url, "demo", cwd=tmp_path).stdout)
    assert second != first
    assert call(fresh_url, first, "GET", "/v1/clinic").status_code == 401
    keys = call(fresh_url, second, "GET", "/v1/api-keys").json()["items"]
    assert [k["revoked_at"] is None for k in keys] == [False, True]


def test_key_list_rotate_revoke_commands(fresh_url: str) -> None:
    clinic = json.loads(blocktrack(fresh_url, "clinic", "create", "Harbor Pain Clinic", "--json").stdout)
    clinic_id, admin = clinic["clinic_id"], clinic["api_key"]
    made = blocktrack(
        fresh_url, "key", "create", "--clinic", clinic_id, "--role", "ehr", "--name", "Epic", "--json"
    )
    ehr = json.loads(made.stdout)
    assert call(fresh_url, ehr["api_key"], "GET", "/v1/patients").status_code == 200  # sets last_used_at
    listed = json.loads(blocktrack(fresh_url, "key", "list", "--clinic", clinic_id, "--json").stdout)["items"]
    assert [(k["role"], k["name"]) for k in listed] == [
        ("admin", "Harbor Pain Clinic admin"),
        ("ehr", "Epic"),
    ]
    assert "bt_" not in json.dumps(listed) and listed[1]["last_used_at"] is not None
    rotated = json.loads(
        blocktrack(fresh_url, "key", "rotate", ehr["key_id"], "--clinic", clinic_id, "--json").stdout
    )
    assert set(rotated) == {"key_id", "api_key", "old_key_valid_until"}
    assert call(fresh_url, rotated["api_key"], "GET", "/v1/patients").status_code == 200
    assert call(fresh_url, ehr["api_key"], "GET", "/v1/patients").status_code == 200  # the grace period
    expiring = (
        *("key", "create", "--clinic", clinic_id, "--role", "viewer", "--name", "temp"),
        "--expires-days",
    )
    gone = json.loads(blocktrack(fresh_url, *expiring, "-0.001", "--json").stdout)  # expired already
    assert gone["expires_at"] and call(fresh_url, gone["api_key"], "GET", "/v1/patients").status_code == 401
    revoked = blocktrack(fresh_url, "key", "revoke", ehr["key_id"], "--clinic", clinic_id)
    assert revoked.stdout.startswith("revoked: " + ehr["key_id"])
    assert call(fresh_url, ehr["api_key"], "GET", "/v1/patients").status_code == 401
    audit = call(fresh_url, admin, "GET", "/v1/audit-events", params={"resource_id": ehr["key_id"]}).json()
    assert {e["action"] for e in audit["items"]} >= {"rotate", "revoke"}
    other = json.loads(blocktrack(fresh_url, "clinic", "create", "Elsewhere", "--json").stdout)["clinic_id"]
    refused = blocktrack(fresh_url, "key", "revoke", rotated["key_id"], "--clinic", other, ok=False)
    assert refused.returncode != 0 and f"No API key {rotated['key_id']}" in refused.stderr
