"""The whole data path on the project's own fixtures (tests/fixtures): every
line type the parser knows, Claude Code and Codex, both subagent layouts.
These run on any clone; the real corpus adds breadth where it is present."""

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, agent
from fastapi.testclient import TestClient

from zergd.api.app import create_app
from zergd.cli import zerg, zergd
from zergd.index.parse import parse_line
from zergd.invariants import check_all

MAIN = "5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f"
CODEX = "0199aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
MAIN_FILE = FIXTURES / "claude/projects/-home-dev-webapp" / f"{MAIN}.jsonl"
SUBAGENT = agent("agent-a1b2c3d4e5f6a7b8c", FIXTURES / "claude" / "projects")
LEGACY = agent("agent-1a2b3c4d", FIXTURES / "claude" / "projects")
TOOLS = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"  # the tool tour, with a fork
NO_PROMPT = agent("agent-c0ffee1234567890a", FIXTURES / "claude" / "projects")


@pytest.fixture
def loaded(sample, index):
    index.backfill()
    return index


def fixture_lines():
    for path in sorted(FIXTURES.rglob("*.jsonl")):
        for raw in path.read_bytes().splitlines():
            yield path.name, raw


def test_the_fixtures_cover_every_line_type_the_parser_knows():
    types = {parse_line(raw, 0, 0).type for _name, raw in fixture_lines()}
    assert {"user", "assistant", "summary", "ai-title", "system", "file-history-snapshot", "queue-operation",
            "progress", "hologram-sync", None} <= types  # None: the malformed line
    assert {"session_meta", "turn_context", "response_item/message", "response_item/reasoning",
            "response_item/function_call", "response_item/function_call_output", "event_msg/token_count",
            "event_msg/user_message", "event_msg/agent_message", "response_item/ghost_snapshot",
            "compacted"} <= types


def test_sessions_from_the_fixtures(loaded):
    s = loaded.session(MAIN)
    assert s["title"] == "Login form validation"  # ai-title beats the first prompt
    assert (s["project"], s["git_branch"]) == ("/home/dev/webapp", "feature/login")
    assert s["user_messages"] == 3  # the meta /clear line and the compaction summary are not prompts
    assert s["tool_calls"] == 4
    # One request written over three lines counts once, at its largest output.
    assert (s["input_tokens"], s["output_tokens"]) == (120 + 200 + 300 + 400 + 450, 85 + 60 + 90 + 70 + 40)
    sub, legacy = loaded.session(SUBAGENT), loaded.session(LEGACY)
    assert sub["parent_session_id"] == legacy["parent_session_id"] == MAIN
    assert sub["agent_type"] == "Explore" and sub["agent_description"] == "Find validation helpers"
    cx = loaded.session(CODEX)
    assert cx["title"] == "Why does the quokka endpoint return 500?"
    assert (cx["project"], cx["git_branch"], cx["provider"]) == ("/home/dev/api", "main", "codex")
    assert (cx["input_tokens"], cx["cache_read_tokens"], cx["output_tokens"]) == (2000, 3000, 300)
    assert check_all(loaded.index) == []


@pytest.mark.parametrize("word,session", [("pelican", MAIN), ("walrus", MAIN), ("quokka", CODEX),
                                          ("capybara", LEGACY), ("isEmail", SUBAGENT)])
def test_search_finds_words_from_every_kind_of_file(loaded, word, session):
    assert session in {h.session_id for h in loaded.search(word)}


def test_export_is_byte_exact(loaded):
    result = CliRunner().invoke(zerg, ["export", MAIN])
    assert result.exit_code == 0 and result.stdout_bytes == MAIN_FILE.read_bytes()


def test_reindex_gives_the_same_sessions(loaded):
    before = sorted(r for r in loaded.conn.execute("select id, title, lines, output_tokens from sessions"))
    loaded.index.close()
    assert CliRunner().invoke(zergd, ["reindex"]).exit_code == 0
    from conftest import Index

    again = Index(loaded.settings)
    try:
        assert sorted(again.conn.execute("select id, title, lines, output_tokens from sessions")) == before
    finally:
        again.index.close()


def test_the_api_on_the_fixtures(loaded):
    app = create_app(loaded.settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        listed = client.get("/api/sessions", params={"subagents": True}).json()["sessions"]
        # The legacy "Warmup" agent and a subagent nobody prompted are not listed...
        assert {s["id"] for s in listed} == {MAIN, CODEX, SUBAGENT, TOOLS}
        everything = client.get("/api/sessions", params={"subagents": True, "empty": True}).json()["sessions"]
        assert {s["id"] for s in everything} == {MAIN, CODEX, SUBAGENT, LEGACY, TOOLS, NO_PROMPT}
        # ... but still belong to their parent.
        assert [s["id"] for s in client.get(f"/api/sessions/{TOOLS}").json()["subagents"]] == [NO_PROMPT]
        detail = client.get(f"/api/sessions/{MAIN}").json()
        assert {s["id"] for s in detail["subagents"]} == {SUBAGENT, LEGACY}
        lines = client.get(f"/api/sessions/{MAIN}/lines", params={"limit": 500}).json()["lines"]
        assert len(lines) == len(MAIN_FILE.read_bytes().splitlines())
        assert lines[-1]["malformed"] and lines[-1]["raw"].startswith("this line is not JSON")
        hits = client.get("/api/search", params={"q": "pelican"}).json()["hits"]
        assert hits and hits[0]["session_id"] == MAIN
        assert client.get(f"/api/sessions/{MAIN}/export").content == MAIN_FILE.read_bytes()
