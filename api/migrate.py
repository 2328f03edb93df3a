"""Apply and inspect Alembic migrations from code (used by the CLI, /readyz and the tests), and bring the
stored outcomes up to the current clinical rules after an upgrade."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

import migrations
from models.clinic import RULES_VERSION, Clinic

MIGRATIONS_DIR = Path(migrations.__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def at_head(connection: Connection) -> bool:
    return MigrationContext.configure(connection).get_current_revision() == head_revision()


def outcomes_current(connection: Connection) -> bool:
    """No clinic's stored outcomes predate the current clinical rules (see reevaluate_stale_clinics)."""
    stale = connection.execute(select(Clinic.id).where(Clinic.rules_version < RULES_VERSION).limit(1))
    return stale.first() is None


async def _reevaluate_stale(database_url: str) -> list[str]:
    # Imported here: the services import much of the app, and /readyz imports this module.
    from api.db import make_engine, make_sessionmaker
    from api.services.clinic_pass import reevaluate_clinic
    from api.services.policies import active_policy
    from api.settings import async_url

    engine = make_engine(async_url(database_url))
    factory = make_sessionmaker(engine)
    done = []
    try:
        async with factory() as session:
            stale = (
                await session.scalars(select(Clinic.id).where(Clinic.rules_version < RULES_VERSION))
            ).all()
        for clinic_id in stale:
            async with factory() as session, session.begin():
                # Claiming the clinic first: of two processes starting at once, the second finds it done.
                claim = update(Clinic).where(Clinic.id == clinic_id, Clinic.rules_version < RULES_VERSION)
                if (await session.execute(claim.values(rules_version=RULES_VERSION))).rowcount:  # type: ignore[attr-defined]
                    await reevaluate_clinic(session, clinic_id, await active_policy(session, clinic_id))
                    done.append(str(clinic_id))
    finally:
        await engine.dispose()
    return done


def reevaluate_stale_clinics(database_url: str) -> list[str]:
    """Re-evaluate, one transaction each, the clinics whose outcomes were computed under older clinical
    rules (a migration that changes the rules sets their rules_version back). Returns their ids."""
    return asyncio.run(_reevaluate_stale(database_url))


def migrate_database(database_url: str) -> list[str]:
    """`alembic upgrade head`, then the re-evaluation the new rules need; what `blocktrack migrate` does."""
    upgrade(database_url)
    return reevaluate_stale_clinics(database_url)
