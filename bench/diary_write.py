"""Benchmark: the diary write path, POST /v1/blocks/{id}/readings, over HTTP with concurrent clients.

Each request is one 12-reading diary (a pre reading and 11 post readings at the usual time points), as an
EHR posts it. Setup makes --patients patients with one lumbar block each (through the API); the clients then
post diaries round-robin over those blocks for --duration seconds (or --count requests), and the script
prints requests per second and p50/p95/p99 latency.

    # against a running server, with an ehr or admin key of a clinic:
    .venv/bin/python bench/diary_write.py --url http://127.0.0.1:8000 --api-key bt_...
    # or start one: a server on a free loopback port over BLOCKTRACK_DATABASE_URL (a clinic is made):
    export BLOCKTRACK_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/diary_write.py --spawn

--idempotency sends a fresh Idempotency-Key with every request, to measure what that machinery costs.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
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
    parser.add_argument("--patients", type=int, default=400, help="patients (one block each) to post to")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    parser.add_argument("--idempotency", action="store_true", help="send a unique Idempotency-Key each time")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args()


def diary(performed_at: datetime, pattern: tuple[int, ...]) -> dict[str, Any]:
    pre = (performed_at - timedelta(minutes=20)).isoformat()
    readings = [{"phase": "pre", "recorded_at": pre, "score": 8, "source": "patient_diary"}]
    readings += [
        {"phase": "post", "minutes_after_block": minutes, "score": score, "source": "patient_diary"}
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


class Load:
    """Shared state of the clients: the request budget, latencies and errors."""

    def __init__(self, args: argparse.Namespace, blocks: list[str], performed_at: datetime) -> None:
        self.args, self.performed_at = args, performed_at
        self.next_block = itertools.cycle(blocks)
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
            body = diary(self.performed_at, rng.choice(PATTERNS))
            headers = {"Idempotency-Key": str(uuid.uuid4())} if self.args.idempotency else {}
            started = time.perf_counter()
            try:
                response = await http.post(
                    f"/v1/blocks/{next(self.next_block)}/readings", json=body, headers=headers
                )
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
        "readings_per_second": round(12 * len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            name: round(1000 * percentile(latencies, q), 1)
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _blocktrack(*args: str) -> str:
    command = [sys.executable, "-c", "from api.cli import main; main()", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


@contextmanager
def spawned_server() -> Iterator[tuple[str, str]]:
    """A server over BLOCKTRACK_DATABASE_URL on a free port, and an admin key of a new clinic."""
    made = json.loads(_blocktrack("clinic", "create", f"Bench clinic {uuid.uuid4().hex[:6]}", "--json"))
    port = _free_port()
    # uvicorn directly (migrations were applied by `clinic create`): the same app as `blocktrack serve`
    # without its per-request access log, which would measure the terminal rather than the service.
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            yield url, made["api_key"]
        finally:
            server.terminate()
            server.wait(timeout=15)


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready in 30 s")


async def bench(url: str, api_key: str, args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:
        blocks, performed_at = await setup(http, args.patients)
        load = Load(args, blocks, performed_at)
        elapsed = await run_load(http, load)
    return report(load, elapsed, args, url)


def main() -> None:
    args = parse_args()
    if args.spawn:
        with spawned_server() as (url, api_key):
            result = asyncio.run(bench(url, api_key, args))
    else:
        if not args.api_key:
            raise SystemExit("give --api-key (or BLOCKTRACK_API_KEY), or --spawn")
        result = asyncio.run(bench(args.url.rstrip("/"), args.api_key, args))
    if args.json:
        print(json.dumps(result))
        return
    lat = result["latency_ms"]
    print(
        f"{result['requests']} diary batches (12 readings) in {result['seconds']} s, {args.clients} clients"
        f"{' and Idempotency-Key' if args.idempotency else ''}: {result['requests_per_second']} req/s "
        f"({result['readings_per_second']} readings/s); latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
        f"p99 {lat['p99']} ms; errors {result['errors'] or 'none'}"
    )


if __name__ == "__main__":
    main()
