"""The single writer: every change to the index goes through ``Writer``, one
transaction per batch of lines (DESIGN.md, I3/I4), on either backend (the
few places their SQL differs come from ``dialect``).

Here: committing lines and their text, unterminated last lines, facts about
the index.  Sources and generations are in sources.py, session rows and
usage in session_rows.py, the rows themselves in rows.py."""

from __future__ import annotations

import secrets
from pathlib import Path

from ..transcript.line import Line
from .dialect import SQLITE, Dialect, is_newest_generation, line_id
from .feed import Batch
from .parse import PARSER_VERSION, parse_line
from .rows import GEN_COLS, Generation, Source, now_iso
from .forks import CopiedRows
from .recovered import RecoveredRows, is_history
from .session_rows import SessionRows
from .sources import SourceRows
from .transaction import Transaction, sqlite_unavailable

__all__ = ["Generation", "Source", "Writer", "now_iso"]

# lines.partial: 0 a newline-ended line; 1 the unfinished last line, shown but
# not searchable; 2 that line indexed because its file went quiet without
# the newline (Claude Code sometimes ends a file so).
QUIET_INDEXED = 2


class Writer(SourceRows, SessionRows, RecoveredRows, CopiedRows):
    def __init__(self, conn, dialect: Dialect = SQLITE, *, unavailable=None, archive_dir: Path | None = None):
        self.conn = conn
        self.dialect = dialect
        # Where colliding session ids are recorded (archive.claims); None: nowhere (tests of the index alone).
        self.archive_dir = archive_dir
        self._claims: dict | None = None
        # The backend's errors that mean "the index cannot take this now" -> IndexUnavailable.
        self.unavailable = unavailable or sqlite_unavailable
        # session id -> "created" | "updated" | "source_deleted", since the last
        # drain; the daemon publishes them once the transaction has committed.
        self.changes: dict[str, str] = {}
        # Whether some generation may end in an unfinished line (True until a
        # look says otherwise; a commit that leaves one sets it again).
        self.unfinished = True
        # Archive files (relative to the archive folder) that grew since the last drain.
        self.grown: set[str] = set()

    def drain_grown(self) -> set[str]:
        grown, self.grown = self.grown, set()
        return grown

    def drain_changes(self) -> dict[str, str]:
        changes, self.changes = self.changes, {}
        return changes

    def _changed(self, session_id: str, kind: str) -> None:
        if self.changes.get(session_id) != "created" or kind == "source_deleted":
            self.changes[session_id] = kind

    def transaction(self):
        """Group several writes in one transaction (a backfill commits every few
        MB instead of per file).  Archive bytes are fsync'd as they are written,
        so they are always durable before the commit that records them."""
        return Transaction(self.conn, self.dialect.begin, self.unavailable)

    # --- sources and generations ------------------------------------------

    def optimize(self) -> None:
        """Refresh the query planner's statistics after a backfill: without
        them SQLite read the usage table through an index, row by row, and a
        usage report over 1 GB took 3x longer.  Bounded (analysis_limit), so
        ~60 ms on a 1 GB index."""
        self.conn.execute("pragma analysis_limit = 1000")
        self.conn.execute("analyze")

    # --- the index's own facts -------------------------------------------------

    def parser_version(self) -> int:
        """Which parse.PARSER_VERSION made the rows; stamped on first use: an
        empty index is the current parser's, rows without a stamp are version 1's."""
        row = self.conn.execute("select value from meta where key = 'parser_version'").fetchone()
        if row is not None:
            return int(row[0])
        empty = self.conn.execute("select 1 from lines limit 1").fetchone() is None
        version = PARSER_VERSION if empty else 1
        with self.transaction():
            self.conn.execute("insert into meta (key, value) values ('parser_version', ?)", (str(version),))
        return version

    def epoch(self) -> str:
        """This index's random id, made when it was made: a shipper that sees
        it change knows the archive here was replaced (wiped, restored from a
        backup, rebuilt) and asks again what is here."""
        row = self.conn.execute("select value from meta where key = 'epoch'").fetchone()
        if row is not None:
            return row[0]
        value = secrets.token_hex(8)
        with self.transaction():
            self.conn.execute("insert into meta (key, value) values ('epoch', ?)", (value,))
        return value

    # --- what the tailer asks before it writes ------------------------------

    def session_summary(self, session_id: str, fields: tuple[str, ...]) -> dict | None:
        row = self.conn.execute(f"select {', '.join(fields)} from sessions where id = ?", (session_id,)).fetchone()
        return dict(zip(fields, row)) if row else None

    # --- lines -------------------------------------------------------------

    def commit(self, source: Source, archived: int, batch: "Batch", crc: int | None) -> None:
        """Record that the archive holds ``archived`` bytes (whose running
        CRC-32 is ``crc``), index the batch's newline-ended lines and show an
        unfinished last line as partial (not searchable)."""
        lines, partial = batch.lines, batch.partial
        gen = source.generation
        base = line_id(gen.id, 0)
        with self.transaction():
            conn = self.conn
            if lines:
                self._mark_copied(source.session_id, lines)
                if is_history(source):  # its prompts are found and counted in their sessions (recovered.py)
                    for ln in lines:
                        ln.copied = 1
            if gen.archived > gen.indexed:
                lines = self._finish_unterminated(base, gen.indexed, lines)
            if lines:
                self._add_lines(base, lines)
                self._update_session(source.session_id, lines)
                self._changed(source.session_id, "updated")
                if is_history(source):
                    self._recover(source, lines)
            gen.indexed, gen.lines = batch.indexed, batch.lineno
            if partial is not None:
                self.unfinished = True
                conn.execute(
                    "insert into lines (id, length, lineno, type, uuid, parent_uuid, ts, role, tools,"
                    " sidechain, malformed, partial, searchable) values (?,?,?,?,?,?,?,?,?,?,?,1,0)",
                    (base | partial.offset, partial.length, partial.lineno, partial.type, partial.uuid,
                     partial.parent_uuid, partial.ts, partial.role, partial.tools, partial.sidechain,
                     partial.malformed),
                )
            gen.archived, gen.crc = archived, crc
            self.grown.add(gen.archive)
            conn.execute(
                "update generations set archived = ?, indexed = ?, lines = ?, crc = ? where id = ?",
                (gen.archived, gen.indexed, gen.lines, gen.crc, gen.id),
            )

    def _finish_unterminated(self, base: int, offset: int, lines: list[Line]) -> list[Line]:
        """Before new lines go in: drop the row shown for the unfinished line
        at ``line_id`` (it is re-read from its start).  If that line was indexed
        while its file was quiet (partial = 2), its text leaves the full-text
        index and the line is not counted in its session a second time."""
        lid = base | offset
        row = self.conn.execute("select partial from lines where id = ?", (lid,)).fetchone()
        if row and row[0] == QUIET_INDEXED:
            self._unindex_text([lid])
            if lines and lines[0].offset == offset:
                self.conn.execute("delete from lines where id = ?", (lid,))
                self._add_lines(base, lines[:1])
                return lines[1:]
        self.conn.execute("delete from lines where id = ?", (lid,))
        return lines

    def index_unterminated(self, source: Source, raw: bytes) -> bool:
        """Index the last line of a quiet file that lacks its newline (``raw``:
        the archived bytes after the last newline) as if it had one:
        searchable, and counted in its session.  Its row stays partial (2)
        until the newline comes (see _finish_unterminated).  False when the
        bytes are not a whole JSON line or the generation moved on."""
        gen = source.generation
        row = self.conn.execute("select archived, indexed, lines from generations where id = ?", (gen.id,)).fetchone()
        if row is None or row[0] != gen.indexed + len(raw) or row[1] != gen.indexed or not raw.strip():
            return False
        ln = parse_line(raw, gen.indexed, row[2] + 1, len(raw))
        if ln.malformed:
            return False
        lid = line_id(gen.id, gen.indexed)
        with self.transaction():
            self.conn.execute("delete from lines where id = ?", (lid,))
            self._mark_copied(source.session_id, [ln])
            ln.copied = 1 if is_history(source) else ln.copied
            self._add_lines(line_id(gen.id, 0), [ln], QUIET_INDEXED)
            self._update_session(source.session_id, [ln])
            self._changed(source.session_id, "updated")
            if is_history(source):
                self._recover(source, [ln])
        return True

    def unterminated(self) -> list[Source]:
        """Sources whose newest generation ends in an unfinished line that
        parses whole and is not indexed yet: candidates for index_unterminated."""
        rows = self.conn.execute(
            "select s.id, x.id, s.host, s.provider, s.rel, s.path, x.source_deleted_at,"
            " " + ", ".join(f"g.{c}" for c in GEN_COLS.split(", ")) + " from generations g"
            " join sources s on s.id = g.source_id join sessions x on x.source_id = s.id"
            " where g.archived > g.indexed"
            f" and {is_newest_generation('g.gen', 's.id')}").fetchall()
        found = []
        for r in rows:
            gen = Generation(*r[7:])
            # One primary-key lookup each: joined in SQL, the planner scanned every line.
            line = self.conn.execute("select partial, malformed from lines where id = ?",
                                     (line_id(gen.id, gen.indexed),)).fetchone()
            if line == (1, 0):
                found.append(Source(r[0], r[1], r[2], r[3], r[4], r[5], gen, deleted=bool(r[6])))
        return found

    LINE_COLUMNS = ("id", "length", "lineno", "type", "uuid", "parent_uuid", "ts", "role", "tools", "sidechain",
                    "malformed", "partial", "searchable")

    def _add_lines(self, base: int, lines: list[Line], partial: int = 0) -> None:
        """Rows for ``lines`` of the generation whose first line id is
        ``base``, and their text where it is searchable (a copy's is not:
        its row says ``copied``, set apart, as few lines are)."""
        self._insert_lines([(base | ln.offset, ln.length, ln.lineno, ln.type, ln.uuid, ln.parent_uuid, ln.ts, ln.role,
                             ln.tools, ln.sidechain, ln.malformed, partial, 1 if ln.text and not ln.copied else 0)
                            for ln in lines])
        copied = [(base | ln.offset,) for ln in lines if ln.copied]
        if copied:
            self.conn.executemany("update lines set copied = 1 where id = ?", copied)
        self._index_text([(base | ln.offset, ln.text) for ln in lines if ln.text and not ln.copied])
        self._index_runs([(base | ln.offset, ln.runs) for ln in lines if ln.runs and not ln.copied])

    def _insert_lines(self, rows: list[tuple]) -> None:
        """Rows of LINE_COLUMNS into ``lines``."""
        self.conn.executemany(f"insert into lines ({', '.join(self.LINE_COLUMNS)}) values"
                              f" ({', '.join('?' * len(self.LINE_COLUMNS))})", rows)

    def _index_text(self, rows: list[tuple[int, str]]) -> None:
        """(line id, searchable text) into the full-text index."""
        self.conn.executemany("insert into lines_fts (rowid, text) values (?, ?)", rows)

    def _index_runs(self, rows: list[tuple[int, str]]) -> None:
        """(line id, its substring runs: Line.runs) into the trigram index."""
        if rows:
            self.conn.executemany("insert into lines_runs (rowid, text) values (?, ?)", rows)

    def _unindex_text(self, ids: list[int]) -> None:
        """Take lines out of the full-text index.  FTS5 with external content
        needs the text it indexed to remove it; the archive still has it."""
        self.conn.executemany("insert into lines_fts (lines_fts, rowid, text)"
                              " select 'delete', id, zerg_line_text(id, length) from lines where id = ?",
                              [(i,) for i in ids])
        self.conn.executemany("delete from lines_runs where rowid = ?", [(i,) for i in ids])
