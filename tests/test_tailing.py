"""The live service in-process: watchfiles events, tailing cases, events on the bus."""

import os
import queue
import time

import pytest
from conftest import Index

from zergd.events import EventBus
from zergd.invariants import check_all
from zergd.archivist.rebuild import rebuild
from zergd.watch.service import ArchiveService

# The index suite runs on both backends: SQLite and PostgreSQL (conftest.backend).
pytestmark = pytest.mark.usefixtures("backend")

LINE = '{"type":"user","message":{"role":"user","content":"%s"}}\n'


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def service(settings):
    svc = ArchiveService(settings, EventBus(), rescan_interval=0.5)
    svc.start()
    assert svc.ready.wait(10)
    yield svc
    svc.stop()


@pytest.fixture
def reader(settings, service):
    idx = Index(settings)
    yield idx
    idx.index.close()


def project(settings):
    path = settings.agent_dir("claude") / "projects" / "-live"
    path.mkdir(parents=True, exist_ok=True)
    return path


def archived(settings, name, gen=1):
    suffix = "" if gen == 1 else f".gen{gen}"
    path = settings.archive_dir / "testhost" / "claude" / "-live" / f"{name}{suffix}"
    return path.read_bytes() if path.exists() else None


def found(reader, text):
    return [h.session_id for h in reader.search(text)]


def test_appends_in_any_chunk_size(settings, service, reader):
    path = project(settings) / "s.jsonl"
    data = b"".join((LINE % f"chunk{i} caf\u00e9 \u2713 \U0001F980").encode() for i in range(40))
    sizes = [1, 2, 3, 5, 7, 11, 64, 200]
    pos, i = 0, 0
    with open(path, "ab") as f:
        while pos < len(data):
            n = sizes[i % len(sizes)]
            f.write(data[pos:pos + n])
            f.flush()
            pos += n
            i += 1
            if i % 10 == 0:
                time.sleep(0.01)
    wait_for(lambda: archived(settings, "s.jsonl") == data)
    wait_for(lambda: reader.session("s") and reader.session("s")["lines"] == 40)
    assert found(reader, "chunk39") == ["s"]
    assert check_all(reader.index) == []


def test_partial_line_archived_at_once_indexed_on_newline(settings, service, reader):
    path = project(settings) / "p.jsonl"
    path.write_bytes((LINE % "first").encode() + b'{"type":"user","message":{"role":"user","content":"wombat')
    wait_for(lambda: archived(settings, "p.jsonl") == path.read_bytes())
    wait_for(lambda: reader.session("p") and reader.session("p")["lines"] == 1)
    assert found(reader, "wombat") == []
    with open(path, "ab") as f:
        f.write(b' arrives"}}\n')
    wait_for(lambda: found(reader, "wombat arrives") == ["p"])
    assert reader.session("p")["lines"] == 2


def test_quiet_file_without_final_newline_is_indexed_and_finished_once(settings, service, reader):
    path = project(settings) / "q.jsonl"
    path.write_bytes((LINE % "first").encode() + (LINE % "okapi at the end").encode().rstrip(b"\n"))
    wait_for(lambda: archived(settings, "q.jsonl") == path.read_bytes())
    assert found(reader, "okapi") == []  # not while the file may still be written
    # Quiet for a few seconds: the last line is indexed and counted.
    wait_for(lambda: found(reader, "okapi") == ["q"], timeout=15)
    assert reader.session("q")["user_messages"] == 2
    assert check_all(reader.index) == []
    # The newline arrives: the same line, complete; not found or counted twice.
    with open(path, "ab") as f:
        f.write(b"\n")
    wait_for(lambda: reader.conn.execute("select count(*) from lines where partial != 0").fetchone()[0] == 0)
    assert found(reader, "okapi") == ["q"] and len(reader.search("okapi")) == 1
    assert reader.session("q")["user_messages"] == 2
    assert check_all(reader.index) == []
    # A line cut mid-JSON is never indexed, however quiet.
    with open(path, "ab") as f:
        f.write(b'{"type":"user","message":{"role":"user","content":"half a pang')
    time.sleep(4.5)
    assert found(reader, "pangolin") == [] and found(reader, "pang") == []
    with open(path, "ab") as f:
        f.write(b'olin"}}\n')
    wait_for(lambda: found(reader, "pangolin") == ["q"])
    assert reader.session("q")["user_messages"] == 3
    assert check_all(reader.index) == []


def test_a_quiet_line_that_grows_later_is_reindexed(settings, service, reader):
    path = project(settings) / "g.jsonl"
    path.write_bytes((LINE % "tapir").encode().rstrip(b"\n"))
    wait_for(lambda: found(reader, "tapir") == ["g"], timeout=15)
    with open(path, "ab") as f:  # more on the same line: it is one malformed line now
        f.write(b' {"type":"user","message":{"role":"user","content":"zebu"}}\n')
    wait_for(lambda: reader.conn.execute("select count(*) from lines where partial != 0").fetchone()[0] == 0)
    assert check_all(reader.index) == []
    assert reader.session("g")["user_messages"] == 1  # counted once, when it went quiet


def test_truncate_and_rewrite_make_generations(settings, service, reader):
    path = project(settings) / "t.jsonl"
    first = (LINE % "one").encode() + (LINE % "two").encode()
    path.write_bytes(first)
    wait_for(lambda: archived(settings, "t.jsonl") == first)
    path.write_bytes((LINE % "three").encode())
    wait_for(lambda: archived(settings, "t.jsonl", 2) == (LINE % "three").encode())
    assert archived(settings, "t.jsonl") == first


def test_delete_marks_session_and_publishes(settings, service, reader):
    path = project(settings) / "d.jsonl"
    with service.bus.subscribe() as sub:
        path.write_bytes((LINE % "doomed").encode())
        wait_for(lambda: reader.session("d"))
        path.unlink()
        wait_for(lambda: reader.session("d")["source_deleted_at"])
        kinds = []
        while True:
            try:
                event = sub.get(timeout=2)
            except queue.Empty:
                break
            kinds.append((event.type, event.session["id"]))
            if event.type == "session.source_deleted":
                assert event.session["source_deleted_at"]
                break
    assert ("session.created", "d") in kinds
    assert ("session.source_deleted", "d") in kinds
    assert archived(settings, "d.jsonl") == (LINE % "doomed").encode()


def test_updates_carry_counts(settings, service):
    path = project(settings) / "u.jsonl"

    def next_event_of_u(sub):
        event = sub.get(timeout=5)
        while event.session["id"] != "u":
            event = sub.get(timeout=5)
        return event

    with service.bus.subscribe() as sub:
        path.write_bytes((LINE % "hello").encode())
        # Changes between two publications are one event, so the append
        # waits until the first write's session.created is out.
        assert next_event_of_u(sub).type == "session.created"
        with open(path, "ab") as f:
            f.write((LINE % "again").encode())
        event = next_event_of_u(sub)
    assert event.type == "session.updated"
    assert event.session["lines"] == 2 and event.session["user_messages"] == 2
    assert event.seq >= 1


def test_delete_then_recreate_reads_from_zero(settings, service, reader):
    path = project(settings) / "r.jsonl"
    path.write_bytes((LINE % "before").encode())
    wait_for(lambda: reader.session("r"))
    path.unlink()
    wait_for(lambda: reader.session("r")["source_deleted_at"])
    path.write_bytes((LINE % "after").encode())
    wait_for(lambda: archived(settings, "r.jsonl", 2) == (LINE % "after").encode())
    wait_for(lambda: reader.session("r")["source_deleted_at"] is None)


def test_rename(settings, service, reader):
    old = project(settings) / "old.jsonl"
    old.write_bytes((LINE % "moving").encode())
    wait_for(lambda: reader.session("old"))
    os.rename(old, old.with_name("new.jsonl"))
    wait_for(lambda: reader.session("new") and reader.session("new")["lines"] == 1)
    wait_for(lambda: reader.session("old")["source_deleted_at"])
    assert archived(settings, "old.jsonl") == archived(settings, "new.jsonl")


CODEX_LINE = ('{"timestamp":"2026-05-02T10:00:01.000Z","type":"response_item","payload":{"type":"message","role":"user",'
              '"content":[{"type":"input_text","text":"%s"}]}}\n')


def codex_rollout(settings, sid: str, day: int, text: str):
    """A rollout where Codex writes it, holding one prompt."""
    path = settings.agent_dir("codex") / "sessions" / "2026" / "05" / f"{day:02d}" / f"rollout-2026-05-{day:02d}T10-00-00-{sid}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes((CODEX_LINE % text).encode())
    return path


def test_codex_archiving_a_session_moves_it_and_it_stays_one(settings, service, reader):
    sid = "0199cccc-dddd-7eee-8fff-000011112222"
    live = codex_rollout(settings, sid, 2, "an axolotl question")
    wait_for(lambda: found(reader, "axolotl") == [sid])
    # `codex` archives it: the file moves (archived_sessions/ may not exist yet).
    moved = settings.agent_dir("codex") / "archived_sessions" / live.name
    moved.parent.mkdir()
    os.rename(live, moved)
    wait_for(lambda: reader.conn.execute("select path from sources").fetchone()[0] == str(moved))
    time.sleep(1.5)  # the old path's deletion may be noticed after: the session must stay present
    assert reader.session(sid)["source_deleted_at"] is None
    with open(moved, "ab") as f:
        f.write((CODEX_LINE % "and a later quetzal").encode())
    wait_for(lambda: found(reader, "quetzal") == [sid])
    s = reader.session(sid)
    assert s["source_deleted_at"] is None and s["lines"] == 2
    assert reader.conn.execute("select count(*) from sessions").fetchone()[0] == 1
    assert reader.conn.execute("select count(*) from generations").fetchone()[0] == 1
    assert check_all(reader.index) == []


def test_a_copied_codex_rollout_is_a_session_of_its_own(settings, service, reader):
    sid = "0199cccc-dddd-7eee-8fff-000033334444"
    live = codex_rollout(settings, sid, 3, "a wombat")
    wait_for(lambda: found(reader, "wombat") == [sid])
    copy = settings.agent_dir("codex") / "archived_sessions" / live.name
    copy.parent.mkdir()
    copy.write_bytes(live.read_bytes())
    wait_for(lambda: len(found(reader, "wombat")) == 2)
    assert reader.session(sid)["source_deleted_at"] is None


def test_50mb_line(settings, service, reader):
    path = project(settings) / "big.jsonl"
    payload = b"y" * (50 << 20)
    data = (LINE % "start").encode() + b'{"type":"user","message":{"role":"user","content":"bigline ' + payload + b'"}}\n'
    with open(path, "wb") as f:
        for i in range(0, len(data), 8 << 20):
            f.write(data[i:i + (8 << 20)])
            f.flush()
    wait_for(lambda: reader.session("big") and reader.session("big")["lines"] == 2, timeout=60)
    assert os.path.getsize(settings.archive_dir / "testhost/claude/-live/big.jsonl") == len(data)
    assert found(reader, "bigline") == ["big"]


def test_thousands_of_files(settings, service, reader):
    base = project(settings)
    for i in range(2000):
        (base / f"f{i:04d}.jsonl").write_bytes((LINE % f"file number {i}").encode())
    wait_for(lambda: reader.scalar("select count(*) from sessions where id like 'f%'") == 2000, timeout=60)
    assert found(reader, "1999") == ["f1999"]


def test_files_created_while_down_are_backfilled(settings):
    path = project(settings) / "early.jsonl"
    path.write_bytes((LINE % "written while down").encode())
    svc = ArchiveService(settings, EventBus(), rescan_interval=60)
    svc.start()
    try:
        assert svc.ready.wait(10)
        assert archived(settings, "early.jsonl") == path.read_bytes()
    finally:
        svc.stop()


def test_a_rollout_archived_while_down_is_followed_at_start(settings):
    sid = "0199cccc-dddd-7eee-8fff-000055556666"
    live = codex_rollout(settings, sid, 4, "a capybara")
    for move in (False, True):
        if move:
            moved = settings.agent_dir("codex") / "archived_sessions" / live.name
            moved.parent.mkdir()
            os.rename(live, moved)
        svc = ArchiveService(settings, EventBus(), rescan_interval=60)
        svc.start()
        try:
            assert svc.ready.wait(10)
        finally:
            svc.stop()
    for step in ("started", "reindexed", "started again"):
        if step == "reindexed":
            rebuild(settings)  # from the archive alone: it finds the file where it went
        elif step == "started again":
            svc = ArchiveService(settings, EventBus(), rescan_interval=60)
            svc.start()
            assert svc.ready.wait(10)
            svc.stop()
        idx = Index(settings)
        try:
            assert idx.conn.execute("select id, source_deleted_at from sessions").fetchall() == [(sid, None)], step
            assert idx.conn.execute("select path from sources").fetchone()[0] == str(moved)
            assert check_all(idx.index) == []
        finally:
            idx.index.close()
