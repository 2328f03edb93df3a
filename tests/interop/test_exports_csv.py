"""CSV exports: one row per block target for registries, the audit trail for compliance; both audited."""

import csv
import io
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services import exports
from models import AuditEvent
from tests.api.diaries import DAY1, NEGATIVE, POSITIVE, WEEK, diary_block, new_patient


def rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_export_outcomes_one_row_per_target_with_level_and_referral(
    client: httpx.AsyncClient, ehr: dict[str, str], viewer: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    mrn = (await client.get(f"/v1/patients/{patient}", headers=ehr)).json()["mrn"]
    first = await diary_block(
        client, ehr, patient, DAY1, POSITIVE, targets=[{"joint": "L4-L5", "side": "bilateral"}]
    )
    await diary_block(client, ehr, patient, DAY1 + WEEK, POSITIVE)  # left only: the left level qualifies
    voided = await diary_block(
        client, ehr, patient, DAY1 + 2 * WEEK, NEGATIVE, targets=[{"joint": "L3-L4", "side": "left"}]
    )
    await client.post(f"/v1/blocks/{voided['id']}/void", json={"reason": "wrong patient"}, headers=ehr)
    response = await client.get("/v1/exports/outcomes.csv", headers=viewer)
    assert response.text.splitlines()[0] == ",".join(exports.OUTCOME_COLUMNS)
    found = rows(response)
    got = sorted(
        (r["block_id"], r["side"], r["verdict"], r["level_status"], r["referral_status"]) for r in found
    )
    [second] = {r["block_id"] for r in found} - {first["id"]}
    # Rows come keyed by target, in no clinical order; the voided block has none.
    assert got == sorted(
        [
            (first["id"], "left", "positive", "referral_recommended", "open"),
            (first["id"], "right", "positive", "awaiting_confirmation", ""),
            (second, "left", "positive", "referral_recommended", "open"),
        ]
    )
    [row] = [r for r in found if r["side"] == "left" and r["block_id"] == first["id"]]
    assert (row["patient_mrn"], row["joint"], row["agent"], row["baseline"]) == (
        mrn,
        "L4-L5",
        "lidocaine",
        "8",
    )
    assert (row["peak_relief_pct"], row["relief_duration_minutes"], row["required_minutes"]) == (
        "87.5",
        "60",
        "60",
    )
    assert row["performed_at"].startswith("2026-10-05T09:00:00")


async def test_export_outcomes_pages_through_every_row(
    client: httpx.AsyncClient, ehr: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setattr(exports, "EXPORT_PAGE", 2)  # several keyset pages from a handful of rows
    patient = await new_patient(client, ehr)
    for week in range(3):
        await diary_block(
            client,
            ehr,
            patient,
            DAY1 + week * WEEK,
            POSITIVE,
            targets=[{"joint": "L5-S1", "side": "bilateral"}],
        )
    found = rows(await client.get("/v1/exports/outcomes.csv", headers=ehr))
    assert len(found) == 6 and len({(r["block_id"], r["side"]) for r in found}) == 6


async def test_export_outcomes_other_clinic_gets_only_the_header(
    client: httpx.AsyncClient, ehr: dict[str, str], other_clinic: dict[str, str]
) -> None:
    patient = await new_patient(client, ehr)
    await diary_block(client, ehr, patient, DAY1, POSITIVE)
    assert rows(await client.get("/v1/exports/outcomes.csv", headers=other_clinic)) == []


async def test_export_audit_admin_only_filtered_and_itself_audited(
    client: httpx.AsyncClient, admin: dict[str, str], ehr: dict[str, str], session: AsyncSession
) -> None:
    patient = await new_patient(client, ehr)
    await client.get(f"/v1/patients/{patient}", headers=ehr)
    assert (await client.get("/v1/exports/audit.csv", headers=ehr)).status_code == 403
    found = rows(await client.get(f"/v1/exports/audit.csv?resource_id={patient}", headers=admin))
    assert [(r["action"], r["resource_type"], r["role"]) for r in found] == [
        ("create", "patient", "ehr"),
        ("read", "patient", "ehr"),
    ]
    everything = rows(await client.get("/v1/exports/audit.csv?resource_type=patient", headers=admin))
    assert len(everything) == 2
    bad = await client.get(
        "/v1/exports/audit.csv?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", headers=admin
    )
    assert bad.status_code == 422
    exported = (
        await session.scalars(select(AuditEvent.resource_type).where(AuditEvent.action == "export"))
    ).all()
    assert sorted(exported) == ["audit_event", "audit_event"]
