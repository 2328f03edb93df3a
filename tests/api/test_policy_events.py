"""PUT /v1/policy publishes its events (CR-19, CR-21) like any single write: outbox rows with the whole
referral or outcome, and one pending delivery per matching subscription (written in bulk on PostgreSQL)."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import OutboxEvent, WebhookDelivery
from tests.api.diaries import DAY1, MODERATE, WEEK, diary_block, new_patient, referrals_of

EVERY_EVENT = ["referral.recommended", "referral.withdrawn", "block.evaluated"]


async def _subscribe(client: Any, admin: dict, events: list[str]) -> str:
    response = await client.post(
        "/v1/webhooks", json={"url": "https://ehr.example.org/hooks", "events": events}, headers=admin
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _published(session: AsyncSession, event_type: str) -> list[tuple[dict[str, Any], list[str]]]:
    """Each event of `event_type`: its body and the subscriptions it is queued for."""
    events = (await session.execute(select(OutboxEvent).where(OutboxEvent.type == event_type))).scalars()
    found = []
    for event in events:
        queued = await session.scalars(
            select(WebhookDelivery.subscription_id).where(
                WebhookDelivery.event_id == event.id, WebhookDelivery.state == "pending"
            )
        )
        assert event.payload["id"] == str(event.id)
        found.append((event.payload, sorted(str(s) for s in queued)))
    return found


async def test_put_policy_publishes_referral_events_with_deliveries(client, admin, ehr, session):
    every = await _subscribe(client, admin, EVERY_EVENT)
    withdrawals = await _subscribe(client, admin, ["referral.withdrawn"])
    patients = [await new_patient(client, ehr) for _ in range(2)]
    for patient in patients:
        await diary_block(client, ehr, patient, DAY1, MODERATE)
        await diary_block(client, ehr, patient, DAY1 + WEEK, MODERATE)

    consensus = await client.put("/v1/policy", json={"profile": "consensus"}, headers=admin)
    opened = {r["id"]: r for p in patients for r in await referrals_of(client, ehr, p, "open")}
    medicare = await client.put("/v1/policy", json={"profile": "medicare"}, headers=admin)
    now = {r["id"]: r for p in patients for r in await referrals_of(client, ehr, p)}

    assert (consensus.status_code, medicare.status_code) == (200, 200), (consensus.text, medicare.text)
    assert len(opened) == 2
    # The app shares the test's session: read the outbox once the requests are done.
    recommended = await _published(session, "referral.recommended")
    assert {body["data"]["id"]: body["data"] for body, _ in recommended} == opened
    assert all(queued == [every] for _, queued in recommended)
    evaluated = await _published(session, "block.evaluated")
    by_policy = {v: [b for b, _ in evaluated if b["data"]["policy"]["version"] == v] for v in (2, 3)}
    assert len(by_policy[2]) == len(by_policy[3]) == 4  # every verdict changed, both times
    assert {b["data"]["targets"][0]["verdict"] for b in by_policy[2]} == {"positive"}
    assert {b["data"]["targets"][0]["verdict"] for b in by_policy[3]} == {"negative"}
    assert all(queued == [every] for _, queued in evaluated)
    withdrawn = await _published(session, "referral.withdrawn")
    assert sorted(body["data"]["id"] for body, _ in withdrawn) == sorted(opened)
    for body, queued in withdrawn:
        referral = now[body["data"]["id"]]
        assert body["data"] == referral
        assert (referral["status"], referral["policy"]["version"]) == ("withdrawn", 2)
        assert referral["withdrawn_reason"].startswith("The level is now not indicated.")
        assert queued == sorted([every, withdrawals])
