"""`blocktrack demo`: a demo clinic with realistic patients, blocks and pain diaries.

Only the clinic and its admin key are made directly (there is no HTTP endpoint for clinics); everything else
goes through the public API in-process, so the demo exercises the same contract an EHR integration uses.
Running it again reuses the clinic named DEMO_CLINIC, prints a new admin key, and adds only the patients
whose MRN is not there yet.
"""

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import make_engine, make_sessionmaker
from api.settings import Settings, get_settings
from models import Clinic

DEMO_CLINIC = "Demo Spine & Pain Clinic"
CLINIC_TZ = timezone(timedelta(hours=-5))  # times are shown with the clinic's own offset
DIARY_MINUTES = (15, 30, 45, 60, 120, 180, 240, 300, 360, 420, 480)  # common MBB diary time points


@dataclass
class Side:
    """One side's diary for a block: the pre-block score and post scores at DIARY_MINUTES (cut short)."""

    side: str | None
    baseline: int
    scores: list[int]


@dataclass
class DemoBlock:
    days_ago: int
    agent: str
    joints: list[str]
    target_side: str
    diaries: list[Side]
    pain_scale: str = "nrs"
    concentration_pct: float = 2.0


@dataclass
class DemoPatient:
    mrn: str
    name: str
    birth_date: str
    story: str
    blocks: list[DemoBlock]


R = [1, 1, 1, 1]  # four early readings at 87.5% relief or better from a baseline of 8
PATIENTS = [
    DemoPatient(
        "DEMO-1001",
        "Maria Alvarez",
        "1961-04-12",
        "comparative lidocaine then bupivacaine blocks, both positive: open referral",
        [
            DemoBlock(28, "lidocaine", ["L4-L5"], "right", [Side(None, 8, [*R, 3, 6, 7, 7, 8, 8, 8])]),
            DemoBlock(
                14,
                "bupivacaine",
                ["L4-L5"],
                "right",
                [Side(None, 8, [3, *R, 1, 1, 2, 4, 6, 7])],
                concentration_pct=0.5,
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1002",
        "James Okafor",
        "1958-09-30",
        "bilateral block: the left side responded, the right did not",
        [
            DemoBlock(
                10,
                "lidocaine",
                ["L5-S1"],
                "bilateral",
                [
                    Side("left", 7, [1, 0, 0, 1, 3, 5, 6, 7, 7, 7, 7]),
                    Side("right", 6, [4, 3, 3, 4, 5, 6, 6, 6, 6, 6, 6]),
                ],
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1003",
        "Linda Chen",
        "1970-01-22",
        "bupivacaine block with a diary that stops at 2 h: waiting for data",
        [
            DemoBlock(
                2, "bupivacaine", ["C5-C6"], "left", [Side(None, 7, [1, 1, 0, 0, 1])], concentration_pct=0.5
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1004",
        "Robert Kowalski",
        "1955-06-03",
        "a positive block, then a negative one: the count resets",
        [
            DemoBlock(35, "lidocaine", ["L3-L4"], "right", [Side(None, 8, [*R, 2, 5, 7, 8, 8, 8, 8])]),
            DemoBlock(
                21, "lidocaine", ["L3-L4"], "right", [Side(None, 8, [5, 4, 4, 4, 5, 6, 7, 8, 8, 8, 8])]
            ),
        ],
    ),
    DemoPatient(
        "DEMO-1005",
        "Aisha Rahman",
        "1967-11-15",
        "two levels in one ropivacaine session on a VAS diary: first positive block",
        [
            DemoBlock(
                5,
                "ropivacaine",
                ["L4-L5", "L5-S1"],
                "left",
                [Side(None, 70, [20, 10, 5, 5, 5, 10, 10, 20, 40, 60, 70])],
                pain_scale="vas",
                concentration_pct=0.5,
            ),
        ],
    ),
]


@dataclass
class DemoResult:
    clinic_id: uuid.UUID
    api_key: str
    reused_clinic: bool
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)  # MRN -> patient, with "levels"


class DemoError(RuntimeError):
    pass


def _performed_at(days_ago: int) -> datetime:
    day = datetime.now(CLINIC_TZ) - timedelta(days=days_ago)
    return day.replace(hour=9, minute=30, second=0, microsecond=0)


def _readings(block: DemoBlock, performed_at: datetime) -> list[dict[str, Any]]:
    readings: list[dict[str, Any]] = []
    for diary in block.diaries:
        where = {"side": diary.side} if diary.side else {}
        readings.append(
            {
                **where,
                "phase": "pre",
                "recorded_at": (performed_at - timedelta(minutes=20)).isoformat(),
                "score": diary.baseline,
                "activity": "standing and walking",
                "source": "clinician",
            }
        )
        for minutes, score in zip(DIARY_MINUTES, diary.scores, strict=False):
            readings.append(
                {
                    **where,
                    "phase": "post",
                    "minutes_after_block": minutes,
                    "score": score,
                    "activity": "standing and walking",
                    "source": "patient_diary",
                }
            )
    return readings


def _block_body(block: DemoBlock, performed_at: datetime) -> dict[str, Any]:
    return {
        "performed_at": performed_at.isoformat(),
        "procedure": "medial_branch_block",
        "intent": "diagnostic",
        "agent": block.agent,
        "concentration_pct": block.concentration_pct,
        "volume_ml_per_nerve": 0.5,
        "sedation": "none",
        "guidance": "fluoroscopy",
        "pain_scale": block.pain_scale,
        "targets": [{"joint": joint, "side": block.target_side} for joint in block.joints],
        "notes": "Demo record.",
    }


async def _call(client: httpx.AsyncClient, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    if response.status_code != expect:
        raise DemoError(
            f"{method} {path} answered {response.status_code}, not {expect}: {response.text[:500]}"
        )
    return response.json()


async def _load_patient(client: httpx.AsyncClient, patient: DemoPatient) -> dict[str, Any]:
    """Create the patient (unless its MRN is there already), its blocks and diaries; return it with levels."""
    found = await _call(client, "GET", "/v1/patients", 200, params={"mrn": patient.mrn})
    if found["items"]:
        record = found["items"][0]
    else:
        body = {"mrn": patient.mrn, "name": patient.name, "birth_date": patient.birth_date}
        record = await _call(client, "POST", "/v1/patients", 201, json=body)
        for block in patient.blocks:
            performed_at = _performed_at(block.days_ago)
            made = await _call(
                client,
                "POST",
                f"/v1/patients/{record['id']}/blocks",
                201,
                json=_block_body(block, performed_at),
            )
            await _call(
                client,
                "POST",
                f"/v1/blocks/{made['id']}/readings",
                201,
                json={"readings": _readings(block, performed_at)},
            )
    levels = await _call(client, "GET", f"/v1/patients/{record['id']}/levels", 200)
    return {**record, "story": patient.story, "levels": levels["items"]}


async def _demo_key(engine: AsyncEngine) -> tuple[uuid.UUID, str, bool]:
    """The demo clinic (made once, then reused) and a new admin key for it."""
    from api.services.clinics import create_clinic, create_key

    async with make_sessionmaker(engine)() as session, session.begin():
        clinic = await session.scalar(
            select(Clinic).where(Clinic.name == DEMO_CLINIC).order_by(Clinic.created_at).limit(1)
        )
        if clinic is None:
            clinic, _key, token = await create_clinic(session, DEMO_CLINIC)
            return clinic.id, token, False
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        _key, token = await create_key(session, clinic.id, "admin", f"demo admin {stamp}")
        return clinic.id, token, True


async def seed_demo(settings: Settings) -> DemoResult:
    """Make (or reuse) the demo clinic and load the demo patients through the API."""
    from api.app import create_app

    engine = make_engine(settings.async_database_url)
    try:
        clinic_id, token, reused = await _demo_key(engine)
        app = create_app(settings.model_copy(update={"run_deliverer": False}), engine=engine)
        result = DemoResult(clinic_id, token, reused)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://demo", headers=headers) as client:
            for patient in PATIENTS:
                result.patients[patient.mrn] = await _load_patient(client, patient)
        return result
    finally:
        await engine.dispose()


def _describe(result: DemoResult) -> list[str]:
    lines = []
    for mrn, patient in result.patients.items():
        lines.append(f"  {mrn}  {patient['name']}: {patient['story']}")
        for level in patient["levels"]:
            referral = f" (referral {level['referral_id']})" if level.get("referral_id") else ""
            lines.append(f"      {level['joint']} {level['side']:<5}  {level['status']}{referral}")
    return lines


def _curls(result: DemoResult, base_url: str) -> list[str]:
    auth = f'-H "Authorization: Bearer {result.api_key}"'
    first = result.patients[PATIENTS[0].mrn]["id"]
    return [
        f"curl -s {auth} {base_url}/v1/patients",
        f"curl -s {auth} {base_url}/v1/patients/{first}/levels",
        f"curl -s {auth} '{base_url}/v1/referrals?status=open'",
    ]


def run_demo(args: argparse.Namespace) -> None:
    settings = get_settings()
    try:
        result = asyncio.run(seed_demo(settings))
    except DemoError as exc:
        sys.exit(f"blocktrack demo: {exc}")
    base_url = args.base_url.rstrip("/")
    verb = "reused" if result.reused_clinic else "created"
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"{DEMO_CLINIC} {verb} (clinic {result.clinic_id}) in {where}")
    print("\n".join(_describe(result)))
    print(f"\nAdmin API key (shown once): {result.api_key}\n\nTry (with `blocktrack serve` running):")
    print("\n".join(f"  {line}" for line in _curls(result, base_url)))
