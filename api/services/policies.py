"""The clinic's outcome policy (CR-21): one active version, each change a new version."""

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.policy import Policy, PolicyError, build_policy, policy_from_dict, policy_to_dict
from api.errors import Conflict, Unprocessable, field_error
from models import PolicyVersion


async def active_policy(session: AsyncSession, clinic_id: uuid.UUID) -> Policy:
    """CR-21: the clinic's highest policy version is the active one."""
    result = await session.execute(
        select(PolicyVersion.settings, PolicyVersion.version, PolicyVersion.profile)
        .where(PolicyVersion.clinic_id == clinic_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )
    row = result.first()
    if row is None:
        # Every clinic is created with version 1; a clinic without one is read as the defaults.
        return Policy()
    settings, version, profile = row
    return policy_from_dict({**settings, "version": version, "profile": profile})


def _validated(profile: str, overrides: Mapping[str, object], version: int) -> Policy:
    try:
        return build_policy(profile, overrides, version)
    except PolicyError as exc:
        loc = ["body", *exc.field.split(".")]
        raise Unprocessable(f"{exc.field}: {exc.message}", errors=[field_error(loc, exc.message)]) from exc


async def create_version(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    key_id: uuid.UUID | None,
    profile: str,
    overrides: Mapping[str, object],
) -> Policy:
    """CR-21: store version N+1 built from `profile` and `overrides` (unset settings: the profile's).

    The unique (clinic_id, version) constraint settles concurrent changes: the later one is a 409.
    """
    current = await active_policy(session, clinic_id)
    policy = _validated(profile, overrides, current.version + 1)
    try:
        async with session.begin_nested():
            session.add(
                PolicyVersion(
                    clinic_id=clinic_id,
                    version=policy.version,
                    profile=policy.profile,
                    settings=policy_to_dict(policy),
                    created_by_key_id=key_id,
                )
            )
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"The policy changed concurrently (version {policy.version} already exists); "
            "read it again and retry."
        ) from exc
    return policy
