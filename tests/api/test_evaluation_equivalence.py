"""Property: whatever sequence of writes a clinic makes, the rows the write paths stored are exactly the rows
a fresh clinic-wide re-evaluation would store.

The write paths evaluate from what a request holds and skip rows that did not change; the clinic-wide
pass after a policy or time zone change keeps stored outcomes when no verdict setting changed, and
rewrites only changed rows. Hypothesis generates random sequences of blocks (diagnostic, placebo,
ablations, bilateral, two joints), diaries, corrections, voids, block corrections, coverage overrides,
policy changes (some of level-only settings) and time zone changes, sends them through the API on real
commits, then compares every stored block outcome, target outcome, level and referral with a fresh
evaluation of every block (rolled back).
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from tests.databases import throwaway_database
from tests.evaluation_state import differences, stored_and_fresh

DAY0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
AGENTS = ("lidocaine", "bupivacaine", "ropivacaine", "saline_placebo")
TARGETS = (
    [{"joint": "L4-L5", "side": "left"}],
    [{"joint": "L4-L5", "side": "bilateral"}],
    [{"joint": "L4-L5", "side": "left"}, {"joint": "L5-S1", "side": "left"}],
)
PROFILES = (
    {"profile": "medicare"},
    {"profile": "consensus"},
    {"profile": "custom", "threshold_pct": 60},
    # Changes of level-only settings next to the above: the clinic pass keeps the stored outcomes.
    {"profile": "medicare", "enforce_coverage_criteria": False, "require_concordance": True},
    {"profile": "custom", "threshold_pct": 60, "blocks_required": 1, "min_gap_hours": 0},
    {"profile": "consensus", "enforce_pair_interval": True, "max_pair_interval_days": 20},
)
ZONES = ("UTC", "America/New_York", "Pacific/Chatham")

block_op = st.tuples(
    st.just("block"),
    st.integers(0, 40),  # day
    st.sampled_from(AGENTS),
    st.integers(0, len(TARGETS) - 1),
    st.sampled_from(("none", "minimal", "general")),
    st.sampled_from(("fluoroscopy", "ultrasound")),
)
diary_op = st.tuples(
    st.just("diary"),
    st.integers(0, 9),  # which block
    st.integers(0, 10),  # baseline
    st.lists(
        st.tuples(st.sampled_from((15, 30, 45, 60, 120, 180, 240, 360)), st.integers(0, 10)), max_size=6
    ),
    st.booleans(),  # an analgesic with the last reading
)
ops = st.lists(
    st.one_of(
        block_op,
        diary_op,
        diary_op,
        st.tuples(st.just("ablation"), st.integers(0, 400)),
        st.tuples(st.just("amend"), st.integers(0, 99), st.integers(0, 10)),
        st.tuples(st.just("void_reading"), st.integers(0, 99)),
        st.tuples(st.just("void_block"), st.integers(0, 9)),
        st.tuples(st.just("shift_block"), st.integers(0, 9), st.integers(-90, 90)),
        st.tuples(st.just("override"), st.integers(0, 9), st.booleans()),
        st.tuples(st.just("policy"), st.integers(0, len(PROFILES) - 1)),
        st.tuples(st.just("zone"), st.integers(0, len(ZONES) - 1)),
    ),
    min_size=3,
    max_size=14,
)


class Clinic:
    """One example's clinic: a patient, and what the writes so far have made."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.patient = ""
        self.blocks: list[dict[str, Any]] = []
        self.readings: list[str] = []

    async def run(self, op: tuple[Any, ...]) -> None:
        response = await getattr(self, op[0])(*op[1:])
        if response is not None:
            assert response.status_code < 500, response.text  # a refused write is fine, a crash is not

    def _block(self, n: int) -> dict[str, Any] | None:
        return self.blocks[n % len(self.blocks)] if self.blocks else None

    async def block(self, day: int, agent: str, targets: int, sedation: str, guidance: str) -> httpx.Response:
        body = {
            "performed_at": (DAY0 + timedelta(days=day)).isoformat(),
            "agent": agent,
            "targets": TARGETS[targets],
            "sedation": sedation,
            "guidance": guidance,
        }
        return await self._created(await self.client.post(f"/v1/patients/{self.patient}/blocks", json=body))

    async def ablation(self, day: int) -> httpx.Response:
        body = {
            "performed_at": (DAY0 + timedelta(days=60 + day)).isoformat(),
            "procedure": "radiofrequency_ablation",
            "agent": "lidocaine",
            "targets": [{"joint": "L4-L5", "side": "left"}],
        }
        return await self._created(await self.client.post(f"/v1/patients/{self.patient}/blocks", json=body))

    async def _created(self, response: httpx.Response) -> httpx.Response:
        if response.status_code == 201:
            self.blocks.append(response.json())
        return response

    async def diary(self, n: int, baseline: int, posts: list[tuple[int, int]], analgesic: bool) -> Any:
        if (block := self._block(n)) is None:
            return None
        at = datetime.fromisoformat(block["performed_at"])
        entries: list[dict[str, Any]] = [
            {"phase": "pre", "recorded_at": (at - timedelta(minutes=10)).isoformat(), "score": baseline}
        ]
        for i, (minutes, score) in enumerate(sorted(dict(posts).items())):
            last = analgesic and i == len(posts) - 1
            at_minutes = minutes * (1440 if block["procedure"] == "radiofrequency_ablation" else 1)
            entries.append(
                {"phase": "post", "minutes_after_block": at_minutes, "score": score, "analgesic_taken": last}
            )
        response = await self.client.post(f"/v1/blocks/{block['id']}/readings", json={"readings": entries})
        if response.status_code == 201:
            self.readings += [r["id"] for r in response.json()["readings"]]
        return response

    async def amend(self, n: int, score: int) -> Any:
        if not self.readings:
            return None
        body = {"score": score, "reason": "transcribed wrongly"}
        return await self.client.patch(f"/v1/readings/{self.readings[n % len(self.readings)]}", json=body)

    async def void_reading(self, n: int) -> Any:
        if not self.readings:
            return None
        reading = self.readings[n % len(self.readings)]
        return await self.client.post(f"/v1/readings/{reading}/void", json={"reason": "wrong patient"})

    async def void_block(self, n: int) -> Any:
        if (block := self._block(n)) is None:
            return None
        return await self.client.post(f"/v1/blocks/{block['id']}/void", json={"reason": "wrong patient"})

    async def shift_block(self, n: int, minutes: int) -> Any:
        if (block := self._block(n)) is None:
            return None
        at = datetime.fromisoformat(block["performed_at"]) + timedelta(minutes=minutes)
        body = {"performed_at": at.isoformat(), "reason": "clock was wrong"}
        return await self.client.patch(f"/v1/blocks/{block['id']}", json=body)

    async def override(self, n: int, on: bool) -> Any:
        if (block := self._block(n)) is None:
            return None
        url = f"/v1/blocks/{block['id']}/coverage-override"
        if on:
            return await self.client.put(url, json={"reason": "reviewed by the physician"})
        return await self.client.delete(url)

    async def policy(self, n: int) -> httpx.Response:
        return await self.client.put("/v1/policy", json=PROFILES[n])

    async def zone(self, n: int) -> httpx.Response:
        return await self.client.patch("/v1/clinic", json={"time_zone": ZONES[n]})


async def _example(database_url: str, writes: list[tuple[Any, ...]]) -> list[Any]:
    engine = make_engine(Settings(database_url=database_url).async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            clinic, _key, token = await create_clinic(session, f"Equivalence {uuid.uuid4().hex[:8]}")
        app = create_app(Settings(database_url=database_url, run_deliverer=False), engine=engine)
        headers = {"Authorization": f"Bearer {token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
            state = Clinic(client)
            patient = await client.post("/v1/patients", json={"mrn": "EQ-1"})
            state.patient = patient.json()["id"]
            for op in writes:
                await state.run(op)
        return differences(*await stored_and_fresh(engine, clinic.id))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The examples commit for real, so they get a database of their own, not the run's shared one."""
    with throwaway_database(tmp_path_factory.mktemp("equivalence")) as url:
        upgrade(url)
        yield url


# Once flaky on PostgreSQL: an ablation recorded twice at one instant, tied in time (now ordered by id).
TIED_ABLATIONS = [("ablation", 220), ("ablation", 13), ("block", 8, "ropivacaine", 0, "none", "fluoroscopy"),
                  ("ablation", 220), ("ablation", 13)]  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes=ops)
@example(writes=TIED_ABLATIONS)
def test_write_paths_store_what_a_fresh_evaluation_stores(own_database: str, writes: list[Any]) -> None:
    assert asyncio.run(_example(own_database, writes)) == []
