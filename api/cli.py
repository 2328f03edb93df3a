"""The `blocktrack` command."""

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.settings import get_settings
from models.api_key import ROLES


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    engine = make_engine(get_settings().async_database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def _print(args: argparse.Namespace, data: dict[str, str], human: str) -> None:
    print(json.dumps(data) if args.json else human)


def cmd_migrate(_: argparse.Namespace) -> None:
    upgrade(get_settings().database_url)
    print("database is at the latest migration")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app

    upgrade(get_settings().database_url)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")


def cmd_clinic_create(args: argparse.Namespace) -> None:
    from api.services.audit import record_command
    from api.services.clinics import create_clinic

    async def work(session: AsyncSession) -> Any:
        clinic, key, token = await create_clinic(session, args.name)
        record_command(session, clinic.id, "create", "api_key", key.id, "blocktrack clinic create")
        return clinic, key, token

    upgrade(get_settings().database_url)
    clinic, _key, token = asyncio.run(_in_transaction(work))
    data = {"clinic_id": str(clinic.id), "api_key": token}
    _print(args, data, f"clinic {clinic.id}\nadmin API key (shown once): {token}")


def cmd_key_create(args: argparse.Namespace) -> None:
    from api.services.audit import record_command
    from api.services.clinics import create_key_for_existing_clinic

    async def work(session: AsyncSession) -> Any:
        key, token = await create_key_for_existing_clinic(session, args.clinic, args.role, args.name)
        record_command(session, key.clinic_id, "create", "api_key", key.id, "blocktrack key create")
        return key, token

    upgrade(get_settings().database_url)
    key, token = asyncio.run(_in_transaction(work))
    data = {"key_id": str(key.id), "api_key": token}
    _print(args, data, f"key {key.id} ({args.role})\nAPI key (shown once): {token}")


def cmd_demo(args: argparse.Namespace) -> None:
    from api.demo import run_demo

    upgrade(get_settings().database_url)
    run_demo(args)


def cmd_worker(args: argparse.Namespace) -> None:
    from api.webhooks.worker import run_worker

    upgrade(get_settings().database_url)
    run_worker(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blocktrack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)
    clinic = sub.add_parser("clinic").add_subparsers(dest="clinic_command", required=True)
    clinic_create = clinic.add_parser("create", help="make a clinic and its first admin key")
    clinic_create.add_argument("name")
    clinic_create.add_argument("--json", action="store_true")
    clinic_create.set_defaults(func=cmd_clinic_create)
    key = sub.add_parser("key").add_subparsers(dest="key_command", required=True)
    key_create = key.add_parser("create", help="make an API key")
    key_create.add_argument("--clinic", required=True, type=uuid.UUID)
    key_create.add_argument("--role", required=True, choices=ROLES)
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--json", action="store_true")
    key_create.set_defaults(func=cmd_key_create)
    demo = sub.add_parser("demo", help="fill the database with a demo clinic and print a key")
    demo.add_argument("--base-url", default="http://127.0.0.1:8000")
    demo.set_defaults(func=cmd_demo)
    worker = sub.add_parser("worker", help="deliver webhooks (run several for throughput)")
    worker.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    worker.set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except LookupError as exc:
        sys.exit(f"blocktrack: {exc}")
