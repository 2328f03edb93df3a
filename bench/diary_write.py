"""Benchmark: the diary write path, POST /v1/blocks/{id}/readings, against the stack's one-row-insert ceiling.

Each request is one 12-reading diary (a pre reading and 11 post readings at the usual time points), as an
EHR posts it. Setup makes --patients patients with one lumbar block each (through the API); the clients then
post diaries round-robin over those blocks for --duration seconds (or --count requests), each diary at
times of its own (shifted by microseconds), and the script prints requests per second and p50/p95/p99
latency.

With --spawn it then starts bench/ceiling_app.py, a minimal endpoint on the same stack (FastAPI, async
SQLAlchemy, the same driver and engine settings, the same uvicorn options, one worker) that inserts one row
per request, loads it the same way, and prints both figures and their ratio, with the load average.

    # start the servers on free loopback ports over BLOCKTRACK_DATABASE_URL (a clinic is made):
    export BLOCKTRACK_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/diary_write.py --spawn [--workers 2]
    # or only the diary, against a running server, with an ehr or admin key of a clinic:
    .venv/bin/python bench/diary_write.py --url http://127.0.0.1:8000 --api-key bt_...

--idempotency sends a fresh Idempotency-Key with every request, to measure what that machinery costs.
--workers N serves the diary with N processes (the ceiling keeps one).
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
POST_MINUTES = (15, 30, 45, 60, 120, 180, 240, 300, 360, 420, 480)
PATTERNS = (  # post scores after a baseline of 8: positive, negative, diary-too-short shapes
    (1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 8),
    (5, 4, 4, 5, 6, 7, 8, 8, 8, 8, 8),
    (1, 0, 0, 1, 1, 1, 1, 1, 2, 3, 5),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="a running server")
    parser.add_argument("--api-key", default=os.environ.get("BLOCKTRACK_API_KEY"), help="ehr or admin key")
    parser.add_argument("--spawn", action="store_true", help="start a server over BLOCKTRACK_DATABASE_URL")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--count", type=int, help="stop after this many requests instead")
    parser.add_argument("--patients", type=int, default=1000, help="patients (one block each) to post to")
    parser.add_argument("--workers", type=int, default=1, help="diary server processes with --spawn")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--idempotency", action="store_true", help="send a unique Idempotency-Key each time")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--profile", help="with --spawn: record the diary server with py-spy into this file")
    return parser.parse_args()


def diary(performed_at: datetime, pattern: tuple[int, ...], n: int) -> dict[str, Any]:
    """The n-th diary: its readings `n` microseconds after the usual time points, so that no two diaries
    of a block hold a reading of one target at the same instant (a duplicate would be a 409)."""
    shift = timedelta(microseconds=n)
    pre = (performed_at - timedelta(minutes=20) + shift).isoformat()
    readings = [{"phase": "pre", "recorded_at": pre, "score": 8, "source": "patient_diary"}]
    readings += [
        {
            "phase": "post",
            "recorded_at": (performed_at + timedelta(minutes=minutes) + shift).isoformat(),
            "score": score,
            "source": "patient_diary",
        }
        for minutes, score in zip(POST_MINUTES, pattern, strict=True)
    ]
    return {"readings": readings}


async def make_block(client: httpx.AsyncClient, n: int, performed_at: datetime) -> str:
    mrn = f"BENCH-{uuid.uuid4().hex[:10]}"
    patient = await client.post("/v1/patients", json={"mrn": mrn, "name": f"Bench patient {n}"})
    patient.raise_for_status()
    body = {
        "performed_at": performed_at.isoformat(),
        "agent": "lidocaine",
        "targets": [{"joint": "L4-L5", "side": "right"}],
    }
    block = await client.post(f"/v1/patients/{patient.json()['id']}/blocks", json=body)
    block.raise_for_status()
    return str(block.json()["id"])


async def setup(client: httpx.AsyncClient, patients: int) -> tuple[list[str], datetime]:
    performed_at = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    gate = asyncio.Semaphore(4)

    async def one(n: int) -> str:
        async with gate:
            return await make_block(client, n, performed_at)

    return list(await asyncio.gather(*(one(n) for n in range(patients)))), performed_at


Request = Callable[[int, random.Random], tuple[str, dict[str, Any]]]


def diary_requests(blocks: list[str], performed_at: datetime) -> Request:
    """The n-th request: a diary for the next block, round-robin."""
    next_block = itertools.cycle(blocks)

    def make(n: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
        return f"/v1/blocks/{next(next_block)}/readings", diary(performed_at, rng.choice(PATTERNS), n)

    return make


def ceiling_request(n: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    return "/rows", {"score": rng.randint(0, 10), "note": "bench"}


class Load:
    """Shared state of the clients: the request budget, latencies and errors."""

    def __init__(self, args: argparse.Namespace, request: Request) -> None:
        self.args, self.request = args, request
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.sent = 0
        self.measuring = False
        self.deadline = float("inf")

    def more(self) -> bool:
        if self.args.count is not None:
            return self.sent < self.args.count
        return time.perf_counter() < self.deadline

    async def client(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        while self.more():
            self.sent += 1
            path, body = self.request(self.sent, rng)
            headers = {"Idempotency-Key": str(uuid.uuid4())} if self.args.idempotency else {}
            started = time.perf_counter()
            try:
                response = await http.post(path, json=body, headers=headers)
                outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            if not self.measuring:
                continue
            if outcome == "201":
                self.latencies.append(time.perf_counter() - started)
            else:
                self.errors[outcome] = self.errors.get(outcome, 0) + 1


async def run_load(http: httpx.AsyncClient, load: Load) -> float:
    """Run the clients; return the measured wall time (the warm-up is excluded)."""
    args = load.args
    if args.count is None:
        load.deadline = time.perf_counter() + args.warmup + args.duration
    tasks = [asyncio.create_task(load.client(http, random.Random(n))) for n in range(args.clients)]
    if args.count is None and args.warmup > 0:
        await asyncio.sleep(args.warmup)
    load.measuring = True
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def report(load: Load, elapsed: float, args: argparse.Namespace, url: str) -> dict[str, Any]:
    latencies = sorted(load.latencies)
    return {
        "url": url,
        "clients": args.clients,
        "idempotency": args.idempotency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "errors": load.errors,
        "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            name: round(1000 * percentile(latencies, q), 1)
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _blocktrack(*args: str) -> str:
    command = [sys.executable, "-c", "from api.cli import main; main()", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


@contextmanager
def spawned(app: str, workers: int, profile: str | None = None) -> Iterator[str]:
    """uvicorn serving the `app` factory over BLOCKTRACK_DATABASE_URL on a free loopback port.

    The options of `blocktrack serve` (uvloop, httptools), without its per-request access log, which
    would measure the terminal rather than the service. `profile`: under `py-spy record` into that file
    (collapsed stacks, one line per stack with its sample count; the warm-up is in it too).
    """
    port = _free_port()
    spy: list[str] = []
    if profile:
        found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = [found, "record", "--subprocesses", "-f", "raw", "-o", profile, "--"]
    command = [*spy, sys.executable, "-m", "uvicorn", app, "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
               "--workers", str(workers), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        # The load is one key's: lift its rate limit (the limiter's statement still runs on every request).
        limits = {"BLOCKTRACK_RATE_LIMIT_PER_SECOND": "1000000", "BLOCKTRACK_RATE_LIMIT_BURST": "1000000"}
        env = {**limits, **os.environ}
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            yield url
        finally:
            # Ctrl-C to the group: uvicorn stops, and py-spy, when profiling, writes its file as it exits.
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=60)


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready in 30 s")


def _client(url: str, args: argparse.Namespace, api_key: str | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60)


async def bench_diary(url: str, api_key: str, args: argparse.Namespace) -> dict[str, Any]:
    async with _client(url, args, api_key) as http:
        blocks, performed_at = await setup(http, args.patients)
        load = Load(args, diary_requests(blocks, performed_at))
        elapsed = await run_load(http, load)
    return report(load, elapsed, args, url)


async def bench_ceiling(url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with _client(url, args) as http:
        load = Load(args, ceiling_request)
        elapsed = await run_load(http, load)
    return report(load, elapsed, args, url)


def _line(name: str, result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    return (
        f"{name}: {result['requests_per_second']} req/s ({result['requests']} in {result['seconds']} s); "
        f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms; "
        f"errors {result['errors'] or 'none'}; load average {result['load_average']}"
    )


def spawned_run(args: argparse.Namespace) -> dict[str, Any]:
    """The diary on the service, then the one-row insert on the ceiling app, over the same database."""
    made = json.loads(_blocktrack("clinic", "create", f"Bench clinic {uuid.uuid4().hex[:6]}", "--json"))
    with spawned("api.app:create_app", args.workers, args.profile) as url:
        diary_result = asyncio.run(bench_diary(url, made["api_key"], args))
    with spawned("bench.ceiling_app:create_app", 1) as url:
        ceiling_result = asyncio.run(bench_ceiling(url, args))
    ratio = diary_result["requests_per_second"] / max(ceiling_result["requests_per_second"], 0.1)
    return {
        "diary": diary_result,
        "ceiling": ceiling_result,
        "ratio": round(ratio, 2),
        "workers": args.workers,
    }


def main() -> None:
    args = parse_args()
    if not args.spawn:
        if not args.api_key:
            raise SystemExit("give --api-key (or BLOCKTRACK_API_KEY), or --spawn")
        result = asyncio.run(bench_diary(args.url.rstrip("/"), args.api_key, args))
        print(json.dumps(result) if args.json else _line("diary batch (12 readings)", result))
        return
    results = spawned_run(args)
    if args.json:
        print(json.dumps(results))
        return
    extra = " and Idempotency-Key" if args.idempotency else ""
    print(f"{args.clients} clients{extra}, database {os.environ.get('BLOCKTRACK_DATABASE_URL', 'default')}")
    print(_line(f"diary batch (12 readings), {args.workers} worker(s)", results["diary"]))
    print(_line("one-row insert ceiling, 1 worker", results["ceiling"]))
    print(f"ratio diary / ceiling: {results['ratio']}")


if __name__ == "__main__":
    main()
