"""Which sessions a question is about: ``SessionFilter`` (and its one ``where``),
dates as people type them (``parse_when``) and the keyset cursor of session lists."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

import orjson

from ..errors import BadQuery
from .dialect import LIKE_ESCAPE, SQLITE, Dialect, like_pattern
from .rows import HISTORY
from .scope import Scope

SESSION_FIELDS = (
    "id", "provider", "host", "project", "project_dir", "title", "first_ts", "last_ts", "git_branch",
    "models", "user_messages", "assistant_messages", "tool_calls", "lines", "input_tokens", "output_tokens",
    "cache_creation_tokens", "cache_read_tokens", "parent_session_id", "agent_id", "is_subagent",
    "agent_type", "agent_description", "source_deleted_at", "updated_at", "agent_version", "entrypoint",
    "origin",  # None: a transcript's; "recovered": prompts only, recovered from the agent's prompt history
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


def listed(alias: str = "") -> str:
    """The condition on sessions that leaves out a prompt history's own: it
    is kept and indexed as a file, but its prompts are listed and found in
    their sessions (recovered.py), never as one.  (Search needs no such
    condition: the history's lines are copies, not searched.)"""
    return f"coalesce({alias + '.' if alias else ''}origin, '') <> '{HISTORY}'"


def session_dict(row) -> dict:
    d = dict(zip(SESSION_FIELDS, row))
    d["models"] = orjson.loads(d["models"]) if d["models"] else []
    d["is_subagent"] = bool(d["is_subagent"])
    return d


_like = like_pattern


@dataclass
class SessionFilter:
    project: str | None = None  # exact cwd or project folder, or a substring of the cwd
    since: str | None = None  # ISO date/time, compared with the last activity
    until: str | None = None
    branch: str | None = None
    model: str | None = None
    provider: str | None = None
    machine: str | None = None  # the machine it ran on (sessions.host): this one, or one that ships here
    entrypoint: str | None = None  # where the agent ran: cli, vscode, desktop, ... (Claude Code)
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
        for name in ("project", "branch", "model", "provider", "machine", "entrypoint"):
            if len(getattr(self, name) or "") > MAX_FILTER_TEXT:
                raise BadQuery(f"{name} is at most {MAX_FILTER_TEXT} characters")
        if self.project:
            where.append(f"({a}project = ? or {a}project_dir = ? or {a}project {dialect.ilike} ? {LIKE_ESCAPE})")
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
        if self.entrypoint:
            where.append(f"{a}entrypoint = ?")
            params.append(self.entrypoint)
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
