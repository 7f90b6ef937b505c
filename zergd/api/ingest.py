"""``POST /api/ingest``: sessions from other machines (see zergd.ship).

Off until ``zergd token create NAME`` has made a token; every request needs
one (``Authorization: Bearer …``), else 401 and nothing is written.  A
daemon bound to loopback takes ingest from loopback clients only (an SSH
tunnel, or a TLS proxy on this machine); one started with ``--host`` on a
network address takes it from there too - behind TLS beyond a LAN.

Everything checkable without the archive (token, size, gzip, paths, sha256
of every range) is checked before the writer sees the request; the writer
thread then applies it (zergd.ship.ingest) and the answer says, per item,
the offset this side has."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..ship.ingest import apply, machine_state
from ..ship.protocol import BEHIND_HEADER, MACHINE, MAX_BODY, TooLarge, decompress, parse
from ..ship.tokens import Token, TokenError
from .routes import errors, reader

router = APIRouter(prefix="/api/ingest", tags=["ingest"], responses=errors(401, 403))

LOOPBACK_CLIENTS = ("127.", "::1", "::ffff:127.")
# How long a request waits for the writer (busy with a start-up backfill, say)
# before it is answered 503 and the shipper tries again later.
WRITER_WAIT = 60.0


def _authorize(request: Request) -> Token:
    state = request.app.state
    client = request.client.host if request.client else ""
    if state.bound_host in ("127.0.0.1", "localhost", "::1") and not client.startswith(LOOPBACK_CLIENTS):
        raise HTTPException(403, f"ingest from {client} refused: this zergd listens on {state.bound_host} only"
                                 " (start it with --host, behind TLS, or ship through an SSH tunnel)")
    try:
        tokens = state.tokens.load()  # one read of the file per request
        if not tokens:
            raise HTTPException(403, "ingest is off on this zergd: create a token with `zergd token create NAME`")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = state.tokens.verify(value.strip(), tokens) if scheme.lower() == "bearer" else None
    except TokenError as e:
        raise HTTPException(503, f"cannot read the tokens: {e}") from None
    if token is None:
        raise HTTPException(401, "a valid token is needed (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    return token


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooLarge(f"a request body is at most {MAX_BODY >> 20} MiB (send smaller batches)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"a request body is at most {MAX_BODY >> 20} MiB (send smaller batches)")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("", responses=errors(400, 409, 413))
async def ingest(request: Request):
    """Append byte ranges of another machine's archive (the body: see
    zergd.ship.protocol).  200 when every item was applied or was here
    already; 409 when some were refused (a gap, or bytes that differ),
    each with the offset this side has."""
    token = _authorize(request)
    service = request.app.state.service
    if service is None:
        raise HTTPException(503, "ingest needs the running daemon (zergd start), not a bare API")
    body = await _read_body(request)
    encoding = request.headers.get("content-encoding", "")
    machine, items = await run_in_threadpool(lambda: parse(decompress(body, encoding)))
    settings = request.app.state.settings
    if machine == settings.host:
        raise HTTPException(409, f"{machine!r} is this zergd's own machine name; ship under another one"
                                 " (zerg ship --machine NAME, or ZERG_HOST on the shipping machine)")
    future = service.submit(lambda writer: apply(writer, settings.archive_dir, machine, items))
    try:
        results = await asyncio.wait_for(asyncio.wrap_future(future), WRITER_WAIT)
    except asyncio.TimeoutError:
        raise HTTPException(503, "the writer is busy (a start-up backfill?); try again shortly",
                            headers={"Retry-After": "5"}) from None
    except asyncio.CancelledError:
        if future.cancelled():
            raise HTTPException(503, "the daemon is stopping; try again shortly") from None
        raise
    await run_in_threadpool(request.app.state.tokens.touch, token, machine)
    left = request.headers.get(BEHIND_HEADER, "")
    request.app.state.shippers[machine] = {"last_delivery": time.time(),
                                           "bytes_behind": int(left) if left.isdigit() else None}
    refused = [r for r in results if r.error]
    body = {"machine": machine, "results": [r.as_dict() for r in results]}
    if refused:
        body["detail"] = f"{len(refused)} of {len(results)} items refused; first: {refused[0].error}"
    return JSONResponse(body, 409 if refused else 200)


@router.get("/state")
def state(request: Request, machine: Annotated[str, Query(pattern=MACHINE.pattern)]):
    """What this side has archived from ``machine``: where a shipper resumes."""
    _authorize(request)
    with reader(request) as r:
        return machine_state(r, request.app.state.settings.archive_dir, machine)
