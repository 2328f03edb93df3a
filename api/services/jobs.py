"""Jobs as the API sees them: enqueue a policy change's re-evaluation, read a job's state.

The work itself is done by the server's worker processes (api/jobs/worker.py).
"""

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.clinical.policy import Policy
from api.errors import Conflict, NotFound
from api.schemas.jobs import JobPublic, JobResult
from api.services.policies import create_version, same_settings
from models import Job

POLICY_JOB = "policy_reevaluation"


def job_public(job: Job) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=job.kind,  # type: ignore[arg-type]
        status=job.status,  # type: ignore[arg-type]
        progress=_progress(job),
        done=job.done,
        total=job.total,
        result=None if job.result is None else JobResult.model_validate(job.result),
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _progress(job: Job) -> float:
    if job.status == "succeeded":
        return 1.0
    if not job.total:
        return 0.0
    # Patients registered while the job runs can push `done` past the count taken when it started.
    return round(min(job.done / job.total, 1.0), 4)


async def get_job(session: AsyncSession, clinic_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    job = await session.scalar(select(Job).where(Job.id == job_id, Job.clinic_id == clinic_id))
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


async def _last_policy_job(session: AsyncSession, clinic_id: uuid.UUID) -> Job | None:
    query = (
        select(Job)
        .where(Job.clinic_id == clinic_id, Job.kind == POLICY_JOB)
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def start_policy_change(
    session: AsyncSession,
    principal: Principal,
    current: Policy,
    profile: str,
    overrides: Mapping[str, object],
) -> Job | None:
    """`PUT /v1/policy` with `Prefer: respond-async`: store the new version and queue its re-evaluation.

    None when nothing would change: the same effective settings, and the clinic's last policy job did
    not fail. After a failed job the clinic is partly evaluated under the active version, so the same
    settings queue a job that finishes it (and no new version). While a policy job is queued or
    running, another is a 409 naming it: versions apply one at a time, in order.
    """
    last = await _last_policy_job(session, principal.clinic_id)
    unchanged = same_settings(current, profile, overrides)
    if unchanged and (last is None or last.status != "failed"):
        return None
    if last is not None and last.status in ("queued", "running"):
        raise _busy(last.id)
    if unchanged:
        version = current.version
    else:
        policy, _ = await create_version(session, principal.clinic_id, principal.key_id, profile, overrides)
        version = policy.version
    return await _enqueue(session, principal, {"policy_version": version})


async def _enqueue(session: AsyncSession, principal: Principal, params: dict[str, object]) -> Job:
    job = Job(
        clinic_id=principal.clinic_id,
        kind=POLICY_JOB,
        status="queued",
        params=params,
        created_by_key_id=principal.key_id,
        created_by_user_id=principal.user_id,
    )
    try:
        async with session.begin_nested():
            session.add(job)
            await session.flush()
    except IntegrityError as exc:  # uq_job_live: another request queued one since we looked
        raise _busy(None) from exc
    return job


def _busy(job_id: uuid.UUID | None) -> Conflict:
    which = f" (job {job_id})" if job_id else ""
    extra = {"job_id": str(job_id)} if job_id else {}
    return Conflict(
        f"A policy change is still being applied{which}; wait until its job has finished, then retry.",
        **extra,
    )
