import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin
from models.types import choice


class IdempotencyRecord(IdMixin, CreatedMixin, Base):
    """The first response to a POST carrying an Idempotency-Key, per API key.

    The unique constraint, not a lookup, is what makes concurrent retries store one record.
    """

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("api_key_id", "key"),
        Index("ix_idempotency_record_created", "created_at"),
    )

    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(choice("idempotency_state", "in_flight", "completed"))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None]
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    completed_at: Mapped[datetime | None]
    # Set by the request's own transaction, with its writes: a record without it after its lease belongs
    # to a request that never committed (a crash, a kill -9), so it wrote nothing and the key is free.
    applied_at: Mapped[datetime | None]
