import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Numeric, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.types import choice

VERDICTS = ("positive", "negative", "indeterminate")


class BlockOutcome(Base):
    """The stored evaluation of a block as a whole: its policy and session warnings (CR-14)."""

    __tablename__ = "block_outcome"

    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block.id"), primary_key=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    policy_profile: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int]
    threshold_pct: Mapped[int]
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TargetOutcome(Base):
    """The stored verdict of one block at one nerve level (CR-9 to CR-13)."""

    __tablename__ = "target_outcome"

    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block_target.id"), primary_key=True)
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    verdict: Mapped[str] = mapped_column(choice("target_outcome_verdict", *VERDICTS))
    baseline: Mapped[int | None]
    peak_relief_pct: Mapped[float | None] = mapped_column(Numeric(6, 1))
    sustained_relief_pct: Mapped[float | None] = mapped_column(Numeric(6, 1))
    relief_duration_minutes: Mapped[int]
    required_minutes: Mapped[int]
    readings_used: Mapped[list[str]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    # CR-25: [{"reading_id", "reason"}] kept but left out of the verdict.
    excluded_readings: Mapped[list[dict[str, str]]] = mapped_column(JSON, server_default=text("'[]'"))
    # CR-18: the best run was seen to end inside the horizon.
    relief_ended: Mapped[bool] = mapped_column(default=False, server_default=false())
    # CR-27/CR-28: an ablation target's warnings that depend on its level (no_referral, ...); null: none.
    context_warnings: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    # A digest of the verdict columns (verdict .. relief_ended): the clinic-wide pass compares it with the
    # fresh verdict's to rewrite only changed rows without reading their JSON back. Null: unknown.
    content_hash: Mapped[str | None] = mapped_column(String(32))
    policy_version: Mapped[int]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
