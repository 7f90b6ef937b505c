"""The team server: bound beyond loopback (or behind a proxy's public URL),
every route needs a signed-in user; each user sees their own machines'
sessions and what was shared with them, everywhere text leaves.

Two users (alice, the first admin, owns the server's own machine and her
laptop; bob, a member, owns his desktop), three machines, one index built
through the receiving side's own code."""

import shutil

import pytest
from fastapi.testclient import TestClient
from team import ALICE_LAPTOP, ALICE_OWN, BOB_DESKTOP, BOB_SECRET, FILES, OWN, ship_into

from zergd.accounts import Accounts
from zergd.api.access import COOKIE, LOCAL_HEADER, local_key
from zergd.api.app import create_app
from zergd.daemon import NotServable, check_entry
from zergd.ship.tokens import TokenError, TokenStore

PUBLIC = "http://zerg.test:8080"
ALICE_PW, BOB_PW = "alice-correct-horse", "bob-battery-staple"


@pytest.fixture
def accounts(settings):
    a = Accounts(settings.home)
    a.add_user("alice", ALICE_PW, admin=True)
    a.add_user("bob", BOB_PW)
    tokens = TokenStore(settings.home)
    tokens.create("alice-laptop", machine="laptop-a", user="alice", own_host=settings.host)
    tokens.create("bob-desktop", machine="desktop-b", user="bob", own_host=settings.host)
    yield a
    a.close()


@pytest.fixture
def team(settings, index, accounts):
    """The index holds all three machines' sessions."""
    for rel, data in OWN.items():
        path = settings.agent_dir("claude") / "projects" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    index.backfill()
    for machine, files in FILES.items():
        results = ship_into(index.writer, settings.archive_dir, machine, files)
        assert all(r.error is None for r in results)
    return settings


def client(settings, public=PUBLIC, user=None, password=None):
    app = create_app(settings, None, bound_host="0.0.0.0", port=8080, public_url=public)
    c = TestClient(app, base_url=public)
    c.__enter__()
    if user:
        resp = c.post("/api/login", json={"name": user, "password": password})
        assert resp.status_code == 200, resp.text
    return c


@pytest.fixture
def alice(team):
    c = client(team, user="alice", password=ALICE_PW)
    yield c
    c.__exit__(None, None, None)


@pytest.fixture
def bob(team):
    c = client(team, user="bob", password=BOB_PW)
    yield c
    c.__exit__(None, None, None)


def ids(c, **params) -> set[str]:
    resp = c.get("/api/sessions", params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return {s["id"] for s in resp.json()["sessions"]}


def test_nothing_answers_before_sign_in(team):
    c = client(team)
    for path in ("/api/sessions", "/api/search?q=checkout", f"/api/sessions/{ALICE_OWN}",
                 f"/api/sessions/{ALICE_OWN}/export", "/api/stats", "/api/projects", "/api/events", "/api/status",
                 "/api/chat/threads", "/openapi.json", "/docs"):
        resp = c.get(path, follow_redirects=False)
        assert resp.status_code == 401, (path, resp.status_code)
        assert "sign in" in resp.json()["detail"]
    for page in ("/", "/usage", f"/s/{ALICE_OWN}", "/chat"):
        resp = c.get(page, follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next=%2F"), page
    page = c.get("/login")
    assert page.status_code == 200 and 'id="login-form"' in page.text
    static = c.get(page.text.split('src="')[1].split('"')[0])
    assert static.status_code == 200  # the sign-in page's own script loads without a cookie
    assert c.get("/api/me").json() == {"team": True, "signed_in": False}
    # A cookie that is not a sign-in signs nobody in.
    c.cookies.set(COOKIE, "forged-value")
    assert c.get("/api/sessions").status_code == 401


def test_only_the_public_url_is_served(team):
    c = client(team)
    for host in ("evil.example", "evil.example:8080", "zerg.test:9999", "192.168.1.20:8080"):
        resp = c.get("/login", headers={"Host": host})
        assert resp.status_code == 421, host
        assert "DNS rebinding" in resp.text
    assert c.get("/login", headers={"Host": "ZERG.test:8080"}).status_code == 200
    # State changes come from our own origin only: a rebinding page cannot post the sign-in form.
    resp = c.post("/api/login", json={"name": "alice", "password": ALICE_PW}, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    resp = c.post("/api/login", json={"name": "alice", "password": ALICE_PW}, headers={"Origin": PUBLIC})
    assert resp.status_code == 200


def test_each_user_sees_their_own_sessions(alice, bob):
    alice_sees, bob_sees = ids(alice), ids(bob)
    assert {ALICE_OWN, ALICE_LAPTOP} <= alice_sees and BOB_DESKTOP not in alice_sees
    assert bob_sees == {BOB_DESKTOP}
    # The machine filter cannot widen it.
    assert ids(bob, machine="laptop-a") == set() and ids(alice, machine="desktop-b") == set()
    # Search and its snippets: bob's words are found only by bob, in any script.
    for word in (BOB_SECRET, "数据库", "vault"):
        assert alice.get("/api/search", params={"q": word}).json()["hits"] == []
        hits = bob.get("/api/search", params={"q": word}).json()["hits"]
        assert [h["session_id"] for h in hits] == [BOB_DESKTOP], word
    assert alice.get("/api/search", params={"q": "checkout"}).json()["hits"]
    assert bob.get("/api/search", params={"q": "checkout", "session": ALICE_LAPTOP}).json()["hits"] == []
    # Reading another's session is as if it did not exist.
    for path in (f"/api/sessions/{BOB_DESKTOP}", f"/api/sessions/{BOB_DESKTOP}/lines",
                 f"/api/sessions/{BOB_DESKTOP}/branches", f"/api/sessions/{BOB_DESKTOP}/export",
                 f"/api/sessions/{BOB_DESKTOP}/export?format=md"):
        resp = alice.get(path)
        assert resp.status_code == 404 and BOB_SECRET not in resp.text, path
        assert bob.get(path).status_code == 200, path
    assert BOB_SECRET.encode() in bob.get(f"/api/sessions/{BOB_DESKTOP}/export").content
    projects = {p["project"] for p in bob.get("/api/projects").json()["projects"]}
    assert projects == {"/home/bob/infra"}
    assert "/home/bob/infra" not in {p["project"] for p in alice.get("/api/projects").json()["projects"]}
    status = bob.get("/api/status").json()
    assert "zerg_home" not in status and "roots" not in status and status["user"] == "bob"
    assert [m["machine"] for m in status["machines"]] == ["desktop-b"]
    assert bob.get("/api/stats").json()["sessions"] == 1


def test_admins_see_usage_per_user_not_transcripts(alice, bob):
    by_user = {r["key"]: r for r in alice.get("/api/stats", params={"by": "user"}).json()["rows"]}
    assert set(by_user) == {"alice", "bob"}
    assert by_user["bob"]["input_tokens"] == 1000 and by_user["bob"]["cost_usd"] is None  # a model with no price
    assert by_user["alice"]["input_tokens"] == 2000
    projects = {r["key"] for r in alice.get("/api/stats", params={"by": "project"}).json()["rows"]}
    assert "/home/bob/infra" in projects  # aggregates of every user ...
    sessions = {r["key"] for r in alice.get("/api/stats", params={"by": "session"}).json()["rows"]}
    assert BOB_DESKTOP not in sessions  # ... but not the sessions themselves
    assert bob.get("/api/stats", params={"by": "user"}).status_code == 400
    mine = bob.get("/api/stats", params={"by": "model"}).json()
    assert mine["totals"]["input_tokens"] == 1000


def test_sharing_is_explicit_revocable_and_audited(team, alice, bob):
    accounts = Accounts(team.home)
    project = "C:\\Users\\alice\\src\\shop"
    accounts.grant("alice", "bob", project=project)
    assert ALICE_LAPTOP in ids(bob) and ALICE_OWN not in ids(bob)
    assert bob.get(f"/api/sessions/{ALICE_LAPTOP}").status_code == 200
    assert bob.get("/api/search", params={"q": "checkout"}).json()["hits"]
    log = accounts.audit_log()
    assert [(r["user"], r["owner"], r["session"], r["action"]) for r in log] == [("bob", "alice", ALICE_LAPTOP, "open")]
    assert bob.get(f"/api/sessions/{ALICE_LAPTOP}/export").status_code == 200
    assert accounts.audit_log()[0]["action"] == "export"
    # alice reading her own writes nothing to the audit log.
    alice.get(f"/api/sessions/{ALICE_LAPTOP}")
    assert len(accounts.audit_log()) == 2
    accounts.ungrant("alice", "bob", project=project)
    assert ALICE_LAPTOP not in ids(bob)
    assert bob.get(f"/api/sessions/{ALICE_LAPTOP}").status_code == 404
    # One session, to everyone signed in.
    accounts.grant("bob", "everyone", session=("desktop-b", BOB_DESKTOP))
    assert BOB_DESKTOP in ids(alice)
    assert alice.get("/api/search", params={"q": BOB_SECRET}).json()["hits"]


def test_sign_in_is_slowed_down_and_its_cookie_is_strict(team):
    c = client(team)
    for _ in range(5):
        assert c.post("/api/login", json={"name": "alice", "password": "wrong-password"}).status_code == 401
    slowed = c.post("/api/login", json={"name": "alice", "password": ALICE_PW})
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    # An unknown name answers like a wrong password.
    other = client(team)
    assert other.post("/api/login", json={"name": "mallory", "password": "whatever1"}).json()["detail"] == \
        "wrong name or password"
    ok = other.post("/api/login", json={"name": "BOB", "password": BOB_PW})
    assert ok.status_code == 200 and ok.json()["name"] == "bob"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Secure" not in cookie
    value = other.cookies.get(COOKIE)
    stored = (team.home / "accounts.db").read_bytes()
    assert value.encode() not in stored and b"bob-battery-staple" not in stored
    assert other.get("/api/me").json()["name"] == "bob"
    assert other.post("/api/logout", json={}).status_code == 200
    other.cookies.set(COOKIE, value)
    assert other.get("/api/sessions").status_code == 401
    secure = client(team, "https://zerg.test", user="alice", password=ALICE_PW)
    assert "Secure" in secure.post("/api/login", json={"name": "alice", "password": ALICE_PW}).headers["set-cookie"]


def test_the_local_cli_key_and_loopback_stay_as_they_were(team):
    c = client(team)
    key = local_key(team.home)
    assert key and oct((team.home / "local.key").stat().st_mode & 0o777) == "0o600"
    resp = c.get("/api/status", headers={LOCAL_HEADER: key})
    assert resp.status_code == 200 and resp.json()["zerg_home"] == str(team.home)
    assert c.get("/api/status", headers={LOCAL_HEADER: key + "x"}).status_code == 401
    # One person on loopback: no sign-in, everything, as before.
    app = create_app(team, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as local:
        assert {ALICE_OWN, ALICE_LAPTOP, BOB_DESKTOP} <= ids(local)
        assert local.get("/api/me").json()["team"] is False
        assert local.post("/api/login", json={"name": "alice", "password": ALICE_PW}).status_code == 400


def test_a_team_server_needs_users_and_a_public_url(settings):
    with pytest.raises(NotServable, match="--public-url"):
        check_entry(settings, "0.0.0.0", 8080)
    with pytest.raises(NotServable, match="zergd user add"):
        check_entry(settings, "192.168.1.5", 8080)
    settings.home.mkdir(parents=True, exist_ok=True)
    Accounts(settings.home).add_user("alice", ALICE_PW, admin=True)
    check_entry(settings, "192.168.1.5", 8080)
    check_entry(settings, "127.0.0.1", 8080)  # loopback never needs either
    shutil.rmtree(settings.home)
    check_entry(settings, "127.0.0.1", 8080)


def test_a_token_belongs_to_one_machine_of_one_user(settings, accounts):
    tokens = TokenStore(settings.home)
    for machine, user, why in (("testhost", None, "own machine name"), ("TESTHOST", None, "own machine name"),
                               ("laptop-a", "bob", "belongs to alice"), ("LAPTOP-A", "alice", "spelled 'laptop-a'"),
                               ("laptop-a\n", None, "not one"), ("lap top", None, "not one"),
                               ("laptop\u00e9", None, "not one")):
        with pytest.raises(TokenError, match=why):
            tokens.create(f"t-{len(machine)}-{why[:3]}", machine=machine, user=user, own_host=settings.host)
    # A second token for the same machine and user is fine (rotating one).
    tokens.create("alice-laptop-2", machine="laptop-a", user="alice", own_host=settings.host)


def test_oikos_tools_and_threads_are_each_users_own(team, monkeypatch):
    from fake_anthropic import FakeAnthropic

    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        alice, bob = client(team, user="alice", password=ALICE_PW), client(team, user="bob", password=BOB_PW)

        def ask(c, question):
            thread = c.post("/api/chat/threads", json={}).json()["id"]
            c.app.state.oikos.client = c.app.state.oikos.client.with_options(max_retries=0)
            with c.stream("POST", f"/api/chat/threads/{thread}/messages", json={"text": question}) as resp:
                assert resp.status_code == 200
                "".join(resp.iter_text())
            sent = fake.requests[-1]["body"]["messages"]
            results = [b["content"] for m in sent if m["role"] == "user" and isinstance(m["content"], list)
                       for b in m["content"] if b.get("type") == "tool_result"]
            return thread, "\n".join(results)

        thread, seen = ask(bob, 'Where is the "checkout" total?')
        assert "No matches" in seen and ALICE_LAPTOP not in seen
        _, seen = ask(bob, f'What is "{BOB_SECRET}"?')
        assert BOB_DESKTOP in seen
        _, seen = ask(alice, f'What is "{BOB_SECRET}"?')
        assert "No matches" in seen and BOB_DESKTOP not in seen
        # Threads are their owner's: alice neither lists nor reads bob's.
        assert thread not in {t["id"] for t in alice.get("/api/chat/threads").json()["threads"]}
        assert alice.get(f"/api/chat/threads/{thread}").status_code == 404
        assert alice.post(f"/api/chat/threads/{thread}/messages", json={"text": "hi"}).status_code == 404
        assert bob.get(f"/api/chat/threads/{thread}").status_code == 200
        # The tools themselves, as the chat gives them to each user.
        from zergd.oikos.tools import ToolError

        tools = alice.app.state.oikos.toolbox
        bobs = tools.for_viewer(bob.app.state.access.scope(Accounts(team.home).user("bob")))
        with pytest.raises(ToolError, match="no session"):
            bobs.run("read_session", {"session_id": ALICE_OWN})
        assert "No sessions match" not in bobs.run("list_sessions", {})
        assert ALICE_OWN not in bobs.run("list_sessions", {"include_subagents": True})
        assert "No usage" in bobs.run("session_usage", {"group_by": "model", "project": "/srv/zerg/notes"})
        for c in (alice, bob):
            c.__exit__(None, None, None)


def test_mcp_for_one_user(team):
    pytest.importorskip("mcp")
    from test_mcp import text_of

    import anyio
    import os
    import sys
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable,
                                   args=["-c", "from zergd.cli import zerg; zerg()", "mcp", "--user", "bob"],
                                   env=dict(os.environ))

    async def main():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            found = text_of(await session.call_tool("search_sessions", {"query": "checkout"}))
            mine = text_of(await session.call_tool("search_sessions", {"query": BOB_SECRET}))
            listed = text_of(await session.call_tool("list_sessions", {}))
            other = await session.call_tool("read_session", {"session_id": ALICE_LAPTOP})
            return found, mine, listed, other

    found, mine, listed, other = anyio.run(main)
    assert "No matches" in found
    assert BOB_DESKTOP in mine and BOB_DESKTOP in listed and ALICE_OWN not in listed
    assert other.is_error and "no session" in text_of(other)
    unknown = __import__("subprocess").run([sys.executable, "-c", "from zergd.cli import zerg; zerg()", "mcp",
                                            "--user", "mallory"], capture_output=True, text=True, input="")
    assert unknown.returncode == 1 and "no user named 'mallory'" in unknown.stderr


def test_a_machine_stays_its_owners_after_its_token_is_revoked(team, alice, bob):
    from click.testing import CliRunner

    from zergd.cli import zergd

    runner = CliRunner()
    made = runner.invoke(zergd, ["token", "create", "bob-laptop", "--machine", "laptop-b", "--user", "bob"])
    assert made.exit_code == 0, made.output
    taken = runner.invoke(zergd, ["token", "create", "sneaky", "--machine", "LAPTOP-B", "--user", "alice"])
    assert taken.exit_code == 1 and "belongs to" in taken.output
    revoke = runner.invoke(zergd, ["token", "revoke", "bob-desktop"])
    assert revoke.exit_code == 0
    Accounts(team.home).claim_machine("desktop-b", "bob")  # what `token create` records for a new machine
    assert BOB_DESKTOP in ids(bob) and BOB_DESKTOP not in ids(alice)
    again = runner.invoke(zergd, ["token", "create", "alice-desktop", "--machine", "desktop-b", "--user", "alice"])
    assert again.exit_code == 1 and "belongs to bob" in again.output
