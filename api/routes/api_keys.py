"""The clinic's API keys (admin only): list without secrets, revoke, rotate."""

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from api.auth import Admin, Session, key_cache
from api.pagination import Cursor, Limit
from api.schemas.api_keys import ApiKeyList, ApiKeyPublic, RotatedKey
from api.schemas.common import AUTHED, problems
from api.services import api_keys as service
from api.services.audit import AuditLog

router = APIRouter(prefix="/v1", tags=["api keys"])


@router.get("/api-keys", response_model=ApiKeyList, responses=problems(*AUTHED))
async def list_api_keys(
    session: Session, principal: Admin, audit: AuditLog, limit: Limit = 50, cursor: Cursor = None
) -> ApiKeyList:
    """The clinic's keys, oldest first, revoked and expired ones included; never their secrets."""
    rows, next_cursor = await service.list_keys(session, principal.clinic_id, limit, cursor)
    page = ApiKeyList(items=[ApiKeyPublic.model_validate(r) for r in rows], next_cursor=next_cursor)
    audit.record("search", "api_key", result_ids=[k.id for k in page.items])
    return page


@router.get("/api-keys/{key_id}", response_model=ApiKeyPublic, responses=problems(*AUTHED, 404))
async def get_api_key(key_id: uuid.UUID, session: Session, principal: Admin, audit: AuditLog) -> ApiKeyPublic:
    key = ApiKeyPublic.model_validate(await service.get_key(session, principal.clinic_id, key_id, lock=False))
    audit.record("read", "api_key", key.id)
    return key


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic, responses=problems(*AUTHED, 404))
async def revoke_api_key(
    key_id: uuid.UUID, request: Request, session: Session, principal: Admin, audit: AuditLog
) -> ApiKeyPublic:
    """Refused from now on: at once by this server process, within 5 s by the others (their key caches).
    Revoking again is harmless."""
    key = ApiKeyPublic.model_validate(await service.revoke_key(session, principal.clinic_id, key_id))
    key_cache(request.app).forget(key.id)
    audit.record("revoke", "api_key", key.id)
    return key


@router.post(
    "/api-keys/{key_id}/rotate",
    status_code=201,
    response_model=RotatedKey,
    responses=problems(*AUTHED, 404, 409),
)
async def rotate_api_key(
    key_id: uuid.UUID,
    request: Request,
    session: Session,
    principal: Admin,
    audit: AuditLog,
    response: Response,
) -> RotatedKey:
    """A replacement with the same name and role (its secret shown once); the old key keeps working for
    the grace period, then is refused. A revoked or expired key is a 409."""
    grace = timedelta(hours=request.app.state.settings.key_rotation_grace_hours)
    new, token, valid_until = await service.rotate_key(session, principal.clinic_id, key_id, grace)
    key_cache(request.app).forget(key_id)  # its cached entry does not know the new expiry
    audit.record("rotate", "api_key", key_id, result_ids=[new.id])
    response.headers["Location"] = f"/v1/api-keys/{new.id}"
    return RotatedKey(key_id=new.id, api_key=token, old_key_valid_until=valid_until)
