import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.block_target import REGIONS, SIDES
from models.types import choice

LEVEL_STATUSES = (
    "no_blocks",
    "pending",
    "awaiting_confirmation",
    "referral_recommended",
    "not_indicated",
    "ablated",
    "repeat_rfa_eligible",
)


class Level(IdMixin, Base):
    """The stored referral status of one nerve level of a patient (CR-16)."""

    __tablename__ = "level"
    __table_args__ = (
        UniqueConstraint("patient_id", "joint", "side"),
        Index("ix_level_clinic_patient", "clinic_id", "patient_id"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"))
    joint: Mapped[str] = mapped_column(String(8))
    side: Mapped[str] = mapped_column(choice("level_side", *SIDES))
    region: Mapped[str] = mapped_column(choice("level_region", *REGIONS))
    status: Mapped[str] = mapped_column(choice("level_status", *LEVEL_STATUSES))
    qualifying_block_ids: Mapped[list[str]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    policy_version: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
