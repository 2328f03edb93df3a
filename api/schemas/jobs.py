"""Jobs: work a request left to the server's worker processes (`Prefer: respond-async`)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from api.examples import with_examples
from api.schemas.common import Schema

JobStatus = Literal["queued", "running", "succeeded", "failed"]

_RUNNING = {
    "id": "5b7e0f4a-2c1d-4e8f-9a3b-6c5d4e3f2a10",
    "kind": "policy_reevaluation",
    "status": "running",
    "progress": 0.4,
    "done": 4000,
    "total": 10000,
    "result": None,
    "error": None,
    "created_at": "2026-12-02T15:00:00Z",
    "started_at": "2026-12-02T15:00:01Z",
    "finished_at": None,
}
_SUCCEEDED = {
    **_RUNNING,
    "status": "succeeded",
    "progress": 1.0,
    "done": 10000,
    "result": {"policy_version": 4},
    "finished_at": "2026-12-02T15:00:09Z",
}


class JobResult(Schema):
    policy_version: int = Field(
        examples=[4], description="The policy version the job applied: every level now reflects it."
    )


class JobPublic(Schema):
    """A job's state. Poll it (the answer carries `Retry-After` while it is queued or running)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra=with_examples([_RUNNING, _SUCCEEDED]))

    id: uuid.UUID = Field(examples=[_RUNNING["id"]])
    kind: Literal["policy_reevaluation"] = Field(
        examples=["policy_reevaluation"], description="Re-evaluating the clinic after `PUT /v1/policy`."
    )
    status: JobStatus = Field(
        examples=["running"],
        description="queued (no worker has it yet), running, succeeded, or failed (see `error`).",
    )
    progress: float = Field(
        ge=0, le=1, examples=[0.4], description="The share of the work done, 0 to 1; 1 once succeeded."
    )
    done: int = Field(examples=[4000], description="Patients re-evaluated so far (each batch commits).")
    total: int | None = Field(
        examples=[10000], description="Patients to re-evaluate; null until a worker starts the job."
    )
    result: JobResult | None = Field(
        examples=[{"policy_version": 4}], description="Null until the job has succeeded."
    )
    error: str | None = Field(
        examples=[None], description="Why the job failed; null unless `status` is failed."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
