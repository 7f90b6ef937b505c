"""FastAPI app factory: JSON routes under /api, live events over SSE.

Requests whose Host header is not the address we are bound to are refused
(DNS rebinding: a web page on evil.example resolving to 127.0.0.1 must not
read transcripts)."""

from __future__ import annotations

import asyncio
import os
import time

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from .. import __version__
from ..config import Settings
from ..index.db import connect

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def allowed_hosts(bound_host: str, port: int) -> set[str] | None:
    """Host header values to accept, or None for any (bound to all interfaces)."""
    if bound_host in ("0.0.0.0", "::", ""):
        return None
    names = {bound_host, f"[{bound_host}]"} | (LOOPBACK if bound_host in LOOPBACK else set())
    return names | {f"{n}:{port}" for n in names}


class HostCheck:
    """Pure ASGI middleware: 421 for a Host we do not serve."""

    def __init__(self, app, hosts: set[str] | None):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and self.hosts is not None:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
            if host not in self.hosts:
                response = PlainTextResponse(f"Host {host!r} is not served here (DNS rebinding protection)", 421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings, service=None, *, bound_host: str = "127.0.0.1", port: int = 8080) -> FastAPI:
    app = FastAPI(title="zergd", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.service = service
    started = time.time()

    def reader():
        return connect(settings.index_path, settings.archive_dir, readonly=True)

    @app.get("/api/status")
    def status():
        counts = {"sessions": 0, "lines": 0}
        if settings.index_path.exists():
            db = reader()
            try:
                counts["sessions"] = db.execute("select count(*) from sessions").fetchone()[0]
                counts["lines"] = db.execute("select count(*) from lines").fetchone()[0]
            except Exception:  # index still being created by the writer
                pass
            finally:
                db.close()
        return {
            "pid": os.getpid(),
            "url": f"http://{bound_host}:{port}",
            "version": __version__,
            "uptime_s": round(time.time() - started, 1),
            "state": service.state if service else "stopped",
            "error": service.error if service else None,
            "backlog": service.backlog if service else 0,
            "last_rescan": service.last_rescan if service else None,
            "zerg_home": str(settings.home),
            "roots": [{"provider": r.provider, "path": str(r.path), "exists": r.path.is_dir()}
                      for r in settings.source_roots()],
            **counts,
        }

    @app.get("/api/events")
    async def events(request: Request):
        """Server-sent events: session.created / session.updated / session.source_deleted."""
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
                    yield b"id: %d\nevent: %s\ndata: %s\n\n" % (event["seq"], event["type"].encode(), orjson.dumps(event))
            finally:
                sub.close()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    app.add_middleware(HostCheck, hosts=allowed_hosts(bound_host, port))
    return app
