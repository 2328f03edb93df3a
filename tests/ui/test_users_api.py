"""Admins manage users over the API: /v1/users; `blocktrack user create`."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.databases import throwaway_database
from tests.test_cli import blocktrack

Headers = dict[str, str]
NEW = {"email": "dana@riverside.example", "display_name": "Dana Whitfield", "role": "staff"}


async def test_create_user_shows_one_time_password_once_and_lists(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    made = await client.post("/v1/users", json=NEW, headers=admin)
    assert made.status_code == 201 and made.headers["location"] == f"/v1/users/{made.json()['id']}"
    body = made.json()
    assert len(body["password"]) == 19 and body["must_change_password"] is True
    listed = (await client.get("/v1/users", headers=admin)).json()
    assert [u["email"] for u in listed["items"]] == ["dana@riverside.example"]
    assert "password" not in listed["items"][0] and "password_hash" not in listed["items"][0]


async def test_create_user_duplicate_email_any_case_409(client: httpx.AsyncClient, admin: Headers) -> None:
    first = await client.post("/v1/users", json=NEW, headers=admin)
    again = await client.post("/v1/users", json=NEW | {"email": "DANA@riverside.example "}, headers=admin)
    assert again.status_code == 409 and again.json()["existing_id"] == first.json()["id"]


async def test_create_user_bad_email_and_role_422(client: httpx.AsyncClient, admin: Headers) -> None:
    bad = await client.post("/v1/users", json=NEW | {"email": "dana", "role": "ehr"}, headers=admin)
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["errors"]} == {("body", "email"), ("body", "role")}


async def test_users_api_non_admin_403_other_clinic_404(
    client: httpx.AsyncClient, admin: Headers, ehr: Headers, other_clinic: Headers
) -> None:
    made = (await client.post("/v1/users", json=NEW, headers=admin)).json()
    assert (await client.post("/v1/users", json=NEW, headers=ehr)).status_code == 403
    assert (await client.get(f"/v1/users/{made['id']}", headers=other_clinic)).status_code == 404
    assert (await client.post(f"/v1/users/{made['id']}/disable", headers=other_clinic)).status_code == 404
    assert (await client.get(f"/v1/users/{uuid.uuid4()}", headers=admin)).status_code == 404


async def test_reset_password_new_one_time_password(client: httpx.AsyncClient, admin: Headers) -> None:
    made = (await client.post("/v1/users", json=NEW, headers=admin)).json()
    reset = await client.post(f"/v1/users/{made['id']}/reset-password", headers=admin)
    assert reset.status_code == 200 and reset.json()["password"] != made["password"]
    assert reset.json()["must_change_password"] is True


def _user_create(url: str, clinic_id: str, email: str, *extra: str, ok: bool = True) -> Any:
    args = ("user", "create", "--clinic", clinic_id, "--email", email, "--name", "A B", "--role", "staff")
    return blocktrack(url, *args, *extra, ok=ok)


def test_cli_user_create_prints_one_time_password(tmp_path: Path) -> None:
    with throwaway_database(tmp_path) as url:
        clinic_id = json.loads(blocktrack(url, "clinic", "create", "CLI Clinic", "--json").stdout)[
            "clinic_id"
        ]
        human = _user_create(url, clinic_id, "a@b.example")
        assert re.search(r"^one-time password: [a-z0-9-]{19}$", human.stdout, re.MULTILINE), human.stdout
        made = json.loads(_user_create(url, clinic_id, "c@b.example", "--json").stdout)
        assert set(made) == {"user_id", "password"}
        duplicate = _user_create(url, clinic_id, "A@b.example", ok=False)
        assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
        bad = _user_create(url, clinic_id, "not-an-email", ok=False)
        assert bad.returncode != 0 and "email" in bad.stderr
