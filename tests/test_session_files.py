"""A tool output too large for Claude Code's transcript lives apart, in
``<project>/<session>/tool-results/<tool use id>.txt``, and the transcript
keeps a ``<persisted-output>`` preview.  The file is kept byte for byte,
shipped, restored with its session, and the whole output is what the
reader, the exports and ``read_session`` show."""

import json

from test_browser import browser, page  # noqa: F401 (fixtures)
from test_daemon import zerg

from zergd.archive.sidecars import archived_versions
from zergd.oikos.tools import Toolbox

SESSION = "6e1f0b2a-77c4-4d0e-9a51-3b2d9c8e4f10"
PROJECT = "C--Users-dev-billing"  # a Windows cwd, C:\Users\dev\billing, as Claude Code names its folder
CALL = "toolu_01Q5Hn8kd2Lx9vTz"
# The whole output: 3,000 numbered lines; the transcript holds the first 2 KB.
WHOLE = "".join(f"{i:05d} fatura satırı işlendi — invoice row processed\n" for i in range(3000)).encode()
LAST = "02999 fatura satırı işlendi"


def write_session(settings, whole: bytes = WHOLE) -> tuple:
    folder = settings.agent_dir("claude") / "projects" / PROJECT
    kept = folder / SESSION / "tool-results" / f"{CALL}.txt"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(whole)
    preview = whole[:2048].decode("utf-8", "ignore")
    saved_at = "C:\\Users\\dev\\.claude\\projects\\" + PROJECT + "\\" + SESSION + "\\tool-results\\" + CALL + ".txt"
    persisted = (f"<persisted-output>\nOutput too large ({len(whole) / 1024:.1f}KB). Full output saved to: "
                 f"{saved_at}\n\nPreview (first 2KB):\n{preview}\n...\n</persisted-output>")
    base = {"sessionId": SESSION, "cwd": "C:\\Users\\dev\\billing", "version": "2.1.51", "gitBranch": "main"}
    lines = [
        {**base, "type": "user", "uuid": "u1", "parentUuid": None, "timestamp": "2026-11-02T09:00:00Z",
         "message": {"role": "user", "content": "run the import and show me every row"}},
        {**base, "type": "assistant", "uuid": "a1", "parentUuid": "u1", "timestamp": "2026-11-02T09:00:04Z",
         "requestId": "req_1", "message": {"id": "msg_1", "role": "assistant", "model": "claude-sonnet-4-5",
                                          "content": [{"type": "tool_use", "id": CALL, "name": "Bash",
                                                       "input": {"command": "python import.py --verbose"}}],
                                          "usage": {"input_tokens": 12, "output_tokens": 30}}},
        {**base, "type": "user", "uuid": "u2", "parentUuid": "a1", "timestamp": "2026-11-02T09:01:10Z",
         "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": CALL,
                                                  "content": persisted}]}},
        {**base, "type": "assistant", "uuid": "a2", "parentUuid": "u2", "timestamp": "2026-11-02T09:01:15Z",
         "requestId": "req_2", "message": {"id": "msg_2", "role": "assistant", "model": "claude-sonnet-4-5",
                                          "content": [{"type": "text", "text": "All 3,000 rows were imported."}],
                                          "usage": {"input_tokens": 700, "output_tokens": 9}}},
    ]
    transcript = folder / f"{SESSION}.jsonl"
    transcript.write_bytes(b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines))
    return transcript, kept


def test_the_whole_output_is_archived_byte_for_byte(settings, index):
    _transcript, kept = write_session(settings)
    index.backfill()
    rel = f"{PROJECT}/{SESSION}/tool-results/{CALL}.txt"
    [first] = archived_versions(settings.archive_dir, settings.host, "claude", rel)
    assert first.read_bytes() == WHOLE
    index.backfill()  # the same bytes again: nothing new
    assert len(archived_versions(settings.archive_dir, settings.host, "claude", rel)) == 1
    kept.write_bytes(WHOLE + b"one more row\n")  # rewritten: a second version, the first kept
    index.backfill()
    versions = archived_versions(settings.archive_dir, settings.host, "claude", rel)
    assert [v.read_bytes() for v in versions] == [WHOLE, WHOLE + b"one more row\n"]
    # Not a transcript: no session of its own, nothing indexed from it.
    assert index.scalar("select count(*) from sessions") == 1


def test_a_file_named_like_a_transcript_in_tool_results_is_not_one(settings, index):
    write_session(settings)
    odd = settings.agent_dir("claude") / "projects" / PROJECT / SESSION / "tool-results" / "toolu_02.jsonl"
    odd.write_bytes(b'{"type":"user","message":{"role":"user","content":"not a session"}}\n')
    index.backfill()
    assert index.scalar("select count(*) from sessions") == 1
    assert archived_versions(settings.archive_dir, settings.host, "claude",
                             f"{PROJECT}/{SESSION}/tool-results/toolu_02.jsonl")


def test_exports_and_read_session_show_the_whole_output(settings, index):
    write_session(settings)
    index.backfill()
    md = zerg("export", SESSION, "--format", "md")
    assert md.returncode == 0, md.stderr
    assert LAST in md.stdout and "Preview (first 2KB)" not in md.stdout
    html = zerg("export", SESSION, "--format", "html")
    assert html.returncode == 0 and LAST in html.stdout

    box = Toolbox(settings, index=index.index)
    answer = box.run("read_session", {"session_id": SESSION})
    assert "00000 fatura satırı işlendi" in answer and "persisted-output" not in answer
    assert f"whole output: {len(WHOLE.decode()):,} characters" in answer


def test_the_api_serves_the_whole_output_and_nothing_else(settings, index):
    from fastapi.testclient import TestClient

    from zergd.api.app import create_app

    write_session(settings)
    index.backfill()
    app = create_app(settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        whole = c.get(f"/api/sessions/{SESSION}/tool-results/{CALL}")
        assert whole.status_code == 200 and whole.content == WHOLE
        assert whole.headers["content-type"].startswith("text/plain")
        assert c.get(f"/api/sessions/{SESSION}/tool-results/toolu_none").status_code == 404
        assert c.get(f"/api/sessions/{SESSION}/tool-results/..%2F..%2Fetc").status_code in (404, 422)
        assert c.get(f"/api/sessions/no-such/tool-results/{CALL}").status_code == 404
        md = c.get(f"/api/sessions/{SESSION}/export", params={"format": "md"})
        assert LAST in md.text


def test_restore_puts_tool_results_back_byte_for_byte(settings, index):
    transcript, kept = write_session(settings)
    index.backfill()
    kept.unlink()
    kept.parent.rmdir()
    transcript.unlink()
    proc = zerg("restore", SESSION)
    assert proc.returncode == 0, proc.stderr
    assert kept.read_bytes() == WHOLE
    assert "tool-results" in proc.stderr


def test_the_session_view_shows_the_whole_output(settings, monkeypatch, browser, page):  # noqa: F811
    from playwright.sync_api import expect
    from test_browser import start_daemon
    from test_daemon import zergd

    write_session(settings)
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(f"{url}/s/{SESSION}")
        result = page.locator(f'[data-tool-use-id="{CALL}"] .tool-result')
        expect(result.locator(".kept-apart")).to_contain_text("The whole output (")
        expect(result).not_to_contain_text("Preview (first 2KB)")
        result.get_by_role("button", name="Show all 3,000 lines").click()
        shown = result.locator("pre.output").inner_text()
        assert shown.splitlines()[-1].startswith(LAST) and len(shown.splitlines()) == 3000
        assert page.errors == []
    finally:
        zergd("stop")


def test_tool_results_ship_to_another_zergd(settings, index, tmp_path):
    import urllib.request

    from test_ship import Home

    write_session(settings)
    server, client = Home(tmp_path / "server", "server"), Home(settings.home.parent, settings.host)
    try:
        server.start()
        token_file = tmp_path / "token"
        token_file.write_text(server.token())
        client.run("ship", "--to", server.url, "--token-file", str(token_file), tool="zerg", check=True)
        theirs = server.root / "zerg" / "sessions" / settings.host / "claude" / PROJECT / SESSION / "tool-results"
        assert (theirs / f"{CALL}.txt").read_bytes() == WHOLE
        request = urllib.request.Request(f"{server.url}/api/sessions/{SESSION}/tool-results/{CALL}",
                                         headers={"Host": f"127.0.0.1:{server.port}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.read() == WHOLE
        again = client.run("ship", "--to", server.url, "--token-file", str(token_file), tool="zerg", check=True)
        assert "shipped 0 new bytes" in again.stderr
    finally:
        server.stop()
        client.stop()
