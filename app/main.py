"""The application factory: ``create_app(settings)`` builds the API, web pages, widget and, when
``settings.demo_provider`` is on, the demo OAI-PMH provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from schemas.settings import Settings
from usage.events import UsageRecorder

from .auth import Authenticator, install_log_redaction, load_secret
from .context import open_context
from .demo.oai_provider import make_router as demo_oai_router
from .errors import install_error_handlers
from .guard import Guard, PublicCORS
from .leader import start_leadership
from .metrics import MetricsMiddleware, mark_process_dead
from .openapi import install_openapi
from .protocols import coins, opensearch
from .protocols.oai import router as oai
from .protocols.openurl import router as openurl
from .protocols.sru import router as sru
from .routes import (
    admin,
    admin_pages,
    go,
    health,
    lookup,
    members,
    metrics,
    records,
    search,
    sushi,
    web,
    widget,
    works,
)
from .routes import usage as usage_routes
from .usage_events import UsageMiddleware, start_usage, stop_usage
from .web_support import TEMPLATES

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Lienhop ASGI app. Its lifespan opens the store, the search backend and the index follower."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await open_context(settings)
        app.state.lienhop = ctx
        app.state.auth = Authenticator(settings, ctx.store, load_secret(settings))
        await start_usage(app, UsageRecorder(ctx.store.engine))
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
            await stop_usage(app)  # every counted event is written before the store closes
            await ctx.close()
            mark_process_dead()

    app = FastAPI(
        title="Lienhop",
        summary="Union catalogue of the Vietnam Library Consortium on S&T information",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Member OPACs on other origins call /lookup from the widget; only public reads are shared, and
    # admin routes send no CORS header at all (app.guard).
    app.add_middleware(PublicCORS, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])
    app.add_middleware(Guard, settings=settings)
    app.add_middleware(UsageMiddleware)  # counts searches, views, link-outs after they are answered
    install_log_redaction()
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(MetricsMiddleware)
    routers = (
        health,
        metrics,
        members,
        search,
        records,
        works,
        lookup,
        admin,
        admin_pages,
        widget,
        web,
        oai,
        opensearch,
        go,
        sushi,
        openurl,
        sru,
    )
    for module in routers:
        app.include_router(module.router)
    app.include_router(usage_routes.router)
    coins.install(TEMPLATES.env)  # COinS in the result pages, for reference managers
    if settings.demo_provider:
        # Off by default: a production catalogue should not answer as thirteen fake repositories.
        app.include_router(demo_oai_router())
    return app
