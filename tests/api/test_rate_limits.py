"""Rate limits (issue 7): per API key, and per client address for missing and failed authentications;
429 problem+json with Retry-After; refusals audited with the key, the address and the patient."""

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.rate_limit import Limit, failure_limit, take
from api.settings import Settings
from models import AuditEvent
from tests.api.records import PROBLEM, new_patient

Headers = dict[str, str]
BAD = {"Authorization": "Bearer bt_not-a-key"}
ClientFor = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def client_from(app) -> AsyncIterator[ClientFor]:  # type: ignore[no-untyped-def]
    """Clients of the same app that come from the given address."""
    clients: list[httpx.AsyncClient] = []

    def _make(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
        return clients[-1]

    yield _make
    for client in clients:
        await client.aclose()


def tighten(app, **limits: float) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update=limits)


async def refusals(session: AsyncSession) -> list[AuditEvent]:
    async with session.begin():
        query = select(AuditEvent).where(AuditEvent.action.in_(("unauthorized", "forbidden", "rate_limited")))
        rows = await session.scalars(query.order_by(AuditEvent.at).execution_options(populate_existing=True))
        return list(rows.all())


def assert_too_many(response: httpx.Response, retry_after: range) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) in retry_after
    assert response.json()["status"] == 429


async def test_take_lets_burst_through_then_refills_at_rate(session: AsyncSession) -> None:
    limit = Limit(interval=0.5, burst=3)
    async with session.begin():
        connection = await session.connection()
        first = [await take(connection, "test:gcra", limit, now=100.0) for _ in range(4)]
        assert [d.allowed for d in first] == [True, True, True, False]
        assert first[-1].retry_after == 1  # the next one is due half a second later
        assert (await take(connection, "test:gcra", limit, now=100.49)).allowed is False
        assert (await take(connection, "test:gcra", limit, now=100.5)).allowed is True
        assert (await take(connection, "test:gcra", limit, now=100.5)).allowed is False
        assert (await take(connection, "test:gcra", limit, now=102.0)).allowed is True


async def test_take_lockout_lasts_its_time_and_refusals_do_not_extend_it(session: AsyncSession) -> None:
    limit = failure_limit(Settings())  # 20 failures within a minute, then a minute's lockout
    async with session.begin():
        connection = await session.connection()
        spread = [await take(connection, "test:lock", limit, now=10.0 + 3.1 * n) for n in range(20)]
        assert all(d.allowed for d in spread)  # 20 failures over 59 s, one every 3.1 s
        refused = await take(connection, "test:lock", limit, now=69.0)
        assert (refused.allowed, refused.retry_after) == (False, 60)
        assert (await take(connection, "test:lock", limit, now=99.0)).retry_after == 30  # not extended
        assert (await take(connection, "test:lock", limit, now=128.9)).allowed is False
        assert (await take(connection, "test:lock", limit, now=129.0)).allowed is True
        assert (await take(connection, "test:lock", limit, now=129.0)).retry_after == 60  # one per minute


async def test_api_key_over_its_rate_too_many_requests(
    app, client: httpx.AsyncClient, ehr: Headers, viewer: Headers, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    tighten(app, rate_limit_per_second=0.01, rate_limit_burst=3)  # no refill during the test
    answers = [(await client.get("/v1/patients", headers=ehr)).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    refused = await client.get("/v1/patients", headers=ehr)
    assert_too_many(refused, range(99, 101))
    assert (await client.get("/v1/patients", headers=viewer)).status_code == 200  # another key's own bucket
    rows = await refusals(session)
    assert [(r.action, r.role, r.client_addr) for r in rows] == [("rate_limited", "ehr", "10.1.2.3")]
    assert rows[0].actor_key_id is not None


async def test_failed_authentications_lock_out_address_for_a_minute(
    client_from: ClientFor, admin: Headers
) -> None:
    attacker, neighbour = client_from("192.0.2.7"), client_from("192.0.2.8")
    for attempt in range(20):
        headers = BAD if attempt % 2 else {}  # unknown keys and no key both count
        assert (await attacker.get("/v1/patients", headers=headers)).status_code == 401
    assert_too_many(await attacker.get("/v1/patients", headers=BAD), range(59, 61))
    assert_too_many(await attacker.get("/v1/patients"), range(59, 61))
    assert (await neighbour.get("/v1/patients", headers=BAD)).status_code == 401  # other addresses unaffected
    assert (
        await attacker.get("/v1/patients", headers=admin)
    ).status_code == 200  # a valid key: its own limit


async def test_loopback_not_exempt_from_failure_lockout(client_from: ClientFor) -> None:
    local = client_from("127.0.0.1")
    answers = [(await local.get("/v1/clinic", headers=BAD)).status_code for _ in range(21)]
    assert answers == [401] * 20 + [429]


async def test_refused_request_audited_with_address_and_patient(
    client: httpx.AsyncClient, ehr: Headers, viewer: Headers, admin: Headers, session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr)
    path = f"/v1/patients/{patient['id']}"
    assert (await client.get(path, headers=BAD)).status_code == 401
    assert (await client.delete(path, headers=viewer)).status_code in (403, 405)
    assert (await client.post(f"{path}/blocks", headers=viewer, json={})).status_code == 403
    rows = await refusals(session)
    unknown, forbidden = rows[0], rows[-1]
    assert (unknown.action, unknown.actor_key_id, unknown.client_addr) == ("unauthorized", None, "10.1.2.3")
    assert str(unknown.patient_id) == patient["id"] and unknown.clinic_id is not None
    assert (forbidden.action, forbidden.role, str(forbidden.patient_id)) == (
        "forbidden",
        "viewer",
        patient["id"],
    )
    assert forbidden.actor_key_id is not None
    # "Who tried to look at this patient": the clinic's admin sees the refusals too.
    listed = await client.get("/v1/audit-events", params={"patient_id": patient["id"]}, headers=admin)
    actions = {item["action"] for item in listed.json()["items"]}
    assert {"unauthorized", "forbidden"} <= actions


async def test_refused_request_without_key_or_patient_audited_without_clinic(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert (await client.get("/v1/referrals", headers={"X-Request-ID": "probe-1"})).status_code == 401
    [row] = await refusals(session)
    assert (row.clinic_id, row.action, row.client_addr, row.request_id) == (
        None,
        "unauthorized",
        "10.1.2.3",
        "probe-1",
    )
    assert row.resource_id == "GET /v1/referrals"


async def test_fhir_failed_authentications_too_many_with_retry_after(client_from: ClientFor) -> None:
    prober = client_from("192.0.2.44")
    answers = [(await prober.get("/fhir/R4/Patient", headers=BAD)).status_code for _ in range(20)]
    assert answers == [401] * 20
    refused = await prober.get("/fhir/R4/Patient", headers=BAD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) in range(59, 61)
    assert refused.json()["resourceType"] == "OperationOutcome"


async def test_refused_fhir_patient_read_audited_with_patient(
    client: httpx.AsyncClient, ehr: Headers, session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr)
    assert (await client.get(f"/fhir/R4/Patient/{patient['id']}", headers=BAD)).status_code == 401
    [row] = await refusals(session)
    assert (row.action, str(row.patient_id), row.resource_type) == ("unauthorized", patient["id"], "patient")
