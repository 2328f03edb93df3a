import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin
from models.block_target import REGIONS, SIDES
from models.types import choice

REFERRAL_STATUSES = ("open", "acknowledged", "withdrawn", "fulfilled")
LIVE = text("status IN ('open', 'acknowledged')")


class Referral(IdMixin, Base):
    """A recommendation for radiofrequency ablation of one nerve level (CR-19). Never deleted."""

    __tablename__ = "referral"
    __table_args__ = (
        # CR-19: at most one open or acknowledged referral per level, even under concurrent writes.
        Index("uq_referral_live_level", "level_id", unique=True, postgresql_where=LIVE, sqlite_where=LIVE),
        Index("ix_referral_worklist", "clinic_id", "status", "recommended_at", "id"),
        Index("ix_referral_patient", "clinic_id", "patient_id", "recommended_at"),
        CheckConstraint(
            "(status = 'fulfilled') = (fulfilled_by_block_id IS NOT NULL AND fulfilled_at IS NOT NULL)",
            name="fulfilment_complete",
        ),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"))
    level_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("level.id"))
    joint: Mapped[str] = mapped_column(String(8))
    side: Mapped[str] = mapped_column(choice("referral_side", *SIDES))
    region: Mapped[str] = mapped_column(choice("referral_region", *REGIONS))
    status: Mapped[str] = mapped_column(choice("referral_status", *REFERRAL_STATUSES))
    qualifying_block_ids: Mapped[list[str]] = mapped_column(JSON)
    recommended_at: Mapped[datetime]
    policy_profile: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int]
    procedure_name: Mapped[str] = mapped_column(String(64))
    nerves: Mapped[list[str]] = mapped_column(JSON)
    cpt_first_joint: Mapped[str] = mapped_column(String(8))
    cpt_each_additional_joint: Mapped[str] = mapped_column(String(8))
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None]
    external_order_id: Mapped[str | None] = mapped_column(String(200))
    # Who acknowledged: a person from the workspace, or an API key.
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    acknowledged_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    # CR-27: the ablation that carried it out, and when it was performed.
    fulfilled_by_block_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("block.id"))
    fulfilled_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
