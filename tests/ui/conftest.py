"""Fixtures for the staff workspace: people of a clinic, and a browser-like client signed in as one."""

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.users import create_user, hash_password

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Person(NamedTuple):
    """A user as the tests know them (plain values: ORM objects expire with the test's transactions)."""

    id: uuid.UUID
    email: str
    clinic_id: uuid.UUID
    display_name: str
    role: str


UserFactory = Callable[..., Awaitable[Person]]


@pytest.fixture
def make_user(session: AsyncSession, clinic) -> UserFactory:  # type: ignore[no-untyped-def]
    """A user with PASSWORD already chosen (no one-time password step), in `clinic` unless told."""

    async def _make(role: str = "staff", email: str | None = None, clinic_id=None) -> Person:  # type: ignore[no-untyped-def]
        async with session.begin():
            user, _ = await create_user(
                session,
                clinic_id or clinic.id,
                email or f"{role}@riverside.example",
                f"{role.title()} Person",
                role,
            )
            user.password_hash, user.must_change_password = await hash_password(PASSWORD), False
            return Person(user.id, user.email, user.clinic_id, user.display_name, user.role)

    return _make


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Open the sign-in page and post its form, as a browser would; returns the answer (not followed)."""
    form = await client.get("/ui/sign-in")
    data = {"email": email, "password": password, "csrf_token": csrf_of(form), "next": ""}
    return await client.post("/ui/sign-in", data=data)


async def signed_in(client: httpx.AsyncClient, user: Person) -> str:
    """Sign `user` in; returns the session's CSRF token (as the pages embed it)."""
    answer = await sign_in(client, user.email)
    assert answer.status_code == 303, answer.text[:500]
    return csrf_of(await client.get("/ui/patients"))


@pytest.fixture
def ui_as(client: httpx.AsyncClient, make_user: UserFactory) -> Callable[[str], Awaitable[str]]:
    async def _as(role: str) -> str:
        return await signed_in(client, await make_user(role))

    return _as
