"""`PUT /v1/policy` with `Prefer: respond-async`: a job row, claimed and run by the worker in batches of
patients, each batch its own committed transaction; `GET /v1/jobs/{id}` shows it.

Real connections on a fresh migrated database (no rolled-back test transaction): the request commits
the new version and the job, and the worker (api/jobs/worker.py, run here in-process) claims it on
connections of its own. Runs on SQLite and PostgreSQL.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.jobs.worker import Claim, JobWorker
from api.migrate import upgrade
from api.services.clinics import create_clinic, create_key
from api.settings import Settings
from models import Block, Job
from tests.api.diaries import DAY1, MODERATE, WEEK, diary_block, levels_of, new_patient
from tests.databases import throwaway_database
from tests.evaluation_state import differences, stored_and_fresh

ASYNC = {"Prefer": "respond-async"}
CONSENSUS = {"profile": "consensus"}
BATCH = 2  # patients per batch: five patients make three batches
PATIENTS = 5


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(Path(tmp_path_factory.mktemp("policy-jobs"))) as url:
        upgrade(url)
        yield url


class Api:
    """One test's clinic on the module's database: its client, admin headers and a job worker."""

    def __init__(self, client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings) -> None:
        self.client, self.engine, self.settings = client, engine, settings
        self.headers: dict[str, str] = {}
        self.clinic_id = uuid.UUID(int=0)
        self.clinics: list[uuid.UUID] = []

    async def new_clinic(self) -> tuple[uuid.UUID, dict[str, str]]:
        async with make_sessionmaker(self.engine)() as session, session.begin():
            clinic, _key, token = await create_clinic(session, f"Jobs {uuid.uuid4().hex[:6]}")
        self.clinics.append(clinic.id)
        return clinic.id, {"Authorization": f"Bearer {token}"}

    def worker(self, **overrides: Any) -> JobWorker:
        settings = self.settings.model_copy(update=overrides)
        return JobWorker(make_sessionmaker(self.engine), settings)

    async def job(self, job_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/jobs/{job_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def job_count(self) -> int:
        async with make_sessionmaker(self.engine)() as session:
            query = select(func.count()).select_from(Job).where(Job.clinic_id == self.clinic_id)
            return int(await session.scalar(query) or 0)

    async def settle(self) -> None:
        """End the clinics' unfinished jobs, so that the next test's workers find only its own."""
        async with make_sessionmaker(self.engine)() as session, session.begin():
            live = Job.status.in_(("queued", "running"))
            ended = update(Job).where(Job.clinic_id.in_(self.clinics), live).values(status="failed")
            await session.execute(ended)

    async def put_async(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.put("/v1/policy", json=body, headers={**self.headers, **ASYNC})


@pytest.fixture
async def api(fresh_url: str) -> AsyncIterator[Api]:
    settings = Settings(database_url=fresh_url, run_deliverer=False, run_jobs=False, job_batch_patients=BATCH)
    engine = make_engine(settings.async_database_url)
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        api = Api(client, engine, settings)
        api.clinic_id, api.headers = await api.new_clinic()
        yield api
        await api.settle()
    await engine.dispose()


async def moderate_patients(api: Api, count: int = PATIENTS) -> list[str]:
    """Patients with two blocks of 60-70% relief: not indicated under medicare, a referral under
    consensus."""
    patients = []
    for _ in range(count):
        patient = await new_patient(api.client, api.headers)
        await diary_block(api.client, api.headers, patient, DAY1, MODERATE)
        await diary_block(api.client, api.headers, patient, DAY1 + WEEK, MODERATE)
        patients.append(patient)
    return patients


async def statuses(api: Api, patients: list[str]) -> list[str]:
    return [(await levels_of(api.client, api.headers, p))[0]["status"] for p in patients]


async def accepted_job(api: Api, body: dict[str, Any]) -> str:
    response = await api.put_async(body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def until_finished(api: Api, job_id: str) -> dict[str, Any]:
    for _ in range(300):
        job = await api.job(job_id)
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def test_put_policy_async_job_succeeds_with_the_synchronous_outcomes(api: Api) -> None:
    patients = await moderate_patients(api)

    response = await api.put_async(CONSENSUS)

    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert response.headers["preference-applied"] == "respond-async"
    assert response.headers["retry-after"] == "1"
    assert (job["status"], job["progress"], job["result"], job["error"]) == ("queued", 0.0, None, None)
    assert (await api.client.get("/v1/policy", headers=api.headers)).json()["version"] == 2
    assert await statuses(api, patients) == ["not_indicated"] * PATIENTS  # nothing re-evaluated yet

    stop = asyncio.Event()
    worker = asyncio.create_task(api.worker(job_poll_seconds=0.05).run(stop))
    try:
        done = await until_finished(api, job["id"])
    finally:
        stop.set()
        await worker

    assert done["status"] == "succeeded", done
    assert (done["progress"], done["result"], done["done"], done["total"]) == (
        1.0,
        {"policy_version": 2},
        PATIENTS,
        PATIENTS,
    )
    assert done["started_at"] is not None and done["finished_at"] is not None
    finished = await api.client.get(f"/v1/jobs/{job['id']}", headers=api.headers)
    assert "retry-after" not in finished.headers and finished.headers["etag"].startswith('"')
    assert await statuses(api, patients) == ["referral_recommended"] * PATIENTS
    stored, fresh = await stored_and_fresh(api.engine, api.clinic_id)
    assert differences(stored, fresh) == []


async def test_run_policy_job_batches_commit_progress_between_them(api: Api) -> None:
    patients = await moderate_patients(api)
    job_id = await accepted_job(api, CONSENSUS)
    worker = api.worker()

    claim = await worker.claim()
    assert claim is not None and await worker.batch(claim) is False

    running = await api.job(job_id)
    assert (running["status"], running["done"], running["total"], running["progress"]) == (
        "running",
        BATCH,
        PATIENTS,
        0.4,
    )
    assert sorted(await statuses(api, patients)) == sorted(
        ["referral_recommended"] * BATCH + ["not_indicated"] * (PATIENTS - BATCH)
    )
    await worker.work(claim)
    assert (await api.job(job_id))["status"] == "succeeded"
    stored, fresh = await stored_and_fresh(api.engine, api.clinic_id)
    assert differences(stored, fresh) == []


async def test_get_job_other_clinic_404_viewer_200(api: Api) -> None:
    job_id = await accepted_job(api, CONSENSUS)
    _other_id, other = await api.new_clinic()

    foreign = await api.client.get(f"/v1/jobs/{job_id}", headers=other)
    unknown = await api.client.get(f"/v1/jobs/{uuid.uuid4()}", headers=api.headers)

    assert (foreign.status_code, foreign.headers["content-type"]) == (404, "application/problem+json")
    assert foreign.json()["detail"] == f"No job {job_id}."
    assert unknown.status_code == 404
    async with make_sessionmaker(api.engine)() as session, session.begin():
        _key, token = await create_key(session, api.clinic_id, "viewer", "viewer key")
    seen = await api.client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
    assert (seen.status_code, seen.json()["status"]) == (200, "queued")
    assert seen.headers["retry-after"] == "1"


async def test_put_policy_async_unchanged_answers_200_and_starts_no_job(api: Api) -> None:
    current = (await api.client.get("/v1/policy", headers=api.headers)).json()

    # Medicare's defaults spelt out are the same settings as the active version 1.
    response = await api.put_async({"profile": "medicare", "threshold_pct": 80, "min_readings": 2})

    assert response.status_code == 200, response.text
    assert response.json() == current
    assert "preference-applied" not in response.headers
    assert await api.job_count() == 0
    assert (await api.client.get("/v1/policy", headers=api.headers)).json()["version"] == 1


async def test_put_policy_async_while_a_job_is_live_409_names_it(api: Api) -> None:
    job_id = await accepted_job(api, CONSENSUS)

    second = await api.put_async({"profile": "strict"})
    same = await api.put_async(CONSENSUS)  # the version being applied: nothing to change

    assert (second.status_code, second.json()["job_id"]) == (409, job_id)
    assert (same.status_code, same.json()["version"]) == (200, 2)
    assert await api.job_count() == 1
    assert (await api.client.get("/v1/policy", headers=api.headers)).json()["profile"] == "consensus"


async def claimed_after_lease(worker: JobWorker) -> Claim:
    for _ in range(100):
        await asyncio.sleep(0.1)
        if (claim := await worker.claim()) is not None:
            return claim
    raise AssertionError("the job was not claimed again after its lease")


async def test_claim_policy_job_after_its_lease_expired_resumes_and_fences_the_old_worker(api: Api) -> None:
    patients = await moderate_patients(api)
    job_id = await accepted_job(api, CONSENSUS)
    crashed, healthy = api.worker(job_lease_seconds=3), api.worker()
    lost = await crashed.claim()
    assert lost is not None and await crashed.batch(lost) is False  # then it stops answering

    assert await healthy.claim() is None  # its lease still holds
    claim = await claimed_after_lease(healthy)

    assert (claim.claims, claim.cursor) == (2, lost.cursor)
    await healthy.work(claim)
    await crashed.work(lost)  # wakes up: it no longer holds the job and writes nothing
    job = await api.job(job_id)
    assert (job["status"], job["done"], job["progress"]) == ("succeeded", PATIENTS, 1.0)
    assert await statuses(api, patients) == ["referral_recommended"] * PATIENTS
    stored, fresh = await stored_and_fresh(api.engine, api.clinic_id)
    assert differences(stored, fresh) == []


async def _break_last_patient(api: Api, patients: list[str]) -> uuid.UUID:
    """Give the patient of the last batch an `other` block whose stored minutes cannot be judged (as a
    row written around the API could be): evaluating it raises."""
    last = max(patients, key=uuid.UUID)
    block = await diary_block(
        api.client, api.headers, last, DAY1 + 2 * WEEK, MODERATE, agent="other", expected_relief_minutes=90
    )
    async with make_sessionmaker(api.engine)() as session, session.begin():
        await session.execute(
            update(Block).where(Block.id == uuid.UUID(block["id"])).values(expected_relief_minutes=0)
        )
    return uuid.UUID(block["id"])


async def test_run_policy_job_failure_records_error_then_same_settings_finish_it(api: Api) -> None:
    patients = await moderate_patients(api, 4)
    broken = await _break_last_patient(api, patients)
    job_id = await accepted_job(api, CONSENSUS)

    assert await api.worker().run_once() is True

    failed = await api.job(job_id)
    assert (failed["status"], failed["done"], failed["progress"], failed["result"]) == (
        "failed",
        BATCH,
        0.5,
        None,
    )
    assert failed["error"] == "ValueError: expected_relief_minutes must be at least 1, got 0"
    assert (
        failed["finished_at"] is not None
        and "retry-after" not in (await api.client.get(f"/v1/jobs/{job_id}", headers=api.headers)).headers
    )
    async with make_sessionmaker(api.engine)() as session, session.begin():
        await session.execute(update(Block).where(Block.id == broken).values(expected_relief_minutes=90))

    retry = await accepted_job(api, CONSENSUS)  # same settings, but the last job failed
    assert await api.worker().run_once() is True

    assert (await api.job(retry))["result"] == {"policy_version": 2}
    assert (await api.client.get("/v1/policy", headers=api.headers)).json()["version"] == 2
    stored, fresh = await stored_and_fresh(api.engine, api.clinic_id)
    assert differences(stored, fresh) == []


async def test_put_policy_prefer_among_other_preferences_is_async(api: Api) -> None:
    headers = {**api.headers, "Prefer": "return=minimal, Respond-Async; x=1, wait=10"}

    response = await api.client.put("/v1/policy", json=CONSENSUS, headers=headers)

    assert (response.status_code, response.headers["preference-applied"]) == (202, "respond-async")
    assert await api.job_count() == 1


async def test_put_policy_synchronously_while_a_job_runs_leaves_the_newest_version_everywhere(
    api: Api,
) -> None:
    patients = await moderate_patients(api)
    job_id = await accepted_job(api, CONSENSUS)
    worker = api.worker()
    claim = await worker.claim()
    assert claim is not None and await worker.batch(claim) is False

    strict = await api.client.put("/v1/policy", json={"profile": "strict"}, headers=api.headers)
    await worker.work(claim)

    assert (strict.status_code, strict.json()["version"]) == (200, 3)
    assert (await api.job(job_id))["result"] == {"policy_version": 2}  # the version it was queued for
    levels = [(await levels_of(api.client, api.headers, p))[0] for p in patients]
    assert {(level["status"], level["policy_version"]) for level in levels} == {("not_indicated", 3)}
    stored, fresh = await stored_and_fresh(api.engine, api.clinic_id)
    assert differences(stored, fresh) == []


async def test_claim_jobs_concurrently_each_job_once(api: Api) -> None:
    _other_id, other = await api.new_clinic()
    first = await accepted_job(api, CONSENSUS)
    second = await api.client.put("/v1/policy", json=CONSENSUS, headers={**other, **ASYNC})

    claims = await asyncio.gather(*(api.worker().claim() for _ in range(3)))

    claimed = sorted(str(c.job_id) for c in claims if c is not None)
    assert claimed == sorted([first, second.json()["id"]])
    assert [c.claims for c in claims if c is not None] == [1, 1]
