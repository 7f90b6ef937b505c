"""The read side of the index's face: ``Reader`` answers session lists,
session detail, line pages, usage and full-text search in the project's own
terms (dicts, ``Hit``, ``LinePage``).  The CLI, the HTTP API and Oikos get a
Reader from ``zergd.index.Index.reader()``; none of them sees SQL or a
connection.  A backend subclasses it for what only it can do (search).

Split by question: sessions, lookups and whole tables here; filters in
filters.py, search in search.py, line pages in lines.py, usage rows in
usage_rows.py (each a part the Reader is made of)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..archive import parse_archive_rel
from .dialect import LIKE_ESCAPE, OFFSET_BITS, SQLITE, Dialect, is_newest_generation, like_pattern
from .export import Generation, SessionLookupError
from .filters import SESSION_FIELDS, SORT_KEY, SessionFilter, decode_cursor, encode_cursor, listed, session_dict
from .lines import LineQueries
from .rows import MachineFile
from .scope import Scope
from .search import SearchQueries
from .usage_rows import UsageQueries


@dataclass
class GenerationRecord:
    id: int
    path: str | None  # the source's path on its machine
    archive: str  # relative to the archive folder
    archived: int
    crc: int | None
    sha256: str | None
    current: bool  # the source's newest generation


@dataclass
class LineRow:
    offset: int
    length: int
    partial: int  # 0 newline-ended, 1 unfinished, 2 unfinished but indexed (its file went quiet)
    searchable: bool
    stored_text: str | None  # the backend's copy of the searchable text, if it keeps one
    copied: bool = False  # part of the copy a forked thread opens with (never searchable)


class Reader(SearchQueries, LineQueries, UsageQueries):
    """Read-only questions to the index over one connection (borrowed from
    ``Index.reader()``; not shared between threads)."""

    dialect: Dialect = SQLITE

    def __init__(self, conn, archive_dir: Path):
        self.conn = conn
        self.archive_dir = archive_dir

    # --- sessions ----------------------------------------------------------

    def sessions(self, flt: SessionFilter | None = None, *, limit: int | None = None,
                 cursor: str | None = None) -> tuple[list[dict], str | None]:
        """Sessions newest first; with ``limit``, also the cursor of the next page."""
        flt = flt or SessionFilter()
        where, params = flt.where(dialect=self.dialect)
        where.append(listed())
        if not flt.empty:
            # A subagent nobody prompted (Claude Code 2.0's "Warmup" agents) holds no conversation either.
            where.append("(user_messages > 0 or (assistant_messages > 0 and is_subagent = 0))")
        if cursor:
            key, sid = decode_cursor(cursor)
            where.append(f"({SORT_KEY} < ? or ({SORT_KEY} = ? and id > ?))")
            params += [key, key, sid]
        sql = f"select {', '.join(SESSION_FIELDS)} from sessions"
        if where:
            sql += " where " + " and ".join(where)
        sql += f" order by {SORT_KEY} desc, id"
        if limit:
            sql += " limit ?"
            params.append(limit + 1)  # one more tells whether there is a next page
        rows = [session_dict(r) for r in self.conn.execute(sql, params)]
        next_cursor = None
        if limit and len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(last["last_ts"] or last["first_ts"] or "", last["id"])
        return rows, next_cursor

    def drift(self) -> list[dict]:
        """Kinds of lines the agents wrote that this zergd does not know, per
        agent and version (most lines first): what a format change looks like."""
        return [{"provider": p, "version": v, "kind": k, "lines": n, "first_seen": seen}
                for p, v, k, n, seen in self.conn.execute(
                    "select provider, version, kind, lines, first_seen from drift"
                    " order by provider, version desc, lines desc, kind")]

    def meta(self, key: str) -> str | None:
        """A fact about the index itself (the ``meta`` table): its epoch, its parser's version."""
        row = self.conn.execute("select value from meta where key = ?", (key,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict:
        """Sessions and lines indexed (for status)."""
        return {"sessions": self.conn.execute("select count(*) from sessions").fetchone()[0],
                "lines": self.conn.execute("select count(*) from lines").fetchone()[0]}

    def session_brief(self, session_id: str) -> dict | None:
        """What says who may read a session (id, host, project, project_dir,
        parent, subagent or not), or None."""
        row = self.conn.execute("select id, host, project, project_dir, parent_session_id, is_subagent from sessions"
                                " where id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        return dict(zip(("id", "host", "project", "project_dir", "parent_session_id", "is_subagent"), row))

    def session(self, session_id: str) -> dict | None:
        """One session with its generations and subagents, or None."""
        conn = self.conn
        row = conn.execute(f"select {', '.join(SESSION_FIELDS)} from sessions where id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        session = session_dict(row)
        session["source_path"] = conn.execute(
            "select s.path from sources s join sessions x on x.source_id = s.id where x.id = ?", (session_id,)).fetchone()[0]
        session["generations"] = [
            {"gen": gen, "bytes": archived, "started_at": started}
            for gen, archived, started in conn.execute(
                "select g.gen, g.archived, g.started_at from generations g join sessions x on x.source_id = g.source_id"
                " where x.id = ? order by g.gen", (session_id,))
        ]
        session["subagents"] = [
            session_dict(r) for r in conn.execute(
                f"select {', '.join(SESSION_FIELDS)} from sessions where parent_session_id = ? and is_subagent = 1"
                f" and host = ? order by {SORT_KEY}, id", (session_id, session["host"]))
        ]
        session["forks"] = [  # threads forked from it (Codex): sessions of their own
            session_dict(r) for r in conn.execute(
                f"select {', '.join(SESSION_FIELDS)} from sessions where parent_session_id = ? and is_subagent = 0"
                f" and host = ? order by {SORT_KEY}, id", (session_id, session["host"]))
        ]
        return session

    def _scoped(self, scope: Scope | None, alias: str = "") -> tuple[str, list]:
        """ " and <who may see it>" for a query on sessions, or nothing."""
        cond, params = scope.where(alias, self.dialect) if scope is not None else (None, [])
        return (f" and {cond}", params) if cond else ("", [])

    def projects(self, scope: Scope | None = None) -> list[dict]:
        cond, params = self._scoped(scope)
        return [
            {"project": project, "sessions": n, "last_ts": last}
            for project, n, last in self.conn.execute(
                f"select coalesce(project, project_dir), count(*), max({SORT_KEY}) from sessions"
                f" where is_subagent = 0 and {listed()}{cond} group by 1 order by 3 desc, 1", params)
            if project
        ]

    def stats(self, scope: Scope | None = None) -> dict:
        conn = self.conn
        cond, params = self._scoped(scope)
        ucond, uparams = self._scoped(scope, "x")
        totals = conn.execute(
            "select count(*), coalesce(sum(user_messages), 0), coalesce(sum(assistant_messages), 0),"
            " coalesce(sum(tool_calls), 0), coalesce(sum(lines), 0), coalesce(sum(is_subagent), 0),"
            f" count(source_deleted_at), min(first_ts), max(last_ts) from sessions where {listed()}{cond}", params
        ).fetchone()
        keys = ("sessions", "user_messages", "assistant_messages", "tool_calls", "lines", "subagents",
                "sources_deleted", "first_ts", "last_ts")
        by_model = [
            {"model": m, "messages": n, "input_tokens": i, "output_tokens": o, "cache_creation_tokens": cc,
             "cache_read_tokens": cr}
            for m, n, i, o, cc, cr in conn.execute(
                "select u.model, count(*), sum(u.input_tokens), sum(u.output_tokens), sum(u.cache_creation_tokens),"
                " sum(u.cache_read_tokens) from usage u" + (" join sessions x on x.id = u.session_id" if ucond else "")
                + f" where u.model is not null{ucond} group by u.model order by 2 desc, 1", uparams)
        ]
        by_provider = dict(conn.execute(f"select provider, count(*) from sessions where {listed()}{cond} group by provider",
                                        params).fetchall())
        by_machine = dict(conn.execute(f"select host, count(*) from sessions where {listed()}{cond} group by host",
                                       params).fetchall())
        by_entrypoint = dict(conn.execute(f"select entrypoint, count(*) from sessions where entrypoint is not null"
                                          f"{cond} group by entrypoint", params).fetchall())
        per_day = [
            {"day": day, "sessions": n}
            for day, n in conn.execute(
                f"select substr({SORT_KEY}, 1, 10), count(*) from sessions where {SORT_KEY} != '' and {listed()}{cond}"
                " group by 1 order by 1 desc limit 90", params)
        ]
        return {**dict(zip(keys, totals)), "by_model": by_model, "by_provider": by_provider, "by_machine": by_machine,
                "by_entrypoint": by_entrypoint, "per_day": per_day}


    # --- usage and cost ------------------------------------------------------







    # --- finding a session's archived bytes --------------------------------

    def resolve(self, ref: str, settings) -> tuple[str, int | None]:
        """(session id, generation or None) for what a user typed: an id, a
        unique id prefix, or a source or archive file path."""
        conn = self.conn
        row = conn.execute("select id from sessions where id = ?", (ref,)).fetchone()
        if row:
            return row[0], None
        by_path = self._by_path(ref, settings)
        if by_path:
            return by_path
        ids = [r[0] for r in conn.execute(
            f"select id from sessions where id like ? {LIKE_ESCAPE} order by id limit 21",
            (like_pattern(ref, prefix=True),))]
        if len(ids) == 1:
            return ids[0], None
        if not ids:
            raise SessionLookupError(f"no session matches {ref!r}")
        more = " (and more)" if len(ids) > 20 else ""
        raise SessionLookupError(f"{ref!r} is ambiguous; it starts {len(ids[:20])} session ids{more}", ids[:20])

    def _by_path(self, ref: str, settings) -> tuple[str, int | None] | None:
        if "/" not in ref and os.sep not in ref:
            return None
        path = Path(os.path.abspath(Path(ref).expanduser()))
        row = self.conn.execute(
            "select x.id from sources s join sessions x on x.source_id = s.id where s.path = ?", (str(path),)
        ).fetchone()
        if row:
            return row[0], None
        try:
            rel = path.relative_to(os.path.abspath(self.archive_dir)).as_posix()
        except ValueError:
            return None
        parsed = parse_archive_rel(rel)
        if not parsed:
            return None
        host, provider, source_rel, gen = parsed
        row = self.conn.execute(
            "select x.id from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and s.provider = ? and s.rel = ?", (host, provider, source_rel),
        ).fetchone()
        return (row[0], gen) if row else None

    def generations(self, session_id: str) -> list[Generation]:
        """The session's archive files, oldest generation first."""
        rows = self.conn.execute(
            "select g.id, g.gen, g.archive, g.archived, s.within from generations g join sources s on s.id = g.source_id"
            " join sessions x on x.source_id = s.id where x.id = ? order by g.gen", (session_id,),
        ).fetchall()
        return [Generation(session_id, gen, self.archive_dir / archive, archived,
                           self._pieces(gen_id) if within is not None else None)
                for gen_id, gen, archive, archived, within in rows]

    def _pieces(self, gen_id: int) -> tuple[tuple[int, int], ...]:
        """(offset, length) of a generation's lines (one that points into another source's archive)."""
        base = gen_id << OFFSET_BITS
        return tuple((lid - base, length) for lid, length in self.conn.execute(
            "select id, length from lines where id >= ? and id < ? order by id", (base, base + (1 << OFFSET_BITS))))

    # --- what `zergd check` compares with the archive -----------------------

    def all_generations(self) -> list[GenerationRecord]:
        """Every generation of every source, in the order they were created."""
        return [GenerationRecord(*row) for row in self.conn.execute(
            "select g.id, s.path, g.archive, g.archived, g.crc, g.sha256,"
            f" case when {is_newest_generation('g.gen', 'g.source_id')} then 1 else 0 end"
            " from generations g join sources s on s.id = g.source_id where s.within is null order by g.id")]

    def line_rows(self, generation_id: int) -> list[LineRow]:
        """The line rows of one generation in file order."""
        base = generation_id << OFFSET_BITS
        return [LineRow(lid - base, length, partial, bool(searchable), text, bool(copied))
                for lid, length, partial, searchable, text, copied in self.conn.execute(
                    f"select l.id, l.length, l.partial, l.searchable, {self.stored_text}, l.copied from lines l"
                    " where l.id >= ? and l.id < ? order by l.id", (base, base + (1 << OFFSET_BITS)))]

    # What a backend that stores searchable text holds for line ``l``; NULL
    # where the text is re-derived from the archive (SQLite).
    stored_text = "null"

    def source_of(self, session_id: str) -> tuple[str, str, str, str | None]:
        """(host, provider, rel, last known path) of a session's source file."""
        row = self.conn.execute("select s.host, s.provider, s.rel, s.path from sources s join sessions x"
                                " on x.source_id = s.id where x.id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionLookupError(f"no session {session_id!r}")
        return tuple(row)

    def machine_files(self, host: str) -> list[MachineFile]:
        """Every source from ``host``, as its newest generation has it."""
        return [MachineFile(*row) for row in self.conn.execute(
            "select s.provider, s.rel, g.gen, g.archived, g.crc, x.source_deleted_at from sources s"
            " join generations g on g.source_id = s.id join sessions x on x.source_id = s.id"
            f" where s.host = ? and s.within is null and {is_newest_generation('g.gen', 's.id')}"
            " order by s.provider, s.rel", (host,))]

    def machines(self, scope: Scope | None = None) -> list[dict]:
        """Every machine with sessions here: its name and how many (subagents not counted)."""
        cond, params = self._scoped(scope)
        return [{"machine": host, "sessions": n} for host, n in self.conn.execute(
            f"select host, count(*) from sessions where is_subagent = 0 and {listed()}{cond} group by host order by host",
            params)]

    def sources_on(self, host: str) -> set[tuple[str, str]]:
        """(provider, rel) of every source archived from ``host``."""
        return set(self.conn.execute("select provider, rel from sources where host = ? and within is null",
                                     (host,)).fetchall())

    # --- whole tables, for a standalone copy -------------------------------

    def table_rows(self, table: str, columns: list[str], batch: int = 20_000):
        """Every row of one of the index's tables, in key order, a batch at a time."""
        cols = ", ".join(columns)
        if table != "lines":
            key = {"sessions": "id", "usage": "session_id, msg_id, request_id"}.get(table, "id")
            yield self.conn.execute(f"select {cols} from {table} order by {key}").fetchall()
            return
        after = -1
        while rows := self.conn.execute(f"select {cols} from lines where id > ? order by id limit ?",
                                        (after, batch)).fetchall():
            yield rows
            after = rows[-1][columns.index("id")]

    # (line id, searchable text) of searchable lines after a line id, in id order.
    texts_sql = ("select id, zerg_line_text(id, length) from lines where searchable = 1 and id > ?"
                 " order by id limit ?")

    def texts(self, batch: int = 5_000):
        """(line id, searchable text) of every searchable line, a batch at a time."""
        after = -1
        while rows := self.conn.execute(self.texts_sql, (after, batch)).fetchall():
            yield rows
            after = rows[-1][0]

    # --- lines -------------------------------------------------------------





    # --- search ------------------------------------------------------------
