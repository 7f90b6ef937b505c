"""The read side of the index's face: ``Reader`` answers session lists,
session detail, line pages, usage and full-text search in the project's own
terms (dicts, ``Hit``, ``LinePage``).  The CLI, the HTTP API and Oikos get a
Reader from ``zergd.index.Index.reader()``; none of them sees SQL or a
connection.  A backend subclasses it for what only it can do (search)."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from ..archive import parse_archive_rel
from ..errors import BadQuery
from .branches import Node, forks
from .dialect import OFFSET_BITS, SQLITE, Dialect, split_line_id
from .export import Generation, SessionLookupError
from .parse import SUBSTRING_RUN
from .scope import Scope
from .snippets import HIGHLIGHT

SESSION_FIELDS = (
    "id", "provider", "host", "project", "project_dir", "title", "first_ts", "last_ts", "git_branch",
    "models", "user_messages", "assistant_messages", "tool_calls", "lines", "input_tokens", "output_tokens",
    "cache_creation_tokens", "cache_read_tokens", "parent_session_id", "agent_id", "is_subagent",
    "agent_type", "agent_description", "source_deleted_at", "updated_at",
)
SORT_KEY = "coalesce(last_ts, first_ts, '')"


MAX_DAYS = 700_000  # days ago that still fall in the calendar (year 1 is ~739,000 days back)
# A filter's text: SQLite refuses LIKE patterns past 50,000 bytes; nobody's project is this long.
MAX_FILTER_TEXT = 1000


def parse_when(value: str, *, end_of_day: bool = False) -> str:
    """A date (2026-05-01), an ISO time, or days ago (7d) as the index's UTC
    form.  ``end_of_day`` makes a bare date mean up to the end of that day.
    Dates at the ends of the calendar are clamped, never an error."""
    value = value.strip()
    try:
        if value.endswith("d") and value[:-1].isdigit():
            days = int(value[:-1])
            if days > MAX_DAYS:
                raise BadQuery(f"{value!r}: at most {MAX_DAYS:,} days ago (the calendar starts in the year 1)")
            when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        else:
            try:
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise BadQuery(f"{value!r} is not a date like 2026-05-01, an ISO time, or days ago like 7d") from None
            if end_of_day and len(value) == 10:
                when += dt.timedelta(days=1)
        if when.tzinfo is not None:
            when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31 + 1 day, 0001-01-01 east of UTC, 10**9 days ago
        return "9999-12-31T23:59:59" if value[:1] == "9" else "0001-01-01T00:00:00"
    return when.replace(microsecond=0).isoformat()  # strftime("%Y") drops the zeros of years < 1000


def _session_dict(row) -> dict:
    d = dict(zip(SESSION_FIELDS, row))
    d["models"] = orjson.loads(d["models"]) if d["models"] else []
    d["is_subagent"] = bool(d["is_subagent"])
    return d


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class SessionFilter:
    project: str | None = None  # exact cwd or project folder, or a substring of the cwd
    since: str | None = None  # ISO date/time, compared with the last activity
    until: str | None = None
    branch: str | None = None
    model: str | None = None
    provider: str | None = None
    machine: str | None = None  # the machine it ran on (sessions.host): this one, or one that ships here
    subagents: bool = True
    deleted: bool = False  # only sessions whose source file is gone (kept in the archive)
    # Files with no conversation (empty, or only bookkeeping or summary lines)
    # stay archived and exportable, but are not listed unless asked for.
    empty: bool = False
    ids: list[str] = field(default_factory=list)
    # Whose sessions the reader may see (a signed-in user on a team server); None: all.
    scope: Scope | None = None

    def where(self, alias: str = "", dialect: Dialect = SQLITE) -> tuple[list[str], list]:
        a = f"{alias}." if alias else ""
        where, params = [], []
        for name in ("project", "branch", "model", "provider", "machine"):
            if len(getattr(self, name) or "") > MAX_FILTER_TEXT:
                raise BadQuery(f"{name} is at most {MAX_FILTER_TEXT} characters")
        if self.project:
            where.append(f"({a}project = ? or {a}project_dir = ? or {a}project {dialect.ilike} ? escape '\\')")
            params += [self.project, self.project, _like(self.project)]
        if self.since:
            where.append(f"coalesce({a}last_ts, {a}first_ts, '') >= ?")
            params.append(self.since)
        if self.until:
            where.append(f"coalesce({a}first_ts, {a}last_ts) < ?")  # undated sessions match no date range
            params.append(self.until)
        if self.branch:
            where.append(f"{a}git_branch = ?")
            params.append(self.branch)
        if self.model:
            where.append(dialect.has_model(f"{a}models"))
            params.append(self.model)
        if self.provider:
            where.append(f"{a}provider = ?")
            params.append(self.provider)
        if self.machine:
            where.append(f"{a}host = ?")
            params.append(self.machine)
        if not self.subagents:
            where.append(f"{a}is_subagent = 0")
        if self.deleted:
            where.append(f"{a}source_deleted_at is not null")
        if self.ids:
            where.append(f"{a}id in ({', '.join('?' * len(self.ids))})")
            params += self.ids
        if self.scope is not None:
            cond, more = self.scope.where(alias, dialect)
            if cond:
                where.append(cond)
                params += more
        return where, params


def encode_cursor(sort_key: str, session_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([sort_key, session_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        key, sid = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(key, str) and isinstance(sid, str):
            return key, sid
    except (ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise BadQuery("cursor is not one this server handed out")


# --- lines -------------------------------------------------------------------

LINE_COLS = ("id", "length", "lineno", "type", "uuid", "parent_uuid", "ts", "role", "tools", "sidechain",
             "malformed", "partial")
# Lines longer than this are sent as a preview; the full bytes are one click
# away (export).  Base64 screenshots are ~1 MB, so they still render.
LINE_SEND_CAP = 4 << 20


@dataclass
class LinePage:
    gen: int
    items: list[bytes]  # one JSON object per line, ready to join
    after: int | None  # pass as ``after`` for the next page
    before: int | None  # pass as ``before`` for the previous page

    def to_json(self) -> bytes:
        head = orjson.dumps({"gen": self.gen, "next_after": self.after, "prev_before": self.before})
        return head[:-1] + b',"lines":[' + b",".join(self.items) + b"]}"


def _line_json(gen_no: int, row, fd) -> bytes:
    meta = dict(zip(LINE_COLS, row))
    lid, length = meta.pop("id"), meta["length"]
    meta["offset"] = split_line_id(lid)[1]
    meta["gen"] = gen_no
    # partial 2: an unterminated last line indexed once its file went quiet;
    # whole JSON, shown as any other line.
    meta["sidechain"], meta["malformed"], meta["partial"] = (
        bool(meta["sidechain"]), bool(meta["malformed"]), meta["partial"] == 1)
    raw = os.pread(fd, min(length, LINE_SEND_CAP), meta["offset"]) if fd is not None else b""
    head = orjson.dumps(meta)[:-1]
    if meta["malformed"] or meta["partial"] or length > LINE_SEND_CAP or len(raw) < length:
        meta_raw = raw[:256 << 10].decode("utf-8", "replace")
        return head + b',"truncated":' + (b"true" if length > len(meta_raw.encode()) else b"false") + \
            b',"raw":' + orjson.dumps(meta_raw) + b',"obj":null}'
    # The archived bytes are a JSON object already (the index parsed them):
    # send them as they are, no parse and re-serialise.
    return head + b',"truncated":false,"raw":null,"obj":' + raw.rstrip(b"\r") + b"}"


# A "quoted phrase" or a run of non-space: how user text splits into terms (both backends).
QUERY_TOKEN = re.compile(r'"[^"]*"|[^\s"]+')



def split_terms(query: str) -> tuple[list[str], list[str]]:
    """(word tokens, substring runs) of a plain query: each run of the
    substring scripts becomes a substring to find; the rest of its token
    stays a word, "phrase" or prefix*."""
    tokens, runs = [], []
    for token in QUERY_TOKEN.findall(query):
        found = SUBSTRING_RUN.findall(token)
        if not found:
            tokens.append(token)
            continue
        runs += found
        rest = SUBSTRING_RUN.sub(" ", token.strip('"'))
        if token.startswith('"'):
            tokens.append('"' + rest.strip() + '"')
        else:
            tokens += rest.split()
    return [t for t in tokens if t.strip('"*')], runs


def substring_snippet(text: str, needles: list[str], width: int = 60) -> str:
    low = text.lower()
    at = min((i for i in (low.find(n.lower()) for n in needles) if i >= 0), default=0)
    start, end = max(0, at - width), min(len(text), at + width)
    piece = text[start:end]
    for n in needles:
        piece = re.sub(re.escape(n), lambda m: HIGHLIGHT[0] + m.group(0) + HIGHLIGHT[1], piece, flags=re.I)
    return ("…" if start else "") + piece + ("…" if end < len(text) else "")


def quote_fts(query: str) -> str:
    """Make user text a safe FTS5 query: each word a quoted string (so AND,
    OR, NOT, *, :, ( are plain words), a trailing * kept as a prefix search."""
    parts = []
    for token in QUERY_TOKEN.findall(query):
        prefix = token.endswith("*") and not token.startswith('"')
        word = token.rstrip("*") if prefix else token.strip('"')
        word = word.replace('"', '""')
        if word:
            parts.append(f'"{word}"' + ("*" if prefix else ""))
    return " ".join(parts)


@dataclass
class Hit:
    session_id: str
    generation: int
    offset: int
    lineno: int
    ts: str | None
    type: str | None
    role: str | None
    snippet: str
    title: str | None
    project: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)




def snippet_parts(snippet: str) -> list[dict]:
    """A highlighted snippet as [{"text", "hit"}] parts, for safe rendering."""
    parts, hit = [], False
    for piece in re.split(f"([{HIGHLIGHT[0]}{HIGHLIGHT[1]}])", snippet):
        if piece == HIGHLIGHT[0]:
            hit = True
        elif piece == HIGHLIGHT[1]:
            hit = False
        elif piece:
            parts.append({"text": piece, "hit": hit})
    return parts


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


class Reader:
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
        rows = [_session_dict(r) for r in self.conn.execute(sql, params)]
        next_cursor = None
        if limit and len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(last["last_ts"] or last["first_ts"] or "", last["id"])
        return rows, next_cursor

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
        session = _session_dict(row)
        session["source_path"] = conn.execute(
            "select s.path from sources s join sessions x on x.source_id = s.id where x.id = ?", (session_id,)).fetchone()[0]
        session["generations"] = [
            {"gen": gen, "bytes": archived, "started_at": started}
            for gen, archived, started in conn.execute(
                "select g.gen, g.archived, g.started_at from generations g join sessions x on x.source_id = g.source_id"
                " where x.id = ? order by g.gen", (session_id,))
        ]
        session["subagents"] = [
            _session_dict(r) for r in conn.execute(
                f"select {', '.join(SESSION_FIELDS)} from sessions where parent_session_id = ? and is_subagent = 1"
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
                f" where is_subagent = 0{cond} group by 1 order by 3 desc, 1", params)
            if project
        ]

    def stats(self, scope: Scope | None = None) -> dict:
        conn = self.conn
        cond, params = self._scoped(scope)
        ucond, uparams = self._scoped(scope, "x")
        totals = conn.execute(
            "select count(*), coalesce(sum(user_messages), 0), coalesce(sum(assistant_messages), 0),"
            " coalesce(sum(tool_calls), 0), coalesce(sum(lines), 0), coalesce(sum(is_subagent), 0),"
            f" count(source_deleted_at), min(first_ts), max(last_ts) from sessions where 1 = 1{cond}", params
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
        by_provider = dict(conn.execute(f"select provider, count(*) from sessions where 1 = 1{cond} group by provider",
                                        params).fetchall())
        by_machine = dict(conn.execute(f"select host, count(*) from sessions where 1 = 1{cond} group by host",
                                       params).fetchall())
        per_day = [
            {"day": day, "sessions": n}
            for day, n in conn.execute(
                f"select substr({SORT_KEY}, 1, 10), count(*) from sessions where {SORT_KEY} != ''{cond}"
                " group by 1 order by 1 desc limit 90", params)
        ]
        return {**dict(zip(keys, totals)), "by_model": by_model, "by_provider": by_provider, "by_machine": by_machine,
                "per_day": per_day}

    def usage_by(self, group_by: str, flt: SessionFilter) -> list[dict]:
        """Sessions, prompts, tool calls and tokens per day, model or project,
        newest / highest key first.  Prompts and tool calls are per session, so
        they have no per-model split (None there)."""
        if group_by not in USAGE_KEYS:
            raise BadQuery("group_by must be day, model or project")
        key = USAGE_KEYS[group_by]
        where, params = flt.where("x", self.dialect)
        cond = (" where " + " and ".join(where)) if where else ""
        tokens = {k: rest for k, *rest in self.conn.execute(
            f"select {key}, count(distinct x.id), sum(u.input_tokens), sum(u.output_tokens), sum(u.cache_read_tokens)"
            f" from usage u join sessions x on x.id = u.session_id{cond} group by 1", params)}
        if group_by == "model":
            activity = {k: (n, None, None) for k, (n, *_t) in tokens.items()}
        else:
            activity = {k: (n, p, t) for k, n, p, t in self.conn.execute(
                f"select {key}, count(*), sum(x.user_messages), sum(x.tool_calls) from sessions x{cond} group by 1",
                params)}
        out = []
        for k in sorted(activity, key=lambda k: k or "", reverse=True):
            n, prompts, calls = activity[k]
            _n, i, o, cr = tokens.get(k, (0, 0, 0, 0))
            out.append({"key": k, "sessions": n, "prompts": prompts, "tool_calls": calls, "input_tokens": i or 0,
                        "output_tokens": o or 0, "cache_read_tokens": cr or 0})
        return out

    # --- usage and cost ------------------------------------------------------

    def _usage_where(self, flt: SessionFilter, since: str | None, until: str | None) -> tuple[str, list]:
        """The where clause of a usage query (usage u, sessions x): the
        sessions ``flt`` keeps, rows in [since, until), each response once."""
        where, params = flt.where("x", self.dialect)
        where.append("u.counted = 1")  # a response copied into another file counts once
        if since:
            where.append("u.ts >= ?")
            params.append(since)
        if until:
            where.append("u.ts < ?")
            params.append(until)
        return " where " + " and ".join(where), params

    def usage_sums(self, group: str, flt: SessionFilter, since: str | None, until: str | None,
                   thresholds: dict[str, int]) -> list[tuple]:
        """Token sums per (group key, provider, model, past the model's
        long-context threshold): (key, provider, model, long, rows, input,
        output, cache_creation, cache_creation_1h, cache_read, web_searches).
        ``group``: halfhour (UTC, for the caller's time zone), model, project
        or session.  ``since``/``until`` bound each row's own time."""
        key = USAGE_GROUPS[group]
        cond, params = self._usage_where(flt, since, until)
        cases = " ".join("when ? then cast(? as bigint)" for _ in thresholds)
        long = (f"case when (u.input_tokens + u.cache_creation_tokens + u.cache_read_tokens)"
                f" > (case u.model {cases} end) then 1 else 0 end" if thresholds else "0")
        long_params = [v for item in thresholds.items() for v in item]
        return [tuple(r) for r in self.conn.execute(
            f"select {key}, x.provider, u.model, {long}, count(*), sum(u.input_tokens),"
            " sum(u.output_tokens), sum(u.cache_creation_tokens), sum(u.cache_creation_1h_tokens),"
            f" sum(u.cache_read_tokens), sum(u.web_searches) from usage u join sessions x on x.id = u.session_id"
            f"{cond} group by 1, 2, 3, 4", (*long_params, *params))]

    def usage_rows(self, flt: SessionFilter, since: str | None, until: str | None) -> list[tuple]:
        """Counted usage rows in time order: (ts, provider, model, input, output,
        cache_creation, cache_creation_1h, cache_read, web_searches)."""
        cond, params = self._usage_where(flt, since, until)
        return self.conn.execute(
            "select u.ts, x.provider, u.model, u.input_tokens, u.output_tokens, u.cache_creation_tokens,"
            " u.cache_creation_1h_tokens, u.cache_read_tokens, u.web_searches from usage u"
            f" join sessions x on x.id = u.session_id{cond} and u.ts is not null order by u.ts", params).fetchall()

    def usage_models(self, flt: SessionFilter) -> list[tuple]:
        """(model, provider) of every usage row ``flt`` keeps."""
        cond, params = self._usage_where(flt, None, None)
        return self.conn.execute(f"select distinct u.model, x.provider from usage u"
                                 f" join sessions x on x.id = u.session_id{cond}", params).fetchall()

    def usage_sessions(self, group: str, flt: SessionFilter, since: str | None, until: str | None) -> list[tuple]:
        """(group key, session id) of every session with usage in each group."""
        cond, params = self._usage_where(flt, since, until)
        return self.conn.execute(f"select distinct {USAGE_GROUPS[group]}, x.id from usage u"
                                 f" join sessions x on x.id = u.session_id{cond}", params).fetchall()

    def session_titles(self, ids: list[str]) -> dict[str, dict]:
        """id -> {title, project, first_ts, provider} for a usage report's sessions."""
        out = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for sid, title, desc, project, first, provider in self.conn.execute(
                    "select id, title, agent_description, coalesce(project, project_dir), first_ts, provider"
                    f" from sessions where id in ({', '.join('?' * len(part))})", part):
                out[sid] = {"title": desc or title, "project": project, "first_ts": first, "provider": provider}
        return out

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
        escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        ids = [r[0] for r in conn.execute(
            "select id from sessions where id like ? escape '\\' order by id limit 21", (escaped + "%",))]
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
            "select g.gen, g.archive, g.archived from generations g join sessions x on x.source_id = g.source_id"
            " where x.id = ? order by g.gen", (session_id,),
        ).fetchall()
        return [Generation(session_id, gen, self.archive_dir / archive, archived) for gen, archive, archived in rows]

    # --- what `zergd check` compares with the archive -----------------------

    def all_generations(self) -> list[GenerationRecord]:
        """Every generation of every source, in the order they were created."""
        return [GenerationRecord(*row) for row in self.conn.execute(
            "select g.id, s.path, g.archive, g.archived, g.crc, g.sha256,"
            " case when g.gen = (select max(gen) from generations where source_id = g.source_id) then 1 else 0 end"
            " from generations g join sources s on s.id = g.source_id order by g.id")]

    def line_rows(self, generation_id: int) -> list[LineRow]:
        """The line rows of one generation in file order."""
        base = generation_id << OFFSET_BITS
        return [LineRow(lid - base, length, partial, bool(searchable), text)
                for lid, length, partial, searchable, text in self.conn.execute(
                    f"select l.id, l.length, l.partial, l.searchable, {self.stored_text} from lines l"
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

    def machine_files(self, host: str) -> list[tuple[str, str, int, int, int | None, str | None]]:
        """(provider, rel, newest generation, its archived length, their CRC-32,
        when the source was found deleted) of every source from ``host``."""
        return self.conn.execute(
            "select s.provider, s.rel, g.gen, g.archived, g.crc, x.source_deleted_at from sources s"
            " join generations g on g.source_id = s.id join sessions x on x.source_id = s.id"
            " where s.host = ? and g.gen = (select max(gen) from generations where source_id = s.id)"
            " order by s.provider, s.rel", (host,)).fetchall()

    def machines(self, scope: Scope | None = None) -> list[dict]:
        """Every machine with sessions here: its name and how many (subagents not counted)."""
        cond, params = self._scoped(scope)
        return [{"machine": host, "sessions": n} for host, n in self.conn.execute(
            f"select host, count(*) from sessions where is_subagent = 0{cond} group by host order by host", params)]

    def sources_on(self, host: str) -> set[tuple[str, str]]:
        """(provider, rel) of every source archived from ``host``."""
        return set(self.conn.execute("select provider, rel from sources where host = ?", (host,)).fetchall())

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

    def _generation_of(self, session_id: str, gen: int | None) -> tuple[int, int, Path] | None:
        """(generation id, number, archive path): the given generation, or the newest."""
        sql = ("select g.id, g.gen, g.archive from generations g join sessions x on x.source_id = g.source_id"
               " where x.id = ?")
        params: list = [session_id]
        if gen is not None:
            sql += " and g.gen = ?"
            params.append(gen)
        row = self.conn.execute(sql + " order by g.gen desc limit 1", params).fetchone()
        return (row[0], row[1], self.archive_dir / row[2]) if row else None

    def offset_of_line(self, session_id: str, lineno: int) -> int | None:
        """Byte offset of the first line numbered ``lineno`` or later in the
        session's newest generation, or None."""
        found = self._generation_of(session_id, None)
        if found is None:
            return None
        base = found[0] << OFFSET_BITS
        row = self.conn.execute("select id from lines where id >= ? and id < ? and lineno >= ? order by id limit 1",
                                (base, base + (1 << OFFSET_BITS), int(lineno))).fetchone()
        return None if row is None else row[0] - base

    def line_page(self, session_id: str, *, gen: int | None = None, after: int | None = None,
                  before: int | None = None, limit: int = 200) -> LinePage | None:
        """Lines of one generation in file order: after byte offset ``after``, or
        the ``limit`` lines before offset ``before``.  Each carries its parsed
        JSON (``obj``) or, for a malformed or huge line, its text (``raw``)."""
        found = self._generation_of(session_id, gen)
        if found is None:
            return None
        gen_id, gen_no, apath = found
        base = gen_id << OFFSET_BITS
        # Offsets live in the low OFFSET_BITS of a line id: a larger one would
        # reach into the next generation's lines.
        if before is not None:
            before = max(0, min(before, 1 << OFFSET_BITS))
        if after is not None and after >= (1 << OFFSET_BITS) - 1:
            return LinePage(gen_no, [], after=None, before=None)
        cols = ", ".join(LINE_COLS)
        if before is not None:
            rows = self.conn.execute(f"select {cols} from lines where id >= ? and id < ? order by id desc limit ?",
                                     (base, base + before, limit + 1)).fetchall()
            more_before = len(rows) > limit
            rows = rows[:limit][::-1]
            more_after = True
        else:
            start = base + max(after + 1, 0) if after is not None else base
            rows = self.conn.execute(f"select {cols} from lines where id >= ? and id < ? order by id limit ?",
                                     (start, base + (1 << OFFSET_BITS), limit + 1)).fetchall()
            more_after = len(rows) > limit
            rows = rows[:limit]
            more_before = after is not None and after >= 0
        items = []
        fd = os.open(apath, os.O_RDONLY) if apath.exists() and rows else None
        try:
            for row in rows:
                items.append(_line_json(gen_no, row, fd))
        finally:
            if fd is not None:
                os.close(fd)
        offsets = [split_line_id(r[0])[1] for r in rows]
        return LinePage(
            gen_no, items,
            after=offsets[-1] if rows and more_after else None,
            before=offsets[0] if rows and more_before else None,
        )

    def branches(self, session_id: str, gen: int | None = None) -> list[dict] | None:
        """Where the conversation forks (see branches.forks), or None if no such session."""
        found = self._generation_of(session_id, gen)
        if found is None:
            return None
        gen_id, _, apath = found
        base = gen_id << OFFSET_BITS
        rows = self.conn.execute(
            "select id, length, uuid, parent_uuid, type, ts from lines where id >= ? and id < ? and uuid is not null"
            " order by id", (base, base + (1 << OFFSET_BITS))).fetchall()
        nodes, lengths = [], {}
        for lid, length, uuid, parent, typ, ts in rows:
            offset = lid - base
            lengths[offset] = length
            nodes.append(Node(offset, uuid, parent, typ, ts))
        if not apath.exists():
            return []
        with open(apath, "rb") as f:
            return forks(nodes, lambda n: os.pread(f.fileno(), min(lengths[n.offset], LINE_SEND_CAP), n.offset))

    # --- search ------------------------------------------------------------

    def search(self, query: str, *, limit: int = 20, raw: bool = False, session_id: str | None = None,
               flt: SessionFilter | None = None, per_session: int = 0) -> list[Hit]:
        """Best matches first.  ``per_session`` keeps at most that many hits of any
        one session (0: no cap), so one long chat cannot fill the page.  A raw
        query the engine cannot parse is a BadQuery."""
        query = query.replace("\x00", " ")  # no transcript text holds NUL (the index spells it as a space)
        flt = replace(flt, ids=list(flt.ids)) if flt else SessionFilter()  # a copy: the caller's stays as it was
        if session_id:
            flt.ids = [session_id]
        where, params = flt.where("x", self.dialect)
        return self._search(query, limit, raw, where, params, per_session)

    def _search(self, query: str, limit: int, raw: bool, where: list[str], params: list,
                per_session: int) -> list[Hit]:
        raise NotImplementedError

    @staticmethod
    def _cap_per_session(ranked, limit: int, per_session: int) -> list[int]:
        """Line ids of (line id, session id) pairs, best first, at most
        ``per_session`` of any one session and ``limit`` in all."""
        seen: dict[str, int] = {}
        chosen = []
        for rowid, sid in ranked:
            if seen.get(sid, 0) < per_session:
                seen[sid] = seen.get(sid, 0) + 1
                chosen.append(rowid)
                if len(chosen) == limit:
                    break
        return chosen

    @staticmethod
    def _hits(rows) -> list[Hit]:
        return [Hit(sid, gen, split_line_id(rowid)[1], lineno, ts, typ, role, snip or "", title, project)
                for sid, gen, rowid, lineno, ts, typ, role, snip, title, project in rows]


USAGE_GROUPS = {
    # Half-hour buckets in UTC: the report turns them into days in the
    # reader's time zone (whole- and half-hour offsets), without SQL date math.
    "halfhour": "substr(u.ts, 1, 13) || (case when substr(u.ts, 15, 2) >= '30' then ':30' else ':00' end)",
    "model": "u.model",
    "project": "coalesce(x.project, x.project_dir)",
    "session": "x.id",
    "machine": "x.host",
}
USAGE_KEYS = {"day": "substr(coalesce(x.last_ts, x.first_ts), 1, 10)", "model": "u.model",
              "project": "coalesce(x.project, x.project_dir)"}

