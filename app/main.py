"""The application factory: ``create_app(settings)`` builds the API, web pages, widget and, when
``settings.demo_provider`` is on, the demo OAI-PMH provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from schemas.settings import Settings

from .context import open_context
from .demo.oai_provider import make_router as demo_oai_router
from .errors import install_error_handlers
from .leader import start_leadership
from .metrics import MetricsMiddleware, mark_process_dead
from .openapi import install_openapi
from .protocols import opensearch
from .protocols.oai import router as oai
from .routes import admin, health, lookup, members, metrics, records, search, web, widget


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Lienhop ASGI app. Its lifespan opens the store, the search backend and the index follower."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await open_context(settings)
        app.state.lienhop = ctx
        stop = asyncio.Event()
        # Of several server workers, one leads: it follows the store into the index and runs the
        # scheduler (app/leader.py); the others only answer, and take over if it dies.
        app.state.leadership = await start_leadership(ctx, stop)
        try:
            yield
        finally:
            stop.set()
            await ctx.jobs.close()
            await app.state.leadership.wait()
            await ctx.close()
            mark_process_dead()

    app = FastAPI(
        title="Lienhop",
        summary="Union catalogue of the Vietnam Library Consortium on S&T information",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Member OPACs on other origins call /lookup from the widget; only reads are shared.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(MetricsMiddleware)
    for module in (health, metrics, members, search, records, lookup, admin, widget, web, oai, opensearch):
        app.include_router(module.router)
    if settings.demo_provider:
        # Off by default: a production catalogue should not answer as thirteen fake repositories.
        app.include_router(demo_oai_router())
    return app
