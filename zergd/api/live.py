"""What the daemon says about itself: ``/api/status`` (an admin sees every
fault, root and machine; a member that the daemon runs and their own
machines) and ``/api/events``, the live stream of what changed (each
browser gets the sessions it may see)."""

from __future__ import annotations

import asyncio
import os
import time

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .. import __version__
from ..errors import NotReady
from ..events import SessionChanged
from .access import Viewer, viewer

router = APIRouter(prefix="/api")


def _counts(state, who: Viewer) -> tuple[dict, list, list]:
    try:
        with state.index.reader() as r:
            return r.counts(), r.machines(None if who.admin else who.scope), r.drift()
    except NotReady:  # the writer is still creating the index
        return {"sessions": 0, "lines": 0}, [], []


@router.get("/status")
def status(request: Request):
    state = request.app.state
    who, service, settings = viewer(request), state.service, state.settings
    counts, machines, drift = _counts(state, who)
    backfill = service.progress.as_dict() if service and service.progress else None
    if not who.admin:  # a member learns that the daemon runs, not whose files are where (admins see faults)
        return {"version": __version__, "state": service.state if service else "stopped", "faults": [],
                "backfill": backfill, "machine": settings.host, "machines": machines, "user": who.user.name}
    return {
        "pid": os.getpid(),
        "url": f"http://{state.bound_host}:{state.port}",
        "version": __version__,
        "uptime_s": round(time.time() - state.started, 1),
        "state": service.state if service else "stopped",
        "error": service.error if service else None,
        # Every file set aside and why (kind: skipped | waiting | error); empty when all is well.
        "faults": service.faults.snapshot() if service else [],
        # While the start-up backfill runs: files and bytes done of total, rate, seconds left.
        "backfill": backfill,
        "backlog": service.backlog if service else 0,
        "last_rescan": service.last_rescan if service else None,
        "zerg_home": str(settings.home),
        "index": {"kind": state.index.kind, "where": state.index.describe()},
        "roots": [{"provider": r.provider, "path": str(r.scope), "exists": r.scope.exists()}
                  for r in settings.source_roots()],
        # Kinds of lines the agents wrote that this zergd does not know, per agent and version.
        "unknown_kinds": drift,
        # Shipping this machine's sessions elsewhere (zergd start --ship-to): how far behind.
        "shipping": state.shipping.status() if state.shipping else None,
        # Machines whose sessions are here (this one, and those that ship to it).
        "machine": settings.host,
        "machines": [{**m, **state.shippers.get(m["machine"], {})} for m in machines],
        **counts,
    }


@router.get("/events")
async def events(request: Request):
    """Server-sent events: session.created / session.updated / session.source_deleted
    (of the sessions the reader may see), status.changed."""
    who, service = viewer(request), request.app.state.service
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
