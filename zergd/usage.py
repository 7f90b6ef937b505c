"""Usage and cost reports: tokens and USD per day, week, month, model,
project or session, from the index's usage rows (one per API response,
deduplicated by message.id and requestId; Codex's running totals recorded as
their rises).  An index query, never a rescan of the transcripts.

Days are the reader's: the index keeps UTC times, summed here per half hour
and placed in the time zone asked for (the machine's by default).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import os
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import BadQuery
from .index import SessionFilter
from .prices import Rates, TokenSums, rates, table_version
from .transcript import PROVIDERS
from .transcript.line import canonical_cwd

GROUPS = ("day", "week", "month", "model", "project", "group", "session", "block", "machine", "user")
BLOCK = dt.timedelta(hours=5)  # Claude's plans meter usage in 5-hour windows
# The agent whose usage --by block shows when none is named.
WINDOWED = next(agent.name for agent in PROVIDERS.values() if agent.usage_windows)


@dataclass
class Row:
    key: str | None
    sums: TokenSums = field(default_factory=TokenSums)
    messages: int = 0
    sessions: set = field(default_factory=set)
    cost: Decimal = Decimal(0)
    unpriced: set = field(default_factory=set)  # models the price table does not know
    models: set = field(default_factory=set)
    by_model: dict = field(default_factory=dict)  # model -> [tokens, cost or None]

    def as_dict(self) -> dict:
        s = self.sums
        priced = bool(self.models - self.unpriced)
        return {
            "key": self.key, "input_tokens": s.input, "output_tokens": s.output,
            "cache_creation_tokens": s.cache_creation, "cache_creation_1h_tokens": s.cache_creation_1h,
            "cache_read_tokens": s.cache_read, "web_searches": s.web_searches,
            "total_tokens": _tokens(s),
            "messages": self.messages, "sessions": len(self.sessions),
            # None: no model of the row has a price; else the priced models' cost
            # (0 when nothing was used: nothing to price is no unknown price).
            "cost_usd": float(round(self.cost, 6)) if priced or not self.models else None,
            "price_unknown": sorted(m or "(no model)" for m in self.unpriced),
            "models": sorted(m for m in self.models if m),
            "by_model": {m or "(no model)": {"tokens": t, "cost_usd": None if c is None else float(round(c, 6))}
                         for m, (t, c) in sorted(self.by_model.items(), key=lambda kv: -kv[1][0])},
        }


def zone(name: str | None) -> dt.tzinfo:
    if not name:
        return dt.datetime.now().astimezone().tzinfo  # the machine's
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadQuery(f"unknown time zone {name!r} (an IANA name like Europe/Berlin, or UTC)") from None


@functools.lru_cache(maxsize=65536)
def _day_key(bucket: str | None, tz: dt.tzinfo, by: str) -> str | None:
    """The day, week (its Monday) or month in ``tz`` of a UTC half-hour bucket "YYYY-MM-DDTHH:MM"."""
    try:
        when = dt.datetime(int(bucket[0:4]), int(bucket[5:7]), int(bucket[8:10]), int(bucket[11:13]),
                           int(bucket[14:16]), tzinfo=dt.timezone.utc).astimezone(tz).date()
    except (TypeError, ValueError):  # no time, or not one
        return None
    if by == "week":
        return (when - dt.timedelta(days=when.weekday())).isoformat()
    if by == "month":
        return when.isoformat()[:7]
    return when.isoformat()


def report(reader, by: str = "day", *, since: str | None = None, until: str | None = None,
           provider: str | None = None, project: str | None = None, session: str | None = None,
           tz: str | None = None, scope=None, owner_of=None, groups: dict[str, str] | None = None) -> dict:
    """{"by", "rows": [...], "totals": {...}, "prices": {...}}; rows newest or
    largest first.  ``since``/``until`` are the index's UTC times (parse_when).
    ``scope``: only the sessions a reader may see (index.scope.Scope);
    ``owner_of``: a machine's user, for ``by="user"``; ``groups``: config's
    [projects.groups], for ``by="group"`` and each project row's group."""
    if by not in GROUPS:
        raise BadQuery(f"--by must be one of {', '.join(GROUPS)}, not {by!r}")
    zone_info = zone(tz)
    if by == "block":
        return blocks(reader, since=since, until=until, provider=provider or WINDOWED, project=project,
                      session=session, zone_info=zone_info, scope=scope)
    if by == "user" and owner_of is None:
        raise BadQuery("usage by user needs accounts (a team server)")
    group = ("halfhour" if by in ("day", "week", "month") else "machine" if by == "user"
             else "project" if by == "group" else by)
    grouped = functools.lru_cache(maxsize=4096)(lambda project: group_of(project, groups or {}))
    flt = SessionFilter(provider=provider or None, project=project or None, subagents=True,
                        ids=[session] if session else [], scope=scope)
    models = {(m, p) for m, p in reader.usage_models(flt)}
    known: dict[tuple, Rates | None] = {(m, p): rates(m, p) for m, p in models}
    thresholds = {m: r.threshold for (m, _p), r in known.items() if r is not None and r.threshold}
    rows: dict[str | None, Row] = {}
    totals = Row("total")

    def key_of(raw):
        if by == "user":
            return owner_of(raw)
        if by == "group":
            return grouped(raw)
        return _day_key(raw, zone_info, by) if group == "halfhour" else raw

    for raw, prov, model, long, n, i, o, cc, c1h, cr, ws in reader.usage_sums(group, flt, since, until, thresholds):
        sums = TokenSums(i or 0, o or 0, cc or 0, c1h or 0, cr or 0, ws or 0)
        rate = known.get((model, prov))
        cost = None if rate is None else rate.cost(sums, bool(long))
        for row in (rows.setdefault(key_of(raw), Row(key_of(raw))), totals):
            _add(row.sums, sums)
            row.messages += n
            row.models.add(model)
            tokens, so_far = row.by_model.get(model, (0, Decimal(0)))
            row.by_model[model] = (tokens + _tokens(sums), None if cost is None or so_far is None else so_far + cost)
            if cost is None:
                if _tokens(sums) or sums.web_searches:
                    row.unpriced.add(model)
            else:
                row.cost += cost
    for raw, sid in reader.usage_sessions(group, flt, since, until):
        rows[key_of(raw)].sessions.add(sid)
        totals.sessions.add(sid)
    if by in ("day", "week", "month"):  # newest first, undated last
        ordered = sorted(rows.values(), key=lambda r: r.key or "", reverse=True)
    else:  # the most expensive first, then the most tokens
        ordered = sorted(rows.values(), key=lambda r: (-r.cost, -_tokens(r.sums), r.key or ""))
    out = [r.as_dict() for r in ordered]
    if by == "project" and groups:
        for r in out:
            r["group"] = grouped(r["key"])
    if by == "session":
        info = reader.session_titles([r["key"] for r in out])
        for r in out:
            r.update(info.get(r["key"], {}))
    return {"by": by, "time_zone": str(zone_info), "rows": out, "totals": totals.as_dict(),
            "prices": {"source": "genai-prices", "version": table_version(),
                       "models": {m or "(no model)": (r.model if r else None) for (m, _p), r in sorted(
                           known.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))}}}


def group_of(project: str | None, groups: dict[str, str]) -> str | None:
    """The group config's [projects.groups] puts a project in: the first
    whose path (``~`` is this machine's home) is the project or a folder
    above it, or whose glob (``*``, ``?``, ``[``) matches it; else None."""
    if not project:
        return None
    for pattern, name in groups.items():
        path = canonical_cwd(os.path.expanduser(pattern)) or ""
        if any(c in path for c in "*?["):
            if fnmatch.fnmatchcase(project, path):
                return name
        elif project == path or (project.startswith(path) and project[len(path):len(path) + 1] in ("/", "\\")):
            return name
    return None


def _add(into: TokenSums, more: TokenSums) -> None:
    into.input += more.input
    into.output += more.output
    into.cache_creation += more.cache_creation
    into.cache_creation_1h += more.cache_creation_1h
    into.cache_read += more.cache_read
    into.web_searches += more.web_searches


def _tokens(s: TokenSums) -> int:
    return s.input + s.output + s.cache_creation + s.cache_read


def blocks(reader, *, since, until, provider, project, session, zone_info, now: dt.datetime | None = None,
           scope=None) -> dict:
    """The 5-hour windows Claude's plans meter, as ccusage's `blocks`: a window
    opens at the hour of the first request after the last one closed, and
    holds every request until five hours later.  Newest first; the window
    still open now is marked active."""
    flt = SessionFilter(provider=provider or None, project=project or None, subagents=True,
                        ids=[session] if session else [], scope=scope)
    now = now or dt.datetime.now(dt.timezone.utc)
    out: list[dict] = []
    current: dict | None = None
    for ts, prov, model, i, o, cc, c1h, cr, ws in reader.usage_rows(flt, since, until):
        when = _utc(ts)
        if when is None:
            continue
        if current is None or when >= current["_end"]:
            start = when.replace(minute=0, second=0, microsecond=0)
            current = {"_end": start + BLOCK, "start": start, "row": Row(None), "last": when}
            out.append(current)
        current["last"] = when
        sums = TokenSums(i or 0, o or 0, cc or 0, c1h or 0, cr or 0, ws or 0)
        rate = rates(model, prov)
        row = current["row"]
        _add(row.sums, sums)
        row.messages += 1
        row.models.add(model)
        if rate is None:
            if _tokens(sums) or sums.web_searches:
                row.unpriced.add(model)
        else:
            cost = rate.cost(sums, rate.threshold is not None and (i or 0) + (cc or 0) + (cr or 0) > rate.threshold)
            row.cost += cost
    rows = []
    for b in reversed(out):
        d = b["row"].as_dict()
        d.pop("by_model", None)
        d.update(key=b["start"].astimezone(zone_info).isoformat(), start=b["start"].isoformat(), end=b["_end"].isoformat(),
                 last_activity=b["last"].isoformat(), active=b["_end"] > now)
        rows.append(d)
    return {"by": "block", "time_zone": str(zone_info), "rows": rows,
            "prices": {"source": "genai-prices", "version": table_version()}}


def _utc(ts: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def statusline(reader, session: str | None = None, *, now: dt.datetime | None = None, scope=None) -> dict:
    """What Claude Code's status line shows (``zerg statusline``): today's
    cost (the machine's day), the open 5-hour window's cost and minutes
    left, and one session's cost; each None where nothing tells it."""
    now = now or dt.datetime.now(dt.timezone.utc)
    local = now.astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)
    since = midnight.replace(tzinfo=None).isoformat(timespec="seconds")
    today = report(reader, "day", since=since, scope=scope)["totals"]
    # Where the open window began depends on the windows before it: a day back is enough in practice.
    window = blocks(reader, since=(now - dt.timedelta(days=1)).replace(tzinfo=None).isoformat(timespec="seconds"), until=None,
                    provider=WINDOWED, project=None, session=None, zone_info=local.tzinfo, now=now, scope=scope)
    open_ = next((b for b in window["rows"] if b["active"]), None)
    mine = report(reader, "session", session=session, scope=scope)["totals"] if session else None
    return {
        "today_usd": today["cost_usd"],
        "window_usd": open_["cost_usd"] if open_ else None,
        "window_minutes_left": max(0, int((_utc(open_["end"]) - now).total_seconds() // 60)) if open_ else None,
        "session_usd": mine["cost_usd"] if mine else None,
        "unpriced": bool(today["price_unknown"]),
    }


def statusline_text(parts: dict) -> str:
    """One short line of ``statusline``'s parts."""
    def usd(value):
        return "$?" if value is None else f"${value:,.2f}"
    out = [f"today {usd(parts['today_usd'])}{'+?' if parts.get('unpriced') else ''}"]
    if parts.get("window_minutes_left") is not None:
        left = parts["window_minutes_left"]
        out.append(f"5h window {usd(parts['window_usd'])} ({left // 60}h{left % 60:02d}m left)")
    if parts.get("session_usd") is not None:
        out.append(f"session {usd(parts['session_usd'])}")
    return " · ".join(out)
