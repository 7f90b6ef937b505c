"""Oikos's tools: plain functions over the index that return text for the
model, every session and message with its Timeline link so answers can cite
them.  No chat dependency is imported here."""

from __future__ import annotations

import copy

import orjson

from ..config import Settings
from ..errors import BadQuery, NotReady
from ..index import HIGHLIGHT, Index, SessionFilter, open_index, parse_when
from ..index.export import SessionLookupError
from ..index.scope import Scope
from ..session_files import tool_outputs
from ..transcript import NAMES
from ..transcript.line import result_text
from ..transcript.vocabulary import is_persisted_output

MAX_RESULT_CHARS = 24_000  # what one tool call may put into the conversation
MESSAGE_CHARS = 1_500

TOOLS = [
    {
        "name": "search_sessions",
        "description": "Full-text search over every line of every archived Claude Code and Codex session "
                       "(prompts, replies, thinking, tool inputs and outputs). Returns matching messages "
                       "with snippets and Timeline links. Use short keyword queries.",
        "input_schema": {"type": "object", "properties": {
            "query": {"type": "string", "description": "words to find; a trailing * matches prefixes"},
            "project": {"type": "string", "description": "only sessions whose working directory contains this"},
            "since": {"type": "string", "description": "ISO date: only sessions active since"},
            "until": {"type": "string", "description": "ISO date: only sessions started before"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 15},
        }, "required": ["query"]},
    },
    {
        "name": "list_sessions",
        "description": "List sessions newest first with title, project, branch, models, dates and counts.",
        "input_schema": {"type": "object", "properties": {
            "project": {"type": "string"},
            "since": {"type": "string", "description": "ISO date"},
            "until": {"type": "string", "description": "ISO date"},
            "model": {"type": "string"},
            "include_subagents": {"type": "boolean", "default": False},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        }},
    },
    {
        "name": "read_session",
        "description": "Read a session's messages in order, from a line number on, each with its Timeline link. "
                       "Long sessions come in pages: ask again from the next line.",
        "input_schema": {"type": "object", "properties": {
            "session_id": {"type": "string", "description": "a session id or a unique prefix of one"},
            "from_line": {"type": "integer", "minimum": 1, "default": 1},
            "max_messages": {"type": "integer", "minimum": 1, "maximum": 200, "default": 60},
        }, "required": ["session_id"]},
    },
    {
        "name": "recall",
        "description": "The best few matches of a search, each with its whole turn (from the prompt before it to "
                       "the reply after it), with Timeline links, ready to quote. Best for 'how did we do X' questions.",
        "input_schema": {"type": "object", "properties": {
            "query": {"type": "string"},
            "project": {"type": "string"},
            "since": {"type": "string", "description": "ISO date"},
            "until": {"type": "string", "description": "ISO date"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        }, "required": ["query"]},
    },
    {
        "name": "session_usage",
        "description": "Tokens and estimated cost in USD of one session, or of all grouped by model, day, week, "
                       "month, project or session.",
        "input_schema": {"type": "object", "properties": {
            "session_id": {"type": "string"},
            "group_by": {"type": "string", "enum": ["model", "day", "week", "month", "project", "session"],
                         "default": "model"},
            "since": {"type": "string", "description": "ISO date"},
            "until": {"type": "string", "description": "ISO date"},
        }},
    },
    {
        "name": "usage_summary",
        "description": "Activity and token usage: sessions, prompts, tool calls and tokens, grouped by day, "
                       "model or project.",
        "input_schema": {"type": "object", "properties": {
            "group_by": {"type": "string", "enum": ["day", "model", "project"], "default": "day"},
            "since": {"type": "string", "description": "ISO date"},
            "until": {"type": "string", "description": "ISO date"},
        }},
    },
]


# What Toolbox.run answers (Oikos and zerg mcp alike).
TOOL_NAMES = {t["name"] for t in TOOLS}


class ToolError(Exception):
    """A tool was called with something it cannot use; the model sees the message."""


def describe_call(name: str, args: dict) -> str:
    """What the user sees while a tool runs."""
    if name == "search_sessions":
        return f"searching sessions for “{args.get('query', '')}”"
    if name == "list_sessions":
        scope = f" in {args['project']}" if args.get("project") else ""
        return f"listing sessions{scope}"
    if name == "read_session":
        return f"reading session {args.get('session_id', '')}"
    if name == "recall":
        return f"recalling “{args.get('query', '')}”"
    if name == "session_usage":
        return f"adding up usage{' of ' + args['session_id'] if args.get('session_id') else ''}"
    if name == "usage_summary":
        return f"summarising usage by {args.get('group_by', 'day')}"
    return f"running {name}"


class Toolbox:
    def __init__(self, settings: Settings, link_base: str = "", index: Index | None = None, *,
                 scope: Scope | None = None, on_read=None):
        self.settings = settings
        self.link_base = link_base.rstrip("/")
        self.index = index or open_index(settings)
        # Whose sessions the tools may show (a team server's signed-in user); None: all.
        self.scope = scope
        self.on_read = on_read  # called with (session brief, action) when a tool reads a session

    def for_viewer(self, scope: Scope | None, on_read=None) -> "Toolbox":
        """The same tools, limited to what ``scope`` may see."""
        view = copy.copy(self)
        view.scope, view.on_read = scope, on_read
        return view

    def _filter(self, **fields) -> SessionFilter:
        return SessionFilter(scope=self.scope, **fields)

    def run(self, name: str, args: dict) -> str:
        method = getattr(self, f"_{name}", None) if name in TOOL_NAMES else None
        if method is None:
            raise ToolError(f"there is no tool {name!r}")
        if not isinstance(args, dict):
            raise ToolError("tool input must be an object")
        try:
            with self.index.reader() as reader:
                text = method(reader, **args)
        except NotReady:
            raise ToolError("the index is empty: zergd has not archived any session yet") from None
        except BadQuery as e:  # a filter the model got wrong (a date, a project too long): it can fix it
            raise ToolError(str(e)) from None
        except TypeError as e:
            raise ToolError(f"bad arguments for {name}: {e}") from None
        if len(text) > MAX_RESULT_CHARS:
            text = text[:MAX_RESULT_CHARS] + "\n[… cut here; narrow the query or read a later page]"
        return text

    def link(self, session_id: str, gen: int | None = None, offset: int | None = None) -> str:
        anchor = f"#g{gen}-{offset}" if gen is not None else ""
        return f"{self.link_base}/s/{session_id}{anchor}"

    # --- the tools --------------------------------------------------------

    def _search_sessions(self, reader, query: str, project=None, since=None, until=None, limit=15,
                         provider=None) -> str:
        flt = self._filter(project=project, since=_date(since), until=_date(until), provider=_provider(provider))
        hits = reader.search(query, limit=_bounded(limit, 50), flt=flt, per_session=3)
        if not hits:
            return f"No matches for {query!r}."
        out = [f"{len(hits)} matches for {query!r}, best first:"]
        for h in hits:
            snippet = " ".join(h.snippet.split()).replace(HIGHLIGHT[0], "«").replace(HIGHLIGHT[1], "»")
            out.append(f"- session {h.session_id} “{h.title or 'untitled'}” ({h.project or '?'}), "
                       f"{h.role or h.type or 'line'} at {h.ts or '?'} line {h.lineno} "
                       f"[link]({self.link(h.session_id, h.generation, h.offset)})\n  {snippet}")
        return "\n".join(out)

    def _list_sessions(self, reader, project=None, since=None, until=None, model=None, include_subagents=False,
                       limit=20, provider=None) -> str:
        flt = self._filter(project=project, since=_date(since), until=_date(until), model=model,
                           subagents=bool(include_subagents), provider=_provider(provider))
        rows, _next = reader.sessions(flt, limit=_bounded(limit, 100))
        if not rows:
            return "No sessions match."
        return "\n".join(
            f"- {s['id']} “{s['title'] or 'untitled'}” project {s['project'] or s['project_dir'] or '?'}"
            f"{' branch ' + s['git_branch'] if s['git_branch'] else ''}, {s['first_ts'] or '?'} → {s['last_ts'] or '?'}, "
            f"models {', '.join(s['models']) or '?'}, {s['user_messages']} prompts, {s['assistant_messages']} replies, "
            f"{s['tool_calls']} tool calls{' (subagent of ' + s['parent_session_id'] + ')' if s['is_subagent'] else ''}"
            f"{' [source deleted, kept in archive]' if s['source_deleted_at'] else ''} [link]({self.link(s['id'])})"
            for s in rows
        )

    def _read_session(self, reader, session_id: str, from_line=1, max_messages=60, from_turn=None, turns=None,
                      max_chars=None) -> str:
        """Messages in order from ``from_line`` (or from the ``from_turn``-th
        prompt, for ``turns`` turns), at most ``max_messages`` or ``max_chars``;
        the last line says where to continue."""
        sid, session = self._session(reader, session_id)
        head = (f"Session {sid} “{session['title'] or 'untitled'}”, project {session['project'] or '?'}, "
                f"{session['first_ts'] or '?'} → {session['last_ts'] or '?'} [link]({self.link(sid)})")
        first = 1 if from_turn is not None else int(from_line)
        if reader.offset_of_line(sid, first) is None:
            return head + f"\n(no lines from line {first} on)"
        most, budget = _bounded(max_messages, 200), int(max_chars or MAX_RESULT_CHARS)
        start_turn = _bounded(from_turn, 100_000) if from_turn is not None else None
        last_turn = start_turn + _bounded(turns, 1000) - 1 if start_turn is not None and turns is not None else None
        out, shown, used, turn = [head], 0, len(head), 0
        outputs = tool_outputs(self.settings, reader, sid)
        for line, text in self._messages(reader, sid, first, tool_output=outputs):
            turn += is_prompt(text)
            if start_turn is not None and turn < start_turn:
                continue
            if last_turn is not None and turn > last_turn:
                return "\n\n".join(out + [f"[next turn: read again with from_turn={turn}]"])
            where = f"line {line['lineno']} · turn {turn}" if start_turn is not None else f"line {line['lineno']}"
            entry = f"[{where} · {line['ts'] or '?'} · {self.link(sid, line['gen'], line['offset'])}]\n{text}"
            if shown >= most or (shown and used + len(entry) > budget):
                return "\n\n".join(out + [f"[more: read again with from_line={line['lineno']}]"])
            out.append(entry)
            shown, used = shown + 1, used + len(entry) + 2
        return "\n\n".join(out + ["[end of session]"])

    def _session(self, reader, session_id: str, action: str = "read") -> tuple[str, dict]:
        try:
            sid, _gen = reader.resolve(str(session_id), self.settings)
        except SessionLookupError as e:
            if self.scope is not None and not self.scope.all:  # its candidates may be others' ids
                raise ToolError(f"no session {session_id!r} (give its whole id)") from None
            raise ToolError(str(e)) from None
        brief = reader.session_brief(sid)
        if brief is None or (self.scope is not None and not self.scope.sees(brief)):
            raise ToolError(f"no session {session_id!r}")
        if self.on_read is not None:
            self.on_read(brief, action)
        session = reader.session(sid)
        if session is None:
            raise ToolError(f"no session {session_id!r}")
        return sid, session

    def _messages(self, reader, sid: str, from_line: int = 1, gen: int | None = None, after: int | None = None,
                  tool_output=None):
        """(line, its text) of every message from ``from_line`` (or after byte
        ``after`` of generation ``gen``), bookkeeping left out."""
        if after is None:
            after = reader.offset_of_line(sid, from_line)
            if after is None:
                return
            after -= 1
        while True:
            page = reader.line_page(sid, gen=gen, after=after, limit=100)
            if page is None:
                return
            for line in orjson.loads(page.to_json())["lines"]:
                text = message_text(line, tool_output)
                if text:
                    yield line, text
            if page.after is None:
                return
            after = page.after

    def _recall(self, reader, query: str, project=None, provider=None, since=None, until=None, limit=3) -> str:
        """The best hits of a search, each with the whole turn around it (the
        prompt before it to the reply after), ready to quote."""
        flt = self._filter(project=project, since=_date(since), until=_date(until), provider=_provider(provider))
        hits = reader.search(query, limit=_bounded(limit, 10), flt=flt, per_session=1)
        if not hits:
            return f"Nothing found for {query!r}."
        budget = MAX_RESULT_CHARS // len(hits)
        out = [f"{len(hits)} best matches for {query!r}, each with its turn:"]
        for h in hits:
            if self.on_read is not None:
                self.on_read(reader.session_brief(h.session_id), "recall")
            out.append(f"## session {h.session_id} “{h.title or 'untitled'}” ({h.project or '?'}), {h.ts or '?'} "
                       f"[link]({self.link(h.session_id)})")
            out.append(self._turn_around(reader, h, budget))
        return "\n\n".join(out)

    def _turn_around(self, reader, hit, budget: int) -> str:
        before = reader.line_page(hit.session_id, gen=hit.generation, before=hit.offset, limit=60)
        start = hit.offset - 1
        for line in reversed(orjson.loads(before.to_json())["lines"]) if before else []:
            text = message_text(line)
            if text and is_prompt(text):
                start = line["offset"] - 1
                break
        parts, used = [], 0
        for line, text in self._messages(reader, hit.session_id, gen=hit.generation, after=start):
            past_hit = line["offset"] > hit.offset
            if past_hit and is_prompt(text):
                break
            mark = " ← match" if line["offset"] == hit.offset else ""
            entry = f"[{line['ts'] or '?'} · {self.link(hit.session_id, line['gen'], line['offset'])}{mark}]\n{text}"
            if used + len(entry) > budget and past_hit:
                parts.append("[… the turn goes on; read_session for the rest]")
                break
            parts.append(entry)
            used += len(entry)
        return "\n".join(parts)

    def _session_usage(self, reader, session_id=None, group_by="model", since=None, until=None, provider=None,
                       project=None) -> str:
        """Tokens and estimated cost (USD) of one session or of all, by model, day, week, month or project."""
        from ..usage import report

        sid = self._session(reader, session_id, "usage")[0] if session_id else None
        try:
            found = report(reader, str(group_by), since=_date(since), until=_date(until), provider=_provider(provider),
                           project=project, session=sid, scope=self.scope)
        except BadQuery as e:
            raise ToolError(str(e)) from None
        scope = f"session {sid}" if sid else "all sessions"
        out = [f"Usage of {scope} by {group_by} (tokens: input / output / cache write / cache read; cost estimated "
               f"from genai-prices {found['prices']['version']}):"]
        for r in found["rows"][:60] + [found["totals"]]:
            cost = "cost unknown" if r["cost_usd"] is None else f"${r['cost_usd']:,.2f}" + (
                " + unpriced models" if r["price_unknown"] else "")
            out.append(f"- {r['key'] or 'unknown'}: {r['input_tokens']:,} / {r['output_tokens']:,} / "
                       f"{r['cache_creation_tokens']:,} / {r['cache_read_tokens']:,}; {cost}")
        if sid:
            out.append(f"[link]({self.link(sid)})")
        return "\n".join(out) if found["rows"] else f"No usage recorded for {scope}."

    def _usage_summary(self, reader, group_by="day", since=None, until=None) -> str:
        try:
            rows = reader.usage_by(group_by, self._filter(since=_date(since), until=_date(until)))
        except BadQuery as e:
            raise ToolError(str(e)) from None
        out = [f"By {group_by}: sessions, prompts, tool calls; input / output / cache-read tokens"]
        for r in rows[:60]:
            counts = f"{r['sessions']} sessions" + (
                f", {r['prompts']} prompts, {r['tool_calls']} tool calls" if r["prompts"] is not None else "")
            out.append(f"- {r['key'] or 'unknown'}: {counts}; {r['input_tokens']:,} in / {r['output_tokens']:,} out"
                       f" / {r['cache_read_tokens']:,} cache-read tokens")
        return "\n".join(out)


def message_text(line: dict, tool_output=None) -> str | None:
    """A line of a transcript as a few lines of plain text; None for bookkeeping.
    ``tool_output(tool_use_id)``: the whole output of a result kept apart."""
    obj = line.get("obj")
    if obj is None:
        return f"(unparsed line) {(line.get('raw') or '')[:MESSAGE_CHARS]}"
    if "payload" in obj and "message" not in obj:
        return _codex_text(obj)
    msg = obj.get("message")
    if not isinstance(msg, dict):
        return f"summary: {obj['summary']}" if obj.get("type") == "summary" else None
    role = "user" if msg.get("role") == "user" else "assistant"
    content = msg.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content if isinstance(content, list) else []
    parts = []
    for b in blocks:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "text" and b.get("text"):
            parts.append(f"{role}: {_cut(b['text'])}")
        elif b.get("type") == "tool_use":
            parts.append(f"{role} calls {b.get('name')}: {_cut(orjson.dumps(b.get('input')).decode(), 400)}")
        elif b.get("type") == "tool_result":
            parts.append(f"tool result: {_result(b, tool_output)}")
        elif b.get("type") == "thinking" and b.get("thinking"):
            parts.append(f"(thinking) {_cut(b['thinking'], 500)}")
    return "\n".join(parts) or None


def _result(block: dict, tool_output) -> str:
    text = result_text(block.get("content"))
    full = tool_output(block.get("tool_use_id")) if tool_output and is_persisted_output(text) else None
    if full is None:
        return _cut(text, 600)
    return f"{_cut(full, 600)}" + (f" [whole output: {len(full):,} characters]" if len(full) > 600 else "")


def is_prompt(text: str) -> bool:
    """Whether a message (message_text's) is something the person typed: a turn starts there."""
    return text.startswith("user: ")


def _codex_text(obj: dict) -> str | None:
    p = obj.get("payload") or {}
    if obj.get("type") != "response_item":
        return None
    if p.get("type") == "message":
        text = "\n".join(c.get("text", "") for c in p.get("content") or [] if isinstance(c, dict))
        return f"{p.get('role')}: {_cut(text)}" if text.strip() else None
    if p.get("type") in ("function_call", "custom_tool_call"):
        return f"assistant calls {p.get('name')}: {_cut(str(p.get('arguments') or p.get('input') or ''), 400)}"
    if p.get("type") in ("function_call_output", "custom_tool_call_output"):
        return f"tool result: {_cut(str(p.get('output') or ''), 600)}"
    return None


def _cut(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " […]"


def _bounded(value, most: int) -> int:
    try:
        return max(1, min(int(value), most))
    except (TypeError, ValueError):
        raise ToolError(f"limit must be a number from 1 to {most}") from None


def _provider(value) -> str | None:
    if value in (None, ""):
        return None
    if value not in NAMES:
        raise ToolError(f"provider is one of {', '.join(map(repr, NAMES))}")
    return value


def _date(value) -> str | None:
    if not value:
        return None
    try:
        return parse_when(str(value))
    except BadQuery as e:
        raise ToolError(str(e)) from None
