"""Memory of the server while it streams `GET /v1/exports/outcomes.csv`: flat, whatever the number of rows.

Fills a database (BLOCKTRACK_DATABASE_URL, default a temporary SQLite file) with two clinics, a small one
(--small targets) and a large one (--targets, default 100,000), each block bilateral with a stored outcome
and its levels; starts `blocktrack serve` on a free loopback port; streams each clinic's export while
sampling the server's resident memory (VmRSS) every 20 ms; prints rows, time and the peak RSS above the
server's RSS before the export. Flat memory: the large export's peak is about the small one's.

    .venv/bin/python bench/export_memory.py [--targets 100000] [--small 10000]
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.services.clinics import create_clinic
from api.settings import Settings
from models import Block, BlockTarget, Level, Patient, TargetOutcome

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _rows(clinic_id: uuid.UUID, targets: int) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    rows: dict[str, list[dict]] = {
        "patient": [],
        "block": [],
        "block_target": [],
        "target_outcome": [],
        "level": [],
    }  # type: ignore[type-arg]
    for p in range(targets // 4):  # two bilateral blocks per patient: four targets
        patient_id = uuid.uuid4()
        rows["patient"].append(
            {"id": patient_id, "clinic_id": clinic_id, "mrn": f"B-{p:07d}", "created_at": START}
        )
        for side in ("left", "right"):
            rows["level"].append(
                {
                    "id": uuid.uuid4(),
                    "clinic_id": clinic_id,
                    "patient_id": patient_id,
                    "joint": "L4-L5",
                    "side": side,
                    "region": "lumbar",
                    "status": "not_indicated",
                    "qualifying_block_ids": [],
                    "reasons": [],
                    "warnings": [],
                    "policy_version": 1,
                    "updated_at": START,
                }
            )
        for b in range(2):
            block_id, at = uuid.uuid4(), START + timedelta(days=p % 300, minutes=b)
            rows["block"].append(
                {
                    "id": block_id,
                    "clinic_id": clinic_id,
                    "patient_id": patient_id,
                    "performed_at": at,
                    "procedure": "medial_branch_block",
                    "intent": "diagnostic",
                    "agent": "lidocaine",
                    "sedation": "none",
                    "guidance": "fluoroscopy",
                    "pain_scale": "nrs",
                    "status": "active",
                    "version": 1,
                    "created_at": at,
                }
            )
            for position, side in enumerate(("left", "right")):
                target_id = uuid.uuid4()
                rows["block_target"].append(
                    {
                        "id": target_id,
                        "clinic_id": clinic_id,
                        "patient_id": patient_id,
                        "block_id": block_id,
                        "position": position,
                        "joint": "L4-L5",
                        "side": side,
                        "region": "lumbar",
                    }
                )
                rows["target_outcome"].append(
                    {
                        "target_id": target_id,
                        "block_id": block_id,
                        "clinic_id": clinic_id,
                        "verdict": "negative",
                        "baseline": 8,
                        "peak_relief_pct": 62.5,
                        "sustained_relief_pct": None,
                        "relief_duration_minutes": 0,
                        "required_minutes": 60,
                        "readings_used": [],
                        "reasons": [],
                        "warnings": [],
                        "policy_version": 1,
                        "computed_at": at,
                    }
                )
    return rows


async def fill(url: str, sizes: list[int]) -> list[str]:
    """One clinic per size; returns their admin keys."""
    engine = make_engine(Settings(database_url=url).async_database_url)
    keys = []
    try:
        for size in sizes:
            async with make_sessionmaker(engine)() as session, session.begin():
                clinic, _key, token = await create_clinic(session, f"Export bench {size}")
                rows = _rows(clinic.id, size)
                for model in (Patient, Level, Block, BlockTarget, TargetOutcome):
                    table = model.__table__
                    for start in range(0, len(rows[table.name]), 5000):
                        await session.execute(insert(table), rows[table.name][start : start + 5000])
            keys.append(token)
        if (
            engine.dialect.name == "postgresql"
        ):  # fresh bulk loads have no statistics yet; production tables do
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return keys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(base: str, key: str, pid: int) -> tuple[int, float, int, int]:
    """(rows, seconds, RSS before in KiB, peak RSS in KiB) of one streamed export."""
    before, peak, stop = rss_kib(pid), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started, lines = time.monotonic(), 0
    with httpx.stream(
        "GET", f"{base}/v1/exports/outcomes.csv", headers={"Authorization": f"Bearer {key}"}, timeout=600
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
    seconds = time.monotonic() - started
    stop.set()
    sampler.join()
    return lines - 1, seconds, before, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    url = os.environ.get("BLOCKTRACK_DATABASE_URL") or f"sqlite:///{tmp}/export-bench.db"
    upgrade(url)
    small_key, large_key = asyncio.run(fill(url, [args.small, args.targets]))
    port = free_port()
    env = {**os.environ, "BLOCKTRACK_DATABASE_URL": url, "BLOCKTRACK_RUN_DELIVERER": "false"}
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for label, key in (("small", small_key), ("large", large_key), ("large again", large_key)):
            rows, seconds, before, peak = measure(base, key, server.pid)
            print(
                f"{label:>11}: {rows:>7} rows in {seconds:5.1f} s; "
                f"server RSS {before / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB "
                f"(+{(peak - before) / 1024:.1f} MiB)"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
