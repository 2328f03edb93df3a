"""Benchmark: clinic-wide re-evaluation (PUT /v1/policy) and the referral worklist, on PostgreSQL.

Builds one clinic of N patients (default 10,000, then 50,000), each with 2 levels (L4-L5 left and right), 2
diagnostic blocks per level a week apart and 12 readings per block (1 pre, 11 post), bulk-loaded
with COPY; stores their outcomes once through the services; then starts `blocktrack serve` on a
free loopback port and times over HTTP:
  - PUT /v1/policy medicare -> consensus and back (every block and level re-evaluated, referrals
    opened and withdrawn, in one transaction), then a change of level-only settings and back (the
    stored outcomes kept, levels and referrals re-evaluated);
  - GET /v1/referrals?status=open, p50/p95/p99 over --requests sequential requests.

    .venv/bin/python bench/reevaluate.py [--database-url postgresql://...] [--patients 10000 50000]
        [--profile server.speedscope.json]

Without --database-url it creates a throwaway database on postgresql://postgres@127.0.0.1:5432
and drops it afterwards. Targets (issue 9): the PUT < 5 s at 10,000 patients and no worse than
linear at 50,000; worklist p95 < 50 ms.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.db import make_engine, make_sessionmaker  # noqa: E402
from api.migrate import upgrade  # noqa: E402
from api.services.clinic_pass import reevaluate_clinic  # noqa: E402
from api.services.clinics import create_clinic  # noqa: E402
from api.services.policies import active_policy  # noqa: E402
from api.settings import Settings  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
POST_MINUTES = (15, 30, 45, 60, 90, 120, 180, 240, 300, 360, 480)
# Relief patterns (scores after a baseline of 8): some pass at 80%, more at 50%, some at neither.
PATTERNS = {
    "strong": (1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8),  # 87.5%: positive under medicare and consensus
    "moderate": (3, 3, 3, 4, 4, 5, 6, 7, 8, 8, 8),  # 50-62.5%: positive under consensus only
    "weak": (6, 6, 5, 6, 7, 7, 8, 8, 8, 8, 8),  # below 50%: negative everywhere
}
WEIGHTS = {"strong": 0.5, "moderate": 0.35, "weak": 0.15}
# Settings no verdict reads (VERDICT_SETTINGS in api/clinical/verdict.py): levels and referrals
# change, the stored outcomes do not.
LEVEL_ONLY = {"profile": "medicare", "enforce_coverage_criteria": False, "require_concordance": True}


def rows_for(clinic_id: uuid.UUID, patients: int, seed: int = 7) -> dict[str, list[tuple]]:
    rng = random.Random(seed)
    start, now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC), datetime.now(UTC)
    tables: dict[str, list[tuple]] = {"patient": [], "block": [], "block_target": [], "reading": []}
    for n in range(patients):
        patient_id = uuid.uuid4()
        tables["patient"].append((patient_id, clinic_id, f"MRN{n:07d}", f"Patient {n}", now))
        day = start + timedelta(days=n % 300, minutes=n % 480)
        for side in ("left", "right"):
            for k in range(2):
                _block(tables, rng, clinic_id, patient_id, side, day + timedelta(days=7 * k), now)
    return tables


def _block(tables, rng, clinic_id, patient_id, side, at, now) -> None:  # type: ignore[no-untyped-def]
    block_id, target_id = uuid.uuid4(), uuid.uuid4()
    tables["block"].append(
        (
            block_id,
            clinic_id,
            patient_id,
            at,
            "medial_branch_block",
            "diagnostic",
            "lidocaine",
            "none",
            "fluoroscopy",
            "nrs",
            "active",
            1,
            now,
        )
    )
    tables["block_target"].append((target_id, clinic_id, patient_id, block_id, 0, "L4-L5", side, "lumbar"))
    pattern = PATTERNS[rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]]
    readings = [("pre", at - timedelta(minutes=20), 8)]
    readings += [("post", at + timedelta(minutes=m), s) for m, s in zip(POST_MINUTES, pattern, strict=True)]
    for phase, when, score in readings:
        tables["reading"].append(
            (
                uuid.uuid4(),
                clinic_id,
                block_id,
                target_id,
                phase,
                when,
                score,
                False,
                "patient_diary",
                "active",
                1,
                now,
            )
        )


COLUMNS = {
    "patient": ("id", "clinic_id", "mrn", "name", "created_at"),
    "block": (
        "id",
        "clinic_id",
        "patient_id",
        "performed_at",
        "procedure",
        "intent",
        "agent",
        "sedation",
        "guidance",
        "pain_scale",
        "status",
        "version",
        "created_at",
    ),
    "block_target": ("id", "clinic_id", "patient_id", "block_id", "position", "joint", "side", "region"),
    "reading": (
        "id",
        "clinic_id",
        "block_id",
        "target_id",
        "phase",
        "recorded_at",
        "score",
        "analgesic_taken",
        "source",
        "status",
        "version",
        "created_at",
    ),
}


async def load(url: str, patients: int) -> tuple[uuid.UUID, str]:
    """A clinic with its admin key, its data COPYed in, and every outcome stored once."""
    engine = make_engine(Settings(database_url=url).async_database_url)
    factory = make_sessionmaker(engine)
    async with factory() as session, session.begin():
        clinic, _key, token = await create_clinic(session, "Benchmark Spine Center")
    tables = rows_for(clinic.id, patients)
    connection = await asyncpg.connect(url)
    try:
        for table in ("patient", "block", "block_target", "reading"):
            await connection.copy_records_to_table(table, records=tables[table], columns=COLUMNS[table])
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    began = time.perf_counter()
    async with factory() as session, session.begin():
        await reevaluate_clinic(session, clinic.id, await active_policy(session, clinic.id))
    print(f"initial evaluation (in process, no HTTP): {time.perf_counter() - began:.2f} s")
    await engine.dispose()
    return clinic.id, token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str, port: int, profile: str | None) -> subprocess.Popen[bytes]:
    """`blocktrack serve` on `port`; `profile`: under `py-spy record` writing that file (speedscope)."""
    # The worklist is timed with one key, faster than its rate limit allows: lift the limit (the limiter's
    # statement still runs on every request), as bench/diary_write.py does.
    limits = {"BLOCKTRACK_RATE_LIMIT_PER_SECOND": "1000000", "BLOCKTRACK_RATE_LIMIT_BURST": "1000000"}
    env = {**limits, **os.environ, "BLOCKTRACK_DATABASE_URL": url, "BLOCKTRACK_RUN_DELIVERER": "false"}
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)]
    if profile:
        spy = shutil.which("py-spy") or Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--subprocesses", "-f", "speedscope", "-o", profile, "--", *command]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not become ready")


def measure(base: str, token: str, requests: int, other: dict[str, object]) -> None:
    """`other`: the policy PUT against medicare and back (default consensus); then a change of level-only
    settings (verdicts cannot change: the stored outcomes are kept) and back."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        for body in (other, {"profile": "medicare"}, LEVEL_ONLY, {"profile": "medicare"}):
            began = time.perf_counter()
            response = client.put("/v1/policy", json=body)
            elapsed = time.perf_counter() - began
            response.raise_for_status()
            counts = {s: _count(client, s) for s in ("open", "withdrawn")}
            version = response.json()["version"]
            print(
                f"PUT /v1/policy -> {json.dumps(body)} (version {version}): {elapsed:.2f} s; "
                f"referrals open {counts['open']}, withdrawn {counts['withdrawn']}; {_load()}"
            )
        client.put("/v1/policy", json=other).raise_for_status()  # a full worklist
        timings = []
        for _ in range(requests):
            began = time.perf_counter()
            client.get("/v1/referrals", params={"status": "open"}).raise_for_status()
            timings.append((time.perf_counter() - began) * 1000)
        cuts = statistics.quantiles(timings, n=100)
        print(
            f"GET /v1/referrals?status=open x{requests} ({_count(client, 'open')} open): "
            f"p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms, p99 {cuts[98]:.1f} ms; {_load()}"
        )


def _load() -> str:
    """The machine's load average: figures from a busy 2-core machine are not comparable to an idle one's."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _count(client: httpx.Client, status: str) -> int:
    """The number of referrals in `status`, paging through the worklist (200 a page)."""
    total, cursor = 0, None
    while True:
        params = {"status": status, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/referrals", params=params).json()
        total += len(page["items"])
        if not (cursor := page["next_cursor"]):
            return total


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a throwaway one)")
    parser.add_argument(
        "--patients",
        type=int,
        nargs="+",
        default=[10_000, 50_000],
        help="clinic sizes, each timed in a database of its own (default 10000 50000: growth shows)",
    )
    parser.add_argument("--profile", help="record the server with py-spy into this file (speedscope JSON)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--other-policy",
        type=json.loads,
        default={"profile": "consensus"},
        help='the PUT /v1/policy body timed against medicare (JSON; default {"profile": "consensus"}); '
        'e.g. {"profile": "custom", "threshold_pct": 50} keeps two blocks required, as consensus did '
        "before clinical rules v2",
    )
    args = parser.parse_args()
    if args.database_url and len(args.patients) > 1:
        parser.error("--database-url takes one --patients size")
    for patients in args.patients:
        run(args, patients)


def run(args: argparse.Namespace, patients: int) -> None:
    """One clinic of `patients` patients in its own database (or --database-url): load, then time."""
    name = None if args.database_url else f"blocktrack_bench_{uuid.uuid4().hex[:8]}"
    url = args.database_url or f"{SERVER}/{name}"
    if name:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        began = time.perf_counter()
        clinic_id, token = asyncio.run(load(url, patients))
        print(
            f"clinic {clinic_id}: {patients} patients, {patients * 4} blocks, "
            f"{patients * 48} readings loaded in {time.perf_counter() - began:.1f} s"
        )
        port = free_port()
        server = serve(url, port, args.profile)
        try:
            measure(f"http://127.0.0.1:{port}", token, args.requests, args.other_policy)
        finally:
            # Ctrl-C to the group: the server stops, and py-spy, when profiling, writes its file as it exits
            # (on SIGTERM it would exit without writing it).
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=60)
    finally:
        if name:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
