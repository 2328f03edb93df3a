import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin
from models.block import RECORD_STATUSES
from models.types import choice

PHASES = ("pre", "post")
ACTIVE = text("status = 'active'")
SOURCES = ("patient_diary", "clinician", "ehr_import")


class Reading(IdMixin, CreatedMixin, Base):
    """The current version of one pain score for one target (CR-7).

    Every version, the first included, is also kept in reading_version, so an
    amendment or a void never destroys what was recorded before.
    """

    __tablename__ = "reading"
    __table_args__ = (
        Index("ix_reading_target_time", "target_id", "recorded_at"),
        Index("ix_reading_block", "block_id", "created_at"),
        # One active score per target and instant, whatever its phase: a re-posted batch or a second
        # score at the same minute is a 409, not a silent duplicate. Voided readings do not count.
        Index(
            "uq_reading_active_target_time",
            "target_id",
            "recorded_at",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block.id"))
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block_target.id"))
    phase: Mapped[str] = mapped_column(choice("reading_phase", *PHASES))
    recorded_at: Mapped[datetime]
    score: Mapped[int]
    activity: Mapped[str | None] = mapped_column(String(500))
    analgesic_taken: Mapped[bool] = mapped_column(default=False)
    analgesic: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(choice("reading_source", *SOURCES))
    status: Mapped[str] = mapped_column(choice("reading_status", *RECORD_STATUSES), default="active")
    version: Mapped[int] = mapped_column(default=1)
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
