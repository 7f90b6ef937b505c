"""The Oikos agent: a LangGraph graph (model -> tools -> model ...) on Claude
through the anthropic client, with durable threads in ZERG_HOME/oikos.db
(langgraph-checkpoint-sqlite).

A turn streams events: ``{"type": "text", "text": delta}``, ``{"type":
"tool", "name", "input", "label"}``, then ``{"type": "done"}`` or ``{"type":
"error", "message"}``.  A failed turn is rolled back whole, so a thread never
keeps half a turn (a question without answer, a tool call without result).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import uuid
from typing import Annotated, Iterator, TypedDict

import anthropic
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from ..config import Settings
from . import chat_config
from .tools import TOOLS, Toolbox, ToolError, describe_call

MAX_TOOL_ROUNDS = 8
MAX_TOKENS = 4096

SYSTEM = """You are Oikos, the archivist of this user's coding-agent sessions (Claude Code and Codex CLI \
transcripts that zergd keeps forever). Answer questions about what they did, how they fixed things, which \
projects, models and tools they used, by looking in the archive with your tools; never guess about their \
sessions without looking. Search with a few keywords, then read the promising sessions around the hits.
Cite every session or message you rely on with the Markdown link the tools gave you, e.g. \
[the migration fix](/s/<session>#g1-1234), so the user can open it in the Timeline. Be concise. \
Today is {today}."""


def merge_messages(left: list, right) -> list:
    """Messages append; ``{"rollback_to": n}`` cuts the list back to n (a failed turn)."""
    if isinstance(right, dict) and "rollback_to" in right:
        return list(left or [])[: right["rollback_to"]]
    return list(left or []) + list(right or [])


class State(TypedDict, total=False):
    messages: Annotated[list, merge_messages]
    turn_start: int  # index of the current turn's question in messages
    error: str | None


def explain(error: Exception, base_url: str | None) -> str:
    """An Anthropic API failure in words a user can act on."""
    if isinstance(error, anthropic.AuthenticationError):
        return "Anthropic rejected the API key (401). Check ANTHROPIC_API_KEY or anthropic_api_key in config.toml."
    if isinstance(error, anthropic.PermissionDeniedError):
        return "This API key may not use that model or feature (403)."
    if isinstance(error, anthropic.RateLimitError):
        return "Anthropic is rate-limiting this key (429). Wait a minute and ask again."
    if isinstance(error, anthropic.NotFoundError):
        return "The model was not found (404). Set chat_model in config.toml to a model your key can use."
    if isinstance(error, (anthropic.APITimeoutError, anthropic.APIConnectionError)):
        return f"Could not reach the Anthropic API at {base_url or 'api.anthropic.com'}. Is the network down?"
    if isinstance(error, anthropic.APIStatusError) and error.status_code in (500, 502, 503, 529):
        return f"Anthropic is overloaded or failing right now ({error.status_code}). Try again in a moment."
    if isinstance(error, anthropic.APIStatusError):
        return f"Anthropic refused the request ({error.status_code}): {error.message}"
    return f"The chat failed: {error}"


def _jsonable(block) -> dict:
    return block.model_dump(exclude_none=True, mode="json")


class Oikos:
    def __init__(self, settings: Settings, *, link_base: str = "", index=None):
        self.settings = settings
        self.config = chat_config(settings)
        self.client = anthropic.Anthropic(api_key=self.config.api_key, base_url=self.config.base_url,
                                          max_retries=self.config.max_retries)
        self.toolbox = Toolbox(settings, link_base, index)
        settings.home.mkdir(parents=True, exist_ok=True)
        path = settings.home / "oikos.db"
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("pragma journal_mode = wal")
        self.conn.execute("pragma busy_timeout = 5000")
        self.conn.execute("create table if not exists oikos_threads (id text primary key, title text,"
                          " created_at text, updated_at text)")
        columns = {row[1] for row in self.conn.execute("pragma table_info(oikos_threads)")}
        if "owner" not in columns:  # threads belong to who started them ('' : the one person of a loopback zergd)
            self.conn.execute("alter table oikos_threads add column owner text not null default ''")
        self.saver = SqliteSaver(self.conn)
        self.saver.setup()
        self.graph = self._build()
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._tools: dict[str, Toolbox] = {}  # thread -> the tools as its owner may use them, while it answers

    # --- the graph ---------------------------------------------------------

    def _build(self):
        g = StateGraph(State)
        g.add_node("model", self._call_model)
        g.add_node("tools", self._run_tools)
        g.add_edge(START, "model")
        g.add_conditional_edges("model", self._after_model, ["tools", END])
        g.add_edge("tools", "model")
        return g.compile(checkpointer=self.saver)

    def _call_model(self, state: State) -> dict:
        write = get_stream_writer()
        messages = state["messages"]
        rounds = sum(1 for m in messages[state["turn_start"]:] if m["role"] == "assistant")
        extra = {"tool_choice": {"type": "none"}} if rounds >= MAX_TOOL_ROUNDS else {}
        try:
            with self.client.messages.stream(
                model=self.config.model, max_tokens=MAX_TOKENS, tools=TOOLS, messages=messages,
                system=SYSTEM.format(today=dt.date.today().isoformat()), **extra,
            ) as stream:
                for event in stream:
                    if event.type == "text":
                        write({"type": "text", "text": event.text})
                final = stream.get_final_message()
        except anthropic.APIError as e:
            return {"messages": {"rollback_to": state["turn_start"]}, "error": explain(e, self.config.base_url)}
        content = [_jsonable(b) for b in final.content] or [{"type": "text", "text": "(no answer)"}]
        return {"messages": [{"role": "assistant", "content": content}], "error": None}

    @staticmethod
    def _after_model(state: State) -> str:
        if state.get("error"):
            return END
        last = state["messages"][-1]
        return "tools" if any(b.get("type") == "tool_use" for b in last["content"]) else END

    def _run_tools(self, state: State, config) -> dict:
        write = get_stream_writer()
        toolbox = self._tools.get(config["configurable"]["thread_id"], self.toolbox)
        results = []
        for block in state["messages"][-1]["content"]:
            if block.get("type") != "tool_use":
                continue
            name, args = block["name"], block.get("input") or {}
            write({"type": "tool", "name": name, "input": args, "label": describe_call(name, args)})
            try:
                output, failed = toolbox.run(name, args), False
            except ToolError as e:
                output, failed = str(e), True
            results.append({"type": "tool_result", "tool_use_id": block["id"], "content": output, "is_error": failed})
        return {"messages": [{"role": "user", "content": results}]}

    # --- threads -----------------------------------------------------------

    def _cfg(self, thread_id: str) -> dict:
        return {"configurable": {"thread_id": thread_id}}

    def new_thread(self, owner: str = "") -> str:
        thread_id = uuid.uuid4().hex[:12]
        now = _now()
        self.conn.execute("insert into oikos_threads (id, title, created_at, updated_at, owner) values (?, ?, ?, ?, ?)",
                          (thread_id, None, now, now, owner))
        return thread_id

    def threads(self, owner: str = "") -> list[dict]:
        return [{"id": i, "title": t, "created_at": c, "updated_at": u} for i, t, c, u in self.conn.execute(
            "select id, title, created_at, updated_at from oikos_threads where owner = ? order by updated_at desc",
            (owner,))]

    def thread_exists(self, thread_id: str, owner: str = "") -> bool:
        return self.conn.execute("select 1 from oikos_threads where id = ? and owner = ?",
                                 (thread_id, owner)).fetchone() is not None

    def history(self, thread_id: str) -> list[dict]:
        return list((self.graph.get_state(self._cfg(thread_id)).values or {}).get("messages", []))

    def delete_thread(self, thread_id: str, owner: str = "") -> bool:
        if not self.thread_exists(thread_id, owner):
            return False
        self.saver.delete_thread(thread_id)
        self.conn.execute("delete from oikos_threads where id = ?", (thread_id,))
        return True

    def ask(self, thread_id: str, question: str, *, owner: str = "", toolbox: Toolbox | None = None
            ) -> Iterator[dict]:
        """Run one turn, yielding its events as they happen; the tools are
        ``toolbox`` (the owner's view of them) if given."""
        with self._lock:
            if thread_id in self._busy:
                yield {"type": "error", "message": "This thread is already answering a question."}
                return
            self._busy.add(thread_id)
            self._tools[thread_id] = toolbox or self.toolbox
        try:
            if not self.thread_exists(thread_id, owner):
                if self.conn.execute("select 1 from oikos_threads where id = ?", (thread_id,)).fetchone():
                    yield {"type": "error", "message": "No such thread."}
                    return
                now = _now()
                self.conn.execute("insert into oikos_threads (id, title, created_at, updated_at, owner)"
                                  " values (?, ?, ?, ?, ?)", (thread_id, None, now, now, owner))
            cfg = self._cfg(thread_id)
            start = self._repair(cfg)
            turn = {"messages": [{"role": "user", "content": question}], "turn_start": start, "error": None}
            for mode, chunk in self.graph.stream(turn, cfg, stream_mode=["custom", "updates"]):
                if mode == "custom":
                    yield chunk
            error = (self.graph.get_state(cfg).values or {}).get("error")
            self.conn.execute(
                "update oikos_threads set title = coalesce(title, ?), updated_at = ? where id = ?",
                (None if error else " ".join(question.split())[:120], _now(), thread_id))
            yield {"type": "error", "message": error} if error else {"type": "done"}
        except Exception as e:  # a bug of ours, not the API's: the turn is undone all the same
            self._rollback(self._cfg(thread_id))
            yield {"type": "error", "message": f"The chat failed: {type(e).__name__}: {e}"}
        finally:
            with self._lock:
                self._busy.discard(thread_id)
                self._tools.pop(thread_id, None)

    def _repair(self, cfg) -> int:
        """Where the new turn starts; cuts off a turn left unfinished by a crash."""
        values = self.graph.get_state(cfg).values or {}
        messages = values.get("messages", [])
        last = messages[-1] if messages else None
        complete = last is None or (last["role"] == "assistant" and not any(
            b.get("type") == "tool_use" for b in last["content"]))
        if not complete:
            return self._rollback(cfg)
        return len(messages)

    def _rollback(self, cfg) -> int:
        values = self.graph.get_state(cfg).values or {}
        start = values.get("turn_start", 0)
        if len(values.get("messages", [])) > start:
            self.graph.update_state(cfg, {"messages": {"rollback_to": start}, "error": None}, as_node="model")
        return start

    def close(self) -> None:
        self.conn.close()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
