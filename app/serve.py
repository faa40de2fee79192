"""``lienhop serve``: one or several server workers (uvicorn processes) on one address.

With one worker the app is built here and served in this process. With several, uvicorn's supervisor
starts each worker in a fresh process that builds its own app from the environment
(:func:`worker_app`), so the command line's address is passed to uvicorn and everything else comes
from ``LIENHOP_*`` variables, as in a container. Either way the metrics folder is emptied first, so
``/metrics`` counts this run only, summed over the workers.
"""

from __future__ import annotations

from fastapi import FastAPI

from schemas.settings import Settings

from .metrics import prepare_multiprocess_dir


def worker_app() -> FastAPI:
    """The app of one server worker (uvicorn's factory, imported in each worker process)."""
    from .main import create_app

    return create_app(Settings())


def serve(settings: Settings) -> None:
    """Run the API until interrupted, with ``settings.workers`` processes."""
    import uvicorn

    prepare_multiprocess_dir(settings.home)
    if settings.workers == 1:
        from .main import create_app

        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
        return
    uvicorn.run(
        "app.serve:worker_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        # uvicorn restarts a worker that does not answer its supervisor's ping within this many
        # seconds, counting a fresh worker's imports: its 5 s default made workers on a busy machine
        # die and restart for ever before serving once.
        timeout_worker_healthcheck=60,
    )
