import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow
from models.types import choice

BLOCK_CHANGES = ("create", "correct", "void", "override", "override_removed")


class BlockVersion(IdMixin, Base):
    """An append-only snapshot of a block's correctable fields at each version, with who changed it and why.

    Targets never change (void and re-record instead), so they are not part of the snapshot.
    """

    __tablename__ = "block_version"
    __table_args__ = (UniqueConstraint("block_id", "version"),)

    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block.id"))
    version: Mapped[int]
    change: Mapped[str] = mapped_column(choice("block_version_change", *BLOCK_CHANGES))
    performed_at: Mapped[datetime]
    agent: Mapped[str] = mapped_column(String(32))
    expected_relief_minutes: Mapped[int | None]
    concentration_pct: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    volume_ml_per_nerve: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    sedation: Mapped[str] = mapped_column(String(32))
    guidance: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    coverage_override_reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    changed_by: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
