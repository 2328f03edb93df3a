"""A patient's RFA plan (CR-29): its open and acknowledged referrals grouped into ablation sessions."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.rfa_plan import PlanReferral, rfa_plan
from api.schemas.rfa_plan import RfaPlan
from api.services.levels import LIVE_STATUSES
from api.services.patients import get_patient
from models import Referral


async def plan_for_patient(session: AsyncSession, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> RfaPlan:
    await get_patient(session, clinic_id, patient_id)  # 404 for another clinic's or an unknown patient
    rows = await session.execute(
        select(Referral.id, Referral.joint, Referral.side).where(
            Referral.clinic_id == clinic_id,
            Referral.patient_id == patient_id,
            Referral.status.in_(LIVE_STATUSES),
        )
    )
    plans = rfa_plan([PlanReferral(*row) for row in rows.all()])
    return RfaPlan.model_validate(
        {
            "families": [
                {
                    "payer_family": plan.payer_family,
                    "sessions": [
                        {
                            "targets": [{"joint": joint, "side": side} for joint, side in session_.targets],
                            "nerves": list(session_.nerves),
                            "codes": [
                                {"cpt": c.cpt, "modifier": c.modifier, "units": c.units}
                                for c in session_.codes
                            ],
                            "referral_ids": list(session_.referral_ids),
                        }
                        for session_ in plan.sessions
                    ],
                }
                for plan in plans
            ]
        }
    )
