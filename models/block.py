import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedMixin, IdMixin
from models.block_target import BlockTarget
from models.types import choice

PROCEDURES = ("medial_branch_block", "intra_articular_injection", "radiofrequency_ablation")
INTENTS = ("diagnostic", "therapeutic")
AGENTS = ("lidocaine", "bupivacaine", "ropivacaine", "saline_placebo", "other")
SEDATIONS = ("none", "minimal", "moderate", "monitored_anesthesia_care", "general")
GUIDANCES = ("fluoroscopy", "ct", "ultrasound", "none")
SCALES = ("nrs", "vas")
RECORD_STATUSES = ("active", "entered_in_error")


class Block(IdMixin, CreatedMixin, Base):
    """One injection session (CR-5); its targets are the nerve levels blocked."""

    __tablename__ = "block"
    __table_args__ = (
        Index("ix_block_clinic_patient_performed", "clinic_id", "patient_id", "performed_at"),
        CheckConstraint(
            "agent <> 'other' OR expected_relief_minutes IS NOT NULL", name="other_needs_minutes"
        ),
        # CR-27: an ablation is a treatment, never a diagnostic block.
        CheckConstraint(
            "procedure <> 'radiofrequency_ablation' OR intent = 'therapeutic'", name="rfa_is_therapeutic"
        ),
        CheckConstraint(
            "(coverage_override_reason IS NULL) = (coverage_override_at IS NULL)", name="override_complete"
        ),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"))
    performed_at: Mapped[datetime]
    procedure: Mapped[str] = mapped_column(choice("block_procedure", *PROCEDURES))
    intent: Mapped[str] = mapped_column(choice("block_intent", *INTENTS))
    agent: Mapped[str] = mapped_column(choice("block_agent", *AGENTS))
    expected_relief_minutes: Mapped[int | None]
    concentration_pct: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    volume_ml_per_nerve: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    sedation: Mapped[str] = mapped_column(choice("block_sedation", *SEDATIONS))
    guidance: Mapped[str] = mapped_column(choice("block_guidance", *GUIDANCES))
    pain_scale: Mapped[str] = mapped_column(choice("block_pain_scale", *SCALES))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(choice("block_status", *RECORD_STATUSES), default="active")
    void_reason: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[datetime | None]
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    version: Mapped[int] = mapped_column(default=1)
    external_id: Mapped[str | None] = mapped_column(String(200))
    # CR-24: a clinician's override of the coverage criteria (who and when; audited in block_version).
    coverage_override_reason: Mapped[str | None] = mapped_column(Text)
    coverage_override_by: Mapped[str | None] = mapped_column(String(200))
    coverage_override_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    coverage_override_at: Mapped[datetime | None]

    targets: Mapped[list[BlockTarget]] = relationship(
        lazy="raise", order_by="BlockTarget.position", cascade="all"
    )
