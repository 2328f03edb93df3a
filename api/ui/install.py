"""install_ui(): the workspace's routers, static files, offline /docs and /redoc, and its error pages."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import ApiError
from api.ui import diary, letters, patients, referrals, session
from api.ui.deps import PasswordChangeRequired, SignInRequired, redirect, sign_in_redirect
from api.ui.templating import templates

STATIC = Path(__file__).parent / "static"
ROUTERS = [session.router, patients.router, diary.router, referrals.router, letters.router]


def _install_error_pages(app: FastAPI) -> None:
    """Errors of a page are pages (same status); every other path keeps the handler installed before
    (problem+json, or what another part of the app put in front of it)."""
    original = app.exception_handlers[ApiError]

    async def handler(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/ui/") or not isinstance(exc, ApiError):
            return await original(request, exc)  # type: ignore[no-any-return]
        context = {"status": exc.status, "title": exc.title, "detail": exc.detail}
        return templates.TemplateResponse(request, "error.html", context, status_code=exc.status)

    app.add_exception_handler(ApiError, handler)


async def _sign_in_required(request: Request, _: Exception) -> Response:
    response = sign_in_redirect(request)
    response.delete_cookie("bt_session")
    return response


async def _password_required(_: Request, __: Exception) -> Response:
    return redirect("/ui/password")


def _install_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc from /static: they work on a clinic network without internet."""

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Blocktrack API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            # No validator badge: it would send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="Blocktrack API",
            redoc_js_url="/static/vendor/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )


def install_ui(app: FastAPI) -> None:
    """Call after install_error_handlers."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_docs(app)
    _install_error_pages(app)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(PasswordChangeRequired, _password_required)

    @app.get("/", include_in_schema=False)
    @app.get("/ui", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)
    async def home(request: Request) -> Response:
        if request.url.path == "/favicon.ico":
            return RedirectResponse("/static/favicon.svg", status_code=301)
        return redirect("/ui/patients")

    for router in ROUTERS:
        app.include_router(router)
