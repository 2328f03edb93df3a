from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin


class Clinic(IdMixin, CreatedMixin, Base):
    __tablename__ = "clinic"

    name: Mapped[str] = mapped_column(String(200))
