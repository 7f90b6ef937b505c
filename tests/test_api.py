"""HTTP API on the real corpus: lists, paging, filters, detail, lines,
search, export, security; bad parameters are 4xx with a message, never 500."""

import json

import pytest
from conftest import CORPUS, agent
from fastapi.testclient import TestClient

from zergd.api.app import create_app

ORIGIN = "http://127.0.0.1:8080"
LICHESS = "019aad50-a7e6-7422-b7a8-0b384290624f"


@pytest.fixture
def client(imported):
    app = create_app(imported.settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url=ORIGIN, raise_server_exceptions=False) as c:
        yield c


def all_pages(client, **params):
    seen, cursor = [], None
    while True:
        body = client.get("/api/sessions", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        seen += body["sessions"]
        cursor = body["next"]
        if not cursor:
            return seen


def test_sessions_list_and_keyset_pages(client):
    full = client.get("/api/sessions", params={"limit": 500, "subagents": True, "empty": True}).json()
    assert len(full["sessions"]) == 33 and full["next"] is None
    paged = all_pages(client, limit=4, subagents=True, empty=True)
    assert [s["id"] for s in paged] == [s["id"] for s in full["sessions"]]
    main = client.get("/api/sessions", params={"limit": 500}).json()["sessions"]
    # Not listed: the 9 subagents (under their parents) and 3 files without a conversation
    # (empty, or only summaries or bookkeeping); all of them stay archived and exportable.
    assert all(not s["is_subagent"] and (s["user_messages"] or s["assistant_messages"]) for s in main)
    assert len(main) == 33 - 9 - 3
    assert client.get("/api/sessions/5b97e2d4-d624-4af2-9fb8-7fc02540282a").status_code == 200  # the 0-byte file


@pytest.mark.parametrize("params,check", [
    ({"project": "/Users/sarthiborkar/Build/FundWise"}, lambda s: s["project"] == "/Users/sarthiborkar/Build/FundWise"),
    ({"model": "claude-opus-4-7"}, lambda s: "claude-opus-4-7" in s["models"]),
    ({"branch": "main"}, lambda s: s["git_branch"] == "main"),
    ({"provider": "codex"}, lambda s: s["provider"] == "codex"),
    ({"since": "2026-04-01"}, lambda s: (s["last_ts"] or "") >= "2026-04-01"),
    ({"until": "2025-12-31"}, lambda s: (s["first_ts"] or s["last_ts"]) < "2026-01-01"),
])
def test_session_filters(client, params, check):
    sessions = client.get("/api/sessions", params={**params, "limit": 500}).json()["sessions"]
    assert sessions and all(check(s) for s in sessions)


@pytest.mark.parametrize("path,params", [
    ("/api/sessions", {"limit": 0}),
    ("/api/sessions", {"limit": "many"}),
    ("/api/sessions", {"cursor": "not-a-cursor"}),
    ("/api/sessions", {"since": "last tuesday"}),
    ("/api/sessions", {"provider": "gemini"}),
    ("/api/sessions", {"subagents": "perhaps"}),
    ("/api/search", {}),
    ("/api/search", {"q": ""}),
    ("/api/search", {"q": "x", "limit": 1000}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"after": "x"}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"after": 1, "before": 5}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"gen": 0}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"gen": 9}),
    ("/api/sessions/nope", {}),
    ("/api/sessions/nope/lines", {}),
    ("/api/sessions/nope/export", {}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/export", {"gen": 4}),
    ("/static/whatever/../../pyproject.toml", {}),
    ("/static/v/zzz.js", {}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"gen": 10**30}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"after": 10**30}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/lines", {"before": 2**41}),
    ("/api/sessions/0c182e15-59de-4856-8a94-00f26880354c/export", {"gen": 10**30}),
    ("/api/sessions", {"project": "p%_" * 5_000}),
    ("/api/search", {"q": "x", "project": "y" * 20_000}),
    ("/api/search", {"q": "x", "since": "99999999999999999999d" * 10}),
])
def test_bad_requests_are_4xx_with_a_message(client, path, params):
    resp = client.get(path, params=params)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    if resp.headers["content-type"].startswith("application/json"):
        assert resp.json()["detail"]


@pytest.mark.parametrize("params", [{"until": "9999-12-31"}, {"since": "0001-01-01T00:00:00+05:00"},
                                    {"since": "700000d"}, {"until": "0001-01-01"}])
def test_dates_at_the_ends_of_the_calendar_are_fine(client, params):
    assert client.get("/api/sessions", params=params).status_code == 200
    assert client.get("/api/search", params={"q": "the", **params}).status_code == 200


@pytest.mark.parametrize("params", [{"since": "9" * 40}, {"until": "1" * 60}, {"since": "2026-13-45"}])
def test_odd_dates_never_500(client, params):
    assert client.get("/api/sessions", params=params).status_code < 500


def test_more_days_ago_than_the_calendar_holds_is_a_clear_error(client):
    resp = client.get("/api/sessions", params={"since": "99999999999999999999d"})
    assert resp.status_code == 400 and "at most 700,000 days ago" in resp.json()["detail"]


def test_before_an_offset_past_the_end_stays_in_its_session(client):
    sid = "0c182e15-59de-4856-8a94-00f26880354c"
    end = client.get(f"/api/sessions/{sid}").json()["generations"][-1]["bytes"]
    want = client.get(f"/api/sessions/{sid}/lines", params={"before": end, "limit": 3}).json()["lines"]
    for before in (2**40, 2**40 + 1, end + 1):
        got = client.get(f"/api/sessions/{sid}/lines", params={"before": before, "limit": 3})
        assert got.status_code in (200, 422)
        if got.status_code == 200:
            assert got.json()["lines"] == want


def test_an_unreadable_archive_is_a_clear_409_in_the_api_and_an_error_in_the_cli(imported, client):
    from click.testing import CliRunner

    from zergd.cli import zerg

    sid = "0c182e15-59de-4856-8a94-00f26880354c"
    [archive] = [p for p in imported.settings.archive_dir.rglob(f"{sid}.jsonl")]
    archive.unlink()
    resp = client.get(f"/api/sessions/{sid}/export")
    assert resp.status_code == 409 and "missing" in resp.json()["detail"]
    result = CliRunner().invoke(zerg, ["export", sid])
    assert result.exit_code == 1 and "missing" in result.output
    assert result.stdout_bytes.startswith(b"Error") or result.stdout_bytes == b""


def test_pages_answer_head(client):
    for path in ("/", "/search", "/chat", "/s/anything"):
        assert client.head(path).status_code == 200


@pytest.mark.parametrize("headers,status", [
    ({"Origin": "https://evil.example", "Content-Type": "application/json"}, 403),
    ({"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403),
    ({"Content-Type": "text/plain"}, 415),
    ({}, 415),
    ({"Origin": ORIGIN, "Content-Type": "application/json"}, 503),  # ours: reaches the route (chat not set up)
])
def test_state_changing_requests_must_come_from_our_pages_as_json(client, headers, status):
    resp = client.post("/api/chat/threads", content=b"{}", headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["detail"]


@pytest.mark.parametrize("q", ['"', "AND", "NOT x", "a:b", "(", "*", "NEAR(", "🦀", "x" * 900, "a\x00b"])
def test_search_never_500s(client, q):
    assert client.get("/api/search", params={"q": q}).status_code == 200


def test_session_detail(client):
    s = client.get("/api/sessions/ef958aa1-0e93-49f0-bb71-150f63befcd1").json()
    assert s["title"].startswith("OK, we're going to make a little experiment")
    assert s["generations"] == [{"gen": 1, "bytes": s["generations"][0]["bytes"], "started_at": s["generations"][0]["started_at"]}]
    assert {c["id"] for c in s["subagents"]} >= {agent("agent-a36efb2a1231c41e2"), agent("agent-a4ca7529859c158c2")}


def test_lines_pages_cover_the_file_once(client):
    sid = "0c182e15-59de-4856-8a94-00f26880354c"
    src = CORPUS / "claude/-Users-linhungfan/0c182e15-59de-4856-8a94-00f26880354c.jsonl"
    want = [json.loads(raw) for raw in src.read_bytes().splitlines() if raw.strip()]
    got, after = [], None
    while True:
        body = client.get(f"/api/sessions/{sid}/lines", params={"limit": 150, **({"after": after} if after is not None else {})}).json()
        got += body["lines"]
        after = body["next_after"]
        if after is None:
            break
    assert [line["obj"] for line in got] == want
    assert [line["lineno"] for line in got] == list(range(1, len(want) + 1))
    # ... and backwards from the end with `before`.
    back, before = [], got[-1]["offset"] + 1
    while before is not None:
        body = client.get(f"/api/sessions/{sid}/lines", params={"limit": 200, "before": before}).json()
        back = body["lines"] + back
        before = body["prev_before"]
    assert [line["offset"] for line in back] == [line["offset"] for line in got]


def test_malformed_lines_come_back_raw(client, settings):
    bad = settings.agent_dir("claude") / "projects" / "-bad" / "bad.jsonl"
    bad.parent.mkdir()
    bad.write_bytes(b'{"type":"user","message":{"role":"user","content":"ok"}}\nnot json \xff\n')
    from zergd.index import open_index
    from zergd.watch.backfill import backfill
    index = open_index(settings)
    backfill(settings, index.writer())
    index.close()
    lines = client.get("/api/sessions/bad/lines").json()["lines"]
    assert lines[0]["obj"]["message"]["content"] == "ok"
    assert lines[1]["malformed"] and lines[1]["obj"] is None and lines[1]["raw"] == "not json \ufffd"


def test_search(client):
    body = client.get("/api/search", params={"q": "lichess clone"}).json()
    hit = body["hits"][0]
    assert hit["session_id"] == "019aad50-a7e6-7422-b7a8-0b384290624f"
    assert any(p["hit"] for p in hit["snippet"]) and {"generation", "offset", "lineno", "ts"} <= set(hit)
    scoped = client.get("/api/search", params={"q": "lichess", "project": "/Users/nobody"}).json()
    assert scoped["hits"] == []
    # One long session does not fill the page: three hits each unless asked otherwise.
    capped = client.get("/api/search", params={"q": "lichess", "limit": 50}).json()["hits"]
    assert max(sum(h["session_id"] == s for h in capped) for s in {h["session_id"] for h in capped}) == 3
    uncapped = client.get("/api/search", params={"q": "lichess", "limit": 50, "per_session": 0}).json()["hits"]
    assert len(uncapped) > len(capped)
    ranks = [h["offset"] for h in uncapped if h["session_id"] == LICHESS][:3]
    assert [h["offset"] for h in capped if h["session_id"] == LICHESS] == ranks  # the best three, in order


def test_projects_and_stats(client):
    projects = client.get("/api/projects").json()["projects"]
    assert any(p["project"] == "/Users/sarthiborkar/Build/FundWise" and p["sessions"] == 2 for p in projects)
    stats = client.get("/api/stats").json()
    assert stats["sessions"] == 33 and stats["subagents"] == 9
    assert any(m["model"] == "claude-opus-4-7" and m["output_tokens"] > 0 for m in stats["by_model"])


def test_export_download_is_byte_exact(client):
    src = CORPUS / "claude/-Users-dain-workspace-danieldemmel-me-next/4379d1bf-ccb1-414e-a856-9791b73f3af2.jsonl"
    resp = client.get("/api/sessions/4379d1bf-ccb1-414e-a856-9791b73f3af2/export")
    assert resp.status_code == 200 and resp.content == src.read_bytes()
    assert "attachment" in resp.headers["content-disposition"]


def test_foreign_host_is_refused(client):
    assert client.get("/api/stats", headers={"Host": "evil.example"}).status_code == 421
    assert client.get("/api/stats", headers={"Host": "localhost:8080"}).status_code == 200


def test_security_headers_and_static_caching(client):
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    version = client.app.state.assets.version
    assert f"/static/{version}/app.js" in page.text
    js = client.get(f"/static/{version}/app.js")
    assert js.status_code == 200 and "immutable" in js.headers["cache-control"]
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/s/anything").text == page.text


def test_openapi_docs(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/sessions", "/api/search", "/api/sessions/{session_id}/lines"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_readers_beyond_the_pool_close_their_archive_files(sample):
    """A burst of concurrent readers (20 clients searching) opens connections
    beyond the pool; each must close the archive files its snippets opened,
    or the daemon runs out of file descriptors (it did, under load)."""
    import contextlib
    import os

    from zergd.index import open_index
    from zergd.index.sqlite import SqliteIndex
    from zergd.watch.backfill import backfill

    index = open_index(sample)
    backfill(sample, index.writer())
    index.close()
    readers = SqliteIndex(sample.index_path, sample.archive_dir, pool_size=2)
    fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    with readers.reader() as r:
        r.search("the")  # warm: the pool's connections exist
    before = fds()
    for _round in range(3):
        with contextlib.ExitStack() as stack:
            for _ in range(12):
                reader = stack.enter_context(readers.reader())
                assert reader.search("the", per_session=0, limit=50)
    assert fds() <= before + 2 * 12  # the pool's two connections and their files, at most
    readers.close()
