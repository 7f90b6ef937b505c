"""JSON routes under /api.  Each borrows a Reader from the index's face (the
daemon's writer thread is the only writer) and asks it what the CLI asks.
Bad parameters are 4xx with a message, never a 500."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from .. import document
from ..errors import ArchiveDamaged, BadQuery, NotFound
from ..index import SessionFilter, parse_when, snippet_parts
from ..index.dialect import OFFSET_MASK
from ..index.export import open_archived, pick_generation
from ..session_files import tool_output_file, tool_outputs
from ..transcript import NAMES
from ..usage import report, statusline, statusline_text
from .access import Viewer, viewer


class Error(BaseModel):
    """Every error this API answers: what was wrong, in one sentence."""

    detail: str


def errors(*codes: int) -> dict:
    meaning = {408: "the body did not arrive in time", 429: "too many failed sign-ins: wait (Retry-After)",
               507: "this zergd's disk is full: try later (Retry-After)",400: "a parameter is wrong", 401: "not signed in (a team server), or no valid token (ingest)",
               403: "a cross-site request (its Origin is not this daemon's), or ingest that is off",
               404: "not found", 409: "the archive file cannot be read, or ingested bytes do not continue it",
               413: "a body too large (ingest)",
               415: "a body that is not JSON", 421: "a Host header this daemon does not serve (DNS rebinding)",
               422: "a parameter has the wrong type or is out of range",
               503: "not ready: the index does not exist yet, or chat is not set up"}
    return {code: {"model": Error, "description": meaning[code]} for code in codes}


# 422 is ours too (see problems.add_error_handlers): {"detail": "..."}, not FastAPI's list.
router = APIRouter(prefix="/api", responses=errors(401, 421, 422, 503))
Who = Annotated[Viewer, Depends(viewer)]

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Text = Annotated[str | None, Query(max_length=1000)]


@contextmanager
def reader(request: Request):
    """A Reader, once one of the API's read slots is free (see app.READ_SLOTS)."""
    with request.app.state.read_slots, request.app.state.index.reader() as r:
        yield r


def json_bytes(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _when(value: str | None, name: str, *, end_of_day: bool = False) -> str | None:
    if not value:
        return None
    try:
        return parse_when(value, end_of_day=end_of_day)
    except BadQuery as e:
        raise BadQuery(f"{name}: {e}") from None


def session_filter(project, since, until, branch, model, provider, subagents, deleted=False,
                   machine=None, entrypoint=None) -> SessionFilter:
    return SessionFilter(project=project or None, since=_when(since, "since"),
                         until=_when(until, "until", end_of_day=True), branch=branch or None,
                         model=model or None, provider=provider or None, subagents=subagents, deleted=deleted,
                         machine=machine or None, entrypoint=entrypoint or None)


Machine = Annotated[str | None, Query(max_length=100, description="the machine a session ran on")]
Agent = Annotated[str | None, Query(pattern=f"^({'|'.join(NAMES)})$", description="one agent's sessions")]
Entrypoint = Annotated[str | None, Query(max_length=100, description="where the agent ran: cli, vscode, ...")]


@router.get("/sessions", responses=errors(400))
def list_sessions(
    request: Request,
    who: Who,
    project: Text = None,
    since: Annotated[str | None, Query(max_length=100, description="active on or after (date or ISO time)")] = None,
    until: Annotated[str | None, Query(max_length=100, description="started before the end of (date or ISO time)")] = None,
    branch: Text = None,
    model: Text = None,
    provider: Agent = None,
    machine: Machine = None,
    entrypoint: Entrypoint = None,
    subagents: Annotated[bool, Query(description="include subagent sessions")] = False,
    deleted: Annotated[bool, Query(description="only sessions whose source file is gone (kept here)")] = False,
    empty: Annotated[bool, Query(description="also files with no conversation (empty, or only bookkeeping lines)")]
    = False,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=2000, description="`next` from the previous page")] = None,
):
    flt = session_filter(project, since, until, branch, model, provider, subagents, deleted, machine, entrypoint)
    flt.empty = empty
    flt.scope = who.scope
    with reader(request) as r:
        rows, next_cursor = r.sessions(flt, limit=limit, cursor=cursor)
    return {"sessions": rows, "next": next_cursor}


def readable(request: Request, who: Viewer, session_id: str, action: str | None = None) -> dict:
    """The session's brief if ``who`` may read it (a read of another user's
    is audited when ``action`` says what it was), else 404 as for no session."""
    with reader(request) as r:
        brief = r.session_brief(session_id)
    if not who.sees(brief):
        raise NotFound(f"no session {session_id!r}")
    if action:
        request.app.state.access.read(who, brief, action)
    return brief


@router.get("/sessions/{session_id}", responses=errors(404))
def session_detail(request: Request, who: Who, session_id: str):
    readable(request, who, session_id, "open")
    with reader(request) as r:
        session = r.session(session_id)
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    session["subagents"] = [s for s in session["subagents"] if who.sees(s)]
    return session


@router.get("/sessions/{session_id}/lines", responses=errors(400, 404, 409))
def session_lines(
    request: Request,
    who: Who,
    session_id: str,
    gen: Annotated[int | None, Query(ge=1, le=1 << 31, description="generation (default: the newest)")] = None,
    after: Annotated[int | None, Query(ge=-1, le=OFFSET_MASK, description="lines after this byte offset")] = None,
    before: Annotated[int | None, Query(ge=0, le=OFFSET_MASK + 1,
                                        description="the page of lines before this byte offset")] = None,
    limit: Limit = 200,
):
    if after is not None and before is not None:
        raise BadQuery("give after or before, not both")
    readable(request, who, session_id)
    with reader(request) as r:
        try:
            page = r.line_page(session_id, gen=gen, after=after, before=before, limit=limit)
        except OSError as e:
            raise ArchiveDamaged(f"the archive file cannot be read: {e.strerror or e}") from None
    if page is None:
        raise NotFound(f"no session {session_id!r}" + (f" generation {gen}" if gen else ""))
    return json_bytes(page.to_json())


@router.get("/sessions/{session_id}/branches", responses=errors(404))
def session_branches(request: Request, who: Who, session_id: str,
                     gen: Annotated[int | None, Query(ge=1, le=1 << 31, description="generation (default: the newest)")] = None):
    """Where the conversation forks (rewind, edit and retry): each fork's line
    and its branches, the newest marked ``latest``, with the offsets of their lines."""
    readable(request, who, session_id)
    with reader(request) as r:
        found = r.branches(session_id, gen)
    if found is None:
        raise NotFound(f"no session {session_id!r}" + (f" generation {gen}" if gen else ""))
    return {"forks": found}


@router.get("/sessions/{session_id}/tool-results/{tool_use_id}", responses=errors(404, 409),
            response_class=Response, response_description="the tool's whole output, as the agent kept it")
def tool_result(request: Request, who: Who, session_id: str,
                tool_use_id: Annotated[str, Path(max_length=200, pattern="^[A-Za-z0-9_-]+$")]):
    """The whole output of a tool call whose transcript keeps only a preview
    (Claude Code's ``<persisted-output>``), from the archive."""
    readable(request, who, session_id)
    with reader(request) as r:
        found = tool_output_file(request.app.state.settings, r, session_id, tool_use_id)
    if found is None:
        raise NotFound(f"no kept output of tool call {tool_use_id!r} in session {session_id!r}")
    try:
        f = open(found, "rb")
    except OSError as e:
        raise ArchiveDamaged(f"the archived output cannot be read: {e.strerror or e}") from None

    def body():
        with f:
            while chunk := f.read(1 << 20):
                yield chunk

    return StreamingResponse(body(), media_type="text/plain; charset=utf-8")


EXPORT_TYPES = {"jsonl": ("application/x-ndjson", "jsonl"), "md": ("text/markdown; charset=utf-8", "md"),
                "html": ("text/html; charset=utf-8", "html")}


@router.get("/sessions/{session_id}/export", responses=errors(404, 409),
            response_class=Response, response_description="the transcript (jsonl: byte for byte), or a document")
def export(request: Request, who: Who, session_id: str, gen: Annotated[int | None, Query(ge=1, le=1 << 31)] = None,
           format: Annotated[str, Query(pattern="^(jsonl|md|html)$",
                                        description="jsonl: exactly as archived; md or html: to read")] = "jsonl"):
    """The transcript exactly as archived (byte for byte the source), or as
    Markdown or one self-contained HTML file."""
    readable(request, who, session_id, "export")
    with reader(request) as r:
        gens = r.generations(session_id)
        session = r.session(session_id) if format != "jsonl" else None
        outputs = tool_outputs(request.app.state.settings, r, session_id) if gens and format != "jsonl" else None
    if not gens:
        raise NotFound(f"no session {session_id!r}")
    chosen = pick_generation(gens, gen)
    suffix = "" if chosen.gen == 1 else f".gen{chosen.gen}"
    # Opened before answering: an unreadable archive is a clear 409, not a
    # 200 whose body then breaks off.
    f = open_archived(chosen)

    def body():
        with f:
            if format == "jsonl":
                while chunk := f.read(1 << 20):
                    yield chunk
                return
            render = document.markdown if format == "md" else document.html_document
            for piece in render(session, f, outputs):
                yield piece.encode()

    media, ext = EXPORT_TYPES[format]
    filename = f"{session_id}{suffix}.{ext}".encode("ascii", "replace").decode().replace('"', "_")
    return StreamingResponse(body(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/search", responses=errors(400))
def search(
    request: Request,
    who: Who,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="words to find (quoted for you)")],
    session: Text = None,
    project: Text = None,
    since: Annotated[str | None, Query(max_length=100)] = None,
    until: Annotated[str | None, Query(max_length=100)] = None,
    branch: Text = None,
    model: Text = None,
    provider: Agent = None,
    machine: Machine = None,
    entrypoint: Entrypoint = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    per_session: Annotated[int, Query(ge=0, le=100, description="most hits from one session (0: no cap)")] = 3,
):
    flt = session_filter(project, since, until, branch, model, provider, True, machine=machine, entrypoint=entrypoint)
    flt.scope = who.scope
    with reader(request) as r:
        hits = r.search(q, limit=limit, session_id=session, flt=flt, per_session=per_session)
    return {"query": q, "hits": [dict(h.as_dict(), snippet=snippet_parts(h.snippet)) for h in hits]}


@router.get("/projects")
def projects(request: Request, who: Who):
    with reader(request) as r:
        return {"projects": r.projects(who.scope)}


@router.get("/stats", responses=errors(400))
def stats(
    request: Request,
    who: Who,
    by: Annotated[str | None, Query(pattern="^(day|week|month|model|project|group|session|block|machine|user)$",
                                    description="a usage and cost report, one row per this (as `zerg stats --by`)")] = None,
    since: Annotated[str | None, Query(max_length=100, description="usage from this date or time")] = None,
    until: Annotated[str | None, Query(max_length=100, description="usage up to the end of this date")] = None,
    provider: Agent = None,
    project: Text = None,
    session: Annotated[str | None, Query(max_length=1000, description="one session's usage")] = None,
    tz: Annotated[str | None, Query(max_length=100, description="time zone for days (IANA name)")] = None,
):
    """Totals of what the reader may see; with ``by``, tokens and estimated
    USD cost per day, week, month, model, project, session, machine or user.
    On a team server an admin's sums cover every user (``by=user`` splits
    them), but sessions are listed only where the admin may read them."""
    scope = who.scope if not who.admin or by in (None, "session") else None
    if by == "user" and not who.admin:
        raise BadQuery("usage by user is for admins")
    ownership = request.app.state.access.ownership() if by == "user" else None
    with reader(request) as r:
        if by is None:
            return r.stats(scope)
        return report(r, by, since=_when(since, "since"), until=_when(until, "until", end_of_day=True),
                      provider=provider, project=project, session=session, tz=tz, scope=scope,
                      owner_of=(lambda machine: ownership.owner(machine) or "(nobody)") if ownership else None,
                      groups=request.app.state.settings.project_groups)


@router.get("/statusline", responses=errors(400))
def status_line(
    request: Request,
    who: Who,
    session: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9._-]+$",
                                         description="the session Claude Code runs (its session_id)")] = None,
):
    """What `zerg statusline` prints for Claude Code's status line: today's
    cost, the open 5-hour window's cost and time left, this session's cost;
    ``line`` is them as one short line."""
    with reader(request) as r:
        parts = statusline(r, session, scope=who.scope)
    return {**parts, "line": statusline_text(parts)}

