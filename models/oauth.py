import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.api_key import ROLES
from models.base import Base, CreatedMixin, IdMixin
from models.types import choice

# A JWKS is given inline or by URL, never both: SQL NULL (not JSON null) marks the one left out.
ONE_KEY_SOURCE = "(jwks IS NULL) <> (jwks_url IS NULL)"


class OAuthClient(IdMixin, CreatedMixin, Base):
    """A SMART Backend Services client (private_key_jwt). Its `id` is the OAuth `client_id`.

    Each client is backed by an api_key row holding its clinic and role (and a hash of a secret that was
    never shown): audit rows, `created_by_key_id` and Idempotency-Key records name that key.
    """

    __tablename__ = "oauth_client"
    __table_args__ = (CheckConstraint(ONE_KEY_SOURCE, name="one_key_source"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"), index=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(choice("oauth_client_role", *ROLES))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    jwks_url: Mapped[str | None] = mapped_column(String(2000))
    revoked_at: Mapped[datetime | None]


class OAuthToken(IdMixin, CreatedMixin, Base):
    """An issued access token: opaque to the client, only its SHA-256 kept, like an API key."""

    __tablename__ = "oauth_token"
    __table_args__ = (Index("ix_oauth_token_expires", "expires_at"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_client.id"), index=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(choice("oauth_token_role", *ROLES))
    expires_at: Mapped[datetime]


class UsedJti(IdMixin, Base):
    """A JWT id already accepted from an issuer (a client assertion or a CDS Hooks request).

    The unique constraint refuses a replay, even between concurrent requests. Rows are kept until the JWT
    they came from has expired: after that the JWT is refused for its `exp` anyway.
    """

    __tablename__ = "used_jti"
    __table_args__ = (
        UniqueConstraint("issuer", "jti"),
        Index("ix_used_jti_expires", "expires_at"),
    )

    issuer: Mapped[str] = mapped_column(String(500))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime]


class CdsIssuer(IdMixin, CreatedMixin, Base):
    """An EHR trusted to call the CDS Hooks service for one clinic, with the keys its JWTs are signed with."""

    __tablename__ = "cds_issuer"
    __table_args__ = (
        UniqueConstraint("clinic_id", "issuer"),
        Index("ix_cds_issuer_issuer", "issuer"),
        CheckConstraint(ONE_KEY_SOURCE, name="one_key_source"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    issuer: Mapped[str] = mapped_column(String(500))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    jwks_url: Mapped[str | None] = mapped_column(String(2000))
