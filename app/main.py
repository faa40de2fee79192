"""The application factory: ``create_app(settings)`` builds the API, web pages, widget and, when
``settings.demo_provider`` is on, the demo OAI-PMH provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from schemas.settings import Settings

from .context import open_context
from .demo.oai_provider import make_router as demo_oai_router
from .errors import install_error_handlers
from .protocols import coins, opensearch
from .protocols.oai import router as oai
from .protocols.openurl import router as openurl
from .protocols.sru import router as sru
from .routes import admin, health, lookup, members, records, search, web, widget, works
from .routes import usage as usage_routes
from .scheduler import run as scheduler_loop
from .web_support import TEMPLATES

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Lienhop ASGI app. Its lifespan opens the store, the search backend and the index follower."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await open_context(settings)
        app.state.lienhop = ctx
        stop = asyncio.Event()
        follower = None
        if ctx.indexer is not None:
            # Catch up before serving, then keep following: a CLI harvest in another process commits
            # to the store, and this loop makes it searchable within ``index_poll_seconds``.
            try:
                await ctx.indexer.sync()
            except Exception:
                log.exception("initial index sync failed; the follower will retry")
            follower = asyncio.create_task(ctx.indexer.follow(settings.index_poll_seconds, stop))
        scheduler = None
        if settings.scheduler_seconds > 0:
            scheduler = asyncio.create_task(scheduler_loop(ctx, settings.scheduler_seconds, stop))
        try:
            yield
        finally:
            stop.set()
            await ctx.jobs.close()
            for task in (follower, scheduler):
                if task is not None:
                    await task
            await ctx.close()

    app = FastAPI(
        title="Lienhop",
        summary="Union catalogue of the Vietnam Library Consortium on S&T information",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Member OPACs on other origins call /lookup from the widget; only reads are shared.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])
    install_error_handlers(app)
    for module in (
        health,
        members,
        search,
        records,
        works,
        lookup,
        admin,
        widget,
        web,
        oai,
        opensearch,
        openurl,
        sru,
    ):
        app.include_router(module.router)
    app.include_router(usage_routes.router)
    coins.install(TEMPLATES.env)  # COinS in the result pages, for reference managers
    if settings.demo_provider:
        # Off by default: a production catalogue should not answer as thirteen fake repositories.
        app.include_router(demo_oai_router())
    return app
