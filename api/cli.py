"""The `blocktrack` command."""

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import make_engine, make_sessionmaker
from api.migrate import migrate_database
from api.settings import get_settings
from models import Clinic
from models.api_key import ROLES
from models.user import USER_ROLES


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
    reevaluated = migrate_database(get_settings().database_url)
    print("database is at the latest migration")
    if reevaluated:
        print(f"re-evaluated {len(reevaluated)} clinic(s) under the current clinical rules")


def default_workers(database_url: str) -> int:
    """One process per CPU on PostgreSQL; one on SQLite, whose single writer gains nothing from more."""
    return 1 if database_url.startswith("sqlite") else os.cpu_count() or 1


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.logs import LOG_CONFIG

    settings = get_settings()
    migrate_database(settings.database_url)  # once, before any worker starts
    uvicorn.run(
        "api.app:create_app",  # an import string: each worker process builds its own app and engine
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers or default_workers(settings.database_url),
        loop="uvloop",
        http="httptools",
        log_level="info",
        # uvicorn's access log prints query strings (MRNs); api/logs.py logs the route template instead.
        access_log=False,
        log_config=LOG_CONFIG,
        # Slow or idle clients: uvicorn has no timeout on reading a request, so these bound what they hold
        # (the body's own size and time limits are api/limits.py).
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_concurrency,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        backlog=2048,
    )


def cmd_clinic_create(args: argparse.Namespace) -> None:
    from api.clinical.clinic_time import TimeZoneError, canonical_time_zone
    from api.services.audit import record_command
    from api.services.clinics import create_clinic

    try:
        zone = canonical_time_zone(args.time_zone)
    except TimeZoneError as exc:
        sys.exit(f"blocktrack: --time-zone: {exc}")

    async def work(session: AsyncSession) -> Any:
        clinic, key, token = await create_clinic(session, args.name, zone)
        record_command(session, clinic.id, "create", "api_key", key.id, "blocktrack clinic create")
        return clinic, key, token

    migrate_database(get_settings().database_url)
    clinic, _key, token = asyncio.run(_in_transaction(work))
    data = {"clinic_id": str(clinic.id), "api_key": token}
    _print(args, data, f"clinic {clinic.id}\nadmin API key (shown once): {token}")


def cmd_key_create(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from api.services.audit import record_command
    from api.services.clinics import create_key_for_existing_clinic

    expires_at = None if args.expires_days is None else datetime.now(UTC) + timedelta(days=args.expires_days)

    async def work(session: AsyncSession) -> Any:
        key, token = await create_key_for_existing_clinic(
            session, args.clinic, args.role, args.name, expires_at
        )
        record_command(session, key.clinic_id, "create", "api_key", key.id, "blocktrack key create")
        return key, token

    migrate_database(get_settings().database_url)
    key, token = asyncio.run(_in_transaction(work))
    data = {"key_id": str(key.id), "api_key": token}
    if expires_at is not None:
        data["expires_at"] = expires_at.isoformat()
    _print(args, data, f"key {key.id} ({args.role})\nAPI key (shown once): {token}")


def _key_line(key: Any) -> str:
    state = (
        "revoked"
        if key.revoked_at
        else f"expires {key.expires_at:%Y-%m-%d %H:%M}Z"
        if key.expires_at
        else "live"
    )
    used = f"{key.last_used_at:%Y-%m-%d %H:%M}Z" if key.last_used_at else "never"
    return f"{key.id}  {key.role:<7} {state:<24} last used {used:<18} {key.name}"


def _key_json(key: Any) -> dict[str, Any]:
    from api.schemas.api_keys import ApiKeyPublic

    return ApiKeyPublic.model_validate(key).model_dump(mode="json")


def cmd_key_list(args: argparse.Namespace) -> None:
    from api.services.api_keys import list_keys

    async def work(session: AsyncSession) -> Any:
        if await session.get(Clinic, args.clinic) is None:
            raise LookupError(f"no clinic {args.clinic}")
        keys, _next = await list_keys(session, args.clinic, 10_000, None)
        return keys

    migrate_database(get_settings().database_url)
    keys = asyncio.run(_in_transaction(work))
    if args.json:
        print(json.dumps({"items": [_key_json(k) for k in keys]}))
    else:
        print("\n".join(_key_line(k) for k in keys) or "no API keys")


async def _key_change(args: argparse.Namespace, change: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    from api.errors import ApiError

    async def work(session: AsyncSession) -> Any:
        try:
            return await change(session)
        except ApiError as exc:  # another clinic's key is not found, as over the API
            raise LookupError(exc.detail) from None

    return await _in_transaction(work)


def cmd_key_revoke(args: argparse.Namespace) -> None:
    from api.services.api_keys import revoke_key
    from api.services.audit import record_command

    async def change(session: AsyncSession) -> Any:
        key = await revoke_key(session, args.clinic, args.key_id)
        record_command(session, args.clinic, "revoke", "api_key", key.id, "blocktrack key revoke")
        return key

    migrate_database(get_settings().database_url)
    key = asyncio.run(_key_change(args, change))
    print(json.dumps(_key_json(key)) if args.json else f"revoked: {_key_line(key)}")


def cmd_key_rotate(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from api.services.api_keys import rotate_key
    from api.services.audit import record_command

    grace = timedelta(hours=get_settings().key_rotation_grace_hours)

    async def change(session: AsyncSession) -> Any:
        new, token, until = await rotate_key(session, args.clinic, args.key_id, grace)
        record_command(session, args.clinic, "rotate", "api_key", args.key_id, "blocktrack key rotate")
        return new, token, until

    migrate_database(get_settings().database_url)
    new, token, until = asyncio.run(_key_change(args, change))
    data = {"key_id": str(new.id), "api_key": token, "old_key_valid_until": until.isoformat()}
    note = f"the old key works until {until:%Y-%m-%d %H:%M}Z"
    _print(args, data, f"key {new.id} ({new.role})\nAPI key (shown once): {token}\n{note}")


def cmd_user_create(args: argparse.Namespace) -> None:
    from api.errors import Conflict
    from api.schemas.users import UserCreate
    from api.services.audit import record_command
    from api.services.users import create_user

    async def work(session: AsyncSession) -> Any:
        if await session.get(Clinic, args.clinic) is None:
            raise LookupError(f"no clinic {args.clinic}")
        try:
            user, password = await create_user(session, args.clinic, args.email, args.name, args.role)
        except Conflict as exc:
            raise LookupError(exc.detail) from None
        record_command(session, args.clinic, "create", "user", user.id, "blocktrack user create")
        return user, password

    try:
        UserCreate.model_validate({"email": args.email, "display_name": args.name, "role": args.role})
    except ValidationError as exc:
        sys.exit("blocktrack: " + "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors()))
    migrate_database(get_settings().database_url)
    user, password = asyncio.run(_in_transaction(work))
    data = {"user_id": str(user.id), "password": password}
    _print(args, data, f"user {user.id} ({args.role}, {user.email})\none-time password: {password}")


def cmd_demo(args: argparse.Namespace) -> None:
    from api.demo import run_demo

    migrate_database(get_settings().database_url)
    run_demo(args)


def cmd_worker(args: argparse.Namespace) -> None:
    from api.webhooks.worker import run_worker

    migrate_database(get_settings().database_url)
    run_worker(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blocktrack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, help="server processes (default: the CPU count on PostgreSQL, 1 on SQLite)"
    )
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)
    clinic = sub.add_parser("clinic").add_subparsers(dest="clinic_command", required=True)
    clinic_create = clinic.add_parser("create", help="make a clinic and its first admin key")
    clinic_create.add_argument("name")
    clinic_create.add_argument("--time-zone", default="UTC", help="IANA time zone (default UTC)")
    clinic_create.add_argument("--json", action="store_true")
    clinic_create.set_defaults(func=cmd_clinic_create)
    key = sub.add_parser("key").add_subparsers(dest="key_command", required=True)
    key_create = key.add_parser("create", help="make an API key")
    key_create.add_argument("--clinic", required=True, type=uuid.UUID)
    key_create.add_argument("--role", required=True, choices=ROLES)
    key_create.add_argument("--name", required=True)
    key_create.add_argument("--expires-days", type=float, help="refuse the key after this many days")
    key_create.add_argument("--json", action="store_true")
    key_create.set_defaults(func=cmd_key_create)
    key_list = key.add_parser("list", help="the clinic's API keys, without secrets")
    key_list.add_argument("--clinic", required=True, type=uuid.UUID)
    key_list.add_argument("--json", action="store_true")
    key_list.set_defaults(func=cmd_key_list)
    for name, func, text in (
        ("revoke", cmd_key_revoke, "refuse an API key from now on (other server processes: within 5 s)"),
        ("rotate", cmd_key_rotate, "a replacement key; the old one works for the grace period"),
    ):
        command = key.add_parser(name, help=text)
        command.add_argument("key_id", type=uuid.UUID)
        command.add_argument("--clinic", required=True, type=uuid.UUID)
        command.add_argument("--json", action="store_true")
        command.set_defaults(func=func)
    user = sub.add_parser("user").add_subparsers(dest="user_command", required=True)
    user_create = user.add_parser("create", help="make a person who signs in to the staff workspace")
    user_create.add_argument("--clinic", required=True, type=uuid.UUID)
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--name", required=True)
    user_create.add_argument("--role", required=True, choices=USER_ROLES)
    user_create.add_argument("--json", action="store_true")
    user_create.set_defaults(func=cmd_user_create)
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
