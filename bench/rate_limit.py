"""Benchmark: what the rate limiter lets through per second per key, and what its statement costs.

Clients hammer GET /v1/clinic with one API key each for --duration seconds, as fast as the server answers,
and the script prints, per second and per key, the requests let through (200) and refused (429), then the
steady rate let through after the first second's burst. The default limits are 20 requests a second after
a burst of 100 (BLOCKTRACK_RATE_LIMIT_PER_SECOND, BLOCKTRACK_RATE_LIMIT_BURST).

    # in-process (ASGI) on a throwaway SQLite database, or on BLOCKTRACK_DATABASE_URL when it is set:
    .venv/bin/python bench/rate_limit.py [--keys 2] [--clients 8] [--duration 10]
    # against a running server, with keys of its clinic:
    .venv/bin/python bench/rate_limit.py --url http://127.0.0.1:8000 --api-key bt_... --api-key bt_...

In-process, it also times the limiter's statement alone (--statements of them, one bucket, on the
connection the app uses outside a request's transaction): the cost every authenticated request pays.
"""

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.db import make_engine, make_sessionmaker, outside_request
from api.migrate import upgrade
from api.rate_limit import key_limit, take
from api.services.clinics import create_clinic, create_key
from api.settings import Settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: in-process)")
    parser.add_argument("--api-key", action="append", default=[], help="a key of the server's clinic")
    parser.add_argument("--keys", type=int, default=2, help="in-process: keys to load at once (default 2)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients per key (default 8)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--rate", type=float, help="in-process: requests a second per key (default 20)")
    parser.add_argument("--burst", type=int, help="in-process: burst per key (default 100)")
    parser.add_argument("--statements", type=int, default=2000, help="limiter statements to time alone")
    return parser.parse_args()


async def hammer(
    client: httpx.AsyncClient, token: str, until: float, start: float, seen: Counter[Any]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        response = await client.get("/v1/clinic", headers=headers)
        seen[(token, int(time.monotonic() - start), response.status_code)] += 1


async def load(client: httpx.AsyncClient, tokens: list[str], clients: int, duration: float) -> Counter[Any]:
    seen: Counter[Any] = Counter()
    start = time.monotonic()
    await asyncio.gather(
        *(hammer(client, token, start + duration, start, seen) for token in tokens for _ in range(clients))
    )
    return seen


def report(seen: Counter[Any], tokens: list[str], duration: float) -> None:
    seconds = range(int(duration))
    for n, token in enumerate(tokens, 1):
        let_through = [seen[(token, s, 200)] for s in seconds]
        refused = [seen[(token, s, 429)] for s in seconds]
        others = sum(v for (t, _s, status), v in seen.items() if t == token and status not in (200, 429))
        print(f"key {n}: let through per second {let_through}")
        print(
            f"key {n}: refused (429) per second  {refused}" + (f"; other answers {others}" if others else "")
        )
        print(f"key {n}: {sum(let_through)} let through in {len(seconds)} s, {sum(refused)} refused")
        limited = [s for s in seconds if refused[s]]
        if limited:  # from the first refusal on, the key asks for more than its rate: what gets through
            tail = let_through[limited[0] + 1 :]
            rate = sum(tail) / len(tail) if tail else float("nan")
            print(f"key {n}: once limited (from second {limited[0]}), {rate:.1f} let through per second")


async def time_statement(settings: Settings, app: Any, count: int) -> None:
    limit = key_limit(settings)
    started = time.perf_counter()
    for n in range(count):
        async with outside_request(app) as connection:
            await take(connection, f"bench:{n % 50}", limit)
    per = (time.perf_counter() - started) / count * 1000
    print(f"limiter statement alone ({app.state.engine.dialect.name}): {per:.3f} ms each over {count}")


async def in_process(args: argparse.Namespace, url: str) -> None:
    limits = {"rate_limit_per_second": args.rate, "rate_limit_burst": args.burst}
    given = {name: value for name, value in limits.items() if value is not None}
    settings = Settings(database_url=url, run_deliverer=False, **given)
    engine = make_engine(settings.async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            clinic, _key, first = await create_clinic(session, "Rate limit bench")
            tokens = [first] + [
                (await create_key(session, clinic.id, "ehr", f"bench {n}"))[1] for n in range(1, args.keys)
            ]
        app = create_app(settings, engine=engine)
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            print(f"in-process, {len(tokens)} key(s) x {args.clients} clients, {args.duration:.0f} s, {url}")
            print(f"limit: {settings.rate_limit_per_second}/s after a burst of {settings.rate_limit_burst}")
            report(await load(client, tokens, args.clients, args.duration), tokens, args.duration)
        await time_statement(settings, app, args.statements)
    finally:
        await engine.dispose()


async def remote(args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
        print(f"{args.url}, {len(args.api_key)} key(s) x {args.clients} clients, {args.duration:.0f} s")
        report(await load(client, args.api_key, args.clients, args.duration), args.api_key, args.duration)


def main() -> None:
    args = parse_args()
    if args.url:
        asyncio.run(remote(args))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = os.environ.get("BLOCKTRACK_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'rate-limit.db'}"
            upgrade(url)  # runs its own event loop
            asyncio.run(in_process(args, url))
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
