import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    """Append-only record of who read, searched or changed what (no route updates or deletes it)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_clinic_at", "clinic_id", "at", "id"),
        Index("ix_audit_event_resource", "clinic_id", "resource_type", "resource_id"),
        Index("ix_audit_event_actor", "clinic_id", "actor_key_id", "at"),
        Index("ix_audit_event_patient", "clinic_id", "patient_id", "at"),
    )

    # Null only for a refused request that named neither a known key nor a patient of any clinic.
    clinic_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clinic.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    result_ids: Mapped[list[str] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    # A person signed in to the staff workspace (actor_key_id is then null).
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
    # The patient whose record was touched: "who looked at this patient" in one indexed query.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
