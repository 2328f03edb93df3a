import uuid
from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin


class Patient(IdMixin, CreatedMixin, Base):
    __tablename__ = "patient"
    __table_args__ = (UniqueConstraint("clinic_id", "mrn"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"), index=True)
    mrn: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None]
