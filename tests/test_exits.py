"""Where text and files leave zergd, a hostile transcript or a planted file
gets nothing: Markdown stays inert, exports never write through links or
over devices, restore never writes through a planted link, MCP answers a
malformed line as JSON-RPC says."""

import json
import os
import re
import subprocess
import sys

import pytest
from test_daemon import zerg
from test_sample import MAIN

from zergd.document import markdown
from zergd.restore import plan, write

HOSTILE = ("<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) "
           "![track](https://evil.example/pixel.png) [ref]: https://evil.example/x <a href='https://evil.example'>a</a>")


def test_markdown_keeps_transcript_text_inert():
    lines = [json.dumps({"type": "user", "message": {"role": "user", "content": HOSTILE}}).encode(),
             json.dumps({"type": "assistant", "message": {"role": "assistant", "model": "m<b>x</b>", "content": [
                 {"type": "thinking", "thinking": "<iframe src=https://evil.example>"},
                 {"type": "text", "text": "see https://docs.example/guide?a=1&b=2 and www.example.org"},
                 {"type": "tool_use", "id": "t", "name": "TodoWrite", "input": {"todos": [
                     {"content": "[x](javascript:alert(4))", "status": "pending"}]}},
                 {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                              "data": "AAAA) ![](https://evil.example/y.png"}}]}}).encode()]
    md = "".join(markdown({"id": "x", "provider": "claude", "title": "<b>title</b>"}, lines))
    for raw in ("<img", "<script", "<iframe", "<a ", "<b>", "![track]", "[ref]:"):
        assert raw not in md, raw
    # A bracket that could close a link is escaped (\]), so no link or image forms.
    assert not re.search(r"(?<!\\)\]\(", md)
    assert "&lt;img src=x onerror=alert(1)&gt;" in md  # still there to read, as text
    # Web addresses are kept, in code spans that no renderer makes into links or fetches.
    assert "`https://docs.example/guide?a=1&b=2`" in md and "`www.example.org`" in md
    assert "`https://evil.example/pixel.png)`" in md
    assert "image whose data is not base64" in md


def test_export_sqlite_never_replaces_a_device_a_link_or_a_file_unasked(sample, index, tmp_path):
    index.backfill()
    target = tmp_path / "out.db"
    target.write_bytes(b"precious")
    refused = zerg("export", "--format", "sqlite", "-o", str(target))
    assert refused.returncode == 1 and "--force" in refused.stderr and target.read_bytes() == b"precious"
    forced = zerg("export", "--format", "sqlite", "-o", str(target), "--force")
    assert forced.returncode == 0 and target.read_bytes().startswith(b"SQLite format 3")
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "elsewhere.db")
    for odd in (link, tmp_path):
        proc = zerg("export", "--format", "sqlite", "-o", str(odd), "--force")
        assert proc.returncode in (1, 2), odd  # 2: click itself refuses a folder
    assert not (tmp_path / "elsewhere.db").exists()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = zerg("export", "--format", "sqlite", "-o", str(fifo), "--force")
    assert proc.returncode == 1 and "not a regular file" in proc.stderr
    assert not list(tmp_path.glob(".*.partial"))


def test_restore_never_writes_through_a_planted_link(sample, index, monkeypatch, tmp_path):
    index.backfill()
    projects = sample.agent_dir("claude") / "projects"
    target = projects / "-home-dev-webapp" / f"{MAIN}.jsonl"
    target.unlink()
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    import secrets

    monkeypatch.setattr(secrets, "token_hex", lambda n=4: "ab" * n)  # the temporary name, predicted
    planted = target.with_name(f".{target.name}.zerg-restore-{os.getpid()}-{'ab' * 4}")
    planted.symlink_to(victim)
    with index.index.reader() as r:
        planned = plan(r, sample, MAIN)
    from zergd.restore import RestoreConflict

    with pytest.raises(RestoreConflict, match="exists"):
        write(planned)
    assert victim.read_bytes() == b"untouched" and not target.exists()


def test_mcp_answers_a_malformed_line(settings):
    pytest.importorskip("mcp")
    proc = subprocess.run([sys.executable, "-c", "from zergd.cli import zerg; zerg()", "mcp"], input=(
        'not json\n{"no": "jsonrpc"}\n{"jsonrpc":"2.0","id":7,"method":"ping"}\n'), capture_output=True, text=True,
        timeout=60)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert answers[0] == {"jsonrpc": "2.0", "id": None,
                          "error": {"code": -32700, "message": "Parse error: the line is not JSON"}}
    assert answers[1]["error"]["code"] == -32600
    assert answers[2] == {"jsonrpc": "2.0", "id": 7, "result": {}}
