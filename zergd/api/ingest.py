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
import errno
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..accounts import same_name
from ..ship.ingest import apply, machine_state
from ..ship.protocol import BEHIND_HEADER, MACHINE, MAX_BODY, TooLarge, decompress, parse
from ..ship.tokens import Token, TokenError
from .routes import errors, reader

router = APIRouter(prefix="/api/ingest", tags=["ingest"], responses=errors(401, 403))

LOOPBACK_CLIENTS = ("127.", "::1", "::ffff:127.")
# How long a request waits for the writer (busy with a start-up backfill, say)
# before it is answered 503 and the shipper tries again later.
WRITER_WAIT = 60.0
# A body that has not arrived by then is refused (a slow sender holds a connection and a buffer).
BODY_TIMEOUT = 120.0


def _authorize(request: Request) -> Token:
    state = request.app.state
    client = request.client.host if request.client else ""
    # Behind a proxy (a public URL) the client is the proxy's X-Forwarded-For: the token decides.
    if not state.access.team and not client.startswith(LOOPBACK_CLIENTS):
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


async def _read_body(request: Request) -> bytearray:
    """The body, into one buffer, refused past MAX_BODY (or a slow sender
    past BODY_TIMEOUT seconds) before more of it is read."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooLarge(f"a request body is at most {MAX_BODY >> 20} MiB (send smaller batches)")
    body = bytearray()
    deadline = time.monotonic() + BODY_TIMEOUT
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - time.monotonic()))
        except StopAsyncIteration:
            return body
        except asyncio.TimeoutError:
            raise HTTPException(408, f"the body did not arrive within {BODY_TIMEOUT:.0f} s") from None
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge(f"a request body is at most {MAX_BODY >> 20} MiB (send smaller batches)")


def _machine(token: Token, claimed: str, own_host: str) -> str:
    """The machine a request writes under: the token's own, whatever case or
    Unicode spelling the request used; any other name is refused."""
    if same_name(claimed, own_host):
        raise HTTPException(409, f"{claimed!r} is this zergd's own machine name; ship under another one"
                                 " (zerg ship --machine NAME, or ZERG_HOST on the shipping machine)")
    if not token.machine or not same_name(claimed, token.machine):
        raise HTTPException(403, f"token {token.name!r} ships only as machine {token.machine!r}, not {claimed!r}"
                                 f" (zerg ship --machine {token.machine})")
    return token.machine


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
    claimed, items = await run_in_threadpool(lambda: parse(decompress(body, encoding)))
    del body
    settings = request.app.state.settings
    machine = _machine(token, claimed, settings.host)
    where = f"ingest from {machine}"
    future = service.submit(lambda writer: (apply(writer, settings.archive_dir, machine, items), writer.epoch()))
    try:
        results, epoch = await asyncio.wait_for(asyncio.wrap_future(future), WRITER_WAIT)
    except asyncio.TimeoutError:
        raise HTTPException(503, "the writer is busy (a start-up backfill?); try again shortly",
                            headers={"Retry-After": "5"}) from None
    except asyncio.CancelledError:
        if future.cancelled():
            raise HTTPException(503, "the daemon is stopping; try again shortly") from None
        raise
    except OSError as e:
        status, retry = storage_fault(e)
        service.faults.note(where, "waiting" if retry else "error", f"{e.strerror or e} (answered {status})")
        raise HTTPException(status, f"this zergd cannot write what {machine} sent: {e.strerror or e}",
                            headers={"Retry-After": str(retry)} if retry else None) from None
    service.faults.clear(where)
    await run_in_threadpool(request.app.state.tokens.touch, token, machine)
    if items:  # an empty request proves nothing: it does not make a machine appear here
        request.app.state.shippers[machine] = {"last_delivery": time.time(),
                                               "bytes_behind": _behind(request.headers.get(BEHIND_HEADER, ""))}
    refused = [r for r in results if r.error]
    body = {"machine": machine, "epoch": epoch, "results": [r.as_dict() for r in results]}
    if refused:
        body["detail"] = f"{len(refused)} of {len(results)} items refused; first: {refused[0].error}"
    return JSONResponse(body, 409 if refused else 200)


def storage_fault(e: OSError) -> tuple[int, int]:
    """(status, Retry-After seconds or 0) for an OS error met while writing:
    a full or failing disk passes (507 / 503, retry later); a name the file
    system refuses does not (400)."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return 507, 60
    if e.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EINVAL):
        return 400, 0
    return 503, 30


def _behind(value: str) -> int | None:
    """What a shipper says it still has to send: a count of bytes, at most
    what one machine could plausibly hold (1 PiB), else not believed."""
    return int(value) if value.isdigit() and len(value) <= 16 and int(value) <= 1 << 50 else None


@router.get("/state")
async def state(request: Request, machine: Annotated[str, Query(pattern=f"^{MACHINE.pattern}$")]):
    """What this side has archived from ``machine`` (the token's own), and the
    index's epoch: where a shipper resumes."""
    token = _authorize(request)
    machine = _machine(token, machine, request.app.state.settings.host)

    def look():
        with reader(request) as r:
            return machine_state(r, request.app.state.settings.archive_dir, machine), r.meta("epoch")

    found, epoch = await run_in_threadpool(look)
    service = request.app.state.service
    if epoch is None and service is not None:  # an index made before epochs: the writer gives it one
        epoch = await asyncio.wait_for(asyncio.wrap_future(service.submit(lambda w: w.epoch())), WRITER_WAIT)
    return {**found, "epoch": epoch}


@router.get("/whoami")
def whoami(request: Request):
    """The machine name this token ships as (a shipper with no --machine asks)."""
    token = _authorize(request)
    return {"machine": token.machine, "token": token.name}
