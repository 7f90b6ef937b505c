"""The team server's receiving side, attacked as another machine on the
network would: forged machine names, aliases of paths, subagents attached
to someone else's session, header bombs, slow senders, a full disk, a wiped
server.  Real daemons over real HTTP (see test_ship.Home)."""

import errno
import gzip
import hashlib
import http.client
import json
import socket
import statistics
import threading
import time

import orjson
import pytest
from test_daemon import wait_for
from test_ship import LINE, Home, client, item, post  # noqa: F401 (client: a fixture)

from zergd.api.access import LOCAL_HEADER, local_key
from zergd.ship.protocol import CONTENT_TYPE, encode

SESSION = "-home-me-proj/11111111-2222-4333-8444-555555555555.jsonl"
OWNER_SESSION = "5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f"  # the server's own (tests/fixtures)


@pytest.fixture
def team_server(tmp_path):
    """A server behind its public URL (as behind a TLS proxy on its machine), with one admin."""
    home = Home(tmp_path / "server", "server")
    home.env["ZERG_HEADER_TIMEOUT"] = "1"
    home.run("user", "add", "alice", "--admin", "--password-stdin", input="alice-password\n", check=True)
    home.run("user", "add", "bob", "--password-stdin", input="bob-password\n", check=True)
    yield home
    home.stop()


def files_under(home: Home, machine: str) -> list[str]:
    root = home.root / "zerg" / "sessions" / machine
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def get(home: Home, path: str, key: str | None = None, host: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", home.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{home.port}",
                                           **({LOCAL_HEADER: key} if key else {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_token_writes_only_as_its_own_machine(team_server, sample):
    server = team_server
    claude = server.root / "claude" / "projects"
    import shutil

    shutil.copytree(sample.agent_dir("claude") / "projects", claude, dirs_exist_ok=True)
    server.start("--public-url", server.url)
    wait_for(lambda: server.status().get("sessions", 0) > 0)
    token_a = server.token("alice-laptop", machine="laptop-a")
    token_b = server.token("bob-desktop", "desktop-b", "--user", "bob")

    # Another machine's name, its case-folded spelling, a name with a newline, the server's own.
    status, answer = post(server, encode("desktop-b", [item(SESSION, LINE)]), token_a)
    assert status == 403 and "ships only as machine 'laptop-a'" in answer["detail"]
    for forged in ("laptop-a\n", "laptop-a/../desktop-b", "lapto\u0440-a"):
        status, answer = post(server, encode(forged, [item(SESSION, LINE)]), token_a)
        assert status == 400, forged
    for own in ("server", "SERVER"):
        status, answer = post(server, encode(own, [item(SESSION, LINE)]), token_a)
        assert status == 409 and "own machine name" in answer["detail"]
    assert files_under(server, "desktop-b") == [] and files_under(server, "laptop-a") == []

    # Aliases of one path, names the disk refuses, and a folder named like a transcript: 400, nothing written.
    for bad in ("-home-me-proj/./s.jsonl", "-home-me-proj//s.jsonl", "a/" * 40 + "s.jsonl",
                "p/" + "x" * 300 + ".jsonl", "p/s.jsonl/subagents/agent-a.jsonl"):
        status, answer = post(server, encode("laptop-a", [item(bad, LINE)]), token_a)
        assert status == 400, (bad, answer)
    mark = {"kind": "mark", "provider": "claude", "rel": SESSION, "length": 0,
            "sha256": hashlib.sha256(b"").hexdigest(), "deleted_at": "2026-13-45T99:99:99Z"}
    body = gzip.compress(orjson.dumps({"machine": "laptop-a", "items": [mark]}) + b"\n")
    assert post(server, body, token_a)[0] == 400

    # The case-folded name lands under the token's own spelling.
    status, answer = post(server, encode("LAPTOP-A", [item(SESSION, LINE)]), token_a)
    assert status == 200 and answer["machine"] == "laptop-a"
    assert files_under(server, "laptop-a") == [f"claude/{SESSION}"]
    assert not (server.root / "zerg" / "sessions" / "LAPTOP-A").exists()

    # A subagent under the server owner's session, shipped by bob's desktop: refused, nothing written.
    evil = f"-home-dev-webapp/{OWNER_SESSION}/subagents/agent-evil.jsonl"
    status, answer = post(server, encode("desktop-b", [item(evil, LINE)]), token_b)
    assert status == 409 and answer["results"][0]["reason"] == "conflict"
    assert files_under(server, "desktop-b") == []
    key = local_key(server.root / "zerg")
    status, detail = get(server, f"/api/sessions/{OWNER_SESSION}", key)
    assert status == 200 and sorted(s["agent_id"] for s in json.loads(detail)["subagents"]) == ["1a2b3c4d", "a1b2c3d4e5f6a7b8c"]

    # An empty request registers no machine; a claim of petabytes behind is not believed.
    status, _ = post(server, encode("desktop-b", []), token_b)
    assert status == 200
    assert "desktop-b" not in {m["machine"] for m in server.status()["machines"]}
    status, _ = post(server, encode("laptop-a", [item(SESSION, LINE)]), token_a, {"X-Zerg-Behind": "9" * 30})
    [laptop] = [m for m in server.status()["machines"] if m["machine"] == "laptop-a"]
    assert laptop["bytes_behind"] is None


def test_a_header_bomb_is_refused_before_it_is_parsed(team_server):
    """A 1.1 MB gzip request whose header is a list of 128M numbers: 413,
    the server stays under 150 MB and the Timeline answers meanwhile."""
    server = team_server
    server.start("--public-url", server.url)
    token = server.token("alice-laptop", machine="laptop-a")
    raw = b'{"machine":"laptop-a","items":[' + b"0," * (128 << 20) + b"0]}\n"
    bomb = gzip.compress(raw, 9)
    del raw
    assert len(bomb) < 2 << 20
    key = local_key(server.root / "zerg")
    pid = server.status()["pid"]
    answers, done = [], threading.Event()

    def bombard():
        while not done.is_set():
            answers.append(post(server, bomb, token))

    poster = threading.Thread(target=bombard)
    poster.start()
    latencies = []
    try:
        while len(latencies) < 40 or len(answers) < 3:
            t = time.perf_counter()
            status, _ = get(server, "/api/sessions?limit=50", key)
            assert status == 200
            latencies.append(time.perf_counter() - t)
            time.sleep(0.02)
    finally:
        done.set()
        poster.join()
    assert all(status == 413 and "header line" in answer["detail"] for status, answer in answers)
    with open(f"/proc/{pid}/status") as f:
        peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    assert peak_kb < 150 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
    p95 = statistics.quantiles(latencies, n=20)[18]
    assert p95 < 0.1, f"Timeline p95 {p95 * 1000:.0f} ms during the bombs"


def test_slow_senders_are_cut_off(team_server):
    server = team_server
    server.start("--public-url", server.url)
    slow = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(s)
    time.sleep(0.5)
    for s in slow:
        s.sendall(b"a")  # a byte now and then keeps no connection alive past the header deadline
    deadline = time.monotonic() + 10
    closed = 0
    for s in slow:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            closed += s.recv(100) == b""
        except (ConnectionResetError, socket.timeout):
            closed += 0
        s.close()
    assert closed == 50
    key = local_key(server.root / "zerg")
    assert get(server, "/api/status", key)[0] == 200


def test_a_full_disk_answers_507_and_status_tells(settings, monkeypatch):
    """ENOSPC while a shipped range is archived: 507 with Retry-After, the
    fault in the server's status, nothing indexed; it clears when space is back."""
    from fastapi.testclient import TestClient

    from zergd import archive
    from zergd.api.app import create_app
    from zergd.events import EventBus
    from zergd.ship.tokens import TokenStore
    from zergd.watch.service import ArchiveService

    token = TokenStore(settings.home).create("laptop", machine="laptop-a", own_host=settings.host)
    svc = ArchiveService(settings, EventBus(), rescan_interval=60)
    svc.start()
    assert svc.ready.wait(10)
    real_append = archive.append
    full = [True]

    def append(path, data):
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_append(path, data)

    monkeypatch.setattr(archive, "append", append)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip"}
    body = encode("laptop-a", [item(SESSION, LINE)])
    try:
        with TestClient(create_app(settings, svc), base_url="http://127.0.0.1:8080", client=("127.0.0.1", 5555)) as c:
            resp = c.post("/api/ingest", content=body, headers=headers)
            assert resp.status_code == 507 and resp.headers["retry-after"] == "60"
            assert "No space left" in resp.json()["detail"]
            faults = c.get("/api/status").json()["faults"]
            assert [f["path"] for f in faults] == ["ingest from laptop-a"] and "507" in faults[0]["reason"]
            full[0] = False
            resp = c.post("/api/ingest", content=body, headers=headers)
            assert resp.status_code == 200, resp.text
            assert c.get("/api/status").json()["faults"] == []
    finally:
        svc.stop()


def test_a_wiped_server_is_refilled_within_one_scan(tmp_path, client, sample, settings):  # noqa: F811
    """The server's archive and index are wiped (or restored from an old
    backup) between two contacts of a continuous shipper that believes it is
    up to date: its next full scan asks the server again and ships it all back."""
    import shutil

    from zergd.ship.loop import ShipLoop
    from zergd.ship.shipper import Shipper

    server = Home(tmp_path / "server", "server")
    try:
        server.start()
        token = server.token()
        client.run("import", check=True)
        shipper = Shipper(settings, server.url, token)
        shipper.scan()
        shipper.ship()
        before = files_under(server, "testhost")
        assert len(before) >= 4 and shipper.behind() == (0, 0)

        server.stop()
        for name in ("sessions", "index.db", "index.db-wal", "index.db-shm"):
            path = server.root / "zerg" / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        server.start()  # tokens.json stays: the same token ships again
        loop = ShipLoop(shipper)
        loop.start()
        try:
            wait_for(lambda: files_under(server, "testhost") == before, timeout=20)
        finally:
            loop.stop()
        assert shipper.behind() == (0, 0)
    finally:
        server.stop()


def sign_in(home: Home, name: str, password: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", home.port, timeout=30)
    try:
        conn.request("POST", "/api/login", body=json.dumps({"name": name, "password": password}),
                     headers={"Host": f"127.0.0.1:{home.port}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        return resp.getheader("set-cookie").split(";")[0]
    finally:
        conn.close()


def listen(home: Home, cookie: str, seen: list, conns: list) -> None:
    """Collect the session ids of the live events one signed-in browser gets
    (until its connection is shut down)."""
    conn = http.client.HTTPConnection("127.0.0.1", home.port, timeout=60)
    conn.request("GET", "/api/events", headers={"Host": f"127.0.0.1:{home.port}", "Cookie": cookie})
    resp = conn.getresponse()
    assert resp.status == 200
    conns.append(conn)
    try:
        while line := resp.fp.readline():
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if "session" in event:
                    seen.append(event["session"]["id"])
    except (OSError, ValueError):
        pass


def test_live_events_go_only_to_who_may_see_them(team_server):
    """Two browsers signed in as alice and bob; bob's desktop and alice's
    laptop ship appends: each stream carries only its user's sessions."""
    from team import ALICE_LAPTOP, BOB_DESKTOP, FILES, transcript

    server = team_server
    server.start("--public-url", server.url)
    token_a = server.token("alice-laptop", machine="laptop-a")
    token_b = server.token("bob-desktop", "desktop-b", "--user", "bob")
    seen = {"alice": [], "bob": []}
    conns = []
    streams = [threading.Thread(target=listen, args=(server, sign_in(server, name, f"{name}-password"), seen[name],
                                                     conns)) for name in seen]
    for t in streams:
        t.start()
    wait_for(lambda: len(conns) == 2)
    try:
        [(rel_a, data_a)] = FILES["laptop-a"].items()
        [(rel_b, data_b)] = FILES["desktop-b"].items()
        assert post(server, encode("laptop-a", [item(rel_a, data_a)]), token_a)[0] == 200
        assert post(server, encode("desktop-b", [item(rel_b, data_b)]), token_b)[0] == 200
        more = transcript(BOB_DESKTOP, "/home/bob/infra", "and the replica?", "Rotated there too.",
                          ts="2026-05-04T11:00:00.000Z")
        assert post(server, encode("desktop-b", [item(rel_b, more, offset=len(data_b))]), token_b)[0] == 200
        wait_for(lambda: BOB_DESKTOP in seen["bob"] and ALICE_LAPTOP in seen["alice"])
        time.sleep(1)
    finally:
        for conn in conns:
            conn.sock.shutdown(socket.SHUT_RDWR)
        for t in streams:
            t.join(5)
    assert set(seen["bob"]) == {BOB_DESKTOP}
    assert set(seen["alice"]) == {ALICE_LAPTOP}
