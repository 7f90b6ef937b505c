"""Oikos against a local fake Messages API, through the real anthropic client.
Nothing here reaches the network."""

import json
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner
from fake_anthropic import FakeAnthropic
from fastapi.testclient import TestClient

from zergd.api.app import create_app
from zergd.cli import zerg
from zergd.oikos import chat_status

QUESTION = 'How did I build the "lichess clone"?'
LICHESS = "019aad50-a7e6-7422-b7a8-0b384290624f"


@pytest.fixture
def fake(monkeypatch):
    with FakeAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ZERG_CHAT_MODEL", "claude-test-model")
        yield server


@pytest.fixture
def oikos(imported, fake):
    from zergd.oikos.agent import Oikos

    o = Oikos(imported.settings)
    o.client = o.client.with_options(max_retries=0)
    yield o
    o.close()


def run(oikos, thread, question):
    return list(oikos.ask(thread, question))


def test_tool_using_conversation_end_to_end(oikos, fake):
    thread = oikos.new_thread()
    events = run(oikos, thread, QUESTION)
    tools = [e for e in events if e["type"] == "tool"]
    assert tools == [{"type": "tool", "name": "search_sessions", "input": {"query": "lichess clone"},
                      "label": "searching sessions for “lichess clone”"}]
    answer = "".join(e["text"] for e in events if e["type"] == "text")
    assert f"[this session](/s/{LICHESS}#g1-" in answer
    assert events[-1] == {"type": "done"}
    # What the real client sent: key, model, tools, then our tool's result.
    first, second = fake.requests
    headers = first["headers"]
    assert headers.get("x-api-key") == "sk-ant-test" or headers.get("authorization") == "Bearer sk-ant-test"
    assert first["body"]["model"] == "claude-test-model" and first["body"]["stream"] is True
    assert {t["name"] for t in first["body"]["tools"]} == {"search_sessions", "list_sessions", "read_session", "usage_summary",
                                                          "recall", "session_usage"}
    result = second["body"]["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and LICHESS in result["content"]
    assert [m["role"] for m in oikos.history(thread)] == ["user", "assistant", "user", "assistant"]
    assert oikos.threads()[0]["title"] == QUESTION


def test_thread_survives_restart_and_continues(imported, fake, oikos):
    from zergd.oikos.agent import Oikos

    thread = oikos.new_thread()
    run(oikos, thread, QUESTION)
    oikos.close()
    again = Oikos(imported.settings)
    try:
        assert [t["id"] for t in again.threads()] == [thread]
        assert len(again.history(thread)) == 4
        run(again, thread, 'And the "chess board"?')
        sent = fake.requests[-2]["body"]["messages"]
        assert sent[0]["content"] == QUESTION and len(sent) == 5  # the whole thread went along
        assert len(again.history(thread)) == 8
        assert again.delete_thread(thread)
        assert again.threads() == [] and again.history(thread) == []
    finally:
        again.close()


@pytest.mark.parametrize("status,words", [
    (401, "rejected the API key (401)"),
    (429, "rate-limiting this key (429)"),
    (529, "overloaded or failing right now (529)"),
    (404, "model was not found (404)"),
])
def test_api_errors_become_clear_messages_and_keep_the_thread(oikos, fake, status, words):
    thread = oikos.new_thread()
    run(oikos, thread, QUESTION)
    before = oikos.history(thread)
    fake.fail_with = status
    events = run(oikos, thread, "one more question")
    assert events[-1]["type"] == "error" and words in events[-1]["message"]
    assert oikos.history(thread) == before  # the failed turn left nothing behind
    fake.fail_with = None
    assert run(oikos, thread, 'the "lichess" again')[-1] == {"type": "done"}


def test_network_down(imported, monkeypatch):
    from zergd.oikos.agent import Oikos

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{closed}")
    o = Oikos(imported.settings)
    o.client = o.client.with_options(max_retries=0)
    try:
        thread = o.new_thread()
        events = run(o, thread, QUESTION)
        assert events[-1]["type"] == "error" and "Could not reach the Anthropic API" in events[-1]["message"]
        assert o.history(thread) == []
    finally:
        o.close()


def test_a_turn_cut_off_by_a_crash_is_dropped(oikos, fake):
    thread = oikos.new_thread()
    run(oikos, thread, QUESTION)
    cfg = oikos._cfg(thread)
    # As if the daemon died after the tool call: a dangling question and tool_use.
    oikos.graph.update_state(cfg, {"messages": [{"role": "user", "content": "half"}, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_x", "name": "list_sessions", "input": {}}]}], "turn_start": 4}, as_node="model")
    assert run(oikos, thread, 'the "lichess" once more')[-1] == {"type": "done"}
    roles = [m["role"] for m in oikos.history(thread)]
    assert roles == ["user", "assistant", "user", "assistant"] * 2


def test_tools_on_the_corpus(imported):
    from zergd.oikos.tools import Toolbox, ToolError

    tb = Toolbox(imported.settings, link_base="http://127.0.0.1:8080")
    listing = tb.run("list_sessions", {"project": "FundWise"})
    assert "d4c1bac0-628a-48b6-983e-425faf07a208" in listing and "http://127.0.0.1:8080/s/d4c1bac0" in listing
    page = tb.run("read_session", {"session_id": "01131ba6", "max_messages": 3})
    assert "help me apply for the agentic engineering grant" in page and "#g1-" in page
    usage = tb.run("usage_summary", {"group_by": "model"})
    assert "claude-opus-4-7" in usage
    assert "sessions" in tb.run("usage_summary", {"group_by": "day", "since": "2026-01-01"})
    with pytest.raises(ToolError):
        tb.run("read_session", {"session_id": "nope-nope"})
    with pytest.raises(ToolError):
        tb.run("search_sessions", {"query": "x", "since": "yesterday"})
    with pytest.raises(ToolError):
        tb.run("drop_tables", {})


def test_no_key_says_how_to_enable(imported, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    status = chat_status(imported.settings)
    assert not status["available"] and "ANTHROPIC_API_KEY" in status["message"] and "config.toml" in status["message"]
    result = CliRunner().invoke(zerg, ["ask", "anything"])
    assert result.exit_code == 1 and "ANTHROPIC_API_KEY" in result.stderr
    app = create_app(imported.settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        assert c.get("/api/chat/status").json()["reason"] == "missing_key"
        resp = c.get("/api/chat/threads")
        assert resp.status_code == 503 and "ANTHROPIC_API_KEY" in resp.json()["detail"]
        assert c.get("/api/sessions").status_code == 200


def test_without_the_chat_extra_everything_else_works(imported, tmp_path):
    """A Python where anthropic and langgraph cannot be imported."""
    probe = (
        "import sys\n"
        "for name in ('anthropic', 'langgraph'):\n"
        "    sys.modules[name] = None\n"
        "import importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in ('anthropic', 'langgraph') else real(n, *a)\n"
        "from fastapi.testclient import TestClient\n"
        "from zergd.config import load_settings\n"
        "from zergd.api.app import create_app\n"
        "c = TestClient(create_app(load_settings(), None, bound_host='127.0.0.1', port=8080), base_url='http://127.0.0.1:8080')\n"
        "assert c.get('/api/sessions').status_code == 200\n"
        "assert c.get('/').status_code == 200\n"
        "s = c.get('/api/chat/status').json()\n"
        "assert s['reason'] == 'missing_extra', s\n"
        "assert c.post('/api/chat/threads', json={}).status_code == 503\n"
        "print(s['message'])\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'zergd[chat]'" in result.stdout


def test_chat_api_streams_and_manages_threads(imported, fake):
    app = create_app(imported.settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        app.state.oikos = None
        assert c.get("/api/chat/status").json()["available"] is True
        thread = c.post("/api/chat/threads", json={}).json()["id"]
        app.state.oikos.client = app.state.oikos.client.with_options(max_retries=0)
        with c.stream("POST", f"/api/chat/threads/{thread}/messages", json={"text": QUESTION}) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            body = "".join(resp.iter_text())
        events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
        assert events[-1] == {"type": "done"} and any(e["type"] == "tool" for e in events)
        assert [t["id"] for t in c.get("/api/chat/threads").json()["threads"]] == [thread]
        assert len(c.get(f"/api/chat/threads/{thread}").json()["messages"]) == 4
        # Writes take JSON: a form post (what a cross-site page could send) is refused.
        assert c.post(f"/api/chat/threads/{thread}/messages", data={"text": "hi"}).status_code == 415
        assert c.post(f"/api/chat/threads/{thread}/messages", json={"text": ""}).status_code == 422
        assert c.post("/api/chat/threads/nope/messages", json={"text": "hi"}).status_code == 404
        assert c.delete(f"/api/chat/threads/{thread}").status_code == 200
        assert c.get(f"/api/chat/threads/{thread}").status_code == 404


def test_zerg_ask_streams_in_the_terminal(imported, fake):
    result = CliRunner().invoke(zerg, ["ask", QUESTION])
    assert result.exit_code == 0, result.output
    assert f"/s/{LICHESS}#g1-" in result.stdout
    assert "searching sessions for “lichess clone”" in result.stderr
    thread = result.stderr.split("thread ")[1].split()[0]
    again = CliRunner().invoke(zerg, ["ask", "--thread", thread, 'and the "board"?'])
    assert again.exit_code == 0
    assert len(fake.requests[-1]["body"]["messages"]) == 7
    assert CliRunner().invoke(zerg, ["ask", "--thread", "missing", "q"]).exit_code == 2
