"""The job worker: every server process runs one (api/app.py lifespan), claiming queued jobs.

A policy job re-evaluates its clinic in batches of patients, one short transaction each:
1. renew: the job row is updated only if this worker's claim is still the job's latest (`claims`), which
   also extends the lease; a worker that lost its job (its lease expired and another claimed it) stops.
2. lock the next patients after `cursor`, in id order (api/services/locks.py), so no write for them
   runs meanwhile and no clinic-wide pass deadlocks with the batch;
3. read the clinic's active policy, after the locks: a version stored meanwhile is the one applied;
4. re-evaluate those patients (the seam below), and record `done` and `cursor` with them.
Each batch commits on its own, so reads see every patient either wholly before or wholly after it, and a
job claimed again resumes after the last committed batch. PostgreSQL claimers skip rows another holds
(FOR UPDATE SKIP LOCKED); SQLite's BEGIN IMMEDIATE (api/db.py) serialises them.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.clinical.policy import Policy
from api.db import make_sessionmaker
from api.services.bulk import is_postgresql
from api.services.clinic_pass import reevaluate_clinic
from api.services.locks import lock_next_patients
from api.services.policies import active_policy
from api.settings import Settings
from models import Job, Patient
from models.base import utcnow

log = logging.getLogger("blocktrack.jobs")
ERROR_LENGTH = 500


async def reevaluate_patients(
    session: AsyncSession, clinic_id: uuid.UUID, policy: Policy, patient_ids: Sequence[uuid.UUID]
) -> None:
    """The seam to the clinic pass: re-evaluate these patients, whose locks the caller holds, under
    `policy`, in the caller's transaction (the clinic pass scoped to them, api/services/clinic_pass.py).
    No previous policy is passed: a batch may follow a synchronous change made mid-job, so every block of
    the batch is evaluated afresh rather than trusting stored verdicts to match some earlier version."""
    await reevaluate_clinic(session, clinic_id, policy, patient_ids=patient_ids)


@dataclass
class Claim:
    """A job this worker holds; `claims` is its fencing token."""

    job_id: uuid.UUID
    clinic_id: uuid.UUID
    params: dict[str, Any]
    claims: int
    cursor: uuid.UUID | None


class LostClaim(Exception):
    """The job's lease expired and another worker claimed it: this one must write nothing more."""


class JobWorker:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.lease = timedelta(seconds=settings.job_lease_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set; sleep `job_poll_seconds` whenever none is waiting."""
        while not stop.is_set():
            try:
                worked = await self.run_once(stop)
            except Exception:  # a database blip must not end the worker for good
                log.exception("job pass failed")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.job_poll_seconds)

    async def run_once(self, stop: asyncio.Event | None = None) -> bool:
        """Claim one job and run it to its end (or until `stop`); False when no job was waiting."""
        claim = await self.claim()
        if claim is None:
            return False
        await self.work(claim, stop)
        return True

    async def claim(self) -> Claim | None:
        """Lease the oldest queued job, or a running one whose lease expired (its worker died)."""
        now = utcnow()
        waiting = or_(Job.status == "queued", and_(Job.status == "running", Job.claimed_until <= now))
        query = select(Job).where(waiting).order_by(Job.created_at).limit(1)
        async with self.sessionmaker() as session, session.begin():
            if is_postgresql(session):
                query = query.with_for_update(skip_locked=True)
            job = await session.scalar(query)
            if job is None:
                return None
            if job.claims >= self.settings.job_max_claims:
                _finish(job, "failed", error=f"abandoned: claimed {job.claims} times and never finished")
                log.error("job %s abandoned after %d claims", job.id, job.claims)
                return None
            job.status, job.claims, job.claimed_until = "running", job.claims + 1, now + self.lease
            job.started_at = job.started_at or now
            if job.total is None:
                job.total = await _patient_count(session, job.clinic_id)
            return Claim(job.id, job.clinic_id, dict(job.params), job.claims, job.cursor)

    async def work(self, claim: Claim, stop: asyncio.Event | None = None) -> None:
        """Run batches until the job is done; a batch that raises fails the job with its error."""
        try:
            while not await self.batch(claim):
                if stop is not None and stop.is_set():
                    await self._release(claim)
                    return
        except LostClaim:
            log.warning("job %s was claimed by another worker; this one stops", claim.job_id)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                await self._fail(claim, exc)
            # A lost connection is not the job's fault: its lease expires and a worker claims it again.
        except Exception as exc:
            await self._fail(claim, exc)

    async def batch(self, claim: Claim) -> bool:
        """Re-evaluate the next batch of patients and commit it; True when the job has finished."""
        size = self.settings.job_batch_patients
        async with self.sessionmaker() as session, session.begin():
            await self._renew(session, claim)
            patients = await lock_next_patients(session, claim.clinic_id, claim.cursor, size)
            if patients:
                policy = await active_policy(session, claim.clinic_id)  # read after the locks
                await reevaluate_patients(session, claim.clinic_id, policy, patients)
            cursor = patients[-1] if patients else claim.cursor
            finished = len(patients) < size
            values: dict[str, Any] = {"done": Job.done + len(patients), "cursor": cursor}
            if finished:
                values |= _finished("succeeded", result={"policy_version": claim.params["policy_version"]})
            await session.execute(update(Job).where(Job.id == claim.job_id).values(**values))
        claim.cursor = cursor
        return finished

    async def _renew(self, session: AsyncSession, claim: Claim) -> None:
        statement = (
            update(Job)
            .where(Job.id == claim.job_id, Job.claims == claim.claims, Job.status == "running")
            .values(claimed_until=utcnow() + self.lease)
        )
        if not (await session.execute(statement)).rowcount:  # type: ignore[attr-defined]
            raise LostClaim

    async def _release(self, claim: Claim) -> None:
        """The server is stopping between batches: let any worker claim the job now, not after the lease."""
        await self._set(claim, claimed_until=utcnow())

    async def _fail(self, claim: Claim, exc: BaseException) -> None:
        log.error("job %s failed", claim.job_id, exc_info=exc)
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        await self._set(
            claim, **_finished("failed", error=f"{type(exc).__name__}: {first_line}"[:ERROR_LENGTH])
        )

    async def _set(self, claim: Claim, **values: Any) -> None:
        """Change the job in a transaction of its own, if this worker still holds it."""
        with contextlib.suppress(LostClaim):
            async with self.sessionmaker() as session, session.begin():
                await self._renew(session, claim)
                await session.execute(update(Job).where(Job.id == claim.job_id).values(**values))


def _finished(status: str, **values: Any) -> dict[str, Any]:
    return {"status": status, "finished_at": utcnow(), "claimed_until": None, **values}


def _finish(job: Job, status: str, **values: Any) -> None:
    for name, value in _finished(status, **values).items():
        setattr(job, name, value)


async def _patient_count(session: AsyncSession, clinic_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).where(Patient.clinic_id == clinic_id)) or 0)


@contextlib.asynccontextmanager
async def running_jobs(engine: AsyncEngine, settings: Settings, stop: asyncio.Event) -> AsyncIterator[None]:
    """Run the job worker as a background task for the duration of the block."""
    worker = JobWorker(make_sessionmaker(engine), settings)
    task = asyncio.create_task(worker.run(stop), name="job-worker")
    try:
        yield
    finally:
        stop.set()
        try:
            # The current batch finishes and the job is released; one that takes longer is cancelled
            # (its transaction rolls back) and the job is claimed again once its lease expires.
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:
            pass
