"""One transaction of the writer, and which errors of a backend mean "the
index cannot take this now" (IndexUnavailable: retried, nothing lost)."""

from __future__ import annotations

import sqlite3

from ..errors import IndexUnavailable


def sqlite_unavailable(exc: BaseException) -> IndexUnavailable | None:
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    message = str(exc)
    if "full" in message or "locked" in message or "busy" in message:
        return IndexUnavailable(f"index: {message} (nothing is lost: indexing resumes by itself)")
    return IndexUnavailable(f"index: {message}", transient=False)


class Transaction:
    """``BEGIN`` ... ``COMMIT``, rolled back on error; nests as a no-op.
    The backend's own "cannot now" errors leave as IndexUnavailable."""

    def __init__(self, conn, begin: str, unavailable):
        self.conn = conn
        self.begin = begin
        self.unavailable = unavailable
        self.outer = False

    def __enter__(self):
        if not self.conn.in_transaction:
            try:
                self.conn.execute(self.begin)
            except Exception as e:
                translated = self.unavailable(e)
                if translated is None:
                    raise
                raise translated from e
            self.outer = True
        return self

    def __exit__(self, exc_type, exc, _tb):
        try:
            if self.outer:
                if exc_type is None:
                    self.conn.execute("commit")
                elif self.conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
                    self.conn.execute("rollback")
        except Exception as e:  # the commit itself failed (disk full at commit time)
            exc = e
            if self.conn.in_transaction:
                self.conn.execute("rollback")
            translated = self.unavailable(e)
            if translated is None:
                raise
            raise translated from e
        translated = self.unavailable(exc) if exc is not None else None
        if translated is not None:
            raise translated from exc
        return False
