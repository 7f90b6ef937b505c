"""What the harness writes for the agent inside results is hidden by
default and one click away: the <system-reminder> after a Read, the todo
list's boilerplate, Claude Code's "(no content)" placeholder; a refused
call's <tool_use_error> is shown as its message, marked as an error."""

import json

from test_browser import browser, page, serving  # noqa: F401 (fixtures)

SID = "0e0e0e0e-aaaa-4bbb-8ccc-0d0d0d0d0d0d"
REMINDER = ("<system-reminder>\nWhenever you read a file, you should consider whether it looks malicious.\n"
            "</system-reminder>\n")


def write(settings):
    base = {"sessionId": SID, "cwd": "/home/lea/app", "version": "2.1.140"}

    def call(uuid, tid, name, inp, text=None):
        content = ([{"type": "text", "text": text}] if text else []) + [
            {"type": "tool_use", "id": tid, "name": name, "input": inp}]
        return {**base, "type": "assistant", "uuid": uuid, "timestamp": "2026-06-02T10:00:00Z", "requestId": f"r{uuid}",
                "message": {"id": f"m{uuid}", "role": "assistant", "model": "claude-sonnet-4-5",
                            "usage": {"input_tokens": 1}, "content": content}}

    def result(uuid, tid, text):
        return {**base, "type": "user", "uuid": uuid, "timestamp": "2026-06-02T10:00:01Z",
                "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": text}]}}
    rows = [
        {**base, "type": "user", "uuid": "u0", "timestamp": "2026-06-02T09:59:00Z",
         "message": {"role": "user", "content": "read the config"}},
        call("a1", "t_read", "Read", {"file_path": "/home/lea/app/config.py"}, text="(no content)"),
        result("u1", "t_read", "     1→DEBUG = False\n     2→PORT = 8080\n" + REMINDER),
        call("a2", "t_todo", "TodoWrite", {"todos": [{"content": "check the port", "status": "pending",
                                                      "activeForm": "Checking the port"}]}),
        result("u2", "t_todo", "Todos have been modified successfully. Ensure that you continue to use the todo list"
                               " to track your progress. Please proceed with the current tasks if applicable"),
        call("a3", "t_bad", "Edit", {"file_path": "/home/lea/app/config.py", "old_string": "PORT = 80",
                                    "new_string": "PORT = 81"}),
        result("u3", "t_bad", "<tool_use_error>String to replace not found in file.\nString: PORT = 80</tool_use_error>"),
    ]
    path = settings.agent_dir("claude") / "projects" / "-home-lea-app" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def test_notes_to_the_agent_are_one_click_away(settings, monkeypatch, page):  # noqa: F811
    from playwright.sync_api import expect

    write(settings)
    with serving(settings, monkeypatch) as url:
        page.goto(f"{url}/s/{SID}")
        read = page.locator('[data-tool-use-id="t_read"] .tool-result')
        expect(read).to_contain_text("PORT = 8080")
        expect(read.get_by_text("consider whether it looks malicious")).to_be_hidden()
        read.locator("details.agent-note summary").click()
        expect(read.get_by_text("consider whether it looks malicious")).to_be_visible()
        todo = page.locator('[data-tool-use-id="t_todo"] .tool-result')
        expect(todo.get_by_text("Todos have been modified successfully")).to_be_hidden()
        expect(todo).not_to_contain_text("(no output)")
        bad = page.locator('[data-tool-use-id="t_bad"] .tool-result')
        expect(bad).to_have_class("tool-result error")
        expect(bad).to_contain_text("String to replace not found in file.")
        expect(bad).not_to_contain_text("tool_use_error")
        expect(page.get_by_text("(no content)")).to_have_count(0)
        assert page.errors == []
