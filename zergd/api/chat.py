"""Chat routes under /api/chat.  Without the chat extra or an API key they
answer with exactly how to enable chat; the rest of the API never depends
on them.  Writes take a JSON body (a cross-site form cannot send one)."""

from __future__ import annotations

import threading

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ..errors import NotFound, NotReady
from ..oikos import chat_status
from .access import Viewer
from .routes import Who, errors

# 503 when chat is not set up (no extra, no key): the detail says how to enable it.
router = APIRouter(prefix="/api/chat", responses=errors(421, 422, 503))
WRITE_ERRORS = errors(403, 415)  # see guard.refuse_cross_site
_lock = threading.Lock()


class Question(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)


class NewThread(BaseModel):
    pass


def _oikos(request: Request):
    """The app's Oikos, created on first use; 503 with instructions if chat cannot run."""
    state = request.app.state
    status = chat_status(state.settings)
    if not status["available"]:
        raise NotReady(status["message"])
    with _lock:
        if getattr(state, "oikos", None) is None:
            from ..oikos.agent import Oikos

            state.oikos = Oikos(state.settings, index=state.index)
    return state.oikos


@router.get("/status")
def status(request: Request):
    return chat_status(request.app.state.settings)


def _owner(who: Viewer) -> str:
    """Whose threads: a signed-in user's own ('' : the server's owner)."""
    return who.user.key if who.user else ""


def _tools_for(request: Request, who: Viewer):
    """Oikos's tools as ``who`` may use them: their sessions and what was
    shared with them, reads of others' audited."""
    access = request.app.state.access
    toolbox = _oikos(request).toolbox

    def on_read(brief, action):
        if brief is not None:
            access.read(who, brief, f"chat {action}")

    return toolbox.for_viewer(None if who.user is None else who.scope, on_read)


@router.get("/threads")
def threads(request: Request, who: Who):
    return {"threads": _oikos(request).threads(_owner(who))}


@router.post("/threads", status_code=201, responses=WRITE_ERRORS)
def new_thread(request: Request, who: Who, _body: NewThread):
    return {"id": _oikos(request).new_thread(_owner(who))}


@router.get("/threads/{thread_id}", responses=errors(404))
def thread(request: Request, who: Who, thread_id: str):
    oikos = _oikos(request)
    if not oikos.thread_exists(thread_id, _owner(who)):
        raise NotFound(f"no thread {thread_id!r}")
    return {"id": thread_id, "messages": oikos.history(thread_id)}


@router.delete("/threads/{thread_id}", responses={**errors(404), **WRITE_ERRORS})
def delete_thread(request: Request, who: Who, thread_id: str):
    if not _oikos(request).delete_thread(thread_id, _owner(who)):
        raise NotFound(f"no thread {thread_id!r}")
    return {"deleted": thread_id}


@router.post("/threads/{thread_id}/messages", responses={**errors(404), **WRITE_ERRORS})
def ask(request: Request, who: Who, thread_id: str, question: Question):
    """Ask in a thread; the answer streams back as server-sent events."""
    oikos = _oikos(request)
    if not oikos.thread_exists(thread_id, _owner(who)):
        raise NotFound(f"no thread {thread_id!r}")
    toolbox = _tools_for(request, who)

    def events():
        for event in oikos.ask(thread_id, question.text, owner=_owner(who), toolbox=toolbox):
            yield b"event: %s\ndata: %s\n\n" % (event["type"].encode(), orjson.dumps(event))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
