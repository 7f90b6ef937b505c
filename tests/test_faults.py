"""The live writer never silently dies: a fault in one file is that file's,
transient faults (disk full, index full) back off and resume by themselves
with nothing lost, and status tells the truth all along."""

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from conftest import Index
from test_tailing import LINE, found, project, wait_for

from zergd.api.app import create_app
from zergd.events import EventBus
from zergd.index import sqlite as sqlite_mod
from zergd.index.transaction import sqlite_unavailable
from zergd.invariants import check_all
from zergd.watch import tailer
from zergd.watch.service import ArchiveService


@pytest.fixture
def make_service(settings):
    started = []

    def make(rescan_interval=0.5):
        svc = ArchiveService(settings, EventBus(), rescan_interval=rescan_interval)
        svc.start()
        assert svc.ready.wait(10)
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop()


def status(settings, svc):
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, svc), base_url="http://127.0.0.1:8080") as client:
        return client.get("/api/status").json()


def fault_paths(svc):
    return {os.path.basename(f["path"]): f for f in svc.faults.snapshot()}


def test_disk_full_on_the_archive_waits_and_resumes_with_nothing_lost(settings, make_service, monkeypatch):
    real_append = tailer.archive.append
    full = {"on": True}

    def append(path, data):
        if full["on"]:
            # Half the bytes reach the disk, then ENOSPC: what a real full disk does.
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as f:
                f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_append(path, data)

    monkeypatch.setattr(tailer.archive, "append", append)
    svc = make_service()
    folder = project(settings)
    data = "".join(LINE % f"disk full pelican {i}" for i in range(50)).encode()
    (folder / "full.jsonl").write_bytes(data)
    fault = wait_for(lambda: fault_paths(svc).get("full.jsonl"))
    assert fault["kind"] == "waiting" and "disk full" in fault["reason"]
    report = status(settings, svc)
    assert [f["path"].endswith("full.jsonl") for f in report["faults"]] == [True]
    assert report["state"] == "watching"
    (folder / "other.jsonl").write_bytes((LINE % "unaffected heron").encode())  # other files still tried

    full["on"] = False  # space is back: the retry (with back-off) finishes the file by itself
    wait_for(lambda: not svc.faults.snapshot(), timeout=20)
    reader = Index(settings)
    try:
        wait_for(lambda: found(reader, "pelican"))
        assert found(reader, "heron")
        assert (settings.archive_dir / "testhost/claude/-live/full.jsonl").read_bytes() == data
        assert check_all(reader.index) == []
    finally:
        reader.index.close()


def test_index_full_pauses_writes_and_resumes_by_itself(settings, make_service, monkeypatch):
    """SQLite's own "database or disk is full", from a page limit on the
    writer's connection: fault injection without filling the real disk."""
    conns, full = [], {"on": True}
    real_connect = sqlite_mod.connect

    def connect(*args, **kwargs):
        db = real_connect(*args, **kwargs)
        conns.append(db.conn)
        if full["on"]:
            pages = db.conn.execute("pragma page_count").fetchone()[0]
            db.conn.execute(f"pragma max_page_count = {pages + 5}")
        return db

    monkeypatch.setattr(sqlite_mod, "connect", connect)
    svc = make_service()
    folder = project(settings)
    data = "".join(LINE % f"index full walrus {i} {'w' * 300}" for i in range(400)).encode()
    (folder / "big.jsonl").write_bytes(data)
    # Whether the live sync or a rescan meets it first, status says the index is full.
    fault = wait_for(lambda: fault_paths(svc).get("big.jsonl") or fault_paths(svc).get("index"))
    assert fault["kind"] == "waiting" and "full" in fault["reason"]
    assert any("full" in f["reason"] for f in status(settings, svc)["faults"])

    full["on"] = False
    for conn in conns:
        try:
            conn.execute("pragma max_page_count = 1073741823")
        except sqlite3.ProgrammingError:  # closed by the writer's restart
            pass
    wait_for(lambda: not svc.faults.snapshot(), timeout=30)
    reader = Index(settings)
    try:
        wait_for(lambda: reader.scalar("select count(*) from lines") == 400)
        assert check_all(reader.index) == []
    finally:
        reader.index.close()


def test_a_bug_in_one_file_does_not_stop_the_writer(settings, make_service, monkeypatch):
    real = tailer.sync_source

    def explode_on_bad(writer, archive_dir, source, src, *args, **kwargs):
        if source.rel.endswith("bad.jsonl"):
            raise RuntimeError("unexpected parser state")
        return real(writer, archive_dir, source, src, *args, **kwargs)

    monkeypatch.setattr(tailer, "sync_source", explode_on_bad)
    folder = project(settings)
    (folder / "bad.jsonl").write_bytes((LINE % "bad one").encode())
    svc = make_service()
    (folder / "good.jsonl").write_bytes((LINE % "still archived narwhal").encode())
    reader = Index(settings)
    try:
        wait_for(lambda: found(reader, "narwhal"))
    finally:
        reader.index.close()
    fault = fault_paths(svc)["bad.jsonl"]
    assert fault["kind"] == "error" and "unexpected parser state" in fault["reason"]
    assert svc.state == "watching"


def test_fifo_and_escaping_link_appear_in_status_while_running(settings, make_service, tmp_path):
    svc = make_service()
    folder = project(settings)
    os.mkfifo(folder / "pipe.jsonl")
    os.mkfifo(os.path.join(os.fsencode(folder), b"pipe-\xff.jsonl"))  # its name is not UTF-8 either
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    (folder / "escape.jsonl").symlink_to(outside)
    (folder / "ok.jsonl").write_bytes((LINE % "fine ocelot").encode())
    wait_for(lambda: {"pipe.jsonl", "escape.jsonl", "pipe-\\xff.jsonl"} <= set(fault_paths(svc)))
    reader = Index(settings)
    try:
        wait_for(lambda: found(reader, "ocelot"))
    finally:
        reader.index.close()
    report = status(settings, svc)
    assert {f["kind"] for f in report["faults"]} == {"skipped"}
    assert not (settings.archive_dir / "testhost/claude/-live/escape.jsonl").exists()
    # The FIFO gone, its note goes with the next pass.
    (folder / "pipe.jsonl").unlink()
    wait_for(lambda: "pipe.jsonl" not in fault_paths(svc), timeout=10)


def test_middle_rewrite_is_archived_by_the_next_rescan(settings, make_service):
    from test_integrity import middle_rewrite

    svc = make_service(rescan_interval=0.5)
    folder = project(settings)
    path = folder / "mid.jsonl"
    original = "".join(LINE % f"line {i} original" for i in range(400)).encode()
    path.write_bytes(original)
    gen2 = settings.archive_dir / "testhost/claude/-live/mid.jsonl.gen2"
    wait_for(lambda: (settings.archive_dir / "testhost/claude/-live/mid.jsonl").exists())
    wait_for(lambda: svc.last_rescan and not svc.backlog)
    rewritten = middle_rewrite(path)
    wait_for(lambda: gen2.exists() and gen2.read_bytes() == rewritten, timeout=10)


UNREADABLE_SCRIPT = r"""
import os, sys, time
from pathlib import Path
from zergd.config import load_settings
from zergd.events import EventBus
from zergd.index import open_index
from zergd.watch.service import ArchiveService

settings = load_settings()
projects = settings.agent_dir("claude") / "projects"
(projects / "-locked").mkdir(parents=True)
(projects / "-locked" / "x.jsonl").write_text("{}\n")
os.chmod(projects / "-locked", 0)
(projects / "-open").mkdir()
live = projects / "-open" / "s.jsonl"
live.write_text('{"type":"user","message":{"role":"user","content":"first"}}\n')
svc = ArchiveService(settings, EventBus(), rescan_interval=120)  # no rescan to hide behind
svc.start()
assert svc.ready.wait(20)
time.sleep(0.5)
with open(live, "a") as f:
    f.write('{"type":"user","message":{"role":"user","content":"appended capybara"}}\n')
index = open_index(settings)
def found():
    with index.reader() as reader:
        return reader.search("capybara")
deadline = time.monotonic() + 10
while time.monotonic() < deadline and not found():
    time.sleep(0.05)
print("live" if found() else "not live", flush=True)
print("fault" if any(f["path"].endswith("-locked") for f in svc.faults.snapshot()) else "no fault", flush=True)
svc.stop()
"""


def readable_modules(target: Path, env: dict) -> str:
    """Copy every module the check imports (zergd and what it needs, found by
    running the check once as this user in a scratch home) under ``target``;
    return it for PYTHONPATH."""
    import json
    import shutil
    import subprocess
    import sys
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="zerg-probe-"))
    try:
        home = {k: str(scratch / Path(v).name) if k in ("HOME", "ZERG_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME") else v
                for k, v in env.items()}
        report = "\nimport json, sys\nprint('MODULES', json.dumps([m.__file__ for m in list(sys.modules.values())" \
                 " if getattr(m, '__file__', None)]))"
        out = subprocess.run([sys.executable, "-c", UNREADABLE_SCRIPT + report], env=home, capture_output=True,
                             text=True, timeout=60).stdout
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(scratch)])
        shutil.rmtree(scratch, ignore_errors=True)
    files = json.loads(out.split("MODULES ", 1)[1])
    stdlib = Path(os.__file__).resolve().parent
    tops = set()
    for file in (Path(f).resolve() for f in files):
        parts = file.parts
        if "site-packages" in parts:
            i = len(parts) - 1 - parts[::-1].index("site-packages")
            tops.add(Path(*parts[: i + 2]))
        elif "zergd" in parts and not file.is_relative_to(stdlib):
            tops.add(Path(*parts[: len(parts) - 1 - parts[::-1].index("zergd") + 1]))
    target.mkdir(parents=True)
    for top in tops:
        (shutil.copytree if top.is_dir() else shutil.copy2)(top, target / top.name)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o644))
    return str(target)


def test_an_unreadable_folder_does_not_stop_live_tailing(tmp_path):
    """Needs a user that permissions apply to: as root, the check runs as nobody."""
    import shutil
    import subprocess
    import sys
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="zerg-perm-"))
    try:
        base.chmod(0o777)
        env = dict(os.environ, HOME=str(base), ZERG_HOME=str(base / "zerg"), ZERG_HOST="testhost",
                   CLAUDE_CONFIG_DIR=str(base / "claude"), CODEX_HOME=str(base / "codex"))
        command = [sys.executable, "-c", UNREADABLE_SCRIPT]
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip("running as root without setpriv: cannot make a folder unreadable")
            # nobody may not reach this clone or its virtual environment (a clone under a
            # mode-700 home): it gets a copy of the modules the check imports, where it can read them.
            env["PYTHONPATH"] = readable_modules(base / "lib", env)
            as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", os.path.realpath(sys.executable)]
            tried = subprocess.run([*as_nobody, "-c", "import zergd.watch.service"], env=env, capture_output=True,
                                   text=True, timeout=60, cwd=str(base))
            if tried.returncode:
                pytest.skip(f"nobody cannot run this Python with zergd: {tried.stderr.strip().splitlines()[-1:]}")
            command = [*as_nobody, "-c", UNREADABLE_SCRIPT]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=str(base))
        assert proc.stdout.split() == ["live", "fault"], proc.stderr[-3000:]
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(base)])
        shutil.rmtree(base, ignore_errors=True)


def test_a_name_that_is_not_utf8_does_not_lose_other_events(settings, make_service):
    make_service(rescan_interval=120)
    folder = project(settings)
    reader = Index(settings)
    (folder / "a.jsonl").write_bytes((LINE % "watcher is up").encode())
    wait_for(lambda: found(reader, "watcher"), timeout=10)  # a new folder's first file, found live
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jsonl"), "wb") as f:
        f.write((LINE % "latin name").encode())
    (folder / "b.jsonl").write_bytes((LINE % "same batch quetzal").encode())
    try:
        wait_for(lambda: found(reader, "quetzal"), timeout=10)
        wait_for(lambda: found(reader, "latin"), timeout=10)
    finally:
        reader.index.close()


@pytest.mark.parametrize("exc,kind", [
    (OSError(errno.ENOSPC, "No space left on device"), "waiting"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "waiting"),
    # The index's own errors reach the faults as the writer translates them.
    (sqlite_unavailable(sqlite3.OperationalError("database or disk is full")), "waiting"),
    (sqlite_unavailable(sqlite3.OperationalError("database is locked")), "waiting"),
    (sqlite_unavailable(sqlite3.OperationalError("no such table: lines")), "error"),
    (OSError(errno.EACCES, "Permission denied"), "error"),
    (OSError(errno.ELOOP, "Too many levels of symbolic links"), "error"),
    (UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed"), "error"),
    (sqlite3.IntegrityError("UNIQUE constraint failed: sessions.id"), "error"),
])
def test_faults_are_classified_so_transient_ones_retry_soon(exc, kind):
    from zergd.watch.faults import Faults

    faults = Faults()
    fault = faults.record("/x.jsonl", exc, now=1000.0)
    assert fault.kind == kind
    assert (fault.retry_at is not None) == (kind == "waiting")
    if kind == "waiting":  # back-off grows, up to a minute
        assert [faults.record("/x.jsonl", exc, now=1000.0).retry_at - 1000 for _ in range(8)][-1] == 60


def test_import_reports_a_file_it_cannot_archive_and_does_the_rest(settings):
    import subprocess
    import sys

    folder = project(settings)
    (folder / "loop.jsonl").symlink_to(folder / "loop.jsonl")
    (folder / "ok.jsonl").write_bytes((LINE % "imported anyway").encode())
    proc = subprocess.run([sys.executable, "-m", "zergd", "import"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "could not archive" in proc.stderr and "loop.jsonl" in proc.stderr
    assert "1 file could not be archived" in proc.stderr
    assert (settings.archive_dir / "testhost/claude/-live/ok.jsonl").exists()


def test_appends_made_while_the_watcher_restarts_are_found_at_once(settings):
    """A file whose name is not UTF-8 makes watchfiles drop its whole batch
    of events and stop.  An append made then (here: right after the start,
    beside a changing badly named file) is found within a second, not at the
    next periodic rescan; and once such a name made a watcher fail, it does
    not make the next ones fail each time the file changes."""
    import time

    from test_tailing import found as found_in

    folder = project(settings)
    other = folder.parent / "-odd"
    other.mkdir()
    odd = os.path.join(os.fsencode(other), b"notes-\xff.jsonl")
    session = folder / "steady.jsonl"
    session.write_bytes((LINE % "first quokka").encode())
    svc = ArchiveService(settings, EventBus(), rescan_interval=120)
    failures = []
    real = svc.request_rescan
    svc.request_rescan = lambda: (failures.append(time.monotonic()), real())
    svc.start()
    assert svc.ready.wait(10)
    reader = Index(settings)
    try:
        for i in range(10):
            with open(odd, "ab") as f:  # the badly named file changes...
                f.write(b"x\n")
            with open(session, "ab") as f:  # ...and, in the same moment, a session grows
                f.write((LINE % f"marsupial{i}x").encode())
            wait_for(lambda: found_in(reader, f"marsupial{i}x"), timeout=1.0)
            time.sleep(0.3)
        # The first change of the odd file made a watcher fail; the ones after did not.
        assert len(failures) <= 2  # the failure, and the rescan its successor owed once up
    finally:
        reader.index.close()
        svc.stop()
