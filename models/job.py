import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin
from models.types import choice

JOB_KINDS = ("policy_reevaluation",)
JOB_STATUSES = ("queued", "running", "succeeded", "failed")
# The statuses of a job some worker still has to finish.
LIVE = "status IN ('queued', 'running')"


class Job(IdMixin, CreatedMixin, Base):
    """Work a request left to the server's worker processes (api/jobs/worker.py), e.g. re-evaluating a
    clinic after `PUT /v1/policy` with `Prefer: respond-async`.

    A worker claims a job by setting `claimed_until` (its lease) and bumping `claims`; every batch it
    commits checks that `claims` is still its own, so a worker whose lease expired and whose job was
    claimed again can no longer write. `cursor` is the last patient id whose batch committed: a job
    claimed again resumes after it.
    """

    __tablename__ = "job"
    __table_args__ = (
        # At most one live job of a kind per clinic: a second policy change while one runs is a 409.
        Index(
            "uq_job_live",
            "clinic_id",
            "kind",
            unique=True,
            postgresql_where=text(LIVE),
            sqlite_where=text(LIVE),
        ),
        Index("ix_job_claim", "status", "created_at"),
        CheckConstraint("done >= 0 AND (total IS NULL OR total >= 0)", name="counts"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    kind: Mapped[str] = mapped_column(choice("job_kind", *JOB_KINDS))
    status: Mapped[str] = mapped_column(choice("job_status", *JOB_STATUSES), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    cursor: Mapped[uuid.UUID | None]
    claims: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_key.id"))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id"))
