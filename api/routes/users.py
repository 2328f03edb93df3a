"""People of the clinic who sign in to the staff workspace (admin only): create, list, disable, reset."""

import uuid

from fastapi import APIRouter, Response

from api.auth import Admin, Session
from api.openapi import conflict
from api.pagination import Cursor, Limit
from api.schemas.common import AUTHED, problems
from api.schemas.users import UserCreate, UserList, UserPublic, UserWithPassword
from api.services import users as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["users"])
_DUPLICATE = conflict(
    "A user with email 'staff@demo-clinic.example' already exists in this clinic.",
    existing_id="79b48bf2-9659-425b-9f1c-81ff6b954506",
)


@router.post(
    "/users", status_code=201, response_model=UserWithPassword, responses=problems(*AUTHED) | _DUPLICATE
)
async def create_user(
    body: UserCreate, session: Session, principal: Admin, audit: AuditLog, response: Response
) -> UserWithPassword:
    """Create a person with a one-time password (shown once). A duplicate email in the clinic is a 409."""
    user, password = await service.create_user(
        session, principal.clinic_id, body.email, body.display_name, body.role
    )
    audit.record("create", "user", user.id)
    response.headers["Location"] = f"/v1/users/{user.id}"
    return UserWithPassword.model_validate(
        {**UserPublic.model_validate(user).model_dump(), "password": password}
    )


@router.get("/users", response_model=UserList, responses=problems(*AUTHED))
async def list_users(
    session: Session, principal: Admin, audit: AuditLog, limit: Limit = 50, cursor: Cursor = None
) -> UserList:
    """The clinic's users, oldest first, disabled ones included."""
    rows, next_cursor = await service.list_users(session, principal.clinic_id, limit, cursor)
    page = UserList(items=[UserPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
    audit.record("search", "user", result_ids=[u.id for u in page.items])
    return page


@router.get("/users/{user_id}", response_model=UserPublic, responses=problems(*AUTHED, 404))
async def get_user(user_id: uuid.UUID, session: Session, principal: Admin, audit: AuditLog) -> UserPublic:
    user = UserPublic.model_validate(await service.get_user(session, principal.clinic_id, user_id))
    audit.record("read", "user", user.id)
    return user


@router.post("/users/{user_id}/disable", response_model=UserPublic, responses=problems(*AUTHED, 404, 409))
async def disable_user(user_id: uuid.UUID, session: Session, principal: Admin, audit: AuditLog) -> UserPublic:
    """The user can no longer sign in and every session of theirs ends now. Repeating it is harmless."""
    user = UserPublic.model_validate(await service.disable_user(session, principal.clinic_id, user_id))
    audit.record("disable", "user", user.id)
    return user


@router.post(
    "/users/{user_id}/reset-password", response_model=UserWithPassword, responses=problems(*AUTHED, 404, 409)
)
async def reset_password(
    user_id: uuid.UUID, session: Session, principal: Admin, audit: AuditLog
) -> UserWithPassword:
    """A new one-time password (shown once); the user's sessions end; the next sign-in asks for a new one."""
    user, password = await service.reset_password(session, principal.clinic_id, user_id)
    audit.record("reset_password", "user", user.id)
    return UserWithPassword.model_validate(
        {**UserPublic.model_validate(user).model_dump(), "password": password}
    )
