"""Format drift: every kind of line (type, subtype, attachment, Codex event
or item, tool) an agent writes that this zergd does not know is kept and
shown raw as always, and counted per agent and version, so `zergd doctor`
and `zergd status --json` tell the day a format changes."""

import json

from conftest import needs_corpus
from test_daemon import zerg

from zergd.index.parse import parse_line

SESSION = "0d6f3b1e-2c4a-4e8b-9f1d-7a5c3e2b1d09"
ROLLOUT = "2027/01/04/rollout-2027-01-04T09-00-00-019c0a11-2b3c-7d4e-8f50-6a7b8c9d0e1f.jsonl"


def write(settings):
    base = {"sessionId": SESSION, "version": "2.1.999", "cwd": "C:\\Users\\mei\\shop", "timestamp": "2027-01-04T08:00:00Z"}
    claude = [
        {**base, "type": "user", "uuid": "u1", "message": {"role": "user", "content": "整理一下购物车的代码"}},
        {**base, "type": "assistant", "uuid": "a1", "message": {"id": "m1", "role": "assistant", "model": "claude-opus-5",
         "content": [{"type": "tool_use", "id": "t1", "name": "Hologram", "input": {}},
                     {"type": "tool_use", "id": "t2", "name": "mcp__shop__inventory", "input": {}},
                     {"type": "tool_use", "id": "t3", "name": "Read", "input": {"file_path": "cart.py"}}]}},
        {**base, "type": "canvas-snapshot", "uuid": "c1"},
        {**base, "type": "canvas-snapshot", "uuid": "c2"},
        {**base, "type": "system", "subtype": "budget_warning", "content": "80% of the budget"},
        {**base, "type": "attachment", "attachment": {"type": "voice_note"}},
        {**base, "type": "attachment", "attachment": {"type": "hook_success", "hookName": "fmt"}},
    ]
    path = settings.agent_dir("claude") / "projects" / "C--Users-mei-shop" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in claude), "utf-8")
    codex = [
        {"timestamp": "2027-01-04T09:00:00Z", "type": "session_meta", "payload": {
            "id": "019c0a11-2b3c-7d4e-8f50-6a7b8c9d0e1f", "cwd": "/srv/shop", "cli_version": "0.201.0"}},
        {"timestamp": "2027-01-04T09:00:01Z", "type": "event_msg", "payload": {"type": "quantum_event"}},
        {"timestamp": "2027-01-04T09:00:02Z", "type": "event_msg", "payload": {"type": "token_count", "info": None}},
    ]
    path = settings.agent_dir("codex") / "sessions" / ROLLOUT
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in codex), "utf-8")


def test_unknown_kinds_are_counted_per_agent_and_version(settings, index):
    write(settings)
    index.backfill()
    with index.index.reader() as r:
        drift = {(d["provider"], d["version"], d["kind"]): d["lines"] for d in r.drift()}
    assert drift == {("claude", "2.1.999", "canvas-snapshot"): 2, ("claude", "2.1.999", "system/budget_warning"): 1,
                     ("claude", "2.1.999", "attachment/voice_note"): 1, ("claude", "2.1.999", "tool/Hologram"): 1,
                     ("codex", "0.201.0", "event_msg/quantum_event"): 1}
    index.backfill()  # nothing new: nothing counted twice
    with index.index.reader() as r:
        assert sum(d["lines"] for d in r.drift()) == 6
    assert index.session(SESSION)["title"] == "整理一下购物车的代码"  # read as usual all the same


def test_doctor_and_status_name_them(settings, index):
    write(settings)
    index.backfill()
    proc = zerg("doctor")
    out = proc.stdout + proc.stderr
    assert "5 line(s) of 4 kind(s) this zergd does not know, from Claude Code 2.1.999" in out
    assert "canvas-snapshot (2)" in out and "tool/Hologram (1)" in out
    assert "from Codex 0.201.0: event_msg/quantum_event (1)" in out

    from fastapi.testclient import TestClient

    from zergd.api.app import create_app

    app = create_app(settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        kinds = c.get("/api/status").json()["unknown_kinds"]
    assert {"provider": "codex", "version": "0.201.0", "kind": "event_msg/quantum_event", "lines": 1} in [
        {k: v for k, v in d.items() if k != "first_seen"} for d in kinds]


@needs_corpus
def test_the_real_corpus_holds_no_unknown_kind():
    from conftest import CORPUS

    found = {kind for path in CORPUS.rglob("*.jsonl") for raw in path.read_bytes().splitlines()
             for kind in parse_line(raw, 0, 1).unknown}
    assert found == set()


def test_postgresql_counts_the_same(settings, pg_url):
    from zergd.index import open_index
    from zergd.watch.backfill import backfill

    write(settings)
    found = []
    for url in (None, pg_url):
        index = open_index(settings, url)
        try:
            backfill(settings, index.writer())
            with index.reader() as r:
                found.append(sorted((d["provider"], d["version"], d["kind"], d["lines"]) for d in r.drift()))
        finally:
            index.close()
    assert found[0] == found[1] and len(found[0]) == 5
