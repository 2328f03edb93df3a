"""Webhook targets: no link-local, metadata or unspecified address however spelled, no credentials in the
URL, checked at registration and again at connect time; only a status and its reason stored."""

import ipaddress
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.routes.webhooks import target_resolver
from api.settings import Settings
from api.webhooks.deliverer import Deliverer, make_client
from api.webhooks.signing import new_secret
from api.webhooks.targets import Resolver, inet_aton_address, url_refusal
from models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tests.webhooks.helpers import emit_committed, subscribe
from tests.webhooks.receiver import Receiver

Sessions = async_sessionmaker[AsyncSession]
PROBLEM = "application/problem+json"

FORBIDDEN = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",  # decimal
    "http://0xA9FEA9FE/",  # hex
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://0251.0376.0251.0376/",  # octal
    "http://0251.254.169.254/",
    "http://169.254.43518/",  # a.b.c: the last part fills two bytes
    "http://169.16689662/",  # a.b
    "http://169.254.169.254./",  # trailing dot
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]:8080/",
    "https://[FE80::abcd]/",
    "http://0.0.0.0:8000/",
    "http://0/",
    "http://0x0/",
    "http://000.0.0.0/",
    "http://0.0/",
    "http://[::]/",
    "http://[::ffff:0.0.0.0]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.Google.Internal./",
    "http://metadata/",
    "http://metadata./",
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
]
WITH_CREDENTIALS = [
    "https://user@engine.clinic.example/hooks",
    "https://user:secret@engine.clinic.example/hooks",
    "https://:secret@engine.clinic.example/hooks",
    "https://@engine.clinic.example/hooks",
]


@pytest.mark.parametrize("url", FORBIDDEN)
async def test_create_webhook_forbidden_target_is_422(
    client: httpx.AsyncClient, admin: dict, url: str
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": ["block.evaluated"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "url"]
    assert any(word in error["message"] for word in ("link-local", "metadata", "unspecified")), error
    assert (await client.get("/v1/webhooks", headers=admin)).json()["items"] == []


@pytest.mark.parametrize("url", WITH_CREDENTIALS)
async def test_create_webhook_with_userinfo_is_422(client: httpx.AsyncClient, admin: dict, url: str) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": ["block.evaluated"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "url"]
    assert error["message"].endswith("must not contain a user name or password")
    assert "secret" not in response.text
    assert (await client.get("/v1/webhooks", headers=admin)).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:9000/x",  # 127.0.0.1 in decimal: loopback stays allowed however written
        "http://10.1.2.3/hl7",
        "http://[::ffff:10.0.0.12]/x",
        "http://169.255.0.1/",  # just outside 169.254.0.0/16
        "http://metadata.clinic.internal/",
        "http://1.0.0.0/",
    ],
)
def test_url_refusal_allowed_targets_none(url: str) -> None:
    assert url_refusal(url) is None


@given(st.text(alphabet="0123456789xXaAfF.", min_size=1, max_size=16))
def test_inet_aton_address_reads_like_the_c_library(host: str) -> None:
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        expected = None
    assert inet_aton_address(host) == expected


def resolver(table: dict[str, list[str]]) -> Resolver:
    """A resolver answering from `table`; a name not in it does not resolve."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


NAMES = {
    "rebind.clinic.test": ["10.0.0.5", "169.254.169.254"],
    "engine.clinic.test": ["10.0.0.5", "fd12::5"],
    "mapped.clinic.test": ["::ffff:169.254.1.1"],
}


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("rebind.clinic.test", 422),
        ("mapped.clinic.test", 422),
        ("engine.clinic.test", 201),
        ("new.test", 201),
    ],
)
async def test_create_webhook_checks_what_the_name_resolves_to(
    app, client: httpx.AsyncClient, admin: dict, host: str, status: int
) -> None:  # type: ignore[no-untyped-def]
    app.dependency_overrides[target_resolver] = lambda: resolver(NAMES)
    body = {"url": f"https://{host}/hooks", "events": ["block.evaluated"]}
    response = await client.post("/v1/webhooks", json=body, headers=admin)
    assert response.status_code == status, response.text
    if status == 422:
        [error] = response.json()["errors"]
        assert error["loc"] == ["body", "url"]
        assert error["message"].startswith(f"{host} resolves to ")


@pytest.fixture
async def deliver_with(live_sessions: Sessions, fast_settings: Settings) -> AsyncIterator:  # type: ignore[type-arg]
    """A deliverer whose connections resolve names from a table instead of DNS."""
    clients: list[httpx.AsyncClient] = []

    def make(table: dict[str, list[str]]) -> Deliverer:
        clients.append(make_client(fast_settings, resolver(table)))
        return Deliverer(live_sessions, fast_settings, clients[-1])

    yield make
    for client in clients:
        await client.aclose()


async def _only_delivery(
    sessions: Sessions, hook_id: str | uuid.UUID
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    async with sessions() as session:
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == uuid.UUID(str(hook_id)))
        )
        assert delivery is not None
        attempts = (
            await session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id))
        ).all()
    return delivery, list(attempts)


async def test_deliver_name_resolving_to_link_local_refused_at_connect(
    live_client: httpx.AsyncClient, live_admin, live_sessions: Sessions, deliver_with, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    clinic_id, headers = live_admin
    # Registered while the name did not resolve; by the time of the delivery it points at 169.254.x.
    hook = await subscribe(live_client, headers, f"http://hooks.clinic.test:{receiver.port}/ok")
    await emit_committed(live_sessions, clinic_id)
    deliverer = deliver_with({"hooks.clinic.test": ["127.0.0.1", "169.254.10.10"]})
    assert await deliverer.deliver_due() == 1
    delivery, [attempt] = await _only_delivery(live_sessions, hook["id"])
    assert delivery.state == "failed"  # not retried: the target is refused, not down
    assert attempt.status_code is None
    reason = "refused: hooks.clinic.test resolves to 169.254.10.10 is a link-local address"
    assert (attempt.error, delivery.last_error) == (reason, reason)
    assert receiver.bodies() == []  # never connected, not even to the allowed address
    assert await deliverer.deliver_due() == 0


async def test_deliver_connects_to_the_address_it_checked(
    live_client: httpx.AsyncClient, live_admin, live_sessions: Sessions, deliver_with, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, f"http://hooks.clinic.test:{receiver.port}/ok")
    await emit_committed(live_sessions, clinic_id)
    assert await deliver_with({"hooks.clinic.test": ["127.0.0.1"]}).deliver_due() == 1
    delivery, [attempt] = await _only_delivery(live_sessions, hook["id"])
    assert (delivery.state, attempt.status_code, attempt.error) == ("succeeded", 200, None)
    [got] = receiver.bodies()
    assert got.headers["host"] == f"hooks.clinic.test:{receiver.port}"


async def test_deliver_subscription_stored_before_the_rules_refused(
    live_admin, live_sessions: Sessions, deliver_with
) -> None:  # type: ignore[no-untyped-def]
    clinic_id, _headers = live_admin
    async with live_sessions() as session, session.begin():
        hook = WebhookSubscription(
            clinic_id=clinic_id, url="http://2852039166/", events=["block.evaluated"], secret=new_secret()
        )
        session.add(hook)
    await emit_committed(live_sessions, clinic_id)
    assert await deliver_with({}).deliver_due() == 1
    delivery, [attempt] = await _only_delivery(live_sessions, str(hook.id))
    assert delivery.state == "failed"
    assert attempt.error == "refused: 169.254.169.254 is a link-local address"


async def test_deliver_failure_stores_status_and_reason_not_body(
    live_client: httpx.AsyncClient,
    live_admin,
    live_sessions: Sessions,
    deliverer: Deliverer,
    receiver: Receiver,
) -> None:  # type: ignore[no-untyped-def]
    clinic_id, headers = live_admin
    hook = await subscribe(live_client, headers, receiver.url("/status/503"))
    await emit_committed(live_sessions, clinic_id)
    assert await deliverer.deliver_due() == 1
    delivery, [attempt] = await _only_delivery(live_sessions, hook["id"])
    assert (attempt.status_code, attempt.error) == (503, "HTTP 503 Service Unavailable")
    assert (delivery.state, delivery.last_status_code, delivery.last_error) == (
        "pending",
        503,
        "HTTP 503 Service Unavailable",
    )
    listed = await live_client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=headers)
    assert "receiver says no" not in listed.text
