"""The PostgreSQL backend (``pip install 'zergd[postgres]'``), for a team
server or several processes reading one index.

The same tables as SQLite, in their own schema (``zerg``), written and read
by the same SQL in writer.py and reader.py; only search differs.  PostgreSQL
cannot call back into Python for a line's text as SQLite's FTS5 does, so the
searchable text is stored here (``lines_fts.text``), with a ``tsvector`` of
it for word and prefix queries and a trigram index for substrings (CJK, which
has no spaces between words).  The tsvector is built from the text split on
every non-alphanumeric character and folded by ``unaccent``, which gives the
same terms as FTS5's unicode61 tokenizer, so the same queries find the same
lines on both backends.
"""

from __future__ import annotations

import functools
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
import psycopg_pool
from psycopg.adapt import Loader

from ..errors import BadQuery, IndexUnavailable, NotReady
from .base import Index
from .dialect import LIKE_ESCAPE, POSTGRES, generation_of, like_pattern
from .parse import SUBSTRING_CLASS, WORD_JOINER
from .pg_schema import SCHEMA, migrate
from .reader import Reader
from .search import Hit, split_terms, substring_snippet
from .snippets import word_snippet
from .writer import Writer

# Runs of letters and digits: the terms FTS5's unicode61 tokenizer makes.
WORD = re.compile(r"[^\W_]+")


# PostgreSQL refuses a tsvector over 1 MB.  Past this many characters of
# words, a line's further words are kept once each (so each is still found;
# a phrase only within the first part), within a budget that fits.
WORDS_WHOLE = 300_000
WORDS_EXTRA_BUDGET = 400_000


def words(text: str) -> str:
    """The text as the tsvector sees it: its words, space-separated."""
    found = WORD.findall(text)
    joined = " ".join(found)
    if len(joined) <= WORDS_WHOLE:
        return joined
    head = joined[:WORDS_WHOLE].rsplit(" ", 1)[0]
    seen = set(head.split(" "))
    extra, budget = [], WORDS_EXTRA_BUDGET
    for word in found:
        if word not in seen:
            seen.add(word)
            budget -= len(word.encode()) + 8
            if budget < 0:
                break
            extra.append(word)
    return head + " " + " ".join(extra)


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    # The shared SQL uses sqlite3's "?"; psycopg wants "%s" (and "%%" for "%").
    return sql.replace("%", "%%").replace("?", "%s")


def _clean(params):
    # PostgreSQL text cannot hold NUL; a transcript's JSON can ("\u0000").
    return tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p for p in params)


class _IntNumeric(Loader):
    """sum() of bigint is numeric in PostgreSQL; the shared code wants ints."""

    def load(self, data):
        text = bytes(data)
        return int(text) if b"." not in text else float(text)


class PgConn:
    """The part of sqlite3.Connection the shared SQL uses, over psycopg."""

    def __init__(self, conn: psycopg.Connection):
        self.raw = conn
        conn.adapters.register_loader("numeric", _IntNumeric)

    def execute(self, sql: str, params=()):
        return self.raw.execute(_placeholders(sql), _clean(params) if params else None)

    def executemany(self, sql: str, rows):
        cur = self.raw.cursor()
        cur.executemany(_placeholders(sql), [_clean(r) for r in rows])
        return cur

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def pg_unavailable(exc: BaseException) -> IndexUnavailable | None:
    """Server gone, disk full, out of connections: transient.  Any other
    database error is the index's too, but will not pass by itself."""
    if isinstance(exc, psycopg.OperationalError):
        return IndexUnavailable(f"index: {str(exc).strip()} (nothing is lost: indexing resumes by itself)")
    if isinstance(exc, psycopg.DatabaseError) and not isinstance(exc, psycopg.IntegrityError):
        return IndexUnavailable(f"index: {str(exc).strip()}", transient=False)
    return None


class PgWriter(Writer):
    """Lines and their text go in by COPY: a third of the time of inserting
    them row by row (the tsvector is made by a trigger, see pg_schema)."""

    def _copy(self, sql: str, rows) -> None:
        with self.conn.raw.cursor().copy(sql) as copy:
            for row in rows:
                copy.write_row(_clean(row))

    def _insert_lines(self, rows):
        self._copy(f"copy lines ({', '.join(self.LINE_COLUMNS)}) from stdin", rows)

    def _index_text(self, rows):
        self._copy("copy lines_fts (id, text, words) from stdin", ((lid, text, words(text)) for lid, text in rows))

    def optimize(self):
        pass  # autovacuum keeps PostgreSQL's statistics

    def _index_runs(self, rows):
        pass  # the trigram index is on lines_fts.text itself (pg004)

    def _unindex_text(self, ids):
        self.conn.execute("delete from lines_fts where id = any(?)", (list(ids),))


class PgReader(Reader):
    dialect = POSTGRES
    stored_text = "(select f.text from lines_fts f where f.id = l.id)"
    texts_sql = "select id, text from lines_fts where id > ? order by id limit ?"

    def _search(self, query, limit, raw, where, params, per_session) -> list[Hit]:
        tsquery, substrings = (raw_tsquery if raw else plain_tsquery)(query)
        if not tsquery and not substrings:
            return []
        conds, cparams = [], []
        if tsquery:
            conds.append("f.tsv @@ to_tsquery('zerg_text', ?)")
            cparams.append(tsquery)
        for s in substrings:
            # The first condition is the trigram index's own: the planner uses it only when the query says so.
            conds.append(f"f.text ~ '{SUBSTRING_CLASS}' and f.text ilike ? {LIKE_ESCAPE}")
            cparams.append(like_pattern(s))
        joins = (f" from lines_fts f join generations g on g.id = {generation_of('f.id')}"
                 " join sessions x on x.source_id = g.source_id")
        cond = " and ".join(conds + where)
        rank = "ts_rank(f.tsv, to_tsquery('zerg_text', ?)) desc, " if tsquery else ""
        rank_params = [tsquery] if tsquery else []
        try:
            ranked = self.conn.execute(
                f"select f.id, x.id{joins} where {cond} order by {rank}f.id desc limit ?",
                (*cparams, *params, *rank_params, limit * 10 if per_session else limit)).fetchall()
            chosen = self._cap_per_session(ranked, limit, per_session) if per_session else [r[0] for r in ranked]
            if not chosen:
                return []
            # The snippet is cut in Python from the stored text, as on SQLite (snippets.py).
            rows = self.conn.execute(
                f"select x.id, g.gen, f.id, l.lineno, l.ts, l.type, l.role, f.text, x.title, x.project"
                f"{joins} join lines l on l.id = f.id where f.id = any(?)", (chosen,)).fetchall()
        except (psycopg.errors.SyntaxError, psycopg.errors.InvalidTextRepresentation) as e:
            raise BadQuery(f"bad query: {str(e).strip()} (drop --raw / raw=true to search for the words as typed)") \
                from None
        order = {lid: i for i, lid in enumerate(chosen)}
        rows.sort(key=lambda r: order[r[2]])
        cut = (lambda text: word_snippet(text, query, raw)) if tsquery else (lambda text: substring_snippet(text, substrings))
        rows = [(*r[:7], cut((r[7] or "").replace(WORD_JOINER, "")), *r[8:]) for r in rows]
        return self._hits(rows)


def _quote(word: str) -> str:
    return "'" + word + "'"  # WORD runs hold no quote, backslash or operator


def _operand(token: str) -> str | None:
    """A word, "a phrase", or prefix* as a tsquery operand (None: no words in it)."""
    prefix = token.endswith("*") and not token.startswith('"')
    found = WORD.findall(token.strip('"').rstrip("*"))
    if not found:
        return None
    parts = [_quote(w) for w in found]
    if prefix:
        parts[-1] += ":*"
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def plain_tsquery(query: str) -> tuple[str, list[str]]:
    """Every word, "phrase" and prefix* must occur (the words as typed: AND,
    OR and NOT are words too).  Runs of scripts without spaces (and emoji)
    are found as substrings (reader.split_terms)."""
    tokens, substrings = split_terms(query)
    operands = [op for op in map(_operand, tokens) if op]
    return " & ".join(operands), substrings


_RAW_TOKEN = re.compile(r'"[^"]*"|[()]|[^\s"()]+')


def raw_tsquery(query: str) -> tuple[str, list[str]]:
    """FTS5's query syntax as far as it goes in a tsquery: words, "phrases",
    prefix*, AND, OR, NOT, parentheses.  NEAR and column filters are FTS5's
    own: a BadQuery here."""
    out: list[str] = []
    want_operand = True  # between two operands FTS5 means AND
    for token in _RAW_TOKEN.findall(query):
        if token in ("AND", "OR", "NOT"):
            if want_operand:
                raise BadQuery(f"bad query: {token} needs something before it")
            out.append({"AND": "&", "OR": "|", "NOT": "& !"}[token])
            want_operand = True
            continue
        if token == ")":
            out.append(")")
            want_operand = False
            continue
        if token.startswith("NEAR(") or token == "NEAR" or (":" in token and not token.startswith('"')):
            raise BadQuery(f"bad query: {token!r} (NEAR and column filters are FTS5's; PostgreSQL takes words, "
                           '"phrases", prefix*, AND, OR, NOT and parentheses)')
        if not want_operand:
            out.append("&")
        if token == "(":
            out.append("(")
            want_operand = True
            continue
        op = _operand(token)
        if op is None:
            raise BadQuery(f"bad query: {token!r} has no words in it")
        out.append(op)
        want_operand = False
    return " ".join(out), []


class PgIndex(Index):
    kind = "postgresql"

    def __init__(self, url: str, archive_dir: Path, schema: str = SCHEMA, pool_size: int = 8):
        super().__init__(archive_dir)
        self.url = url
        self.schema = schema
        self._pool_size = pool_size
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pool_lock = threading.Lock()  # the API's threads all ask for the first reader at once
        self._conn: PgConn | None = None
        self._ready = False

    def describe(self) -> str:
        shown = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", self.url)
        return shown + (f" (schema {self.schema})" if self.schema != SCHEMA else "")

    def _options(self, readonly: bool) -> dict:
        opts = f"-c search_path={self.schema},zerg_ext,public"
        if readonly:
            opts += " -c default_transaction_read_only=on"
        else:
            # As SQLite's synchronous=normal: the archive is fsync'd before a
            # commit and reconciled on start, so a lost last commit is re-derived.
            opts += " -c synchronous_commit=off"
        return {"autocommit": True, "options": opts}

    def _connect(self, readonly: bool = False) -> PgConn:
        try:
            return PgConn(psycopg.connect(self.url, connect_timeout=10, **self._options(readonly)))
        except psycopg.OperationalError as e:
            raise IndexUnavailable(f"cannot reach the database {self.describe()}: {str(e).strip()}") from None

    def exists(self) -> bool:
        conn = self._connect(readonly=True)
        try:
            return conn.execute("select to_regclass(?)", (f"{self.schema}._migrations",)).fetchone()[0] is not None
        finally:
            conn.close()

    def writer(self) -> Writer:
        if self._writer is None:
            self._conn = self._connect()
            migrate(self._conn, self.schema)
            self._writer = PgWriter(self._conn, POSTGRES, unavailable=pg_unavailable, archive_dir=self.archive_dir)
            self._writer.parser_version()  # stamped while a new index is still empty
        return self._writer

    def _readers(self) -> psycopg_pool.ConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = psycopg_pool.ConnectionPool(
                    self.url, min_size=1, max_size=self._pool_size, kwargs=self._options(readonly=True),
                    open=True, timeout=10, name="zergd-readers")
            return self._pool

    @contextmanager
    def reader(self):
        if not self._ready:
            try:
                self._ready = self.exists()
            except IndexUnavailable as e:
                raise NotReady(str(e)) from None
            if not self._ready:
                raise NotReady(f"the index in {self.describe()} does not exist yet; is zergd still starting?")
        try:
            with self._readers().connection() as raw:
                yield PgReader(PgConn(raw), self.archive_dir)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as e:
            raise NotReady(f"the database {self.describe()} cannot be reached: {str(e).strip()}") from None

    def integrity(self) -> list[str]:
        conn = self._connect(readonly=True)
        try:
            problems = []
            orphans = conn.execute("select count(*) from lines_fts f left join lines l on l.id = f.id"
                                   " and l.searchable = 1 where l.id is null").fetchone()[0]
            missing = conn.execute("select count(*) from lines l left join lines_fts f on f.id = l.id"
                                   " where l.searchable = 1 and f.id is null").fetchone()[0]
            if orphans:
                problems.append(f"{orphans} full-text rows have no searchable line")
            if missing:
                problems.append(f"{missing} searchable lines have no full-text row")
            stale = conn.execute("select count(*) from lines_fts where tsv is distinct from"
                                 " to_tsvector('zerg_text', regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))"
                                 " and text ~ '^[[:ascii:]]*$'").fetchone()[0]
            if stale:
                problems.append(f"{stale} full-text rows' terms do not match their text")
            return problems
        finally:
            conn.close()

    def scratch(self) -> "PgIndex":
        built = PgIndex(self.url, self.archive_dir, schema=f"{self.schema}_rebuild")
        conn = self._connect()
        try:
            conn.execute(f'drop schema if exists "{built.schema}" cascade')
        finally:
            conn.close()
        return built

    def adopt(self, built: "Index") -> None:
        """Swap the rebuilt schema in, in one transaction: readers see the old
        index or the new one, never a half-built one."""
        assert isinstance(built, PgIndex)
        built.close()
        self.close()
        conn = self._connect()
        try:
            with conn.raw.transaction():
                conn.execute(f'drop schema if exists "{self.schema}_old" cascade')
                if conn.execute("select 1 from pg_namespace where nspname = ?", (self.schema,)).fetchone():
                    conn.execute(f'alter schema "{self.schema}" rename to "{self.schema}_old"')
                conn.execute(f'alter schema "{built.schema}" rename to "{self.schema}"')
                conn.execute(f'drop schema if exists "{self.schema}_old" cascade')
        finally:
            conn.close()

    def close_writer(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = self._writer = None

    def close(self) -> None:
        self.close_writer()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._ready = False
