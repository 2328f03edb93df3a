import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin
from models.types import choice

ROLES = ("admin", "ehr", "staff", "viewer")


class ApiKey(IdMixin, CreatedMixin, Base):
    """A bearer key. Only the SHA-256 of the token is kept; the token is shown once."""

    __tablename__ = "api_key"

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(choice("api_key_role", *ROLES))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None]
    # After this instant the key is refused (a rotated key's grace period ends here too).
    expires_at: Mapped[datetime | None]
    # Written at most once a minute per key and process, so a busy key costs no write per request.
    last_used_at: Mapped[datetime | None]
