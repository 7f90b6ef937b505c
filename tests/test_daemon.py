"""The real daemon as a subprocess on a temporary ZERG_HOME and CLAUDE_CONFIG_DIR."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import CORPUS, Index, needs_corpus

from zergd.invariants import check_all, check_rows


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zergd(*args, check=False, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "zergd", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def zerg(*args):
    proc = subprocess.run([sys.executable, "-c", "from zergd.cli import zerg; zerg()", *args],
                          capture_output=True, text=True, timeout=60)
    return proc


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {predicate}")


def status():
    proc = zergd("status", "--json")
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def daemon(settings, monkeypatch):
    monkeypatch.setenv("ZERG_RESCAN_INTERVAL", "0.5")
    port = free_port()
    started = []

    def start():
        proc = zergd("start", "--port", str(port), check=True)
        started.append(True)
        return proc

    yield start, port
    zergd("stop")
    info = (settings.home / "zergd.json")
    if info.exists():  # stop failed: do not leave a process behind
        try:
            os.kill(json.loads(info.read_text())["pid"], signal.SIGKILL)
        except (ProcessLookupError, KeyError, ValueError):
            pass


def wait_watching():
    return wait_for(lambda: status()[1].get("state") == "watching" and status()[1])


def test_start_status_stop(settings, daemon):
    start, port = daemon
    proc = start()
    assert f"http://127.0.0.1:{port}" in proc.stdout
    code, info = status()
    assert code == 0
    assert {"pid", "url", "backlog", "sessions", "lines", "roots", "uptime_s"} <= set(info)
    assert info["url"] == f"http://127.0.0.1:{port}"
    assert zergd("stop").returncode == 0
    code, info = status()
    assert code == 3 and info["running"] is False
    assert zergd("status").returncode == 3


def test_append_is_searchable(corpus, daemon):
    start, _port = daemon
    start()
    wait_watching()
    path = corpus.agent_dir("claude") / "projects/-Users-nicksol-Desktop-agentic-wallet/01131ba6-a26e-449d-8862-cc913608c7c2.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"type":"user","message":{"role":"user","content":"axolotl quantum marmalade"}}\n')
    hit = wait_for(lambda: "01131ba6" in zerg("search", "axolotl marmalade").stdout)
    assert hit


def test_second_instance_is_refused(settings, daemon):
    start, port = daemon
    start()
    pid = status()[1]["pid"]
    for args in (["start", "--port", str(free_port())], ["run", "--port", str(free_port())]):
        proc = zergd(*args)
        assert proc.returncode == 1
        assert f"already running (pid {pid}, http://127.0.0.1:{port})" in proc.stderr


def test_busy_port_is_a_clear_error(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = zergd("start", "--port", str(port))
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is busy" in proc.stderr


def test_stale_lock_after_kill_9_is_reclaimed(settings, daemon):
    start, _port = daemon
    start()
    pid = status()[1]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: status()[0] == 3)
    start()
    assert status()[1]["pid"] != pid


@needs_corpus
def test_kill_9_mid_backfill_then_restart(settings, daemon):
    """The chaos test: kill -9 while the start-up backfill runs and appends
    keep arriving; after a restart every export is byte-exact, nothing is
    indexed twice, and `zergd check` finds I1-I5 hold for every generation."""
    import threading

    big = settings.agent_dir("claude") / "projects"
    subprocess.run([sys.executable, str(CORPUS.parent / "tools" / "make_corpus.py"), "--out", str(settings.home.parent / "grown"),
                    "--mb", "80", "--seed", "3"], check=True, capture_output=True)
    shutil.copytree(settings.home.parent / "grown" / "claude" / "projects", big, dirs_exist_ok=True)
    targets = sorted(big.rglob("*.jsonl"))[::25]
    stop_appending = threading.Event()

    def append_forever():
        i = 0
        while not stop_appending.is_set():
            with open(targets[i % len(targets)], "ab") as f:  # split lines: a partial, then its end
                f.write(b'{"type":"user","message":{"role":"user","content":"chaos ')
                f.flush()
                f.write(b'%d"}}\n' % i)
            i += 1
            time.sleep(0.005)

    appender = threading.Thread(target=append_forever)
    start, _port = daemon
    start()
    appender.start()
    try:
        # The same answer that shows lines indexed must show the backfill still running.
        info = wait_for(lambda: (lambda i: i if i.get("lines", 0) > 0 else None)(status()[1]), interval=0.01)
        assert info["state"] == "backfilling", "backfill finished before the kill; grow the corpus"
        progress = info["backfill"]  # what `zergd status` and the Timeline show meanwhile
        assert progress["files_total"] > 0 and 0 < progress["bytes_done"] <= progress["bytes_total"]
        os.kill(info["pid"], signal.SIGKILL)
        wait_for(lambda: status()[0] == 3)
        start()
        wait_watching()
        time.sleep(1)
    finally:
        stop_appending.set()
        appender.join()
    wait_for(lambda: status()[1].get("backlog") == 0 and not status()[1].get("faults"))
    time.sleep(1.5)  # a rescan after the last append
    zergd("stop", check=True)
    checked = zergd("check")
    assert checked.returncode == 0, checked.stderr[-3000:]
    idx = Index(settings)
    try:
        assert check_all(idx.index) == []
        files = [p for p in big.rglob("*.jsonl")]
        assert idx.scalar("select count(*) from sources") == len(files)
        assert idx.scalar("select count(*) from generations") == len(files)
    finally:
        idx.index.close()


def test_root_created_after_start_is_watched(settings, daemon, tmp_path, monkeypatch):
    late = tmp_path / "late-claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(late))
    start, _port = daemon
    start()
    wait_watching()
    (late / "projects" / "-p").mkdir(parents=True)
    (late / "projects" / "-p" / "late.jsonl").write_bytes(
        b'{"type":"user","message":{"role":"user","content":"belated narwhal"}}\n')
    assert wait_for(lambda: "late" in zerg("search", "belated narwhal").stdout)


def test_logs(settings, daemon):
    """The log says what happened to the sessions: a source deleted (kept
    in the archive), and the same source put back (zerg restore)."""
    folder = settings.agent_dir("claude") / "projects" / "-home-mia"
    folder.mkdir(parents=True)
    sid = "1ab2c3d4-0000-4000-8000-000000000042"
    (folder / f"{sid}.jsonl").write_bytes(b'{"type":"user","message":{"role":"user","content":"lone heron"}}\n')
    start, _port = daemon
    start()
    proc = zergd("logs")
    assert proc.returncode == 0 and "listening on" in proc.stdout
    wait_for(lambda: sid in zerg("search", "heron").stdout)
    (folder / f"{sid}.jsonl").unlink()
    assert wait_for(lambda: f"source deleted: claude/-home-mia/{sid}.jsonl" in zergd("logs").stdout)
    assert zerg("restore", sid).returncode == 0
    assert wait_for(lambda: "source back:" in zergd("logs").stdout and sid in zergd("logs").stdout.split("source back:")[-1])


@needs_corpus
def test_stop_during_backfill_is_prompt_and_clean(settings, daemon):
    subprocess.run([sys.executable, str(CORPUS.parent / "tools" / "make_corpus.py"), "--out", str(settings.home.parent / "grown"),
                    "--mb", "40", "--seed", "4"], check=True, capture_output=True)
    shutil.copytree(settings.home.parent / "grown" / "claude" / "projects", settings.agent_dir("claude") / "projects", dirs_exist_ok=True)
    start, _port = daemon
    start()
    wait_for(lambda: status()[1].get("lines", 0) > 0, interval=0.01)
    t0 = time.monotonic()
    assert zergd("stop").returncode == 0
    assert time.monotonic() - t0 < 5
    idx = Index(settings)
    try:
        # Sources not read yet are not archived yet (I2 waits for the next
        # start); what was archived is indexed once and consistent.
        with idx.index.reader() as reader:
            assert check_rows(reader, settings.archive_dir) == []
        assert idx.index.integrity() == []
    finally:
        idx.index.close()


def test_listening_socket_is_tcp_so_responses_are_not_delayed():
    """asyncio sets TCP_NODELAY only when the socket says IPPROTO_TCP; without
    it each keep-alive response stalls ~40 ms on a delayed ACK."""
    from zergd.daemon import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


@pytest.mark.parametrize("command", [["-m", "zergd", "run"], ["-c", "from zergd.cli import zerg; zerg()", "serve"]])
def test_foreground_daemon_logs_to_stderr_without_a_tty(settings, command):
    """Under systemd or with output redirected: start-up, watched folders and
    the URL are on stderr (and `zerg serve` prints the URL on stdout)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, *command, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: status()[1].get("state") == "watching")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"listening on http://127.0.0.1:{port}" in err
    assert f"watching claude: {settings.agent_dir('claude') / 'projects'}" in err
    if "serve" in command:
        assert f"http://127.0.0.1:{port}" in out


def test_a_start_that_times_out_leaves_nothing_running(settings):
    port = free_port()
    proc = zergd("start", "--port", str(port), "--wait", "0.5")
    if proc.returncode == 0:  # this machine was fast enough: then it must really be running
        assert status()[0] == 0
        zergd("stop", check=True)
        return
    assert "did not answer within 0.5s and was stopped" in proc.stderr
    pid = int(re.search(r"pid (\d+)", proc.stderr).group(1))
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z")
    assert status()[0] == 3


def test_daemon_on_postgresql(sample, daemon, pg_url):
    """`zergd start --database postgresql://…`: the daemon writes there, the
    Timeline's API reads there, and `zerg` finds it with the same flag."""
    import urllib.request

    _start, port = daemon
    proc = zergd("start", "--port", str(port), "--database", pg_url, check=True)
    assert f"http://127.0.0.1:{port}" in proc.stdout
    info = wait_watching()
    assert info["index"]["kind"] == "postgresql" and info["sessions"] > 0
    live = sample.agent_dir("claude") / "projects" / "-pg-live" / "live.jsonl"
    live.parent.mkdir()
    live.write_bytes(b'{"type":"user","message":{"role":"user","content":"okapi in the database"}}\n')

    def api_hits():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=okapi", timeout=5) as r:
            return json.loads(r.read())["hits"]

    [hit] = wait_for(api_hits)
    assert hit["session_id"] == "live"
    found = zerg("search", "okapi", "--database", pg_url).stdout
    assert "(user, line 1)" in found and "/s/live?q=okapi#g" in found  # the hit's place in the Timeline
    assert "live" not in zerg("search", "okapi").stdout  # the SQLite file was never written
    assert "index: postgresql://" in zergd("status").stdout
