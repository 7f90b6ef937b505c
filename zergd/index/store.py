"""The index's one face: ``open_index(settings)`` gives an ``Index`` with one
``writer()`` and pooled ``reader()``s, over SQLite (a file, the default) or
PostgreSQL (``--database postgresql://…`` / ``database.url``).  Callers never
see SQL, a connection or a packed line id."""

from __future__ import annotations

import os
import queue
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..errors import BadQuery, NotReady
from .writer import Writer

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith(PG_SCHEMES)


def open_index(settings, url: str | None = None) -> "Index":
    """The index ``url`` names (else the configured one, else the SQLite file
    in ZERG_HOME); nothing is created until a writer is asked for."""
    url = url or settings.database_url
    if is_postgres(url):
        from .pg import PgIndex

        return PgIndex(url, settings.archive_dir)
    if url and not url.startswith("sqlite:"):
        raise BadQuery(f"unknown database {url!r}: give a postgresql://… URL or sqlite:///path/to/index.db")
    # sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spells them
    path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite:")) if url else settings.index_path
    return SqliteIndex(path, settings.archive_dir)


class Index:
    """What every backend offers.  One writer per index (the daemon's, or an
    import's, under the ZERG_HOME lock); readers from any thread."""

    kind = ""

    def __init__(self, archive_dir: Path):
        self.archive_dir = archive_dir
        self._writer: Writer | None = None

    def describe(self) -> str:
        """Where it lives, safe to print (no password)."""
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def writer(self) -> Writer:
        """The writer, creating and migrating the index on first use."""
        raise NotImplementedError

    @contextmanager
    def reader(self):
        """A Reader on a pooled read connection; NotReady before the index exists."""
        raise NotImplementedError
        yield

    def integrity(self) -> list[str]:
        """The backend's own consistency checks (for `zergd check`)."""
        raise NotImplementedError

    def quick_integrity(self) -> list[str]:
        """A fast structural check of the index (no full-text re-derivation)."""
        return []

    def scratch(self) -> "Index":
        """An empty index of the same kind beside this one, to rebuild into
        while this one keeps serving; ``adopt`` swaps it in."""
        raise NotImplementedError

    def adopt(self, built: "Index") -> None:
        raise NotImplementedError

    def close_writer(self) -> None:
        """Drop the writer's connection (after an error: the next ``writer()`` reconnects)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


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
        from .sqlite import connect

        if self._writer is None:
            self._db = connect(self.path, self.archive_dir)
            self._writer = Writer(self._db.conn)
            self._writer.parser_version()  # stamped while a new index is still empty
        return self._writer

    @contextmanager
    def reader(self):
        from .sqlite import SqliteReader, close, connect

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
        from .sqlite import integrity

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
        from .sqlite import close

        if self._db is not None:
            close(self._db)
            self._db = self._writer = None

    def close(self) -> None:
        from .sqlite import close

        self.close_writer()
        while not self._idle.empty():
            close(self._idle.get_nowait()[1])
