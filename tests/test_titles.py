"""Titles and counts from the line types real transcripts carry: slash
commands, /rename, Codex thread names and errors, server-side tools; and an
index made by an older parser re-derived from the archive.  On both backends."""

import json

import pytest
from click.testing import CliRunner

from zergd.cli import zergd
from zergd.index import open_index
from zergd.index.parse import PARSER_VERSION
from zergd.invariants import check_all
from zergd.watch.backfill import backfill

pytestmark = pytest.mark.usefixtures("backend")


def command(name: str, args: str = "") -> dict:
    return {"type": "user", "message": {"role": "user", "content": (
        f"<command-name>{name}</command-name>\n            <command-message>{name.lstrip('/')}</command-message>\n"
        f"            <command-args>{args}</command-args>")}}


def prompt(text: str) -> dict:
    return {"type": "user", "message": {"role": "user", "content": text}}


def write(settings, name: str, lines: list[dict], provider: str = "claude") -> None:
    if provider == "claude":
        path = settings.agent_dir("claude") / "projects" / "-work-titles" / f"{name}.jsonl"
    else:
        path = settings.agent_dir("codex") / "sessions" / "2026" / "05" / "01" / f"rollout-2026-05-01T10-00-00-{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def load(settings):
    index = open_index(settings)
    backfill(settings, index.writer())
    return index


def session(index, sid):
    with index.reader() as r:
        return r.session(sid)


def test_a_session_started_by_a_slash_command_is_titled_by_it(settings):
    write(settings, "cmd", [command("/review", "src/app.py"), command("/model", "opus")])
    write(settings, "cmd-then-prompt", [command("/clear"), prompt("fix the login redirect")])
    write(settings, "bare", [command("clear")])  # older Claude Code wrote the name without its slash
    index = load(settings)
    s = session(index, "cmd")
    assert s["title"] == "/review src/app.py"
    assert s["user_messages"] == 2  # it has prompts: the commands
    assert session(index, "cmd-then-prompt")["title"] == "fix the login redirect"  # a typed prompt wins
    assert session(index, "bare")["title"] == "/clear"
    index.close()


def test_a_name_the_user_gave_wins_and_the_last_one_counts(settings):
    write(settings, "renamed", [
        prompt("first prompt"),
        {"type": "ai-title", "aiTitle": "A generated title"},
        {"type": "custom-title", "customTitle": "Billing rewrite", "sessionId": "renamed"},
        prompt("second prompt"),
        {"type": "custom-title", "customTitle": "Billing rewrite, part 2", "sessionId": "renamed"},
    ])
    index = load(settings)
    assert session(index, "renamed")["title"] == "Billing rewrite, part 2"
    with index.reader() as r:
        assert [h.session_id for h in r.search("billing rewrite part")] == ["renamed"]
    index.close()


def test_codex_thread_names_and_errors(settings):
    sid = "0199aaaa-bbbb-7ccc-8ddd-eeeeffff0001"
    write(settings, sid, [
        {"timestamp": "2026-05-01T10:00:00Z", "type": "session_meta", "payload": {"id": sid, "cwd": "/work/x"}},
        {"timestamp": "2026-05-01T10:00:01Z", "type": "event_msg",
         "payload": {"type": "user_message", "message": "make the tests pass"}},
        {"timestamp": "2026-05-01T10:00:02Z", "type": "event_msg",
         "payload": {"type": "thread_name_updated", "thread_id": sid, "thread_name": "Flaky test hunt"}},
        {"timestamp": "2026-05-01T10:00:03Z", "type": "event_msg",
         "payload": {"type": "error", "message": "stream disconnected before completion: quokka"}},
    ], provider="codex")
    index = load(settings)
    with index.reader() as r:
        [s] = [s for s in r.sessions()[0] if s["provider"] == "codex"]
        assert s["title"] == "Flaky test hunt"
        assert [h.role or h.type for h in r.search("quokka")] == ["event_msg/error"]
    index.close()


def test_server_side_tools_count_and_are_found(settings):
    write(settings, "web", [prompt("what changed in python 3.14"), {
        "type": "assistant", "message": {"role": "assistant", "model": "claude-x", "id": "m1", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
             "input": {"query": "python 3.14 release notes"}}]}}])
    index = load(settings)
    assert session(index, "web")["tool_calls"] == 1
    with index.reader() as r:
        assert [h.session_id for h in r.search("release notes")] == ["web"]
    index.close()


def test_an_index_from_an_older_parser_is_re_derived(settings):
    """Rows an older zergd made (no parser stamp, old titles) are rebuilt from
    the archive by the next import, so old lines get what the parser knows now."""
    write(settings, "old", [command("/review", "src/app.py")])
    index = load(settings)
    writer = index.writer()
    with writer.transaction():  # as an older zergd left it: no stamp, no title
        writer.conn.execute("delete from meta")
        writer.conn.execute("update sessions set title = null, title_rank = 0 where id = 'old'")
    index.close()
    result = CliRunner().invoke(zergd, ["import"])
    assert result.exit_code == 0, result.output
    assert "re-derived the index" in result.stderr
    index = open_index(settings)
    assert session(index, "old")["title"] == "/review src/app.py"
    assert index.writer().parser_version() == PARSER_VERSION
    assert check_all(index) == []
    result = CliRunner().invoke(zergd, ["import"])
    assert "re-derived" not in result.stderr  # once
    index.close()


def test_the_daemon_re_derives_an_old_index_before_it_serves(settings):
    from zergd.events import EventBus
    from zergd.watch.service import ArchiveService

    write(settings, "old", [command("/review", "src/app.py")])
    index = load(settings)
    writer = index.writer()
    with writer.transaction():
        writer.conn.execute("update meta set value = '1'")
        writer.conn.execute("update sessions set title = 'stale' where id = 'old'")
    service = ArchiveService(settings, EventBus(), rescan_interval=60, index=index)
    service.start()
    try:
        assert service.ready.wait(20)
        assert session(index, "old")["title"] == "/review src/app.py"  # the shared index: its readers see the new one
    finally:
        service.stop()
        index.close()


@pytest.mark.parametrize("order", ["leaf first", "summary first"])
def test_a_summary_titles_the_session_owning_its_leaf(settings, order):
    """A resumed session's file starts with summaries of earlier ones: each
    titles the session whose line is its leafUuid (when that session has no
    better title), whichever file is indexed first, never its own file."""
    leafy = [{"type": "assistant", "uuid": "leaf-1", "message": {"role": "assistant", "content": "done"}}]
    resumed = [{"type": "summary", "summary": "Fixing the login redirect", "leafUuid": "leaf-1"},
               prompt("carry on with the tests")]
    index = open_index(settings)
    writer = index.writer()
    for name, lines in ([("earlier", leafy), ("resumed", resumed)] if order == "leaf first"
                        else [("resumed", resumed), ("earlier", leafy)]):
        write(settings, name, lines)
        backfill(settings, writer)
    assert session(index, "earlier")["title"] == "Fixing the login redirect"
    assert session(index, "resumed")["title"] == "carry on with the tests"
    index.close()


def test_codex_rollouts_before_the_envelope_are_read(settings):
    """Codex CLI's 2025 format: a bare meta line, bare response items, state
    markers; the cwd only inside <environment_context>."""
    sid = "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
    write(settings, sid, [
        {"id": sid, "timestamp": "2025-05-07T17:24:21.123Z", "instructions": None, "git": {"branch": "main"}},
        {"record_type": "state"},
        {"type": "message", "id": None, "role": "user",
         "content": [{"type": "input_text", "text": "<user_instructions>be terse</user_instructions>"}]},
        {"type": "message", "id": None, "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>\n  <cwd>/Users/x/dev/legacy-thing</cwd>\n</environment_context>"}]},
        {"type": "message", "id": None, "role": "user",
         "content": [{"type": "input_text", "text": "why is the pangolin test flaky?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Looking at timing"}]},
        {"type": "function_call", "id": "fc_1", "name": "shell",
         "arguments": "{\"command\":[\"bash\",\"-lc\",\"pytest -k pangolin\"]}", "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{\"output\":\"1 failed\"}"},
        {"record_type": "state"},
        {"type": "message", "id": "msg_1", "role": "assistant",
         "content": [{"type": "output_text", "text": "It races the clock: freeze time in the fixture."}]},
    ], provider="codex")
    index = load(settings)
    with index.reader() as r:
        [s] = [s for s in r.sessions()[0] if s["provider"] == "codex"]
        assert s["title"] == "why is the pangolin test flaky?"
        assert s["project"] == "/Users/x/dev/legacy-thing" and s["git_branch"] == "main"
        assert (s["user_messages"], s["assistant_messages"], s["tool_calls"]) == (1, 1, 1)
        assert s["first_ts"] == "2025-05-07T17:24:21.123Z"
        assert r.search("freeze time fixture")[0].session_id == s["id"]
        assert r.search("pytest pangolin", per_session=0)  # the tool call is searchable
    assert check_all(index) == []
    index.close()


def test_a_summary_beats_the_first_prompt_and_a_slash_command(settings):
    """As Claude Code's /resume picker lists them: the session's summary,
    not its first prompt, and never a bare /login when a summary exists."""
    typed = [prompt("ok so the nginx thing again"),
             {"type": "assistant", "uuid": "leaf-9", "message": {"role": "assistant", "content": "fixed"}}]
    command = [{"type": "user", "uuid": "c1", "message": {"role": "user", "content":
                "<command-name>/login</command-name>\n<command-message>login</command-message>"}},
               {"type": "assistant", "uuid": "leaf-7", "message": {"role": "assistant", "content": "signed in"}}]
    later = [{"type": "summary", "summary": "Nginx TLS renewal fix", "leafUuid": "leaf-9"},
             {"type": "summary", "summary": "Sign-in with a new token", "leafUuid": "leaf-7"},
             prompt("next task")]
    index = open_index(settings)
    writer = index.writer()
    for name, lines in (("typed", typed), ("command", command), ("later", later)):
        write(settings, name, lines)
        backfill(settings, writer)
    assert session(index, "typed")["title"] == "Nginx TLS renewal fix"
    assert session(index, "command")["title"] == "Sign-in with a new token"
    write(settings, "renamed", [*typed[:1], {"type": "custom-title", "customTitle": "nginx: the saga"}])
    backfill(settings, writer)
    assert session(index, "renamed")["title"] == "nginx: the saga"
    index.close()
