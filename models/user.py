import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, utcnow
from models.types import choice

USER_ROLES = ("admin", "clinician", "staff", "viewer")


class User(IdMixin, CreatedMixin, Base):
    """A person of one clinic who signs in to the staff workspace. Disabled, never deleted."""

    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("clinic_id", "email"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    email: Mapped[str] = mapped_column(String(320))  # stored lowercased and trimmed
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(choice("user_role", *USER_ROLES))
    password_hash: Mapped[str] = mapped_column(String(200))
    # A one-time password (new user, reset) must be replaced at the next sign-in.
    must_change_password: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class UserSession(IdMixin, CreatedMixin, Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is kept."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user", "user_id", "ended_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    client_addr: Mapped[str | None] = mapped_column(String(64))


class SignInAttempt(IdMixin, Base):
    """Every sign-in attempt by email, known or not: the lockout counts the recent failures."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (Index("ix_sign_in_attempt_email_at", "email", "at"),)

    email: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded: Mapped[bool]
    client_addr: Mapped[str | None] = mapped_column(String(64))
