"""What Claude Code 2.1.x writes beyond the conversation's own lines: words
typed while it works (queued_command attachments), workflow runs' agents."""

import json

from test_browser import browser, page, start_daemon  # noqa: F401 (fixtures)
from test_daemon import zerg, zergd

from zergd.transcript import describe

SESSION = "3b8e1f2a-6c4d-4e9a-8b7c-1d2e3f4a5b6c"
BASE = {"sessionId": SESSION, "version": "2.1.140", "cwd": "/home/ola/rower", "entrypoint": "cli", "isSidechain": False}


def lines():
    return [
        {**BASE, "type": "user", "uuid": "u1", "timestamp": "2026-12-01T10:00:00Z",
         "message": {"role": "user", "content": "napraw testy integracyjne"}},
        {**BASE, "type": "assistant", "uuid": "a1", "timestamp": "2026-12-01T10:00:05Z", "requestId": "r1",
         "message": {"id": "m1", "role": "assistant", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 5},
                     "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "pytest -q"}}]}},
        {**BASE, "type": "attachment", "uuid": "q1", "timestamp": "2026-12-01T10:00:09Z",
         "attachment": {"type": "queued_command", "commandMode": "prompt",
                        "prompt": "sprawdź też ścieżki Windows (C:\\Users)"}},
        {**BASE, "type": "attachment", "uuid": "q2", "timestamp": "2026-12-01T10:00:12Z",
         "attachment": {"type": "queued_command", "commandMode": "task-notification",
                        "prompt": "<task-notification>\n<task-id>b1</task-id>\n<status>completed</status>\n"
                                  "</task-notification>"}},
    ]


def write(settings):
    path = settings.agent_dir("claude") / "projects" / "-home-ola-rower" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines()), "utf-8")


def test_words_typed_while_claude_works_are_the_users(settings, index):
    write(settings)
    index.backfill()
    s = index.session(SESSION)
    assert s["user_messages"] == 2  # the prompt and the steering message; not the task notification
    assert s["title"] == "napraw testy integracyjne"
    assert {h.session_id for h in index.search("Windows")} == {SESSION}
    md = zerg("export", SESSION, "--format", "md")
    assert "sprawdź też ścieżki Windows" in md.stdout and "task-notification" not in md.stdout


def test_the_session_view_shows_them_as_the_users(settings, monkeypatch, page):  # noqa: F811
    from playwright.sync_api import expect

    write(settings)
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(f"{url}/s/{SESSION}")
        steering = page.locator(".turn-user").nth(1)
        expect(steering).to_contain_text("sent while Claude was working")
        expect(steering).to_contain_text("sprawdź też ścieżki Windows (C:\\Users)")
        expect(page.locator(".turn-user")).to_have_count(2)
        assert page.errors == []
    finally:
        zergd("stop")


def test_a_workflow_runs_agent_belongs_to_its_session():
    info = describe("claude", f"-home-ola-rower/{SESSION}/subagents/workflows/run-7/agent-a1b2c3.jsonl")
    assert (info.parent_session_id, info.agent_id) == (SESSION, "a1b2c3")
    plain = describe("claude", f"-home-ola-rower/{SESSION}/subagents/agent-d4e5.jsonl")
    assert plain.parent_session_id == SESSION


EDITOR = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


def write_editor_session(settings):
    line = {"sessionId": EDITOR, "version": "2.1.150", "cwd": "/home/ola/rower", "entrypoint": "vscode",
            "type": "user", "uuid": "v1", "timestamp": "2026-12-02T09:00:00Z",
            "message": {"role": "user", "content": "dodaj tryb ciemny"}}
    path = settings.agent_dir("claude") / "projects" / "-home-ola-rower" / f"{EDITOR}.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")


def test_where_the_agent_ran_is_shown_and_filterable(settings, index):
    from fastapi.testclient import TestClient

    from zergd.api.app import create_app

    write(settings)
    write_editor_session(settings)
    index.backfill()
    assert (index.session(EDITOR)["entrypoint"], index.session(EDITOR)["agent_version"]) == ("vscode", "2.1.150")
    app = create_app(settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        listed = c.get("/api/sessions", params={"entrypoint": "vscode"}).json()["sessions"]
        assert [s["id"] for s in listed] == [EDITOR]
        assert c.get("/api/stats").json()["by_entrypoint"] == {"cli": 1, "vscode": 1}
        assert c.get("/api/sessions", params={"provider": "gemini-not-yet"}).status_code == 422
    cli = zerg("sessions", "--entrypoint", "cli", "--json")
    assert [s["id"] for s in json.loads(cli.stdout)] == [SESSION]


def test_the_timeline_filters_by_where_the_agent_ran(settings, monkeypatch, page):  # noqa: F811
    from playwright.sync_api import expect

    write(settings)
    write_editor_session(settings)
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(url + "/")
        expect(page.locator(".card")).to_have_count(2)
        page.select_option("select[name=entrypoint]", "vscode")
        expect(page.locator(".card")).to_have_count(1)
        expect(page.locator(".card")).to_contain_text("dodaj tryb ciemny")
        page.goto(f"{url}/s/{EDITOR}")
        expect(page.locator(".agent")).to_have_text("Claude Code · vscode")
        assert page.errors == []
    finally:
        zergd("stop")


PR_SESSION = "7c6d5e4f-3a2b-4c1d-9e8f-0a1b2c3d4e5f"


def write_pr_and_question(settings):
    base = {**BASE, "sessionId": PR_SESSION}
    ask = {"questions": [{"question": "Hangi veritabanı kullanılsın?", "header": "Veritabanı", "multiSelect": False,
                          "options": [{"label": "PostgreSQL", "description": "ekip sunucusu için"},
                                      {"label": "SQLite", "description": "tek kişi için"}]}]}
    rows = [
        {**base, "type": "user", "uuid": "u1", "timestamp": "2026-12-02T09:00:00Z",
         "message": {"role": "user", "content": "open a PR for the migration"}},
        {**base, "type": "assistant", "uuid": "a1", "timestamp": "2026-12-02T09:00:03Z", "requestId": "r1",
         "message": {"id": "m1", "role": "assistant", "model": "claude-opus-4-5", "usage": {"input_tokens": 3},
                     "content": [{"type": "tool_use", "id": "toolu_ask", "name": "AskUserQuestion", "input": ask}]}},
        {**base, "type": "user", "uuid": "u2", "timestamp": "2026-12-02T09:00:30Z",
         "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_ask",
                                                  "content": 'User has answered your questions: '
                                                             '"Hangi veritabanı kullanılsın?"="SQLite".'}]}},
        {**base, "type": "assistant", "uuid": "a2", "timestamp": "2026-12-02T09:00:40Z", "requestId": "r2",
         "message": {"id": "m2", "role": "assistant", "model": "claude-opus-4-5", "usage": {"input_tokens": 3},
                     "content": [{"type": "tool_use", "id": "toolu_task", "name": "TaskCreate",
                                  "input": {"subject": "SQLite şemasını taşı", "description": "tablo başına bir göç",
                                            "activeForm": "Şema taşınıyor"}},
                                 {"type": "tool_use", "id": "toolu_skill", "name": "Skill",
                                  "input": {"skill": "db-migrate"}}]}},
        {"type": "pr-link", "sessionId": PR_SESSION, "prNumber": 4821, "prUrl": "https://github.com/ola/rower/pull/4821",
         "prRepository": "ola/rower", "timestamp": "2026-12-02T09:05:00Z"},
        {"type": "pr-link", "sessionId": PR_SESSION, "prNumber": 1, "prUrl": "javascript:window.pwned=1",
         "prRepository": "evil/repo", "timestamp": "2026-12-02T09:06:00Z"},
    ]
    path = settings.agent_dir("claude") / "projects" / "-home-ola-rower" / f"{PR_SESSION}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def test_a_pull_request_link_is_a_card_and_a_question_shows_its_options(settings, monkeypatch, index, page):  # noqa: F811
    from playwright.sync_api import expect

    write_pr_and_question(settings)
    index.backfill()
    assert {h.session_id for h in index.search("4821")} == {PR_SESSION}  # the PR is found by its number
    index.index.close()
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(f"{url}/s/{PR_SESSION}")
        card = page.locator("a.pr-card").first
        expect(card).to_have_text("Pull request #4821 · ola/rower")
        assert card.get_attribute("href") == "https://github.com/ola/rower/pull/4821"
        hostile = page.locator("a.pr-card").nth(1)
        assert hostile.get_attribute("href") is None  # a javascript: URL is not made a link
        question = page.locator('[data-tool-use-id="toolu_ask"]')
        expect(question.locator(".question .badge")).to_have_text("Veritabanı")
        expect(question.locator(".options li")).to_have_count(2)
        expect(question).to_contain_text('"Hangi veritabanı kullanılsın?"="SQLite"')
        expect(page.locator('[data-tool-use-id="toolu_task"] .tool-head')).to_contain_text("SQLite şemasını taşı")
        expect(page.locator('[data-tool-use-id="toolu_skill"] .tool-head .badge')).to_have_text("db-migrate")
        hostile.click()
        assert page.evaluate("window.pwned") is None and page.errors == []
    finally:
        zergd("stop")


def test_a_result_written_before_its_call_is_paired_with_it(settings, monkeypatch, page):  # noqa: F811
    """Claude Code sometimes writes a tool_result line before the line of its
    tool_use (the real corpus has one: session 0c182e15, Read
    toolu_01FyBsWRwrDppTFLH1tn3fm3, 5 ms apart): the result goes under its call."""
    from playwright.sync_api import expect

    sid = "0c0c0c0c-1d1d-4e4e-8f8f-a0a0a0a0a0a0"
    base = {**BASE, "sessionId": sid}
    rows = [
        {**base, "type": "user", "uuid": "u1", "parentUuid": None, "timestamp": "2026-04-26T22:05:30.000Z",
         "message": {"role": "user", "content": "oku: 設定ファイル"}},
        {**base, "type": "user", "uuid": "r1", "parentUuid": "a1", "timestamp": "2026-04-26T22:05:35.460Z",
         "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_first",
                                                  "content": "1→[core]\n2→editor = vim"}]}},
        {**base, "type": "assistant", "uuid": "a1", "parentUuid": "u1", "timestamp": "2026-04-26T22:05:35.455Z",
         "requestId": "r1", "message": {"id": "m1", "role": "assistant", "model": "claude-opus-4-5",
                                        "usage": {"input_tokens": 4},
                                        "content": [{"type": "tool_use", "id": "toolu_first", "name": "Read",
                                                     "input": {"file_path": "C:\\Users\\lin\\.gitconfig"}}]}},
    ]
    path = settings.agent_dir("claude") / "projects" / "C--Users-lin" / f"{sid}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(f"{url}/s/{sid}")
        call = page.locator('[data-tool-use-id="toolu_first"]')
        expect(call).to_have_count(1)
        expect(call.locator(".tool-result")).to_contain_text("editor = vim")
        expect(page.locator(".tool.orphan")).to_have_count(0)
        assert page.errors == []
    finally:
        zergd("stop")
