import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.block import RECORD_STATUSES
from models.types import choice


class ReadingVersion(IdMixin, Base):
    """An append-only snapshot of a reading at each version."""

    __tablename__ = "reading_version"
    __table_args__ = (UniqueConstraint("reading_id", "version"),)

    reading_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reading.id"))
    version: Mapped[int]
    score: Mapped[int]
    recorded_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(choice("reading_version_status", *RECORD_STATUSES))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    changed_by: Mapped[str | None] = mapped_column(Text)
    changed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str | None] = mapped_column(Text)
