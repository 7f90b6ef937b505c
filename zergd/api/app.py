"""The FastAPI app factory: it only wires.  The guard in front (guard.py),
who may see what (access.py), JSON routes (routes.py, live.py, chat.py,
ingest.py, login.py), the Timeline's pages (pages.py) and how errors leave
(problems.py) each live in their own module."""

from __future__ import annotations

import contextlib
import threading
import time
from functools import partial

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..index import open_index
from ..prices import use_cache as use_price_cache
from .access import Access
from .guard import Guard
from .pages import Assets, add_pages, webui_dir
from .problems import add_error_handlers, document_errors

# Index reads the API runs at once; more requests wait their turn.  On two
# cores, 20 clients searching at once otherwise take the GIL from the writer
# thread (backfill 20x slower under that load) without answering any sooner.
READ_SLOTS = 4


def create_app(settings: Settings, service=None, *, bound_host: str = "127.0.0.1", port: int = 8080,
               shipping=None, public_url: str | None = None) -> FastAPI:
    use_price_cache(settings.home / "prices.json")
    access = Access(settings, bound_host, port, public_url if public_url is not None else settings.public_url)
    # The daemon shares its index (the service writes through it); a bare
    # app (tests, `zerg serve` without the service) opens its own.
    own_index = service is None

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if own_index:
            app.state.index.close()
        if getattr(app.state, "oikos", None) is not None:
            app.state.oikos.close()

    app = FastAPI(title="zergd", version=__version__, docs_url="/docs", redoc_url=None, lifespan=lifespan)
    state = app.state
    state.settings, state.service, state.shipping, state.access = settings, service, shipping, access
    state.bound_host, state.port, state.started = bound_host, port, time.time()
    state.tokens = access.tokens
    state.shippers = {}  # machine -> {"last_delivery", "bytes_behind"}: what each shipping machine last said
    state.index = service.index if service is not None else open_index(settings)
    state.read_slots = threading.BoundedSemaphore(READ_SLOTS)
    state.assets = Assets(webui_dir())

    from .chat import router as chat_router
    from .ingest import router as ingest_router
    from .live import router as live_router
    from .login import router as login_router
    from .routes import router

    for r in (live_router, login_router, router, chat_router, ingest_router):
        app.include_router(r)
    add_error_handlers(app)
    add_pages(app, state.assets)
    app.add_middleware(Guard, access=access)
    app.openapi = partial(document_errors, app)
    return app
