"""`blocktrack worker`: the deliverer as its own process; run several for throughput.

`blocktrack serve` runs the same loop in-process (api/app.py lifespan) for the embedded default.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import make_engine, make_sessionmaker
from api.settings import Settings, get_settings
from api.webhooks.deliverer import Deliverer, make_client
from models.base import utcnow


def run_worker(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(get_settings(), once=args.once))


async def _main(settings: Settings, once: bool) -> None:
    engine = make_engine(settings.async_database_url)
    try:
        if once:
            await deliver_until_idle(engine, settings)
        else:
            await _forever(engine, settings)
    finally:
        await engine.dispose()


async def deliver_until_idle(engine: AsyncEngine, settings: Settings) -> int:
    """Attempt every delivery that is due now, once each; returns how many attempts were made."""
    started = utcnow()
    async with make_client(settings) as client:
        deliverer = Deliverer(make_sessionmaker(engine), settings, client)
        total = 0
        # A failed attempt is rescheduled after `started`, so each pass brings only new work and this ends.
        while sent := await deliverer.deliver_due(due_by=started):
            total += sent
        return total


async def _forever(engine: AsyncEngine, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with running_deliverer(engine, settings, stop):
        await stop.wait()


@contextlib.asynccontextmanager
async def running_deliverer(
    engine: AsyncEngine, settings: Settings, stop: asyncio.Event
) -> AsyncIterator[None]:
    """Run the delivery loop as a background task for the duration of the block."""
    async with make_client(settings) as client:
        deliverer = Deliverer(make_sessionmaker(engine), settings, client)
        task = asyncio.create_task(deliverer.run(stop), name="webhook-deliverer")
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=settings.webhook_timeout_seconds + 5)
            except TimeoutError:
                pass  # wait_for cancelled it; an unrecorded attempt is retried once its lease expires
