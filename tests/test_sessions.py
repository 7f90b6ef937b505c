"""What the index knows about sessions, on the real corpus."""

import json

import pytest
from click.testing import CliRunner
from conftest import CORPUS
from conftest import agent as agent_id

from zergd.cli import zerg

# The index suite runs on both backends: SQLite and PostgreSQL (conftest.backend).
pytestmark = pytest.mark.usefixtures("backend")

PARENTS = {
    "agent-a36efb2a1231c41e2": "ef958aa1-0e93-49f0-bb71-150f63befcd1",  # <session>/subagents/ layout
    "agent-a4ca7529859c158c2": "ef958aa1-0e93-49f0-bb71-150f63befcd1",
    "agent-a2271d1": "29ccd257-68b1-427f-ae5f-6524b7cb6f20",
    "agent-ea02459f": "cb2e607c-c758-415a-8b45-c49e4631906a",  # legacy sibling agent-*.jsonl
    "agent-1674bc8c": "5b97e2d4-d624-4af2-9fb8-7fc02540282a",  # its parent is a 0-byte file
}


@pytest.mark.parametrize("agent,parent", sorted(PARENTS.items()))
def test_subagents_link_to_parent(imported, agent, parent):
    s = imported.session(agent_id(agent))
    assert s["is_subagent"] == 1
    assert s["parent_session_id"] == parent
    assert s["agent_id"] == agent[len("agent-"):]
    assert imported.session(parent) is not None


def test_main_sessions_are_not_subagents(imported):
    s = imported.session("ef958aa1-0e93-49f0-bb71-150f63befcd1")
    assert s["is_subagent"] == 0 and s["parent_session_id"] is None


def test_inline_sidechain_prompts_do_not_count_as_user_prompts(imported):
    # Simon Willison's session has an inline sidechain 'Warmup' prompt.
    s = imported.session("9aa36ce0-a6a0-4f60-8321-c6c711a01527")
    assert s["title"] != "Warmup"
    assert s["project"] == "/"


def test_usage_counted_once_per_message(imported):
    """Every response in cb2e607c is split over 2-3 lines repeating usage."""
    path = CORPUS / "claude/-Users-dain-workspace-coderabbit-review-helper/cb2e607c-c758-415a-8b45-c49e4631906a.jsonl"
    best = {}
    for raw in path.read_bytes().splitlines():
        obj = json.loads(raw)
        msg = obj.get("message") or {}
        if obj.get("type") == "assistant" and msg.get("id"):
            key = (msg["id"], obj.get("requestId") or "")
            u = msg.get("usage") or {}
            prev = best.get(key, (0, 0))
            best[key] = (max(prev[0], u.get("input_tokens", 0)), max(prev[1], u.get("output_tokens", 0)))
    s = imported.session("cb2e607c-c758-415a-8b45-c49e4631906a")
    assert s["assistant_messages"] == len(best) == 80
    assert s["input_tokens"] == sum(v[0] for v in best.values())
    assert s["output_tokens"] == sum(v[1] for v in best.values())


def test_compaction_session(imported):
    sid = "0c182e15-59de-4856-8a94-00f26880354c"
    s = imported.session(sid)
    assert s["project"] == "/Users/linhungfan"  # the start cwd, though it changes later
    assert s["models"] and "opus" in s["models"]
    types = dict(imported.conn.execute(
        "select type, count(*) from lines l join generations g on g.id = l.id >> 40"
        " join sessions x on x.source_id = g.source_id where x.id = ? group by type", (sid,)).fetchall())
    assert types["system"] >= 1 and types["queue-operation"] == 488
    summary_prompts = imported.conn.execute(
        "select count(*) from sessions where id = ? and title like 'This session is being continued%'", (sid,)
    ).fetchone()[0]
    assert summary_prompts == 0  # the compact summary is not the user's prompt


def test_titles(imported):
    assert imported.session("d4c1bac0-628a-48b6-983e-425faf07a208")["title"] == \
        "Research Visa card partnerships for fund wise roadmap"  # ai-title wins
    # A lone summary line names the conversation ending at its leafUuid, which
    # is in no file here: it titles nothing, least of all the file it sits in.
    assert imported.session("4e27c414-a885-46a0-b5c8-d58e1417377d")["title"] is None
    assert imported.session("01131ba6-a26e-449d-8862-cc913608c7c2")["title"].startswith("help me apply")


def test_counts_and_branch(imported):
    s = imported.session("ef958aa1-0e93-49f0-bb71-150f63befcd1")
    assert s["tool_calls"] > 0 and s["user_messages"] >= 1 and s["assistant_messages"] > 0
    assert s["git_branch"]
    assert s["first_ts"] <= s["last_ts"]


def test_codex_sessions(imported):
    s = imported.session("019aad50-a7e6-7422-b7a8-0b384290624f")
    assert s["provider"] == "codex"
    assert s["project"] == "/Users/pinouchon/code/rtchess"
    assert "gpt-5.1-codex-max" in s["models"]
    assert s["title"].startswith("I want to make a chess variant")
    assert s["tool_calls"] > 100 and s["input_tokens"] > 0


def test_files_without_messages(imported):
    s = imported.session("a95fea4a-b88a-4e49-ac07-4cc323d8700c")  # only file-history-snapshots
    assert s["lines"] == 4 and s["user_messages"] == 0
    assert imported.session("5b97e2d4-d624-4af2-9fb8-7fc02540282a")["lines"] == 0  # 0-byte file


def test_sessions_cli_json_has_every_field(imported):
    result = CliRunner().invoke(zerg, ["sessions", "--json", "--subagents", "--all"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 33
    listed = json.loads(CliRunner().invoke(zerg, ["sessions", "--json"]).stdout)
    assert len(listed) == 33 - 9 - 3  # subagents are under their parents; 3 files hold no conversation
    for key in ("id", "provider", "project", "title", "first_ts", "last_ts", "git_branch", "models",
                "user_messages", "assistant_messages", "tool_calls", "parent_session_id", "agent_id",
                "source_deleted_at", "input_tokens"):
        assert key in rows[0]
    stamps = [r["last_ts"] or r["first_ts"] or "" for r in rows if r["last_ts"] or r["first_ts"]]
    assert stamps == sorted(stamps, reverse=True)


def test_sessions_cli_filters(imported):
    runner = CliRunner()
    result = runner.invoke(zerg, ["sessions", "--project", "FundWise", "--json"])
    ids = {r["id"] for r in json.loads(result.stdout)}
    assert "d4c1bac0-628a-48b6-983e-425faf07a208" in ids
    assert all("FundWise" in (r["project"] or "") for r in json.loads(result.stdout))
    result = runner.invoke(zerg, ["sessions", "--since", "2026-04-01", "--json"])
    assert all((r["last_ts"] or "") >= "2026-04-01" for r in json.loads(result.stdout))
    assert runner.invoke(zerg, ["sessions", "--since", "yesterday"]).exit_code == 2
    result = runner.invoke(zerg, ["sessions"])
    assert "Research Visa card partnerships" in result.stdout


SIDECAR_DIR = "-experiments-worktrees/ef958aa1-0e93-49f0-bb71-150f63befcd1/subagents"


def test_subagent_sidecars_are_archived_and_read(imported):
    settings = imported.settings
    for src in (CORPUS / "claude" / SIDECAR_DIR).glob("*.meta.json"):
        copy = settings.archive_dir / "testhost" / "claude" / SIDECAR_DIR / src.name
        assert copy.read_bytes() == src.read_bytes()
    s = imported.session(agent_id("agent-a4ca7529859c158c2"))
    assert s["agent_type"] == "general-purpose"
    assert s["agent_description"] == "Research Claude Code plan mode"


def test_a_rewritten_sidecar_keeps_its_old_version(imported):
    settings = imported.settings
    live = settings.agent_dir("claude") / "projects" / SIDECAR_DIR / "agent-a6aa8ad077d9ea083.meta.json"
    old = live.read_bytes()
    live.write_bytes(b'{"agentType":"Explore","description":"Round 3: carol again"}')
    imported.backfill()
    archived = settings.archive_dir / "testhost" / "claude" / SIDECAR_DIR
    assert (archived / "agent-a6aa8ad077d9ea083.meta.json").read_bytes() == old
    assert (archived / "agent-a6aa8ad077d9ea083.meta.json.gen2").read_bytes() == live.read_bytes()
    assert imported.session(agent_id("agent-a6aa8ad077d9ea083"))["agent_type"] == "Explore"
    imported.backfill()  # unchanged: no third copy
    assert not (archived / "agent-a6aa8ad077d9ea083.meta.json.gen3").exists()
    live.unlink()  # Claude Code's cleanup: the archive keeps both
    imported.backfill()
    assert imported.session(agent_id("agent-a6aa8ad077d9ea083"))["agent_description"] == "Round 3: carol again"
