"""Signing in and out, and replacing a one-time password."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import Principal, Session
from api.errors import Forbidden, Unprocessable
from api.services import users
from api.services.audit import Audit, record_attempt
from api.services.sign_in import SignInLocked, authenticate, end_session, known_user, start_session
from api.ui.deps import COOKIE, PAGE_HEADERS, SIGN_IN_CSRF_COOKIE, CurrentUi, client_addr, redirect
from api.ui.forms import field_errors
from api.ui.templating import templates

router = APIRouter(prefix="/ui", include_in_schema=False)
Text = Annotated[str, Form(max_length=500)]


def _safe_next(target: str | None) -> str:
    # Only a path inside the workspace: never an open redirect to another site.
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/patients"


def _sign_in_page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    context = {"csrf": token, "next": request.query_params.get("next", ""), "email": ""} | context
    response = templates.TemplateResponse(request, "sign_in.html", context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    secure = request.url.scheme == "https"
    response.set_cookie(SIGN_IN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: Session,
    email: Text,
    password: Text,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token, expected):
        raise Forbidden("The sign-in form's security token is missing or out of date. Reload the page.")
    addr, request_id = client_addr(request), getattr(request.state, "request_id", None)
    try:
        user = await authenticate(session, email, password, addr)
    except SignInLocked as locked:
        await _audit_attempt(session, email, "sign_in_locked", request_id, addr)
        minutes = -(-locked.retry_after // 60)
        message = f"Too many failed sign-ins for this email. Try again in {minutes} min."
        response = _sign_in_page(request, 429, error=message, email=email, next=next)
        response.headers["Retry-After"] = str(locked.retry_after)
        return response
    if user is None:
        await _audit_attempt(session, email, "sign_in_failed", request_id, addr)
        message = "That email and password do not match an active account."
        return _sign_in_page(request, 401, error=message, email=email, next=next)
    signed_in = await start_session(session, user, addr)
    principal = Principal(user.clinic_id, None, user.display_name, user.role, user.id)
    Audit(session, principal, request_id, addr).record("sign_in", "user", user.id)
    response = redirect("/ui/password" if user.must_change_password else _safe_next(next))
    response.set_cookie(
        COOKIE, signed_in.token, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE)
    return response


async def _audit_attempt(
    session: Session, email: str, action: str, request_id: str | None, addr: str | None
) -> None:
    user = await known_user(session, users.normal_email(email))
    if user is not None:  # an unknown email has no clinic to file it under: sign_in_attempt keeps it
        record_attempt(session, user.clinic_id, action, user.id, users.normal_email(email), request_id, addr)


@router.post("/sign-out")
async def sign_out(ui: CurrentUi) -> Response:
    await end_session(ui.session, ui.user_session)
    ui.audit.record("sign_out", "user", ui.user.id)
    response = redirect("/ui/sign-in")
    response.delete_cookie(COOKIE)
    return response


@router.get("/password")
async def password_form(ui: CurrentUi) -> HTMLResponse:
    return ui.page("password.html", errors={})


@router.post("/password")
async def change_password(
    ui: CurrentUi, current_password: Text, new_password: Text, repeat_password: Text
) -> Response:
    try:
        await users.change_password(ui.session, ui.user, current_password, new_password, repeat_password)
    except Unprocessable as exc:
        return ui.page("password.html", 422, errors=field_errors(exc))
    ui.audit.record("change_password", "user", ui.user.id)
    return redirect("/ui/patients")
