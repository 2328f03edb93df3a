"""The clinic's outcome policy (CR-21): one active version, each change a new version."""

import uuid
from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.clinical.policy import Policy, PolicyError, build_policy, policy_from_dict, policy_to_dict
from api.errors import Conflict, Unprocessable, field_error
from models import Clinic, PolicyVersion


async def active_policy(session: AsyncSession, clinic_id: uuid.UUID) -> Policy:
    """CR-21: the clinic's highest policy version is the active one, with the clinic's time zone (CR-30)."""
    result = await session.execute(
        select(PolicyVersion.settings, PolicyVersion.version, PolicyVersion.profile, Clinic.time_zone)
        .join(Clinic, Clinic.id == PolicyVersion.clinic_id)
        .where(PolicyVersion.clinic_id == clinic_id)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )
    row = result.first()
    if row is None:
        # Every clinic is created with version 1; a clinic without one is read as the defaults.
        zone = await session.scalar(select(Clinic.time_zone).where(Clinic.id == clinic_id))
        return Policy(time_zone=zone or Policy().time_zone)
    settings, version, profile, zone = row
    return replace(policy_from_dict({**settings, "version": version, "profile": profile}), time_zone=zone)


# Policy versions are never changed once written, so a parsed version can be kept per process; which
# version is active is always read in the caller's own transaction (api/services/block_rows.py).
_PARSED: dict[tuple[uuid.UUID, int, str], Policy] = {}
_PARSED_MAX = 1024


async def policy_at(
    session: AsyncSession, clinic_id: uuid.UUID, version: int | None, time_zone: str
) -> Policy:
    """The clinic's policy `version` (None: the clinic has none yet, the defaults) in `time_zone`."""
    if version is None:
        return Policy(time_zone=time_zone)
    key = (clinic_id, version, time_zone)
    if (policy := _PARSED.get(key)) is None:
        settings, profile = (
            await session.execute(
                select(PolicyVersion.settings, PolicyVersion.profile).where(
                    PolicyVersion.clinic_id == clinic_id, PolicyVersion.version == version
                )
            )
        ).one()
        policy = replace(
            policy_from_dict({**settings, "version": version, "profile": profile}), time_zone=time_zone
        )
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = policy
    return policy


def _validated(profile: str, overrides: Mapping[str, object], version: int) -> Policy:
    try:
        return build_policy(profile, overrides, version)
    except PolicyError as exc:
        loc = ["body", *exc.field.split(".")]
        raise Unprocessable(f"{exc.field}: {exc.message}", errors=[field_error(loc, exc.message)]) from exc


def same_settings(current: Policy, profile: str, overrides: Mapping[str, object]) -> bool:
    """Would `profile` and `overrides` make a version whose effective settings (profile defaults filled
    in) are `current`'s? A PUT that changes nothing starts no new version and no re-evaluation.
    Invalid settings are a 422 here too, so nothing is compared that could not be stored."""
    proposed = _validated(profile, overrides, current.version)
    return replace(proposed, time_zone=current.time_zone) == current


async def create_version(
    session: AsyncSession,
    clinic_id: uuid.UUID,
    key_id: uuid.UUID | None,
    profile: str,
    overrides: Mapping[str, object],
) -> tuple[Policy, bool]:
    """CR-21: store version N+1 built from `profile` and `overrides` (unset settings: the profile's), and
    say whether it did: the same effective settings as the active version store nothing and return it.

    The unique (clinic_id, version) constraint settles concurrent changes: the later one is a 409.
    """
    current = await active_policy(session, clinic_id)
    if same_settings(current, profile, overrides):
        return current, False
    policy = replace(_validated(profile, overrides, current.version + 1), time_zone=current.time_zone)
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
    return policy, True
