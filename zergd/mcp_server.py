"""``zerg mcp``: the archive as a coding agent's memory, over the Model
Context Protocol (stdio).  Register it once::

    claude mcp add zergd -- zerg mcp
    codex mcp add zergd -- zerg mcp        (or [mcp_servers.zergd] in ~/.codex/config.toml)

The tools are Oikos's (zergd.oikos.tools.Toolbox): one implementation for
both agents.  They read the index directly, whether or not the daemon runs,
through read-only connections: nothing here writes.  Every message an answer
quotes carries its permalink in the Timeline.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import orjson
from pydantic import Field

from . import __version__
from .config import Settings
from .oikos.tools import Toolbox, ToolError
from .transcript import NAMES, PROVIDERS

DEFAULT_URL = "http://127.0.0.1:8080"
INSTRUCTIONS = (
    "zergd keeps every Claude Code and Codex session this person ever ran (even those Claude Code deleted), "
    "indexed for full-text search. Use recall or search_sessions to find how something was done or decided "
    "before (short keyword queries work best), read_session to read one in order, list_sessions to browse, "
    "session_usage for tokens and cost. Quote what you use and cite its permalink."
)

Provider = Annotated[Literal[NAMES] | None, Field(description="only one agent's sessions: "
                                                   + ", ".join(f"{a.name} ({a.label})" for a in PROVIDERS.values()))]
Project = Annotated[str | None, Field(description="only sessions whose working directory contains this")]
Since = Annotated[str | None, Field(description="only sessions active since: a date (2026-05-01) or days ago (7d)")]
Until = Annotated[str | None, Field(description="only sessions started up to the end of this date")]
SessionId = Annotated[str, Field(description="a session id, or a unique prefix of one")]


def link_base(settings: Settings) -> str:
    """The Timeline's address for permalinks: the running daemon's, else the default one."""
    from .daemon import read_state

    state = read_state(settings) or {}
    return state.get("url") or DEFAULT_URL


def viewer_tools(settings: Settings, user: str | None, base: str) -> Toolbox:
    """The tools as ``user`` may use them on a team server (their sessions and
    what was shared with them; reads of others' audited), or all of them."""
    if user is None:
        return Toolbox(settings, base)
    from .accounts import Accounts
    from .accounts.access import Ownership, scope_for
    from .api.access import machine_owners
    from .ship.tokens import TokenStore

    accounts = Accounts(settings.home)
    found = accounts.user(user)
    if found is None:
        raise ValueError(f"no user named {user!r} on this zergd (zergd user list)")
    ownership = Ownership.load(machine_owners(TokenStore(settings.home), accounts), settings.host, accounts)
    scope = scope_for(found, ownership, accounts)

    def on_read(brief, action):
        if brief is not None and not scope.owns(brief):
            accounts.audit(found, ownership.owner(brief["host"]), brief["id"],
                           f"mcp {action}")

    return Toolbox(settings, base, scope=scope, on_read=on_read)


def build(settings: Settings, base: str | None = None, user: str | None = None):
    """The MCP server (mcp 2.x's MCPServer) with zergd's tools (``user``: only
    what that user of a team server may read)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError as McpToolError
    from mcp.types import ToolAnnotations

    toolbox = viewer_tools(settings, user, base or link_base(settings))
    server = MCPServer("zergd", title="zergd: every past agent session", instructions=INSTRUCTIONS,
                       version=__version__, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)

    def call(name: str, **args) -> str:
        try:
            return toolbox.run(name, {k: v for k, v in args.items() if v is not None})
        except ToolError as e:
            raise McpToolError(str(e)) from None

    def tool(description: str):
        return server.tool(description=description, annotations=read_only, structured_output=False)

    @tool("Full-text search over every line of every archived session: prompts, replies, thinking, tool calls "
          "and their output. Returns the best matching messages with session id, title, date, snippet and "
          "permalink. Use a few keywords; a trailing * matches prefixes.")
    def search_sessions(query: Annotated[str, Field(min_length=1, max_length=1000)], project: Project = None,
                        provider: Provider = None, since: Since = None, until: Until = None,
                        limit: Annotated[int, Field(ge=1, le=50)] = 10) -> str:
        return call("search_sessions", query=query, project=project, provider=provider, since=since, until=until,
                    limit=limit)

    @tool("The best few matches of a search, each with the whole turn around it (from the prompt before it to "
          "the reply after it), with permalinks, ready to quote. Start here for 'how did we fix X' questions.")
    def recall(query: Annotated[str, Field(min_length=1, max_length=1000)], project: Project = None,
               provider: Provider = None, since: Since = None, until: Until = None,
               limit: Annotated[int, Field(ge=1, le=10)] = 3) -> str:
        return call("recall", query=query, project=project, provider=provider, since=since, until=until, limit=limit)

    @tool("List sessions newest first: id, title, project, branch, models, dates and counts.")
    def list_sessions(project: Project = None, provider: Provider = None, since: Since = None, until: Until = None,
                      model: Annotated[str | None, Field(description="only sessions that used this model")] = None,
                      include_subagents: bool = False, limit: Annotated[int, Field(ge=1, le=100)] = 20) -> str:
        return call("list_sessions", project=project, provider=provider, since=since, until=until, model=model,
                    include_subagents=include_subagents, limit=limit)

    @tool("Read a session's messages in order (tool output trimmed), each with its permalink: from a line, or "
          "from_turn for a range of turns (a turn starts at each prompt the person typed). Long answers stop at "
          "max_chars and say how to continue.")
    def read_session(session_id: SessionId, from_line: Annotated[int, Field(ge=1)] = 1,
                     from_turn: Annotated[int | None, Field(ge=1, description="start at this turn")] = None,
                     turns: Annotated[int | None, Field(ge=1, le=1000, description="how many turns")] = None,
                     max_messages: Annotated[int, Field(ge=1, le=200)] = 60,
                     max_chars: Annotated[int, Field(ge=1000, le=24000)] = 12000) -> str:
        return call("read_session", session_id=session_id, from_line=from_line, from_turn=from_turn, turns=turns,
                    max_messages=max_messages, max_chars=max_chars)

    @tool("Tokens and estimated cost in USD, of one session or of all, grouped by model, day, week, month, "
          "project or session.")
    def session_usage(session_id: Annotated[str | None, Field(description="one session (id or prefix)")] = None,
                      group_by: Literal["model", "day", "week", "month", "project", "session"] = "model",
                      since: Since = None, until: Until = None, provider: Provider = None,
                      project: Project = None) -> str:
        return call("session_usage", session_id=session_id, group_by=group_by, since=since, until=until,
                    provider=provider, project=project)

    return server


class _Lines:
    """stdin for the MCP transport, line by line.  The SDK drops a line that
    is not a JSON-RPC message without a word; JSON-RPC says it gets an error
    answer: -32700 for one that is not JSON, -32600 for JSON that is not a
    message.  Such a line is answered here and goes no further."""

    def __init__(self, stdin, stdout):
        self.stdin, self.stdout = stdin, stdout

    def __aiter__(self):
        return self._lines()

    async def _lines(self):
        import mcp_types

        async for line in self.stdin:
            if not line.strip():
                continue
            try:
                found = orjson.loads(line)
            except orjson.JSONDecodeError:
                await self._answer(None, mcp_types.PARSE_ERROR, "Parse error: the line is not JSON")
                continue
            try:
                mcp_types.jsonrpc_message_adapter.validate_python(found, by_name=False)
            except ValueError:
                request_id = found.get("id") if isinstance(found, dict) else None
                await self._answer(request_id if isinstance(request_id, (str, int)) else None,
                                   mcp_types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 message")
                continue
            yield line

    async def _answer(self, request_id, code: int, message: str) -> None:
        await self.stdout.write(orjson.dumps({"jsonrpc": "2.0", "id": request_id,
                                              "error": {"code": code, "message": message}}).decode() + "\n")
        await self.stdout.flush()


async def _serve_stdio(server) -> None:
    import io

    import anyio
    from mcp.server.stdio import stdio_server

    stdout = anyio.wrap_file(io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=True))
    stdin = anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
    lowlevel = server._lowlevel_server  # what MCPServer.run("stdio") runs, with our stdin in front
    async with stdio_server(stdin=_Lines(stdin, stdout), stdout=stdout) as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def serve(settings: Settings, user: str | None = None) -> None:
    """Speak MCP on stdin/stdout until the client closes them."""
    import anyio

    anyio.run(_serve_stdio, build(settings, user=user))
