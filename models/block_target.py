import uuid

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin
from models.types import choice

SIDES = ("left", "right")
REGIONS = ("cervical", "thoracic", "lumbar")


class BlockTarget(IdMixin, Base):
    """One nerve level (joint and side) blocked in a session (CR-2)."""

    __tablename__ = "block_target"
    __table_args__ = (
        UniqueConstraint("block_id", "joint", "side"),
        Index("ix_block_target_level", "clinic_id", "patient_id", "joint", "side"),
        # The outcome export pages a clinic's targets by id (api/services/exports.py).
        Index("ix_block_target_clinic_id_id", "clinic_id", "id"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"))
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block.id"))
    position: Mapped[int]
    joint: Mapped[str] = mapped_column(String(8))
    side: Mapped[str] = mapped_column(choice("target_side", *SIDES))
    region: Mapped[str] = mapped_column(choice("target_region", *REGIONS))
