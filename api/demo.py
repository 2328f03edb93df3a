"""`blocktrack demo`: a demo clinic with realistic patients, blocks and pain diaries.

Only the clinic and its admin key are made directly (there is no HTTP endpoint for clinics); everything else
goes through the public API in-process, so the demo exercises the same contract an EHR integration uses.
Running it again reuses the clinic named DEMO_CLINIC and its admin key (kept in a file, see demo_key_file),
and adds only the patients whose MRN is not there yet.
"""

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.auth import hash_token
from api.db import make_engine, make_sessionmaker
from api.demo_data import DIARY_MINUTES, PATIENTS, DemoBlock, DemoPatient
from api.oauth.tokens import key_live
from api.settings import Settings, get_settings
from models import ApiKey, Clinic, User
from models.base import utcnow

DEMO_CLINIC = "Demo Spine & Pain Clinic"
DEMO_KEY_NAME = "demo admin"
DEMO_TIME_ZONE = "America/New_York"  # CR-30: the clinic's sentences show its own wall clock


DEMO_USERS = (  # people who sign in to the staff workspace: (email, name, role)
    ("staff@demo-clinic.example", "Sam Rivera", "staff"),
    ("clinician@demo-clinic.example", "Dr. Priya Natarajan", "clinician"),
)


@dataclass
class DemoResult:
    clinic_id: uuid.UUID
    api_key: str
    reused_clinic: bool
    # MRN -> patient, with "levels" and "rfa_plan"
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    sign_ins: list[tuple[str, str, str]] = field(default_factory=list)  # (email, one-time password, role)


class DemoError(RuntimeError):
    pass


def _performed_at(days_ago: int) -> datetime:
    day = datetime.now(ZoneInfo(DEMO_TIME_ZONE)) - timedelta(days=days_ago)
    return day.replace(hour=9, minute=30, second=0, microsecond=0)


def _diary_readings(block: DemoBlock, performed_at: datetime) -> list[dict[str, Any]]:
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


def _follow_up_readings(block: DemoBlock, performed_at: datetime) -> list[dict[str, Any]]:
    """CR-28: an ablation's follow-up, scored at clinic visits or by phone (days after it)."""
    if block.follow_up is None:
        return []
    pre = {"phase": "pre", "recorded_at": (performed_at - timedelta(hours=1)).isoformat()}
    readings = [{**pre, "score": block.follow_up.baseline, "source": "clinician"}]
    for days, score in block.follow_up.scores:
        at = (performed_at + timedelta(days=days)).isoformat()
        readings.append({"phase": "post", "recorded_at": at, "score": score, "source": "clinician"})
    return readings


def _block_body(block: DemoBlock, performed_at: datetime) -> dict[str, Any]:
    body = {
        "performed_at": performed_at.isoformat(),
        "procedure": block.procedure,  # an ablation's intent defaults to therapeutic
        "agent": block.agent,
        "concentration_pct": block.concentration_pct,
        "sedation": block.sedation,
        "guidance": block.guidance,
        "pain_scale": block.pain_scale,
        "targets": [{"joint": joint, "side": block.target_side} for joint in block.joints],
        "notes": "Demo record.",
    }
    return body if block.procedure != "medial_branch_block" else {**body, "volume_ml_per_nerve": 0.5}


async def _call(client: httpx.AsyncClient, method: str, path: str, expect: int, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    if response.status_code != expect:
        raise DemoError(
            f"{method} {path} answered {response.status_code}, not {expect}: {response.text[:500]}"
        )
    return response.json()


async def _record_block(client: httpx.AsyncClient, patient_id: str, block: DemoBlock) -> None:
    performed_at = _performed_at(block.days_ago)
    made = await _call(
        client, "POST", f"/v1/patients/{patient_id}/blocks", 201, json=_block_body(block, performed_at)
    )
    readings = _diary_readings(block, performed_at) + _follow_up_readings(block, performed_at)
    if readings:
        await _call(client, "POST", f"/v1/blocks/{made['id']}/readings", 201, json={"readings": readings})
    if block.override:
        body = {"reason": block.override}
        await _call(client, "PUT", f"/v1/blocks/{made['id']}/coverage-override", 200, json=body)


async def _load_patient(client: httpx.AsyncClient, patient: DemoPatient) -> dict[str, Any]:
    """Create the patient (unless its MRN is there already), its blocks and diaries; return it with its
    levels and RFA plan."""
    found = await _call(client, "GET", "/v1/patients", 200, params={"mrn": patient.mrn})
    if found["items"]:
        record = found["items"][0]
    else:
        body = {"mrn": patient.mrn, "name": patient.name, "birth_date": patient.birth_date}
        record = await _call(client, "POST", "/v1/patients", 201, json=body)
        for block in sorted(patient.blocks, key=lambda b: -b.days_ago):
            await _record_block(client, record["id"], block)
    levels = await _call(client, "GET", f"/v1/patients/{record['id']}/levels", 200)
    plan = await _call(client, "GET", f"/v1/patients/{record['id']}/rfa-plan", 200)
    return {**record, "story": patient.story, "levels": levels["items"], "rfa_plan": plan["families"]}


def demo_key_file(database_url: str) -> Path:
    """Where the demo's admin key is kept between runs: beside a SQLite file, else in the working
    directory."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.demo-key")
    return Path(".blocktrack-demo-key")


def _stored_token(key_file: Path) -> str | None:
    try:
        return key_file.read_text().strip() or None
    except OSError:
        return None


def _store_token(key_file: Path, token: str) -> None:
    # Readable by its owner only: it is a working admin key of the demo clinic, as printed on the terminal.
    key_file.touch(mode=0o600)
    key_file.chmod(0o600)
    key_file.write_text(token + "\n")


async def _live_key(session: AsyncSession, clinic_id: uuid.UUID, token: str) -> bool:
    found = await session.scalar(
        select(ApiKey.id).where(
            ApiKey.clinic_id == clinic_id,
            ApiKey.key_hash == hash_token(token),
            ApiKey.role == "admin",
            key_live(utcnow()),
        )
    )
    return found is not None


async def _replace_demo_keys(session: AsyncSession, clinic_id: uuid.UUID) -> str:
    """Revoke the demo's earlier admin keys, whose secret is lost, and make the one to keep."""
    from api.services.clinics import create_key

    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.clinic_id == clinic_id,
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.name.like(f"{DEMO_KEY_NAME}%"), ApiKey.name == f"{DEMO_CLINIC} admin"),
        )
        .values(revoked_at=utcnow())
    )
    _key, token = await create_key(session, clinic_id, "admin", DEMO_KEY_NAME)
    return token


async def _demo_key(engine: AsyncEngine, key_file: Path) -> tuple[uuid.UUID, str, bool]:
    """The demo clinic (made once, then reused) and its admin key: the one kept in `key_file` while it
    still works, else a new one (the earlier demo keys, whose secret nobody holds any more, are revoked)."""
    from api.services.clinics import create_clinic

    async with make_sessionmaker(engine)() as session, session.begin():
        clinic = await session.scalar(
            select(Clinic).where(Clinic.name == DEMO_CLINIC).order_by(Clinic.created_at).limit(1)
        )
        if clinic is None:
            clinic, _key, token = await create_clinic(session, DEMO_CLINIC)
            reused = False
        else:
            token = _stored_token(key_file) or ""
            if not await _live_key(session, clinic.id, token):
                token = await _replace_demo_keys(session, clinic.id)
            reused = True
    if token != _stored_token(key_file):
        _store_token(key_file, token)
    return clinic.id, token, reused


async def _demo_users(engine: AsyncEngine, clinic_id: uuid.UUID) -> list[tuple[str, str, str]]:
    """The demo's people, each with a fresh one-time password (made once, then reset on every run)."""
    from api.services.users import create_user, reset_password

    sign_ins = []
    async with make_sessionmaker(engine)() as session, session.begin():
        for email, name, role in DEMO_USERS:
            found = await session.scalar(select(User).where(User.clinic_id == clinic_id, User.email == email))
            if found is None:
                _user, password = await create_user(session, clinic_id, email, name, role)
            else:
                _user, password = await reset_password(session, clinic_id, found.id)
            sign_ins.append((email, password, role))
    return sign_ins


async def seed_demo(settings: Settings) -> DemoResult:
    """Make (or reuse) the demo clinic and load the demo patients through the API."""
    from api.app import create_app

    engine = make_engine(settings.async_database_url)
    try:
        clinic_id, token, reused = await _demo_key(engine, demo_key_file(settings.database_url))
        # The loader is the operator's own in-process client, not a network one: its burst is the data's.
        loader = {"run_deliverer": False, "rate_limit_burst": 100_000}
        app = create_app(settings.model_copy(update=loader), engine=engine)
        result = DemoResult(clinic_id, token, reused, sign_ins=await _demo_users(engine, clinic_id))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://demo", headers=headers) as client:
            await _call(client, "PATCH", "/v1/clinic", 200, json={"time_zone": DEMO_TIME_ZONE})
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
            if level.get("fulfilled_referral_id"):
                referral += f" (fulfilled referral {level['fulfilled_referral_id']})"
            why = ", ".join(dict.fromkeys(r["code"] for r in level["reasons"]))
            lines.append(f"      {level['joint']} {level['side']:<5}  {level['status']} [{why}]{referral}")
        for family in patient["rfa_plan"]:
            sessions = "; ".join(
                " + ".join(dict.fromkeys(t["joint"] for t in s["targets"]))
                + " ("
                + ", ".join(f"{c['cpt']}-{c['modifier']}" for c in s["codes"])
                + ")"
                for s in family["sessions"]
            )
            lines.append(
                f"      RFA plan, {family['payer_family']}: {len(family['sessions'])} session(s): {sessions}"
            )
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
    kept = demo_key_file(settings.database_url)
    print(f"\nAdmin API key (kept in {kept} for the next run): {result.api_key}")
    print("\nTry (with `blocktrack serve` running):")
    print("\n".join(f"  {line}" for line in _curls(result, base_url)))
    print(f"\nStaff workspace: {base_url}/ui  (the first sign-in asks you to choose your own password)")
    for email, password, role in result.sign_ins:
        print(f"  {role:<9}  email {email}  one-time password {password}")
