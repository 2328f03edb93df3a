"""People of a clinic who sign in to the staff workspace: create, list, disable, reset, change password.

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile). A new user and a reset
get a one-time password that must be replaced at the next sign-in. Disabling or resetting a user ends
every session of theirs at once (sessions are rows, checked on every request).
"""

import asyncio
import secrets
import uuid
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Conflict, NotFound, invalid
from api.pagination import paginate
from models import User, UserSession
from models.base import utcnow

_hasher = PasswordHasher()
# Words are easier to read aloud and type from a printout than random symbols.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MIN_PASSWORD_LENGTH = 10


def one_time_password() -> str:
    """Four groups of four characters (about 79 bits), e.g. `k7qd-3mzp-x9wa-tr2f`."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


async def hash_password(password: str) -> str:
    # Argon2 is deliberately slow (~0.1 s): keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def normal_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    session: AsyncSession, clinic_id: uuid.UUID, email: str, display_name: str, role: str
) -> tuple[User, str]:
    """A new user and their one-time password (shown once). A duplicate email in the clinic is a 409."""
    password = one_time_password()
    user = User(
        clinic_id=clinic_id,
        email=normal_email(email),
        display_name=display_name.strip(),
        role=role,
        password_hash=await hash_password(password),
        must_change_password=True,
    )
    try:
        async with session.begin_nested():  # the unique constraint decides, not a check-then-insert
            session.add(user)
            await session.flush()
    except IntegrityError:
        existing = await session.scalar(
            select(User.id).where(User.clinic_id == clinic_id, User.email == user.email)
        )
        raise Conflict(
            f"A user with email {user.email!r} already exists in this clinic.", existing_id=str(existing)
        ) from None
    return user, password


async def get_user(session: AsyncSession, clinic_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await session.scalar(select(User).where(User.id == user_id, User.clinic_id == clinic_id))
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


async def list_users(
    session: AsyncSession, clinic_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[User], str | None]:
    query = select(User).where(User.clinic_id == clinic_id)
    return await paginate(session, query, User.created_at, User.id, limit, cursor)


async def end_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


async def disable_user(session: AsyncSession, clinic_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Disabled users cannot sign in and their sessions end now. Disabling twice is harmless."""
    user = await get_user(session, clinic_id, user_id)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    await end_sessions(session, user.id)
    await session.flush()
    return user


async def reset_password(session: AsyncSession, clinic_id: uuid.UUID, user_id: uuid.UUID) -> tuple[User, str]:
    """A new one-time password (shown once); the user's sessions end. A disabled user stays disabled."""
    user = await get_user(session, clinic_id, user_id)
    password = one_time_password()
    user.password_hash = await hash_password(password)
    user.must_change_password, user.password_changed_at = True, utcnow()
    await end_sessions(session, user.id)
    await session.flush()
    return user, password


async def change_password(session: AsyncSession, user: User, current: str, new: str, repeat: str) -> None:
    """The user's own change (required after a one-time password). Errors name the form's fields."""
    if not await verify_password(user.password_hash, current):
        raise invalid(["body", "current_password"], "is not your current password")
    if len(new) < MIN_PASSWORD_LENGTH:
        raise invalid(["body", "new_password"], f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if new == current:
        raise invalid(["body", "new_password"], "must differ from the current password")
    if new != repeat:
        raise invalid(["body", "repeat_password"], "does not match the new password")
    user.password_hash = await hash_password(new)
    user.must_change_password, user.password_changed_at = False, utcnow()
    await session.flush()
