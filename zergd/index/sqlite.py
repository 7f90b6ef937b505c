"""The SQLite backend (the default): one file beside the archive.

The full-text index is an FTS5 *external content* table whose content is a
view over ``lines`` that re-derives each line's text from the archive through
the ``zerg_line_text`` SQL function.  So the text is stored once (in the
archive), and ``snippet()`` still works: FTS5 asks the view for the few rows
it highlights.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import sqlite_utils

from ..errors import BadQuery, NotReady
from .base import Index
from .dialect import LIKE_ESCAPE, OFFSET_BITS, SQLITE, generation_of, like_pattern, split_line_id
from .migrations import migrate
from .parse import display_text, fts_text, needed_bytes
from .reader import Reader
from .search import Hit, quote_fts, split_terms, substring_snippet
from .snippets import word_snippet
from .writer import Writer

# Archive files each read connection keeps open: a page of hits touches a
# few sessions, and the API keeps up to 16 connections (store.SqliteIndex).
OPEN_FILES = 24


class ArchiveReader:
    """Reads archived line bytes by line id, keeping a few files open."""

    def __init__(self, conn: sqlite3.Connection, archive_dir: Path):
        self.archive_dir = archive_dir
        self._db_path = conn.execute("pragma database_list").fetchone()[2]
        self._paths: dict[int, Path] = {}
        self._files: dict[int, object] = {}
        self._lock = threading.Lock()

    def _path(self, gen_id: int) -> Path | None:
        path = self._paths.get(gen_id)
        if path is None:
            # A separate connection: SQL functions must not re-enter their own.
            lookup = sqlite3.connect(f"file:{quote(self._db_path)}?mode=ro", uri=True)
            try:
                row = lookup.execute("select archive from generations where id = ?", (gen_id,)).fetchone()
            finally:
                lookup.close()
            if row is None:
                return None
            path = self._paths[gen_id] = self.archive_dir / row[0]
        return path

    def read(self, lid: int, length: int) -> bytes | None:
        gen_id, offset = split_line_id(lid)
        with self._lock:
            f = self._files.get(gen_id)
            if f is None:
                path = self._path(gen_id)
                if path is None or not path.exists():
                    return None
                if len(self._files) >= OPEN_FILES:
                    for old in self._files.values():
                        old.close()
                    self._files.clear()
                f = self._files[gen_id] = open(path, "rb")
            return os.pread(f.fileno(), length, offset)

    def know_archives(self, conn, gen_ids) -> None:
        """Learn the archive files of these generations over ``conn`` (outside
        any SQL function, so no second connection is needed)."""
        missing = [g for g in gen_ids if g not in self._paths]
        if missing:
            for gen_id, archive in conn.execute(
                    f"select id, archive from generations where id in ({', '.join('?' * len(missing))})", missing):
                self._paths[gen_id] = self.archive_dir / archive

    def text(self, lid: int, length: int) -> str | None:
        raw = self.read(lid, needed_bytes(length))
        return None if raw is None else fts_text(raw, length)

    def display(self, lid: int, length: int) -> str | None:
        raw = self.read(lid, needed_bytes(length))
        return None if raw is None else display_text(raw, length)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


def close(db: sqlite_utils.Database) -> None:
    """Close a connection from ``connect`` and the archive files its reader holds open."""
    db.archive_reader.close()
    db.conn.close()


def connect(path: Path, archive_dir: Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """Open (and, unless read-only, create and migrate) the index."""
    if readonly:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("pragma busy_timeout = 5000")
    db = sqlite_utils.Database(conn)
    if not readonly:
        db.enable_wal()
        # The archive is fsync'd before each commit and reconciled on start,
        # so the index can use NORMAL: a lost last commit is re-derived.
        conn.execute("pragma synchronous = normal")
        migrate(db)
    reader = ArchiveReader(conn, archive_dir)
    conn.create_function("zerg_line_text", 2, reader.text, deterministic=True)
    db.archive_reader = reader  # type: ignore[attr-defined]
    return db


class SqliteReader(Reader):
    dialect = SQLITE

    def __init__(self, conn, archive_dir: Path, lines: ArchiveReader | None = None):
        super().__init__(conn, archive_dir)
        self.lines = lines or ArchiveReader(conn, archive_dir)

    def _search(self, query, limit, raw, where, params, per_session) -> list[Hit]:
        if raw:
            match, runs = query, []
        else:
            tokens, runs = split_terms(query)
            match = quote_fts(" ".join(tokens))
        if not match and not runs:
            return []
        try:
            rows = self._match(match, runs, limit, where, params, per_session)
        except sqlite3.OperationalError as e:
            if raw and ("fts5" in str(e) or "syntax" in str(e) or "no such column" in str(e)):
                raise BadQuery(f"bad FTS5 query: {e} (drop --raw / raw=true to search for the words as typed)") from None
            raise
        # Snippets are cut here from the hits' text as written (snippets.py), not by FTS5.
        cut = (lambda text: word_snippet(text, query, raw)) if match else (lambda text: substring_snippet(text, runs))
        self.lines.know_archives(self.conn, {r[2] >> OFFSET_BITS for r in rows})
        return self._hits([(*r[:7], cut(self.lines.display(r[2], r[7]) or ""), *r[8:]) for r in rows])

    def _match(self, match, runs, limit, where, params, per_session) -> list[tuple]:
        """Lines matching the FTS5 query ``match`` (words) and holding every
        substring in ``runs`` (lines_runs' trigram index finds those)."""
        conn = self.conn
        likes = [like_pattern(r) for r in runs]
        if match:
            source, first, first_params, rank = "lines_fts", "lines_fts match ?", [match], "f.rank"
            conds = [first] + [f"f.rowid in (select rowid from lines_runs where text like ? {LIKE_ESCAPE})"] * len(likes)
        else:  # substrings only: newest first
            source, rank = "lines_runs", "f.rowid desc"
            conds = [f"f.text like ? {LIKE_ESCAPE}"] * len(likes)
            first_params = []
        cond_params = first_params + likes
        joins = (f" from {source} f join lines l on l.id = f.rowid join generations g on g.id = {generation_of('f.rowid')}"
                 " join sessions x on x.source_id = g.source_id")
        cond = " and ".join(conds + list(where))
        # The line's length in the snippet's place: _search cuts it from the text.
        select = f"select x.id, g.gen, f.rowid, l.lineno, l.ts, l.type, l.role, l.length, x.title, x.project{joins}"
        if per_session:
            # Rank without snippets (cheap), keep the best few of each session,
            # then snippet only those.
            ranked = conn.execute(f"select f.rowid, x.id{joins} where {cond} order by {rank} limit ?",
                                  (*cond_params, *params, limit * 10)).fetchall()
            chosen = self._cap_per_session(ranked, limit, per_session)
            if not chosen:
                return []
            # Order is known already: these rows only, no full-text query again.
            order = {rowid: i for i, rowid in enumerate(chosen)}
            sql = ("select x.id, g.gen, l.id, l.lineno, l.ts, l.type, l.role, l.length,"
                   f" x.title, x.project from lines l join generations g on g.id = {generation_of('l.id')}"
                   f" join sessions x on x.source_id = g.source_id where l.id in ({', '.join('?' * len(chosen))})")
            rows = sorted(conn.execute(sql, chosen).fetchall(), key=lambda r: order[r[2]])
        else:
            rows = conn.execute(f"{select} where {cond} order by {rank} limit ?",
                                (*cond_params, *params, limit)).fetchall()
        return rows


def integrity(path: Path, archive_dir: Path) -> list[str]:
    """SQLite's integrity check, and FTS5's: every indexed term re-derives
    from the archive (it needs a writable connection; it writes nothing)."""
    db = connect(path, archive_dir)
    try:
        problems = []
        result = db.conn.execute("pragma integrity_check").fetchone()[0]
        if result != "ok":
            problems.append(f"sqlite integrity_check: {result}")
        try:
            db.conn.execute("insert into lines_fts(lines_fts, rank) values ('integrity-check', 1)")
        except sqlite3.DatabaseError as e:  # the FTS index disagrees with the archive
            problems.append(f"FTS5 integrity-check: {e}")
        return problems
    finally:
        close(db)


class SqliteIndex(Index):
    kind = "sqlite"

    def __init__(self, path: Path, archive_dir: Path, pool_size: int = 16):
        super().__init__(archive_dir)
        self.path = path
        # Read-only connections, reused: each keeps its SQLite page cache warm,
        # which makes a search 3x faster than a fresh connection.  As many as
        # the API's busy threads use at once, or each burst opens new ones.
        self._idle: queue.LifoQueue = queue.LifoQueue()  # of (epoch, connection)
        self._pool_size = pool_size
        self._epoch = 0  # bumped when a rebuilt file replaces this one: older connections read the old file
        self._db = None

    def describe(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def writer(self) -> Writer:
        if self._writer is None:
            self._db = connect(self.path, self.archive_dir)
            self._writer = Writer(self._db.conn, archive_dir=self.archive_dir)
            self._writer.parser_version()  # stamped while a new index is still empty
        return self._writer

    @contextmanager
    def reader(self):
        if not self.path.exists():
            raise NotReady(f"the index {self.path} does not exist yet; is zergd still starting?")
        epoch, db = self._epoch, None
        while db is None:
            try:
                born, db = self._idle.get_nowait()
            except queue.Empty:
                db = connect(self.path, self.archive_dir, readonly=True)
                break
            if born != epoch:
                close(db)
                db = None
        try:
            yield SqliteReader(db.conn, self.archive_dir, db.archive_reader)
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):  # the writer is creating it this moment
                raise NotReady(f"the index {self.path} is being created") from None
            raise
        finally:
            if self._idle.qsize() < self._pool_size and epoch == self._epoch:
                self._idle.put((epoch, db))
            else:
                close(db)

    def integrity(self) -> list[str]:
        return integrity(self.path, self.archive_dir)

    def quick_integrity(self) -> list[str]:
        with self.reader() as r:
            result = r.conn.execute("pragma quick_check").fetchone()[0]
        return [] if result == "ok" else [f"sqlite quick_check: {result}"]

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file (after a bulk load)."""
        if self._db is not None:
            self._db.conn.execute("pragma wal_checkpoint(truncate)")

    def scratch(self) -> "SqliteIndex":
        tmp = self.path.with_name(self.path.name + ".rebuild")
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        return SqliteIndex(tmp, self.archive_dir)

    def adopt(self, built: "Index") -> None:
        assert isinstance(built, SqliteIndex)
        built.checkpoint()
        built.close()
        self.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        os.replace(built.path, self.path)
        self._epoch += 1
        for suffix in ("-wal", "-shm"):
            Path(f"{built.path}{suffix}").unlink(missing_ok=True)

    def close_writer(self) -> None:
        if self._db is not None:
            close(self._db)
            self._db = self._writer = None

    def close(self) -> None:
        self.close_writer()
        while not self._idle.empty():
            close(self._idle.get_nowait()[1])
