"""Codex's paginated history (0.148 on): a turn's items arrive as
``event_msg`` ``item_completed`` events whose ``item`` is a TurnItem
(codex-rs/protocol/src/items.rs: UserMessage, AgentMessage, Reasoning,
CommandExecution, FileChange, ...), and the legacy user_message /
agent_message events are no longer written.  Such a thread is listed,
titled, searchable, counted and drawn."""

import json

from test_browser import browser, page, start_daemon  # noqa: F401 (fixtures)
from test_daemon import zerg, zergd

from zergd.index import SessionFilter

SID = "019b2f4e-8c1a-7d20-b3a4-5e6f7a8b9c0d"
THREAD = "2026/11/20/rollout-2026-11-20T14-02-11-" + SID + ".jsonl"


def event(payload, ts):
    return {"timestamp": ts, "type": "event_msg", "payload": payload}


def item(turn, body, ts):
    return event({"type": "item_completed", "thread_id": SID, "turn_id": turn, "item": body}, ts)


LINES = [
    {"timestamp": "2026-11-20T14:02:11.000Z", "type": "session_meta",
     "payload": {"id": SID, "timestamp": "2026-11-20T14:02:11.000Z", "cwd": "/home/ana/caderno",
                 "originator": "codex_cli_rs", "cli_version": "0.150.0", "history_mode": "paginated"}},
    {"timestamp": "2026-11-20T14:02:11.100Z", "type": "turn_context",
     "payload": {"cwd": "/home/ana/caderno", "model": "gpt-5.2-codex"}},
    item("t1", {"type": "UserMessage", "id": "u1", "content": [
        {"type": "text", "text": "Por que o teste de exportação falha no CI?", "text_elements": []}]},
        "2026-11-20T14:02:12.000Z"),
    item("t1", {"type": "Reasoning", "id": "r1", "summary_text": ["Checking the locale the CI runner uses"],
                "raw_content": []}, "2026-11-20T14:02:14.000Z"),
    item("t1", {"type": "CommandExecution", "id": "c1", "command": ["bash", "-lc", "pytest tests/test_export.py -q"],
                "cwd": "/home/ana/caderno", "parsedCmd": [], "source": "agent", "status": "failed",
                "aggregatedOutput": "E   UnicodeEncodeError: 'ascii' codec can't encode 'ç'", "exitCode": 1},
         "2026-11-20T14:02:20.000Z"),
    item("t1", {"type": "FileChange", "id": "f1", "changes": {"/home/ana/caderno/export.py": {"type": "update",
                "unified_diff": "@@ -1 +1 @@\n-open(p, 'w')\n+open(p, 'w', encoding='utf-8')\n"}},
                "status": "completed"}, "2026-11-20T14:02:30.000Z"),
    item("t1", {"type": "AgentMessage", "id": "a1", "content": [
        {"type": "Text", "text": "O runner usa LANG=C; agora o arquivo é escrito em UTF-8."}]},
        "2026-11-20T14:02:40.000Z"),
    event({"type": "token_count", "info": {"total_token_usage": {"input_tokens": 5200, "cached_input_tokens": 4000,
                                                                  "output_tokens": 310, "total_tokens": 5510}}},
          "2026-11-20T14:02:41.000Z"),
    item("t2", {"type": "UserMessage", "id": "u2", "content": [
        {"type": "text", "text": "obrigada!", "text_elements": []}]}, "2026-11-20T14:03:00.000Z"),
]


def write(settings):
    path = settings.agent_dir("codex") / "sessions" / THREAD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in LINES), "utf-8")


def test_a_paginated_thread_is_listed_titled_searchable_and_counted(settings, index):
    write(settings)
    index.backfill()
    with index.index.reader() as r:
        listed, _next = r.sessions(SessionFilter(), limit=10)
    assert [s["id"] for s in listed] == [SID]
    s = listed[0]
    assert s["title"] == "Por que o teste de exportação falha no CI?"
    assert (s["user_messages"], s["assistant_messages"], s["tool_calls"]) == (2, 1, 2)
    assert s["input_tokens"] == 1200 and s["output_tokens"] == 310
    for words in ("UnicodeEncodeError", "LANG=C", "export.py", "locale"):
        assert {h.session_id for h in index.search(words)} == {SID}, words


def test_a_paginated_thread_reads_as_a_conversation(settings, index):
    write(settings)
    index.backfill()
    md = zerg("export", SID, "--format", "md")
    assert md.returncode == 0, md.stderr
    for text in ("Por que o teste de exportação falha no CI?", "pytest tests/test_export.py -q",
                 "UnicodeEncodeError", "agora o arquivo é escrito em UTF-8", "obrigada!"):
        assert text in md.stdout, text


def test_the_session_view_draws_a_paginated_thread(settings, monkeypatch, page):  # noqa: F811
    from playwright.sync_api import expect

    write(settings)
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(f"{url}/s/{SID}")
        expect(page.locator(".turn-user").first).to_contain_text("Por que o teste de exportação falha no CI?")
        shell = page.locator('[data-tool-use-id="c1"]')
        expect(shell).to_contain_text("pytest tests/test_export.py -q")
        expect(shell.locator(".tool-result")).to_contain_text("UnicodeEncodeError")
        expect(page.locator(".turn-assistant").last).to_contain_text("agora o arquivo é escrito em UTF-8")
        expect(page.get_by_text("not understood")).to_have_count(0)  # no item left as raw JSON
        assert page.errors == []
    finally:
        zergd("stop")
