"""`zerg mcp` with a real MCP client session over stdio (the mcp package's
own client): initialize, list the tools, call each one on the real corpus."""

import hashlib
import os
import re
import sys

import anyio
import pytest
from conftest import needs_corpus

pytest.importorskip("mcp")

from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

TOOLS = {"search_sessions", "recall", "list_sessions", "read_session", "session_usage"}
PERMALINK = re.compile(r"http://127\.0\.0\.1:8080/s/[0-9a-z-]+#g\d+-\d+")


def mcp_session(calls):
    """Run ``calls(session)`` against a fresh `zerg mcp` over stdio; its result."""
    params = StdioServerParameters(command=sys.executable, args=["-c", "from zergd.cli import zerg; zerg()", "mcp"],
                                   env={k: v for k, v in os.environ.items()})

    async def main():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            return init, await calls(session)

    return anyio.run(main)


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


@needs_corpus
def test_every_tool_over_stdio(imported, settings):
    index_file = settings.index_path
    before = hashlib.sha256(index_file.read_bytes()).hexdigest()

    async def calls(s):
        tools = await s.list_tools()
        out = {"tools": {t.name: t for t in tools.tools}}
        out["search"] = await s.call_tool("search_sessions", {"query": "grant", "limit": 5})
        out["search_codex"] = await s.call_tool("search_sessions", {"query": "grant", "provider": "codex"})
        out["recall"] = await s.call_tool("recall", {"query": "agentic engineering grant", "limit": 2})
        out["list"] = await s.call_tool("list_sessions", {"project": "FundWise", "limit": 5})
        out["read"] = await s.call_tool("read_session", {"session_id": "01131ba6", "max_messages": 3})
        out["turns"] = await s.call_tool("read_session", {"session_id": "d4c1bac0", "from_turn": 2, "turns": 1,
                                                          "max_chars": 24000})
        out["capped"] = await s.call_tool("read_session", {"session_id": "d4c1bac0", "max_chars": 1000})
        out["usage"] = await s.call_tool("session_usage", {"session_id": "d4c1bac0"})
        out["usage_all"] = await s.call_tool("session_usage", {"group_by": "day"})
        out["missing"] = await s.call_tool("read_session", {"session_id": "nope-nope"})
        out["bad"] = await s.call_tool("search_sessions", {"query": "x", "since": "yesterday"})
        out["wrong_type"] = await s.call_tool("search_sessions", {"query": "x", "limit": "many"})
        return out

    init, out = mcp_session(calls)
    assert init.server_info.name == "zergd" and "recall" in init.instructions
    assert set(out["tools"]) == TOOLS
    for tool in out["tools"].values():
        assert tool.annotations.read_only_hint is True and tool.description

    search = text_of(out["search"])
    assert not out["search"].is_error and "01131ba6" in search and "«grant»" in search.lower()
    assert PERMALINK.search(search)
    assert "No matches" in text_of(out["search_codex"]) or "codex" not in text_of(out["search_codex"])

    recall = text_of(out["recall"])
    assert "← match" in recall and "user: " in recall and len(PERMALINK.findall(recall)) >= 2

    listing = text_of(out["list"])
    assert "d4c1bac0-628a-48b6-983e-425faf07a208" in listing and "http://127.0.0.1:8080/s/d4c1bac0" in listing

    read = text_of(out["read"])
    assert "help me apply for the agentic engineering grant" in read and "[more: read again with from_line=" in read
    turns = text_of(out["turns"])
    assert "turn 2" in turns and "turn 1 " not in turns and "turn 3" not in turns
    assert "[next turn: read again with from_turn=3]" in turns
    capped = text_of(out["capped"])
    assert len(capped) < 3000 and "[more: read again with from_line=" in capped

    usage = text_of(out["usage"])
    assert "session d4c1bac0-628a-48b6-983e-425faf07a208" in usage and "$" in usage and "total" in usage
    assert "Usage of all sessions by day" in text_of(out["usage_all"])

    assert out["missing"].is_error and "nope-nope" in text_of(out["missing"])
    assert out["bad"].is_error and "yesterday" in text_of(out["bad"])
    assert out["wrong_type"].is_error

    assert hashlib.sha256(index_file.read_bytes()).hexdigest() == before  # it never writes


def test_without_an_index_it_says_so(settings):
    async def calls(s):
        return await s.call_tool("search_sessions", {"query": "anything"})

    _init, result = mcp_session(calls)
    assert result.is_error and "the index is empty" in text_of(result)
    assert not settings.index_path.exists()  # reading never creates the index
