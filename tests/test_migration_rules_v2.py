"""The clinical rules v2 migration carries a v1 database forward: new policy settings at each profile's
defaults, time zone UTC, block histories, and (through `blocktrack migrate`) outcomes re-evaluated under
the new rules; it downgrades, and refuses to while the database holds what v1 cannot keep."""

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from api.db import make_engine
from api.migrate import MIGRATIONS_DIR, downgrade, head_revision, reevaluate_stale_clinics, upgrade
from api.settings import async_url
from models.base import UTCDateTime
from tests.databases import throwaway_database
from tests.test_cli import blocktrack, call

REVISION = "a10b2c3d4e5f"
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
WHEN = UTCDateTime(timezone=True)


def _before() -> str:
    """The revision this migration starts from (re-chained migrations keep this test valid)."""
    down = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    with throwaway_database(tmp_path) as url:
        yield url


def _run(url: str, work: Callable[[Connection], Any]) -> Any:
    """`work(sync_connection)` in a committed transaction on its own engine."""

    async def _go() -> Any:
        engine = make_engine(async_url(url))
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(_go())


def _table(name: str, *columns: tuple[str, Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(n, t) for n, t in columns))


ID = sa.Uuid()
CLINIC = _table("clinic", ("id", ID), ("name", sa.String()), ("created_at", WHEN))
POLICY = _table(
    "policy_version",
    ("id", ID),
    ("clinic_id", ID),
    ("version", sa.Integer()),
    ("profile", sa.String()),
    ("settings", sa.JSON()),
    ("created_at", WHEN),
)
PATIENT = _table("patient", ("id", ID), ("clinic_id", ID), ("mrn", sa.String()), ("created_at", WHEN))
BLOCK = _table(
    "block",
    ("id", ID),
    ("clinic_id", ID),
    ("patient_id", ID),
    ("performed_at", WHEN),
    ("procedure", sa.String()),
    ("intent", sa.String()),
    ("agent", sa.String()),
    ("sedation", sa.String()),
    ("guidance", sa.String()),
    ("pain_scale", sa.String()),
    ("status", sa.String()),
    ("version", sa.Integer()),
    ("created_at", WHEN),
    ("voided_at", WHEN),
    ("void_reason", sa.Text()),
)
TARGET = _table(
    "block_target",
    ("id", ID),
    ("clinic_id", ID),
    ("patient_id", ID),
    ("block_id", ID),
    ("position", sa.Integer()),
    ("joint", sa.String()),
    ("side", sa.String()),
    ("region", sa.String()),
)
READING = _table(
    "reading",
    ("id", ID),
    ("clinic_id", ID),
    ("block_id", ID),
    ("target_id", ID),
    ("phase", sa.String()),
    ("recorded_at", WHEN),
    ("score", sa.Integer()),
    ("analgesic_taken", sa.Boolean()),
    ("source", sa.String()),
    ("status", sa.String()),
    ("version", sa.Integer()),
    ("created_at", WHEN),
)
V1_CONSENSUS = {
    "profile": "consensus",
    "version": 1,
    "threshold_pct": 50,
    "min_readings": 2,
    "onset_window_minutes": 60,
    "required_minutes": {"lidocaine": 60, "bupivacaine": 180, "ropivacaine": 180},
    "diary_horizon_hours": 24,
    "min_gap_hours": 24,
    "min_baseline": {"nrs": 4, "vas": 40},
    "require_concordance": False,
}


def _block(
    connection: Connection,
    ids: dict[str, uuid.UUID],
    name: str,
    joint: str,
    at: datetime,
    diary: list[tuple[str, int, int]],
    voided: bool = False,
) -> None:
    block, target = uuid.uuid4(), uuid.uuid4()
    ids[name] = block
    connection.execute(
        BLOCK.insert().values(
            id=block,
            clinic_id=ids["clinic"],
            patient_id=ids["patient"],
            performed_at=at,
            procedure="medial_branch_block",
            intent="diagnostic",
            agent="lidocaine",
            sedation="none",
            guidance="fluoroscopy",
            pain_scale="nrs",
            status="entered_in_error" if voided else "active",
            version=2 if voided else 1,
            created_at=at,
            voided_at=at + timedelta(days=1) if voided else None,
            void_reason="wrong patient" if voided else None,
        )
    )
    connection.execute(
        TARGET.insert().values(
            id=target,
            clinic_id=ids["clinic"],
            patient_id=ids["patient"],
            block_id=block,
            position=0,
            joint=joint,
            side="left",
            region="lumbar",
        )
    )
    connection.execute(
        READING.insert(),
        [
            {
                "id": uuid.uuid4(),
                "clinic_id": ids["clinic"],
                "block_id": block,
                "target_id": target,
                "phase": phase,
                "recorded_at": at + timedelta(minutes=m),
                "score": score,
                "analgesic_taken": False,
                "source": "patient_diary",
                "status": "active",
                "version": 1,
                "created_at": at,
            }
            for phase, m, score in diary
        ],
    )


def _v1_data(connection: Connection) -> dict[str, uuid.UUID]:
    """A consensus clinic (two blocks required under v1) with one positive block, a voided block, and a
    diary that starts at 6 h; no stored outcomes yet, as after a v1 import."""
    ids = {"clinic": uuid.uuid4(), "patient": uuid.uuid4()}
    connection.execute(CLINIC.insert().values(id=ids["clinic"], name="Old Clinic", created_at=T0))
    connection.execute(
        POLICY.insert().values(
            id=uuid.uuid4(),
            clinic_id=ids["clinic"],
            version=1,
            profile="consensus",
            settings=V1_CONSENSUS,
            created_at=T0,
        )
    )
    connection.execute(
        PATIENT.insert().values(id=ids["patient"], clinic_id=ids["clinic"], mrn="OLD-1", created_at=T0)
    )
    moderate = [("pre", -10, 8), ("post", 15, 3), ("post", 30, 3), ("post", 60, 3)]  # 62.5%
    _block(connection, ids, "positive", "L4-L5", T0, moderate)
    _block(connection, ids, "voided", "L3-L4", T0, moderate, voided=True)
    _block(connection, ids, "late", "L5-S1", T0, [("pre", -10, 8), ("post", 360, 8), ("post", 420, 8)])
    return ids


def _state(ids: dict[str, uuid.UUID]) -> Callable[[Connection], dict[str, Any]]:
    def read(connection: Connection) -> dict[str, Any]:
        one = lambda sql, **p: connection.execute(sa.text(sql), p).one()  # noqa: E731
        all_ = lambda sql, **p: connection.execute(sa.text(sql), p).all()  # noqa: E731
        clinic = ids["clinic"].hex if connection.dialect.name == "sqlite" else ids["clinic"]
        return {
            "clinic": tuple(one("SELECT time_zone, rules_version FROM clinic WHERE id = :c", c=clinic)),
            "settings": connection.execute(sa.select(POLICY.c.settings)).scalar_one(),
            "versions": sorted(
                tuple(r) for r in all_("SELECT version, change, status, reason FROM block_version")
            ),
            "verdicts": sorted(tuple(r) for r in all_("SELECT verdict, reasons FROM target_outcome")),
            "levels": sorted(tuple(r) for r in all_("SELECT joint, status FROM level")),
            "referrals": [tuple(r) for r in all_("SELECT joint, status FROM referral")],
        }

    return read


def test_upgrade_carries_v1_data_forward_and_migrate_reevaluates(fresh_url: str) -> None:
    upgrade(fresh_url, _before())
    ids = _run(fresh_url, _v1_data)

    upgrade(fresh_url)

    upgraded = _run(fresh_url, _state(ids))
    assert upgraded["clinic"] == ("UTC", 1)  # stale until re-evaluated
    assert (upgraded["settings"]["blocks_required"], upgraded["settings"]["enforce_coverage_criteria"]) == (
        1,
        False,
    )
    assert upgraded["settings"]["max_pair_interval_days"] == 180
    assert upgraded["versions"] == [
        (1, "create", "active", None),
        (1, "create", "active", None),
        (1, "create", "active", None),
        (2, "void", "entered_in_error", "wrong patient"),
    ]
    not_ready = call(fresh_url, "none", "GET", "/readyz")  # the outcomes predate the rules
    assert (not_ready.status_code, not_ready.headers["retry-after"]) == (503, "5")
    migrated = blocktrack(fresh_url, "migrate")  # what an operator runs after an upgrade
    assert "re-evaluated 1 clinic(s) under the current clinical rules" in migrated.stdout
    assert reevaluate_stale_clinics(fresh_url) == []  # done once
    assert call(fresh_url, "none", "GET", "/readyz").status_code == 200
    done = _run(fresh_url, _state(ids))
    assert done["clinic"] == ("UTC", 2)
    assert ("L4-L5", "referral_recommended") in done["levels"]  # CR-26: consensus needs one block now
    assert done["referrals"] == [("L4-L5", "open")]
    late = [reasons for verdict, reasons in done["verdicts"] if "no_early_readings" in str(reasons)]
    assert len(late) == 1  # CR-12 (v2): the 6 h diary is indeterminate, not late_onset


def test_downgrade_keeps_the_data_then_upgrade_again(fresh_url: str) -> None:
    upgrade(fresh_url, _before())
    ids = _run(fresh_url, _v1_data)
    upgrade(fresh_url)
    reevaluate_stale_clinics(fresh_url)

    downgrade(fresh_url, _before())

    def read(connection: Connection) -> tuple[Any, ...]:
        blocks = connection.execute(sa.select(sa.func.count()).select_from(BLOCK)).scalar_one()
        settings = connection.execute(sa.select(POLICY.c.settings)).scalar_one()
        return blocks, settings

    assert _run(fresh_url, read) == (3, V1_CONSENSUS)
    upgrade(fresh_url)
    assert _run(fresh_url, _state(ids))["clinic"] == ("UTC", 1)


def test_downgrade_refuses_while_an_ablation_is_recorded(fresh_url: str) -> None:
    upgrade(fresh_url, _before())
    ids = _run(fresh_url, _v1_data)
    upgrade(fresh_url)
    _run(
        fresh_url,
        lambda c: c.execute(
            BLOCK.update()
            .where(BLOCK.c.id == ids["late"])
            .values(procedure="radiofrequency_ablation", intent="therapeutic")
        ),
    )

    with pytest.raises(RuntimeError, match="1 radiofrequency ablations"):
        downgrade(fresh_url, _before())

    assert _run(fresh_url, lambda c: sa.inspect(c).has_table("block_version"))
    # The refusal leaves the database where it was, or (where the migrations after this one were already
    # undone in their own step) at this migration: never below it.
    current = _run(fresh_url, lambda c: MigrationContext.configure(c).get_current_revision())
    assert current in (REVISION, head_revision())
