"""The MDM^T02 of a referral event: the level's outcome letter, rendered when the event is first delivered.

A PDF costs 0.1-1 s of CPU, so it is never rendered inside the write that opened or fulfilled the referral
(that transaction holds the patient's lock). The deliverer renders it instead: the letter's figures are read
in one short transaction, the PDF is drawn outside any transaction, and the message is stored on the event
(only if none is stored yet), so every attempt and every subscriber gets the same bytes. The letter shows
the level as it stands at that first delivery, normally moments after the event.
"""

import asyncio
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.hl7.messages import mdm_t02
from api.schemas.referrals import ReferralPublic
from api.services import records
from api.services.letters import html_to_pdf, render_letter_html
from models import OutboxEvent
from models.base import utcnow


async def letter_message(
    sessionmaker: async_sessionmaker[AsyncSession],
    clinic_id: uuid.UUID,
    event_id: uuid.UUID,
    payload: dict[str, Any],
) -> str:
    """The event's MDM^T02, rendered and stored now unless another worker stored one first."""
    referral = ReferralPublic.model_validate(payload["data"])
    async with sessionmaker() as session, session.begin():
        patient = await records.get_patient(session, clinic_id, referral.patient_id)
        html = await render_letter_html(
            session, clinic_id, referral.patient_id, referral.joint, referral.side
        )
    pdf = await asyncio.to_thread(html_to_pdf, html)
    fulfilled = payload["type"] == "referral.fulfilled" and referral.fulfilled_at is not None
    activity_at = referral.fulfilled_at if fulfilled else referral.recommended_at
    message = mdm_t02(patient, referral, pdf, str(event_id), utcnow(), activity_at)
    return await _store(sessionmaker, event_id, message)


async def _store(sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID, message: str) -> str:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event_id, OutboxEvent.hl7_message.is_(None))
            .values(hl7_message=message)
        )
        stored = await session.scalar(select(OutboxEvent.hl7_message).where(OutboxEvent.id == event_id))
    return stored or message
