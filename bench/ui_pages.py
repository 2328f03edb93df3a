"""Benchmark: the staff workspace's two busiest pages, the patient board and the block diary, under
concurrent signed-in users, on the demo data.

It loads the demo clinic into a fresh database (BLOCKTRACK_DATABASE_URL, default a temporary SQLite file),
adds --users people who have chosen their password, starts a server on a free loopback port, signs every
user in through the sign-in form, then each user opens boards and diaries in turn (GET
/ui/patients/{id}, GET /ui/blocks/{id}/diary) for --duration seconds. Prints p50/p95/p99 per page.

    .venv/bin/python bench/ui_pages.py [--users 16] [--duration 20]
    BLOCKTRACK_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_ui .venv/bin/python bench/ui_pages.py
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.db import make_engine, make_sessionmaker  # noqa: E402
from api.demo import DEMO_CLINIC, seed_demo  # noqa: E402
from api.services.users import create_user, hash_password  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.diary_write import ROOT, _free_port, _wait_ready, percentile  # noqa: E402
from models import Block, Clinic, Patient  # noqa: E402

PASSWORD = "bench password 1234"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16, help="concurrent signed-in users (default 16)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a person spends on a page before the next (uniform 0..2x; 0: back to back)",
    )
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


async def prepare(settings: Settings, users: int) -> tuple[list[str], list[str], list[str]]:
    """Demo data, `users` people with PASSWORD; returns (emails, board paths, diary paths)."""
    await seed_demo(settings)
    engine = make_engine(settings.async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            clinic = await session.scalar(select(Clinic).where(Clinic.name == DEMO_CLINIC).limit(1))
            assert clinic is not None
            stamp = os.urandom(3).hex()
            emails = []
            for n in range(users):
                user, _ = await create_user(
                    session, clinic.id, f"bench{n}.{stamp}@demo.example", f"Bench {n}", "staff"
                )
                user.password_hash, user.must_change_password = await hash_password(PASSWORD), False
                emails.append(user.email)
            patients = (await session.scalars(select(Patient.id).where(Patient.clinic_id == clinic.id))).all()
            blocks = (await session.scalars(select(Block.id).where(Block.clinic_id == clinic.id))).all()
    finally:
        await engine.dispose()
    return emails, [f"/ui/patients/{p}" for p in patients], [f"/ui/blocks/{b}/diary" for b in blocks]


async def sign_in(http: httpx.AsyncClient, email: str) -> None:
    form = await http.get("/ui/sign-in")
    token = CSRF.search(form.text)
    assert token, form.text[:300]
    answer = await http.post(
        "/ui/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed for {email}: {answer.status_code}")


class Load:
    def __init__(self, pages: list[tuple[str, str]], warmup: float, duration: float, think: float) -> None:
        self.pages = itertools.cycle(pages)
        self.think = think
        self.latencies: dict[str, list[float]] = {"board": [], "diary": []}
        self.errors: dict[str, int] = {}
        self.measure_from = time.perf_counter() + warmup
        self.deadline = self.measure_from + duration

    async def user(self, http: httpx.AsyncClient) -> None:
        while (now := time.perf_counter()) < self.deadline:
            kind, path = next(self.pages)
            response = await http.get(path)
            took = time.perf_counter() - now
            if response.status_code != 200:
                self.errors[f"{kind} {response.status_code}"] = (
                    self.errors.get(f"{kind} {response.status_code}", 0) + 1
                )
            elif now >= self.measure_from:
                self.latencies[kind].append(took)
            if self.think:
                await asyncio.sleep(random.uniform(0, 2 * self.think))


async def run(
    url: str, emails: list[str], boards: list[str], diaries: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for _ in emails]
    try:
        for http, email in zip(clients, emails, strict=True):
            await sign_in(http, email)
        pages = [("board", p) for p in boards] + [("diary", d) for d in diaries]
        load = Load(pages, args.warmup, args.duration, args.think)
        await asyncio.gather(*(load.user(http) for http in clients))
    finally:
        for http in clients:
            await http.aclose()
    result: dict[str, Any] = {
        "users": len(emails),
        "think_seconds": args.think,
        "seconds": args.duration,
        "errors": load.errors,
    }
    for kind, values in load.latencies.items():
        ordered = sorted(values)
        result[kind] = {"requests": len(ordered)} | {
            name: round(1000 * percentile(ordered, q), 1)
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        }
    return result


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = os.environ.get("BLOCKTRACK_DATABASE_URL") or f"sqlite:///{tmp}/bench-ui.db"
        env = {**os.environ, "BLOCKTRACK_DATABASE_URL": database_url, "BLOCKTRACK_RUN_DELIVERER": "false"}
        subprocess.run(
            [sys.executable, "-c", "from api.cli import main; main()", "migrate"],
            env=env,
            check=True,
            cwd=ROOT,
        )
        emails, boards, diaries = asyncio.run(prepare(Settings(database_url=database_url), args.users))
        port = _free_port()
        # uvicorn directly, without its access log (which would measure the terminal, not the service)
        command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
                   "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
        server = subprocess.Popen(command, cwd=ROOT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            result = asyncio.run(run(url, emails, boards, diaries, args))
        finally:
            server.terminate()
            server.wait(timeout=15)
    result["database"] = database_url.split(":")[0]
    result["load_average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result))
        return
    for kind in ("board", "diary"):
        figures = result[kind]
        print(
            f"{kind:<5} {figures['requests']} pages, {args.users} signed-in users, think {args.think} s, "
            f"{result['database']}: "
            f"p50 {figures['p50']} ms, p95 {figures['p95']} ms, p99 {figures['p99']} ms"
        )
    print(f"errors {result['errors'] or 'none'}; load average {result['load_average']:.2f}")


if __name__ == "__main__":
    main()
