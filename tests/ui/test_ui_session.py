"""Signing in and out, sessions, CSRF and the lockout of the staff workspace."""

from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.sign_in import LOCKOUT_FAILURES
from models import AuditEvent, SignInAttempt, UserSession
from models.base import utcnow
from tests.ui.conftest import PASSWORD, UserFactory, csrf_of, sign_in, signed_in


async def test_get_page_anonymous_redirected_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/patients?q=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/sign-in?next=%2Fui%2Fpatients%3Fq%3Dx"


async def test_sign_in_right_password_sets_cookie_and_opens_pages(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user("staff")
    answer = await sign_in(client, user.email.upper())  # emails match in any case
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/patients"
    cookie = answer.headers["set-cookie"]
    assert "bt_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served over http here
    page = await client.get("/ui/patients")
    assert page.status_code == 200 and "Staff Person" in page.text
    assert page.headers["cache-control"] == "no-store"  # patient data stays out of the browser cache
    assert page.headers["x-frame-options"] == "DENY"


async def test_sign_in_over_https_cookie_is_secure(app, make_user: UserFactory) -> None:  # type: ignore[no-untyped-def]
    user = await make_user("staff")
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        answer = await sign_in(client, user.email)
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


async def test_sign_in_form_without_csrf_refused(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    user = await make_user("staff")
    await client.get("/ui/sign-in")
    answer = await client.post("/ui/sign-in", data={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 403
    assert "security token" in answer.text and "bt_session" not in answer.headers.get("set-cookie", "")


async def test_post_form_without_csrf_refused_and_nothing_stored(
    client: httpx.AsyncClient, make_user: UserFactory, session: AsyncSession
) -> None:
    await signed_in(client, await make_user("staff"))
    answer = await client.post("/ui/patients", data={"mrn": "MRN-CSRF-1"})
    assert answer.status_code == 403
    wrong = await client.post("/ui/patients", data={"mrn": "MRN-CSRF-1", "csrf_token": "forged"})
    assert wrong.status_code == 403
    search = await client.get("/ui/patients", params={"q": "MRN-CSRF-1"})
    assert "No patient found." in search.text


async def test_post_form_with_csrf_header_accepted(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    csrf = await signed_in(client, await make_user("staff"))
    answer = await client.post("/ui/patients", data={"mrn": "MRN-HX-1"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/patients/")


async def test_sign_out_ends_session_at_once(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    csrf = await signed_in(client, await make_user("staff"))
    cookie = client.cookies.get("bt_session")
    answer = await client.post("/ui/sign-out", data={"csrf_token": csrf})
    assert answer.status_code == 303
    client.cookies.set("bt_session", cookie)  # a copied cookie is worth nothing once signed out
    assert (await client.get("/ui/patients")).status_code == 303


async def test_get_page_session_idle_too_long_refused(
    client: httpx.AsyncClient, make_user: UserFactory, session: AsyncSession
) -> None:
    user = await make_user("staff")
    await signed_in(client, user)
    async with session.begin():
        await session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(last_seen_at=utcnow() - timedelta(minutes=31))
        )
    response = await client.get("/ui/patients")
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/sign-in")


async def test_get_page_disabled_user_refused(
    client: httpx.AsyncClient, make_user: UserFactory, admin: dict[str, str]
) -> None:
    user = await make_user("staff")
    await signed_in(client, user)
    disabled = await client.post(f"/v1/users/{user.id}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled_at"] is not None
    assert (await client.get("/ui/patients")).status_code == 303
    again = await sign_in(client, user.email)
    assert again.status_code == 401 and "do not match an active account" in again.text


async def test_sign_in_lockout_after_five_failures_even_with_right_password(
    client: httpx.AsyncClient, make_user: UserFactory, session: AsyncSession
) -> None:
    user = await make_user("staff")
    other = await make_user("viewer")
    for _ in range(LOCKOUT_FAILURES):
        failed = await sign_in(client, user.email, "wrong password")
        assert failed.status_code == 401
    locked = await sign_in(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins" in locked.text
    assert (await sign_in(client, other.email)).status_code == 303  # other emails are unaffected
    async with session.begin():  # the window passes: the failures age beyond 15 minutes
        await session.execute(
            update(SignInAttempt)
            .where(SignInAttempt.email == user.email)
            .values(at=utcnow() - timedelta(minutes=16))
        )
    assert (await sign_in(client, user.email)).status_code == 303


async def test_sign_in_four_failures_then_right_password_signs_in(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user("staff")
    for _ in range(LOCKOUT_FAILURES - 1):
        assert (await sign_in(client, user.email, "nope")).status_code == 401
    assert (await sign_in(client, user.email)).status_code == 303


async def test_sign_in_events_audited(
    client: httpx.AsyncClient, make_user: UserFactory, session: AsyncSession
) -> None:
    user = await make_user("staff")
    await sign_in(client, user.email, "wrong")
    csrf = await signed_in(client, user)
    await client.post("/ui/sign-out", data={"csrf_token": csrf})
    async with session.begin():
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.resource_id == str(user.id)).order_by(AuditEvent.at)
            )
        ).all()
    assert [r.action for r in rows] == ["sign_in_failed", "sign_in", "sign_out"]
    assert rows[0].actor_user_id is None and user.email in (rows[0].actor_name or "")
    assert rows[1].actor_user_id == user.id and rows[1].actor_name == "Staff Person"


async def test_first_sign_in_with_one_time_password_asks_for_new_one(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    made = await client.post(
        "/v1/users",
        json={"email": "New.Person@Riverside.example", "display_name": "New Person", "role": "staff"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["email"] == "new.person@riverside.example" and body["must_change_password"] is True
    answer = await sign_in(client, body["email"], body["password"])
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/password"
    assert (await client.get("/ui/patients")).headers["location"] == "/ui/password"
    form = await client.get("/ui/password")
    short = {"current_password": body["password"], "new_password": "short", "repeat_password": "short"}
    refused = await client.post("/ui/password", data=short | {"csrf_token": csrf_of(form)})
    assert refused.status_code == 422 and "at least 10 characters" in refused.text
    good = {"current_password": body["password"], "new_password": PASSWORD, "repeat_password": PASSWORD}
    changed = await client.post("/ui/password", data=good | {"csrf_token": csrf_of(form)})
    assert changed.status_code == 303 and changed.headers["location"] == "/ui/patients"
    assert (await client.get("/ui/patients")).status_code == 200
