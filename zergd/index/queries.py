"""Read-side queries over the index: session lists and full-text search.
Used by the CLI, the HTTP API and Oikos alike."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from .db import split_line_id

SESSION_FIELDS = (
    "id", "provider", "host", "project", "project_dir", "title", "first_ts", "last_ts", "git_branch",
    "models", "user_messages", "assistant_messages", "tool_calls", "lines", "input_tokens", "output_tokens",
    "cache_creation_tokens", "cache_read_tokens", "parent_session_id", "agent_id", "is_subagent",
    "source_deleted_at", "updated_at",
)


def _session_dict(row) -> dict:
    d = dict(zip(SESSION_FIELDS, row))
    d["models"] = orjson.loads(d["models"]) if d["models"] else []
    d["is_subagent"] = bool(d["is_subagent"])
    return d


def list_sessions(conn, *, project: str | None = None, since: str | None = None,
                  include_subagents: bool = True, limit: int | None = None) -> list[dict]:
    where, params = [], []
    if project:
        where.append("(project = ? or project like ? escape '\\' or project_dir = ?)")
        escaped = project.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params += [project, f"%{escaped}%", project]
    if since:
        where.append("coalesce(last_ts, first_ts) >= ?")
        params.append(since)
    if not include_subagents:
        where.append("is_subagent = 0")
    sql = f"select {', '.join(SESSION_FIELDS)} from sessions"
    if where:
        sql += " where " + " and ".join(where)
    sql += " order by coalesce(last_ts, first_ts) desc, id"
    if limit:
        sql += f" limit {int(limit)}"
    return [_session_dict(r) for r in conn.execute(sql, params)]


_TOKEN = re.compile(r'"[^"]*"|[^\s"]+')


def quote_fts(query: str) -> str:
    """Make user text a safe FTS5 query: each word a quoted string (so AND,
    OR, NOT, *, :, ( are plain words), a trailing * kept as a prefix search."""
    parts = []
    for token in _TOKEN.findall(query):
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


HIGHLIGHT = ("\x02", "\x03")  # markers callers turn into bold / <mark>


def search(conn, query: str, *, limit: int = 20, raw: bool = False, session_id: str | None = None) -> list[Hit]:
    match = query if raw else quote_fts(query)
    if not match:
        return []
    sql = (
        "select f.rowid, snippet(lines_fts, 0, ?, ?, '…', 16) from lines_fts f"
        " where lines_fts match ? order by rank limit ?"
    )
    found = conn.execute(sql, (*HIGHLIGHT, match, limit if not session_id else limit * 20)).fetchall()
    hits = []
    for rowid, snippet in found:
        row = conn.execute(
            "select x.id, g.gen, l.lineno, l.ts, l.type, l.role, x.title, x.project from lines l"
            " join generations g on g.id = ? join sessions x on x.source_id = g.source_id where l.id = ?",
            (split_line_id(rowid)[0], rowid),
        ).fetchone()
        if row is None or (session_id and row[0] != session_id):
            continue
        sid, gen, lineno, ts, typ, role, title, project = row
        hits.append(Hit(sid, gen, split_line_id(rowid)[1], lineno, ts, typ, role, snippet or "", title, project))
        if len(hits) >= limit:
            break
    return hits
