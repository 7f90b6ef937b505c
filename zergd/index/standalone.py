"""``zerg export --format sqlite``: the index as one self-contained SQLite
file, from either backend, that datasette and sqlite-utils open as it is.

The daemon's own SQLite index keeps no copy of the text (FTS5 reads it from
the archive through a Python function only zergd has), so the copy stores
it: ``lines_fts`` is an ordinary FTS5 table here, and ``messages`` a view
that puts each searchable line beside its session."""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from pathlib import Path

import sqlite_utils

from . import migrations
from .base import Index
from .dialect import generation_of, offset_of

TABLES = ("sources", "generations", "sessions", "lines", "usage")

STANDALONE = f"""
    drop view lines_fts_content;
    drop table lines_fts;
    create virtual table lines_fts using fts5(text, tokenize = 'unicode61 remove_diacritics 2');
    create view messages as
        select x.id as session_id, x.title, coalesce(x.project, x.project_dir) as project, g.gen, l.lineno,
               {offset_of('l.id')} as byte_offset, l.ts, l.type, l.role, f.text, l.id as line_id
        from lines l join lines_fts f on f.rowid = l.id
        join generations g on g.id = {generation_of('l.id')} join sessions x on x.source_id = g.source_id;
"""


class NotARegularFile(ValueError):
    """The target exists and is not a regular file (a device, a link, a folder), or
    is one and may not be replaced."""


def check_target(out: Path, force: bool) -> None:
    try:
        found = os.lstat(out)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(found.st_mode):
        raise NotARegularFile(f"{out} exists and is not a regular file; nothing was written")
    if not force:
        raise NotARegularFile(f"{out} exists; give --force to replace it")


def write_sqlite(index: Index, out: Path, on_rows=None, *, force: bool = False) -> dict[str, int]:
    """Write the whole index to ``out`` (replaced only once complete, and
    only with ``force`` if it exists; never a device or a link); the number
    of rows per table."""
    check_target(out, force)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")  # O_EXCL: no planted link
    os.close(fd)
    partial = Path(name)
    conn = sqlite3.connect(partial, isolation_level=None)
    counts = {}
    try:
        db = sqlite_utils.Database(conn)
        migrations.migrate(db)
        conn.executescript(STANDALONE)
        conn.execute("pragma journal_mode = off")
        conn.execute("pragma synchronous = off")
        with index.reader() as reader:
            conn.execute("begin")
            for table in TABLES:
                columns = [c.name for c in db[table].columns]
                counts[table] = 0
                insert = f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"
                for rows in reader.table_rows(table, columns):
                    conn.executemany(insert, rows)
                    counts[table] += len(rows)
                    if on_rows:
                        on_rows(len(rows))
            counts["lines_fts"] = 0
            for rows in reader.texts():
                conn.executemany("insert into lines_fts (rowid, text) values (?, ?)", rows)
                counts["lines_fts"] += len(rows)
            conn.execute("commit")
        conn.execute("insert into lines_fts (lines_fts) values ('optimize')")
    except BaseException:
        conn.close()
        partial.unlink(missing_ok=True)
        raise
    conn.close()
    try:
        check_target(out, force)  # a target that appeared meanwhile is not replaced either
    except NotARegularFile:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    return counts
