"""The webhook error migration cuts stored receiver answers back to their status code."""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from api.migrate import MIGRATIONS_DIR, downgrade, upgrade
from tests.test_migration_rules_v2 import WHEN, _run, _table, fresh_url  # noqa: F401 - fixture

REVISION = "e7a1b2c3d4e5"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BODY = "HTTP 500: <html>internal-db-07 stack trace " + "x" * 400


def _before() -> str:
    down = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


def _seed(connection: sa.Connection) -> None:
    ids = {name: uuid.uuid4() for name in ("clinic", "hook", "event", "delivery")}
    rows = [
        ("clinic", {"id": ids["clinic"], "name": "Old Clinic", "created_at": T0}),
        (
            "webhook_subscription",
            {
                "id": ids["hook"],
                "clinic_id": ids["clinic"],
                "url": "http://10.0.0.5/",
                "events": ["block.evaluated"],
                "secret": "whsec_x",
                "created_at": T0,
            },
        ),
        (
            "outbox_event",
            {
                "id": ids["event"],
                "clinic_id": ids["clinic"],
                "type": "block.evaluated",
                "payload": {},
                "created_at": T0,
            },
        ),
        (
            "webhook_delivery",
            {
                "id": ids["delivery"],
                "clinic_id": ids["clinic"],
                "subscription_id": ids["hook"],
                "event_id": ids["event"],
                "state": "failed",
                "attempt_count": 2,
                "next_attempt_at": T0,
                "give_up_at": T0,
                "last_status_code": 500,
                "last_error": BODY,
                "created_at": T0,
            },
        ),
    ]
    types = {
        "id": sa.Uuid(),
        "clinic_id": sa.Uuid(),
        "subscription_id": sa.Uuid(),
        "event_id": sa.Uuid(),
        "delivery_id": sa.Uuid(),
        "events": sa.JSON(),
        "payload": sa.JSON(),
        "created_at": WHEN,
        "next_attempt_at": WHEN,
        "give_up_at": WHEN,
        "attempted_at": WHEN,
        **dict.fromkeys(("attempt_count", "last_status_code", "status_code", "duration_ms"), sa.Integer()),
    }
    attempts = [
        {
            "id": uuid.uuid4(),
            "delivery_id": ids["delivery"],
            "attempted_at": T0,
            "status_code": 500,
            "error": BODY,
            "duration_ms": 5,
        },
        {
            "id": uuid.uuid4(),
            "delivery_id": ids["delivery"],
            "attempted_at": T0,
            "status_code": None,
            "error": "ConnectError: " + "y" * 300,
            "duration_ms": 5,
        },
    ]
    rows += [("webhook_attempt", attempt) for attempt in attempts]
    for table, values in rows:
        columns = [(name, types.get(name, sa.String())) for name in values]
        connection.execute(sa.insert(_table(table, *columns)).values(**values))


def _errors(connection: sa.Connection) -> list[tuple]:  # type: ignore[type-arg]
    attempts = connection.execute(sa.text("SELECT error FROM webhook_attempt ORDER BY status_code")).all()
    delivery = connection.execute(sa.text("SELECT last_error FROM webhook_delivery")).all()
    return [tuple(row) for row in [*attempts, *delivery]]


def test_upgrade_webhook_errors_keeps_status_not_body(fresh_url: str) -> None:  # noqa: F811
    upgrade(fresh_url, _before())
    _run(fresh_url, _seed)
    upgrade(fresh_url, REVISION)
    errors = _run(fresh_url, _errors)
    assert sorted(errors, key=str) == sorted(
        [("ConnectError: " + "y" * 186,), ("HTTP 500",), ("HTTP 500",)], key=str
    )
    downgrade(fresh_url, _before())
    assert sorted(_run(fresh_url, _errors), key=str) == sorted(errors, key=str)
