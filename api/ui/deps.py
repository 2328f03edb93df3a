"""The workspace's own session dependency: cookie -> signed-in user -> Principal, CSRF, rights, pages.

A signed-in person becomes a Principal (key_id None, user_id set, their name and role), so the
service layer and the audit trail work as they do for an API key.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, Session
from api.errors import Forbidden
from api.services.audit import Audit
from api.services.sign_in import resolve_session
from api.ui.templating import templates
from models import User, UserSession

COOKIE = "bt_session"
SIGN_IN_CSRF_COOKIE = "bt_sign_in_csrf"  # double-submit token of the sign-in form (no session yet)
CSRF_FIELD, CSRF_HEADER = "csrf_token", "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Patient data must not stay in the browser's cache (back button after signing out, a shared PC), and no
# other site may frame a page to trick a click (clickjacking).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}


class SignInRequired(Exception):
    """Anonymous, expired, ended or disabled: answered with a 303 to the sign-in page."""


class PasswordChangeRequired(Exception):
    """Signed in with a one-time password: every page but the password form redirects there."""


@dataclass
class Ui:
    """What a page handler needs: the request, its transaction, who is signed in, and the audit log."""

    request: Request
    session: AsyncSession
    principal: Principal
    user: User
    user_session: UserSession
    audit: Audit

    @property
    def clinic_id(self) -> uuid.UUID:
        return self.principal.clinic_id

    def page(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context |= {"me": self.user, "csrf": self.user_session.csrf_token, "principal": self.principal}
        response = templates.TemplateResponse(self.request, name, context, status_code=status_code)
        response.headers.update(PAGE_HEADERS)
        return response


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


async def check_csrf(request: Request, expected: str) -> None:
    """403 unless the form field or the htmx header carries the expected token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and "form" in request.headers.get("content-type", ""):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not given or not secrets.compare_digest(given, expected):
        raise Forbidden("The form's security token is missing or out of date. Reload the page and try again.")


async def current_ui(request: Request, session: Session) -> Ui:
    token = request.cookies.get(COOKIE)
    idle = timedelta(minutes=request.app.state.settings.session_idle_minutes)
    found = await resolve_session(session, token, idle) if token else None
    if found is None:
        raise SignInRequired()
    row, user = found
    principal = Principal(user.clinic_id, None, user.display_name, user.role, user.id)
    request.state.principal = principal
    if request.method not in SAFE_METHODS:
        await check_csrf(request, row.csrf_token)
    if user.must_change_password and request.url.path != "/ui/password":
        raise PasswordChangeRequired()
    audit = Audit(session, principal, getattr(request.state, "request_id", None), client_addr(request))
    return Ui(request, session, principal, user, row, audit)


def ui_require(right: str):  # type: ignore[no-untyped-def]
    """A page dependency that answers 403 (and stores nothing) unless the person's role has `right`."""

    async def _check(ui: Annotated[Ui, Depends(current_ui)]) -> Ui:
        if not ui.principal.can(right):
            raise Forbidden(f"Your role ({ui.user.role}) may not do this.")
        return ui

    return _check


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/ui/sign-in?next={quote(target, safe='')}")


CurrentUi = Annotated[Ui, Depends(current_ui)]
