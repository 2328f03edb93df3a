"""The clinic-wide pass is incremental (api/services/clinic_pass.py): a policy change that no verdict
reads keeps the stored outcomes, a verdict change rewrites only outcomes whose content differs, and a
batch of patients touches only those patients.

Each test marks a stored target outcome (a verdict no diary gave, its content_hash cleared or kept) to see
whether the pass evaluated it again; the equivalence property test proves the results are the same as a
fresh evaluation's.
"""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.clinic_pass import reevaluate_clinic
from api.services.policies import active_policy
from models import TargetOutcome
from tests.api.diaries import DAY1, POSITIVE, diary_block, new_patient

LEVEL_ONLY = {"profile": "medicare", "enforce_coverage_criteria": False, "require_concordance": True}


async def _mark(session: AsyncSession, block_id: str, clear_hash: bool) -> None:
    """Store a verdict the diary does not give: only a pass that evaluates the block again undoes it."""
    values: dict[str, object] = {"verdict": "indeterminate"}
    if clear_hash:
        values["content_hash"] = None
    async with session.begin():
        await session.execute(
            update(TargetOutcome).where(TargetOutcome.block_id == uuid.UUID(block_id)).values(**values)
        )


async def _stored(session: AsyncSession, block_id: str) -> tuple[str, int]:
    async with session.begin():  # the app shares the test's session: end each read before a call
        query = select(TargetOutcome.verdict, TargetOutcome.policy_version)
        row = (await session.execute(query.where(TargetOutcome.block_id == uuid.UUID(block_id)))).one()
        return row.verdict, row.policy_version


async def test_put_policy_level_only_keeps_stored_outcomes(client, admin, ehr, session):
    block = await diary_block(client, ehr, await new_patient(client, ehr), DAY1, POSITIVE)
    await _mark(session, block["id"], clear_hash=True)
    answer = await client.put("/v1/policy", json=LEVEL_ONLY, headers=admin)
    assert answer.status_code == 200
    # Not evaluated again, yet stamped with the new version.
    assert await _stored(session, block["id"]) == ("indeterminate", answer.json()["version"])
    answer = await client.put("/v1/policy", json={"profile": "consensus"}, headers=admin)
    assert await _stored(session, block["id"]) == ("positive", answer.json()["version"])


async def test_put_policy_verdict_change_rewrites_only_changed_content(client, admin, ehr, session):
    block = await diary_block(client, ehr, await new_patient(client, ehr), DAY1, POSITIVE)
    await client.put("/v1/policy", json={"profile": "custom", "threshold_pct": 80}, headers=admin)
    await _mark(session, block["id"], clear_hash=False)  # content_hash still says "the medicare verdict"
    # Same verdict content under custom 80% as under medicare: the row is not rewritten, only stamped.
    answer = await client.put("/v1/policy", json={"profile": "custom", "threshold_pct": 79}, headers=admin)
    assert answer.status_code == 200
    assert await _stored(session, block["id"]) == ("indeterminate", answer.json()["version"])


async def test_reevaluate_clinic_batch_touches_only_its_patients(client, ehr, clinic, session):
    first = await diary_block(client, ehr, await new_patient(client, ehr), DAY1, POSITIVE)
    second = await diary_block(client, ehr, await new_patient(client, ehr), DAY1, POSITIVE)
    for block in (first, second):
        await _mark(session, block["id"], clear_hash=True)
    async with session.begin():
        policy = await active_policy(session, clinic.id)
        await reevaluate_clinic(session, clinic.id, policy, patient_ids=[uuid.UUID(first["patient_id"])])
    assert (await _stored(session, first["id"]))[0] == "positive"
    assert (await _stored(session, second["id"]))[0] == "indeterminate"
