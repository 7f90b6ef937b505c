"""FastAPI app factory: JSON routes under /api, live events over SSE.

Requests whose Host header is not the address we are bound to are refused
(DNS rebinding: a web page on evil.example resolving to 127.0.0.1 must not
read transcripts)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
import urllib.parse
from functools import partial
from importlib import resources
from pathlib import Path

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse,
                               StreamingResponse)

from .. import __version__
from ..config import Settings
from ..errors import NotReady, ZergError
from ..index import open_index
from ..prices import use_cache as use_price_cache
from ..events import SessionChanged
from .access import COOKIE, LOCAL_HEADER, Access, viewer

# Transcripts hold arbitrary HTML and JS: nothing inline runs, nothing loads
# from elsewhere, images only from our origin or data: URLs (base64 screenshots).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
PAGES = ("/", "/search", "/chat", "/usage")
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


def webui_dir() -> Path:
    """The Timeline's files: inside the installed package (``zergd.webui``)."""
    return Path(str(resources.files("zergd.webui")))


class Assets:
    """Static files under /static/<content hash>/, so they can be cached forever."""

    def __init__(self, root: Path):
        self.root = root
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in MEDIA_TYPES:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
        self.version = digest.hexdigest()[:12]
        static = f"/static/{self.version}"
        self.index_html = (root / "index.html").read_text("utf-8").replace("%STATIC%", static)
        self.login_html = (root / "login.html").read_text("utf-8").replace("%STATIC%", static)

    def file(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents or not path.is_file() or path.suffix not in MEDIA_TYPES:
            raise HTTPException(404, "no such file")
        return path


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


# Bodies that are not JSON: a shipper's ranges, which need a token anyway
# (a browser on another site cannot send one).
RAW_BODY_PATHS = ("/api/ingest",)
# What answers without signing in on a team server: the sign-in page and its
# files (which hold no data), and ingest (which needs its own token).
OPEN_PATHS = ("/login", "/api/login", "/api/logout", "/api/me")


def is_token_route(path: str) -> bool:
    return path == "/api/ingest" or path.startswith("/api/ingest/")


def refuse_cross_site(method: str, headers: dict, origins: set[str], path: str = "") -> JSONResponse | None:
    """A request that changes state must come from our own pages: a page on
    any other site can make a browser POST here (no preflight for a
    text/plain body), so its Origin must be ours and its body JSON."""
    if method in SAFE_METHODS:
        return None
    origin = headers.get(b"origin", b"").decode("latin-1").lower()
    if origin and origin not in origins:
        return JSONResponse({"detail": f"cross-site request from {origin} refused"}, 403)
    if headers.get(b"sec-fetch-site", b"same-origin") not in (b"same-origin", b"none"):
        return JSONResponse({"detail": "cross-site request refused"}, 403)
    has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if (method in ("POST", "PUT", "PATCH") and (has_body or content_type) and content_type != b"application/json"
            and path not in RAW_BODY_PATHS):
        return JSONResponse({"detail": "send the body as JSON (Content-Type: application/json)"}, 415)
    return None


def _cookie(headers: dict) -> str | None:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


class Guard:
    """Pure ASGI middleware: 421 for a Host we do not serve (DNS rebinding),
    403 for a state-changing request from another site, on a team server 401
    (or the sign-in page) for a request nobody signed in to, and the security
    headers on every response.  The viewer it finds rides in the request's
    scope (access.viewer)."""

    def __init__(self, app, access: Access):
        self.app = app
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access = self.access
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        path = scope.get("path", "")
        token_route = is_token_route(path)
        # Ingest answers any Host: it needs a bearer token, which no rebinding page can send.
        if host not in access.hosts and not token_route:
            shown = f" (this zergd answers as {access.public_url})" if access.public_url else ""
            response = PlainTextResponse(f"Host {host!r} is not served here (DNS rebinding protection){shown}", 421)
            await response(scope, receive, send)
            return
        refused = refuse_cross_site(scope["method"], headers, access.origins, path)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if not token_route:
            client = (scope.get("client") or ("", 0))[0]
            viewer = access.viewer_for(_cookie(headers), headers.get(LOCAL_HEADER.encode(), b"").decode("latin-1"),
                                       client)
            open_path = path in OPEN_PATHS or path.startswith("/static/")
            if viewer is None and not open_path:
                if path.startswith("/api/") or path.startswith("/docs") or path == "/openapi.json":
                    response = JSONResponse({"detail": "sign in first (POST /api/login)"}, 401)
                else:
                    query = scope.get("query_string", b"").decode("latin-1")
                    target = path + (f"?{query}" if query else "")
                    response = RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), 303)
                await response(scope, receive, send)
                return
            scope["zerg.viewer"] = viewer

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=list(message.get("headers", [])) + SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Index reads the API runs at once; more requests wait their turn.  On two
# cores, 20 clients searching at once otherwise take the GIL from the writer
# thread (backfill 20x slower under that load) without answering any sooner.
READ_SLOTS = 4


def create_app(settings: Settings, service=None, *, bound_host: str = "127.0.0.1", port: int = 8080,
               shipping=None, public_url: str | None = None) -> FastAPI:
    use_price_cache(settings.home / "prices.json")
    access = Access(settings, bound_host, port, public_url if public_url is not None else settings.public_url)
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if own_index:
            app.state.index.close()
        if getattr(app.state, "oikos", None) is not None:
            app.state.oikos.close()

    app = FastAPI(title="zergd", version=__version__, docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.service = service
    app.state.bound_host = bound_host
    app.state.access = access
    app.state.tokens = access.tokens
    # machine -> {"last_delivery", "bytes_behind"}: what each shipping machine last said (since start).
    app.state.shippers = {}
    started = time.time()

    from .routes import router

    # The daemon shares its index (the service writes through it); a bare
    # app (tests, `zerg serve` without the service) opens its own.
    own_index = service is None
    app.state.index = service.index if service is not None else open_index(settings)
    app.state.read_slots = threading.BoundedSemaphore(READ_SLOTS)

    @app.get("/api/status")
    def status(request: Request):
        who = viewer(request)
        counts, machines = {"sessions": 0, "lines": 0}, []
        try:
            with app.state.index.reader() as r:
                counts = r.counts()
                machines = r.machines(None if who.admin else who.scope)
        except NotReady:  # the writer is still creating the index
            pass
        if not who.admin:  # a member learns that the daemon runs, not whose files are where (admins see faults)
            return {"version": __version__, "state": service.state if service else "stopped", "faults": [],
                    "backfill": service.progress.as_dict() if service and service.progress else None,
                    "machine": settings.host, "machines": machines, "user": who.user.name}
        return {
            "pid": os.getpid(),
            "url": f"http://{bound_host}:{port}",
            "version": __version__,
            "uptime_s": round(time.time() - started, 1),
            "state": service.state if service else "stopped",
            "error": service.error if service else None,
            # Every file set aside and why (kind: skipped | waiting | error); empty when all is well.
            "faults": service.faults.snapshot() if service else [],
            # While the start-up backfill runs: files and bytes done of total, rate, seconds left.
            "backfill": service.progress.as_dict() if service and service.progress else None,
            "backlog": service.backlog if service else 0,
            "last_rescan": service.last_rescan if service else None,
            "zerg_home": str(settings.home),
            "index": {"kind": app.state.index.kind, "where": app.state.index.describe()},
            "roots": [{"provider": r.provider, "path": str(r.path), "exists": r.path.is_dir()}
                      for r in settings.source_roots()],
            # Shipping this machine's sessions elsewhere (zergd start --ship-to): how far behind.
            "shipping": shipping.status() if shipping else None,
            # Machines whose sessions are here (this one, and those that ship to it).
            "machine": settings.host,
            "machines": [{**m, **app.state.shippers.get(m["machine"], {})} for m in machines],
            **counts,
        }

    @app.get("/api/events")
    async def events(request: Request):
        """Server-sent events: session.created / session.updated / session.source_deleted
        (of the sessions the reader may see), status.changed."""
        who = viewer(request)
        if service is None:
            return JSONResponse({"detail": "no live events without the daemon"}, 503)
        sub = service.bus.subscribe(loop=asyncio.get_running_loop(), maxsize=500)

        async def stream():
            try:
                yield b": connected\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(sub.queue.get(), timeout=15)
                    except asyncio.TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if isinstance(event, SessionChanged) and not who.sees(event.session):
                        continue
                    yield b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.type.encode(),
                                                                 orjson.dumps(event.as_dict()))
            finally:
                sub.close()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    from .chat import router as chat_router
    from .ingest import router as ingest_router
    from .login import router as login_router

    app.include_router(login_router)
    app.include_router(router)
    app.include_router(chat_router)
    app.include_router(ingest_router)
    assets = Assets(webui_dir())
    app.state.assets = assets

    @app.exception_handler(ZergError)
    async def zerg_error(_request, exc: ZergError):
        """The one place typed errors become status codes (see zergd.errors)."""
        return JSONResponse({"detail": str(exc)}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
                    for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, 422)

    @app.get("/static/{version}/{path:path}", include_in_schema=False)
    def static(version: str, path: str):
        file = assets.file(path)
        cache = "public, max-age=31536000, immutable" if version == assets.version else "no-cache"
        return FileResponse(file, media_type=MEDIA_TYPES[file.suffix], headers={"Cache-Control": cache})

    def page():
        return HTMLResponse(assets.index_html, headers={"Cache-Control": "no-cache"})

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/s/{session_id:path}", page, methods=["GET", "HEAD"], include_in_schema=False)

    app.add_middleware(Guard, access=access)
    app.openapi = partial(document_errors, app)
    return app


VALIDATION = "a parameter or the body has the wrong type, is missing or is out of range"


def document_errors(app: FastAPI) -> dict:
    """The OpenAPI document, saying what a 422 really holds: ``{"detail":
    "..."}`` (app.bad_request), not FastAPI's list of validation errors."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": VALIDATION, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}}}
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema
