"""The index's face on both backends: the same behaviour through the same
calls, whether the index is a SQLite file or a PostgreSQL database.  Every
test here runs once per backend (the ``backend`` fixture) and asserts through
``open_index`` / ``Reader`` / ``Writer``, never raw SQL."""

import json
import sqlite3

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import needs_corpus

from zergd.cli import zerg, zergd
from zergd.errors import BadQuery, NotReady
from zergd.index import SessionFilter, open_index
from zergd.invariants import check_all
from zergd.archivist.rebuild import rebuild
from zergd.watch.backfill import backfill

pytestmark = pytest.mark.usefixtures("backend")
QUERIES = ["error", "migration", "pytest", "def main", "docker compose", "git rebase", "sqlite", "Visa card",
           "partnersh*", '"take home"', "the"]


@pytest.fixture
def loaded(sample):
    index = open_index(sample)
    backfill(sample, index.writer())
    yield index
    index.close()


def write_session(settings, name: str, texts: list[str]) -> None:
    folder = settings.agent_dir("claude") / "projects" / "-work-both"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.jsonl", "a") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"type": "user", "uuid": f"{name}-{i}", "timestamp": f"2026-05-0{1 + i % 9}T10:00:00Z",
                                "cwd": "/work/both", "message": {"role": "user", "content": text}}) + "\n")


def test_the_configured_backend_is_the_one_used(settings, backend):
    index = open_index(settings)
    assert index.kind == backend
    assert not index.exists()
    with pytest.raises(NotReady):
        with index.reader():
            pass
    index.writer()
    assert index.exists()
    with index.reader() as r:
        assert r.counts() == {"sessions": 0, "lines": 0}
    index.close()


def test_sample_imports_consistently(loaded, sample):
    assert check_all(loaded) == []
    with loaded.reader() as r:
        counts = r.counts()
        rows, _ = r.sessions(SessionFilter(empty=True))
    assert counts["sessions"] == len(rows) > 0 and counts["lines"] > 0


def test_search_syntax_is_the_same_on_both(settings):
    write_session(settings, "s1", ["Crème brûlée recipe with caramel", "the quick brown fox", "foo.bar_baz v2"])
    write_session(settings, "s2", ["quick thinking wins", "brown bread and butter"])
    index = open_index(settings)
    backfill(settings, index.writer())

    def ids(query, **kw):
        with index.reader() as r:
            return sorted((h.session_id, h.offset) for h in r.search(query, limit=100, **kw))

    def sessions(query, **kw):
        return sorted({sid for sid, _off in ids(query, **kw)})

    assert sessions("quick") == ["s1", "s2"]
    assert sessions("creme") == sessions("CRÈME") == ["s1"]  # diacritics folded, case ignored
    assert sessions("brul*") == ["s1"]  # prefix
    assert sessions('"quick brown"') == ["s1"] and sessions('"brown quick"') == []  # phrase, in order
    assert sessions("bar") == sessions("baz") == ["s1"]  # split on punctuation and underscores, as unicode61
    assert len(ids("quick brown")) == 1  # every word, in one line
    assert sessions("quick OR butter", raw=True) == ["s1", "s2"]
    assert sessions("quick NOT fox", raw=True) == ["s2"]
    assert sessions("(quick OR bread) AND brown", raw=True) == ["s1", "s2"]
    assert sessions("AND OR NOT") == []  # not raw: plain words, no syntax
    for bad in ("(((", "quick AND", "OR quick"):
        with pytest.raises(BadQuery):
            ids(bad, raw=True)
    with index.reader() as r:
        [hit] = r.search("caramel")
        assert "\x02caramel\x03" in hit.snippet.lower()
        assert len(r.search("quick", per_session=1, limit=10)) == 2
        assert [h.session_id for h in r.search("quick", session_id="s2")] == ["s2"]
        flt = SessionFilter(project="WORK/BOTH")  # a substring of the cwd, any case
        assert len(r.search("quick", flt=flt)) == 2
    index.close()


def test_scripts_without_spaces_and_emoji_are_found_by_substring(settings, backend):
    write_session(settings, "cjk", ["日本語のテキストを検索する", "中文全文检索测试", "ภาษาไทยไม่มีช่องว่าง",
                                    "deploy went fine 🚀 then 😀 Tokyo東京tower", "no match here ✅"])
    index = open_index(settings)
    backfill(settings, index.writer())
    with index.reader() as r:
        def lines(q):
            return sorted(h.lineno for h in r.search(q))

        assert lines("日本語のテキストを検索する") == [1]  # the whole run
        [hit] = r.search("テキスト")  # a piece of it
        assert "\x02テキスト\x03" in hit.snippet
        assert lines("全文检索") == [2] and lines("检索") == [2]  # two characters too
        assert lines("ไม่มี") == [3]  # Thai, no spaces either
        assert lines("🚀") == [4] and lines("😀") == [4] and lines("✅") == [5]
        assert lines("🚀 deploy") == [4] and lines("🚀 nothing") == []  # substrings and words together
        assert lines("東京tower") == [4] and lines("東京 Tokyo") == [4]  # a mixed token: its run and its word
        assert lines("京東") == []
    index.close()


def test_lines_pages_and_generations(loaded, sample):
    with loaded.reader() as r:
        rows, _ = r.sessions()
        sid = max(rows, key=lambda s: s["lines"])["id"]
        first = r.line_page(sid, limit=2)
        assert len(first.items) == 2 and first.after is not None and first.before is None
        second = r.line_page(sid, after=first.after, limit=2)
        back = r.line_page(sid, before=second.before, limit=2) if second.before is not None else first
        assert back.items == first.items
        assert r.offset_of_line(sid, 1) == 0
        [gen] = r.generations(sid)
        assert gen.gen == 1 and gen.archive.exists()
        assert r.session(sid)["generations"][0]["bytes"] == gen.archived


def test_live_appends_and_rewrites(settings):
    write_session(settings, "live", ["first words"])
    index = open_index(settings)
    writer = index.writer()
    backfill(settings, writer)
    write_session(settings, "live", ["appended pelican"])
    backfill(settings, writer, reconcile=False)
    with index.reader() as r:
        assert [h.lineno for h in r.search("pelican")] == [2]
    path = settings.agent_dir("claude") / "projects" / "-work-both" / "live.jsonl"
    path.write_text(json.dumps({"type": "user", "message": {"role": "user", "content": "rewritten heron"}}) + "\n")
    backfill(settings, writer)
    with index.reader() as r:
        assert [g["gen"] for g in r.session("live")["generations"]] == [1, 2]
        assert r.search("heron")[0].generation == 2
        assert r.search("pelican")[0].generation == 1  # the old generation stays searchable
    assert check_all(index) == []
    index.close()


@needs_corpus
def test_stats_and_sessions_agree_across_backends(corpus, pg_url, backend):
    """The real corpus in both backends: the same sessions, counts, usage and
    the same lines for every query (ranking may differ; the hits may not)."""
    sqlite_index = open_index(corpus, f"sqlite:///{corpus.home / 'other.db'}")
    pg_index = open_index(corpus, pg_url)
    for index in (sqlite_index, pg_index):
        backfill(corpus, index.writer())
    with sqlite_index.reader() as a, pg_index.reader() as b:
        assert a.stats() == b.stats()
        assert a.projects() == b.projects()
        strip = lambda rows: [{k: v for k, v in s.items() if k != "updated_at"} for s in rows]  # noqa: E731
        assert strip(a.sessions(limit=500)[0]) == strip(b.sessions(limit=500)[0])
        for group in ("day", "model", "project"):
            assert a.usage_by(group, SessionFilter()) == b.usage_by(group, SessionFilter())
        for q in QUERIES:
            hits_a = {(h.session_id, h.offset) for h in a.search(q, limit=100_000)}
            hits_b = {(h.session_id, h.offset) for h in b.search(q, limit=100_000)}
            assert hits_a == hits_b, q
    assert check_all(pg_index) == []
    sqlite_index.close()
    pg_index.close()


def test_reindex_builds_either_backend_from_the_archive(loaded, sample, pg_url, backend):
    with loaded.reader() as r:
        before = r.sessions(limit=500)[0]
        hits = {(h.session_id, h.offset) for h in r.search("the", limit=10_000)}
    loaded.close()
    for target in (pg_url, f"sqlite:///{sample.home / 'moved.db'}", None):
        rebuilt = rebuild(sample, url=target)
        index = open_index(sample, target)
        with index.reader() as r:
            after = r.sessions(limit=500)[0]
            assert [s["id"] for s in after] == [s["id"] for s in before]
            assert [s["title"] for s in after] == [s["title"] for s in before]
            assert {(h.session_id, h.offset) for h in r.search("the", limit=10_000)} == hits
        assert check_all(index) == []
        index.close()
        assert rebuilt.kind == {pg_url: "postgresql", None: backend}.get(target, "sqlite")


def test_reindex_cli_names_where_it_built(sample, pg_url, monkeypatch):
    monkeypatch.setenv("ZERG_DATABASE_URL", "")  # --database sets it for a daemon to inherit; undone after the test
    assert CliRunner().invoke(zergd, ["import", "--database", pg_url]).exit_code == 0
    result = CliRunner().invoke(zergd, ["reindex", "--database", pg_url])
    assert result.exit_code == 0, result.output
    assert "rebuilt postgresql://" in result.stderr
    result = CliRunner().invoke(zergd, ["check", "--database", pg_url])
    assert result.exit_code == 0 and "I1-I5 hold" in result.stderr
    result = CliRunner().invoke(zergd, ["reindex", "--database", "mysql://nope"])
    assert result.exit_code == 1 and "unknown database" in result.stderr


def test_export_sqlite_is_standalone(loaded, sample, tmp_path):
    out = tmp_path / "copy.db"
    result = CliRunner().invoke(zerg, ["export", "--format", "sqlite", "-o", str(out)])
    assert result.exit_code == 0, result.output
    db = sqlite_utils.Database(sqlite3.connect(out))  # no zergd function registered: stands alone
    with loaded.reader() as r:
        assert db["sessions"].count == r.counts()["sessions"]
        assert db["lines"].count == r.counts()["lines"]
        want = {(h.session_id, h.offset) for h in r.search("the", limit=10_000)}
    got = set(db.execute(
        "select session_id, byte_offset from messages where line_id in"
        " (select rowid from lines_fts where lines_fts match 'the')").fetchall())
    assert got == want
    assert CliRunner().invoke(zerg, ["export", "--format", "sqlite"]).exit_code == 2  # needs -o
    assert CliRunner().invoke(zerg, ["export", "abc", "--format", "sqlite", "-o", str(out)]).exit_code == 2


def test_check_finds_damage(loaded, sample):
    """I5 on either backend: archived bytes changed under the index."""
    with loaded.reader() as r:
        sid = r.sessions()[0][0]["id"]
        [gen] = r.generations(sid)
    data = bytearray(gen.archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    gen.archive.write_bytes(bytes(data))
    assert any("changed since they were written" in p for p in check_all(loaded))


@pytest.mark.parametrize("command", [["import"], ["reindex"], ["check"]])
def test_an_unreachable_database_is_a_clear_error(sample, command, pg_server, monkeypatch):
    monkeypatch.setenv("ZERG_DATABASE_URL", "")
    url = f"postgresql://nobody@127.0.0.1:{pg_server.port + 1 if pg_server.port < 65535 else 1}/nowhere"
    result = CliRunner().invoke(zergd, [*command, "--database", url])
    assert result.exit_code == 1, result.output
    assert "cannot reach the database postgresql://nobody@127.0.0.1" in result.stderr
    assert "Traceback" not in result.output


# --- every word, every script, and snippets cut where the words are -------------


def test_no_word_is_lost_past_any_length(settings, backend):
    filler = " ".join(f"word{i}" for i in range(20_000))  # ~190,000 characters
    write_session(settings, "long", [f"start {filler} the final narwhal"])
    idx = open_index(settings)
    backfill(settings, idx.writer())
    with idx.reader() as r:
        [hit] = r.search("narwhal")
        assert hit.session_id == "long" and "\x02narwhal\x03" in hit.snippet
        assert len(hit.snippet) < 400  # a window around the word, not the whole line
    idx.close()


def test_snippets_find_words_the_way_the_index_does():
    from zergd.index.snippets import word_snippet

    text = "Ping Yalçın about the Café menu; DEPLOYMENT notes: deploying deployed. undeployable is not a hit"
    assert "\x02Yalçın\x03" in word_snippet(text, "yalcin")
    assert "\x02Café\x03" in word_snippet(text, "cafe")
    marked = word_snippet(text, "deploy*")
    assert "\x02deploying\x03" in marked and "\x02deployed\x03" in marked and "un\x02" not in marked
    assert "\x02DEPLOYMENT\x03" in word_snippet("Only DEPLOYMENT here", "deploy*")
    assert "\x02Deployment\x03" in word_snippet("Only Deployment here", "DEPLOY*")
    assert "\x02" not in word_snippet(text, "deploy")  # whole words only, as the index matches
    long = "x " * 5000 + "the needle is here " + "y " * 5000
    snip = word_snippet(long, "needle")
    assert snip.startswith("…") and snip.endswith("…") and "\x02needle\x03" in snip and len(snip) < 300
    # The window with most of the words wins over the first occurrence.
    text = "alpha " + "z " * 200 + "alpha beta together"
    assert "\x02alpha\x03 \x02beta\x03" in word_snippet(text, "alpha beta")
