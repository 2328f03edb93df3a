"""Re-evaluation of verdicts, levels and referrals after a write (stub until the outcome engine lands)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession


async def reevaluate_block(session: AsyncSession, clinic_id: uuid.UUID, block_id: uuid.UUID) -> None:
    """Recompute and store the block's outcome and the levels of its targets, in the caller's transaction.

    Call after any write that can change a verdict: a new block, new/amended/voided readings, a voided block.
    """
    return None
