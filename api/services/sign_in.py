"""Signing in to the staff workspace: passwords, the lockout, and server-side sessions.

The lockout is counted from the sign_in_attempt table, so it holds across server processes: after
LOCKOUT_FAILURES failed attempts for one email within LOCKOUT_WINDOW (since its last success), every
attempt for that email is refused, even with the right password, until the oldest of those failures
leaves the window. Refused attempts are not counted, so the lockout never extends itself.
"""

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.users import hash_password, normal_email, verify_password
from models import SignInAttempt, User, UserSession
from models.base import utcnow

LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session
_dummy_hash: str | None = None


class SignInLocked(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: UserSession
    token: str  # the cookie's value; only its hash is stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def lockout_seconds(session: AsyncSession, email: str, now: datetime) -> int | None:
    """Seconds until `email` may try again, or None when it is not locked out."""
    last_success = await session.scalar(
        select(func.max(SignInAttempt.at)).where(SignInAttempt.email == email, SignInAttempt.succeeded)
    )
    since = max(now - LOCKOUT_WINDOW, last_success) if last_success else now - LOCKOUT_WINDOW
    failures = (
        await session.scalars(
            select(SignInAttempt.at)
            .where(SignInAttempt.email == email, ~SignInAttempt.succeeded, SignInAttempt.at > since)
            .order_by(SignInAttempt.at.desc())
            .limit(LOCKOUT_FAILURES)
        )
    ).all()
    if len(failures) < LOCKOUT_FAILURES:
        return None
    return max(1, math.ceil((failures[-1] + LOCKOUT_WINDOW - now).total_seconds()))


async def _matching_user(session: AsyncSession, email: str, password: str) -> User | None:
    users = (
        await session.scalars(
            select(User).where(User.email == email, User.disabled_at.is_(None)).order_by(User.created_at)
        )
    ).all()
    for user in users:
        if await verify_password(user.password_hash, password):
            return user
    if not users:
        # Spend the same time as a real check, so timing does not tell which emails exist.
        global _dummy_hash
        _dummy_hash = _dummy_hash or await hash_password(secrets.token_hex(8))
        await verify_password(_dummy_hash, password)
    return None


async def known_user(session: AsyncSession, email: str) -> User | None:
    """The (first) user with this email, for auditing an attempt that did not sign in."""
    return await session.scalar(select(User).where(User.email == email).order_by(User.created_at).limit(1))


async def _serialise_attempts(session: AsyncSession, email: str) -> None:
    """Concurrent attempts for one email take turns, so a burst cannot slip past the count.

    SQLite transactions already take the write lock up front (BEGIN IMMEDIATE); on PostgreSQL a
    transaction-scoped advisory lock on the email's hash does it, in every server process.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(email, 0))))


async def authenticate(
    session: AsyncSession, email: str, password: str, client_addr: str | None
) -> User | None:
    """The user whose email and password match, or None; raises SignInLocked during a lockout."""
    email, now = normal_email(email), utcnow()
    await _serialise_attempts(session, email)
    retry_after = await lockout_seconds(session, email, now)
    if retry_after is not None:
        raise SignInLocked(retry_after)
    user = await _matching_user(session, email, password)
    session.add(SignInAttempt(email=email, at=now, succeeded=user is not None, client_addr=client_addr))
    await session.flush()
    return user


async def start_session(session: AsyncSession, user: User, client_addr: str | None) -> SignedIn:
    token = secrets.token_urlsafe(32)
    row = UserSession(
        id=uuid.uuid4(),
        user_id=user.id,
        clinic_id=user.clinic_id,
        token_hash=token_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        last_seen_at=utcnow(),
        client_addr=client_addr,
    )
    session.add(row)
    await session.flush()
    return SignedIn(user, row, token)


async def resolve_session(
    session: AsyncSession, token: str, idle: timedelta
) -> tuple[UserSession, User] | None:
    """The live session behind a cookie and its user; None when unknown, ended, idle too long or disabled."""
    found = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash(token), UserSession.ended_at.is_(None))
        )
    ).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if user.disabled_at is not None or now - row.last_seen_at > idle:
        row.ended_at = now
        await session.flush()
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        await session.flush()
    return row, user


async def end_session(session: AsyncSession, row: UserSession) -> None:
    row.ended_at = utcnow()
    await session.flush()
