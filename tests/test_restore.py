"""`zerg restore`: archived transcripts back where Claude Code and Codex
look for them, byte for byte, never over a different file."""

import json
import shutil
import time

from conftest import needs_corpus
from test_daemon import free_port, wait_for, zerg, zergd

from zergd.index import open_index
from zergd.index.naming import session_id_for
from zergd.invariants import check_all

MAIN = "5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f"


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_restore_after_cleanup_deleted_it(sample, index):
    index.backfill()
    projects = sample.agent_dir("claude") / "projects"
    before = tree(projects)
    for path in projects.rglob("*"):
        if path.is_file() and "5f0c6a8e" in path.as_posix() or path.name.startswith("agent-1a2b3c4d"):
            path.unlink()
    assert tree(projects) != before

    proc = zerg("restore", MAIN[:8])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cd -- /home/dev/webapp && claude --resume {MAIN}"
    assert tree(projects) == before  # the session, its subagents, byte for byte
    assert "restored" in proc.stderr

    again = zerg("restore", MAIN)
    assert again.returncode == 0 and "already there, byte for byte" in again.stderr

    target = projects / "-home-dev-webapp" / f"{MAIN}.jsonl"
    target.write_bytes(target.read_bytes() + b'{"type":"user"}\n')
    changed = target.read_bytes()
    (projects / "-home-dev-webapp" / "agent-1a2b3c4d.jsonl").unlink()
    refused = zerg("restore", MAIN)
    assert refused.returncode == 1 and "exists and differs" in refused.stderr and "nothing was restored" in refused.stderr
    assert target.read_bytes() == changed
    assert not (projects / "-home-dev-webapp" / "agent-1a2b3c4d.jsonl").exists()  # all or nothing

    elsewhere = sample.home.parent / "elsewhere"
    moved = zerg("restore", MAIN, "--to", str(elsewhere))
    assert moved.returncode == 0
    assert (elsewhere / "-home-dev-webapp" / f"{MAIN}.jsonl").read_bytes() == before[f"-home-dev-webapp/{MAIN}.jsonl"]
    dry = zerg("restore", MAIN, "--to", str(sample.home.parent / "dry"), "--dry-run")
    assert dry.returncode == 0 and "would write" in dry.stdout and not (sample.home.parent / "dry").exists()
    assert zerg("restore", "no-such-session").returncode == 2


def test_restore_an_earlier_generation_and_a_codex_rollout(sample, index):
    index.backfill()
    source = sample.agent_dir("claude") / "projects" / "-home-dev-webapp" / f"{MAIN}.jsonl"
    first = source.read_bytes()
    source.write_bytes(b'{"type":"user","message":{"role":"user","content":"rewritten"}}\n')
    index.backfill()
    out = sample.home.parent / "gen1"
    assert zerg("restore", MAIN, "--generation", "1", "--to", str(out)).returncode == 0
    assert (out / "-home-dev-webapp" / f"{MAIN}.jsonl").read_bytes() == first

    rollouts = sample.agent_dir("codex") / "sessions"
    saved = tree(rollouts)
    shutil.rmtree(rollouts)
    rollout_rel = next(iter(saved))
    proc = zerg("restore", session_id_for("codex", rollout_rel))
    assert proc.returncode == 0, proc.stderr
    assert "codex resume" in proc.stdout
    assert (rollouts / rollout_rel).read_bytes() == saved[rollout_rel]


@needs_corpus
def test_a_running_daemon_takes_restored_files_as_what_it_archived(corpus, monkeypatch):
    """Restored into the watched folder while the daemon runs: it sees the
    files, finds them identical to the archive, and archives nothing twice."""
    monkeypatch.setenv("ZERG_RESCAN_INTERVAL", "0.5")
    zergd("start", "--port", str(free_port()), check=True)
    try:
        wait_for(lambda: json.loads(zergd("status", "--json").stdout).get("state") == "watching", timeout=60)
        folder = next((corpus.agent_dir("claude") / "projects").rglob("subagents")).parent
        sid = folder.name
        saved = tree(folder.parent)
        shutil.rmtree(folder)
        (folder.parent / f"{sid}.jsonl").unlink()
        listed = lambda: json.loads(zerg("sessions", "--deleted", "--json").stdout)  # noqa: E731
        wait_for(lambda: any(s["id"] == sid for s in listed()), timeout=30)
        assert zerg("restore", sid).returncode == 0
        assert tree(folder.parent) == saved
        wait_for(lambda: not any(s["id"] == sid for s in listed()), timeout=30)  # present again
        time.sleep(1.0)  # a rescan after the restore
    finally:
        zergd("stop")
    index = open_index(corpus)
    try:
        with index.reader() as r:
            sources = r.conn.execute("select count(*) from sources").fetchone()[0]
            generations = r.conn.execute("select count(*) from generations").fetchone()[0]
        assert sources == generations == len(list((corpus.agent_dir("claude") / "projects").rglob("*.jsonl"))) + \
            len(list((corpus.agent_dir("codex") / "sessions").rglob("*.jsonl")))
        assert check_all(index) == []
    finally:
        index.close()



def test_a_restored_subagent_says_to_resume_its_parent(sample, index):
    """`claude --resume agent-…` cannot work: a subagent goes on with the session that ran it."""
    index.backfill()
    sub = session_id_for("claude", "-home-dev-webapp/5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f/subagents/"
                                   "agent-a1b2c3d4e5f6a7b8c.jsonl")
    proc = zerg("restore", sub, "--to", str(sample.home.parent / "subs"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(f"claude --resume {MAIN}")
    assert "agent-" not in proc.stdout and "the session that ran it" in proc.stderr
