"""create_app(): routers, error handlers, middleware."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import make_engine, make_sessionmaker
from api.errors import install_error_handlers
from api.idempotency import install_idempotency
from api.middleware import RequestIdMiddleware
from api.routes import ROUTERS
from api.settings import Settings, get_settings
from api.webhooks.worker import running_deliverer

DESCRIPTION = """Diagnostic medial branch block outcomes and radiofrequency ablation referrals.

Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json` (RFC 9457).
"""


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
                yield
        finally:
            if own_engine:
                await app.state.engine.dispose()

    app = FastAPI(title="Blocktrack", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    if engine is not None:
        # Tests pass their engine in and may not run the lifespan.
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
    install_error_handlers(app)
    install_idempotency(app)  # added first: inside RequestIdMiddleware, so its answers carry X-Request-ID
    app.add_middleware(RequestIdMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    return app
