"""create_app(): routers, error handlers, middleware."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from api.db import make_engine, make_sessionmaker
from api.errors import install_error_handlers
from api.fhir.errors import install_fhir_errors
from api.idempotency import install_idempotency
from api.interop.openapi import document_standards
from api.jobs.worker import running_jobs
from api.key_cache import KeyCache
from api.limits import BodyLimitMiddleware
from api.logs import AccessLogMiddleware
from api.middleware import RequestIdMiddleware
from api.openapi import document_api
from api.routes import ROUTERS
from api.settings import Settings, get_settings
from api.ui.install import install_ui
from api.webhooks.openapi import document_webhooks
from api.webhooks.worker import running_deliverer

DESCRIPTION = """Diagnostic medial branch block outcomes and radiofrequency ablation referrals.

Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json` (RFC 9457).
"""


class Blocktrack(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # The access log wraps Starlette's outermost layer (ServerErrorMiddleware), which answers 500 and
        # then re-raises: the log sees that 500 and keeps the exception's message out of uvicorn's log.
        return AccessLogMiddleware(super().build_middleware_stack())


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.async_database_url)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        try:
            async with AsyncExitStack() as stack:
                if settings.run_deliverer:  # the embedded default; `blocktrack worker` runs it separately
                    await stack.enter_async_context(
                        running_deliverer(app.state.engine, settings, asyncio.Event())
                    )
                if settings.run_jobs:  # every server process claims jobs (api/jobs/worker.py)
                    await stack.enter_async_context(running_jobs(app.state.engine, settings, asyncio.Event()))
                yield
        finally:
            if own_engine:
                await app.state.engine.dispose()

    app = Blocktrack(
        title="Blocktrack",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_ui with local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    if engine is not None:
        # Tests pass their engine in and may not run the lifespan.
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
    install_error_handlers(app)
    install_fhir_errors(app)  # OperationOutcome, not problem+json, under /fhir
    install_idempotency(app)  # added first: inside RequestIdMiddleware, so its answers carry X-Request-ID
    # Outside idempotency, authentication and parsing: an oversized body is refused before any of them.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        read_timeout=settings.body_read_timeout_seconds,
    )
    app.add_middleware(RequestIdMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    document_webhooks(app)
    document_standards(app)
    document_api(app)  # last: completes every operation's examples and headers
    install_ui(app)
    return app
