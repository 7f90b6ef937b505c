import shutil
from pathlib import Path

import pytest

from zergd.config import load_settings
from zergd.index import open_index
from zergd.watch.backfill import backfill

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
# The real transcripts sit beside the checkout in CI and on the team's
# machines, not in a plain clone: tests that need them skip without them.
CORPUS = SHARED / "corpus"
HAVE_CORPUS = CORPUS.is_dir()
NO_CORPUS = "needs the real transcripts in ../shared/corpus (not part of a plain clone)"
needs_corpus = pytest.mark.skipif(not HAVE_CORPUS, reason=NO_CORPUS)
# Our own small transcripts, made for the tests (see fixtures/build.py).
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No test ever reads or writes the real ~/.claude, ~/.codex or ~/.zerg."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ZERG_HOME", str(tmp_path / "zerg"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    monkeypatch.setenv("ZERG_HOST", "testhost")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ZERG_DATABASE_URL", raising=False)
    (tmp_path / "claude" / "projects").mkdir(parents=True)
    (tmp_path / "codex" / "sessions").mkdir(parents=True)
    return tmp_path


@pytest.fixture
def settings():
    return load_settings()


@pytest.fixture
def corpus(settings):
    """The real corpus copied to where Claude Code and Codex would write it."""
    if not HAVE_CORPUS:
        pytest.skip(NO_CORPUS)
    shutil.copytree(CORPUS / "claude", settings.agent_dir("claude") / "projects", dirs_exist_ok=True)
    shutil.copytree(CORPUS / "codex" / "sessions", settings.agent_dir("codex") / "sessions", dirs_exist_ok=True)
    return settings


@pytest.fixture
def sample(settings):
    """The project's own fixtures copied to where Claude Code and Codex write."""
    shutil.copytree(FIXTURES / "claude" / "projects", settings.agent_dir("claude") / "projects", dirs_exist_ok=True)
    shutil.copytree(FIXTURES / "codex" / "sessions", settings.agent_dir("codex") / "sessions", dirs_exist_ok=True)
    return settings


def agent(stem: str, root: Path = CORPUS / "claude") -> str:
    """The session id of the subagent file ``<stem>.jsonl`` under ``root``."""
    from zergd.index.naming import session_id_for

    [path] = root.rglob(f"{stem}.jsonl")
    return session_id_for("claude", path.relative_to(root).as_posix())


def corpus_files():
    return sorted(p for p in CORPUS.rglob("*.jsonl")) if HAVE_CORPUS else []


def corpus_params():
    """corpus_files() to parametrize a test with; without the corpus, one case
    that skips saying why (not pytest's "empty parameter set")."""
    return corpus_files() or [pytest.param(None, marks=needs_corpus, id="no-corpus")]


class Index:
    """An index on the test's ZERG_HOME with its writer."""

    def __init__(self, settings):
        self.settings = settings
        self.index = open_index(settings)
        self.writer = self.index.writer()
        self.conn = self.writer.conn  # SQLite's, for tests that look underneath the face

    def backfill(self):
        return backfill(self.settings, self.writer)

    def search(self, query, **kwargs):
        with self.index.reader() as reader:
            return reader.search(query, **kwargs)

    def scalar(self, sql, *params):
        return self.conn.execute(sql, params).fetchone()[0]

    def session(self, session_id):
        from zergd.index.filters import SESSION_FIELDS

        row = self.conn.execute(f"select {', '.join(SESSION_FIELDS)} from sessions where id = ?", (session_id,)).fetchone()
        return dict(zip(SESSION_FIELDS, row)) if row else None


@pytest.fixture
def index(settings):
    idx = Index(settings)
    yield idx
    idx.index.close()


@pytest.fixture
def imported(corpus, index):
    index.backfill()
    return index


# --- PostgreSQL: a throwaway cluster for the second backend -------------------


@pytest.fixture(scope="session")
def pg_server():
    """One cluster for the whole run; skipped (with the reason) where
    PostgreSQL or psycopg is missing."""
    from pgcluster import Cluster, Unavailable

    try:
        cluster = Cluster()
    except Unavailable as e:
        pytest.skip(str(e))
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_server):
    """A new, empty database on the test cluster."""
    return pg_server.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch):
    """Run the test on each backend: the configured database is the
    PostgreSQL one for the second run (ZERG_DATABASE_URL, as a user sets it)."""
    if request.param == "postgresql":
        monkeypatch.setenv("ZERG_DATABASE_URL", request.getfixturevalue("pg_url"))
    return request.param
