"""The archive at the edges of a real filesystem: files rewritten while read,
middle-only rewrites, FIFOs, links out of the roots, odd names, long lines
without a newline.  Real files throughout; no mock of the filesystem."""

import os
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from zergd.cli import zerg, zergd
from zergd.index.feed import TAIL_CAP, LineFeeder
from zergd.invariants import check_all

LINE = b'{"type":"user","message":{"role":"user","content":"%s"}}\n'


def project(settings, name="-p"):
    folder = settings.agent_dir("claude") / "projects" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def archived_generations(settings):
    return sorted(p for p in settings.archive_dir.rglob("*") if p.is_file())


def export(*args):
    return CliRunner().invoke(zerg, ["export", *args])


# --- 1. rewrite in place while a sync reads ------------------------------------


def version(k: int, lines: int) -> bytes:
    return b"".join(LINE % f"version {k} line {i} {'x' * (k % 7) * 40}".encode() for i in range(lines))


def test_rewrite_in_place_during_sync_never_fabricates_bytes(settings, index):
    """A thread keeps rewriting one file in place (truncate + write, similar
    lengths, and appends) while syncs run; every archived generation must be a
    prefix of a content the file really held."""
    path = project(settings) / "race.jsonl"
    versions = [version(k, 40 + (k * 13) % 30) for k in range(60)]
    path.write_bytes(versions[0])
    stop = threading.Event()

    def rewriter():
        k = 0
        while not stop.is_set():
            k = (k + 1) % len(versions)
            with open(path, "r+b") as f:  # same inode: an in-place rewrite
                f.truncate(0)
                data = versions[k]
                f.write(data[: len(data) // 2])
                f.flush()
                f.write(data[len(data) // 2 :])
            time.sleep(0.0005)

    t = threading.Thread(target=rewriter)
    t.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            index.backfill()
    finally:
        stop.set()
        t.join()
    index.backfill()
    gens = archived_generations(settings)
    assert len(gens) > 3
    fabricated = [g.name for g in gens if not any(v.startswith(g.read_bytes()) for v in versions)]
    assert fabricated == []
    assert check_all(index.index) == []


# --- 2. middle-only rewrites ------------------------------------------------------


def middle_rewrite(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 5] = b"XXXXX"  # size, first and last 4 KiB unchanged
    with open(path, "r+b") as f:
        f.write(bytes(data))
    return bytes(data)


def test_middle_only_rewrite_becomes_a_generation_on_rescan(settings, index):
    path = project(settings) / "mid.jsonl"
    original = b"".join(LINE % f"line {i} of the original".encode() for i in range(400))
    path.write_bytes(original)
    index.backfill()
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    rewritten = middle_rewrite(path)
    index.backfill()
    assert export("mid").stdout_bytes == rewritten
    assert export("mid", "--generation", "1").stdout_bytes == original
    assert check_all(index.index) == []


def test_live_sync_is_followed_by_a_full_check_on_rescan(settings, index):
    """The live path compares only the ends; a rescan re-proves the whole prefix."""
    from zergd.watch.tailer import sync_file

    path = project(settings) / "mid.jsonl"
    original = b"".join(LINE % f"line {i}".encode() for i in range(400))
    path.write_bytes(original)
    index.backfill()
    with open(path, "ab") as f:
        f.write(LINE % b"appended live")
    sync_file(index.writer, settings, "claude", "-p/mid.jsonl", path)  # windows only
    rewritten = middle_rewrite(path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 20_000_000))
    index.backfill()
    assert export("mid").stdout_bytes == rewritten


def test_unchanged_files_are_not_read_again_on_rescan(settings, index):
    path = project(settings) / "quiet.jsonl"
    path.write_bytes(LINE % b"quiet")
    index.backfill()
    assert index.backfill().changed == 0
    from zergd.watch.backfill import plan

    assert plan(settings, index.writer)[0] == []


# --- 4, 5. only regular files inside the roots -----------------------------------


def test_fifo_is_skipped_not_read(settings, index):
    folder = project(settings)
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "ok.jsonl").write_bytes(LINE % b"fine")
    report = index.backfill()  # would block forever if the FIFO were opened for reading
    assert export("ok").stdout_bytes == LINE % b"fine"
    faults = report.faults.snapshot()
    assert [(f["path"].endswith("pipe.jsonl"), f["kind"], "FIFO" in f["reason"]) for f in faults] == [
        (True, "skipped", True)]
    assert index.scalar("select count(*) from sessions") == 1


def test_import_with_a_fifo_finishes_and_says_so(settings):
    folder = project(settings)
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "ok.jsonl").write_bytes(LINE % b"fine")
    proc = subprocess.run([sys.executable, "-m", "zergd", "import"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stderr and "pipe.jsonl" in proc.stderr and "FIFO" in proc.stderr


def test_symlink_out_of_the_roots_is_never_archived(settings, index, tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_bytes(b"root:x:0:0:secret\n")
    folder = project(settings)
    (folder / "foo.jsonl").symlink_to(secret)
    (folder / "zero.jsonl").symlink_to("/dev/zero")
    report = index.backfill()
    assert archived_generations(settings) == []
    assert index.scalar("select count(*) from sessions") == 0
    kinds = {os.path.basename(f["path"]): (f["kind"], f["reason"]) for f in report.faults.snapshot()}
    assert kinds["foo.jsonl"][0] == kinds["zero.jsonl"][0] == "skipped"
    assert "outside the watched folders" in kinds["foo.jsonl"][1]
    assert export("foo").exit_code != 0


def test_symlinks_inside_the_roots_and_linked_roots_are_followed(settings, index, tmp_path):
    real_projects = tmp_path / "real-projects"
    (real_projects / "-p").mkdir(parents=True)
    (real_projects / "-p" / "a.jsonl").write_bytes(LINE % b"alpha")
    projects = settings.agent_dir("claude") / "projects"
    projects.rmdir()
    projects.symlink_to(real_projects)  # the root itself is a link
    (real_projects / "-p" / "b.jsonl").symlink_to(real_projects / "-p" / "a.jsonl")
    index.backfill()
    assert export("a").stdout_bytes == LINE % b"alpha"
    assert export("b").stdout_bytes == LINE % b"alpha"


def test_symlink_loop_and_odd_names_do_not_stop_the_others(settings, index):
    folder = project(settings)
    (folder / "loop-a.jsonl").symlink_to(folder / "loop-b.jsonl")
    (folder / "loop-b.jsonl").symlink_to(folder / "loop-a.jsonl")
    odd = os.path.join(os.fsencode(folder), b"caf\xe9-\xff.jsonl")
    with open(odd, "wb") as f:
        f.write(LINE % b"latin-1 name")
    (folder / "ok.jsonl").write_bytes(LINE % b"fine")
    report = index.backfill()
    assert export("ok").stdout_bytes == LINE % b"fine"
    faults = {os.path.basename(f["path"]) for f in report.faults.snapshot()}
    assert faults == {"loop-a.jsonl", "loop-b.jsonl"}
    # The name that is not UTF-8 is archived under an escaped, readable name.
    [odd_session] = [r[0] for r in index.conn.execute("select id from sessions where id like 'caf%'")]
    assert "\\xe9" in odd_session
    assert export(odd_session).stdout_bytes == LINE % b"latin-1 name"
    assert check_all(index.index) == []


# --- 11. memory per line is bounded -----------------------------------------------


def test_an_unterminated_line_is_not_held_in_memory(tmp_path):
    archive = tmp_path / "a.jsonl"
    start = b'{"type":"user","message":{"content":"'
    with open(archive, "wb") as f:
        feeder = LineFeeder(0, 0, lambda off, n: open(archive, "rb").read()[off:off + n])
        for i in range(3 * TAIL_CAP // (1 << 20)):
            chunk = (start if i == 0 else b"") + b"z" * (1 << 20)
            f.write(chunk)
            f.flush()
            batch = feeder.feed(chunk)
            assert len(feeder.tail) <= TAIL_CAP
            assert batch.partial is not None and batch.partial.length == feeder.tail_len
        f.write(b'"}}\nnext\n')
        f.flush()
        batch = feeder.feed(b'"}}\nnext\n')
    long_line, nxt = batch.lines
    assert long_line.length == feeder.indexed - len(b"next\n") - 1
    assert long_line.type == "user" and not long_line.malformed
    assert nxt.malformed and nxt.offset == long_line.length + 1


def test_a_huge_line_without_newline_is_archived_whole(settings, index):
    path = project(settings) / "huge.jsonl"
    data = b'{"type":"user","message":{"content":"' + b"q" * (3 * TAIL_CAP)
    path.write_bytes(data)
    index.backfill()
    assert export("huge").stdout_bytes == data
    with open(path, "ab") as f:
        f.write(b'"}}\n')
    index.backfill()
    assert export("huge").stdout_bytes == data + b'"}}\n'
    assert index.scalar("select count(*) from lines where partial = 0") == 1
    assert check_all(index.index) == []


# --- 6. one writer per ZERG_HOME ----------------------------------------------------


HOLD = """
import sys, time
from zergd.config import load_settings
from zergd.daemon import acquire_lock
lock = acquire_lock(load_settings(), sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("holder", ["reindex", "import"])
@pytest.mark.parametrize("command", ["import", "reindex"])
def test_import_and_reindex_refuse_while_another_writer_holds_the_home(settings, holder, command):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        result = CliRunner().invoke(zergd, [command])
        assert result.exit_code == 1
        assert f"`zergd {holder}` (pid {proc.pid}) is using" in result.output
    finally:
        proc.kill()
        proc.wait()
    assert CliRunner().invoke(zergd, [command]).exit_code == 0


# --- 7. zergd check covers every generation, source and archive file ---------------


def check():
    return CliRunner().invoke(zergd, ["check"])


def test_check_on_a_home_never_imported_fails_and_creates_nothing(settings):
    (project(settings) / "a.jsonl").write_bytes(LINE % b"never archived")
    result = check()
    assert result.exit_code == 1
    assert "a.jsonl is not archived yet" in result.output
    assert not settings.index_path.exists()


def test_check_passes_after_import_and_verifies_sealed_generations(settings, index):
    path = project(settings) / "s.jsonl"
    path.write_bytes(LINE % b"first version" * 3)
    index.backfill()
    path.write_bytes(LINE % b"second")  # shorter: generation 2
    index.backfill()
    assert index.scalar("select sha256 is not null from generations where gen = 1") == 1
    result = check()
    assert result.exit_code == 0, result.output
    gen1 = settings.archive_dir / "testhost/claude/-p/s.jsonl"
    data = bytearray(gen1.read_bytes())
    data[3] ^= 1  # one flipped bit in an old generation
    gen1.write_bytes(bytes(data))
    result = check()
    assert result.exit_code == 1
    assert f"I5: {gen1}: archived bytes changed" in result.output
    assert "malformed" not in result.output


def test_check_reports_damage_to_the_current_generation_as_damage(settings, index):
    path = project(settings) / "s.jsonl"
    path.write_bytes(LINE % b"kept safe")
    index.backfill()
    archived = settings.archive_dir / "testhost/claude/-p/s.jsonl"
    archived.write_bytes(archived.read_bytes().replace(b"kept", b"KEPT"))
    result = check()
    assert result.exit_code == 1
    assert "damaged archive" in result.output and "malformed" not in result.output


def test_check_finds_archive_files_the_index_does_not_list(settings, index):
    (project(settings) / "s.jsonl").write_bytes(LINE % b"indexed")
    index.backfill()
    stray = settings.archive_dir / "testhost/claude/-p/other.jsonl"
    stray.write_bytes(LINE % b"copied in by hand")
    result = check()
    assert result.exit_code == 1
    assert f"{stray} is in the archive but not in the index" in result.output


# --- 8. ids are a function of the source; the machine's name is stable ---------------


def test_session_ids_do_not_depend_on_import_order_or_reindex(settings, tmp_path, monkeypatch):
    """Two copies of one agent file (the same short agent id in two sessions):
    whichever is seen first, both get the same ids, and a reindex keeps them."""
    from conftest import Index

    body = LINE % b"agent work"
    rels = ["-p/s1/subagents/agent-abc.jsonl", "-p/s2/subagents/agent-abc.jsonl", "-q/agent-abc.jsonl"]
    ids = []
    for order in (rels, rels[::-1]):
        home = tmp_path / f"home-{len(ids)}"
        monkeypatch.setenv("ZERG_HOME", str(home))
        from zergd.config import load_settings

        s = load_settings()
        for rel in sorted(p.relative_to(s.agent_dir("claude") / "projects").as_posix()
                          for p in (s.agent_dir("claude") / "projects").rglob("*.jsonl")):
            (s.agent_dir("claude") / "projects" / rel).unlink()
        idx = Index(s)
        for rel in order:  # one file at a time, as a live daemon meets them
            path = s.agent_dir("claude") / "projects" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            idx.backfill()
        ids.append(sorted(r[0] for r in idx.conn.execute("select id from sessions")))
        idx.index.close()
        assert CliRunner().invoke(zergd, ["reindex"]).exit_code == 0
        idx = Index(s)
        assert sorted(r[0] for r in idx.conn.execute("select id from sessions")) == ids[-1]
        idx.index.close()
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 3


def test_a_host_rename_neither_re_archives_nor_duplicates(settings, monkeypatch):
    import socket

    from zergd.config import load_settings

    monkeypatch.delenv("ZERG_HOST")
    (project(settings) / "s.jsonl").write_bytes(LINE % b"kept once")
    monkeypatch.setattr(socket, "gethostname", lambda: "alpha")
    assert CliRunner().invoke(zergd, ["import"]).exit_code == 0
    assert (settings.home / "machine-id").read_text().strip() == "alpha"  # from the first run on
    monkeypatch.setattr(socket, "gethostname", lambda: "beta")
    assert load_settings().host == "alpha"
    result = CliRunner().invoke(zergd, ["import"])
    assert result.exit_code == 0 and "0 changed" in result.output
    assert [p.name for p in settings.archive_dir.iterdir()] == ["alpha"]
    assert (settings.home / "machine-id").read_text().strip() == "alpha"


def test_an_archive_from_before_machine_ids_keeps_its_folder(settings, monkeypatch):
    import socket

    from zergd.config import load_settings

    monkeypatch.delenv("ZERG_HOST")
    old = settings.archive_dir / "old-laptop" / "claude" / "-p" / "s.jsonl"
    old.parent.mkdir(parents=True)
    old.write_bytes(LINE % b"from before")
    monkeypatch.setattr(socket, "gethostname", lambda: "new-name")
    assert load_settings().host == "old-laptop"


def test_a_copied_session_gets_a_qualified_id_and_reindex_keeps_both(settings, index):
    uuid = "0c0ffee0-1111-4222-8333-444455556666"
    for folder, text in (("-a", b"original"), ("-b", b"copy")):
        (project(settings, folder) / f"{uuid}.jsonl").write_bytes(LINE % text)
    index.backfill()
    ids = sorted(r[0] for r in index.conn.execute("select id from sessions"))
    assert ids[0] == uuid and ids[1].startswith(uuid + "-") and len(ids) == 2
    assert export(uuid).stdout_bytes == LINE % b"original"
    assert CliRunner().invoke(zergd, ["reindex"]).exit_code == 0
    from conftest import Index

    again = Index(settings)
    try:
        assert sorted(r[0] for r in again.conn.execute("select id from sessions")) == ids
    finally:
        again.index.close()


def test_ids_survive_a_reindex_in_another_order(settings, index):
    """The copy archived first keeps the plain id even when a reindex (which
    walks the archive in name order) meets the other copy first."""
    uuid = "0c0ffee0-1111-4222-8333-444455556666"
    (project(settings, "-b") / f"{uuid}.jsonl").write_bytes(LINE % b"first, in -b")
    index.backfill()
    (project(settings, "-a") / f"{uuid}.jsonl").write_bytes(LINE % b"second, in -a")
    index.backfill()
    before = dict(index.conn.execute("select s.rel, x.id from sessions x join sources s on s.id = x.source_id"))
    assert before[f"-b/{uuid}.jsonl"] == uuid and before[f"-a/{uuid}.jsonl"] != uuid
    for _ in range(2):
        assert CliRunner().invoke(zergd, ["reindex"]).exit_code == 0
        from conftest import Index

        again = Index(settings)
        try:
            after = dict(again.conn.execute("select s.rel, x.id from sessions x join sources s on s.id = x.source_id"))
        finally:
            again.index.close()
        assert after == before
        assert export(uuid).stdout_bytes == LINE % b"first, in -b"
    assert (settings.archive_dir / "session-ids.jsonl").read_bytes().count(b"\n") == 2


def test_an_index_from_before_pure_ids_is_migrated(settings, index):
    from conftest import Index

    from zergd.index.naming import session_id_for

    (project(settings) / "s" / "subagents").mkdir(parents=True)
    (project(settings) / "s" / "subagents" / "agent-abc.jsonl").write_bytes(LINE % b"sub")
    index.backfill()
    new_id = session_id_for("claude", "-p/s/subagents/agent-abc.jsonl")
    index.conn.execute("update sessions set id = 'agent-abc'")  # as the old code named it
    index.conn.execute("delete from _migrations where name = 'm005_pure_subagent_ids'")
    index.index.close()
    again = Index(settings)
    try:
        assert [r[0] for r in again.conn.execute("select id from sessions")] == [new_id]
    finally:
        again.index.close()
