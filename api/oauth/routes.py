"""`POST /oauth/token` (SMART Backend Services) and the admin's registry of OAuth clients."""

import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.auth import Admin, Session
from api.examples import example
from api.interop.urls import TOKEN_PATH, token_url
from api.oauth import service
from api.oauth.schemas import OAuthClientCreate, OAuthClientList, OAuthClientPublic
from api.schemas.common import AUTHED, problems
from api.services.audit import AuditLog
from models import OAuthClient

router = APIRouter(tags=["oauth"])
FORM = "application/x-www-form-urlencoded"
_TOKEN_SCHEMA = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {"type": "integer", "maximum": 3600},
        "scope": {"type": "string", "examples": ["system/*.read system/*.write"]},
    },
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_FORM_SCHEMA = {
    "type": "object",
    "required": ["grant_type", "client_assertion_type", "client_assertion"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_assertion_type": {"type": "string", "enum": [service.ASSERTION_TYPE]},
        "client_assertion": {"type": "string", "description": "A JWT signed with RS384 or ES384."},
        "scope": {"type": "string", "examples": ["system/*.read system/*.write"]},
    },
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _error(description: str, error: str, error_description: str) -> dict[str, Any]:
    sample = {"error": error, "error_description": error_description}
    return {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_SCHEMA, "example": sample}},
    }


@router.post(
    TOKEN_PATH,
    summary="Get an access token (client_credentials, private_key_jwt)",
    response_class=JSONResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {FORM: {"schema": _FORM_SCHEMA, "example": example("token_request")}},
        }
    },
    responses={
        200: {
            "description": "A bearer token",
            "content": {"application/json": {"schema": _TOKEN_SCHEMA, "example": example("token_response")}},
        },
        400: _error(
            "invalid_request, unsupported_grant_type or invalid_scope (RFC 6749)",
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        ),
        401: _error(
            "invalid_client: unknown client, or the assertion failed verification",
            "invalid_client",
            "unknown or revoked client, or sub is not the client_id",
        ),
    },
)
async def token(request: Request, session: Session) -> JSONResponse:
    """SMART Backend Services: the client signs a JWT (`iss` = `sub` = its client_id, `aud` = this URL,
    `exp` at most 5 minutes away, a fresh `jti`) with a key from its registered JWKS. Tokens last at most an
    hour; `system/*.read` acts as a viewer, `system/*.write` as the client's role."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        return _oauth_error(service.OAuthError("invalid_request", f"send the parameters as {FORM}"))
    form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
    try:
        answer = await service.issue_token(session, form, token_url(request), request.app.state.settings)
    except service.OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(answer, headers=_NO_STORE)


def _oauth_error(exc: service.OAuthError) -> JSONResponse:
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers=_NO_STORE)


def _public(request: Request, client: OAuthClient) -> OAuthClientPublic:
    return OAuthClientPublic(
        client_id=client.id,
        name=client.name,
        role=client.role,
        jwks_url=client.jwks_url,  # type: ignore[arg-type]
        token_url=token_url(request),
        created_at=client.created_at,
    )


@router.post(
    "/v1/oauth-clients",
    status_code=201,
    response_model=OAuthClientPublic,
    summary="Register an OAuth client",
    responses=problems(*AUTHED, 409),
)
async def create_client(
    request: Request,
    body: OAuthClientCreate,
    session: Session,
    principal: Admin,
    audit: AuditLog,
    response: Response,
) -> OAuthClientPublic:
    """A backend system of this clinic that authenticates with signed JWTs (SMART Backend Services)."""
    client = await service.register_client(session, principal.clinic_id, body)
    audit.record("create", "oauth_client", client.id)
    response.headers["Location"] = f"/v1/oauth-clients/{client.id}"
    return _public(request, client)


@router.get(
    "/v1/oauth-clients",
    response_model=OAuthClientList,
    summary="List OAuth clients",
    responses=problems(*AUTHED),
)
async def list_clients(
    request: Request, session: Session, principal: Admin, audit: AuditLog
) -> OAuthClientList:
    clients = await service.list_clients(session, principal.clinic_id)
    audit.record("search", "oauth_client", result_ids=[c.id for c in clients])
    return OAuthClientList(items=[_public(request, c) for c in clients])


@router.delete(
    "/v1/oauth-clients/{client_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an OAuth client",
    responses=problems(*AUTHED, 404),
)
async def revoke_client(
    client_id: uuid.UUID, session: Session, principal: Admin, audit: AuditLog
) -> Response:
    """Its tokens stop working at once."""
    await service.revoke_client(session, principal.clinic_id, client_id)
    audit.record("delete", "oauth_client", client_id)
    return Response(status_code=204)
