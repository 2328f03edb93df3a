"""Referrals for radiofrequency ablation (CR-19, CR-20, CR-27): opened, fulfilled and withdrawn by
evaluation, worked by staff.

Decisions recorded here:
- A level holds at most one live (open or acknowledged) referral; the partial unique index
  uq_referral_live_level enforces it. Referrals are inserted with ON CONFLICT DO NOTHING on that
  index: a concurrent transaction that opened the same level's referral first wins, and ours is
  simply "already open" (same effect as a SAVEPOINT + IntegrityError, without a round trip per row).
- While a level stays referral_recommended its live referral is kept as it is, even when the
  qualifying pair moves on (a third positive block, a voided first block with an earlier positive
  behind it) or the policy changes: an order may already be placed from it. It keeps the pair and
  policy version that opened it; the level view shows the current pair.
- Acknowledging is idempotent: acknowledging an acknowledged (or fulfilled) referral again answers it
  unchanged, attaches an external_order_id when it has none, and refuses another one (409). A
  withdrawn referral cannot be acknowledged (409).
- Only open and acknowledged referrals are withdrawn; a fulfilled one never is (CR-19 v2).
"""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ARRAY, Text, Uuid, bindparam, func, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.clinical.nomenclature import FAMILY_OF
from api.clinical.policy import Policy
from api.clinical.referral import suggested_procedure
from api.errors import Conflict, NotFound
from api.pagination import decode_cursor, encode_cursor
from api.schemas.referrals import ReferralPage, ReferralPublic
from api.services.ablations import apply_ablations
from api.services.bulk import chunks, copy_insert, insert_for, is_postgresql
from api.services.levels import LIVE_STATUSES, EvaluatedLevel, note_dicts
from models import Referral
from models.base import utcnow
from models.referral import LIVE

_table = Referral.__table__
_bump = _table.c.version + 1


def referral_public(row: Any) -> ReferralPublic:
    return ReferralPublic.model_validate(
        {
            "id": row.id,
            "patient_id": row.patient_id,
            "joint": row.joint,
            "side": row.side,
            "region": row.region,
            "payer_family": FAMILY_OF[row.joint],
            "status": row.status,
            "qualifying_block_ids": row.qualifying_block_ids,
            "recommended_at": row.recommended_at,
            "policy": {"profile": row.policy_profile, "version": row.policy_version},
            "procedure": {
                "name": row.procedure_name,
                "nerves": row.nerves,
                "cpt_first_joint": row.cpt_first_joint,
                "cpt_each_additional_joint": row.cpt_each_additional_joint,
            },
            "warnings": row.warnings,
            "acknowledged_at": row.acknowledged_at,
            "acknowledged_by": row.acknowledged_by,
            "external_order_id": row.external_order_id,
            "withdrawn_at": row.withdrawn_at,
            "withdrawn_reason": row.withdrawn_reason,
            "fulfilled_by_block_id": row.fulfilled_by_block_id,
            "fulfilled_at": row.fulfilled_at,
        }
    )


async def _rows(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    for part in chunks(list(ids)):
        rows += (await session.execute(select(_table).where(_table.c.id.in_(part)))).all()
    return rows


def _worklist_order(row: Row[Any]) -> tuple[Any, ...]:
    return (row.recommended_at, row.id)


async def _live(
    session: AsyncSession, clinic_id: uuid.UUID, level_ids: Sequence[uuid.UUID] | None
) -> dict[uuid.UUID, uuid.UUID]:
    """level_id -> id of its open or acknowledged referral (level_ids None: the whole clinic)."""
    query = select(_table.c.level_id, _table.c.id).where(
        _table.c.clinic_id == clinic_id, _table.c.status.in_(LIVE_STATUSES)
    )
    if level_ids is None:
        return dict((await session.execute(query)).all())
    found: dict[uuid.UUID, uuid.UUID] = {}
    for part in chunks(list(level_ids)):
        found.update((await session.execute(query.where(_table.c.level_id.in_(part)))).all())
    return found


def _new_referral(clinic_id: uuid.UUID, policy: Policy, level: EvaluatedLevel, now: Any) -> dict[str, Any]:
    procedure = suggested_procedure(level.joint)  # CR-19: RFA of the same nerves (CR-4), CPT by region
    return {
        "id": uuid.uuid4(),
        "clinic_id": clinic_id,
        "patient_id": level.patient_id,
        "level_id": level.level_id,
        "joint": level.joint,
        "side": level.side,
        "region": level.region,
        "status": "open",
        "qualifying_block_ids": [str(i) for i in level.status.qualifying_block_ids],
        "recommended_at": now,
        "policy_profile": policy.profile,
        "policy_version": policy.version,
        "procedure_name": procedure.name,
        "nerves": list(procedure.nerves),
        "cpt_first_joint": procedure.cpt_first_joint,
        "cpt_each_additional_joint": procedure.cpt_each_additional_joint,
        "warnings": note_dicts(level.referral_warnings),
        "acknowledged_at": None,
        "external_order_id": None,
        "acknowledged_by": None,
        "acknowledged_by_user_id": None,
        "acknowledged_by_key_id": None,
        "withdrawn_at": None,
        "withdrawn_reason": None,
        "fulfilled_by_block_id": None,
        "fulfilled_at": None,
        "version": 1,
    }


async def _open(session: AsyncSession, records: list[dict[str, Any]], bulk: bool) -> list[Row[Any]]:
    """Insert the new referrals; a level that already has a live one keeps it (CR-19: never a duplicate).

    Returns the inserted rows, whole (what the events carry). `bulk` (a clinic-wide pass, possibly
    thousands of referrals): COPY-staged on PostgreSQL.
    """
    if not records:
        return []
    if bulk and is_postgresql(session):
        return await copy_insert(session, _table, records, _keep_live, returning=list(_table.c))
    stmt = _keep_live(insert_for(session, _table))
    return list((await session.execute(stmt.returning(*_table.c), records)).all())


def _keep_live(stmt: Any) -> Any:
    return stmt.on_conflict_do_nothing(index_elements=["level_id"], index_where=LIVE)


def _withdraw_reason(level: EvaluatedLevel) -> str:
    why = " ".join(note.message for note in level.status.reasons)
    return f"The level is now {level.status.status.replace('_', ' ')}. {why}".strip()


async def _withdraw(session: AsyncSession, pairs: list[tuple[uuid.UUID, EvaluatedLevel]]) -> list[Row[Any]]:
    """CR-19: withdrawn with the reason, never deleted. Returns the referrals as withdrawn, whole."""
    if not pairs:
        return []
    now = utcnow()
    reasons = [(rid, _withdraw_reason(level)) for rid, level in pairs]
    if is_postgresql(session):
        return await _withdraw_set_based(session, reasons, now)
    stmt = (
        update(_table)
        .where(_table.c.id == bindparam("b_id"), LIVE)
        .values(status="withdrawn", withdrawn_at=now, withdrawn_reason=bindparam("b_reason"), version=_bump)
    )
    await session.execute(stmt, [{"b_id": rid, "b_reason": reason} for rid, reason in reasons])
    return await _rows(session, [rid for rid, _ in reasons])


async def _withdraw_set_based(
    session: AsyncSession, reasons: list[tuple[uuid.UUID, str]], now: Any
) -> list[Row[Any]]:
    """PostgreSQL: one UPDATE ... FROM unnest(ids, reasons) RETURNING the rows, whatever their number.

    A clinic-wide pass can withdraw thousands of referrals: an UPDATE per row and a re-read cost
    seconds; two array parameters and one statement do not.
    """
    given = (
        func.unnest(
            bindparam("ids", [rid for rid, _ in reasons], type_=ARRAY(Uuid())),
            bindparam("reasons", [reason for _, reason in reasons], type_=ARRAY(Text())),
        )
        .table_valued("id", "reason")
        .render_derived(name="given")
    )
    stmt = (
        update(_table)
        .where(_table.c.id == given.c.id, LIVE)
        .values(status="withdrawn", withdrawn_at=now, withdrawn_reason=given.c.reason, version=_bump)
        .returning(*_table.c)
    )
    return list((await session.execute(stmt)).all())


async def sync_referrals(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    policy: Policy,
    levels: Iterable[EvaluatedLevel],
    whole_clinic: bool = False,
    live: dict[uuid.UUID, uuid.UUID] | None = None,
    wanted: set[str] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """CR-27 first (fulfil by ablations, give back what a voided ablation had fulfilled), then CR-19: open
    a referral for each level entering referral_recommended, withdraw the live ones of levels leaving it.

    Returns the `referral.recommended` / `.withdrawn` / `.fulfilled` events to publish, each with the
    whole referral. A fulfilled referral given back to open or acknowledged is published as
    `referral.recommended` again, unless this same pass withdraws it. `live` (level id -> its open or
    acknowledged referral), when the caller read it already, saves reading it again. `wanted`: the event
    types some subscription wants (None: all); the others are not built (a clinic pass opens thousands).
    """
    levels = list(levels)
    if live is None:
        live = await _live(session, clinic_id, None if whole_clinic else [lvl.level_id for lvl in levels])
    else:
        live = dict(live)  # apply_ablations keeps it current
    ablation = await apply_ablations(session, levels, live)
    now = utcnow()
    recommended = [lvl for lvl in levels if lvl.status.status == "referral_recommended"]
    opened = await _open(
        session,
        [_new_referral(clinic_id, policy, lvl, now) for lvl in recommended if lvl.level_id not in live],
        bulk=whole_clinic,
    )
    withdrawn = await _withdraw(
        session,
        [
            (live[lvl.level_id], lvl)
            for lvl in levels
            if lvl.status.status != "referral_recommended" and lvl.level_id in live
        ],
    )
    gone = {row.id for row in withdrawn}
    restored = [row for row in ablation.restored if row.id not in gone]
    return [
        (event_type, referral_public(row).model_dump(mode="json"))
        for event_type, rows in (
            ("referral.fulfilled", ablation.fulfilled),
            ("referral.recommended", opened + restored),
            ("referral.withdrawn", ablation.withdrawn + withdrawn),
        )
        if wanted is None or event_type in wanted
        for row in sorted(rows, key=_worklist_order)
    ]


async def get_referral(session: AsyncSession, clinic_id: uuid.UUID, referral_id: uuid.UUID) -> ReferralPublic:
    row = (
        await session.execute(
            select(_table).where(_table.c.id == referral_id, _table.c.clinic_id == clinic_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No referral {referral_id}.")
    return referral_public(row)


async def list_referrals(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    status: str | None,
    patient_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> ReferralPage:
    """The worklist, oldest recommendation first; keyset paging on (recommended_at, id)."""
    query = select(_table).where(_table.c.clinic_id == clinic_id)
    if status is not None:
        query = query.where(_table.c.status == status)
    if patient_id is not None:
        query = query.where(_table.c.patient_id == patient_id)
    if cursor is not None:
        at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(_table.c.recommended_at, _table.c.id) > tuple_(at, last_id))
    query = query.order_by(_table.c.recommended_at, _table.c.id).limit(limit + 1)
    rows = (await session.execute(query)).all()
    next_cursor = (
        encode_cursor(rows[limit - 1].recommended_at, rows[limit - 1].id) if len(rows) > limit else None
    )
    return ReferralPage(items=[referral_public(r) for r in rows[:limit]], next_cursor=next_cursor)


async def _changed(session: AsyncSession, referral_id: uuid.UUID, condition: Any, **values: Any) -> bool:
    stmt = update(_table).where(_table.c.id == referral_id, condition).values(**values, version=_bump)
    return (await session.execute(stmt)).rowcount == 1  # type: ignore[attr-defined]


def _acknowledged_by(actor: Principal | None) -> dict[str, Any]:
    """Who acknowledged: the person signed in to the workspace, or the API key."""
    if actor is None:
        return {}
    return {
        "acknowledged_by": actor.key_name,
        "acknowledged_by_user_id": actor.user_id,
        "acknowledged_by_key_id": actor.key_id,
    }


async def acknowledge(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    referral_id: uuid.UUID,
    external_order_id: str | None,
    actor: Principal | None = None,
) -> ReferralPublic:
    """open -> acknowledged. Again (acknowledged or fulfilled): an external_order_id is attached when none
    is set, the same one or none answers unchanged, another one is a 409 (CR-19). Withdrawn: 409."""
    current = await get_referral(session, clinic_id, referral_id)
    if current.status == "open":
        values = {
            "status": "acknowledged",
            "acknowledged_at": utcnow(),
            "external_order_id": external_order_id,
            **_acknowledged_by(actor),
        }
        if await _changed(session, referral_id, _table.c.status == "open", **values):
            return await get_referral(session, clinic_id, referral_id)
        current = await get_referral(session, clinic_id, referral_id)  # changed meanwhile
    if current.status == "withdrawn":
        raise Conflict(f"The referral was withdrawn and cannot be acknowledged: {current.withdrawn_reason}")
    if external_order_id is not None and current.external_order_id is None:
        condition = _table.c.external_order_id.is_(None) & (_table.c.status != "withdrawn")
        values = {
            "external_order_id": external_order_id,
            "acknowledged_at": current.acknowledged_at or utcnow(),
        }
        if await _changed(session, referral_id, condition, **values):
            return await get_referral(session, clinic_id, referral_id)
        return await acknowledge(session, clinic_id, referral_id, external_order_id)  # changed meanwhile
    if external_order_id is not None and external_order_id != current.external_order_id:
        raise Conflict(
            f"The referral is already acknowledged with external_order_id {current.external_order_id!r}.",
            current_external_order_id=current.external_order_id,
        )
    return current
