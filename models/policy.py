import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin


class PolicyVersion(IdMixin, CreatedMixin, Base):
    """One version of a clinic's outcome policy (CR-21). The highest version is active."""

    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("clinic_id", "version"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    version: Mapped[int]
    profile: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
