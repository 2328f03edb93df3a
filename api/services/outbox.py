"""The transactional outbox: events are written with the change that caused them.

(Stub until webhooks land: emit() records nothing yet.)
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

EVENT_TYPES = ("referral.recommended", "referral.withdrawn", "block.evaluated")


async def emit(session: AsyncSession, clinic_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> None:
    """Queue `event_type` with `data` (the referral or outcome, whole) for every matching subscription."""
    return None
