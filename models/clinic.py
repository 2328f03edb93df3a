from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin

# The clinical rules the stored outcomes, levels and referrals are computed under: 2 since CR-22..CR-30.
# A clinic whose rules_version is lower is re-evaluated by `blocktrack migrate` / `serve` (api/migrate.py).
RULES_VERSION = 2


class Clinic(IdMixin, CreatedMixin, Base):
    __tablename__ = "clinic"

    name: Mapped[str] = mapped_column(String(200))
    # CR-30: the IANA zone its sentences show times in; stored times stay UTC.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default=text("'UTC'"))
    rules_version: Mapped[int] = mapped_column(default=RULES_VERSION, server_default=text("1"))
