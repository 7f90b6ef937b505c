"""Shipping sessions between machines: two real daemons on one machine (two
ZERG_HOMEs, two ports).  The shipping side is this test's own home (machine
"testhost", see conftest); the receiving side is another home ("server")."""

import gzip
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from conftest import CORPUS, needs_corpus
from test_daemon import free_port, wait_for

from zergd.config import load_settings
from zergd.index import open_index
from zergd.index.export import copy_archived, pick_generation
from zergd.invariants import check_all
from zergd.ship.protocol import CONTENT_TYPE, Item, encode


class Home:
    """One zergd home: its environment, its CLI, its daemon."""

    def __init__(self, root: Path, host: str):
        self.root = root
        self.env = {**os.environ, "ZERG_HOME": str(root / "zerg"), "CLAUDE_CONFIG_DIR": str(root / "claude"),
                    "CODEX_HOME": str(root / "codex"), "ZERG_HOST": host, "ZERG_RESCAN_INTERVAL": "0.5"}
        self.host = host
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def run(self, *args, tool="zergd", check=False, timeout=120, input=None):
        code = f"from zergd.cli import {tool}; {tool}()"
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=self.env,
                              timeout=timeout, input=input)
        if check:
            assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    def start(self, *extra):
        self.run("start", "--port", str(self.port), *extra, check=True)

    def status(self) -> dict:
        proc = self.run("status", "--json")
        return json.loads(proc.stdout)

    def pid(self) -> int | None:
        return self.status().get("pid")

    def kill9(self):
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not self.status()["running"])

    def stop(self):
        self.run("stop")
        state = self.root / "zerg" / "zergd.json"
        if state.exists():
            try:
                os.kill(json.loads(state.read_text())["pid"], signal.SIGKILL)
            except (ProcessLookupError, KeyError, ValueError):
                pass

    def settings(self, monkeypatch):
        with monkeypatch.context() as m:
            for key in ("ZERG_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "ZERG_HOST"):
                m.setenv(key, self.env[key])
            return load_settings()

    def token(self, name="laptop", machine="testhost", *extra) -> str:
        return self.run("token", "create", name, "--machine", machine, *extra, check=True).stdout.strip()


@pytest.fixture
def server(tmp_path):
    home = Home(tmp_path / "server", "server")
    yield home
    home.stop()


@pytest.fixture
def client(settings):
    home = Home(settings.home.parent, settings.host)
    yield home
    home.stop()


def post(home: Home, body: bytes, token: str | None, headers: dict | None = None, path="/api/ingest"):
    conn = http.client.HTTPConnection("127.0.0.1", home.port, timeout=60)
    sent = {"Host": f"127.0.0.1:{home.port}", "Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip",
            **({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    try:
        conn.request("POST", path, body=body, headers=sent)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def item(rel, data, *, gen=1, offset=0, provider="claude", prev=None, digest=None):
    return Item("range", provider, rel, gen, offset, len(data), digest or hashlib.sha256(data).hexdigest(), prev), data


def archive_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def session_rows(settings) -> dict[str, tuple]:
    index = open_index(settings)
    try:
        with index.reader() as r:
            return {sid: rest for sid, *rest in r.conn.execute(
                "select id, lines, user_messages, assistant_messages, tool_calls, agent_type, input_tokens,"
                " output_tokens from sessions")}
    finally:
        index.close()


LINE = b'{"type":"user","message":{"role":"user","content":"hello from the laptop"},"uuid":"u1"}\n'


def test_refused_requests_write_nothing(server):
    """A wrong token, a tampered range, a gap, '..', the server's own machine
    name, a 100 MB body and a gzip bomb: each refused with a 4xx that says
    why, and the receiving side's archive and index stay empty."""
    server.start()
    rel = "-home-me-proj/11111111-2222-4333-8444-555555555555.jsonl"
    good = encode("laptop", [item(rel, LINE)])

    status, answer = post(server, good, "zerg_nothing")
    assert status == 403 and "ingest is off" in answer["detail"]
    token = server.token(machine="laptop")
    assert post(server, good, None)[0] == 401
    assert post(server, good, token + "x")[0] == 401

    tampered = encode("laptop", [item(rel, LINE, digest=hashlib.sha256(b"other").hexdigest())])
    status, answer = post(server, tampered, token)
    assert status == 400 and "sha256" in answer["detail"]
    status, answer = post(server, encode("laptop", [item(rel, LINE, offset=10)]), token)
    assert status == 409 and answer["results"][0]["offset"] == 0 and not answer["results"][0]["ok"]
    for bad in ("../escape.jsonl", "/etc/passwd.jsonl", "a/../../b.jsonl", "proj/notes.txt"):
        status, answer = post(server, encode("laptop", [item(bad, LINE)]), token)
        assert status == 400, (bad, answer)
    status, answer = post(server, encode("../up", [item(rel, LINE)]), token)
    assert status == 400 and "machine" in answer["detail"]
    status, answer = post(server, encode("server", [item(rel, LINE)]), token)
    assert status == 409 and "own machine name" in answer["detail"]
    status, answer = post(server, b"\x1f\x8b not gzip", token)
    assert status == 400

    big = os.urandom(1 << 20) * 100  # 100 MB, sent as is
    status, answer = post(server, big, token, {"Content-Encoding": "identity"})
    assert status == 413
    bomb = gzip.compress(b"{\"machine\":\"laptop\",\"items\":[]}\n" + bytes(300 << 20), 9)
    assert len(bomb) < 1 << 20
    status, answer = post(server, bomb, token)
    assert status == 413 and "decompressed" in answer["detail"]

    cross = post(server, good, token, {"Origin": "http://evil.example"})
    assert cross[0] == 403

    archive = server.root / "zerg" / "sessions"
    assert not archive.exists() or not any(p.is_file() for p in archive.rglob("*"))
    assert server.status()["sessions"] == 0

    # Then a good range lands; sent again it is acknowledged, not appended twice.
    for _ in range(2):
        status, answer = post(server, good, token)
        assert status == 200 and answer["results"][0] == {"kind": "range", "provider": "claude", "rel": rel,
                                                          "gen": 1, "offset": len(LINE), "ok": True}
    # The same offset with other bytes is a conflict: refused, and what is archived stays.
    other = LINE.replace(b"laptop", b"tablet")
    status, answer = post(server, encode("laptop", [item(rel, other)]), token)
    assert status == 409 and answer["results"][0]["reason"] == "conflict"
    assert (archive / "laptop" / "claude" / rel).read_bytes() == LINE
    # Overlapping the end: the part already here must match, the rest is appended.
    more = b'{"type":"user","message":{"role":"user","content":"second"},"uuid":"u2"}\n'
    status, answer = post(server, encode("laptop", [item(rel, LINE[-20:] + more, offset=len(LINE) - 20)]), token)
    assert status == 200 and answer["results"][0]["offset"] == len(LINE + more)
    assert (archive / "laptop" / "claude" / rel).read_bytes() == LINE + more
    assert server.status()["sessions"] == 1
    listed = server.run("token", "list", "--json", check=True).stdout
    assert json.loads(listed)[0]["last_machine"] == "laptop"


def test_generations_cross_over(server, client, sample, monkeypatch):
    """A source rewritten on the shipping side is a new generation there, and
    arrives as the same generation here; a new generation cannot start
    before the old one is complete."""
    server.start()
    token_file = client.root / "token"
    token_file.write_text(server.token())
    ship = ("ship", "--to", server.url, "--token-file", str(token_file))
    client.run(*ship, tool="zerg", check=True)
    source = next(sample.agent_dir("claude").joinpath("projects").rglob("*.jsonl"))
    source.write_bytes(LINE)  # shorter: a rewrite
    shipped = client.run(*ship, tool="zerg", check=True)
    assert "new bytes" in shipped.stderr
    mine = client.root / "zerg" / "sessions" / sample.host
    theirs = server.root / "zerg" / "sessions" / sample.host
    assert archive_digests(mine) == archive_digests(theirs)
    assert any(name.endswith(".gen2") for name in archive_digests(theirs))

    token = token_file.read_text()
    rel = source.relative_to(sample.agent_dir("claude") / "projects").as_posix()
    status, answer = post(server, encode(sample.host, [item(rel, b"x\n", gen=4, prev=0)]), token)
    assert status == 409 and "cannot start" in answer["results"][0]["error"]
    again = client.run(*ship, tool="zerg", check=True)
    assert "shipped 0 new bytes" in again.stderr

    server.stop()
    assert server.run("check").returncode == 0


@needs_corpus
def test_ship_the_corpus_byte_exact(server, client, corpus, monkeypatch):
    """`zerg ship` sends the real corpus once; the receiving side's `zerg
    export` of every session is sha256-equal to its source, subagents keep
    their sidecar's type, counts match, and I1-I5 hold on both sides."""
    server.start()
    token_file = client.root / "token"
    token_file.write_text(server.token())
    shipped = client.run("ship", "--to", server.url, "--token-file", str(token_file), tool="zerg", check=True)
    assert "the other side now has everything" in shipped.stderr

    there = server.settings(monkeypatch)
    index = open_index(there)
    sources = {p.relative_to(corpus.agent_dir("claude") / "projects").as_posix(): p
               for p in (corpus.agent_dir("claude") / "projects").rglob("*.jsonl")}
    sources.update({p.relative_to(corpus.agent_dir("codex") / "sessions").as_posix(): p
                    for p in (corpus.agent_dir("codex") / "sessions").rglob("*.jsonl")})
    try:
        with index.reader() as r:
            ids = {rel: sid for sid, rel in r.conn.execute(
                "select x.id, s.rel from sessions x join sources s on s.id = x.source_id where s.host = ?",
                (corpus.host,))}
            assert set(ids) == set(sources)
            for rel, path in sources.items():
                out = io.BytesIO()
                copy_archived(pick_generation(r.generations(ids[rel]), None), out)
                assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(path.read_bytes()).digest(), rel
        assert check_all(index) == []
    finally:
        index.close()
    one = sorted(ids.values())[0]
    exported = server.run("export", one, tool="zerg")
    assert exported.returncode == 0 and exported.stdout
    assert session_rows(there) == session_rows(corpus)

    # Listed under the machine's name, with a filter.
    status = server.status()
    assert [m["machine"] for m in status["machines"]] == [corpus.host]
    assert status["machines"][0]["bytes_behind"] == 0 and status["machines"][0]["last_delivery"] > 0
    assert f"{corpus.host}: " in server.run("status").stdout and "nothing behind" in server.run("status").stdout
    listed = server.run("sessions", "--machine", corpus.host, tool="zerg", check=True).stdout
    assert f"[{corpus.host}]" in listed
    assert server.run("sessions", "--machine", "elsewhere", tool="zerg", check=True).stdout == ""

    again = client.run("ship", "--to", server.url, "--token-file", str(token_file), tool="zerg", check=True)
    assert "shipped 0 new bytes" in again.stderr
    server.stop()
    assert server.run("check").returncode == 0
    assert client.run("check").returncode == 0


@needs_corpus
def test_a_different_file_under_the_same_name_is_a_conflict(server, client, corpus, tmp_path):
    """Two machines shipping as one name with different bytes: the second is
    told, nothing here is overwritten, and the rest still ships."""
    server.start()
    token_file = client.root / "token"
    token_file.write_text(server.token())
    ship = ("ship", "--to", server.url, "--token-file", str(token_file))
    client.run(*ship, tool="zerg", check=True)
    before = archive_digests(server.root / "zerg" / "sessions")

    other = Home(tmp_path / "other", corpus.host)  # another machine, same name
    shutil.copytree(corpus.agent_dir("claude") / "projects", other.root / "claude" / "projects")
    victims = [p for p in sorted((other.root / "claude" / "projects").rglob("*.jsonl")) if p.stat().st_size > 10_000][:4]
    for i, victim in enumerate(victims):  # the first the same length, the others longer
        victim.write_bytes(b"X" * 5000 + victim.read_bytes()[5000:] + (LINE * i))
    extra = other.root / "claude" / "projects" / "-new-proj" / "99999999-2222-4333-8444-555555555555.jsonl"
    extra.parent.mkdir()
    extra.write_bytes(LINE)
    proc = other.run(*ship, tool="zerg")
    assert proc.returncode == 1 and all(v.name in proc.stderr for v in victims), proc.stderr
    after = archive_digests(server.root / "zerg" / "sessions")
    assert {k: v for k, v in after.items() if k in before} == before
    assert any(k.endswith(extra.name) for k in after)

    # In batches so small that every conflict lands in its own: they do not stop the rest.
    from zergd.ship.shipper import Shipper

    more = other.root / "claude" / "projects" / "-new-proj" / "88888888-2222-4333-8444-555555555555.jsonl"
    more.write_bytes(LINE * 50)
    other.run("import", check=True)
    there = other.settings(pytest.MonkeyPatch())
    index = open_index(there)
    shipper = Shipper(there, server.url, token_file.read_text(), batch_bytes=200, index=index)
    try:
        shipper.scan()
        report = shipper.ship()
    finally:
        shipper.close()
        index.close()
    assert {rel.rsplit("/", 1)[-1] for _p, rel in report.conflicts} == {v.name for v in victims}
    assert (server.root / "zerg" / "sessions" / corpus.host / "claude" / "-new-proj" / more.name).read_bytes() == \
        more.read_bytes()


@needs_corpus
def test_continuous_shipping_survives_kill_9_on_both_sides(server, client, settings, corpus):
    """`zergd start --ship-to`: a grown corpus ships while both daemons are
    killed with -9 at random points and restarted, and appends keep coming.
    In the end both archives hold the same bytes, nothing is indexed twice
    (session counts equal), and I1-I5 hold on both sides."""
    grown = settings.home.parent / "grown"
    subprocess.run([sys.executable, str(CORPUS.parent / "tools" / "make_corpus.py"), "--out", str(grown),
                    "--mb", "30", "--seed", "5"], check=True, capture_output=True)
    shutil.copytree(grown / "claude" / "projects", settings.agent_dir("claude") / "projects", dirs_exist_ok=True)
    targets = sorted((settings.agent_dir("claude") / "projects").rglob("*.jsonl"))[::40]
    stop_appending = threading.Event()

    def append_forever():
        i = 0
        while not stop_appending.is_set():
            with open(targets[i % len(targets)], "ab") as f:
                f.write(b'{"type":"user","message":{"role":"user","content":"ship chaos %d"}}\n' % i)
            i += 1
            time.sleep(0.01)

    server.start()
    token_file = client.root / "token"
    token_file.write_text(server.token())
    ship = ("--ship-to", server.url, "--token-file", str(token_file))
    client.start(*ship)
    appender = threading.Thread(target=append_forever)
    appender.start()
    rng = random.Random(14)
    try:
        for round_ in range(4):
            wait_for(lambda: server.status().get("lines", 0) > 0, timeout=60)
            time.sleep(rng.uniform(0.2, 1.5))
            (server if round_ % 2 == 0 else client).kill9()
            time.sleep(rng.uniform(0.1, 1.0))
            if not server.status()["running"]:
                server.start()
            if not client.status()["running"]:
                client.start(*ship)
    finally:
        stop_appending.set()
        appender.join()

    def caught_up():
        ship_status = client.status().get("shipping") or {}
        return ship_status.get("state") == "idle" and ship_status.get("files_behind") == 0 and \
            client.status().get("backlog") == 0
    wait_for(caught_up, timeout=180, interval=0.5)
    time.sleep(1.5)  # a rescan after the last append, then its shipping
    wait_for(caught_up, timeout=60, interval=0.5)
    status = client.status()
    assert status["shipping"]["conflicts"] == [] and status["shipping"]["error"] is None
    client.stop()
    server.stop()
    mine = archive_digests(client.root / "zerg" / "sessions" / settings.host)
    theirs = archive_digests(server.root / "zerg" / "sessions" / settings.host)
    assert mine == theirs
    for home in (client, server):
        checked = home.run("check")
        assert checked.returncode == 0, checked.stderr[-3000:]
    assert session_rows(settings) == session_rows(server.settings(pytest.MonkeyPatch()))


@needs_corpus
def test_an_append_arrives_and_status_tells_the_truth(server, client, corpus):
    """An append on the shipping side is searchable on the receiving side
    within seconds; with the receiving side down, status says shipping waits
    and how much is behind, and it resumes by itself."""
    server.start()
    token_file = client.root / "token"
    token_file.write_text(server.token())
    client.start("--ship-to", server.url, "--token-file", str(token_file))
    wait_for(lambda: (client.status().get("shipping") or {}).get("state") == "idle", timeout=60)
    target = sorted((corpus.agent_dir("claude") / "projects").rglob("*.jsonl"))[0]

    def searchable(word):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            conn.request("GET", f"/api/search?q={word}", headers={"Host": f"127.0.0.1:{server.port}"})
            return json.loads(conn.getresponse().read())["hits"]
        except OSError:
            return []
        finally:
            conn.close()

    with open(target, "ab") as f:
        f.write(b'{"type":"user","message":{"role":"user","content":"xyzzyshipped"}}\n')
    wait_for(lambda: searchable("xyzzyshipped"), timeout=10)

    server.kill9()
    with open(target, "ab") as f:
        f.write(b'{"type":"user","message":{"role":"user","content":"plughwaiting"}}\n')
    waiting = wait_for(lambda: (s := client.status().get("shipping")) and s["state"] == "waiting" and s, timeout=20)
    assert waiting["files_behind"] == 1 and waiting["bytes_behind"] > 0 and "127.0.0.1" in waiting["error"]
    text = client.run("status").stdout
    assert f"shipping to {server.url}" in text and "1 file" in text and "behind" in text
    server.start()
    wait_for(lambda: searchable("plughwaiting"), timeout=30)
    assert orjson.loads(client.run("status", "--json").stdout)["shipping"]["files_behind"] == 0


def test_a_wrong_belief_about_the_other_side_heals(server, client, sample, index, monkeypatch):
    """The shipper believes the other side has more (or less) than it has:
    the answers correct it, the batch built on the wrong belief is dropped,
    and what arrives is still byte-exact, each byte once."""
    from zergd.ship.shipper import Shipper

    index.backfill()
    server.start()
    token = server.token()
    shipper = Shipper(sample, server.url, token, batch_bytes=300, index=index.index)
    try:
        shipper.scan()
        shipper.sync_state()
        keys = sorted(shipper.files)
        shipper.acked[keys[0]] = (1, 200)  # a gap: the other side has nothing yet
        report = shipper.ship()
        assert report.conflicts == {} and report.requests > 3
        mine = client.root / "zerg" / "sessions" / sample.host
        theirs = server.root / "zerg" / "sessions" / sample.host
        assert archive_digests(mine) == archive_digests(theirs)
        lines = server.status()["lines"]
        shipper.acked[keys[1]] = (1, 10)  # less than it has: the overlap is checked and acknowledged
        shipper.ship()
        assert archive_digests(mine) == archive_digests(theirs) and server.status()["lines"] == lines
        assert shipper.ship().bytes == 0
        assert shipper.behind() == (0, 0)
    finally:
        shipper.close()
    server.stop()
    assert server.run("check").returncode == 0


def test_shipping_to_a_postgresql_backed_zergd(tmp_path, client, sample, pg_url):
    """The receiving side's index on PostgreSQL: the same protocol, the same
    byte-exact archive, and `zergd check` proves I1-I5 there."""
    server = Home(tmp_path / "pgserver", "server")
    server.env["ZERG_DATABASE_URL"] = pg_url
    try:
        server.start()
        token_file = client.root / "token"
        token_file.write_text(server.token())
        ship = ("ship", "--to", server.url, "--token-file", str(token_file))
        client.run(*ship, tool="zerg", check=True)
        assert "shipped 0 new bytes" in client.run(*ship, tool="zerg", check=True).stderr
        assert archive_digests(client.root / "zerg" / "sessions" / sample.host) == \
            archive_digests(server.root / "zerg" / "sessions" / sample.host)
        assert server.status()["machines"][0]["machine"] == sample.host
    finally:
        server.stop()
    checked = server.run("check")
    assert checked.returncode == 0, checked.stderr


def test_ingest_from_another_host_needs_a_deliberate_host(settings):
    """Bound to loopback, ingest is refused to any client not on loopback
    (say, behind a proxy that forwards the real address); bound to all
    interfaces (zergd start --host 0.0.0.0), the token decides."""
    from fastapi.testclient import TestClient

    from zergd.api.app import create_app
    from zergd.ship.tokens import TokenStore

    token = TokenStore(settings.home).create("laptop")
    body = encode("laptop", [item("p/s.jsonl", LINE)])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip"}
    for bound, base, expected in (("127.0.0.1", "http://127.0.0.1:8080", 403), ("0.0.0.0", "http://lan-box:8080", 503)):
        app = create_app(settings, bound_host=bound, port=8080, public_url=base if bound == "0.0.0.0" else None)
        with TestClient(app, base_url=base, client=("192.168.1.20", 5555)) as c:  # a LAN client
            resp = c.post("/api/ingest", content=body, headers=headers)
        assert resp.status_code == expected, resp.text
        if expected == 403:
            assert "listens on 127.0.0.1 only" in resp.json()["detail"]
        else:  # past the token: this bare app has no writer to take it
            assert "needs the running daemon" in resp.json()["detail"]


def test_a_source_deleted_on_its_machine_is_marked_here(server, client, sample):
    """Claude Code's cleanup deletes a transcript on the laptop: the session
    here says so too (kept, marked); restored there, it is present again."""
    server.start()
    token_file = client.root / "token"
    token_file.write_text(server.token())
    ship = ("ship", "--to", server.url, "--token-file", str(token_file))
    client.run(*ship, tool="zerg", check=True)
    main = "5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f"

    def deleted_there():
        listed = json.loads(server.run("sessions", "--deleted", "--json", tool="zerg", check=True).stdout)
        return {s["id"]: s["source_deleted_at"] for s in listed}

    assert deleted_there() == {}
    (sample.agent_dir("claude") / "projects" / "-home-dev-webapp" / f"{main}.jsonl").unlink()
    client.run(*ship, tool="zerg", check=True)
    marked = deleted_there()
    assert list(marked) == [main] and marked[main].startswith("20")
    assert client.run("restore", main, tool="zerg").returncode == 0
    client.run(*ship, tool="zerg", check=True)
    assert deleted_there() == {}
    assert server.run("export", main, tool="zerg", check=True).stdout.encode() == \
        (sample.agent_dir("claude") / "projects" / "-home-dev-webapp" / f"{main}.jsonl").read_bytes()
