"""The single writer: every change to the index goes through ``Writer``, one
transaction per batch of lines (DESIGN.md, I3/I4), on either backend (the
few places their SQL differs come from ``dialect``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..archive import archive_rel, claims
from ..errors import IndexUnavailable
from .dialect import SQLITE, Dialect
from .feed import Batch
from .naming import SourceInfo, path_digest
from .parse import CODEX_TOTALS, PARSER_VERSION, Line, parse_line
from .summary import RANK_SUMMARY, SessionSummary, fold

# lines.partial: 0 a newline-ended line; 1 the unfinished last line, shown but
# not searchable; 2 that line indexed because its file went quiet without
# the newline (Claude Code sometimes ends a file so).
QUIET_INDEXED = 2


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Generation:
    id: int
    gen: int
    archive: str  # relative to ZERG_HOME/sessions
    archived: int
    indexed: int
    lines: int
    inode: int | None
    mtime_ns: int | None
    crc: int | None = 0  # running CRC-32 of the archived bytes; None: not known yet
    checked_mtime_ns: int | None = None  # source mtime when its whole prefix last matched
    sha256: str | None = None  # recorded when the generation is sealed


@dataclass
class Source:
    id: int
    session_id: str
    host: str
    provider: str
    rel: str
    path: str | None
    generation: Generation
    deleted: bool = False


_GEN_COLS = "id, gen, archive, archived, indexed, lines, inode, mtime_ns, crc, checked_mtime_ns, sha256"


class Writer:
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
        return _Transaction(self.conn, self.dialect.begin, self.unavailable)

    # --- sources and generations ------------------------------------------

    def open_source(self, host: str, info: SourceInfo, path: str | None) -> Source:
        """The source for (host, provider, rel), registered with its session on first sight."""
        source = self.find_source(host, info.provider, info.rel)
        if source is None:
            return self._register(host, info, path)
        if path and path != source.path:
            with self.transaction():
                self.conn.execute("update sources set path = ? where id = ?", (path, source.id))
            source.path = path
        return source

    def find_source(self, host: str, provider: str, rel: str) -> Source | None:
        """The source for (host, provider, rel) if it is registered."""
        row = self.conn.execute(
            "select s.id, x.id, s.path, x.source_deleted_at from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and s.provider = ? and s.rel = ?",
            (host, provider, rel),
        ).fetchone()
        if row is None:
            return None
        source_id, session_id, path, deleted = row
        return Source(source_id, session_id, host, provider, rel, path, self._current_generation(source_id),
                      deleted=bool(deleted))

    def foreign_parent(self, host: str, info: SourceInfo) -> bool:
        """Whether the parent session a subagent's path names is another
        machine's, with no session of that id archived from ``host``."""
        parent = info.parent_session_id
        elsewhere = self.conn.execute("select 1 from sessions where id = ? and host != ?", (parent, host)).fetchone()
        if elsewhere is None:
            return False
        own = self.conn.execute("select 1 from sources where host = ? and provider = ? and rel = ?",
                                (host, info.provider, f"{info.project_dir}/{parent}.jsonl")).fetchone()
        return own is None

    def _register(self, host: str, info: SourceInfo, path: str | None) -> Source:
        with self.transaction():
            source_id = self._insert_id("insert into sources (host, provider, rel, path) values (?, ?, ?, ?)",
                                        (host, info.provider, info.rel, path))
            session_id = self._free_session_id(info, host)
            self.conn.execute(
                "insert into sessions (id, source_id, provider, host, project_dir, parent_session_id,"
                " agent_id, is_subagent, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, source_id, info.provider, host, info.project_dir, info.parent_session_id,
                 info.agent_id, 1 if info.agent_id else 0, now_iso()),
            )
            gen = self._insert_generation(source_id, host, info.provider, info.rel, 1)
        self._changed(session_id, "created")
        return Source(source_id, session_id, host, info.provider, info.rel, path, gen)

    def _insert_id(self, sql: str, params: tuple) -> int:
        """Insert one row; its new id."""
        if self.dialect.returning:
            return self.conn.execute(sql + " returning id", params).fetchone()[0]
        # SQLite has RETURNING too, but a statement left holding its row
        # made every later insert slower (a whole import 5%).
        return self.conn.execute(sql, params).lastrowid

    def _free_session_id(self, info: SourceInfo, host: str) -> str:
        """The id the path gives; only a copy of a file already archived under
        that id (the same session UUID in two places) gets it qualified by a
        digest of its own path - the one archived first keeps the plain id.
        Who got which is recorded in the archive (archive.claims) the moment
        they collide, so a rebuild, in whatever order, gives each the same."""
        claims = self._load_claims()
        key = (host, info.provider, info.rel)
        if key in claims and not self._id_taken(claims[key]):
            return claims[key]
        taken_by_claim = set(claims.values())
        candidates = [info.session_id, f"{info.session_id}-{path_digest(info.provider, info.rel)}",
                      f"{info.session_id}-{hashlib.sha1(f'{host}/{info.provider}/{info.rel}'.encode()).hexdigest()}"]
        for candidate in candidates:
            if not self._id_taken(candidate) and candidate not in taken_by_claim:
                if candidate != info.session_id:
                    self._record_collision(info.session_id, key, candidate)
                return candidate
        raise ValueError(f"session id {info.session_id!r} is taken under every qualified form")

    def _id_taken(self, session_id: str) -> bool:
        return self.conn.execute("select 1 from sessions where id = ?", (session_id,)).fetchone() is not None

    def _load_claims(self) -> dict:
        if self._claims is None:
            self._claims = claims.load(self.archive_dir) if self.archive_dir else {}
        return self._claims

    def _record_collision(self, plain: str, key: tuple[str, str, str], qualified: str) -> None:
        """Record who holds the plain id (if not yet) and who gets ``qualified``."""
        if self.archive_dir is None:
            return
        holder = self.conn.execute("select s.host, s.provider, s.rel from sessions x join sources s"
                                   " on s.id = x.source_id where x.id = ?", (plain,)).fetchone()
        assignments = ([(tuple(holder), plain)] if holder else []) + [(key, qualified)]
        for who, session_id in assignments:
            if who not in self._claims:
                claims.record(self.archive_dir, *who, session_id)
                self._claims[who] = session_id

    def _insert_generation(self, source_id: int, host: str, provider: str, rel: str, gen: int) -> Generation:
        archive = archive_rel(host, provider, rel, gen)
        gen_id = self._insert_id("insert into generations (source_id, gen, archive, started_at, crc) values (?, ?, ?, ?, 0)",
                                 (source_id, gen, archive, now_iso()))
        return Generation(gen_id, gen, archive, 0, 0, 0, None, None)

    def _current_generation(self, source_id: int) -> Generation:
        row = self.conn.execute(
            f"select {_GEN_COLS} from generations where source_id = ? order by gen desc limit 1", (source_id,)
        ).fetchone()
        return Generation(*row)

    def new_generation(self, source: Source, sealed_sha256: str | None = None) -> Generation:
        """Start a new archive file for a source that shrank or was rewritten
        (I5); the old one is sealed with the digest of its archived bytes."""
        old = source.generation
        with self.transaction():
            if sealed_sha256 is not None:
                self.conn.execute("update generations set sha256 = ? where id = ?", (sealed_sha256, old.id))
            gen = self._insert_generation(source.id, source.host, source.provider, source.rel, old.gen + 1)
        old.sha256 = sealed_sha256 or old.sha256
        source.generation = gen
        return gen

    def set_identity(self, source: Source, inode: int | None, mtime_ns: int | None, *, checked: bool) -> None:
        """The source's identity when last read; ``checked`` when its whole
        archived prefix was just proven unchanged (or read from byte 0)."""
        gen = source.generation
        checked_ns = mtime_ns if checked else gen.checked_mtime_ns
        if (gen.inode, gen.mtime_ns, gen.checked_mtime_ns) == (inode, mtime_ns, checked_ns):
            return
        with self.transaction():
            self.conn.execute("update generations set inode = ?, mtime_ns = ?, checked_mtime_ns = ? where id = ?",
                              (inode, mtime_ns, checked_ns, gen.id))
        gen.inode, gen.mtime_ns, gen.checked_mtime_ns = inode, mtime_ns, checked_ns

    def set_crc(self, gen: Generation, crc: int) -> None:
        """The running CRC of a generation archived before fingerprints existed."""
        with self.transaction():
            self.conn.execute("update generations set crc = ? where id = ?", (crc, gen.id))
        gen.crc = crc

    def set_sha256(self, gen_id: int, digest: str) -> None:
        with self.transaction():
            self.conn.execute("update generations set sha256 = ? where id = ?", (digest, gen_id))

    def set_agent_meta(self, host: str, provider: str, rel: str, agent_type: str | None,
                       description: str | None) -> None:
        """A subagent's type and Task description (from its sidecar) on its session."""
        with self.transaction():
            row = self.conn.execute(
                "select x.id, x.agent_type, x.agent_description from sources s join sessions x on x.source_id = s.id"
                " where s.host = ? and s.provider = ? and s.rel = ?", (host, provider, rel)).fetchone()
            if row is None or (row[1], row[2]) == (agent_type, description):
                return
            self.conn.execute("update sessions set agent_type = ?, agent_description = ?, updated_at = ? where id = ?",
                              (agent_type, description, now_iso(), row[0]))
        self._changed(row[0], "updated")

    def mark_deleted(self, session_id: str, when: str | None = None) -> None:
        self._changed(session_id, "source_deleted")
        with self.transaction():
            self.conn.execute(
                "update sessions set source_deleted_at = coalesce(source_deleted_at, ?), updated_at = ? where id = ?",
                (when or now_iso(), now_iso(), session_id),
            )

    def moved_candidate(self, host: str, info: SourceInfo) -> tuple[int, str | None] | None:
        """(source id, its path) of the source that already has the session id
        ``info`` names, when ``info``'s file is not registered: the same
        session moved (Codex moves a rollout into archived_sessions/)."""
        if self.conn.execute("select 1 from sources where host = ? and provider = ? and rel = ?",
                             (host, info.provider, info.rel)).fetchone():
            return None
        row = self.conn.execute(
            "select s.id, s.path from sessions x join sources s on s.id = x.source_id"
            " where x.id = ? and s.host = ? and s.provider = ?", (info.session_id, host, info.provider)).fetchone()
        return (row[0], row[1]) if row else None

    def move_source(self, source_id: int, rel: str, path: str) -> None:
        """The source's file is now at ``rel`` (``path``): the same session,
        its archive and generations continue (sync decides whether the bytes do)."""
        with self.transaction():
            self.conn.execute("update sources set rel = ?, path = ? where id = ?", (rel, path, source_id))

    def mark_present(self, source: Source) -> None:
        if source.deleted:
            with self.transaction():
                self.conn.execute("update sessions set source_deleted_at = null where id = ?", (source.session_id,))
            source.deleted = False

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

    def known_files(self, host: str) -> dict[tuple[str, str], tuple[tuple, int | None]]:
        """(provider, rel) -> ((archived, inode, mtime_ns), checked_mtime_ns)
        of each source's newest generation on ``host``."""
        return {
            (provider, rel): ((archived, inode, mtime_ns), checked)
            for provider, rel, archived, inode, mtime_ns, checked in self.conn.execute(
                "select s.provider, s.rel, g.archived, g.inode, g.mtime_ns, g.checked_mtime_ns from sources s"
                " join generations g on g.source_id = s.id"
                " where s.host = ? and g.gen = (select max(gen) from generations where source_id = s.id)",
                (host,),
            )
        }

    def newest_generations(self) -> list[tuple[str, str, str, str | None, int, str, int]]:
        """(host, provider, rel, path, gen, archive, archived) of every source's newest generation."""
        return self.conn.execute(
            "select s.host, s.provider, s.rel, s.path, g.gen, g.archive, g.archived from sources s"
            " join generations g on g.source_id = s.id"
            " where g.gen = (select max(gen) from generations where source_id = s.id)"
        ).fetchall()

    def present_sessions(self, host: str) -> list[tuple[str, str, str]]:
        """(session id, provider, rel) of sessions on ``host`` whose source is not known to be deleted."""
        return self.conn.execute(
            "select x.id, s.provider, s.rel from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and x.source_deleted_at is null",
            (host,),
        ).fetchall()

    def present_session_of(self, host: str, provider: str, rel: str) -> str | None:
        """The session of a source not yet known to be deleted, or None."""
        row = self.conn.execute(
            "select x.id from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and s.provider = ? and s.rel = ? and x.source_deleted_at is null",
            (host, provider, rel)).fetchone()
        return row[0] if row else None

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
        base = gen.id << 40
        with self.transaction():
            conn = self.conn
            if gen.archived > gen.indexed:
                lines = self._finish_unterminated(base, gen.indexed, lines)
            if lines:
                self._insert_lines([(base | ln.offset, ln.length, ln.lineno, ln.type, ln.uuid, ln.parent_uuid, ln.ts,
                                     ln.role, ln.tools, ln.sidechain, ln.malformed, 0, 1 if ln.text else 0)
                                    for ln in lines])
                self._index_text([(base | ln.offset, ln.text) for ln in lines if ln.text])
                self._index_runs([(base | ln.offset, ln.runs) for ln in lines if ln.runs])
                self._update_session(source.session_id, lines)
                self._changed(source.session_id, "updated")
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
        line_id = base | offset
        row = self.conn.execute("select partial from lines where id = ?", (line_id,)).fetchone()
        if row and row[0] == QUIET_INDEXED:
            self._unindex_text([line_id])
            if lines and lines[0].offset == offset:
                first = lines[0]
                self.conn.execute("delete from lines where id = ?", (line_id,))
                self._insert_lines([(line_id, first.length, first.lineno, first.type, first.uuid, first.parent_uuid,
                                     first.ts, first.role, first.tools, first.sidechain, first.malformed, 0,
                                     1 if first.text else 0)])
                if first.text:
                    self._index_text([(line_id, first.text)])
                    self._index_runs([(line_id, first.runs)] if first.runs else [])
                return lines[1:]
        self.conn.execute("delete from lines where id = ?", (line_id,))
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
        line_id = (gen.id << 40) | gen.indexed
        with self.transaction():
            self.conn.execute("delete from lines where id = ?", (line_id,))
            self._insert_lines([(line_id, ln.length, ln.lineno, ln.type, ln.uuid, ln.parent_uuid, ln.ts, ln.role,
                                 ln.tools, ln.sidechain, ln.malformed, QUIET_INDEXED, 1 if ln.text else 0)])
            if ln.text:
                self._index_text([(line_id, ln.text)])
                self._index_runs([(line_id, ln.runs)] if ln.runs else [])
            self._update_session(source.session_id, [ln])
            self._changed(source.session_id, "updated")
        return True

    def unterminated(self) -> list[Source]:
        """Sources whose newest generation ends in an unfinished line that
        parses whole and is not indexed yet: candidates for index_unterminated."""
        rows = self.conn.execute(
            "select s.id, x.id, s.host, s.provider, s.rel, s.path, x.source_deleted_at,"
            " " + ", ".join(f"g.{c}" for c in _GEN_COLS.split(", ")) + " from generations g"
            " join sources s on s.id = g.source_id join sessions x on x.source_id = s.id"
            " where g.archived > g.indexed"
            " and g.gen = (select max(gen) from generations where source_id = s.id)").fetchall()
        found = []
        for r in rows:
            gen = Generation(*r[7:])
            # One primary-key lookup each: joined in SQL, the planner scanned every line.
            line = self.conn.execute("select partial, malformed from lines where id = ?",
                                     ((gen.id << 40) | gen.indexed,)).fetchone()
            if line == (1, 0):
                found.append(Source(r[0], r[1], r[2], r[3], r[4], r[5], gen, deleted=bool(r[6])))
        return found

    LINE_COLUMNS = ("id", "length", "lineno", "type", "uuid", "parent_uuid", "ts", "role", "tools", "sidechain",
                    "malformed", "partial", "searchable")

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

    def _update_session(self, session_id: str, lines: list[Line]) -> None:
        conn = self.conn
        row = conn.execute(
            "select title, title_rank, first_ts, last_ts, git_branch, models, project, parent_session_id,"
            " is_subagent from sessions where id = ?", (session_id,),
        ).fetchone()
        title, rank, first_ts, last_ts, branch, models_json, project, parent, is_subagent = row
        had_models = bool(models_json)
        s = SessionSummary(session_id, title, rank, first_ts, last_ts, branch,
                           orjson.loads(models_json) if models_json else [], project, parent, bool(is_subagent))
        added = fold(s, lines)
        if added.keyed:
            added.assistant_messages += self._record_usage(session_id, added.keyed)
        if s.title_rank < RANK_SUMMARY:
            # This session's leaves may have been summarised in a file indexed before it.
            uuids = [ln.uuid for ln in lines if ln.uuid]
            for chunk in range(0, len(uuids), 500):
                part = uuids[chunk:chunk + 500]
                row = conn.execute(f"select title from summaries where leaf_uuid in ({', '.join('?' * len(part))})"
                                   " limit 1", part).fetchone()
                if row:
                    s.title, s.title_rank = row[0], RANK_SUMMARY
                    break
        conn.execute(
            "update sessions set title = ?, title_rank = ?, first_ts = ?, last_ts = ?, git_branch = ?,"
            " models = ?, project = ?, parent_session_id = ?, user_messages = user_messages + ?,"
            " assistant_messages = assistant_messages + ?, tool_calls = tool_calls + ?, lines = lines + ?,"
            " updated_at = ? where id = ?",
            (s.title, s.title_rank, s.first_ts, s.last_ts, s.git_branch,
             orjson.dumps(s.models).decode() if s.models or had_models else None, s.project, s.parent_session_id,
             added.user_messages, added.assistant_messages, added.tool_calls, added.lines, now_iso(), session_id),
        )
        if added.summaries:
            self._apply_summaries(added.summaries)

    def _apply_summaries(self, summaries: list[tuple[str, str]]) -> None:
        """Each summary titles the session owning its leaf (if that session has
        no better title yet), now or when the leaf's file is indexed."""
        conn = self.conn
        for leaf, title in summaries:
            conn.execute("insert into summaries (leaf_uuid, title) values (?, ?)"
                         " on conflict (leaf_uuid) do update set title = excluded.title", (leaf, title))
            row = conn.execute("select x.id from lines l join generations g on g.id = (l.id >> 40)"
                               " join sessions x on x.source_id = g.source_id where l.uuid = ? limit 1",
                               (leaf,)).fetchone()
            if row and conn.execute("update sessions set title = ?, title_rank = ?, updated_at = ? where id = ?"
                                    " and title_rank < ?", (title, RANK_SUMMARY, now_iso(), row[0], RANK_SUMMARY)
                                    ).rowcount:
                self._changed(row[0], "updated")

    def _record_usage(self, session_id: str, keyed: list[Line]) -> int:
        """Upsert usage per (message.id, requestId); return how many assistant
        messages are new.  Fields keep their maximum: old-style streaming wrote
        placeholder output_tokens on the early lines of a response."""
        conn = self.conn
        codex = [ln for ln in keyed if ln.msg_key == CODEX_TOTALS]
        keyed = [ln for ln in keyed if ln.msg_key != CODEX_TOTALS]
        cur = conn.executemany(
            "insert into usage (session_id, msg_id, request_id, model, ts) values (?, ?, ?, ?, ?) on conflict do nothing",
            [(session_id, ln.msg_key[0], ln.msg_key[1], ln.model, ln.ts) for ln in keyed if ln.is_assistant],
        )
        new_messages = max(cur.rowcount, 0)
        most = self.dialect.greatest
        rows = [(session_id, ln.msg_key[0], ln.msg_key[1], ln.model, ln.ts, *ln.usage) for ln in keyed if ln.usage]
        rows += self._codex_increases(session_id, codex)
        conn.executemany(
            f"insert into usage (session_id, msg_id, request_id, model, ts, {', '.join(USAGE_FIELDS)})"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (session_id, msg_id, request_id) do update set "
            + ", ".join(f"{f} = {most}(usage.{f}, excluded.{f})" for f in USAGE_FIELDS),
            rows,
        )
        self._mark_copies(session_id, [ln.msg_key for ln in keyed if ln.usage])
        conn.execute(
            "update sessions set (input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens) ="
            " (select coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),"
            " coalesce(sum(cache_creation_tokens), 0), coalesce(sum(cache_read_tokens), 0)"
            " from usage where session_id = ?) where id = ?",
            (session_id, session_id),
        )
        return new_messages

    def _mark_copies(self, session_id: str, keys: list[tuple[str, str]]) -> None:
        """A response in several sessions' files (a resumed session repeats its
        history) counts once: the earliest row (then the smallest session id)
        keeps counted = 1, the others get 0.  Rows are never removed, so only
        the rows still counted need looking at: the one that counted so far
        and the ones just added."""
        ids = list(dict.fromkeys(k[0] for k in keys))
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            counted: dict[tuple, list] = {}
            for sid, msg_id, request_id, ts in self.conn.execute(
                    f"select session_id, msg_id, request_id, coalesce(ts, '9999') from usage"
                    f" where msg_id in ({', '.join('?' * len(part))}) and counted = 1", part):
                counted.setdefault((msg_id, request_id), []).append((ts, sid))
            copies = [(sid, msg_id, request_id) for (msg_id, request_id), rows in counted.items() if len(rows) > 1
                      for _ts, sid in sorted(rows)[1:]]
            if copies:
                self.conn.executemany("update usage set counted = 0 where session_id = ? and msg_id = ? and request_id = ?",
                                      copies)

    def _codex_increases(self, session_id: str, lines: list[Line]) -> list[tuple]:
        """Codex's token_count events carry running totals, often repeated:
        each rise over the totals recorded so far becomes one usage row, keyed
        by the new total (so the same event indexed again adds nothing), dated
        when it happened.  A total that drops (a resumed session starting its
        count again) counts from zero."""
        if not lines:
            return []
        seen = self.conn.execute(
            "select coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cache_read_tokens), 0)"
            " from usage where session_id = ? and msg_id like 'codex@%'", (session_id,)).fetchone()
        rows, base, last = [], [int(v) for v in seen], sum(int(v) for v in seen)
        for ln in lines:
            fresh, output, _cc, cached, _h, _w = ln.usage
            total = fresh + output + cached
            if total == last:
                continue  # the same totals again
            if total < last:  # counting started again
                base, last = [0, 0, 0], 0
            rise = (max(fresh - base[0], 0), max(output - base[1], 0), 0, max(cached - base[2], 0), 0, 0)
            rows.append((session_id, f"codex@{total}", "", ln.model, ln.ts, *rise))
            base, last = [fresh, output, cached], total
        return rows


# Token columns of the usage table, in Line.usage's order.
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
                "cache_creation_1h_tokens", "web_searches")


def sqlite_unavailable(exc: BaseException) -> IndexUnavailable | None:
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    message = str(exc)
    if "full" in message or "locked" in message or "busy" in message:
        return IndexUnavailable(f"index: {message} (nothing is lost: indexing resumes by itself)")
    return IndexUnavailable(f"index: {message}", transient=False)


class _Transaction:
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
