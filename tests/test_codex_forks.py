"""Codex threads made from another: forked by the user (``forked_from_id``)
or spawned as a subagent (``source.subagent.thread_spawn.parent_thread_id``).
Such a rollout opens with its own header, then a copy of the other thread's
history written in one burst and stamped with that moment (token_count
events included).  The copy is kept and shown, but adds no usage and no
second search hit; the child is linked to its origin."""

import json

from test_browser import browser, page, start_daemon  # noqa: F401 (fixtures)
from test_daemon import zergd

from zergd.invariants import check_all

PARENT = "019c0a11-2b3c-7d4e-8f50-61a2b3c4d5e6"
FORK = "019c0a11-9f8e-7d6c-8b5a-493827160504"
SPAWNED = "019c0a12-0a1b-7c2d-9e3f-405162738495"
DAY = "2026/11/21/"


def rollout(sid, stamp):
    return f"{DAY}rollout-2026-11-21T{stamp}-{sid}.jsonl"


def meta(sid, ts, **more):
    return {"timestamp": ts, "type": "session_meta",
            "payload": {"id": sid, "timestamp": ts, "cwd": "D:\\work\\kargo", "originator": "codex_cli_rs",
                        "cli_version": "0.149.0", **more}}


def event(payload, ts):
    return {"timestamp": ts, "type": "event_msg", "payload": payload}


def said(role, text, ts):
    """What Codex writes for a message: the response item, and the event the UI shows."""
    kind = "input_text" if role == "user" else "output_text"
    return [{"timestamp": ts, "type": "response_item",
             "payload": {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}},
            event({"type": "user_message" if role == "user" else "agent_message", "message": text}, ts)]


def tokens(total_in, total_out, last_in, last_out, ts):
    def usage(i, o):
        return {"input_tokens": i, "cached_input_tokens": 0, "output_tokens": o, "total_tokens": i + o}
    return event({"type": "token_count", "info": {"total_token_usage": usage(total_in, total_out),
                                                  "last_token_usage": usage(last_in, last_out)}}, ts)


def parent_history(ts):
    """The parent's lines, each stamped ``ts(i)``."""
    return [
        meta(PARENT, ts(0)),
        {"timestamp": ts(1), "type": "turn_context", "payload": {"cwd": "D:\\work\\kargo", "model": "gpt-5.2-codex"}},
        *said("user", "gönderi takip numarasını doğrulayan fonksiyonu yaz", ts(2)),
        *said("agent", "validate_tracking() yazıldı ve testleri geçti.", ts(3)),
        tokens(1000, 200, 1000, 200, ts(4)),
        *said("user", "şimdi kargo firmasına göre biçimi kontrol et", ts(5)),
        *said("agent", "Her firma için ayrı desen eklendi.", ts(6)),
        tokens(2600, 400, 1600, 200, ts(7)),
    ]


def write(settings, rel, lines):
    path = settings.agent_dir("codex") / "sessions" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")


def write_family(settings):
    write(settings, rollout(PARENT, "09-00-00"), parent_history(lambda i: f"2026-11-21T09:0{i}:00.000Z"))
    burst = lambda i: f"2026-11-21T10:00:00.{i * 7:03d}Z"  # noqa: E731 - the copy: one burst, milliseconds apart
    # A fork continues its origin's count (3,000 so far): its own work is 300 + 100.
    write(settings, rollout(FORK, "10-00-00"), [meta(FORK, burst(0), forked_from_id=PARENT)] + parent_history(
        lambda i: burst(i + 1)) + [
        {"timestamp": "2026-11-21T10:00:09.000Z", "type": "turn_context", "payload": {"cwd": "D:\\work\\kargo", "model": "gpt-5.2-codex"}},
        *said("user", "aynı kontrolü iade gönderileri için de yap", "2026-11-21T10:00:09.500Z"),
        *said("agent", "İade gönderileri de doğrulanıyor.", "2026-11-21T10:00:20.000Z"),
        tokens(2900, 500, 300, 100, "2026-11-21T10:00:21.000Z"),
    ])
    # A subagent counts from zero (its first totals are its last usage), and
    # may repeat its origin's totals later: those add nothing.
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": PARENT, "depth": 1}}}
    burst2 = lambda i: f"2026-11-21T11:00:00.{i * 5:03d}Z"  # noqa: E731
    write(settings, rollout(SPAWNED, "11-00-00"), [meta(SPAWNED, burst2(0), source=spawn)] + parent_history(
        lambda i: burst2(i + 1)) + [
        *said("user", "test dosyalarındaki eski numaraları güncelle", "2026-11-21T11:00:04.000Z"),
        tokens(150, 50, 150, 50, "2026-11-21T11:00:10.000Z"),
        tokens(2600, 400, 1600, 200, "2026-11-21T11:00:11.000Z"),  # its origin's totals, repeated
        tokens(400, 100, 250, 50, "2026-11-21T11:00:20.000Z"),
    ])


def sessions(index):
    with index.index.reader() as r:
        return {s["id"]: s for s in r.sessions()[0]}, r.session(PARENT)


def counted(index, sid):
    return index.scalar("select coalesce(sum(input_tokens + output_tokens), 0) from usage"
                        " where session_id = ? and counted = 1", sid)


def test_a_forked_thread_adds_only_its_own_work(backend, settings, index):
    write_family(settings)
    index.backfill()
    assert counted(index, PARENT) == 3000
    assert counted(index, FORK) == 400  # not 3,000 + 400
    assert counted(index, SPAWNED) == 500  # 200 + 300, the repeated 3,000 not at all
    listed, parent = sessions(index)
    fork, spawned = listed[FORK], listed.get(SPAWNED) or index.session(SPAWNED)
    assert fork["parent_session_id"] == PARENT and not fork["is_subagent"]
    assert spawned["parent_session_id"] == PARENT and spawned["is_subagent"]
    assert [c["id"] for c in parent["forks"]] == [FORK] and [c["id"] for c in parent["subagents"]] == [SPAWNED]
    # Titled and counted by its own prompts, not its origin's.
    assert fork["title"] == "aynı kontrolü iade gönderileri için de yap" and fork["user_messages"] == 1
    assert spawned["user_messages"] == 1
    # The copied prompts are found once: in the thread that typed them.
    assert [h.session_id for h in index.search("takip numarasını")] == [PARENT]
    assert {h.session_id for h in index.search("iade")} == {FORK}
    assert check_all(index.index) == []


def test_the_copy_is_found_however_the_file_arrives(settings, index):
    """Tailed live, the copy may come in several pieces: the same lines are copies."""
    write_family(settings)
    path = settings.agent_dir("codex") / "sessions" / rollout(FORK, "10-00-00")
    whole = path.read_bytes()
    lines = whole.splitlines(keepends=True)
    for end in (1, 4, 9, len(lines)):
        path.write_bytes(b"".join(lines[:end]))
        index.backfill()
    assert counted(index, FORK) == 400
    assert [h.session_id for h in index.search("takip numarasını")] == [PARENT]
    assert index.scalar("select copying from sessions where id = ?", FORK) == 0
    assert check_all(index.index) == []


def test_the_session_view_marks_the_copy(settings, monkeypatch, browser, page):  # noqa: F811
    from playwright.sync_api import expect

    write_family(settings)
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(f"{url}/s/{FORK}")
        expect(page.locator(".divider.copied").first).to_contain_text("Copied from the thread this one was forked from")
        expect(page.locator(".divider.copied").nth(1)).to_have_text("This thread's own work")
        expect(page.get_by_text("aynı kontrolü iade gönderileri için de yap").first).to_be_visible()
        page.get_by_role("link", name="↑ parent session").click()
        expect(page.get_by_role("navigation", name="forks")).to_contain_text("aynı kontrolü iade")
        assert page.errors == []
    finally:
        zergd("stop")
