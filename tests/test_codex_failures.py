"""A Codex tool call that failed is marked as an error in the session view:
a non-zero exit code (in the output's metadata, or its "Exit code: N"
header) and the harness's own failures; a call that succeeded is not."""

import json

from test_browser import browser, page, serving  # noqa: F401 (fixtures)

SID = "019c1d2e-3f40-7152-8364-758697a8b9c0"
OUTPUTS = {
    "c_exit_meta": json.dumps({"output": "FAILED tests/test_rota.py::test_pazar", "metadata": {"exit_code": 1,
                                                                                          "duration_seconds": 1.2}}),
    "c_exit_head": "Exit code: 2\nWall time: 0.3 seconds\nOutput:\nls: cannot access 'yok': No such file or directory",
    "c_io": "execution error: Io(Os { code: 2, kind: NotFound, message: \"No such file or directory\" })",
    "c_patch": "apply_patch verification failed: Failed to find expected lines in src/rota.py",
    "c_sandbox": "command failed in sandbox: Permission denied",
    "c_ok_meta": json.dumps({"output": "12 passed", "metadata": {"exit_code": 0, "duration_seconds": 3.0}}),
    "c_ok_head": "Exit code: 0\nWall time: 0.1 seconds\nOutput:\nrota.py",
}


def write(settings):
    def env(kind, payload, ts):
        return {"timestamp": f"2026-11-22T09:00:{ts:02d}.000Z", "type": kind, "payload": payload}
    lines = [env("session_meta", {"id": SID, "cwd": "/home/ali/rota", "cli_version": "0.120.0"}, 0),
             env("response_item", {"type": "message", "role": "user",
                                   "content": [{"type": "input_text", "text": "testleri çalıştır"}]}, 1)]
    for i, (call, out) in enumerate(OUTPUTS.items()):
        lines.append(env("response_item", {"type": "function_call", "name": "shell", "call_id": call,
                                           "arguments": json.dumps({"command": ["bash", "-lc", f"adım {i}"]})}, 2 + 2 * i))
        lines.append(env("response_item", {"type": "function_call_output", "call_id": call, "output": out}, 3 + 2 * i))
    path = settings.agent_dir("codex") / "sessions" / "2026" / "11" / "22" / f"rollout-2026-11-22T09-00-00-{SID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")


def test_failed_codex_calls_are_marked(settings, monkeypatch, page):  # noqa: F811
    from playwright.sync_api import expect

    write(settings)
    with serving(settings, monkeypatch) as url:
        page.goto(f"{url}/s/{SID}")
        for call in OUTPUTS:
            result = page.locator(f'[data-tool-use-id="{call}"] .tool-result')
            expect(result).to_have_count(1)
            if call.startswith("c_ok"):
                expect(result).not_to_have_class("tool-result error")
            else:
                expect(result).to_have_class("tool-result error")
        assert page.errors == []
