"""Claude Code's prompt history (``~/.claude/history.jsonl``: every prompt
typed, with its project, time and session) outlives the transcripts its
30-day cleanup deletes.  It is archived append-only like a transcript, and
the prompts of sessions with no transcript in the archive are shown as
recovered sessions: listed, searchable, marked, exportable."""

import json

import pytest
from test_browser import browser, page  # noqa: F401 (fixtures)
from test_daemon import zerg

from zergd.index.store import open_index
from zergd.invariants import check_all

GONE = ["3f9a1c2e-0b7d-4e6a-9c15-7d2e8f40a1b3", "a7c0e5d1-4b2f-4f8e-8d3a-1e9b6c2f5a70",
        "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f"]
KEPT = "9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
PROJECT_DIR = "C--Users-ayse-fatura"


def entry(display, session=None, ts=1_761_800_000_000, project="C:\\Users\\ayşe\\fatura", pasted=None):
    line = {"display": display, "pastedContents": pasted or {}, "timestamp": ts, "project": project}
    if session:
        line["sessionId"] = session
    return json.dumps(line, ensure_ascii=False)


HISTORY = [
    entry("fatura modülündeki yuvarlama hatasını düzelt", GONE[0], 1_755_000_000_000),
    entry("/model opus", GONE[1], 1_755_100_000_000),
    entry("[Pasted text #1 +3 lines] bu stack trace ne diyor?", GONE[1], 1_755_100_060_000,
          pasted={"1": {"id": 1, "type": "text", "content": "Traceback (most recent call last):\n"
                        "  File \"kdv.py\", line 12\nZeroDivisionError: division by zero"}}),
    entry("migrate the invoices table to numeric(12,2)", GONE[2], 1_755_200_000_000, project="/srv/billing"),
    entry("add a test for the rounding", KEPT, 1_761_800_000_000),
    entry("a prompt from before sessions were named", None, 1_740_000_000_000, project="/srv/billing"),
]


def write_history(settings, lines=HISTORY):
    path = settings.agent_dir("claude") / "history.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_transcript(settings, session=KEPT, prompt="add a test for the rounding"):
    folder = settings.agent_dir("claude") / "projects" / PROJECT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    line = {"type": "user", "uuid": "u1", "parentUuid": None, "sessionId": session, "timestamp": "2025-10-30T04:53:20Z",
            "cwd": "C:\\Users\\ayşe\\fatura", "version": "2.1.51",
            "message": {"role": "user", "content": prompt}}
    (folder / f"{session}.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")


def listed(settings):
    idx = open_index(settings)
    try:
        with idx.reader() as r:
            return {s["id"]: s for s in r.sessions()[0]}
    finally:
        idx.close()


def test_three_deleted_sessions_come_back_from_history(backend, settings, index):
    write_transcript(settings)
    path = write_history(settings)
    index.backfill()
    # The history itself is archived byte for byte...
    archived = settings.archive_dir / settings.host / "claude" / "history.jsonl"
    assert archived.read_bytes() == path.read_bytes()
    sessions = listed(settings)
    # ...and is not a session; the three whose transcripts are gone are, and
    # the older prompts that name no session are one per project.
    recovered = {sid for sid, s in sessions.items() if s["origin"] == "recovered"}
    assert set(GONE) <= recovered and len(recovered) == 4
    assert sessions[KEPT]["origin"] is None and sessions[KEPT]["user_messages"] == 1
    assert not any(s["title"] == "history" or s["id"] == "history" for s in sessions.values())
    one = sessions[GONE[1]]
    assert one["user_messages"] == 2 and one["title"] == "[Pasted text #1 +3 lines] bu stack trace ne diyor?"
    assert one["project"] == "C:\\Users\\ayşe\\fatura"
    assert (one["first_ts"], one["last_ts"]) == ("2025-08-13T15:46:40.000Z", "2025-08-13T15:47:40.000Z")
    assert sessions[GONE[2]]["project"] == "/srv/billing"
    # Searchable, in the session it was typed in: once, not also as the history's.
    hits = index.search("ZeroDivisionError")
    assert [h.session_id for h in hits] == [GONE[1]]
    hits = index.search("rounding")
    assert sorted(h.session_id for h in hits) == [KEPT]  # the transcript's line only: no copy from history
    with index.index.reader() as r:  # the history is no session of its own in any count
        stats = r.stats()
        assert stats["sessions"] == len(sessions) and "history" not in str(r.projects())
    assert check_all(index.index) == []


def test_a_transcript_that_turns_up_takes_its_session_back(settings, index):
    write_history(settings)
    index.backfill()
    assert listed(settings)[KEPT]["origin"] == "recovered"
    write_transcript(settings)  # e.g. restored from a backup
    index.backfill()
    kept = listed(settings)[KEPT]
    assert kept["origin"] is None and kept["user_messages"] == 1 and kept["id"] == KEPT
    assert [h.session_id for h in index.search("rounding")] == [KEPT]
    # Prompts typed later in that session stay in its transcript, not a second session.
    path = settings.agent_dir("claude") / "history.jsonl"
    with open(path, "a", encoding="utf-8") as f:
        f.write(entry("and one for negative amounts", KEPT, 1_761_800_100_000) + "\n")
    index.backfill()
    assert sum(1 for s in listed(settings).values() if s["id"].startswith(KEPT)) == 1
    assert check_all(index.index) == []


def test_appends_go_to_their_sessions_and_an_odd_line_hurts_nothing(settings, index):
    path = write_history(settings, HISTORY[:1])
    index.backfill()
    with open(path, "a", encoding="utf-8") as f:
        f.write(entry("şimdi testleri çalıştır", GONE[0], 1_755_000_300_000) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"display": "forged", "timestamp": -5, "sessionId": "../../etc/passwd"}) + "\n")
        f.write(json.dumps({"display": "huge", "timestamp": 10**30, "sessionId": GONE[2]}) + "\n")
    index.backfill()
    sessions = listed(settings)
    assert sessions[GONE[0]]["user_messages"] == 2
    assert sessions[GONE[2]]["first_ts"] is None  # a time no calendar has is no time
    assert not any("/" in sid for sid in sessions)  # a forged id is not used as one
    assert check_all(index.index) == []


def test_export_gives_the_sessions_own_prompts_and_restore_says_why_not(settings, index):
    write_transcript(settings)
    write_history(settings)
    index.backfill()
    index.index.close()
    jsonl = zerg("export", GONE[1])
    assert jsonl.returncode == 0, jsonl.stderr
    assert jsonl.stdout.splitlines() == HISTORY[1:3]  # its lines, byte for byte, nobody else's
    md = zerg("export", GONE[1], "--format", "md").stdout
    assert "bu stack trace ne diyor?" in md and "ZeroDivisionError" in md and "add a test" not in md
    restore = zerg("restore", GONE[1])
    assert restore.returncode == 1 and "recovered from the prompt history" in restore.stderr
    assert not (settings.agent_dir("claude") / "projects" / f"{GONE[1]}.jsonl").exists()


@pytest.mark.parametrize("order", ["history first", "transcript first"])
def test_the_same_sessions_in_either_order(settings, index, order):
    if order == "history first":
        write_history(settings)
        index.backfill()
        write_transcript(settings)
    else:
        write_transcript(settings)
        index.backfill()
        write_history(settings)
    index.backfill()
    sessions = listed(settings)
    assert {sid for sid, s in sessions.items() if s["origin"] == "recovered"} >= set(GONE)
    assert KEPT in sessions and sessions[KEPT]["origin"] is None


def test_the_timeline_lists_and_shows_a_recovered_session(settings, monkeypatch, browser, page):  # noqa: F811
    from playwright.sync_api import expect
    from test_browser import start_daemon
    from test_daemon import zergd

    write_transcript(settings)
    write_history(settings, HISTORY + [entry("<img src=x onerror=window.pwned=1> **kalın**",
                                                                        GONE[2], 1_755_200_060_000, project="/srv/billing")])
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(url)
        card = page.locator(f'[data-session="{GONE[1]}"]')
        expect(card.locator(".badge.recovered")).to_have_text("prompts only, recovered from history")
        expect(page.locator(f'[data-session="{KEPT}"] .badge.recovered')).to_have_count(0)
        card.click()
        expect(page.locator(".session-head .badge.recovered")).to_be_visible()
        expect(page.locator(".turn-user")).to_have_count(2)
        expect(page.locator(".turn-user").first).to_contain_text("/model opus")
        expect(page.get_by_role("button", name="Copy resume command")).to_have_count(0)
        page.locator("summary", has_text="Pasted text #1").click()
        expect(page.locator(".turn-user").nth(1)).to_contain_text("ZeroDivisionError: division by zero")
        page.goto(f"{url}/s/{GONE[2]}")
        expect(page.locator(".turn-user strong")).to_have_text("kalın")  # Markdown, and no HTML from a line
        assert page.evaluate("window.pwned") is None
        assert page.errors == []
    finally:
        zergd("stop")


def test_the_history_is_tailed_live(settings):
    """Appends to the history reach the index as they are written, like a
    transcript's (its file is watched), also when it appears after the start."""
    from test_tailing import wait_for

    from zergd.events import EventBus
    from zergd.watch.service import ArchiveService

    (settings.agent_dir("claude") / "projects").mkdir(parents=True, exist_ok=True)
    svc = ArchiveService(settings, EventBus(), rescan_interval=120)
    svc.start()
    try:
        assert svc.ready.wait(10)
        path = write_history(settings, HISTORY[:1])  # appears after the start
        wait_for(lambda: GONE[0] in listed(settings), timeout=5)
        with open(path, "a", encoding="utf-8") as f:
            f.write(entry("şimdi kenar durumlarını ekle", GONE[0], 1_755_000_400_000) + "\n")
        wait_for(lambda: listed(settings)[GONE[0]]["user_messages"] == 2, timeout=2)
    finally:
        svc.stop()
