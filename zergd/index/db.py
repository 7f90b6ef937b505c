"""Opening the index.

The full-text index is an FTS5 *external content* table whose content is a
view over ``lines`` that re-derives each line's text from the archive through
the ``zerg_line_text`` SQL function.  So the text is stored once (in the
archive), and ``snippet()`` still works: FTS5 asks the view for the few rows
it highlights.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from . import migrations
from .parse import fts_text, needed_bytes

# A line's id packs where it lives: generation id in the high bits, byte
# offset in the archive file in the low 40 (files up to 1 TiB).
OFFSET_BITS = 40
OFFSET_MASK = (1 << OFFSET_BITS) - 1


def line_id(generation_id: int, offset: int) -> int:
    return (generation_id << OFFSET_BITS) | offset


def split_line_id(lid: int) -> tuple[int, int]:
    return lid >> OFFSET_BITS, lid & OFFSET_MASK


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
            with sqlite3.connect(f"file:{self._db_path}?mode=ro", uri=True) as lookup:
                row = lookup.execute("select archive from generations where id = ?", (gen_id,)).fetchone()
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
                if len(self._files) > 64:
                    for old in self._files.values():
                        old.close()
                    self._files.clear()
                f = self._files[gen_id] = open(path, "rb")
            return os.pread(f.fileno(), length, offset)

    def text(self, lid: int, length: int) -> str | None:
        raw = self.read(lid, needed_bytes(length))
        return None if raw is None else fts_text(raw, length)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


def connect(path: Path, archive_dir: Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """Open (and, unless read-only, create and migrate) the index."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
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
        migrations.migrate(db)
    reader = ArchiveReader(conn, archive_dir)
    conn.create_function("zerg_line_text", 2, reader.text, deterministic=True)
    db.archive_reader = reader  # type: ignore[attr-defined]
    return db
