"""Jobs: the state of work a request left to the server's worker processes."""

import math
import uuid

from fastapi import APIRouter, Request, Response

from api.auth import Reader, Session
from api.etag import etag_for
from api.schemas.common import AUTHED, problems
from api.schemas.jobs import JobPublic
from api.services import jobs as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["jobs"])


def job_headers(job: JobPublic, poll_seconds: float = 1.0) -> dict[str, str]:
    """ETag, and while the job is unfinished a `Retry-After`: when polling again may show progress."""
    headers = {"ETag": etag_for(job)}
    if job.status in ("queued", "running"):
        headers["Retry-After"] = str(max(1, math.ceil(poll_seconds)))
    return headers


@router.get(
    "/jobs/{job_id}",
    response_model=JobPublic,
    responses={
        200: {
            "headers": {
                "Retry-After": {"description": "While queued or running.", "schema": {"type": "integer"}}
            }
        },
        **problems(*AUTHED, 404),
    },
)
async def get_job(
    job_id: uuid.UUID,
    request: Request,
    session: Session,
    principal: Reader,
    audit: AuditLog,
    response: Response,
) -> JobPublic:
    """A job's status, progress and, once it has succeeded, its result. Another clinic's job is a 404."""
    job = service.job_public(await service.get_job(session, principal.clinic_id, job_id))
    audit.record("read", "job", job_id)
    response.headers.update(job_headers(job, request.app.state.settings.job_poll_seconds))
    return job
